#include "tests/support/sse_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace strata::testing {

sse_client::sse_client(uint16_t port, const std::string& target, const std::string& headers) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + headers + "\r\n";
  ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
}

sse_client::~sse_client() {
  if (fd_ >= 0) ::close(fd_);
}

bool sse_client::fill(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[8192];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  if (head_done_) {
    body_.append(buf, static_cast<size_t>(n));
    return true;
  }
  raw_.append(buf, static_cast<size_t>(n));
  auto end = raw_.find("\r\n\r\n");
  if (end != std::string::npos) {
    head_ = raw_.substr(0, end);
    body_ = raw_.substr(end + 4);
    head_done_ = true;
  }
  return true;
}

int sse_client::status(int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!head_done_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) break;
  }
  if (!head_done_ || head_.size() < 12) return 0;
  return std::stoi(head_.substr(9, 3));
}

size_t sse_client::wait_for(const std::string& needle, int timeout_ms, size_t from) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (head_done_) {
      auto at = body_.find(needle, from);
      if (at != std::string::npos) return at;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) return std::string::npos;
  }
}

}  // namespace strata::testing
