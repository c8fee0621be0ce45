#include "query/engine.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "query/parser.hpp"

namespace strata::query {
namespace {

constexpr int64_t min_ms = 60 * 1000;

labels lbls(std::initializer_list<std::pair<const char*, const char*>> kv) {
  labels out;
  for (const auto& [n, v] : kv) out.push_back({n, v});
  sort_labels(out);
  return out;
}

// Series in memory; select() behaves like a storage shard.
class memory_source final : public series_source {
 public:
  void add(labels l, std::vector<sample> s) { data_.push_back({std::move(l), std::move(s)}); }

  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    ++calls;
    last_mint = mint;
    last_maxt = maxt;
    if (fail) return error(strata_errc::unavailable, "shard down");
    std::vector<series> out;
    for (const auto& s : data_) {
      if (!matches_all(ms, s.lbls)) continue;
      series cut{s.lbls, {}};
      for (const auto& x : s.samples)
        if (x.t >= mint && x.t <= maxt) cut.samples.push_back(x);
      if (!cut.samples.empty()) out.push_back(std::move(cut));
    }
    return out;
  }

  int calls = 0;
  int64_t last_mint = 0, last_maxt = 0;
  bool fail = false;

 private:
  std::vector<series> data_;
};

expr q(std::string_view s) {
  auto e = parse(s);
  EXPECT_TRUE(e.is_ok()) << e.error().message();
  return std::move(*e);
}

const vector& as_vector(const query_result& r) { return std::get<vector>(r.value); }
const matrix& as_matrix(const query_result& r) { return std::get<matrix>(r.value); }

TEST(IsStaleNan, OnlyTheMarkerBitPattern) {
  EXPECT_TRUE(is_stale_nan(stale_nan()));
  EXPECT_TRUE(std::isnan(stale_nan()));
  EXPECT_FALSE(is_stale_nan(std::nan("")));
  EXPECT_FALSE(is_stale_nan(1.0));
}

TEST(EvalInstant, LookbackIsLeftOpen) {
  const int64_t t = 1000 * min_ms;
  memory_source src;
  src.add(lbls({{"__name__", "at_boundary"}}), {{t - 5 * min_ms, 1}});
  src.add(lbls({{"__name__", "just_inside"}}), {{t - 5 * min_ms + 1, 2}});
  src.add(lbls({{"__name__", "at_t"}}), {{t, 3}});
  src.add(lbls({{"__name__", "after_t"}}), {{t + 1, 4}});
  auto r = eval_instant(q(R"({__name__=~".+"})"), src, t, {});
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->type(), "vector");
  const auto& v = as_vector(*r);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(label_value(v[0].metric, "__name__"), "at_t");  // sorted by labels
  EXPECT_EQ(v[0].s.v, 3);
  EXPECT_EQ(v[0].s.t, t);
  EXPECT_EQ(label_value(v[1].metric, "__name__"), "just_inside");
  EXPECT_EQ(v[1].s.v, 2);
  EXPECT_EQ(v[1].s.t, t);  // the evaluation time, not the sample's
}

TEST(EvalInstant, TakesTheNewestSampleInTheWindow) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{10, 1}, {20, 2}, {30, 3}});
  auto r = eval_instant(q("m"), src, 25, {});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(as_vector(*r).size(), 1u);
  EXPECT_EQ(as_vector(*r)[0].s.v, 2);
}

TEST(EvalInstant, StaleMarkerHidesTheSeries) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}, {"i", "stale"}}), {{10, 1}, {20, stale_nan()}});
  src.add(lbls({{"__name__", "m"}, {"i", "live"}}), {{10, 1}, {20, std::nan("")}});
  auto r = eval_instant(q("m"), src, 30, {});
  ASSERT_TRUE(r.is_ok());
  const auto& v = as_vector(*r);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(label_value(v[0].metric, "i"), "live");
  EXPECT_TRUE(std::isnan(v[0].s.v));  // an ordinary NaN is a value
  // After a newer real sample the series is back.
  memory_source src2;
  src2.add(lbls({{"__name__", "m"}}), {{10, 1}, {20, stale_nan()}, {25, 7}});
  auto r2 = eval_instant(q("m"), src2, 30, {});
  ASSERT_EQ(as_vector(*r2).size(), 1u);
  EXPECT_EQ(as_vector(*r2)[0].s.v, 7);
}

TEST(EvalInstant, OffsetShiftsTheWindowButNotTheResultTime) {
  const int64_t t = 100 * min_ms;
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{t - 60 * min_ms, 1}, {t, 2}});
  auto r = eval_instant(q("m offset 1h"), src, t, {});
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(as_vector(*r).size(), 1u);
  EXPECT_EQ(as_vector(*r)[0].s.v, 1);
  EXPECT_EQ(as_vector(*r)[0].s.t, t);
  EXPECT_EQ(src.last_maxt, t - 60 * min_ms);
  EXPECT_EQ(src.last_mint, t - 65 * min_ms + 1);
  // A negative offset looks ahead.
  auto ahead = eval_instant(q("m offset -1h"), src, t - 60 * min_ms, {});
  ASSERT_EQ(as_vector(*ahead).size(), 1u);
  EXPECT_EQ(as_vector(*ahead)[0].s.v, 2);
}

TEST(EvalInstant, CustomLookback) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{0, 1}});
  eval_options o;
  o.lookback_ms = 1000;
  EXPECT_EQ(as_vector(*eval_instant(q("m"), src, 999, o)).size(), 1u);
  EXPECT_EQ(as_vector(*eval_instant(q("m"), src, 1000, o)).size(), 0u);
}

TEST(EvalInstant, MatchersSelectSeries) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}, {"job", "a"}}), {{10, 1}});
  src.add(lbls({{"__name__", "m"}, {"job", "b"}}), {{10, 2}});
  src.add(lbls({{"__name__", "other"}, {"job", "a"}}), {{10, 3}});
  auto r = eval_instant(q(R"(m{job!="b"})"), src, 10, {});
  ASSERT_EQ(as_vector(*r).size(), 1u);
  EXPECT_EQ(as_vector(*r)[0].s.v, 1);
  EXPECT_EQ(label_value(as_vector(*r)[0].metric, "__name__"), "m");  // kept for plain selectors
}

TEST(EvalInstant, MatrixWindowIsLeftOpen) {
  const int64_t t = 100 * min_ms;
  memory_source src;
  src.add(lbls({{"__name__", "m"}, {"i", "a"}}),
          {{t - 5 * min_ms, 1}, {t - 4 * min_ms, 2}, {t - min_ms, stale_nan()}, {t, 3}, {t + 1, 4}});
  src.add(lbls({{"__name__", "m"}, {"i", "only_stale"}}), {{t - min_ms, stale_nan()}});
  src.add(lbls({{"__name__", "m"}, {"i", "too_old"}}), {{t - 5 * min_ms, 1}});
  auto r = eval_instant(q("m[5m]"), src, t, {});
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->type(), "matrix");
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(label_value(m[0].lbls, "i"), "a");
  ASSERT_EQ(m[0].samples.size(), 2u);
  EXPECT_EQ(m[0].samples[0], (sample{t - 4 * min_ms, 2}));  // own timestamps
  EXPECT_EQ(m[0].samples[1], (sample{t, 3}));
}

TEST(EvalInstant, MatrixWithOffset) {
  const int64_t t = 100 * min_ms;
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{t - 61 * min_ms, 1}, {t - 60 * min_ms, 2}, {t, 3}});
  auto r = eval_instant(q("m[5m] offset 1h"), src, t, {});
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].samples.size(), 2u);
  EXPECT_EQ(m[0].samples[1].t, t - 60 * min_ms);
}

TEST(EvalInstant, MergesASeriesReturnedTwice) {
  class twice final : public series_source {
   public:
    result<std::vector<series>> select(const matchers&, int64_t, int64_t) override {
      labels l{{"__name__", "m"}};
      return std::vector<series>{{l, {{10, 1}, {30, 3}}}, {l, {{20, 2}, {30, 9}}}};
    }
  } src;
  auto r = eval_instant(q("m[1m]"), src, 40, {});
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].samples.size(), 3u);
  EXPECT_EQ(m[0].samples[1].v, 2);
  EXPECT_EQ(m[0].samples[2].v, 3);
}

TEST(EvalInstant, SortsDeduplicatesAndDropsStaleMarkersOfWhatASourceReturnsOutOfOrder) {
  class unordered final : public series_source {
   public:
    result<std::vector<series>> select(const matchers&, int64_t, int64_t) override {
      auto l = [](const char* i) { return labels{{"__name__", "m"}, {"i", i}}; };
      return std::vector<series>{{l("c"), {{10, 1}, {20, 2}}},
                                 {l("b"), {{30, 3}, {10, 1}, {10, 7}, {20, stale_nan()}}},
                                 {l("a"), {{10, 1}, {20, stale_nan()}, {30, 3}}}};
    }
  } src;
  auto r = eval_instant(q("m[1m]"), src, 40, {});
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].lbls, (labels{{"__name__", "m"}, {"i", "a"}}));
  EXPECT_EQ(m[0].samples, (std::vector<sample>{{10, 1}, {30, 3}}));
  EXPECT_EQ(m[1].lbls, (labels{{"__name__", "m"}, {"i", "b"}}));
  EXPECT_EQ(m[1].samples, (std::vector<sample>{{10, 1}, {30, 3}}));
  EXPECT_EQ(m[2].samples, (std::vector<sample>{{10, 1}, {20, 2}}));
}

TEST(EvalInstant, SourceErrorsPassThrough) {
  memory_source src;
  src.fail = true;
  auto r = eval_instant(q("m"), src, 10, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::unavailable);
}

TEST(EvalInstant, TooManySamples) {
  memory_source src;
  for (int i = 0; i < 3; ++i) src.add(lbls({{"__name__", "m"}, {"i", std::to_string(i).c_str()}}), {{10, 1}, {20, 2}});
  eval_options o;
  o.max_samples = 5;
  auto r = eval_instant(q("m[1m]"), src, 20, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_EQ(r.error().message(), "query processing would load too many samples into memory in query execution");
  o.max_samples = 6;
  EXPECT_TRUE(eval_instant(q("m[1m]"), src, 20, o).is_ok());
  o.max_samples = 2;
  EXPECT_FALSE(eval_instant(q("m"), src, 20, o).is_ok());
}

TEST(EvalRange, EvaluatesAtEveryStep) {
  memory_source src;
  // Samples every 30 s from 0 to 120 s; a gap of more than the lookback later.
  src.add(lbls({{"__name__", "m"}}), {{0, 0}, {30000, 1}, {60000, 2}, {90000, 3}, {120000, 4}});
  eval_options o;
  o.lookback_ms = 45000;
  auto r = eval_range(q("m"), src, 0, 240000, 60000, o);
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->type(), "matrix");
  EXPECT_EQ(src.calls, 1);  // one select for the whole span
  EXPECT_EQ(src.last_mint, -45000 + 1);
  EXPECT_EQ(src.last_maxt, 240000);
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 1u);
  // 0 -> 0, 60 s -> 2, 120 s -> 4, 180 s: 120 s is 60 s old > 45 s lookback, 240 s: nothing.
  ASSERT_EQ(m[0].samples.size(), 3u);
  EXPECT_EQ(m[0].samples[0], (sample{0, 0}));
  EXPECT_EQ(m[0].samples[1], (sample{60000, 2}));
  EXPECT_EQ(m[0].samples[2], (sample{120000, 4}));
}

TEST(EvalRange, StepsBetweenSamplesRepeatTheLastValue) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{0, 1}, {100000, 2}});
  auto r = eval_range(q("m"), src, 0, 100000, 25000, {});
  const auto& s = as_matrix(*r).at(0).samples;
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[3], (sample{75000, 1}));
  EXPECT_EQ(s[4], (sample{100000, 2}));
}

TEST(EvalRange, StaleMarkerEndsTheSeries) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{0, 1}, {30000, stale_nan()}, {90000, 5}});
  auto r = eval_range(q("m"), src, 0, 120000, 30000, {});
  const auto& s = as_matrix(*r).at(0).samples;
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (sample{0, 1}));
  EXPECT_EQ(s[1], (sample{90000, 5}));
  EXPECT_EQ(s[2], (sample{120000, 5}));
}

TEST(EvalRange, OffsetAndSortedOutput) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}, {"z", "2"}}), {{0, 2}});
  src.add(lbls({{"__name__", "m"}, {"z", "1"}}), {{0, 1}});
  auto r = eval_range(q("m offset 1m"), src, 60000, 120000, 60000, {});
  ASSERT_TRUE(r.is_ok());
  const auto& m = as_matrix(*r);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(label_value(m[0].lbls, "z"), "1");
  EXPECT_EQ(m[0].samples[0], (sample{60000, 1}));
  EXPECT_EQ(m[0].samples.size(), 2u);
  EXPECT_EQ(src.last_maxt, 60000);
}

TEST(EvalRange, RangeVectorIsRejected) {
  memory_source src;
  auto r = eval_range(q("m[5m]"), src, 0, 100, 10, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().message(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
  EXPECT_EQ(src.calls, 0);
}

TEST(EvalRange, BadStepOrTimes) {
  memory_source src;
  EXPECT_FALSE(eval_range(q("m"), src, 0, 100, 0, {}).is_ok());
  EXPECT_FALSE(eval_range(q("m"), src, 100, 0, 10, {}).is_ok());
}

TEST(EvalRange, TooManySamples) {
  memory_source src;
  src.add(lbls({{"__name__", "m"}}), {{0, 1}});
  eval_options o;
  o.max_samples = 10;
  EXPECT_TRUE(eval_range(q("m"), src, 0, 9000, 1000, o).is_ok());  // 10 points
  auto r = eval_range(q("m"), src, 0, 10000, 1000, o);             // 11 points
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().message(), "query processing would load too many samples into memory in query execution");
}

// Selectors and range functions compute their series on the pool, the
// aggregations over them add per step in series order: every answer has the
// same series and the same bits as on one thread, and the sample limit
// fails the same way.
TEST(EvalRange, APoolGivesTheSameBitsAsOneThread) {
  memory_source src;
  uint64_t x = 12345;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  // 700 counters (more than a batch) in 7 groups, scraped every 10-20 s,
  // with resets, stale markers and a gap, and NaN in some gauge values.
  for (int i = 0; i < 700; ++i) {
    std::vector<sample> c, gauge;
    double v = static_cast<double>(next() % 1000);
    for (int64_t t = static_cast<int64_t>(next() % 10000); t < 3600000; t += 10000 + static_cast<int64_t>(next() % 10000)) {
      if (t > 1200000 && t < 1500000 && i % 5 == 0) continue;
      v = next() % 97 == 0 ? 0 : v + static_cast<double>(next() % 1000) / 7.0;
      c.push_back({t, next() % 101 == 0 ? stale_nan() : v});
      gauge.push_back({t, next() % 89 == 0 ? std::nan("") : static_cast<double>(next() % 100000) / 3.0});
    }
    std::string g = std::to_string(i % 7), id = std::to_string(i);
    src.add(lbls({{"__name__", "c"}, {"g", g.c_str()}, {"i", id.c_str()}}), std::move(c));
    src.add(lbls({{"__name__", "gauge"}, {"g", g.c_str()}, {"i", id.c_str()}}), std::move(gauge));
  }
  const char* exprs[] = {"sum by (g) (rate(c[5m]))",          "avg by (g) (increase(c[10m]))",
                         "stddev by (g) (irate(c[2m]))",      "max by (g) (max_over_time(gauge[7m]))",
                         "min(min_over_time(gauge[3m]))",     "count by (g) (c)",
                         "sum(gauge)",                        "rate(c[5m])",
                         "avg_over_time(gauge[15m])",         "gauge",
                         "quantile_over_time(0.9, gauge[5m])", "sum by (g) (deriv(gauge[10m]))"};
  work_pool pool(3);
  for (const char* text : exprs) {
    eval_options one, many;
    many.pool = &pool;
    auto a = eval_range(q(text), src, 600000, 3600000, 15000, one);
    auto b = eval_range(q(text), src, 600000, 3600000, 15000, many);
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << text;
    const auto& ma = as_matrix(*a);
    const auto& mb = as_matrix(*b);
    ASSERT_EQ(ma.size(), mb.size()) << text;
    EXPECT_GT(ma.size(), 0u) << text;
    for (size_t i = 0; i < ma.size(); ++i) {
      ASSERT_EQ(ma[i].lbls, mb[i].lbls) << text;
      ASSERT_EQ(ma[i].samples.size(), mb[i].samples.size()) << text;
      for (size_t k = 0; k < ma[i].samples.size(); ++k) {
        ASSERT_EQ(ma[i].samples[k].t, mb[i].samples[k].t) << text;
        ASSERT_EQ(std::memcmp(&ma[i].samples[k].v, &mb[i].samples[k].v, sizeof(double)), 0)
            << text << ": " << ma[i].samples[k].v << " vs " << mb[i].samples[k].v;
      }
    }
  }
  for (const char* text : {"sum by (g) (rate(c[5m]))", "gauge"}) {
    eval_options one, many;
    one.max_samples = many.max_samples = 20000;
    many.pool = &pool;
    auto a = eval_range(q(text), src, 600000, 3600000, 15000, one);
    auto b = eval_range(q(text), src, 600000, 3600000, 15000, many);
    ASSERT_FALSE(a.is_ok()) << text;
    ASSERT_FALSE(b.is_ok()) << text;
    EXPECT_EQ(a.error().message(), b.error().message());
  }
}

TEST(Selections, CoverLookbackRangeAndOffset) {
  eval_options o;
  auto a = selections(q("m"), 1000000, 2000000, 1000, o);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].mint, 700001);
  EXPECT_EQ(a[0].maxt, 2000000);
  auto b = selections(q("m[1m] offset 1m"), 1000000, 1000000, 1, o);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].mint, 880001);
  EXPECT_EQ(b[0].maxt, 940000);
}

}  // namespace
}  // namespace strata::query
