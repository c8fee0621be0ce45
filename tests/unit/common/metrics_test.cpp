#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <ctime>

namespace strata {
namespace {

TEST(MetricsRegistry, RendersCountersWithLabels) {
  metrics_registry r;
  auto& c = r.counter("strata_http_requests_total", "HTTP requests.", {"route", "code"});
  c.add({"/api/v1/write", "204"});
  c.add({"/api/v1/write", "204"}, 2);
  auto text = r.render();
  EXPECT_NE(text.find("# TYPE strata_http_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("strata_http_requests_total{route=\"/api/v1/write\",code=\"204\"} 3\n"), std::string::npos);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulative) {
  metrics_registry r;
  auto& h = r.histogram("d_seconds", "Durations.", {}, {0.1, 1});
  h.observe({}, 0.05);
  h.observe({}, 0.5);
  h.observe({}, 5);
  auto text = r.render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_count 3\n"), std::string::npos);
}

TEST(FormatValue, MatchesPrometheusSpelling) {
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
  EXPECT_EQ(format_value(123456789.125), "123456789.125");
  EXPECT_EQ(format_value(10), "10");
  EXPECT_EQ(format_value(1e6), "1000000");
  EXPECT_EQ(format_value(1e20), "100000000000000000000");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(0.00001), "1e-05");
  EXPECT_EQ(format_value(-2.5), "-2.5");
}

TEST(ProcessResidentBytes, IsPositive) { EXPECT_GT(process_resident_bytes(), 0); }

TEST(ProcessMetrics, ReadThisProcess) {
  volatile double x = 0;
  for (int i = 0; i < 20'000'000; ++i) x = x + i;  // spend some CPU
  EXPECT_GT(process_cpu_seconds(), 0);
  EXPECT_GE(process_open_fds(), 3);  // stdin, stdout, stderr at least
  auto now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(process_start_time_seconds(), now - 3600);
  EXPECT_LE(process_start_time_seconds(), now + 1);
  EXPECT_GT(process_virtual_bytes(), process_resident_bytes());
}

TEST(MetricsRegistry, InfoMetricIsOneWithEscapedLabels) {
  metrics_registry m;
  m.info("strata_build_info", "Build facts.", {{"version", "1.2.3"}, {"revision", "a\"b"}});
  auto out = m.render();
  EXPECT_NE(out.find("# TYPE strata_build_info gauge\n"), std::string::npos) << out;
  EXPECT_NE(out.find("strata_build_info{version=\"1.2.3\",revision=\"a\\\"b\"} 1\n"), std::string::npos) << out;
}

TEST(MetricsRegistry, LabelledCounterStartsAtZeroWhenAdded) {
  metrics_registry m;
  auto& c = m.counter("x_rejected_total", "Refused.", {"reason"});
  c.add({"too_old"}, 0);
  EXPECT_NE(m.render().find("x_rejected_total{reason=\"too_old\"} 0\n"), std::string::npos) << m.render();
}

TEST(MetricsRegistry, UnlabelledHistogramShowsZerosBeforeAnyObservation) {
  metrics_registry m;
  m.histogram("x_fsync_duration_seconds", "Fsyncs.", {}, {0.1, 1});
  auto out = m.render();
  EXPECT_NE(out.find("x_fsync_duration_seconds_bucket{le=\"0.1\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_fsync_duration_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_fsync_duration_seconds_count 0\n"), std::string::npos) << out;
}

TEST(ProcessMetrics, MaxFdsIsAtLeastOpenFds) {
  EXPECT_GE(process_max_fds(), process_open_fds());
  EXPECT_GT(process_max_fds(), 0);
}

}  // namespace
}  // namespace strata
