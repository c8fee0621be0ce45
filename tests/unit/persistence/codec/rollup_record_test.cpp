// The version 2 rollup record (decimal-coded values, zstd body): sizes,
// values that are no decimals, and every way a record can break.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <memory>

#include "codec_test_util.hpp"
#include "persistence/codec/rollup.hpp"

namespace strata::persistence::codec {
namespace {

using namespace test_support;
using bucket_run = std::vector<std::pair<int64_t, rollup_bucket>>;

bucket_run folded(const std::vector<sample>& s, int64_t w) {
  bucket_run out;
  fold(s, w, out);
  return out;
}

bool same(const bucket_run& a, const bucket_run& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || a[i].second != b[i].second) return false;
  return true;
}

// Scrape-like series: 15 s apart, values as gen-style exporters write them.
std::vector<sample> two_decimal_counter(std::mt19937_64& rng, size_t n) {
  std::vector<sample> s;
  double v = 123456.78;
  for (size_t i = 0; i < n; ++i) {
    s.push_back({1'700'000'000'000 + static_cast<int64_t>(i) * 15000, v});
    v = std::round((v + static_cast<double>(rng() % 1500) / 100) * 100) / 100;
  }
  return s;
}

double bytes_per_bucket(const std::vector<sample>& s) {
  auto b = folded(s, 60'000);
  return static_cast<double>(encode_buckets(60'000, b).size()) / static_cast<double>(b.size());
}

TEST(RollupRecordV2, WritesVersion2AndCompressesLargeRuns) {
  std::mt19937_64 rng(3);
  std::string r = encode_buckets(60'000, folded(counter_series(rng, 4 * 120), 60'000));
  EXPECT_EQ(r[0], 2);
  EXPECT_NE(r[5] & 4, 0) << "a 120-bucket run is compressed";  // version, window (3 bytes), count, flags
}

// Regression guard on record size, a day of 1m buckets of 4 samples. The
// bounds are about 15% above what the encoding measures today
// (docs/format/rollup.md, "Size").
TEST(RollupRecordV2, FourSampleBucketsAreSmallerThanInVersion1) {
  std::mt19937_64 rng(9);
  std::vector<sample> int_gauge;  // e.g. bytes in use: multiples of 1024 moving by up to 1 MiB
  double v = 1e9 * 1024;
  for (int64_t i = 0; i < 4 * 1440; ++i) {
    int_gauge.push_back({1'700'000'000'000 + i * 15000, v});
    v += static_cast<double>((static_cast<int64_t>(rng() % 2001) - 1000) * 1024);
  }
  auto counter = counter_series(rng, 4 * 1440);
  auto walk = gauge_series(rng, 4 * 1440);
  auto cpu = two_decimal_counter(rng, 4 * 1440);
  auto v1 = [](const std::vector<sample>& s) {
    auto b = folded(s, 60'000);
    return static_cast<double>(encode_buckets_v1(60'000, b).size()) / static_cast<double>(b.size());
  };
  for (const auto* s : {&counter, &int_gauge, &walk, &cpu}) EXPECT_LT(bytes_per_bucket(*s), v1(*s));
  EXPECT_LT(bytes_per_bucket(counter), 7.0);     // measured 5.9 (version 1: 15.9)
  EXPECT_LT(bytes_per_bucket(int_gauge), 12.8);  // 11.1 (22.6)
  EXPECT_LT(bytes_per_bucket(walk), 10.5);       // 9.0 (42.1)
  EXPECT_LT(bytes_per_bucket(cpu), 6.7);         // 5.8 (25.5)
}

// Values that are no short decimals go through the correction term, bit for bit.
TEST(RollupRecordV2, ValuesThatAreNoDecimalsRoundTripBitForBit) {
  const double odd[] = {-0.0,
                        0.1 + 0.2,
                        from_bits(0x7ff8000000000123ull),
                        from_bits(stale_nan_bits),
                        inf,
                        -inf,
                        1e308,
                        -1e308,
                        5e-324,
                        -2.2250738585072014e-308,
                        9007199254740993.0,
                        1e16 + 2,
                        3.141592653589793,
                        -7.25};
  bucket_run b;
  int64_t t = 0;
  for (double x : odd) {
    rollup_bucket k;
    k.add(t + 1, x);
    k.add(t + 2, -x);
    k.add(t + 3, x * 3);
    b.push_back({t, k});
    t += 60'000;
  }
  auto back = decode_buckets(encode_buckets(60'000, b));
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_TRUE(same(b, *back));
}

TEST(RollupRecordV2, ExponentIsTheSmallestThatMakesFirstAndLastExact) {
  rollup_bucket k;
  k.add(1, 1.5);
  k.add(2, 2.25);
  std::string r = encode_buckets(60'000, {{0, k}});
  EXPECT_EQ(r[6], 2);  // version, window (3 bytes), count, flags, exponent
}

// Byte gauges are multiples of 1024: the record stores m / 1024.
TEST(RollupRecordV2, CommonFactorIsStoredOnceAndRoundTrips) {
  std::mt19937_64 rng(4);
  std::vector<sample> s;
  double v = 8.0 * (1 << 30);
  for (int i = 0; i < 480; ++i) {
    s.push_back({1'700'000'000'000 + i * 15000, v});
    v += static_cast<double>((static_cast<int64_t>(rng() % 2001) - 1000) * 4096);
  }
  auto b = folded(s, 60'000);
  std::string r = encode_buckets(60'000, b);
  EXPECT_NE(r[5] & 8, 0) << "factor flag";
  auto back = decode_buckets(r);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_TRUE(same(b, *back));
}

// ---- corruption ----

std::string rechecksum(std::string c) {
  auto sum = static_cast<uint32_t>(XXH3_64bits(c.data(), c.size() - 4));
  for (int i = 0; i < 4; ++i) c[c.size() - 4 + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  return c;
}

::testing::AssertionResult is_corruption(const std::string& bytes, const std::string& cause = "") {
  std::unique_ptr<char[]> exact(new char[bytes.size() ? bytes.size() : 1]);
  std::memcpy(exact.get(), bytes.data(), bytes.size());
  auto r = decode_buckets(std::string_view(exact.get(), bytes.size()));
  if (r.is_ok()) return ::testing::AssertionFailure() << "decoded";
  if (r.error().code() != strata_errc::corruption) return ::testing::AssertionFailure() << "not corruption";
  if (r.error().message().find(cause) == std::string::npos)
    return ::testing::AssertionFailure() << "message '" << r.error().message() << "' lacks '" << cause << "'";
  return ::testing::AssertionSuccess();
}

// A compressed record (120 buckets) and an uncompressed one (1 bucket, window 100).
std::string big_record() {
  std::mt19937_64 rng(2);
  return encode_buckets(60'000, folded(counter_series(rng, 480), 60'000));
}
std::string one_bucket_record() {
  rollup_bucket x;
  x.add(5, 1.25);
  x.add(7, 1.26);  // no common factor
  return encode_buckets(100, {{0, x}});  // 02 | 64 | 01 | flags | k | body length | body | checksum
}

TEST(RollupRecordV2Corruption, EveryTruncationIsCorruption) {
  for (const std::string& r : {big_record(), one_bucket_record()})
    for (size_t n = 0; n < r.size(); ++n) EXPECT_TRUE(is_corruption(r.substr(0, n))) << n << " bytes";
}

TEST(RollupRecordV2Corruption, AnyFlippedBitIsCorruption) {
  std::string r = big_record();
  for (size_t i = 0; i < r.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string d = r;
      d[i] ^= static_cast<char>(1 << bit);
      EXPECT_TRUE(is_corruption(d)) << "byte " << i << " bit " << bit;
    }
}

TEST(RollupRecordV2Corruption, UnknownFlagsAreCorruption) {
  std::string r = one_bucket_record();
  r[3] = static_cast<char>(r[3] | 0x80);
  EXPECT_TRUE(is_corruption(rechecksum(r), "bad flags"));
}

TEST(RollupRecordV2Corruption, ExponentAbove15IsCorruption) {
  std::string r = one_bucket_record();
  r[4] = 16;
  EXPECT_TRUE(is_corruption(rechecksum(r), "decimal exponent"));
}

TEST(RollupRecordV2Corruption, CommonFactorBelow2IsCorruption) {
  rollup_bucket x;
  x.add(5, 2048);
  std::string r = encode_buckets(100, {{0, x}});
  ASSERT_NE(r[3] & 8, 0);
  r[5] = 1;  // the factor 2048 is two varint bytes: make it 1 and a stray byte
  EXPECT_TRUE(is_corruption(rechecksum(r), "common factor"));
}

TEST(RollupRecordV2Corruption, BodyShorterThanItsLengthIsCorruption) {
  std::string r = one_bucket_record();
  ASSERT_EQ(r[3] & 4, 0) << "stored uncompressed";
  r[5] = static_cast<char>(r[5] + 1);
  EXPECT_TRUE(is_corruption(rechecksum(r), "its length says"));
}

TEST(RollupRecordV2Corruption, MoreBucketsThanTheBodyHoldsIsCorruption) {
  std::string r = one_bucket_record();
  r[2] = 0x7F;
  EXPECT_TRUE(is_corruption(rechecksum(r), "cannot fit"));
}

TEST(RollupRecordV2Corruption, CompressedBodyThatDoesNotDecompressIsCorruption) {
  std::string r = big_record();
  ASSERT_NE(r[5] & 4, 0);
  std::string d = r;
  d[d.size() - 12] ^= 0x55;  // inside the zstd frame
  EXPECT_TRUE(is_corruption(rechecksum(d)));
  d = r;
  d[1 + 3 + 1 + 1 + 1 + 2] ^= 0x01;  // the zstd magic number, after a 2-byte body length
  EXPECT_TRUE(is_corruption(rechecksum(d), "compressed body"));
}

TEST(RollupRecordV2Corruption, UnknownBucketShapeIsCorruption) {
  std::string r = one_bucket_record();
  ASSERT_EQ(r[3] & 4, 0);
  // body: start 0, count 1, first offset 5, span 0, shape
  const size_t shape = 6 + 4;
  r[shape] = static_cast<char>(0x40);
  EXPECT_TRUE(is_corruption(rechecksum(r), "bad bucket shape"));
  r[shape] = 3;  // min code 3 does not exist
  EXPECT_TRUE(is_corruption(rechecksum(r), "bad bucket shape"));
}

TEST(RollupRecordV2Corruption, BytesAfterTheLastSketchAreCorruption) {
  std::string r = one_bucket_record();
  r.insert(r.size() - 4, 1, '\0');
  r[5] = static_cast<char>(r[5] + 1);  // the body length too
  EXPECT_TRUE(is_corruption(rechecksum(r), "bytes after the last sketch"));
}

TEST(RollupRecordV2Corruption, RandomBodiesWithValidChecksumsNeverCrash) {
  for (const std::string& good : {big_record(), one_bucket_record()})
    for (uint64_t seed = 1; seed <= 3000; ++seed) {
      SCOPED_TRACE(seed_trace(seed));
      std::mt19937_64 rng(seed);
      std::string r = good;
      if (seed % 4 == 0) r.resize(5 + rng() % (good.size() - 5));
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) r[1 + rng() % (r.size() - 4)] = static_cast<char>(rng());
      r = rechecksum(r);
      std::unique_ptr<char[]> exact(new char[r.size()]);
      std::memcpy(exact.get(), r.data(), r.size());
      auto back = decode_buckets(std::string_view(exact.get(), r.size()));
      if (!back.is_ok()) {
        EXPECT_EQ(back.error().code(), strata_errc::corruption);
        continue;
      }
      for (size_t i = 1; i < back->size(); ++i) EXPECT_GT((*back)[i].first, (*back)[i - 1].first);
    }
}

}  // namespace
}  // namespace strata::persistence::codec
