#pragma once
// A scrape target for tests: a real HTTP server on 127.0.0.1 that answers
// every request with the current body (one request per connection).
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace strata::testing {

class text_target {
 public:
  explicit text_target(uint16_t port);
  ~text_target() { stop(); }
  text_target(const text_target&) = delete;
  text_target& operator=(const text_target&) = delete;

  bool listening() const { return fd_ >= 0; }
  void set_body(std::string b);
  // Closes the port: later scrapes get "connection refused".
  void stop();
  int requests() const { return requests_.load(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve();
  uint16_t port_;
  int fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::string body_;
  std::atomic<int> requests_{0};
};

}  // namespace strata::testing
