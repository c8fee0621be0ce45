#include "scrape/target.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace strata::scrape {
namespace {

constexpr int64_t t0 = 1'700'000'000'000;

target make_target(bool honor_labels = false) {
  job_config j;
  j.job_name = "app";
  j.honor_labels = honor_labels;
  static_config sc;
  sc.targets = {"127.0.0.1:19710"};
  sc.target_labels = {{"env", "prod"}};
  j.static_configs = {sc};
  auto ts = expand_targets({j});
  EXPECT_EQ(ts.size(), 1u);
  return ts.at(0);
}

fetch_result body(std::string text) {
  fetch_result f;
  f.ok = true;
  f.body = std::move(text);
  f.content_type = "text/plain; version=0.0.4";
  return f;
}

fetch_result failed(std::string why) {
  fetch_result f;
  f.error = std::move(why);
  return f;
}

const series* find(const write_batch& b, const std::string& text) {
  for (const auto& s : b)
    if (to_string(s.lbls) == text) return &s;
  return nullptr;
}

double value_of(const write_batch& b, const std::string& text) {
  auto* s = find(b, text);
  EXPECT_NE(s, nullptr) << text;
  return s && !s->samples.empty() ? s->samples[0].v : -1;
}

const std::string up = R"({__name__="up", env="prod", instance="127.0.0.1:19710", job="app"})";

TEST(ScrapeTargets, JobInstanceAndStaticLabelsAreSet) {
  job_config j;
  j.job_name = "app";
  j.metrics_path = "/probe";
  j.params = {{"module", {"a b"}}};
  static_config sc;
  sc.targets = {"h:1", "h:2", "h:1"};
  sc.target_labels = {{"instance", "named"}};
  j.static_configs = {sc};
  auto ts = expand_targets({j});
  ASSERT_EQ(ts.size(), 2u);  // h:1 once
  EXPECT_EQ(ts[0].path, "/probe?module=a%20b");
  EXPECT_EQ(to_string(ts[0].target_labels), R"({instance="named", job="app"})");
  EXPECT_EQ(ts[0].key, "app\nh:1");
}

TEST(ScrapeTargets, ClashingLabelIsRenamedExported) {
  labels scraped = {{"__name__", "m"}, {"job", "theirs"}, {"exported_job", "x"}};
  auto ls = apply_target_labels(scraped, {{"instance", "h:1"}, {"job", "app"}}, false);
  EXPECT_EQ(to_string(ls), R"({__name__="m", exported_exported_job="theirs", exported_job="x", instance="h:1", job="app"})");
}

TEST(ScrapeTargets, HonorLabelsKeepsScrapedLabel) {
  labels scraped = {{"__name__", "m"}, {"job", "theirs"}};
  auto ls = apply_target_labels(scraped, {{"instance", "h:1"}, {"job", "app"}}, true);
  EXPECT_EQ(to_string(ls), R"({__name__="m", instance="h:1", job="theirs"})");
}

TEST(ScrapeLoop, SuccessfulScrapeWritesSamplesAndReport) {
  target_state st(make_target());
  auto r = st.on_scrape(t0, 0.25, body("# TYPE a counter\n# HELP a The a.\na 1\nb{x=\"y\"} 2\n"));
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(value_of(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})"), 1);
  EXPECT_EQ(value_of(r.batch, R"({__name__="b", env="prod", instance="127.0.0.1:19710", job="app", x="y"})"), 2);
  EXPECT_EQ(value_of(r.batch, up), 1);
  EXPECT_EQ(value_of(r.batch, R"({__name__="scrape_duration_seconds", env="prod", instance="127.0.0.1:19710", job="app"})"), 0.25);
  EXPECT_EQ(value_of(r.batch, R"({__name__="scrape_samples_scraped", env="prod", instance="127.0.0.1:19710", job="app"})"), 2);
  for (const auto& s : r.batch) EXPECT_EQ(s.samples.at(0).t, t0);
  ASSERT_EQ(r.metadata.size(), 1u);
  EXPECT_EQ(r.metadata[0], (metric_metadata{"a", "counter", "The a.", ""}));
  EXPECT_EQ(st.tracked_series(), 2u);
}

TEST(ScrapeLoop, UnchangedMetadataIsNotSentAgain) {
  target_state st(make_target());
  EXPECT_EQ(st.on_scrape(t0, 0.1, body("# TYPE a gauge\na 1\n")).metadata.size(), 1u);
  EXPECT_EQ(st.on_scrape(t0 + 1000, 0.1, body("# TYPE a gauge\na 2\n")).metadata.size(), 0u);
  EXPECT_EQ(st.on_scrape(t0 + 2000, 0.1, body("# TYPE a counter\na 3\n")).metadata.size(), 1u);
}

TEST(ScrapeLoop, DisappearedSeriesGetsStaleMarker) {
  target_state st(make_target());
  st.on_scrape(t0, 0.1, body("a 1\nb 2\n"));
  auto r = st.on_scrape(t0 + 15'000, 0.1, body("a 3\n"));
  ASSERT_TRUE(r.up);
  auto* b = find(r.batch, R"({__name__="b", env="prod", instance="127.0.0.1:19710", job="app"})");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->samples.size(), 1u);
  EXPECT_TRUE(is_stale_nan(b->samples[0].v));
  EXPECT_EQ(b->samples[0].t, t0 + 15'000);
  EXPECT_FALSE(is_stale_nan(value_of(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})")));
  // Once marked, it is not marked again.
  auto r2 = st.on_scrape(t0 + 30'000, 0.1, body("a 4\n"));
  EXPECT_EQ(find(r2.batch, R"({__name__="b", env="prod", instance="127.0.0.1:19710", job="app"})"), nullptr);
}

TEST(ScrapeLoop, FailedScrapeMarksEverySeriesStaleAndUpZero) {
  target_state st(make_target());
  st.on_scrape(t0, 0.1, body("a 1\nb 2\n"));
  auto r = st.on_scrape(t0 + 15'000, 10, failed("connect: Connection refused"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "connect: Connection refused");
  EXPECT_EQ(value_of(r.batch, up), 0);
  EXPECT_TRUE(is_stale_nan(value_of(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})")));
  EXPECT_TRUE(is_stale_nan(value_of(r.batch, R"({__name__="b", env="prod", instance="127.0.0.1:19710", job="app"})")));
  EXPECT_EQ(st.tracked_series(), 0u);
  EXPECT_EQ(r.batch.size(), 2u + 4u);  // two stale markers, four report series
}

TEST(ScrapeLoop, UnparsableBodyFailsTheScrape) {
  target_state st(make_target());
  auto r = st.on_scrape(t0, 0.1, body("a{ 1\n"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.rfind("parse: line 1:", 0), 0u) << r.error;
  EXPECT_EQ(value_of(r.batch, up), 0);
}

TEST(ScrapeLoop, SampleLimitFailsTheScrape) {
  auto t = make_target();
  t.sample_limit = 2;
  target_state st(t);
  ASSERT_TRUE(st.on_scrape(t0, 0.1, body("a 1\nb 1\n")).up);
  auto r = st.on_scrape(t0 + 1000, 0.1, body("a 1\nb 1\nc 1\n"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "sample_limit exceeded: 3 samples, limit 2");
  EXPECT_EQ(find(r.batch, R"({__name__="c", env="prod", instance="127.0.0.1:19710", job="app"})"), nullptr);
  EXPECT_TRUE(is_stale_nan(value_of(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})")));
  EXPECT_EQ(value_of(r.batch, R"({__name__="scrape_samples_scraped", env="prod", instance="127.0.0.1:19710", job="app"})"), 3);
}

TEST(ScrapeLoop, LabelLimitCountsTargetLabels) {
  auto t = make_target();
  t.label_limit = 5;  // __name__, env, instance, job + 1
  target_state st(t);
  EXPECT_TRUE(st.on_scrape(t0, 0.1, body("a{x=\"1\"} 1\n")).up);
  auto r = st.on_scrape(t0 + 1000, 0.1, body("a{x=\"1\",y=\"2\"} 1\n"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error.rfind("label_limit exceeded:", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("has 6 labels, limit 5"), std::string::npos) << r.error;
}

TEST(ScrapeLoop, SeriesOverAWriteLimitFailsTheScrapeWithTheSharedReason) {
  wire::write_limits l;
  l.max_value_length = 16;
  target_state st(make_target(), l);
  auto r = st.on_scrape(t0, 0.1, body("ok 1\niv_bad{k=\"0123456789abcdefXYZ\"} 2\n"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "parse: line 2: {__name__=\"iv_bad\", k=\"0123456789abcdefXYZ\"}: value of label \"k\" has 19 "
                     "bytes, over the limit of 16 (--max-label-value-length)");
  EXPECT_EQ(find(r.batch, R"({__name__="ok", env="prod", instance="127.0.0.1:19710", job="app"})"), nullptr);
}

TEST(ScrapeLoop, InvalidUtf8FailsTheScrapeWithTheSharedReason) {
  target_state st(make_target());
  auto r = st.on_scrape(t0, 0.1, body("iv_bad{k=\"a\xff\"} 2\n"));
  EXPECT_FALSE(r.up);
  EXPECT_NE(r.error.find("}: value of label \"k\" is not valid UTF-8"), std::string::npos) << r.error;
}

TEST(ScrapeLoop, TargetLabelsCountTowardsTheNodeLabelLimit) {
  wire::write_limits l;
  l.max_labels = 4;  // __name__, env, instance, job
  target_state st(make_target(), l);
  EXPECT_TRUE(st.on_scrape(t0, 0.1, body("a 1\n")).up);
  auto r = st.on_scrape(t0 + 1000, 0.1, body("a{x=\"1\"} 1\n"));
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error, "invalid series: {__name__=\"a\", env=\"prod\", instance=\"127.0.0.1:19710\", job=\"app\", "
                     "x=\"1\"}: 5 labels, over the limit of 4 labels per series (--max-labels-per-series)");
}

TEST(ScrapeLoop, LeavingMarksSeriesAndReportStale) {
  target_state st(make_target());
  st.on_scrape(t0, 0.1, body("a 1\n"));
  auto b = st.on_leave(t0 + 5000);
  ASSERT_EQ(b.size(), 5u);  // a and four report series
  for (const auto& s : b) {
    ASSERT_EQ(s.samples.size(), 1u);
    EXPECT_TRUE(is_stale_nan(s.samples[0].v)) << to_string(s.lbls);
    EXPECT_EQ(s.samples[0].t, t0 + 5000);
  }
  EXPECT_TRUE(st.on_leave(t0 + 6000).empty());
}

TEST(ScrapeLoop, SeriesWithOwnTimestampGetNoStaleMarker) {
  target_state st(make_target());
  st.on_scrape(t0, 0.1, body("a 1 1600000000000\nb 1\n"));
  EXPECT_EQ(st.tracked_series(), 1u);
  auto r = st.on_scrape(t0 + 1000, 0.1, body(""));
  EXPECT_EQ(find(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})"), nullptr);
}

TEST(ScrapeLoop, HonorTimestampsFalseUsesScrapeTime) {
  auto t = make_target();
  t.honor_timestamps = false;
  target_state st(t);
  auto r = st.on_scrape(t0, 0.1, body("a 1 1600000000000\n"));
  EXPECT_EQ(find(r.batch, R"({__name__="a", env="prod", instance="127.0.0.1:19710", job="app"})")->samples[0].t, t0);
}

TEST(ScrapeLoop, OpenMetricsBodyIsParsed) {
  target_state st(make_target());
  auto f = body("# TYPE c counter\n# HELP c Count.\nc_total 5\n# EOF\n");
  f.content_type = "application/openmetrics-text; version=1.0.0";
  auto r = st.on_scrape(t0, 0.1, f);
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(value_of(r.batch, R"({__name__="c_total", env="prod", instance="127.0.0.1:19710", job="app"})"), 5);
}

}  // namespace
}  // namespace strata::scrape
