// Prometheus's own client against strata: `promtool query instant|range` as
// real child processes, the way an operator would point it at a node.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

// The first executable `name` on PATH, or "" (promtool comes with Debian's
// `prometheus` package).
std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct run_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class Promtool : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    promtool_ = find_in_path("promtool");
    if (promtool_.empty()) return;
    root_ = make_temp_dir();
    node_ = new node(make_node(root_ + "/n"));
    node_->start();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    t0_s_ = (now.count() - 600) / 60 * 60;
    const int64_t t0 = t0_s_ * 1000;
    write_batch b{
        {{{"__name__", "pt_requests"}, {"instance", "a"}, {"job", "api"}}, {{t0, 1}, {t0 + 30000, 2}, {t0 + 60000, 2.5}}},
        {{{"__name__", "pt_requests"}, {"instance", "b"}, {"job", "api"}}, {{t0, 10}, {t0 + 60000, 20}}},
        {{{"__name__", "pt_other"}}, {{t0, 7}}},
    };
    auto r = remote_write(node_->http_port, b);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static void TearDownTestSuite() {
    if (node_ != nullptr) node_->stop(SIGKILL, 5000);
    delete node_;
    node_ = nullptr;
    if (!root_.empty()) remove_dir(root_);
  }
  void SetUp() override {
    if (promtool_.empty()) GTEST_SKIP() << "promtool not found on PATH (Debian package: prometheus)";
    ASSERT_NE(node_, nullptr);
  }

  static std::string url() { return "http://127.0.0.1:" + std::to_string(node_->http_port); }

  // Runs promtool with `args`, waits up to 30 s.
  static run_result promtool(std::vector<std::string> args) {
    static int n = 0;
    std::string log = root_ + "/promtool-" + std::to_string(++n) + ".out";
    args.insert(args.begin(), promtool_);
    child_process p(args, log);
    run_result r;
    r.exit_code = p.wait(30000);
    r.output = read_file(log);
    return r;
  }

  static inline std::string promtool_;
  static inline std::string root_;
  static inline node* node_ = nullptr;
  static inline int64_t t0_s_ = 0;
};

TEST_F(Promtool, InstantQueryPrintsEverySeriesWithValueAndTime) {
  const std::string at = std::to_string(t0_s_ + 60);
  auto r = promtool({"query", "instant", "--time=" + at, url(), "pt_requests"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pt_requests{instance=\"a\", job=\"api\"} => 2.5 @[" + at + "]"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("pt_requests{instance=\"b\", job=\"api\"} => 20 @[" + at + "]"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("pt_other"), std::string::npos) << r.output;
}

TEST_F(Promtool, InstantQueryWithMatchersSelectsOneSeries) {
  const std::string at = std::to_string(t0_s_ + 30);
  auto r = promtool({"query", "instant", "--time=" + at, url(), "pt_requests{instance=~\"a|c\"}"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pt_requests{instance=\"a\", job=\"api\"} => 2 @[" + at + "]"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("instance=\"b\""), std::string::npos) << r.output;
}

TEST_F(Promtool, AggregationAndFunctionResultsDropTheMetricName) {
  const std::string at = std::to_string(t0_s_ + 60);
  auto r = promtool({"query", "instant", "--time=" + at, url(), "sum by (job) (pt_requests)"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("{job=\"api\"} => 22.5 @[" + at + "]"), std::string::npos) << r.output;
  // The window (t0, t0 + 60 s] holds 2 and 2.5, 30 s apart; the start gap of
  // 30 s is within 110% of that spacing, so delta extrapolates 0.5 to 60 s: 1.
  r = promtool({"query", "instant", "--time=" + at, url(), "delta(pt_requests{instance=\"a\"}[1m])"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("{instance=\"a\", job=\"api\"} => 1 @[" + at + "]"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("pt_requests"), std::string::npos) << r.output;
}

TEST_F(Promtool, RangeQueryPrintsAPointPerStep) {
  const std::string start = std::to_string(t0_s_), end = std::to_string(t0_s_ + 60);
  auto r = promtool({"query", "range", "--start=" + start, "--end=" + end, "--step=30s", url(),
                     "pt_requests{instance=\"a\"}"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string expected = "pt_requests{instance=\"a\", job=\"api\"} =>\n1 @[" + start + "]\n2 @[" +
                               std::to_string(t0_s_ + 30) + "]\n2.5 @[" + end + "]";
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
}

TEST_F(Promtool, RangeQueryCarriesTheLastValueAcrossSteps) {
  // pt_other has one sample at t0: the 5 minute lookback keeps it for every
  // step up to t0 + 60 s.
  const std::string start = std::to_string(t0_s_), end = std::to_string(t0_s_ + 60);
  auto r = promtool({"query", "range", "--start=" + start, "--end=" + end, "--step=1m", url(), "pt_other"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pt_other =>\n7 @[" + start + "]\n7 @[" + end + "]"), std::string::npos) << r.output;
}

TEST_F(Promtool, JsonOutputIsThePrometheusVector) {
  const std::string at = std::to_string(t0_s_ + 60);
  auto r = promtool({"query", "instant", "-o", "json", "--time=" + at, url(), "pt_other"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  ASSERT_EQ(j.size(), 1u) << r.output;
  EXPECT_EQ(j[0]["metric"], (nlohmann::json{{"__name__", "pt_other"}}));
  EXPECT_EQ(j[0]["value"][1], "7");
  EXPECT_EQ(j[0]["value"][0].get<int64_t>(), t0_s_ + 60);
}

TEST_F(Promtool, ParseErrorFailsWithTheServersMessage) {
  auto r = promtool({"query", "instant", "--time=" + std::to_string(t0_s_), url(), "pt_requests{"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bad_data"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("parse error"), std::string::npos) << r.output;
}

TEST_F(Promtool, UnreachableServerFails) {
  auto r = promtool({"query", "instant", "http://127.0.0.1:" + std::to_string(free_port()), "up"});
  EXPECT_NE(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace strata::testing
