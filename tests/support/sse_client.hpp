#pragma once
// A Server-Sent Events client for tests: one GET over a real loopback
// socket, kept open, its body read as it arrives.
#include <cstdint>
#include <string>

namespace strata::testing {

class sse_client {
 public:
  // `headers`: extra request header lines, each ending in \r\n (e.g. "Last-Event-ID: x\r\n").
  sse_client(uint16_t port, const std::string& target, const std::string& headers = "");
  ~sse_client();
  sse_client(const sse_client&) = delete;
  sse_client& operator=(const sse_client&) = delete;

  // Waits up to timeout_ms for the head; the status code, 0 when none came.
  int status(int timeout_ms = 10000);
  // Waits up to timeout_ms until the body holds `needle` after offset `from`;
  // its position, or std::string::npos.
  size_t wait_for(const std::string& needle, int timeout_ms, size_t from = 0);
  const std::string& body() const { return body_; }
  const std::string& head() const { return head_; }

 private:
  bool fill(int timeout_ms);  // one read; false on EOF, error or timeout

  int fd_ = -1;
  std::string head_, body_, raw_;
  bool head_done_ = false;
};

}  // namespace strata::testing
