// The event stream end to end: real strata processes, Server-Sent Events
// read over real sockets, events crossing from one node to another, and a
// webhook receiver (a Python http.server child) getting alert.triggered
// from a real rule file.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>

#include "tests/integration/node_fixture.hpp"
#include "tests/support/sse_client.hpp"

namespace strata::testing {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

http_reply push_json(uint16_t port, const std::string& correlation_id) {
  std::string body = R"({"type":"metrics.push","data":{"service":"checkout","correlation_id":")" + correlation_id +
                     R"(","metrics":[{"name":"orders","type":"counter","value":3}]}})";
  return http_request(port, "POST", "/api/v1/push", body, {{"Content-Type", "application/json"}});
}

// The JSON of the first SSE message after `from` whose data holds `needle`.
nlohmann::json message_with(sse_client& s, const std::string& needle, size_t from = 0) {
  size_t at = s.wait_for(needle, 15000, from);
  if (at == std::string::npos) return nlohmann::json();
  size_t start = s.body().rfind("data: ", at);
  size_t end = s.body().find('\n', at);
  return nlohmann::json::parse(s.body().substr(start + 6, end - start - 6), nullptr, false);
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class Events : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(); }
  void TearDown() override {
    for (auto* n : {&a_, &b_})
      if (n->proc) n->stop(SIGKILL, 5000);
    receiver_.reset();
    remove_dir(root_);
  }
  std::string root_;
  node a_, b_;
  std::unique_ptr<child_process> receiver_;
};

TEST_F(Events, StreamCarriesWritesWithTheirCorrelationIds) {
  a_ = make_node(root_ + "/a");
  a_.start();
  auto bad = http_request(a_.http_port, "GET", "/api/v1/events?type=alert.fired");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("type: unknown event type \\\"alert.fired\\\""), std::string::npos) << bad.body;

  sse_client s(a_.http_port, "/api/v1/events?type=metrics.collected");
  ASSERT_EQ(s.status(), 200) << s.head();
  EXPECT_NE(s.head().find("Content-Type: text/event-stream"), std::string::npos) << s.head();
  ASSERT_NE(s.wait_for(": subscribed", 10000), std::string::npos);

  ASSERT_EQ(push_json(a_.http_port, "order-77").status, 200);
  auto text = http_request(a_.http_port, "POST", "/metrics/job/batch", "batch_runs 4\n",
                           {{"Content-Type", "text/plain; version=0.0.4"}, {"X-Correlation-Id", "run-5"}});
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_EQ(text.header("x-correlation-id"), "run-5");
  auto refused = http_request(a_.http_port, "POST", "/metrics/job/batch", "batch_runs 4\n",
                              {{"X-Correlation-Id", std::string(200, 'x')}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("X-Correlation-Id"), std::string::npos) << refused.body;

  auto json = message_with(s, "order-77");
  ASSERT_TRUE(json.is_object()) << s.body();
  EXPECT_EQ(json["type"], "metrics.collected");
  EXPECT_EQ(json["node"], a_.cluster_address());
  EXPECT_EQ(json["data"]["protocol"], "json");
  EXPECT_EQ(json["data"]["accepted"], 1);
  auto pushed = message_with(s, "run-5");
  ASSERT_TRUE(pushed.is_object()) << s.body();
  EXPECT_EQ(pushed["data"]["protocol"], "pushgateway");
  EXPECT_EQ(pushed["data"]["accepted"], 2);  // batch_runs and push_time_seconds
  EXPECT_NE(s.body().find("event: metrics.collected\nid: "), std::string::npos);
  EXPECT_EQ(count_of(s.body(), "run-5"), 1u);  // the 400 published nothing
}

TEST_F(Events, StreamsBeyondTheLimitGet503) {
  a_ = make_node(root_ + "/a");
  a_.extra_args = {"--events-max-streams", "1"};
  a_.start();
  sse_client first(a_.http_port, "/api/v1/events");
  ASSERT_EQ(first.status(), 200);
  ASSERT_NE(first.wait_for(": subscribed", 10000), std::string::npos);
  auto second = http_request(a_.http_port, "GET", "/api/v1/events");
  EXPECT_EQ(second.status, 503);
  EXPECT_FALSE(second.header("retry-after").empty());
  EXPECT_NE(second.body.find("--events-max-streams"), std::string::npos) << second.body;
}

TEST_F(Events, AClientResumingWithLastEventIdGetsWhatItMissed) {
  a_ = make_node(root_ + "/a");
  a_.start();
  std::string seen_id;
  {
    sse_client s(a_.http_port, "/api/v1/events?type=metrics.collected");
    ASSERT_NE(s.wait_for(": subscribed", 10000), std::string::npos);
    ASSERT_EQ(push_json(a_.http_port, "before-1").status, 200);
    auto json = message_with(s, "before-1");
    ASSERT_TRUE(json.is_object()) << s.body();
    seen_id = json["id"];
  }  // the client goes away; two writes happen while it is gone
  ASSERT_EQ(push_json(a_.http_port, "missed-1").status, 200);
  ASSERT_EQ(push_json(a_.http_port, "missed-2").status, 200);

  sse_client again(a_.http_port, "/api/v1/events?type=metrics.collected", "Last-Event-ID: " + seen_id + "\r\n");
  ASSERT_EQ(again.status(), 200) << again.head();
  ASSERT_NE(again.wait_for(": resumed after " + seen_id + ": 2 events replayed", 10000), std::string::npos)
      << again.body();
  ASSERT_EQ(push_json(a_.http_port, "after-1").status, 200);
  ASSERT_NE(again.wait_for("after-1", 10000), std::string::npos) << again.body();
  const auto& body = again.body();
  EXPECT_EQ(body.find("before-1"), std::string::npos) << body;
  ASSERT_NE(body.find("missed-1"), std::string::npos) << body;
  EXPECT_LT(body.find("missed-1"), body.find("missed-2"));
  EXPECT_LT(body.find("missed-2"), body.find("after-1"));
  EXPECT_EQ(count_of(body, "missed-2"), 1u);

  auto bad = http_request(a_.http_port, "GET", "/api/v1/events", "", {{"Last-Event-ID", std::string(200, 'x')}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("Last-Event-ID"), std::string::npos) << bad.body;
}

TEST_F(Events, EventOnOneNodeReachesStreamsOnAnother) {
  a_ = make_node(root_ + "/a");
  a_.start();
  b_ = make_node(root_ + "/b", {a_.cluster_address()});
  b_.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 2 && b_.live_members() == 2; }));
  sse_client on_a(a_.http_port, "/api/v1/events?type=metrics.*");
  sse_client on_b(b_.http_port, "/api/v1/events?type=metrics.collected");
  ASSERT_EQ(on_a.status(), 200);
  ASSERT_EQ(on_b.status(), 200);
  ASSERT_NE(on_a.wait_for(": subscribed", 10000), std::string::npos);
  ASSERT_NE(on_b.wait_for(": subscribed", 10000), std::string::npos);

  ASSERT_EQ(push_json(a_.http_port, "from-a-1").status, 200);
  auto seen = message_with(on_b, "from-a-1");
  ASSERT_TRUE(seen.is_object()) << on_b.body();
  EXPECT_EQ(seen["node"], a_.cluster_address());
  EXPECT_EQ(seen["data"]["protocol"], "json");

  // Then one from B: once A has it, A would have had any echo of its own
  // event back from B before it (one connection, in order).
  ASSERT_EQ(push_json(b_.http_port, "from-b-2").status, 200);
  auto back = message_with(on_a, "from-b-2");
  ASSERT_TRUE(back.is_object()) << on_a.body();
  EXPECT_EQ(back["node"], b_.cluster_address());
  EXPECT_EQ(count_of(on_a.body(), "\"from-a-1\""), 1u) << on_a.body();
  EXPECT_EQ(count_of(on_b.body(), "\"from-a-1\""), 1u) << on_b.body();
}

const char* receiver_py = R"PY(import http.server, sys
out = sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(out, 'ab') as f:
            f.write(self.headers.get('Authorization', '').encode() + b'\t' + body + b'\n')
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Hook).serve_forever()
)PY";

TEST_F(Events, WebhookGetsAlertTriggeredFromARuleFile) {
  uint16_t hook_port = free_port();
  std::string script = root_ + "/receiver.py", received = root_ + "/received";
  write_text(script, receiver_py);
  receiver_ = std::make_unique<child_process>(
      std::vector<std::string>{"/usr/bin/env", "python3", script, std::to_string(hook_port), received}, root_ + "/receiver.log");
  write_text(root_ + "/rules.yml", R"(groups:
  - name: ev
    interval: 1s
    rules:
      - alert: EvHigh
        expr: ev_value > 5
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }}"
)");
  write_text(root_ + "/strata.yml", "webhooks:\n  - url: http://127.0.0.1:" + std::to_string(hook_port) +
                                        "/hook\n    types: [alert.triggered]\n    headers:\n"
                                        "      Authorization: Bearer s3cret\n    backoff: 100ms\n"
                                        "    max_attempts: 20\n");
  a_ = make_node(root_ + "/a");
  a_.extra_args = {"--rule-file", root_ + "/rules.yml", "--config", root_ + "/strata.yml"};
  a_.start();
  sse_client s(a_.http_port, "/api/v1/events?type=alert.triggered,alert.resolved");
  ASSERT_EQ(s.status(), 200);
  ASSERT_NE(s.wait_for(": subscribed", 10000), std::string::npos);

  write_batch b{{{{"__name__", "ev_value"}, {"instance", "db1"}, {"job", "api"}}, {{now_ms(), 10}}}};
  ASSERT_EQ(remote_write(a_.http_port, b).status, 204);

  std::string line;
  ASSERT_TRUE(wait_until(30000, [&] {
    std::string got = read_file(received);
    line = got.substr(0, got.find('\n'));
    return !line.empty();
  })) << read_file(root_ + "/receiver.log") << read_file(a_.log);
  auto tab = line.find('\t');
  EXPECT_EQ(line.substr(0, tab), "Bearer s3cret");
  auto j = nlohmann::json::parse(line.substr(tab + 1), nullptr, false);
  ASSERT_TRUE(j.is_object()) << line;
  EXPECT_EQ(j["type"], "alert.triggered");
  EXPECT_EQ(j["data"]["alertname"], "EvHigh");
  EXPECT_EQ(j["data"]["labels"]["instance"], "db1");
  EXPECT_EQ(j["data"]["labels"]["severity"], "page");
  EXPECT_EQ(j["data"]["annotations"]["summary"], "db1 is at 10");
  EXPECT_EQ(j["data"]["value"], 10);
  EXPECT_EQ(j["correlation_id"].get<std::string>().size(), 32u);
  // The stream got the same event.
  auto streamed = message_with(s, j["correlation_id"].get<std::string>());
  ASSERT_TRUE(streamed.is_object()) << s.body();
  EXPECT_EQ(streamed["id"], j["id"]);
}

}  // namespace
}  // namespace strata::testing
