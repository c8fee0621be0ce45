#pragma once
// A blocking HTTP/1.1 client for tests: one request per connection over a
// real loopback socket.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace strata::testing {

struct http_reply {
  int status = 0;  // 0 when the connection failed
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& lower_name) const;
};

http_reply http_request(uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::vector<std::pair<std::string, std::string>>& headers = {});
std::string url_encode(const std::string& s);

}  // namespace strata::testing
