// Write limits on a real node: which answer each violation gets, what of the
// request is stored (partial writes), and how /metrics counts it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

class WriteLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    node_ = std::make_unique<node>(make_node(root_ + "/n"));
    node_->extra_args = {"--max-active-series", "3", "--max-sample-future", "5m", "--max-sample-age", "1h",
                         "--name-validation", "legacy"};
    node_->start();
    t_ = now_ms() / 1000 * 1000;
  }
  void TearDown() override {
    if (node_) node_->stop(SIGKILL, 5000);
    node_.reset();
    remove_dir(root_);
  }
  size_t samples_of(const std::string& selector) {
    auto j = query(node_->http_port, "count_over_time(" + selector + "[2h])", t_);
    if (j["status"] != "success" || j["data"]["result"].empty()) return 0;
    return std::stoul(j["data"]["result"][0]["value"][1].get<std::string>());
  }
  std::string metrics() { return http_request(node_->http_port, "GET", "/metrics").body; }

  std::string root_;
  std::unique_ptr<node> node_;
  int64_t t_ = 0;
};

TEST_F(WriteLimits, FutureAndOldSamplesAre400AndTheRestIsWritten) {
  write_batch b{{{{"__name__", "wl_a"}}, {{t_ - 2 * 3'600'000, 1}, {t_, 2}, {t_ + 600'000, 3}}},
                {{{"__name__", "wl_b"}}, {{t_, 4}}}};
  auto r = remote_write(node_->http_port, b);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("{__name__=\"wl_a\"}"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("limit of 5m (--max-sample-future)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("limit of 1h (--max-sample-age)"), std::string::npos) << r.body;
  EXPECT_EQ(samples_of("wl_a"), 1u);  // only t_ of wl_a
  EXPECT_EQ(samples_of("wl_b"), 1u);
  auto m = metrics();
  EXPECT_NE(m.find("strata_rejected_samples_total{reason=\"too_far_in_future\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("strata_rejected_samples_total{reason=\"too_old\"} 1\n"), std::string::npos) << m;
}

TEST_F(WriteLimits, NewSeriesPastTheActiveLimitAre429AndExistingSeriesStillWrite) {
  write_batch first{{{{"__name__", "wl_s"}, {"i", "1"}}, {{t_ - 2000, 1}}},
                    {{{"__name__", "wl_s"}, {"i", "2"}}, {{t_ - 2000, 1}}},
                    {{{"__name__", "wl_s"}, {"i", "3"}}, {{t_ - 2000, 1}}}};
  ASSERT_EQ(remote_write(node_->http_port, first).status, 204);
  write_batch more{{{{"__name__", "wl_s"}, {"i", "1"}}, {{t_ - 1000, 2}}},
                   {{{"__name__", "wl_s"}, {"i", "4"}}, {{t_ - 1000, 2}, {t_, 3}}},
                   {{{"__name__", "wl_s"}, {"i", "5"}}, {{t_ - 1000, 2}}}};
  auto r = remote_write(node_->http_port, more);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_NE(r.body.find("--max-active-series"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("limit of 3 active series"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("i=\""), std::string::npos) << r.body;  // names a refused series
  EXPECT_EQ(samples_of("wl_s{i=\"1\"}"), 2u);  // the existing series was written
  EXPECT_EQ(samples_of("wl_s{i=\"4\"}"), 0u);
  EXPECT_EQ(samples_of("wl_s{i=\"5\"}"), 0u);
  auto m = metrics();
  EXPECT_NE(m.find("strata_rejected_samples_total{reason=\"series_limit\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("strata_head_series 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("strata_write_requests_rejected_total{reason=\"limit_exceeded\"} 1\n"), std::string::npos) << m;
}

TEST_F(WriteLimits, LegacyNameValidationRefusesTheWholeRequest) {
  write_batch b{{{{"__name__", "wl_ok"}}, {{t_, 1}}}, {{{"__name__", "wl.dotted"}}, {{t_, 1}}}};
  auto r = remote_write(node_->http_port, b);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("timeseries[1]"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("metric name \"wl.dotted\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("--name-validation=legacy"), std::string::npos) << r.body;
  EXPECT_EQ(samples_of("wl_ok"), 0u);  // nothing of the request is stored
}

// Writes taken and not yet acknowledged are bounded: while a write waits on
// a frozen peer (its connection open, not yet suspected), a second write
// that would pass --max-samples-in-flight gets 503 with Retry-After and
// stores nothing; once the peer resumes both go through.
TEST(WritesInFlight, AWritePastTheLimitIs503UntilTheWritesBeforeItAreAnswered) {
  std::string root = make_temp_dir();
  node a = make_node(root + "/a");
  node b = make_node(root + "/b", {a.cluster_address()});
  a.extra_args = {"--max-samples-in-flight", "150", "--heartbeat-interval-ms", "20000"};
  b.extra_args = {"--heartbeat-interval-ms", "20000"};
  a.start();
  b.start();
  ASSERT_TRUE(wait_until(60000, [&] { return a.live_members() == 2 && b.live_members() == 2; }));
  int64_t t = now_ms() / 1000 * 1000;
  auto batch = [t](const std::string& name) {
    write_batch w;
    for (int i = 0; i < 100; ++i) w.push_back({{{"__name__", name}, {"i", std::to_string(i)}}, {{t, double(i)}}});
    return w;
  };
  auto in_flight = [&a] {
    auto body = http_request(a.http_port, "GET", "/metrics").body;
    auto at = body.find("\nstrata_write_samples_in_flight ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + 32));
  };
  ::kill(b.proc->pid(), SIGSTOP);
  auto first = std::async(std::launch::async, [&] { return remote_write(a.http_port, batch("first")).status; });
  ASSERT_TRUE(wait_until(20000, [&] { return in_flight() == 100; })) << "the first write did not wait on node b";
  auto second = remote_write(a.http_port, batch("second"));
  EXPECT_EQ(second.status, 503) << second.body;
  EXPECT_NE(second.body.find("--max-samples-in-flight"), std::string::npos) << second.body;
  EXPECT_EQ(second.header("retry-after"), "1");
  ::kill(b.proc->pid(), SIGCONT);
  EXPECT_EQ(first.get(), 204);
  EXPECT_EQ(in_flight(), 0);
  EXPECT_EQ(remote_write(a.http_port, batch("second")).status, 204);
  auto n = query(a.http_port, "count(second)", t);
  ASSERT_EQ(n["status"], "success") << n.dump();
  EXPECT_EQ(n["data"]["result"][0]["value"][1], "100");
  for (node* x : {&a, &b}) x->stop(SIGKILL, 5000);
  if (!::testing::Test::HasFailure()) remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
