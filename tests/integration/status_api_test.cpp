// /api/v1/status/tsdb, /api/v1/metadata, `limit` on the label endpoints and
// the error types of the query API, against real strata processes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "tests/integration/node_fixture.hpp"
#include "wire/remote_write.hpp"

namespace strata::testing {
namespace {

http_reply write_with_metadata(uint16_t port, const write_batch& b, const std::vector<metric_metadata>& md) {
  return http_request(port, "POST", "/api/v1/write", wire::encode_remote_write(b, md),
                      {{"Content-Encoding", "snappy"},
                       {"Content-Type", "application/x-protobuf"},
                       {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
}

nlohmann::json get_json(uint16_t port, const std::string& target, int expect_status = 200) {
  auto r = http_request(port, "GET", target);
  EXPECT_EQ(r.status, expect_status) << target << ": " << r.body;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << target << ": " << r.body;
  return j;
}

void expect_bad_data(uint16_t port, const std::string& target, const std::string& mentions) {
  auto j = get_json(port, target, 400);
  EXPECT_EQ(j["status"], "error") << target;
  EXPECT_EQ(j["errorType"], "bad_data") << target;
  EXPECT_NE(j["error"].get<std::string>().find(mentions), std::string::npos) << target << ": " << j.dump();
}

class StatusApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = make_temp_dir();
    node_ = new node(make_node(root_ + "/n"));
    node_->start();
    t0_ = (now_ms() - 10 * 60 * 1000) / 1000 * 1000;
    write_batch b;
    for (std::string job : {"api", "db", "web"})
      for (std::string inst : {"a", "b"})
        b.push_back({{{"__name__", "up"}, {"instance", inst}, {"job", job}}, {{t0_, 1}, {t0_ + 60000, 0}}});
    b.push_back({{{"__name__", "temp"}, {"room", "kitchen"}}, {{t0_, 21.5}}});
    auto r = write_with_metadata(node_->http_port, b,
                                 {{"up", "gauge", "1 if the target is up.", ""},
                                  {"temp", "gauge", "Temperature.", "celsius"}});
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static void TearDownTestSuite() {
    if (node_) node_->stop(SIGKILL, 5000);
    delete node_;
    node_ = nullptr;
    remove_dir(root_);
  }
  static uint16_t port() { return node_->http_port; }
  static inline std::string root_;
  static inline node* node_ = nullptr;
  static inline int64_t t0_ = 0;
};

TEST_F(StatusApi, TsdbStatusCountsSeriesAndLabelsInPrometheusShape) {
  auto r = http_request(port(), "GET", "/api/v1/status/tsdb");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.rfind(R"({"status":"success","data":{"headStats":{"numSeries":7,"numLabelPairs":8,)", 0), 0u)
      << r.body;
  auto d = nlohmann::json::parse(r.body)["data"];
  EXPECT_EQ(d["headStats"]["minTime"], t0_);
  EXPECT_EQ(d["headStats"]["maxTime"], t0_ + 60000);
  EXPECT_GE(d["headStats"]["chunkCount"].get<int64_t>(), 7);
  EXPECT_EQ(d["seriesCountByMetricName"],
            nlohmann::json::parse(R"([{"name":"up","value":6},{"name":"temp","value":1}])"));
  EXPECT_EQ(d["labelValueCountByLabelName"][0], nlohmann::json::parse(R"({"name":"job","value":3})"));
  EXPECT_EQ(d["seriesCountByLabelValuePair"][0], nlohmann::json::parse(R"({"name":"__name__=up","value":6})"));
  // __name__: "up" 6 times, "temp" once.
  bool found = false;
  for (const auto& e : d["memoryInBytesByLabelName"])
    if (e["name"] == "__name__") found = e["value"] == 2 * 6 + 4;
  EXPECT_TRUE(found) << d["memoryInBytesByLabelName"].dump();
}

TEST_F(StatusApi, TsdbStatusLimitCutsEveryList) {
  auto d = get_json(port(), "/api/v1/status/tsdb?limit=1")["data"];
  for (const char* list : {"seriesCountByMetricName", "labelValueCountByLabelName", "memoryInBytesByLabelName",
                           "seriesCountByLabelValuePair"})
    EXPECT_EQ(d[list].size(), 1u) << list;
  EXPECT_EQ(d["headStats"]["numSeries"], 7) << "headStats are not cut";
  for (const char* bad : {"0", "-1", "ten", "1.5"})
    expect_bad_data(port(), std::string("/api/v1/status/tsdb?limit=") + bad, "limit must be a positive number");
}

TEST_F(StatusApi, SeriesLabelsAndValuesHonourLimitWithAWarning) {
  const std::string truncated = R"(["results truncated due to limit"])";
  auto s = get_json(port(), "/api/v1/series?match[]=up&limit=2");
  EXPECT_EQ(s["data"].size(), 2u);
  EXPECT_EQ(s["warnings"], nlohmann::json::parse(truncated));
  auto all = get_json(port(), "/api/v1/series?match[]=up&limit=6");
  EXPECT_EQ(all["data"].size(), 6u);
  EXPECT_FALSE(all.contains("warnings")) << "exactly the limit is not truncated";
  EXPECT_EQ(get_json(port(), "/api/v1/series?match[]=up&limit=0")["data"].size(), 6u) << "0 is no limit";

  auto l = get_json(port(), "/api/v1/labels?limit=1");
  EXPECT_EQ(l["data"], nlohmann::json::parse(R"(["__name__"])"));
  EXPECT_EQ(l["warnings"], nlohmann::json::parse(truncated));
  auto v = get_json(port(), "/api/v1/label/job/values?limit=2");
  EXPECT_EQ(v["data"], nlohmann::json::parse(R"(["api","db"])"));
  EXPECT_EQ(v["warnings"], nlohmann::json::parse(truncated));

  expect_bad_data(port(), "/api/v1/series?match[]=up&limit=x", "invalid parameter \"limit\"");
  expect_bad_data(port(), "/api/v1/labels?limit=-1", "limit must be non-negative");
  expect_bad_data(port(), "/api/v1/label/job/values?limit=2.5", "invalid parameter \"limit\"");
}

TEST_F(StatusApi, MetadataAnswersEveryFamilyAndItsParameters) {
  auto all = get_json(port(), "/api/v1/metadata");
  EXPECT_EQ(all["status"], "success");
  EXPECT_EQ(all["data"]["up"], nlohmann::json::parse(R"([{"type":"gauge","help":"1 if the target is up.","unit":""}])"));
  EXPECT_EQ(all["data"]["temp"][0]["unit"], "celsius");
  auto one = get_json(port(), "/api/v1/metadata?metric=temp");
  ASSERT_EQ(one["data"].size(), 1u);
  EXPECT_TRUE(one["data"].contains("temp"));
  EXPECT_EQ(get_json(port(), "/api/v1/metadata?metric=nothing")["data"], nlohmann::json::object());
  EXPECT_EQ(get_json(port(), "/api/v1/metadata?limit=1")["data"].size(), 1u);
  EXPECT_EQ(get_json(port(), "/api/v1/metadata?limit=0")["data"].size(), 0u);
  EXPECT_EQ(get_json(port(), "/api/v1/metadata?limit=-1&limit_per_metric=1")["data"].size(), 2u);
  expect_bad_data(port(), "/api/v1/metadata?limit=many", "limit must be a number");
  expect_bad_data(port(), "/api/v1/metadata?limit_per_metric=few", "limit_per_metric must be a number");
}

TEST_F(StatusApi, NewerMetadataReplacesTheStoredEntry) {
  ASSERT_EQ(write_with_metadata(port(), {}, {{"changing", "counter", "First.", ""}}).status, 204);
  ASSERT_EQ(write_with_metadata(port(), {}, {{"changing", "counter", "Second.", ""}}).status, 204);
  auto j = get_json(port(), "/api/v1/metadata?metric=changing");
  EXPECT_EQ(j["data"]["changing"], nlohmann::json::parse(R"([{"type":"counter","help":"Second.","unit":""}])"));
}

TEST_F(StatusApi, BadMetadataRejectsTheWholeWrite) {
  write_batch b{{{{"__name__", "never_stored"}}, {{t0_, 1}}}};
  auto r = write_with_metadata(port(), b, {{"never_stored", "gauge", std::string(20000, 'h'), ""}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("metadata[0]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("limit of 16384"), std::string::npos) << r.body;
  EXPECT_EQ(query(port(), "never_stored", t0_)["data"]["result"].size(), 0u);
  EXPECT_EQ(get_json(port(), "/api/v1/metadata?metric=never_stored")["data"].size(), 0u);
}

TEST_F(StatusApi, EvaluationErrorIsExecution422AndParseErrorIsBadData400) {
  auto exec = http_request(port(), "GET", "/api/v1/query?query=" + url_encode("up + on() up") +
                                              "&time=" + std::to_string((t0_ + 60000) / 1000));
  EXPECT_EQ(exec.status, 422) << exec.body;
  auto j = nlohmann::json::parse(exec.body);
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["errorType"], "execution");
  auto parse = http_request(port(), "GET", "/api/v1/query?query=" + url_encode("up +"));
  EXPECT_EQ(parse.status, 400);
  EXPECT_EQ(nlohmann::json::parse(parse.body)["errorType"], "bad_data");
}

TEST(StatusApiNode, SampleLimitIsExecution422) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.extra_args = {"--query-max-samples", "3"};
  n.start();
  auto t = now_ms() / 1000 * 1000;
  write_batch b{{{{"__name__", "many"}}, {{t - 4000, 1}, {t - 3000, 2}, {t - 2000, 3}, {t - 1000, 4}}}};
  ASSERT_EQ(remote_write(n.http_port, b).status, 204);
  auto r = http_request(n.http_port, "GET", "/api/v1/query?query=" + url_encode("many[1m]") +
                                                "&time=" + std::to_string(t / 1000));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["errorType"], "execution") << r.body;
  n.stop(SIGKILL, 5000);
  remove_dir(root);
}

TEST(StatusApiNode, MetadataSurvivesSigkillAndRestart) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.start();
  std::vector<metric_metadata> md;
  for (int i = 0; i < 20; ++i) md.push_back({"family_" + std::to_string(i), "counter", "Help " + std::to_string(i), ""});
  ASSERT_EQ(write_with_metadata(n.http_port, {}, md).status, 204);
  EXPECT_EQ(n.stop(SIGKILL, 5000), 128 + SIGKILL);
  n.start();
  auto j = get_json(n.http_port, "/api/v1/metadata");
  ASSERT_EQ(j["data"].size(), 20u) << j.dump();
  EXPECT_EQ(j["data"]["family_7"][0]["help"], "Help 7");
  n.stop(SIGKILL, 5000);
  remove_dir(root);
}

TEST(StatusApiCluster, TwoNodesAnswerTheSameMergedStatusAndMetadata) {
  auto root = make_temp_dir();
  auto a = make_node(root + "/a");
  auto b = make_node(root + "/b", {a.cluster_address()});
  a.start();
  b.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 2 && b.live_members() == 2; }))
      << "nodes did not see each other";
  auto t = now_ms() / 1000 * 1000;
  write_batch batch;
  for (int i = 0; i < 40; ++i)
    batch.push_back({{{"__name__", i % 4 == 0 ? "rare" : "common"}, {"i", std::to_string(i)}}, {{t - 1000, 1.0 * i}}});
  std::vector<metric_metadata> md{{"rare", "gauge", "Rare.", ""}, {"common", "counter", "Common.", ""}};
  ASSERT_EQ(write_with_metadata(a.http_port, batch, md).status, 204);
  for (auto* n : {&a, &b}) {
    auto d = get_json(n->http_port, "/api/v1/status/tsdb?limit=2")["data"];
    EXPECT_EQ(d["headStats"]["numSeries"], 40) << "node " << n->http_port;
    EXPECT_EQ(d["headStats"]["numLabelPairs"], 42);
    EXPECT_EQ(d["seriesCountByMetricName"],
              nlohmann::json::parse(R"([{"name":"common","value":30},{"name":"rare","value":10}])"));
    EXPECT_EQ(d["labelValueCountByLabelName"][0], nlohmann::json::parse(R"({"name":"i","value":40})"));
    auto m = get_json(n->http_port, "/api/v1/metadata")["data"];
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(m["rare"][0]["help"], "Rare.");
  }
  a.stop(SIGKILL, 5000);
  b.stop(SIGKILL, 5000);
  remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
