#include "app/cluster_status.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

#include "cluster/membership.hpp"

namespace strata::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// GET `path` from host:port; the body, or an error message.
result<std::string> http_get(const std::string& host, uint16_t port, const std::string& path) {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    if (res.result_int() != 200)
      return error(strata_errc::unavailable, "answered HTTP " + std::to_string(res.result_int()) + ": " + res.body());
    return res.body();
  } catch (const std::exception& e) {
    return error(strata_errc::unavailable, e.what());
  }
}

}  // namespace

int cluster_status(const std::string& node_url) {
  std::string rest = node_url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto hp = cluster::split_host_port(rest);
  if (!hp) {
    std::fprintf(stderr, "--node: %s (for example --node http://127.0.0.1:9201)\n", hp.error().message().c_str());
    return 1;
  }
  auto body = http_get(hp->first, hp->second, "/api/v1/status/cluster");
  if (!body) {
    std::fprintf(stderr, "node %s: %s\n", node_url.c_str(), body.error().message().c_str());
    return 1;
  }
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.contains("data")) {
    std::fprintf(stderr, "node %s: the answer is not a cluster status\n", node_url.c_str());
    return 1;
  }
  const auto& d = j["data"];
  std::map<std::string, int> shards;
  for (const auto& s : d["shards"]) ++shards[s["node"].get<std::string>()];
  std::printf("asked %s (%s)\n%-24s %-6s %s\n", node_url.c_str(), d["self"].get<std::string>().c_str(), "MEMBER",
              "STATE", "SHARDS");
  for (const auto& m : d["members"]) {
    auto name = m.get<std::string>();
    std::printf("%-24s %-6s %d\n", name.c_str(), "up", shards[name]);
  }
  for (const auto& m : d["down"]) std::printf("%-24s %-6s %s\n", m.get<std::string>().c_str(), "down", "-");
  return 0;
}

}  // namespace strata::app
