#include "wire/json_push.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace strata::wire {
namespace {

constexpr int64_t now = 1'700'000'000'000;

result<json_push> decode(const std::string& body, write_limits l = {}) { return decode_json_push(body, now, l); }

std::string event(const std::string& metrics, const std::string& extra = R"("timestamp":1000,)") {
  return R"({"type":"metrics.push","data":{"service":"checkout",)" + extra + R"("metrics":)" + metrics +
         R"(,"correlation_id":"6f1c"}})";
}

const series* find(const json_push& p, const std::string& text) {
  for (const auto& s : p.series)
    if (to_string(s.lbls) == text) return &s;
  return nullptr;
}

TEST(JsonPush, CounterAndGaugeBecomeSeriesWithTheServiceLabel) {
  auto r = decode(event(R"([{"name":"orders_total","type":"counter","value":3,"labels":{"region":"eu"}},
                            {"name":"queue_depth","type":"gauge","value":-1.5}])"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->accepted, 2u);
  EXPECT_TRUE(r->rejected.empty());
  EXPECT_EQ(r->correlation_id, "6f1c");
  auto* s = find(*r, R"({__name__="orders_total", region="eu", service="checkout"})");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->samples[0].t, 1000);
  EXPECT_EQ(s->samples[0].v, 3);
  ASSERT_EQ(r->metadata.size(), 2u);
  EXPECT_EQ(r->metadata[0].type, metric_type::counter);
  EXPECT_EQ(r->metadata[1].family, "queue_depth");
}

TEST(JsonPush, HistogramBecomesBucketsSumAndCount) {
  auto r = decode(event(R"([{"name":"latency_seconds","type":"histogram",
      "buckets":[{"le":0.1,"count":3},{"le":1,"count":5}],"sum":1.25,"count":6}])"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->accepted, 1u);
  ASSERT_EQ(r->series.size(), 5u);  // 0.1, 1, +Inf, sum, count
  EXPECT_EQ(find(*r, R"({__name__="latency_seconds_bucket", le="0.1", service="checkout"})")->samples[0].v, 3);
  EXPECT_EQ(find(*r, R"({__name__="latency_seconds_bucket", le="+Inf", service="checkout"})")->samples[0].v, 6);
  EXPECT_EQ(find(*r, R"({__name__="latency_seconds_sum", service="checkout"})")->samples[0].v, 1.25);
  EXPECT_EQ(find(*r, R"({__name__="latency_seconds_count", service="checkout"})")->samples[0].v, 6);
}

TEST(JsonPush, TimestampsTakeRfc3339MillisecondsOrTheReceiveTime) {
  auto r = decode(event(R"([{"name":"a","type":"gauge","value":1},
                            {"name":"b","type":"gauge","value":1,"timestamp":"2023-11-14T22:13:20.5+01:00"}])",
                        R"("timestamp":"2023-11-14T22:13:20Z",)"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->series[0].samples[0].t, 1700000000000);
  EXPECT_EQ(r->series[1].samples[0].t, 1700000000500 - 3600000);
  r = decode(event(R"([{"name":"a","type":"gauge","value":1}])", ""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->series[0].samples[0].t, now);
}

TEST(JsonPush, BadMetricsAreRejectedOneByOneWithIndexNameAndReason) {
  auto r = decode(event(R"([{"name":"ok","type":"gauge","value":1},
      {"name":"9bad","type":"gauge","value":1,"labels":{"__x":"1"}},
      {"name":"c","type":"counter","value":-1},
      {"name":"t","type":"summary","value":1},
      {"name":"h","type":"histogram","buckets":[{"le":1,"count":5},{"le":0.5,"count":6}],"sum":1,"count":6},
      {"name":"h2","type":"histogram","buckets":[{"le":1,"count":5}],"sum":1,"count":4},
      {"name":"l","type":"gauge","value":1,"labels":{"service":"x"}},
      {"name":"v","type":"gauge"},
      7])"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->accepted, 1u);
  EXPECT_EQ(r->series.size(), 1u);
  ASSERT_EQ(r->rejected.size(), 8u);
  const std::pair<size_t, const char*> expect[] = {
      {1, "label name \"__x\" starts with __ (reserved)"},
      {2, "a counter value must be a number >= 0"},
      {3, "type \"summary\" is not counter, gauge or histogram"},
      {4, "buckets[1].le is not greater than the previous bucket's"},
      {5, "count is less than the last bucket's count"},
      {6, "label service is set from data.service"},
      {7, "field value is missing or not a number"},
      {8, "a metric must be an object"},
  };
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(r->rejected[i].index, expect[i].first);
    EXPECT_NE(r->rejected[i].reason.find(expect[i].second), std::string::npos) << r->rejected[i].reason;
  }
  EXPECT_EQ(r->rejected[0].name, "9bad");

  auto reply = nlohmann::json::parse(encode_collected(*r));
  EXPECT_EQ(reply["type"], "metrics.collected");
  EXPECT_EQ(reply["data"]["correlation_id"], "6f1c");
  EXPECT_EQ(reply["data"]["accepted"], 1);
  EXPECT_EQ(reply["data"]["rejected"][1]["name"], "c");
  EXPECT_EQ(reply["data"]["rejected"][1]["index"], 2);
}

TEST(JsonPush, EnvelopeErrorsNameTheField) {
  const std::pair<std::string, const char*> cases[] = {
      {"{", "body is not valid JSON"},
      {"[]", "body must be a JSON object"},
      {R"({"type":"x","data":{}})", "field type must be \"metrics.push\""},
      {R"({"type":"metrics.push"})", "field data is missing"},
      {R"({"type":"metrics.push","data":{"metrics":[]}})", "field data.service is missing"},
      {R"({"type":"metrics.push","data":{"service":"s"}})", "field data.metrics is missing"},
      {R"({"type":"metrics.push","data":{"service":"s","timestamp":"yesterday","metrics":[]}})",
       "field data.timestamp is neither RFC 3339 nor integer milliseconds"},
      {R"({"type":"metrics.push","data":{"service":"s","correlation_id":5,"metrics":[]}})",
       "field data.correlation_id must be a string"},
  };
  for (const auto& [body, expect] : cases) {
    auto r = decode(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code(), strata_errc::bad_request);
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << body << " -> " << r.error().message();
  }
}

TEST(JsonPush, MetricCountLimitIsNamed) {
  write_limits l;
  l.max_series = 1;
  auto r = decode(event(R"([{"name":"a","type":"gauge","value":1},{"name":"b","type":"gauge","value":1}])"), l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("2 metrics, over the limit of 1"), std::string::npos) << r.error().message();
}

TEST(Rfc3339, ParsesOffsetsAndFractions) {
  int64_t t = 0;
  ASSERT_TRUE(parse_rfc3339_ms("1970-01-01T00:00:00Z", t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(parse_rfc3339_ms("2000-02-29T12:30:15.123456-02:30", t));
  EXPECT_EQ(t, 951836415123);
  EXPECT_FALSE(parse_rfc3339_ms("2000-02-29 12:30", t));
  EXPECT_FALSE(parse_rfc3339_ms("2000-13-01T00:00:00Z", t));
  EXPECT_FALSE(parse_rfc3339_ms("2000-01-01T00:00:00", t));
}

}  // namespace
}  // namespace strata::wire

namespace strata::wire {
namespace {

TEST(JsonPush, NamesFollowNameValidationLikeEveryOtherProtocol) {
  const std::string body = event(R"([{"name":"9bad","type":"gauge","value":1,"labels":{"a.b":"x"}}])");
  auto utf8 = decode(body);
  ASSERT_TRUE(utf8);
  EXPECT_EQ(utf8->accepted, 1u);
  write_limits l;
  l.names = name_validation::legacy;
  auto legacy = decode(body, l);
  ASSERT_TRUE(legacy);
  ASSERT_EQ(legacy->rejected.size(), 1u);
  EXPECT_EQ(legacy->rejected[0].reason,
            "{__name__=\"9bad\", a.b=\"x\", service=\"checkout\"}: metric name \"9bad\" does not match "
            "[a-zA-Z_:][a-zA-Z0-9_:]* (--name-validation=legacy)");
}

TEST(JsonPush, EveryHistogramSeriesPassesTheSeriesCheck) {
  write_limits l;
  l.max_labels = 3;  // __name__, service, x: the _bucket series adds le
  auto r = decode(event(R"([{"name":"h","type":"histogram","labels":{"x":"1"},"buckets":[{"le":1,"count":1}],"sum":1,"count":1}])"), l);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rejected.size(), 1u);
  EXPECT_NE(r->rejected[0].reason.find("_bucket"), std::string::npos) << r->rejected[0].reason;
  EXPECT_NE(r->rejected[0].reason.find("4 labels, over the limit of 3"), std::string::npos) << r->rejected[0].reason;
  EXPECT_TRUE(r->series.empty());
}

}  // namespace
}  // namespace strata::wire
