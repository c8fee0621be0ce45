// quantile_sketch: accuracy against exact nearest-rank quantiles, exact
// merging, bounded bins, encoding and decoding of damaged input.
//
// Exact quantile used throughout: the nearest rank, i.e. sorted[r - 1] with
// r = max(1, ceil(q * n)), the definition quantile() documents. The bound is
// the sketch's 1% relative error plus 1e-12 relative for the rounding of
// ln(v) at a bin edge.
#include "persistence/codec/sketch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "codec_test_util.hpp"

namespace strata::persistence::codec {
namespace {

using namespace test_support;

constexpr double a = quantile_sketch::relative_accuracy;

// REQUIRES: v sorted
double nearest_rank(const std::vector<double>& v, double q) {
  double r = std::ceil(q * static_cast<double>(v.size()));
  size_t rank = r < 1 ? 1 : std::min(v.size(), static_cast<size_t>(r));
  return v[rank - 1];
}

quantile_sketch sketch_of(const std::vector<double>& v) {
  quantile_sketch s;
  for (double x : v) s.add(x);
  return s;
}

::testing::AssertionResult within_bound(std::vector<double> values, const quantile_sketch& s, double q) {
  if (!std::is_sorted(values.begin(), values.end())) std::sort(values.begin(), values.end());
  double want = nearest_rank(values, q);
  double got = s.quantile(q);
  if (std::isinf(want) || want == 0) {
    if (got == want) return ::testing::AssertionSuccess();
  } else if (std::fabs(got - want) <= (a + 1e-12) * std::fabs(want)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "q=" << q << ": exact " << want << ", sketch " << got
                                       << " (n=" << values.size() << ")";
}

void check_quantiles(std::vector<double> values, std::mt19937_64& rng) {
  quantile_sketch s = sketch_of(values);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(s.count(), values.size());
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0})
    EXPECT_TRUE(within_bound(values, s, q));
  std::uniform_real_distribution<double> uq(0, 1);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(within_bound(values, s, uq(rng)));
}

template <class Gen>
void check_distribution(Gen gen) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    size_t n = 1 + rng() % (seed % 4 == 0 ? 20000 : 300);
    std::vector<double> v;
    for (size_t i = 0; i < n; ++i) v.push_back(gen(rng));
    check_quantiles(v, rng);
  }
}

TEST(QuantileSketch, UniformValuesWithinOnePercent) {
  check_distribution([](std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0.001, 1000)(rng); });
}

TEST(QuantileSketch, LognormalValuesWithinOnePercent) {
  check_distribution([](std::mt19937_64& rng) { return std::lognormal_distribution<double>(0, 3)(rng); });
}

TEST(QuantileSketch, NegativeAndPositiveMixWithinOnePercent) {
  check_distribution([](std::mt19937_64& rng) {
    double x = std::lognormal_distribution<double>(2, 2)(rng);
    switch (rng() % 5) {
      case 0:
        return 0.0;
      case 1:
      case 2:
        return -x;
      default:
        return x;
    }
  });
}

TEST(QuantileSketch, IntegersOnBinEdgesWithinOnePercent) {
  // powers of gamma and their neighbours are where ln() rounding matters
  const double gamma = (1 + a) / (1 - a);
  check_distribution([gamma](std::mt19937_64& rng) {
    double x = std::pow(gamma, static_cast<double>(rng() % 2000) - 1000);
    switch (rng() % 3) {
      case 0:
        return std::nextafter(x, 0.0);
      case 1:
        return std::nextafter(x, inf);
      default:
        return x;
    }
  });
}

TEST(QuantileSketch, ConstantValuesAreExact) {
  for (double c : {42.0, -3.5, 0.0, 1e-300, 1e300}) {
    quantile_sketch s;
    for (int i = 0; i < 1000; ++i) s.add(c);
    EXPECT_EQ(s.bins(), 1u);
    for (double q : {0.0, 0.3, 0.5, 0.99, 1.0}) EXPECT_EQ(s.quantile(q), c) << "c=" << c << " q=" << q;
  }
}

TEST(QuantileSketch, PrometheusEdgeCases) {
  quantile_sketch empty;
  EXPECT_TRUE(std::isnan(empty.quantile(0.5)));
  EXPECT_TRUE(std::isnan(empty.quantile(-1)));
  quantile_sketch s = sketch_of({3, 1, 2});
  EXPECT_TRUE(std::isnan(s.quantile(std::nan(""))));
  EXPECT_EQ(s.quantile(-0.1), -inf);
  EXPECT_EQ(s.quantile(1.1), inf);
  EXPECT_EQ(s.quantile(0), 1);
  EXPECT_EQ(s.quantile(1), 3);
}

TEST(QuantileSketch, MinAndMaxAreExact) {
  quantile_sketch s;
  EXPECT_EQ(s.min(), inf);
  EXPECT_EQ(s.max(), -inf);
  s.add(1.2345678);
  s.add(-9.87654321);
  s.add(3.3333333);
  EXPECT_EQ(s.min(), -9.87654321);
  EXPECT_EQ(s.max(), 3.3333333);
  EXPECT_EQ(s.quantile(0), -9.87654321);
  EXPECT_EQ(s.quantile(1), 3.3333333);
}

TEST(QuantileSketch, NaNIsIgnoredAndInfinitiesAndZerosAreCounted) {
  quantile_sketch s;
  s.add(std::nan(""));
  s.add(from_bits(stale_nan_bits));
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.bins(), 0u);
  std::vector<double> v = {-inf, -inf, -5, 0.0, -0.0, 0.0, 7, inf};
  for (double x : v) s.add(x);
  EXPECT_EQ(s.count(), v.size());
  EXPECT_EQ(s.bins(), 5u);  // -Inf, -5, zero, 7, +Inf
  std::mt19937_64 rng(1);
  check_quantiles(v, rng);
  EXPECT_EQ(s.quantile(0.2), -inf);
  EXPECT_EQ(s.quantile(0.5), 0);
  EXPECT_EQ(s.quantile(0.99), inf);
}

TEST(QuantileSketch, MergeEqualsTheSketchOfTheUnionBinForBin) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    std::vector<double> va, vb;
    size_t n = rng() % 2000;
    std::lognormal_distribution<double> ln(0, 1 + static_cast<double>(seed % 40));
    for (size_t i = 0; i < n; ++i) {
      double x = ln(rng) * (rng() % 3 == 0 ? -1 : 1);
      if (rng() % 50 == 0) x = rng() % 2 ? inf : 0.0;
      (rng() % 3 == 0 ? va : vb).push_back(x);
    }
    quantile_sketch merged = sketch_of(va);
    merged.merge(sketch_of(vb));
    std::vector<double> all = va;
    all.insert(all.end(), vb.begin(), vb.end());
    quantile_sketch direct = sketch_of(all);
    EXPECT_TRUE(merged == direct);
    EXPECT_EQ(merged.count(), all.size());
    EXPECT_EQ(merged.bins(), direct.bins());
  }
}

TEST(QuantileSketch, MergeWithItselfDoublesEveryCount) {
  quantile_sketch s = sketch_of({1, 2, 3, 1000});
  s.merge(s);
  EXPECT_TRUE(s == sketch_of({1, 2, 3, 1000, 1, 2, 3, 1000}));
}

TEST(QuantileSketch, StoresAreBoundedByCollapsingTheirLowestBins) {
  // 1e-60 .. 1e60 spans about 6900 bins; the 4096 kept cover about 35 decades,
  // so everything below ~1e24 collapses into the lowest kept bin.
  quantile_sketch pos, neg;
  std::vector<double> values, negated;
  for (int e = -60; e < 60; ++e) {
    for (double m : {1.0, 1.5, 2.5, 4.0, 7.0}) {
      values.push_back(m * std::pow(10.0, e));
      negated.push_back(-values.back());
      pos.add(values.back());
      neg.add(negated.back());
    }
  }
  std::sort(negated.begin(), negated.end());
  EXPECT_LE(pos.bins(), quantile_sketch::max_bins_per_store);
  EXPECT_LE(neg.bins(), quantile_sketch::max_bins_per_store);
  EXPECT_EQ(pos.count(), values.size());
  const double gamma = (1 + a) / (1 - a);
  double kept_from = 7e59 / std::pow(gamma, 4096);
  for (double q : {0.1, 0.3, 0.5, 0.75, 0.8, 0.9, 0.99}) {
    double exact = nearest_rank(values, q);
    if (exact > kept_from) {
      EXPECT_TRUE(within_bound(values, pos, q));
      EXPECT_TRUE(within_bound(negated, neg, 1 - q));
    } else {  // collapsed: reads too high in magnitude, never too low
      EXPECT_GE(pos.quantile(q), exact) << q;
      EXPECT_LE(neg.quantile(1 - q), -exact) << q;
    }
  }
  EXPECT_TRUE(within_bound(values, pos, 0.9));  // the loop above saw both cases
  EXPECT_GT(pos.quantile(0.1), 10 * nearest_rank(values, 0.1));
  // collapsing commutes with merging
  quantile_sketch lo, hi;
  for (double x : values) (x < 1 ? lo : hi).add(x);
  quantile_sketch merged = hi;
  merged.merge(lo);
  quantile_sketch in_order;
  for (double x : values)
    if (x >= 1) in_order.add(x);
  for (double x : values)
    if (x < 1) in_order.add(x);
  EXPECT_TRUE(merged == in_order);
  EXPECT_TRUE(merged == pos);  // and with adding in another order
}

TEST(QuantileSketch, EmptySketchIs48Bytes) { EXPECT_LE(sizeof(quantile_sketch), 48u); }

TEST(QuantileSketch, FewValuesMakeFewBinsAndFewBytes) {
  quantile_sketch s = sketch_of({1013.25, 1013.5, 1013.0, 1013.75});
  EXPECT_LE(s.bins(), 2u);
  std::string enc;
  s.encode(enc);
  EXPECT_LE(enc.size(), 1u + 1 + 16 + 4 + 3);  // version, bins, min, max, first key, second bin
}

TEST(QuantileSketch, EncodeDecodeRoundTrips) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    quantile_sketch s;
    size_t n = seed == 1 ? 0 : rng() % 3000;
    for (size_t i = 0; i < n; ++i) {
      switch (rng() % 10) {
        case 0:
          s.add(-std::lognormal_distribution<double>(0, 50)(rng));
          break;
        case 1:
          s.add(rng() % 2 ? inf : -inf);
          break;
        case 2:
          s.add(0);
          break;
        default:
          s.add(std::lognormal_distribution<double>(0, 1 + seed % 60)(rng));
          break;
      }
    }
    std::string enc = "prefix";
    s.encode(enc);
    auto back = quantile_sketch::decode(std::string_view(enc).substr(6));
    ASSERT_TRUE(back.is_ok()) << back.error().message();
    EXPECT_TRUE(*back == s);
    EXPECT_EQ(back->count(), s.count());
  }
}

::testing::AssertionResult decode_fails(const std::string& bytes) {
  std::unique_ptr<char[]> exact(new char[bytes.size() ? bytes.size() : 1]);
  std::memcpy(exact.get(), bytes.data(), bytes.size());
  auto r = quantile_sketch::decode(std::string_view(exact.get(), bytes.size()));
  if (r.is_ok()) return ::testing::AssertionFailure() << "decoded";
  if (r.error().code() != strata_errc::corruption) return ::testing::AssertionFailure() << "not corruption";
  return ::testing::AssertionSuccess();
}

std::string encoded(const quantile_sketch& s) {
  std::string e;
  s.encode(e);
  return e;
}

TEST(QuantileSketchDecode, EmptyInputFails) { EXPECT_TRUE(decode_fails("")); }

TEST(QuantileSketchDecode, UnknownVersionFails) {
  std::string e = encoded(sketch_of({1, 2, 3}));
  e[0] = 9;
  EXPECT_TRUE(decode_fails(e));
}

TEST(QuantileSketchDecode, EveryTruncationFails) {
  std::string e = encoded(sketch_of({-1e6, -3, 0, 1, 2, 3, 1e9, inf}));
  for (size_t n = 0; n < e.size(); ++n) EXPECT_TRUE(decode_fails(e.substr(0, n))) << n << " bytes";
}

TEST(QuantileSketchDecode, TrailingBytesFail) { EXPECT_TRUE(decode_fails(encoded(sketch_of({1, 2})) + "x")); }

TEST(QuantileSketchDecode, InconsistentFieldsFail) {
  auto build = [](uint64_t nbins, double min, double max, std::vector<std::pair<int64_t, uint64_t>> bins) {
    std::string e(1, '\x01');
    auto varint = [&](uint64_t v) {
      while (v >= 0x80) {
        e.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
      }
      e.push_back(static_cast<char>(v));
    };
    varint(nbins);
    for (double d : {min, max})
      for (int i = 0; i < 8; ++i) e.push_back(static_cast<char>((bits_of(d) >> (8 * i)) & 0xFF));
    for (size_t i = 0; i < bins.size(); ++i) {  // (key or gap << 1) | 1, then count - 2
      int64_t k = bins[i].first;
      uint64_t coded =
          i == 0 ? (static_cast<uint64_t>(k) << 1) ^ static_cast<uint64_t>(k >> 63) : static_cast<uint64_t>(k);
      varint((coded << 1) | 1);
      varint(bins[i].second);
    }
    return e;
  };
  const int64_t one = 1 << 17;  // the key of 1.0
  ASSERT_TRUE(quantile_sketch::decode(build(1, 1.0, 1.0, {{one, 0}})).is_ok());
  EXPECT_EQ(quantile_sketch::decode(build(1, 1.0, 1.0, {{one, 5}}))->count(), 7u);
  EXPECT_TRUE(decode_fails(build(1, std::nan(""), 1.0, {{one, 0}})));    // NaN min
  EXPECT_TRUE(decode_fails(build(1, 2.0, 1.0, {{one, 0}})));             // min > max
  EXPECT_TRUE(decode_fails(build(1, 5.0, 5.0, {{one, 0}})));             // min outside the bins
  EXPECT_TRUE(decode_fails(build(1, 1.0, 1.0, {{1 << 19, 0}})));         // key out of range
  EXPECT_TRUE(decode_fails(build(1, 1.0, 1.0, {{one, ~uint64_t{0}}})));  // count overflow
  EXPECT_TRUE(decode_fails(build(1, 1.0, 1.0, {{one, ~uint64_t{0} - 1}})));
  EXPECT_TRUE(
      decode_fails(build(2, 1.0, 1e300, {{one, uint64_t{1} << 63}, {100, uint64_t{1} << 63}})));  // sum overflows
  ASSERT_TRUE(
      quantile_sketch::decode(build(2, 1.0, 1e300, {{one, uint64_t{1} << 62}, {100, uint64_t{1} << 62}})).is_ok());
  EXPECT_TRUE(decode_fails(build(2, 1.0, 1e300, {{one, 0}, {4200, 0}})));  // store spans > 4096 bins
  EXPECT_TRUE(decode_fails(build(100000, 1.0, 1.0, {{one, 0}})));          // more bins than bytes
}

TEST(QuantileSketchDecode, RandomBytesNeverCrash) {
  std::string good = encoded(sketch_of({-2, 1, 2, 3, 50, 1e10}));
  for (uint64_t seed = 1; seed <= 5000; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    std::string e;
    if (seed % 2) {
      e = good;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) e[rng() % e.size()] = static_cast<char>(rng());
    } else {
      e.assign(rng() % 40, '\0');
      for (auto& c : e) c = static_cast<char>(rng());
      if (!e.empty()) e[0] = 1;
    }
    std::unique_ptr<char[]> exact(new char[e.size() + 1]);
    std::memcpy(exact.get(), e.data(), e.size());
    auto r = quantile_sketch::decode(std::string_view(exact.get(), e.size()));
    if (!r.is_ok()) {
      EXPECT_EQ(r.error().code(), strata_errc::corruption);
      continue;
    }
    // whatever decodes is a usable sketch that encodes to the same bytes
    EXPECT_EQ(encoded(*r), e);
    r->quantile(0.5);
    r->add(1);
  }
}

}  // namespace
}  // namespace strata::persistence::codec
