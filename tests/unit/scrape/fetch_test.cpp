#include "scrape/fetch.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace strata::scrape {
namespace {

// A one-connection HTTP server on 127.0.0.1 that answers with `reply` after
// reading the request (or never, when `reply` is empty).
class one_shot_server {
 public:
  explicit one_shot_server(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        auto n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      request_ = req;
      if (!reply_.empty()) {
        size_t off = 0;
        while (off < reply_.size()) {
          auto n = ::send(c, reply_.data() + off, reply_.size() - off, MSG_NOSIGNAL);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
      } else {
        while (!done_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      ::close(c);
    });
  }
  ~one_shot_server() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string request() const { return request_; }

 private:
  std::string reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::string request_;
};

std::string http_reply(int code, const std::string& body, const std::string& type = "text/plain; version=0.0.4") {
  return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

TEST(ScrapeFetch, BodyAndContentTypeAreReturned) {
  one_shot_server srv(http_reply(200, "a 1\n"));
  auto f = fetch(srv.address(), "/metrics?x=1", {});
  ASSERT_TRUE(f.ok) << f.error;
  EXPECT_EQ(f.body, "a 1\n");
  EXPECT_EQ(f.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(srv.request().rfind("GET /metrics?x=1 HTTP/1.1\r\n", 0), 0u) << srv.request();
  EXPECT_NE(srv.request().find("X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"), std::string::npos) << srv.request();
}

TEST(ScrapeFetch, StatusOtherThan200Fails) {
  one_shot_server srv(http_reply(503, "busy"));
  auto f = fetch(srv.address(), "/metrics", {});
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.error, "HTTP status 503");
}

TEST(ScrapeFetch, BodyOverTheLimitFails) {
  one_shot_server srv(http_reply(200, std::string(2000, 'a')));
  fetch_options o;
  o.max_body_bytes = 1000;
  auto f = fetch(srv.address(), "/metrics", o);
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.error, "body over the limit of 1000 bytes (body_size_limit)");
  EXPECT_TRUE(f.body.empty());
}

std::string chunked_reply(const std::string& chunk, int chunks) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < chunks; ++i) r += std::string(size) + "\r\n" + chunk + "\r\n";
  return r + "0\r\n\r\n";
}

TEST(ScrapeFetch, ChunkedBodyIsJoined) {
  one_shot_server srv(chunked_reply("a 1\n", 3));
  auto f = fetch(srv.address(), "/metrics", {});
  ASSERT_TRUE(f.ok) << f.error;
  EXPECT_EQ(f.body, "a 1\na 1\na 1\n");
}

TEST(ScrapeFetch, ChunkedBodyOverTheLimitFails) {
  // No Content-Length: the limit is checked as the body arrives.
  one_shot_server srv(chunked_reply(std::string(100, 'a'), 30));
  fetch_options o;
  o.max_body_bytes = 1000;
  auto f = fetch(srv.address(), "/metrics", o);
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.error, "body over the limit of 1000 bytes (body_size_limit)");
}

TEST(ScrapeFetch, CompressedBodyIsRefused) {
  one_shot_server srv("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc");
  auto f = fetch(srv.address(), "/metrics", {});
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.error, "unsupported Content-Encoding gzip");
}

TEST(ScrapeFetch, SilentTargetTimesOut) {
  one_shot_server srv("");
  fetch_options o;
  o.timeout_ms = 200;
  auto f = fetch(srv.address(), "/metrics", o);
  EXPECT_FALSE(f.ok);
  EXPECT_NE(f.error.find("timeout"), std::string::npos) << f.error;
}

TEST(ScrapeFetch, ClosedPortFails) {
  uint16_t port;
  {
    one_shot_server srv(http_reply(200, ""));
    port = static_cast<uint16_t>(std::stoi(srv.address().substr(10)));
    fetch(srv.address(), "/", {});
  }
  auto f = fetch("127.0.0.1:" + std::to_string(port), "/metrics", {});
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.error.rfind("connect 127.0.0.1:", 0), 0u) << f.error;
}

}  // namespace
}  // namespace strata::scrape
