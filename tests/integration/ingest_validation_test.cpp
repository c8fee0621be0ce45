// One bad series sent to a real node through every push protocol
// (remote_write 1.0 and 2.0, text push, JSON events, Cap'n Proto batches):
// each protocol answers with its own status and partial-write rules, and
// every one gives the same reason, from wire::check_series (labels) or the
// collector's sample time bounds.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "tests/integration/node_fixture.hpp"
#include "wire/batch.hpp"
#include "wire/remote_write_v2.hpp"

namespace strata::testing {
namespace {

// What follows the series in a check_series message.
std::string reason_of(const std::string& body) {
  auto p = body.find("}: ");
  if (p == std::string::npos) return "no reason in: " + body;
  auto end = body.find('\n', p);
  return body.substr(p + 3, end == std::string::npos ? std::string::npos : end - p - 3);
}

const std::string long_value = "0123456789abcdefghijklmnoXYZ";  // 28 bytes, the limit is 24
const std::string value_reason =
    "value of label \"k\" has 28 bytes, over the limit of 24 (--max-label-value-length)";

class IngestValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    node_ = std::make_unique<node>(make_node(root_ + "/n"));
    node_->extra_args = {"--max-label-value-length", "24", "--max-sample-age", "1h"};
    node_->start();
    t_ = now_ms() / 1000 * 1000;
  }
  void TearDown() override {
    if (node_) node_->stop(SIGKILL, 5000);
    node_.reset();
    if (!HasFailure()) remove_dir(root_);
  }
  uint16_t port() const { return node_->http_port; }
  size_t samples_of(const std::string& selector) {
    auto j = query(port(), "count_over_time(" + selector + "[2h])", t_);
    if (j["status"] != "success" || j["data"]["result"].empty()) return 0;
    return std::stoul(j["data"]["result"][0]["value"][1].get<std::string>());
  }
  // A good series and the bad one, as each protocol carries them.
  write_batch batch(const std::string& good, const std::string& bad_value, int64_t bad_t) const {
    return {{{{"__name__", good}}, {{t_, 1}}}, {{{"__name__", "iv_bad"}, {"k", bad_value}}, {{bad_t, 2}}}};
  }
  http_reply rw2(const write_batch& b) {
    return http_request(port(), "POST", "/api/v1/write", wire::encode_remote_write_v2(b),
                        {{"Content-Encoding", "snappy"},
                         {"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"},
                         {"X-Prometheus-Remote-Write-Version", "2.0.0"}});
  }
  http_reply capnp(const write_batch& b) {
    return http_request(port(), "POST", "/api/v1/push", wire::encode_batch(b), {{"Content-Type", "application/x-capnp"}});
  }
  http_reply text(const std::string& good, const std::string& bad_value, int64_t bad_t) {
    return http_request(port(), "PUT", "/metrics/job/iv",
                        good + " 1 " + std::to_string(t_) + "\niv_bad{k=\"" + bad_value + "\"} 2 " + std::to_string(bad_t) + "\n",
                        {{"Content-Type", "text/plain; version=0.0.4"}});
  }
  http_reply json(const std::string& good, const std::string& bad_value, int64_t bad_t) {
    nlohmann::json ev = {{"type", "metrics.push"},
                         {"data",
                          {{"service", "svc"},
                           {"timestamp", t_},
                           {"metrics",
                            {{{"name", good}, {"type", "gauge"}, {"value", 1}},
                             {{"name", "iv_bad"},
                              {"type", "gauge"},
                              {"value", 2},
                              {"timestamp", bad_t},
                              {"labels", {{"k", bad_value}}}}}}}}};
    return http_request(port(), "POST", "/api/v1/push", ev.dump(), {{"Content-Type", "application/json"}});
  }

  std::string root_;
  std::unique_ptr<node> node_;
  int64_t t_ = 0;
};

TEST_F(IngestValidation, RemoteWrite1RefusesTheRequestNamingTheSeries) {
  auto r = remote_write(port(), batch("iv_rw1", long_value, t_));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("timeseries[1] {__name__=\"iv_bad\", k=\"" + long_value + "\"}: "), std::string::npos)
      << r.body;
  EXPECT_EQ(reason_of(r.body), value_reason);
  EXPECT_EQ(samples_of("iv_rw1"), 0u);  // refused whole
}

TEST_F(IngestValidation, RemoteWrite2RefusesTheRequestNamingTheSeries) {
  auto r = rw2(batch("iv_rw2", long_value, t_));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("timeseries[1] {__name__=\"iv_bad\", k=\"" + long_value + "\"}: "), std::string::npos)
      << r.body;
  EXPECT_EQ(reason_of(r.body), value_reason);
  EXPECT_EQ(r.header("x-prometheus-remote-write-samples-written"), "0");
  EXPECT_EQ(samples_of("iv_rw2"), 0u);
}

TEST_F(IngestValidation, CapnpBatchRefusesTheRequestNamingTheSeries) {
  auto r = capnp(batch("iv_capnp", long_value, t_));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("series[1] {__name__=\"iv_bad\", k=\"" + long_value + "\"}: "), std::string::npos)
      << r.body;
  EXPECT_EQ(reason_of(r.body), value_reason);
  EXPECT_EQ(samples_of("iv_capnp"), 0u);
}

TEST_F(IngestValidation, TextPushRefusesTheGroupNamingTheLine) {
  auto r = text("iv_text", long_value, t_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("line 2: {__name__=\"iv_bad\", k=\"" + long_value + "\"}: "), std::string::npos) << r.body;
  EXPECT_EQ(reason_of(r.body), value_reason);
  EXPECT_EQ(samples_of("iv_text"), 0u);
}

TEST_F(IngestValidation, JsonPushRejectsTheMetricAloneWithTheSameReason) {
  auto r = json("iv_json", long_value, t_);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["data"]["accepted"], 1);
  ASSERT_EQ(j["data"]["rejected"].size(), 1u) << r.body;
  EXPECT_EQ(j["data"]["rejected"][0]["index"], 1);
  std::string reason = j["data"]["rejected"][0]["reason"];
  EXPECT_EQ(reason, "{__name__=\"iv_bad\", k=\"" + long_value + "\", service=\"svc\"}: " + value_reason);
  EXPECT_EQ(samples_of("iv_json"), 1u);  // the good metric is stored
}

TEST_F(IngestValidation, InvalidUtf8GetsTheSameReasonFromEveryBinaryAndTextProtocol) {
  const std::string bad = "a\xff";
  const std::string want = "value of label \"k\" is not valid UTF-8";
  EXPECT_EQ(reason_of(remote_write(port(), batch("iv_u1", bad, t_)).body), want);
  EXPECT_EQ(reason_of(rw2(batch("iv_u2", bad, t_)).body), want);
  EXPECT_EQ(reason_of(capnp(batch("iv_u3", bad, t_)).body), want);
  EXPECT_EQ(reason_of(text("iv_u4", bad, t_).body), want);
  // JSON cannot carry invalid UTF-8: the event itself is refused.
  auto r = http_request(port(), "POST", "/api/v1/push",
                        "{\"type\":\"metrics.push\",\"data\":{\"service\":\"svc\",\"metrics\":[{\"name\":\"iv_u5\","
                        "\"type\":\"gauge\",\"value\":1,\"labels\":{\"k\":\"" + bad + "\"}}]}}",
                        {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("not valid JSON"), std::string::npos) << r.body;
}

// A sample two hours old: every protocol writes the rest and answers 400 with
// the collector's reason (for JSON too: the event's samples are one write).
TEST_F(IngestValidation, TooOldSampleGetsTheSameReasonFromEveryProtocol) {
  const int64_t old = t_ - 2 * 3'600'000;
  const std::string tail = "past the limit of 1h (--max-sample-age); the other samples of the request were written";
  auto check = [&](const http_reply& r, const std::string& good) {
    EXPECT_EQ(r.status, 400) << good << ": " << r.body;
    // The series as stored: text push adds its grouping key, JSON its service.
    EXPECT_NE(r.body.find("1 samples too old, the first of series {__name__=\"iv_bad\", "), std::string::npos)
        << good << ": " << r.body;
    EXPECT_NE(r.body.find(tail), std::string::npos) << good << ": " << r.body;
    EXPECT_EQ(samples_of(good), 1u) << good;
  };
  check(remote_write(port(), batch("iv_o1", "v", old)), "iv_o1");
  check(rw2(batch("iv_o2", "v", old)), "iv_o2");
  check(capnp(batch("iv_o3", "v", old)), "iv_o3");
  check(text("iv_o4", "v", old), "iv_o4");
  check(json("iv_o5", "v", old), "iv_o5");
}

}  // namespace
}  // namespace strata::testing
