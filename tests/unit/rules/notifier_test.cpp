#include "rules/notifier.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace strata::rules {
namespace {

TEST(Notifier, PayloadHasAlertmanagerV2Fields) {
  alert a;
  a.lbls = {{"alertname", "Down"}, {"job", "a"}};
  a.annotations = {{"summary", "it is down"}};
  a.state = alert_state::firing;
  a.fired_at = 1700000000123;
  a.valid_until = 1700000240123;
  auto am = to_am_alert(a, {{"cluster", "eu"}, {"job", "ignored"}}, "http://x/graph");
  auto j = nlohmann::json::parse(alerts_json({am}));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["labels"]["cluster"], "eu");
  EXPECT_EQ(j[0]["labels"]["job"], "a");
  EXPECT_EQ(j[0]["annotations"]["summary"], "it is down");
  EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j[0]["endsAt"], "2023-11-14T22:17:20.123Z");
  EXPECT_EQ(j[0]["generatorURL"], "http://x/graph");
}

TEST(Notifier, ResolvedAlertEndsWhenItResolved) {
  alert a;
  a.fired_at = 1000;
  a.resolved_at = 5000;
  a.valid_until = 99000;
  EXPECT_EQ(to_am_alert(a, {}, "").ends_at_ms, 5000);
}

TEST(Notifier, EndpointIsAppendedOnce) {
  EXPECT_EQ(alerts_endpoint("http://127.0.0.1:9093"), "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(alerts_endpoint("http://h:1/am/"), "http://h:1/am/api/v2/alerts");
  EXPECT_EQ(alerts_endpoint("http://h:1/api/v2/alerts"), "http://h:1/api/v2/alerts");
}

TEST(Notifier, BatchesGoToEveryUrlInGroupsOf64) {
  std::mutex mu;
  std::vector<std::pair<std::string, size_t>> posts;
  notifier n({"http://a:1", "http://b:2"}, 10000, [&](const std::string& url, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu);
    posts.emplace_back(url, nlohmann::json::parse(body).size());
    return status::ok();
  });
  std::vector<am_alert> many(100);
  n.send(many);
  n.drain();
  size_t total_a = 0;
  for (const auto& [url, count] : posts) {
    EXPECT_LE(count, notifier::max_batch);
    if (url == "http://a:1/api/v2/alerts") total_a += count;
  }
  EXPECT_EQ(total_a, 100u);
  EXPECT_EQ(n.sent(), 200u);
}

TEST(Notifier, FullQueueDropsTheOldest) {
  std::mutex gate;
  gate.lock();
  notifier n({"http://a:1"}, 2, [&](const std::string&, const std::string&) {
    std::lock_guard<std::mutex> lock(gate);
    return status::ok();
  });
  n.send(std::vector<am_alert>(1));  // taken by the sender, which blocks
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  n.send(std::vector<am_alert>(5));
  gate.unlock();
  n.drain();
  EXPECT_GE(n.dropped(), 3u);
}

TEST(HttpPost, PostsJsonToARealListener) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  std::string got;
  std::thread server([&] {
    int c = accept(lfd, nullptr, nullptr);
    char buf[4096];
    while (got.find("[1,2]") == std::string::npos) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    send(c, resp.data(), resp.size(), 0);
    close(c);
  });
  auto st = http_post_json("http://127.0.0.1:" + std::to_string(port) + "/api/v2/alerts", "[1,2]", 5000);
  server.join();
  close(lfd);
  EXPECT_TRUE(st) << st.message();
  EXPECT_EQ(got.rfind("POST /api/v2/alerts HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(got.find("Content-Type: application/json"), std::string::npos);
}

TEST(HttpPost, RefusedConnectionIsUnavailable) {
  auto st = http_post_json("http://127.0.0.1:1/api/v2/alerts", "[]", 1000);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), strata_errc::unavailable);
}

}  // namespace
}  // namespace strata::rules
