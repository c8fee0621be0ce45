// encode_buckets / decode_buckets: round trips bit for bit and every way a
// record can break.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <climits>
#include <cmath>

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

::testing::AssertionResult same_run(const bucket_run& want, const bucket_run& got) {
  if (want.size() != got.size())
    return ::testing::AssertionFailure() << "want " << want.size() << " buckets, got " << got.size();
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].first != got[i].first)
      return ::testing::AssertionFailure()
             << "bucket " << i << ": start " << got[i].first << ", want " << want[i].first;
    if (!(want[i].second == got[i].second)) return ::testing::AssertionFailure() << "bucket " << i << " differs";
  }
  return ::testing::AssertionSuccess();
}

// Both the version written today and version 1 (older stores) read back bit for bit.
void expect_round_trip(int64_t w, const bucket_run& b) {
  for (const std::string& rec : {encode_buckets(w, b), encode_buckets_v1(w, b)}) {
    int64_t got_w = 0;
    auto back = decode_buckets(rec, &got_w);
    ASSERT_TRUE(back.is_ok()) << "version " << int(rec[0]) << ": " << back.error().message();
    EXPECT_EQ(got_w, w);
    EXPECT_TRUE(same_run(b, *back)) << "version " << int(rec[0]);
  }
}

TEST(RollupRecord, FoldedSeriesRoundTripBitForBit) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    std::vector<sample> s;
    switch (seed % 3) {
      case 0:
        s = counter_series(rng, 1 + rng() % 2000);
        break;
      case 1:
        s = gauge_series(rng, 1 + rng() % 2000);
        break;
      default:
        s = random_series(rng, 1 + rng() % 500);
        break;
    }
    for (int64_t w : {int64_t{60'000}, int64_t{300'000}, int64_t{3'600'000}}) expect_round_trip(w, folded(s, w));
  }
}

TEST(RollupRecord, EmptyRunRoundTrips) { expect_round_trip(60'000, {}); }

TEST(RollupRecord, UnalignedAndGappedStartsRoundTrip) {
  std::mt19937_64 rng(4);
  bucket_run b;
  int64_t start = -12345;
  for (int i = 0; i < 50; ++i) {
    rollup_bucket x;
    x.add(start + 10, static_cast<double>(i));
    b.emplace_back(start, x);
    start += 1 + static_cast<int64_t>(rng() % 1'000'000);
  }
  expect_round_trip(60'000, b);
  // aligned but with gaps
  bucket_run g;
  for (int64_t k : {-3, 0, 1, 2, 10, 11, 1000}) {
    rollup_bucket x;
    x.add(k * 60'000 + 59'999, 1);
    g.emplace_back(k * 60'000, x);
  }
  expect_round_trip(60'000, g);
  // the widest gap there is
  rollup_bucket x;
  x.add(0, 1);
  expect_round_trip(1, {{INT64_MIN, x}, {INT64_MAX, x}});
  expect_round_trip(1000, {{INT64_MIN / 1000 * 1000, x}, {INT64_MAX / 1000 * 1000, x}});
}

TEST(RollupRecord, BucketsThatNoFoldMakesRoundTrip) {
  bucket_run b(5);
  b[0].first = INT64_MIN + 1;  // default bucket: count 0, NaN first/last
  b[1].first = -1;
  b[1].second.count = 7;  // fields set by hand, unrelated to each other
  b[1].second.sum = -0.0;
  b[1].second.min = 5;
  b[1].second.max = -5;
  b[1].second.first = from_bits(stale_nan_bits);
  b[1].second.last = inf;
  b[1].second.first_t = INT64_MAX;
  b[1].second.last_t = INT64_MIN;
  b[1].second.increase = from_bits(0x7ff4000000000001ull);
  b[1].second.sketch.add(3);
  b[2].first = 0;
  b[2].second.add(5, 1.0);
  b[2].second.sketch = quantile_sketch();  // sketch bounds differ from the bucket's
  b[3].first = 1;
  b[3].second.add(INT64_MAX - 1, -0.0);
  b[3].second.add(INT64_MAX, 0.0);
  b[4].first = INT64_MAX;
  b[4].second.count = UINT64_MAX;
  expect_round_trip(1, b);
  expect_round_trip(INT64_MAX, b);
}

TEST(RollupRecord, DecodeWithoutWindowPointer) {
  std::mt19937_64 rng(1);
  auto b = folded(gauge_series(rng, 100), 60'000);
  auto back = decode_buckets(encode_buckets(60'000, b));
  ASSERT_TRUE(back.is_ok());
  EXPECT_TRUE(same_run(b, *back));
}

// Regression guard on record size: a day of 1m buckets of 4 samples (15 s
// scrapes). The bounds are about 15% above what the encoding measures today
// (docs/format/rollup.md, "Size").
TEST(RollupRecord, FourSampleBucketsStaySmallInVersion1) {
  auto bytes_per_bucket = [](const std::vector<sample>& s) {
    auto b = folded(s, 60'000);
    return static_cast<double>(encode_buckets_v1(60'000, b).size()) / static_cast<double>(b.size());
  };
  std::mt19937_64 rng(9);
  std::vector<sample> int_gauge;  // e.g. bytes in use: integers moving by up to 1000
  double v = 1e6;
  for (int64_t i = 0; i < 4 * 1440; ++i) {
    int_gauge.push_back({1'700'000'000'000 + i * 15000 + static_cast<int64_t>(rng() % 5), v});
    v += static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000);
  }
  EXPECT_LT(bytes_per_bucket(counter_series(rng, 4 * 1440)), 18);
  EXPECT_LT(bytes_per_bucket(int_gauge), 24);
  EXPECT_LT(bytes_per_bucket(gauge_series(rng, 4 * 1440)), 49);  // two-decimal random walk: XOR's worst case
}

// ---- corruption of version 1 records ----

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

std::string sample_record() {
  std::mt19937_64 rng(2);
  return encode_buckets_v1(60'000, folded(counter_series(rng, 40), 60'000));
}

TEST(RollupRecordV1Corruption, EmptyInputIsCorruption) { EXPECT_TRUE(is_corruption("", "shorter than")); }

TEST(RollupRecordV1Corruption, EveryTruncationIsCorruption) {
  std::string r = sample_record();
  for (size_t n = 0; n < r.size(); ++n) EXPECT_TRUE(is_corruption(r.substr(0, n))) << n << " bytes";
}

TEST(RollupRecordV1Corruption, BadChecksumIsCorruption) {
  std::string r = sample_record();
  r[r.size() / 2] ^= 0x10;
  EXPECT_TRUE(is_corruption(r, "checksum mismatch"));
}

TEST(RollupRecordV1Corruption, UnknownVersionIsCorruption) {
  std::string r = sample_record();
  r[0] = 7;
  EXPECT_TRUE(is_corruption(rechecksum(r), "unknown version 7"));
}

TEST(RollupRecordV1Corruption, ZeroWindowIsCorruption) {
  std::string r = encode_buckets_v1(1, {});
  r[1] = 0;
  EXPECT_TRUE(is_corruption(rechecksum(r), "bad window length"));
}

TEST(RollupRecordV1Corruption, MoreBucketsThanBytesIsCorruption) {
  std::string r = encode_buckets_v1(1, {});  // version, window 1, count 0, checksum
  r[2] = 0x7F;
  EXPECT_TRUE(is_corruption(rechecksum(r), "cannot fit"));
}

TEST(RollupRecordV1Corruption, UnknownFlagsAreCorruption) {
  rollup_bucket x;
  x.add(1, 1);
  std::string r = encode_buckets_v1(100, {{0, x}});  // version, window, count, flags
  r[3] = static_cast<char>(r[3] | 0x80);
  EXPECT_TRUE(is_corruption(rechecksum(r), "bad flags"));
}

TEST(RollupRecordV1Corruption, BytesAfterTheLastSketchAreCorruption) {
  std::string r = sample_record();
  r.insert(r.size() - 4, 1, '\0');
  EXPECT_TRUE(is_corruption(rechecksum(r), "bytes after the last sketch"));
}

TEST(RollupRecordV1Corruption, WindowStartOverflowIsCorruption) {
  rollup_bucket x;
  x.add(INT64_MAX, 1);
  std::string r = encode_buckets_v1(100, {{INT64_MAX / 100 * 100, x}});
  // claim two consecutive buckets: the second would start past INT64_MAX
  ASSERT_EQ(r[2], 1);
  r[2] = 2;
  EXPECT_TRUE(is_corruption(rechecksum(r), "overflows"));
}

TEST(RollupRecordV1Corruption, AnyFlippedBitIsCorruption) {
  std::string r = sample_record();
  for (size_t i = 0; i < r.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string d = r;
      d[i] ^= static_cast<char>(1 << bit);
      EXPECT_TRUE(is_corruption(d)) << "byte " << i << " bit " << bit;
    }
}

// Random damage behind a valid checksum: decode refuses it or returns
// buckets, never reading outside the input (checked under ASan).
TEST(RollupRecordV1Corruption, RandomBodiesWithValidChecksumsNeverCrash) {
  std::string good = sample_record();
  for (uint64_t seed = 1; seed <= 5000; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    std::string r = good;
    if (seed % 4 == 0) r.resize(5 + rng() % (good.size() - 5));
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) r[rng() % (r.size() - 4)] = static_cast<char>(rng());
    r[0] = 1;
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
