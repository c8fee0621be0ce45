// Range functions over rollup tiers: answers from buckets folded by the
// storage codec equal the answers from the raw samples.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "persistence/codec/rollup.hpp"
#include "query/engine.hpp"
#include "query/parser.hpp"

namespace strata::query {
namespace {

constexpr int64_t min_ms = 60'000;
constexpr int64_t hour_ms = 60 * min_ms;
constexpr int64_t day_ms = 24 * hour_ms;

class codec_sketch final : public value_sketch {
 public:
  explicit codec_sketch(persistence::codec::quantile_sketch s) : s_(std::move(s)) {}
  std::unique_ptr<value_sketch> clone() const override { return std::make_unique<codec_sketch>(s_); }
  void merge(const value_sketch& o) override { s_.merge(static_cast<const codec_sketch&>(o).s_); }
  void add(double v) override { s_.add(v); }
  double quantile(double q) const override { return s_.quantile(q); }

 private:
  persistence::codec::quantile_sketch s_;
};

labels name(const char* n, const char* inst = "a") {
  labels l{{"__name__", n}, {"instance", inst}};
  sort_labels(l);
  return l;
}

// A store in memory: raw samples from `raw_from` on (older ones deleted by
// retention), rollup buckets folded with persistence::codec::fold from every
// sample before `sealed_before` (later ones are the unsealed head, answered
// raw). A bucket whose first sample lies on its start is answered as its raw
// samples while they exist, as series_source::select_buckets asks.
// `split` answers every series as two parts, as two shards would, with the
// bucket at the split answered by both.
class tier_source final : public series_source {
 public:
  void add(labels l, std::vector<sample> s) { data_.push_back({std::move(l), std::move(s)}); }

  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    ++raw_calls;
    std::vector<series> out;
    for (const auto& s : data_) {
      if (!matches_all(ms, s.lbls)) continue;
      series cut{s.lbls, {}};
      for (const auto& x : s.samples)
        if (x.t >= mint && x.t <= maxt && x.t >= raw_from) cut.samples.push_back(x);
      if (!cut.samples.empty()) out.push_back(std::move(cut));
    }
    return out;
  }

  result<std::vector<bucket_series>> select_buckets(const matchers& ms, int64_t mint, int64_t maxt,
                                                    int64_t window_ms, int64_t edge_step) override {
    if (!has_tiers) return series_source::select_buckets(ms, mint, maxt, window_ms, edge_step);
    edge_steps.push_back(edge_step);
    ++bucket_calls;
    windows.push_back(window_ms);
    EXPECT_EQ(mint % window_ms, 0);
    EXPECT_EQ(maxt % window_ms, 0);
    std::vector<bucket_series> out;
    for (const auto& s : data_) {
      if (!matches_all(ms, s.lbls)) continue;
      std::vector<sample> sealed;
      for (const auto& x : s.samples)
        if (x.t < sealed_before) sealed.push_back(x);
      std::vector<std::pair<int64_t, persistence::codec::rollup_bucket>> folded;
      persistence::codec::fold(sealed, window_ms, folded);
      bucket_series bs{s.lbls, {}, {}};
      int64_t after = std::numeric_limits<int64_t>::min();
      for (auto& [start, b] : folded) {
        if (start < mint || start > maxt) continue;
        after = b.last_t;
        if (b.first_t == start && start >= raw_from && (edge_step <= 0 || (start - mint) % edge_step == 0)) {
          for (const auto& x : sealed)
            if (x.t >= start && x.t <= b.last_t) bs.samples.push_back(x);
          continue;
        }
        bucket q;
        q.start = start;
        q.count = b.count;
        q.sum = b.sum;
        q.min = b.min;
        q.max = b.max;
        q.first = b.first;
        q.last = b.last;
        q.first_t = b.first_t;
        q.last_t = b.last_t;
        q.increase = b.increase;
        q.sketch = std::make_shared<codec_sketch>(b.sketch);
        bs.buckets.push_back(std::move(q));
      }
      for (const auto& x : s.samples)
        if (x.t > after && x.t >= mint && x.t <= maxt + window_ms && x.t >= raw_from) bs.samples.push_back(x);
      if (bs.buckets.empty() && bs.samples.empty()) continue;
      if (!split || bs.buckets.size() < 2) {
        out.push_back(std::move(bs));
        continue;
      }
      size_t half = bs.buckets.size() / 2;
      bucket_series a{bs.lbls, {bs.buckets.begin(), bs.buckets.begin() + half + 1}, {}};
      bucket_series b{bs.lbls, {bs.buckets.begin() + half, bs.buckets.end()}, bs.samples};
      out.push_back(std::move(b));
      out.push_back(std::move(a));
    }
    return out;
  }

  int64_t raw_from = std::numeric_limits<int64_t>::min();
  int64_t sealed_before = std::numeric_limits<int64_t>::max();
  bool has_tiers = true;
  bool split = false;
  int raw_calls = 0, bucket_calls = 0;
  std::vector<int64_t> windows;
  std::vector<int64_t> edge_steps;

 private:
  std::vector<series> data_;
};

// Scrapes every 15 s at an offset off whole seconds (no sample on a bucket
// edge): an integer counter with resets, and an integer gauge.
void fill(tier_source& src, int64_t from, int64_t to) {
  std::vector<sample> counter, gauge, fine;
  double c = 0;
  int i = 0;
  for (int64_t t = from + 1234; t < to; t += 15'000, ++i) {
    c += (i * 7) % 13;
    if (i % 97 == 96) c = 3;  // a reset
    counter.push_back({t, c});
    gauge.push_back({t, static_cast<double>((i * 37) % 101) - 50});
  }
  for (int64_t t = from + 321; t < to; t += 1'000, ++i) fine.push_back({t, 100 + ((i * 7919) % 1000) / 10.0});
  src.add(name("c"), counter);
  src.add(name("g"), gauge);
  src.add(name("f"), fine);
}

eval_options tiered(int64_t now) {
  eval_options o;
  o.tiers = {{min_ms, 7 * day_ms}, {5 * min_ms, 30 * day_ms}, {hour_ms, 365 * day_ms}};
  o.raw_retention_ms = day_ms;
  o.now_ms = now;
  // The answers of every tier are checked against raw samples within raw
  // retention, where by default only the 1h tier would be read.
  o.min_tier_within_raw_ms = 0;
  return o;
}

expr q(std::string_view s) {
  auto e = parse(s);
  EXPECT_TRUE(e.is_ok()) << e.error().message();
  return std::move(*e);
}

const matrix& as_matrix(const query_result& r) { return std::get<matrix>(r.value); }

// Bitwise equal values at equal times.
void expect_same(const matrix& a, const matrix& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].lbls, b[i].lbls) << what;
    ASSERT_EQ(a[i].samples.size(), b[i].samples.size()) << what;
    for (size_t k = 0; k < a[i].samples.size(); ++k) {
      EXPECT_EQ(a[i].samples[k].t, b[i].samples[k].t) << what;
      EXPECT_EQ(a[i].samples[k].v, b[i].samples[k].v) << what << " at " << a[i].samples[k].t;
    }
  }
}

const char* exact_queries[] = {
    "rate(c[10m])",          "increase(c[10m])",      "delta(g[10m])",         "sum_over_time(g[10m])",
    "count_over_time(g[10m])", "min_over_time(g[10m])", "max_over_time(g[10m])", "avg_over_time(g[10m])",
    "last_over_time(g[10m])", "first_over_time(g[10m])", "present_over_time(g[10m])",
    "ts_of_last_over_time(g[10m])", "sum(rate(c[5m]))",
};

TEST(RollupTiers, AlignedWindowsEqualRawSamples) {
  const int64_t now = 10 * day_ms;
  tier_source src;
  fill(src, now - 6 * hour_ms, now);
  tier_source raw;
  fill(raw, now - 6 * hour_ms, now);
  raw.has_tiers = false;
  for (const char* text : exact_queries) {
    auto e = q(text);
    auto want = eval_range(e, raw, now - 5 * hour_ms, now - hour_ms, 5 * min_ms, tiered(now));
    ASSERT_TRUE(want.is_ok()) << want.error().message();
    src.windows.clear();
    auto got = eval_range(e, src, now - 5 * hour_ms, now - hour_ms, 5 * min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    ASSERT_FALSE(src.windows.empty()) << text << " did not read a tier";
    EXPECT_EQ(src.windows.front(), 5 * min_ms) << text;
    EXPECT_FALSE(as_matrix(*want).empty()) << text;
    expect_same(as_matrix(*got), as_matrix(*want), text);
    EXPECT_TRUE(got->infos.empty()) << text;
  }
  EXPECT_EQ(src.raw_calls, 0);
}

TEST(RollupTiers, UnsealedTailAndSplitAnswersAgreeWithRawSamples) {
  const int64_t now = 10 * day_ms;
  tier_source src;
  fill(src, now - 6 * hour_ms, now);
  src.sealed_before = now - 3 * hour_ms + 7 * min_ms + 30'000;  // inside a bucket
  src.split = true;
  tier_source raw;
  fill(raw, now - 6 * hour_ms, now);
  raw.has_tiers = false;
  for (const char* text : exact_queries) {
    auto e = q(text);
    auto want = eval_range(e, raw, now - 5 * hour_ms, now, min_ms, tiered(now));
    auto got = eval_range(e, src, now - 5 * hour_ms, now, min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    EXPECT_EQ(src.windows.back(), min_ms) << text;
    expect_same(as_matrix(*got), as_matrix(*want), text);
  }
}

TEST(RollupTiers, SamplesOnBucketEdgesStayExact) {
  // Samples every 15 s on whole seconds: every minute starts with a sample
  // on the edge between two windows.
  const int64_t now = 10 * day_ms;
  auto make = [&](tier_source& src) {
    std::vector<sample> counter, gauge;
    int i = 0;
    for (int64_t t = now - 6 * hour_ms; t < now; t += 15'000, ++i) {
      counter.push_back({t, static_cast<double>(i * 3)});
      gauge.push_back({t, static_cast<double>((i * 37) % 101)});
    }
    src.add(name("c"), counter);
    src.add(name("g"), gauge);
  };
  tier_source src, raw;
  make(src);
  make(raw);
  raw.has_tiers = false;
  src.sealed_before = now - 2 * hour_ms;
  for (const char* text : exact_queries) {
    auto e = q(text);
    auto want = eval_range(e, raw, now - 5 * hour_ms, now, 5 * min_ms, tiered(now));
    auto got = eval_range(e, src, now - 5 * hour_ms, now, 5 * min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    expect_same(as_matrix(*got), as_matrix(*want), text);
    // A last window that ends on a sample, as an instant query.
    want = eval_range(e, raw, now - hour_ms, now - hour_ms, 5 * min_ms, tiered(now));
    got = eval_range(e, src, now - hour_ms, now - hour_ms, 5 * min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    expect_same(as_matrix(*got), as_matrix(*want), std::string(text) + " at an edge");
  }
  // Windows whose ends fall between their starts' steps (15 m windows every
  // 10 m on the 5 m tier): buckets on either edge come raw.
  for (const char* text : {"count_over_time(g[15m])", "sum_over_time(g[15m])", "max_over_time(g[15m])",
                           "rate(c[15m])"}) {
    auto e = q(text);
    auto want = eval_range(e, raw, now - 5 * hour_ms, now, 10 * min_ms, tiered(now));
    auto got = eval_range(e, src, now - 5 * hour_ms, now, 10 * min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    expect_same(as_matrix(*got), as_matrix(*want), std::string(text) + " every 10m");
  }
  EXPECT_GT(src.bucket_calls, 0);
  EXPECT_NE(std::find(src.edge_steps.begin(), src.edge_steps.end(), 5 * min_ms), src.edge_steps.end());
}

TEST(RollupTiers, QuantileOverTimeFromSketchesWithinOnePercent) {
  const int64_t now = 10 * day_ms;
  tier_source src;
  fill(src, now - 3 * hour_ms, now);
  tier_source raw;
  fill(raw, now - 3 * hour_ms, now);
  raw.has_tiers = false;
  for (const char* text : {"quantile_over_time(0.5, f[1h])", "quantile_over_time(0.9, f[1h])",
                           "quantile_over_time(0.99, f[10m])"}) {
    auto e = q(text);
    auto want = eval_range(e, raw, now - 2 * hour_ms, now, 10 * min_ms, tiered(now));
    auto got = eval_range(e, src, now - 2 * hour_ms, now, 10 * min_ms, tiered(now));
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    const auto& a = as_matrix(*got);
    const auto& b = as_matrix(*want);
    ASSERT_EQ(a.size(), 1u) << text;
    ASSERT_EQ(b.size(), 1u) << text;
    ASSERT_EQ(a[0].samples.size(), b[0].samples.size()) << text;
    for (size_t k = 0; k < a[0].samples.size(); ++k)
      EXPECT_NEAR(a[0].samples[k].v, b[0].samples[k].v, 0.01 * std::abs(b[0].samples[k].v)) << text;
  }
  EXPECT_GT(src.bucket_calls, 0);
}

TEST(RollupTiers, RangeBeforeRawRetentionReadsTheFinestCoveringTier) {
  const int64_t now = 20 * day_ms;
  tier_source src;
  fill(src, now - 3 * day_ms, now - 2 * day_ms);
  src.raw_from = now - day_ms;  // raw samples past retention are gone
  tier_source all;
  fill(all, now - 3 * day_ms, now - 2 * day_ms);
  all.has_tiers = false;
  // An unaligned instant query two and a half days back: the 1m tier.
  const int64_t t = now - 2 * day_ms - 7 * hour_ms - 17'000;
  auto e = q("count_over_time(g[1h])");
  auto got = eval_instant(e, src, t, tiered(now));
  ASSERT_TRUE(got.is_ok()) << got.error().message();
  EXPECT_EQ(src.windows, std::vector<int64_t>{min_ms});
  auto want = eval_instant(e, all, t, {});
  const auto& gv = std::get<vector>(got->value);
  const auto& wv = std::get<vector>(want->value);
  ASSERT_EQ(gv.size(), 1u);
  ASSERT_EQ(wv.size(), 1u);
  // Windows are rounded to whole 1m buckets: at most a bucket (4 samples) off.
  EXPECT_NEAR(gv[0].s.v, wv[0].s.v, 4);
  ASSERT_EQ(got->infos.size(), 1u);
  EXPECT_NE(got->infos[0].find("rollup tier"), std::string::npos);
  // Raw samples alone have nothing there.
  auto forced = tiered(now);
  forced.max_rollup_window_ms = 0;
  auto none = eval_instant(e, src, t, forced);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(std::get<vector>(none->value).empty());
  EXPECT_EQ(src.windows.size(), 1u) << "max_rollup_window_ms = 0 must not read a tier";
}

TEST(RollupTiers, RetentionPicksACoarserTierForOlderData) {
  const int64_t now = 100 * day_ms;
  tier_source src;
  fill(src, now - 40 * day_ms, now - 40 * day_ms + 3 * hour_ms);
  src.raw_from = now - day_ms;
  auto e = q("sum_over_time(g[2h])");
  auto got = eval_instant(e, src, now - 40 * day_ms + 2 * hour_ms + 5'000, tiered(now));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(src.windows, std::vector<int64_t>{hour_ms});  // 40 days: past 1m (7d) and 5m (30d)
}

TEST(RollupTiers, FunctionsWithoutRollupsGiveNoValueBeforeTheRawHorizon) {
  const int64_t now = 10 * day_ms;
  tier_source src;
  fill(src, now - 2 * day_ms, now);
  src.raw_from = now - day_ms;
  tier_source all;
  fill(all, now - 2 * day_ms, now);
  all.has_tiers = false;
  auto e = q("stddev_over_time(g[1h])");
  auto got = eval_range(e, src, now - day_ms - 2 * hour_ms, now - day_ms + 3 * hour_ms, hour_ms, tiered(now));
  ASSERT_TRUE(got.is_ok()) << got.error().message();
  EXPECT_EQ(src.bucket_calls, 0);
  const auto& m = as_matrix(*got);
  ASSERT_EQ(m.size(), 1u);
  for (const auto& s : m[0].samples) EXPECT_GE(s.t - hour_ms, now - day_ms);
  EXPECT_EQ(m[0].samples.size(), 3u);  // -1h+1h... the steps whose range starts at or after the horizon
  ASSERT_EQ(got->warnings.size(), 1u);
  EXPECT_NE(got->warnings[0].find("stddev_over_time cannot be computed from rollup tiers"), std::string::npos);
  auto want = eval_range(e, all, now - day_ms + hour_ms, now - day_ms + 3 * hour_ms, hour_ms, {});
  expect_same(m, as_matrix(*want), "stddev_over_time after the horizon");
}

TEST(RollupTiers, SourceWithoutBucketsFallsBackToRawSamples) {
  const int64_t now = 10 * day_ms;
  tier_source src;
  fill(src, now - 3 * hour_ms, now);
  src.has_tiers = false;
  auto e = q("rate(c[10m])");
  auto got = eval_range(e, src, now - 2 * hour_ms, now, 5 * min_ms, tiered(now));
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(src.raw_calls, 1);
  EXPECT_FALSE(as_matrix(*got).empty());
}

TEST(RollupTiers, WithinRawRetentionOnlyTheHourTierIsRead) {
  const int64_t now = 10 * day_ms;
  eval_options o = tiered(now);
  o.min_tier_within_raw_ms = eval_options{}.min_tier_within_raw_ms;
  // 1m and 5m buckets cost more to read than the raw samples they stand for.
  auto sels = selections(q("rate(c[5m])"), now - hour_ms, now, min_ms, o);
  ASSERT_EQ(sels.size(), 1u);
  EXPECT_EQ(sels[0].window_ms, 0);
  sels = selections(q("rate(c[10m])"), now - hour_ms, now, 5 * min_ms, o);
  EXPECT_EQ(sels[0].window_ms, 0);
  sels = selections(q("sum(rate(c[2h]))"), now - 6 * hour_ms, now, hour_ms, o);
  EXPECT_EQ(sels[0].window_ms, hour_ms);
  // Past raw retention the coarsest equivalent tier, as before.
  sels = selections(q("rate(c[10m])"), now - 3 * day_ms, now - 2 * day_ms, 5 * min_ms, o);
  EXPECT_EQ(sels[0].window_ms, 5 * min_ms);

  tier_source src;
  fill(src, now - 3 * hour_ms, now);
  tier_source raw;
  fill(raw, now - 3 * hour_ms, now);
  raw.has_tiers = false;
  auto e = q("rate(c[5m])");
  auto got = eval_range(e, src, now - hour_ms, now, min_ms, o);
  ASSERT_TRUE(got.is_ok()) << got.error().message();
  EXPECT_EQ(src.bucket_calls, 0);
  EXPECT_EQ(src.raw_calls, 1);
  expect_same(as_matrix(*got), as_matrix(*eval_range(e, raw, now - hour_ms, now, min_ms, o)), "rate(c[5m])");
}

TEST(RollupTiers, SelectionsListBucketSpans) {
  const int64_t now = 10 * day_ms;
  auto o = tiered(now);
  auto sels = selections(q("rate(c[10m]) / count_over_time(g[90s])"), now - hour_ms, now, 5 * min_ms, o);
  ASSERT_EQ(sels.size(), 2u);
  EXPECT_EQ(sels[0].window_ms, 5 * min_ms);
  EXPECT_EQ(sels[0].mint, now - hour_ms - 10 * min_ms);
  EXPECT_EQ(sels[0].maxt, now - 5 * min_ms);
  EXPECT_EQ(sels[1].window_ms, 0);  // 90s is no multiple of a tier: raw
  o.max_rollup_window_ms = min_ms;
  sels = selections(q("rate(c[10m])"), now - hour_ms, now, 5 * min_ms, o);
  EXPECT_EQ(sels[0].window_ms, min_ms);
  sels = selections(q("rate(c[10m] anchored)"), now - hour_ms, now, 5 * min_ms, o);
  EXPECT_EQ(sels[0].window_ms, 0);
  sels = selections(q("max_over_time(rate(c[5m])[1h:5m])"), now - hour_ms, now, hour_ms, tiered(now));
  ASSERT_EQ(sels.size(), 1u);
  EXPECT_EQ(sels[0].window_ms, 5 * min_ms);  // the subquery's step is the inner grid's
}

}  // namespace
}  // namespace strata::query
