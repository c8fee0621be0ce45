// Three real strata processes on 127.0.0.1: a query reads every partition
// from one replica, aggregations run where the data lies and only their
// partial aggregates cross the network, and a partition without a live
// replica gives a warning or, with partial_response=false, a 503.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstdio>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

constexpr int series_count = 500;
constexpr int samples_per_series = 100;
constexpr int step_ms = 15000;
constexpr int jobs = 5;

// Counters: series i (job i % 5) grows by i + 1 per sample.
write_batch make_batch(int64_t base) {
  write_batch b;
  for (int i = 0; i < series_count; ++i) {
    series s;
    s.lbls = {{"__name__", "pd_requests_total"}, {"instance", "host-" + std::to_string(i)},
              {"job", "job-" + std::to_string(i % jobs)}};
    for (int k = 0; k < samples_per_series; ++k) s.samples.push_back({base + k * step_ms, double(k) * (i + 1)});
    b.push_back(std::move(s));
  }
  return b;
}

std::string time_param(int64_t t_ms) {
  char t[64];
  std::snprintf(t, sizeof t, "%.3f", static_cast<double>(t_ms) / 1000.0);
  return t;
}

// GET /api/v1/query with extra parameters, parsed; "http" holds the status.
nlohmann::json query_with(uint16_t port, const std::string& q, int64_t t_ms, const std::string& extra) {
  auto r = http_request(port, "GET", "/api/v1/query?query=" + url_encode(q) + "&time=" + time_param(t_ms) + extra);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return {{"status", "unparsable"}, {"http", r.status}, {"body", r.body}};
  j["http"] = r.status;
  return j;
}

uint64_t remote_bytes(const nlohmann::json& reply) {
  return reply["data"]["stats"]["cluster"]["remoteBytes"].get<uint64_t>();
}

class Pushdown : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
    c_ = make_node(root_ + "/c", {a_.cluster_address()});
    for (node* n : {&a_, &b_, &c_})
      n->extra_args.insert(n->extra_args.end(), {"--replication-factor", std::to_string(GetParam())});
    a_.start();
    b_.start();
    c_.start();
    ASSERT_TRUE(all_see(3, {&a_, &b_, &c_})) << read_file(a_.log);
    base_ = (now_ms() - 40 * 60 * 1000) / 1000 * 1000;
    ASSERT_EQ(remote_write(a_.http_port, make_batch(base_)).status, 204);
    t_ = base_ + (samples_per_series - 1) * step_ms;
  }
  void TearDown() override {
    for (node* n : {&a_, &b_, &c_}) n->stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  bool all_see(size_t n, std::initializer_list<node*> nodes) {
    return wait_until(20000, [&] {
      for (node* x : nodes)
        if (x->live_members() != n) return false;
      return true;
    });
  }
  // sum by (job) at t_: the last values, summed exactly (integers).
  void expect_sum_by_job(const nlohmann::json& r) {
    ASSERT_EQ(r["status"], "success") << r.dump().substr(0, 1000);
    ASSERT_EQ(r["data"]["result"].size(), static_cast<size_t>(jobs)) << r.dump().substr(0, 1000);
    for (const auto& s : r["data"]["result"]) {
      int job = std::stoi(s["metric"]["job"].get<std::string>().substr(4));
      double want = 0;
      for (int i = job; i < series_count; i += jobs) want += double(samples_per_series - 1) * (i + 1);
      EXPECT_EQ(std::stod(s["value"][1].get<std::string>()), want) << s.dump();
    }
  }
  std::string root_;
  node a_, b_, c_;
  int64_t base_ = 0, t_ = 0;
};

TEST_P(Pushdown, SumOverManySeriesMovesPartialsNotSamples) {
  for (const char* q : {"sum(rate(pd_requests_total[5m]))", "sum by (job) (pd_requests_total)"}) {
    SCOPED_TRACE(q);
    auto pushed = query_with(a_.http_port, q, t_, "&stats=all");
    auto raw = query_with(a_.http_port, q, t_, "&stats=all&pushdown=false");
    ASSERT_EQ(pushed["status"], "success") << pushed.dump().substr(0, 1000);
    ASSERT_EQ(raw["status"], "success") << raw.dump().substr(0, 1000);
    EXPECT_EQ(pushed["data"]["result"], raw["data"]["result"]);
    EXPECT_FALSE(pushed.contains("warnings")) << pushed.dump().substr(0, 1000);
    // Most series live on other nodes: raw, that is thousands of samples
    // (a 5m window holds about 20 per series); pushed down, a few partials
    // per shard.
    EXPECT_GT(raw["data"]["stats"]["cluster"]["remoteSamples"].get<uint64_t>(), 2000u);
    EXPECT_EQ(pushed["data"]["stats"]["cluster"]["remoteSamples"].get<uint64_t>(), 0u);
    EXPECT_GT(pushed["data"]["stats"]["cluster"]["remotePartials"].get<uint64_t>(), 0u);
    EXPECT_LT(remote_bytes(pushed) * 10, remote_bytes(raw)) << remote_bytes(pushed) << " vs " << remote_bytes(raw);
    std::printf("%s: bytes from other nodes pushed down %llu, raw %llu\n", q,
                static_cast<unsigned long long>(remote_bytes(pushed)), static_cast<unsigned long long>(remote_bytes(raw)));
  }
  expect_sum_by_job(query_with(a_.http_port, "sum by (job) (pd_requests_total)", t_, ""));
  // Each sample once through every node, raw too.
  for (node* n : {&a_, &b_, &c_})
    for (const char* extra : {"", "&pushdown=false"}) {
      auto counts = query_with(n->http_port, "sum(count_over_time(pd_requests_total[1h]))", t_, extra);
      ASSERT_EQ(counts["status"], "success") << counts.dump().substr(0, 500);
      EXPECT_EQ(counts["data"]["result"][0]["value"][1], std::to_string(series_count * samples_per_series));
    }
}

TEST_P(Pushdown, ANodeDownGivesACompleteAnswerOrAWarningOrA503) {
  auto before = query_with(a_.http_port, "sum(rate(pd_requests_total[5m]))", t_, "");
  ASSERT_EQ(before["status"], "success") << before.dump().substr(0, 500);
  EXPECT_EQ(c_.stop(SIGKILL, 5000), 128 + SIGKILL);
  ASSERT_TRUE(all_see(2, {&a_, &b_}));
  auto after = query_with(a_.http_port, "sum(rate(pd_requests_total[5m]))", t_, "");
  auto by_job = query_with(b_.http_port, "sum by (job) (pd_requests_total)", t_, "");
  auto strict = query_with(a_.http_port, "sum by (job) (pd_requests_total)", t_, "&partial_response=false");
  if (GetParam() >= 2) {
    // Every partition has a live replica: complete and exact, nothing twice.
    EXPECT_EQ(after["data"]["result"], before["data"]["result"]) << after.dump().substr(0, 500);
    EXPECT_FALSE(after.contains("warnings"));
    expect_sum_by_job(by_job);
    expect_sum_by_job(strict);
  } else {
    EXPECT_EQ(after["status"], "success");
    ASSERT_TRUE(after.contains("warnings")) << after.dump().substr(0, 500);
    EXPECT_NE(after["warnings"][0].get<std::string>().find(c_.cluster_address()), std::string::npos)
        << after["warnings"][0];
    EXPECT_EQ(strict["http"], 503) << strict.dump().substr(0, 500);
    EXPECT_EQ(strict["errorType"], "unavailable");
    EXPECT_NE(strict["error"].get<std::string>().find("partitions"), std::string::npos) << strict["error"];
  }
  auto bad = query_with(a_.http_port, "sum(pd_requests_total)", t_, "&partial_response=maybe");
  EXPECT_EQ(bad["http"], 400);
  EXPECT_NE(bad["error"].get<std::string>().find("partial_response"), std::string::npos) << bad.dump();
}

INSTANTIATE_TEST_SUITE_P(ReplicationFactor, Pushdown, ::testing::Values(1, 2),
                         [](const auto& info) { return "Rf" + std::to_string(info.param); });

}  // namespace
}  // namespace strata::testing
