// Write limits on a real node: which answer each violation gets, what of the
// request is stored (partial writes), and how /metrics counts it.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

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

}  // namespace
}  // namespace strata::testing
