// One real strata process: the HTTP API as a user meets it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

const std::vector<std::pair<std::string, std::string>> rw_headers{
    {"Content-Encoding", "snappy"}, {"Content-Type", "application/x-protobuf"}};

class SingleNode : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = make_temp_dir();
    node_ = new node(make_node(root_ + "/n"));
    node_->start();
    t0_ = (now_ms() - 10 * 60 * 1000) / 1000 * 1000;
    // Both samples of a series in one 2 h block, so that neither is sealed
    // by the block boundary (MetricsHealthAndReady counts head samples).
    constexpr int64_t block_ms = 2 * 3600 * 1000;
    if (t0_ / block_ms != (t0_ + 60000) / block_ms) t0_ -= 60000;
    write_batch b;
    for (std::string job : {"api", "db", "web"})
      for (std::string inst : {"a", "b"})
        b.push_back({{{"__name__", "up"}, {"instance", inst}, {"job", job}}, {{t0_, 1}, {t0_ + 60000, 0}}});
    b.push_back({{{"__name__", "temp"}, {"room", "kitchen"}}, {{t0_, 21.5}}});
    auto r = remote_write(node_->http_port, b);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static void TearDownTestSuite() {
    if (node_) node_->stop(SIGKILL, 5000);
    delete node_;
    node_ = nullptr;
    remove_dir(root_);
  }
  static size_t count_series(const std::string& match) {
    auto r = http_request(node_->http_port, "GET", "/api/v1/series?match[]=" + url_encode(match));
    auto j = nlohmann::json::parse(r.body);
    return j["data"].size();
  }
  // GET /api/v1/query_range of `query` (URL-encoded) over the two samples'
  // minute at a 30 s step, plus `extra` parameters; the answer, parsed, after
  // checking it is a 200.
  static nlohmann::json range_query(const std::string& query, const std::string& extra = "") {
    char span[96];
    std::snprintf(span, sizeof span, "&start=%.3f&end=%.3f&step=30", t0_ / 1000.0, (t0_ + 60000) / 1000.0);
    auto r = http_request(node_->http_port, "GET", "/api/v1/query_range?query=" + query + span + extra);
    EXPECT_EQ(r.status, 200) << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  static inline std::string root_;
  static inline node* node_ = nullptr;
  static inline int64_t t0_ = 0;
};

TEST_F(SingleNode, InstantQueryUsesEachMatcherType) {
  auto at = t0_ + 60000;
  auto n = [&](const std::string& q) { return query(node_->http_port, q, at)["data"]["result"].size(); };
  EXPECT_EQ(n("up"), 6u);
  EXPECT_EQ(n("up{job=\"api\"}"), 2u);
  EXPECT_EQ(n("up{job!=\"api\"}"), 4u);
  EXPECT_EQ(n("up{job=~\"a.*|w.*\"}"), 4u);
  EXPECT_EQ(n("up{job=~\"ap\"}"), 0u) << "regexes are fully anchored";
  EXPECT_EQ(n("up{job!~\"api|db\",instance=\"a\"}"), 1u);
  EXPECT_EQ(n("{__name__=~\"up|temp\"}"), 7u);
}

TEST_F(SingleNode, InstantQueryAnswersInPrometheusShape) {
  auto j = query(node_->http_port, "temp", t0_ + 1000);
  ASSERT_EQ(j["status"], "success") << j.dump();
  EXPECT_EQ(j["data"]["resultType"], "vector");
  ASSERT_EQ(j["data"]["result"].size(), 1u);
  const auto& s = j["data"]["result"][0];
  EXPECT_EQ(s["metric"], (nlohmann::json{{"__name__", "temp"}, {"room", "kitchen"}}));
  EXPECT_DOUBLE_EQ(s["value"][0].get<double>(), (t0_ + 1000) / 1000.0);
  EXPECT_EQ(s["value"][1], "21.5");
}

TEST_F(SingleNode, RangeQueryReturnsMatrixAtEachStep) {
  auto j = range_query("up%7Bjob%3D%22db%22%7D");
  EXPECT_EQ(j["data"]["resultType"], "matrix");
  ASSERT_EQ(j["data"]["result"].size(), 2u);
  const auto& values = j["data"]["result"][0]["values"];
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0][1], "1");
  EXPECT_EQ(values[1][1], "1");
  EXPECT_EQ(values[2][1], "0");
}

// stats=all reports the phases of the query's time in Prometheus's names:
// preparation and evaluation add up to evalTotalTime, within execTotalTime.
TEST_F(SingleNode, StatsAllReportsWhereTheQueryTimeWent) {
  auto j = range_query("sum(up)", "&stats=all");
  ASSERT_TRUE(j["data"]["stats"].contains("timings")) << j.dump();
  const auto& t = j["data"]["stats"]["timings"];
  double prep = t["queryPreparationTime"], inner = t["innerEvalTime"], eval = t["evalTotalTime"];
  double total = t["execTotalTime"];
  EXPECT_GT(prep, 0);
  EXPECT_GT(inner, 0);
  EXPECT_DOUBLE_EQ(eval, prep + inner);
  EXPECT_GE(total, eval);
  EXPECT_EQ(j["data"]["result"].size(), 1u);
  EXPECT_FALSE(nlohmann::json::parse(http_request(node_->http_port, "GET", "/api/v1/query?query=up").body)["data"]
                   .contains("stats"));
  // Beside warnings, which follow data.
  char target[128];
  std::snprintf(target, sizeof target, "/api/v1/query?query=quantile(2,up)&time=%.3f&stats=all", t0_ / 1000.0 + 1);
  auto r = http_request(node_->http_port, "GET", target);
  ASSERT_EQ(r.status, 200) << r.body;
  j = nlohmann::json::parse(r.body);
  EXPECT_TRUE(j["data"]["stats"]["timings"].contains("execTotalTime")) << r.body;
  ASSERT_EQ(j["warnings"].size(), 1u) << r.body;
}

TEST_F(SingleNode, RangeQueryRequiresItsParameters) {
  auto r = http_request(node_->http_port, "GET", "/api/v1/query_range?query=up&start=1&end=2");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("step"), std::string::npos) << r.body;
  r = http_request(node_->http_port, "GET", "/api/v1/query_range?query=up&start=10&end=2&step=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("end timestamp must not be before start time"), std::string::npos) << r.body;
}

TEST_F(SingleNode, ParseErrorIsBadData) {
  auto r = http_request(node_->http_port, "GET", "/api/v1/query?query=" + url_encode("up{job=}"));
  EXPECT_EQ(r.status, 400);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["errorType"], "bad_data");
}

TEST_F(SingleNode, FormatQueryPrintsTheCanonicalForm) {
  auto r = http_request(node_->http_port, "GET", "/api/v1/format_query?query=" + url_encode("up{job='api',x=~\"a\"}[90m]"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["data"], "up{job=\"api\", x=~\"a\"}[1h30m]");
  EXPECT_EQ(http_request(node_->http_port, "GET", "/api/v1/format_query?query=up%7B").status, 400);
}

TEST_F(SingleNode, SeriesLabelsAndLabelValues) {
  EXPECT_EQ(count_series("up"), 6u);
  EXPECT_EQ(count_series("{room=\"kitchen\"}"), 1u);
  auto r = http_request(node_->http_port, "GET", "/api/v1/labels");
  auto names = nlohmann::json::parse(r.body)["data"];
  EXPECT_EQ(names, (nlohmann::json{"__name__", "instance", "job", "room"}));
  r = http_request(node_->http_port, "GET", "/api/v1/label/job/values");
  EXPECT_EQ(nlohmann::json::parse(r.body)["data"], (nlohmann::json{"api", "db", "web"}));
  r = http_request(node_->http_port, "GET", "/api/v1/series");
  EXPECT_EQ(r.status, 400) << "match[] is required";
}

TEST_F(SingleNode, BadSnappyIsRejectedAndStoresNothing) {
  auto r = http_request(node_->http_port, "POST", "/api/v1/write", "not snappy at all", rw_headers);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("snappy"), std::string::npos) << r.body;
}

TEST_F(SingleNode, InvalidSeriesRejectsTheWholeRequest) {
  auto t = t0_;
  write_batch dup{{{{"__name__", "ok_metric"}}, {{t, 1}}},
                  {{{"__name__", "bad_metric"}, {"a", "1"}, {"a", "2"}}, {{t, 1}}}};
  auto r = remote_write(node_->http_port, dup);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("duplicate"), std::string::npos) << r.body;

  write_batch utf8{{{{"__name__", "ok_metric"}}, {{t, 1}}}, {{{"__name__", "bad\xff"}}, {{t, 1}}}};
  r = remote_write(node_->http_port, utf8);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("UTF-8"), std::string::npos) << r.body;

  write_batch empty_name{{{{"__name__", "ok_metric"}}, {{t, 1}}}, {{{"__name__", "x"}, {"", "v"}}, {{t, 1}}}};
  r = remote_write(node_->http_port, empty_name);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("empty name"), std::string::npos) << r.body;

  EXPECT_EQ(count_series("ok_metric"), 0u) << "nothing of a rejected request is stored";
}

TEST_F(SingleNode, UnsupportedEncodingIs415) {
  auto r = http_request(node_->http_port, "POST", "/api/v1/write", "x",
                        {{"Content-Encoding", "gzip"}, {"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r.status, 415);
}

TEST_F(SingleNode, MetricsHealthAndReady) {
  auto m = http_request(node_->http_port, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("strata_http_requests_total{route=\"/api/v1/write\",code=\"204\"}"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("strata_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(m.body.find("strata_samples_ingested_total{protocol=\"remote_write\"} 13"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("process_resident_memory_bytes"), std::string::npos);
  EXPECT_NE(m.body.find("strata_head_series 7\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("strata_head_samples 13\n"), std::string::npos) << m.body;
  EXPECT_EQ(http_request(node_->http_port, "GET", "/health").status, 200);
  EXPECT_EQ(http_request(node_->http_port, "GET", "/ready").status, 200);
}

TEST(ServeCommand, RefusesAnotherShardCountForAnExistingDataDir) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.start();
  ASSERT_EQ(n.stop(SIGTERM, 15000), 0);
  child_process p({STRATA_BINARY, "serve", "--data-dir", n.data_dir, "--shards", "3", "--http-listen",
                   "127.0.0.1:" + std::to_string(free_port()), "--cluster-listen",
                   "127.0.0.1:" + std::to_string(free_port())},
                  root + "/mismatch.log");
  EXPECT_EQ(p.wait(15000), 1);
  auto log = read_file(root + "/mismatch.log");
  EXPECT_NE(log.find("start with --shards 2"), std::string::npos) << log;
  remove_dir(root);
}

TEST(ServeCommand, IntervalSyncKeepsAcknowledgedWritesAcrossSigkill) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.extra_args = {"--wal-sync", "interval", "--wal-sync-interval-ms", "50"};
  n.start();
  auto t = now_ms() / 1000 * 1000;
  write_batch b{{{{"__name__", "kept"}, {"i", "1"}}, {{t - 2000, 1}, {t - 1000, 2}}}};
  ASSERT_EQ(remote_write(n.http_port, b).status, 204);
  EXPECT_EQ(n.stop(SIGKILL, 5000), 128 + SIGKILL);
  n.start();
  auto got = read_matrix(query(n.http_port, "kept[1m]", t));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second.size(), 2u);
  n.stop(SIGKILL, 5000);
  remove_dir(root);
}

TEST(ServeCommand, RejectsAnUnknownWalSyncMode) {
  auto root = make_temp_dir();
  child_process p({STRATA_BINARY, "serve", "--wal-sync", "sometimes", "--data-dir", root + "/d"}, root + "/log");
  EXPECT_NE(p.wait(10000), 0);
  auto log = read_file(root + "/log");
  EXPECT_NE(log.find("--wal-sync"), std::string::npos) << log;
  remove_dir(root);
}

TEST(ServeCommand, HelpListsEveryFlagWithDefault) {
  auto root = make_temp_dir();
  child_process p({STRATA_BINARY, "serve", "--help"}, root + "/help.log");
  EXPECT_EQ(p.wait(10000), 0);
  auto help = read_file(root + "/help.log");
  for (const char* flag : {"--data-dir", "--http-listen", "--cluster-listen", "--seeds", "--shards", "--log-level"})
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  EXPECT_NE(help.find("127.0.0.1:9201"), std::string::npos) << help;
  remove_dir(root);
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

// Samples of 3 series, every 15 s for 75 minutes: chunks seal while writing.
write_batch storage_batch(int64_t t0) {
  write_batch b;
  for (std::string i : {"0", "1", "2"}) {
    series s{{{"__name__", "stored"}, {"i", i}}, {}};
    for (int k = 0; k < 300; ++k) s.samples.push_back({t0 + k * 15'000, k * 0.5});
    b.push_back(std::move(s));
  }
  return b;
}

double stored_count(uint16_t port, int64_t at) {
  auto j = query(port, "sum(count_over_time(stored[2h]))", at);
  return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
}

TEST(Storage, FlushAndCompactKeepEverySampleAcrossASigkill) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.start();
  int64_t t0 = (now_ms() - 90 * 60 * 1000) / 1000 * 1000, end = t0 + 299 * 15'000;
  ASSERT_EQ(remote_write(n.http_port, storage_batch(t0)).status, 204);
  EXPECT_EQ(stored_count(n.http_port, end), 900);
  auto f = http_request(n.http_port, "POST", "/api/v1/admin/flush");
  EXPECT_EQ(f.status, 200) << f.body;
  auto c = http_request(n.http_port, "POST", "/api/v1/admin/compact");
  ASSERT_EQ(c.status, 200) << c.body;
  auto cj = nlohmann::json::parse(c.body)["data"];
  EXPECT_GE(cj["chunksBefore"].get<int>(), 9) << "3 series x (2 full chunks + the flushed rest)";
  EXPECT_LE(cj["chunksAfter"].get<int>(), 6) << "one chunk per series and 2-hour block";
  EXPECT_EQ(stored_count(n.http_port, end), 900);
  // An old sample is refused, naming the series and the window; the rest stays.
  write_batch old{{{{"__name__", "stored"}, {"i", "0"}}, {{t0, 99}}}};
  auto r = remote_write(n.http_port, old);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("out-of-order window 1h"), std::string::npos) << r.body;
  n.stop(SIGKILL, 5000);
  n.start();
  EXPECT_EQ(stored_count(n.http_port, end), 900);
  EXPECT_EQ(query(n.http_port, "stored{i=\"2\"}", end)["data"]["result"][0]["value"][1], "149.5");
  n.stop(SIGTERM, 10000);
  remove_dir(root);
}

TEST(ServeCommand, RejectsARetentionThatIsNotADuration) {
  auto root = make_temp_dir();
  child_process p({STRATA_BINARY, "serve", "--retention-raw", "forever", "--data-dir", root + "/d"}, root + "/log");
  EXPECT_NE(p.wait(10000), 0);
  auto log = read_file(root + "/log");
  EXPECT_NE(log.find("--retention-raw forever"), std::string::npos) << log;
  EXPECT_NE(log.find("36h"), std::string::npos) << log;
  remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
