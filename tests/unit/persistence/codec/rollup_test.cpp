// rollup_bucket and fold against naive recomputations over the raw samples.
#include "persistence/codec/rollup.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "codec_test_util.hpp"

namespace strata::persistence::codec {
namespace {

using namespace test_support;
using bucket_run = std::vector<std::pair<int64_t, rollup_bucket>>;

// Integer-valued counters (resets included) and gauges: every sum is exact in
// float64, so results compare bit for bit whatever the order of additions.
std::vector<sample> integer_series(std::mt19937_64& rng, size_t n) {
  std::vector<sample> out;
  int64_t t = static_cast<int64_t>(rng() % 10'000'000) - 5'000'000;
  double v = static_cast<double>(rng() % 1000);
  bool counter = rng() % 2;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({t, v});
    t += 1 + static_cast<int64_t>(rng() % 40000);
    if (counter) {
      v += static_cast<double>(rng() % 100);
      if (rng() % 30 == 0) v = static_cast<double>(rng() % 5);
    } else {
      v = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
    }
  }
  return out;
}

// The naive definitions the buckets must match.
struct naive {
  uint64_t count = 0;
  double sum = 0, min = NAN, max = NAN, first = NAN, last = NAN, increase = 0;
  int64_t first_t = 0, last_t = 0;
  std::vector<double> values;
};

naive recompute(const std::vector<sample>& s) {
  naive n;
  for (size_t i = 0; i < s.size(); ++i) {
    const sample& x = s[i];
    n.values.push_back(x.v);
    n.sum += x.v;
    if (!std::isnan(x.v)) {
      n.min = std::isnan(n.min) ? x.v : std::min(n.min, x.v);
      n.max = std::isnan(n.max) ? x.v : std::max(n.max, x.v);
    }
    if (i > 0) n.increase += x.v < s[i - 1].v ? x.v : x.v - s[i - 1].v;  // NaN makes it NaN
  }
  n.count = s.size();
  if (!s.empty()) {
    n.first = s.front().v;
    n.last = s.back().v;
    n.first_t = s.front().t;
    n.last_t = s.back().t;
  }
  if (std::isnan(n.min)) {
    n.min = inf;
    n.max = -inf;
  }
  return n;
}

// Bitwise, except that any NaN equals any NaN: the payload of a NaN that
// arithmetic makes depends on the CPU and the order of the operands.
::testing::AssertionResult same_number(double want, double got) {
  if ((std::isnan(want) && std::isnan(got)) || bits_of(want) == bits_of(got)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "want " << want << ", got " << got;
}

void expect_matches(const naive& n, const rollup_bucket& b) {
  EXPECT_EQ(b.count, n.count);
  EXPECT_TRUE(same_number(n.sum, b.sum));
  EXPECT_EQ(b.min, n.min);
  EXPECT_EQ(b.max, n.max);
  EXPECT_EQ(bits_of(b.first), bits_of(n.first));
  EXPECT_EQ(bits_of(b.last), bits_of(n.last));
  EXPECT_EQ(b.first_t, n.first_t);
  EXPECT_EQ(b.last_t, n.last_t);
  EXPECT_TRUE(same_number(n.increase, b.increase));
  quantile_sketch s;
  for (double v : n.values) s.add(v);
  EXPECT_TRUE(b.sketch == s);
}

TEST(WindowStart, RoundsTowardsMinusInfinity) {
  EXPECT_EQ(window_start(0, 60000), 0);
  EXPECT_EQ(window_start(59999, 60000), 0);
  EXPECT_EQ(window_start(60000, 60000), 60000);
  EXPECT_EQ(window_start(-1, 60000), -60000);
  EXPECT_EQ(window_start(-60000, 60000), -60000);
  EXPECT_EQ(window_start(-60001, 60000), -120000);
  EXPECT_EQ(window_start(1'700'000'123'456, 3'600'000), 1'699'999'200'000);
}

TEST(RollupFold, BucketsMatchANaiveRecomputation) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s = seed % 3 == 0   ? random_series(rng, 1 + rng() % 400)
             : seed % 3 == 1 ? gauge_series(rng, 1 + rng() % 400)
                             : integer_series(rng, 1 + rng() % 400);
    for (int64_t w : {int64_t{60'000}, int64_t{300'000}, int64_t{3'600'000}}) {
      bucket_run out;
      fold(s, w, out);
      size_t i = 0;
      for (size_t k = 0; k < out.size(); ++k) {
        const auto& [start, b] = out[k];
        EXPECT_EQ(start % w, 0);
        if (k > 0) {
          EXPECT_GT(start, out[k - 1].first);
        }
        std::vector<sample> in_window;
        while (i < s.size() && s[i].t < start + w) {
          EXPECT_GE(s[i].t, start);
          in_window.push_back(s[i++]);
        }
        ASSERT_FALSE(in_window.empty()) << "bucket " << k << " holds no sample";
        expect_matches(recompute(in_window), b);
      }
      EXPECT_EQ(i, s.size());
    }
  }
}

TEST(RollupFold, AppendsAfterWhatOutHolds) {
  bucket_run out(1);
  out[0].first = 123;
  out[0].second.add(1, 1);
  std::vector<sample> s = {{125, 2}, {130, 3}};  // same window as start 123 would be for w=1000? never merged
  fold(s, 1000, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].second.count, 1u);
  EXPECT_EQ(out[1].first, 0);
  EXPECT_EQ(out[1].second.count, 2u);
}

TEST(RollupBucket, IncreaseCountsADropAsAResetFromZero) {
  rollup_bucket b;
  for (auto [t, v] : std::vector<std::pair<int64_t, double>>{{1, 10}, {2, 20}, {3, 5}, {4, 15}, {5, 15}}) b.add(t, v);
  EXPECT_EQ(b.increase, 10 + 5 + 10 + 0);
}

TEST(RollupBucket, IncreaseMatchesPrometheusStyleResetCorrection) {
  // Prometheus: last - first + the value before every drop.
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s = integer_series(rng, 2 + rng() % 300);
    rollup_bucket b;
    double correction = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      b.add(s[i].t, s[i].v);
      if (i > 0 && s[i].v < s[i - 1].v) correction += s[i - 1].v;
    }
    EXPECT_EQ(b.increase, s.back().v - s.front().v + correction);
  }
}

TEST(RollupBucket, MergeLaterAddsTheIncreaseAcrossTheBoundary) {
  rollup_bucket a, b;
  a.add(1, 10);
  a.add(2, 20);
  b.add(3, 5);  // a reset between the buckets
  b.add(4, 8);
  a.merge_later(b);
  EXPECT_EQ(a.increase, 10 + 5 + 3);
  EXPECT_EQ(a.count, 4u);
  EXPECT_EQ(a.first, 10);
  EXPECT_EQ(a.last, 8);
  EXPECT_EQ(a.first_t, 1);
  EXPECT_EQ(a.last_t, 4);
}

TEST(RollupBucket, MergeLaterOfConsecutiveBucketsEqualsOneBucketOverTheUnion) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s = integer_series(rng, 1 + rng() % 300);
    rollup_bucket whole;
    for (const auto& x : s) whole.add(x.t, x.v);
    rollup_bucket merged, part;
    for (size_t i = 0; i < s.size(); ++i) {
      part.add(s[i].t, s[i].v);
      if (rng() % 7 == 0 || i + 1 == s.size()) {
        merged.merge_later(part);
        part = rollup_bucket();
        if (rng() % 3 == 0) merged.merge_later(rollup_bucket());  // empty later changes nothing
      }
    }
    EXPECT_TRUE(merged == whole);
  }
}

TEST(RollupBucket, MergeLaterOfFloatBucketsAgreesUpToRounding) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s = gauge_series(rng, 2 + rng() % 300);
    rollup_bucket whole, merged, part;
    for (size_t i = 0; i < s.size(); ++i) {
      whole.add(s[i].t, s[i].v);
      part.add(s[i].t, s[i].v);
      if (rng() % 5 == 0) {
        merged.merge_later(part);
        part = rollup_bucket();
      }
    }
    merged.merge_later(part);
    EXPECT_EQ(merged.count, whole.count);
    EXPECT_NEAR(merged.sum, whole.sum, 1e-9 * std::fabs(whole.sum) + 1e-9);
    EXPECT_NEAR(merged.increase, whole.increase, 1e-9 * std::fabs(whole.increase) + 1e-9);
    rollup_bucket exact_fields = merged;
    exact_fields.sum = whole.sum;
    exact_fields.increase = whole.increase;
    EXPECT_TRUE(exact_fields == whole);
  }
}

TEST(RollupBucket, MergeSeriesAddsUp) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s1 = integer_series(rng, 1 + rng() % 100);
    auto s2 = integer_series(rng, 1 + rng() % 100);
    rollup_bucket a, b;
    for (const auto& x : s1) a.add(x.t, x.v);
    for (const auto& x : s2) b.add(x.t, x.v);
    rollup_bucket m = a;
    m.merge_series(b);
    EXPECT_EQ(m.count, a.count + b.count);
    EXPECT_EQ(m.sum, a.sum + b.sum);
    EXPECT_EQ(m.min, std::min(a.min, b.min));
    EXPECT_EQ(m.max, std::max(a.max, b.max));
    EXPECT_EQ(m.increase, a.increase + b.increase);
    const rollup_bucket& earlier = b.first_t < a.first_t ? b : a;
    const rollup_bucket& later = b.last_t > a.last_t ? b : a;
    EXPECT_EQ(m.first_t, earlier.first_t);
    EXPECT_EQ(bits_of(m.first), bits_of(earlier.first));
    EXPECT_EQ(m.last_t, later.last_t);
    EXPECT_EQ(bits_of(m.last), bits_of(later.last));
    quantile_sketch both = a.sketch;
    both.merge(b.sketch);
    EXPECT_TRUE(m.sketch == both);
    rollup_bucket empty;
    empty.merge_series(a);
    EXPECT_TRUE(empty == a);
    a.merge_series(rollup_bucket());
    EXPECT_TRUE(empty == a);
  }
}

TEST(RollupBucket, NaNIsCountedAndSummedButNotAMinOrMax) {
  rollup_bucket b;
  b.add(1, 3);
  b.add(2, NAN);
  b.add(3, 1);
  EXPECT_EQ(b.count, 3u);
  EXPECT_TRUE(std::isnan(b.sum));
  EXPECT_EQ(b.min, 1);
  EXPECT_EQ(b.max, 3);
  EXPECT_EQ(b.sketch.count(), 2u);
  rollup_bucket only_nan;
  only_nan.add(1, NAN);
  EXPECT_EQ(only_nan.min, inf);
  EXPECT_EQ(only_nan.max, -inf);
}

}  // namespace
}  // namespace strata::persistence::codec
