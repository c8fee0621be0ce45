// Queries over data older than the raw retention: a real node answers them
// from its rollup tiers (docs/design/query.md, "Rollup tiers").
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

constexpr int64_t hour_ms = 3'600'000;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json instant(uint16_t port, const std::string& q, int64_t t, const std::string& extra = "") {
  char ts[64];
  std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(t) / 1000.0);
  auto r = http_request(port, "GET", "/api/v1/query?query=" + url_encode(q) + "&time=" + ts + extra);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return {{"status", "unparsable"}, {"http", r.status}, {"body", r.body}};
  j["http"] = r.status;
  return j;
}

// The one value of an instant vector answer; NaN when it is empty.
double only_value(const nlohmann::json& j) {
  const auto& res = j["data"]["result"];
  if (!res.is_array() || res.size() != 1) return std::nan("");
  return std::stod(res[0]["value"][1].get<std::string>());
}

TEST(RollupTiers, QueriesPastRawRetentionReadRollups) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.extra_args = {"--retention-raw", "1h", "--max-sample-age", "3d"};
  n.start();
  // Two hours of 15 s scrapes two days ago, off whole seconds: a counter
  // rising by 1 and a gauge 100, 101, ... New series take any timestamp.
  const int64_t t0 = (wall_ms() - 48 * hour_ms) / hour_ms * hour_ms;
  write_batch b{{{{"__name__", "old_counter"}}, {}}, {{{"__name__", "old_gauge"}}, {}}};
  for (int k = 0; k < 480; ++k) {
    b[0].samples.push_back({t0 + 1234 + k * 15'000, static_cast<double>(k)});
    b[1].samples.push_back({t0 + 1234 + k * 15'000, 100.0 + k});
  }
  ASSERT_EQ(remote_write(n.http_port, b).status, 204);
  ASSERT_EQ(http_request(n.http_port, "POST", "/api/v1/admin/flush").status, 200);
  const int64_t at = t0 + hour_ms;
  // Retention (checked every second) deletes the raw blocks.
  EXPECT_TRUE(wait_until(20000, [&] {
    return instant(n.http_port, "count_over_time(old_gauge[1h])", at, "&max_source_resolution=0s")["data"]["result"]
        .empty();
  })) << "raw samples older than --retention-raw 1h were not deleted";

  // The first hour: samples k = 0 ... 239.
  auto count = instant(n.http_port, "count_over_time(old_gauge[1h])", at);
  EXPECT_EQ(only_value(count), 240) << count.dump();
  EXPECT_EQ(only_value(instant(n.http_port, "sum_over_time(old_gauge[1h])", at)), 240 * 100 + 239 * 240 / 2);
  EXPECT_EQ(only_value(instant(n.http_port, "min_over_time(old_gauge[1h])", at)), 100);
  EXPECT_EQ(only_value(instant(n.http_port, "max_over_time(old_gauge[1h])", at)), 339);
  EXPECT_EQ(only_value(instant(n.http_port, "last_over_time(old_gauge[1h])", at)), 339);
  // increase: 239 over 3585 s of samples, extrapolated 13.766 s to the end
  // and not before the counter's zero at the first sample (Prometheus).
  EXPECT_NEAR(only_value(instant(n.http_port, "increase(old_counter[1h])", at)), 239.0 * (3585 + 13.766) / 3585,
              1e-9);
  // Median from the sketches: Prometheus interpolates to 219.5.
  EXPECT_NEAR(only_value(instant(n.http_port, "quantile_over_time(0.5, old_gauge[1h])", at)), 219.5, 2.195);
  // Both hours in one range query (step 1h), as a sum over the series.
  auto r = http_request(n.http_port, "GET",
                        "/api/v1/query_range?query=" + url_encode("sum(count_over_time({__name__=~\"old_.*\"}[1h]))") +
                            "&start=" + std::to_string(at / 1000) + "&end=" + std::to_string((at + hour_ms) / 1000) +
                            "&step=3600");
  ASSERT_EQ(r.status, 200) << r.body;
  auto values = nlohmann::json::parse(r.body)["data"]["result"][0]["values"];
  ASSERT_EQ(values.size(), 2u) << r.body;
  EXPECT_EQ(values[0][1], "480");
  EXPECT_EQ(values[1][1], "480");
  // Rollups cannot answer stddev_over_time: no value, and a warning why.
  auto sd = instant(n.http_port, "stddev_over_time(old_gauge[1h])", at);
  EXPECT_TRUE(sd["data"]["result"].empty()) << sd.dump();
  ASSERT_TRUE(sd.contains("warnings")) << sd.dump();
  EXPECT_NE(sd["warnings"][0].get<std::string>().find("cannot be computed from rollup tiers"), std::string::npos);
  // A bad max_source_resolution names the parameter.
  auto bad = instant(n.http_port, "count_over_time(old_gauge[1h])", at, "&max_source_resolution=soon");
  EXPECT_EQ(bad["http"], 400);
  EXPECT_NE(bad.dump().find("max_source_resolution"), std::string::npos) << bad.dump();
  n.stop(SIGTERM, 10000);
  remove_dir(root);
}

// Three nodes (RF 1) past the raw retention: the shards evaluate the
// aggregations and functions over their own rollup buckets, and the answers
// equal those of the buckets gathered at the querying node.
TEST(RollupTiers, PushedDownOverRollupsLikeGatheredBuckets) {
  auto root = make_temp_dir();
  node a = make_node(root + "/a");
  node b = make_node(root + "/b", {a.cluster_address()}), c = make_node(root + "/c", {a.cluster_address()});
  for (node* n : {&a, &b, &c}) {
    n->extra_args = {"--retention-raw", "1h", "--max-sample-age", "3d"};
    n->start();
  }
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 3 && b.live_members() == 3 && c.live_members() == 3; }));
  const int64_t t0 = (wall_ms() - 48 * hour_ms) / hour_ms * hour_ms;
  write_batch batch;
  for (int i = 0; i < 60; ++i) {
    series s{{{"__name__", "old_requests_total"}, {"instance", "host-" + std::to_string(i)},
              {"job", "job-" + std::to_string(i % 3)}},
             {}};
    for (int k = 0; k < 480; ++k) s.samples.push_back({t0 + 1234 + k * 15'000, static_cast<double>(k * (i + 1))});
    batch.push_back(std::move(s));
  }
  ASSERT_EQ(remote_write(a.http_port, batch).status, 204);
  for (node* n : {&a, &b, &c}) ASSERT_EQ(http_request(n->http_port, "POST", "/api/v1/admin/flush").status, 200);
  const int64_t at = t0 + hour_ms;
  EXPECT_TRUE(wait_until(20000, [&] {
    auto r = instant(a.http_port, "count(count_over_time(old_requests_total[1h]))", at,
                     "&max_source_resolution=0s&pushdown=false");
    return r["data"]["result"].empty();
  })) << "raw samples older than --retention-raw 1h were not deleted";
  for (const char* q : {"sum by (job) (increase(old_requests_total[1h]))", "count(max_over_time(old_requests_total[1h]))",
                        "max_over_time(old_requests_total[1h])", "sum(count_over_time(old_requests_total[1h]))"}) {
    SCOPED_TRACE(q);
    auto pushed = instant(b.http_port, q, at, "&stats=all");
    auto gathered = instant(b.http_port, q, at, "&stats=all&pushdown=false");
    ASSERT_EQ(pushed["status"], "success") << pushed.dump().substr(0, 500);
    ASSERT_EQ(gathered["status"], "success") << gathered.dump().substr(0, 500);
    ASSERT_FALSE(gathered["data"]["result"].empty());
    EXPECT_EQ(pushed["data"]["result"], gathered["data"]["result"]);
    EXPECT_EQ(pushed["data"]["stats"]["cluster"]["remoteSamples"], 0) << pushed["data"]["stats"];
    EXPECT_GT(gathered["data"]["stats"]["cluster"]["remoteSamples"], 0) << gathered["data"]["stats"];
  }
  EXPECT_EQ(only_value(instant(b.http_port, "sum(count_over_time(old_requests_total[1h]))", at)), 60 * 240);
  for (node* n : {&a, &b, &c}) n->stop(SIGKILL, 5000);
  if (!::testing::Test::HasFailure()) remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
