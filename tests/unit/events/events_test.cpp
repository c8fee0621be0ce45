#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "events/bus.hpp"
#include "events/webhook.hpp"

namespace strata::events {
namespace {

// A consumer with a queue of `capacity` events, read by the test.
class queue_consumer final : public consumer {
 public:
  explicit queue_consumer(size_t capacity) : capacity_(capacity) {}
  verdict offer(const event& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return verdict::closed;
    if (q_.size() >= capacity_) return verdict::full;
    q_.push_back(e);
    return verdict::queued;
  }
  std::vector<event> take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<event> out(q_.begin(), q_.end());
    q_.clear();
    return out;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::deque<event> q_;
  bool closed_ = false;
};

// The value of one rendered sample (`name{label="value"}`) of /metrics; -1 when absent.
double value_of(const metrics_registry& m, const std::string& series) {
  std::string text = m.render();
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

type_filter filter(const std::string& spec) {
  auto f = type_filter::parse(spec);
  EXPECT_TRUE(f) << f.error().message();
  return f ? *f : type_filter{};
}

TEST(TypeFilter, ListPrefixAndEmpty) {
  auto f = filter("alert.triggered, alert.resolved");
  EXPECT_TRUE(f.matches("alert.triggered"));
  EXPECT_TRUE(f.matches("alert.resolved"));
  EXPECT_FALSE(f.matches("metrics.collected"));
  auto m = filter("metrics.*");
  EXPECT_TRUE(m.matches("metrics.collected"));
  EXPECT_TRUE(m.matches("metrics.aggregated"));
  EXPECT_FALSE(m.matches("alert.triggered"));
  EXPECT_TRUE(filter("").matches("alert.resolved"));
}

TEST(TypeFilter, UnknownTypeIsRefusedNamingTheField) {
  auto f = type_filter::parse("alert.triggered,alert.fired");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), strata_errc::bad_request);
  EXPECT_NE(f.error().message().find("type: unknown event type \"alert.fired\""), std::string::npos)
      << f.error().message();
  EXPECT_NE(f.error().message().find("alert.resolved"), std::string::npos);  // lists the known ones
  EXPECT_FALSE(type_filter::parse("dashboard.*"));
  EXPECT_FALSE(type_filter::parse("alert.triggered,"));
  auto w = type_filter::parse(std::vector<std::string>{"nope"}, "webhooks[0].types");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message().rfind("webhooks[0].types:", 0), 0u) << w.error().message();
}

TEST(Event, JsonRoundTrip) {
  event e{"alert.triggered", "ab-7", 1700000000123, "c-1", "127.0.0.1:9202", R"({"value":3.5})"};
  auto text = encode_json(e);
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["data"]["value"], 3.5);
  auto back = decode_json(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, e.type);
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->time_ms, e.time_ms);
  EXPECT_EQ(back->correlation_id, e.correlation_id);
  EXPECT_EQ(back->node, e.node);
  EXPECT_EQ(nlohmann::json::parse(back->data), j["data"]);
  auto bad = decode_json(R"({"type":"x","id":"1","correlation_id":"c","node":"n","time_ms":"soon","data":{}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("time_ms"), std::string::npos);
}

TEST(Event, CorrelationIdsAreFreshAndChecked) {
  auto a = new_correlation_id(), b = new_correlation_id();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(check_correlation_id("req-42", "X-Correlation-Id"));
  auto bad = check_correlation_id("has space", "X-Correlation-Id");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.message().rfind("X-Correlation-Id", 0), 0u);
  EXPECT_FALSE(check_correlation_id(std::string(129, 'x'), "X-Correlation-Id"));
}

TEST(EventBus, FansOutByFilterAndStamps) {
  manual_clock clk(5000);
  metrics_registry m;
  bus b("n1:9202", clk, m);
  auto alerts = std::make_shared<queue_consumer>(10);
  auto all = std::make_shared<queue_consumer>(10);
  b.subscribe(filter("alert.*"), alerts);
  b.subscribe(type_filter{}, all);
  std::vector<event> forwarded;
  b.set_forwarder([&](const event& e) { forwarded.push_back(e); });
  auto e1 = b.publish("metrics.collected", "req-1", R"({"accepted":3})");
  b.publish("alert.triggered", "", "");
  EXPECT_EQ(e1.node, "n1:9202");
  EXPECT_EQ(e1.time_ms, 5000);
  EXPECT_EQ(e1.correlation_id, "req-1");
  auto got_all = all->take();
  ASSERT_EQ(got_all.size(), 2u);
  EXPECT_NE(got_all[0].id, got_all[1].id);
  EXPECT_EQ(got_all[1].correlation_id.size(), 32u);  // generated
  EXPECT_EQ(got_all[1].data, "{}");
  auto got_alerts = alerts->take();
  ASSERT_EQ(got_alerts.size(), 1u);
  EXPECT_EQ(got_alerts[0].type, "alert.triggered");
  EXPECT_EQ(forwarded.size(), 2u);
  EXPECT_EQ(value_of(m, "strata_events_published_total{type=\"alert.triggered\"}"), 1);
}

TEST(EventBus, RemoteEventsAreDeliveredNotForwarded) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n2:9202", clk, m);
  auto c = std::make_shared<queue_consumer>(10);
  b.subscribe(type_filter{}, c);
  int forwarded = 0;
  b.set_forwarder([&](const event&) { ++forwarded; });
  b.deliver_remote(event{"alert.resolved", "x-1", 7, "c", "n1:9202", "{}"});
  auto got = c->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].node, "n1:9202");
  EXPECT_EQ(forwarded, 0);
}

TEST(EventBus, SlowConsumerIsDroppedNotBlocking) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m);
  auto slow = std::make_shared<queue_consumer>(2);
  auto fast = std::make_shared<queue_consumer>(100);
  b.subscribe(type_filter{}, slow);
  b.subscribe(type_filter{}, fast);
  EXPECT_EQ(b.consumers(), 2u);
  for (int i = 0; i < 5; ++i) b.publish("metrics.collected", "", "");  // never waits for the slow one
  EXPECT_EQ(slow->take().size(), 2u);
  EXPECT_EQ(fast->take().size(), 5u);
  EXPECT_EQ(b.consumers(), 1u);
  EXPECT_EQ(value_of(m, "strata_events_dropped_total{reason=\"slow_consumer\"}"), 1);
  EXPECT_EQ(value_of(m, "strata_event_consumers_dropped_total{reason=\"slow_consumer\"}"), 1);
  EXPECT_NE(m.render().find("strata_event_consumers 1"), std::string::npos);
}

TEST(EventBus, ResumingAfterAnIdReplaysWhatFollowsItThenLiveEvents) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m, 4);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(b.publish(i % 2 ? "alert.triggered" : "metrics.collected", "", "").id);
  b.deliver_remote(event{"alert.resolved", "remote-1", 7, "c", "n2:9202", "{}"});
  // The history holds the last 4: ids[3], ids[4], ids[5], remote-1 (then the live one pushes ids[3] out).
  auto c = std::make_shared<queue_consumer>(10);
  auto r = b.subscribe_after(type_filter{}, c, ids[4]);
  EXPECT_TRUE(r.found);
  EXPECT_NE(r.id, 0u);
  EXPECT_EQ(r.replayed, 2u);
  b.publish("metrics.collected", "", "");
  auto got = c->take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id, ids[5]);
  EXPECT_EQ(got[1].id, "remote-1");
  EXPECT_EQ(got[2].type, "metrics.collected");  // live, after the replay, once

  auto alerts = std::make_shared<queue_consumer>(10);
  auto old = b.subscribe_after(filter("alert.*"), alerts, ids[0]);  // fell out of the history
  EXPECT_FALSE(old.found);
  EXPECT_EQ(old.replayed, 2u);  // every alert the history holds now: ids[5], remote-1
  auto got_alerts = alerts->take();
  ASSERT_EQ(got_alerts.size(), 2u);
  EXPECT_EQ(got_alerts[0].id, ids[5]);
  EXPECT_EQ(b.history_size(), 4u);
}

TEST(EventBus, AReplayThatDoesNotFitTheConsumerLeavesItUnsubscribed) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m, 10);
  for (int i = 0; i < 5; ++i) b.publish("metrics.collected", "", "");
  auto small = std::make_shared<queue_consumer>(2);
  auto r = b.subscribe_after(type_filter{}, small, "unknown-1");
  EXPECT_EQ(r.id, 0u);
  EXPECT_EQ(b.consumers(), 0u);
  EXPECT_EQ(value_of(m, "strata_event_consumers_dropped_total{reason=\"slow_consumer\"}"), 1);
}

TEST(EventBus, ClosedConsumerIsRemovedWithoutCountingADrop) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m);
  auto c = std::make_shared<queue_consumer>(2);
  b.subscribe(type_filter{}, c);
  c->close();
  b.publish("alert.triggered", "", "");
  EXPECT_EQ(b.consumers(), 0u);
  EXPECT_EQ(value_of(m, "strata_events_dropped_total{reason=\"slow_consumer\"}"), 0);
}

// Records POSTs; fails the first `failures` of them.
struct recording_post {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> bodies;
  header_list headers;
  int failures = 0;
  int calls = 0;
  post_fn fn() {
    return [this](const std::string&, const std::string& body, const header_list& h, int) -> status {
      std::lock_guard<std::mutex> lock(mu);
      ++calls;
      cv.notify_all();
      if (failures > 0) {
        --failures;
        return error(strata_errc::unavailable, "refused");
      }
      bodies.push_back(body);
      headers = h;
      return status::ok();
    };
  }
  bool wait_calls(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(20), [&] { return calls >= n; });
  }
};

TEST(Webhook, DeliversMatchingEventsWithHeadersAfterRetries) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m);
  recording_post post;
  post.failures = 2;
  webhook_config cfg;
  cfg.url = "http://127.0.0.1:1/hook";
  cfg.types = filter("alert.triggered");
  cfg.headers = {{"Authorization", "Bearer t"}};
  cfg.backoff_ms = 1;
  auto w = std::make_shared<webhook>(cfg, post.fn(), b);
  b.subscribe(cfg.types, w);
  b.publish("metrics.collected", "", "");
  b.publish("alert.triggered", "c-9", R"({"value":1})");
  ASSERT_TRUE(post.wait_calls(3));
  w->stop();
  ASSERT_EQ(post.bodies.size(), 1u);
  auto j = nlohmann::json::parse(post.bodies[0]);
  EXPECT_EQ(j["type"], "alert.triggered");
  EXPECT_EQ(j["correlation_id"], "c-9");
  EXPECT_EQ(post.headers, cfg.headers);
  EXPECT_EQ(w->delivered(), 1u);
  EXPECT_EQ(w->failed_attempts(), 2u);
}

TEST(Webhook, EventFailingEveryAttemptIsDroppedAndCounted) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m);
  recording_post post;
  post.failures = 1000;
  webhook_config cfg;
  cfg.url = "http://127.0.0.1:1/hook";
  cfg.max_attempts = 2;
  cfg.backoff_ms = 1;
  auto w = std::make_shared<webhook>(cfg, post.fn(), b);
  b.subscribe(type_filter{}, w);
  b.publish("alert.triggered", "", "");
  ASSERT_TRUE(post.wait_calls(2));
  w->stop();
  EXPECT_EQ(post.calls, 2);
  EXPECT_EQ(value_of(m, "strata_events_dropped_total{reason=\"webhook_failed\"}"), 1);
}

TEST(Webhook, FullQueueDropsTheEventAndKeepsTheWebhook) {
  manual_clock clk(0);
  metrics_registry m;
  bus b("n", clk, m);
  std::mutex gate;
  std::unique_lock<std::mutex> hold(gate);  // the sender blocks in its first POST
  std::atomic<int> posts{0};
  webhook_config cfg;
  cfg.url = "http://127.0.0.1:1/hook";
  cfg.queue_capacity = 2;
  auto w = std::make_shared<webhook>(
      cfg,
      [&](const std::string&, const std::string&, const header_list&, int) {
        ++posts;
        std::lock_guard<std::mutex> lock(gate);
        return status::ok();
      },
      b);
  b.subscribe(type_filter{}, w);
  b.publish("alert.triggered", "", "");
  while (posts.load() == 0) std::this_thread::yield();  // the first is in flight, the queue is empty
  for (int i = 0; i < 4; ++i) b.publish("alert.triggered", "", "");  // 2 queued, 2 dropped
  EXPECT_EQ(b.consumers(), 1u);
  EXPECT_EQ(value_of(m, "strata_events_dropped_total{reason=\"webhook_queue_full\"}"), 2);
  hold.unlock();
  while (w->delivered() < 3) std::this_thread::yield();
  w->stop();
  EXPECT_EQ(posts.load(), 3);
}

}  // namespace
}  // namespace strata::events
