// Gorilla chunks: appending, sealing, opening and reading back bit for bit.
#include "persistence/codec/gorilla.hpp"

#include <gtest/gtest.h>

#include <climits>

#include "codec_test_util.hpp"

namespace strata::persistence::codec {
namespace {

using namespace test_support;

chunk_appender append_all(const std::vector<sample>& s) {
  chunk_appender a;
  for (const auto& x : s) a.append(x.t, x.v);
  return a;
}

std::vector<sample> drain(chunk_iterator it) {
  std::vector<sample> out;
  while (it.next()) out.push_back({it.t(), it.v()});
  return out;
}

// Every way to read `s` back: the appender's iterator, the sealed chunk's
// iterator and decode over everything.
void expect_round_trip(const std::vector<sample>& s) {
  chunk_appender a = append_all(s);
  ASSERT_EQ(a.count(), s.size());
  EXPECT_TRUE(same_samples(s, drain(a.iterator())));
  std::string sealed = a.seal();
  EXPECT_EQ(sealed.size(), a.size_bytes());
  auto v = open_chunk(sealed);
  ASSERT_TRUE(v.is_ok()) << v.error().message();
  EXPECT_EQ(v->count(), s.size());
  if (!s.empty()) {
    EXPECT_EQ(v->min_t(), s.front().t);
    EXPECT_EQ(v->max_t(), s.back().t);
  }
  EXPECT_TRUE(same_samples(s, drain(v->iterator())));
  std::vector<sample> decoded;
  v->decode(INT64_MIN, INT64_MAX, decoded);
  EXPECT_TRUE(same_samples(s, decoded));
}

TEST(ChunkAppender, FitsIn48BytesPlusItsBuffer) { EXPECT_LE(sizeof(chunk_appender), 48u); }

TEST(ChunkAppender, TracksCountTimesAndLastValue) {
  chunk_appender a;
  EXPECT_EQ(a.count(), 0);
  a.append(1000, 1.5);
  a.append(2000, -3.25);
  a.append(2500, 7.0);
  EXPECT_EQ(a.count(), 3);
  EXPECT_EQ(a.min_t(), 1000);
  EXPECT_EQ(a.max_t(), 2500);
  EXPECT_EQ(a.last_value(), 7.0);
  EXPECT_EQ(a.size_bytes(), a.seal().size());
}

TEST(ChunkAppender, RealisticCountersRoundTrip) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    expect_round_trip(counter_series(rng, 1 + rng() % 240));
  }
}

TEST(ChunkAppender, RealisticGaugesRoundTrip) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    expect_round_trip(gauge_series(rng, 1 + rng() % 240));
  }
}

TEST(ChunkAppender, RandomBitPatternsAndGapsRoundTrip) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    expect_round_trip(random_series(rng, 1 + rng() % 300));
  }
}

TEST(ChunkAppender, ConstantSeriesTakesAboutTwoBitsPerSample) {
  std::vector<sample> s;
  for (int i = 0; i < 120; ++i) s.push_back({1'700'000'000'000 + i * 15000, 42.0});
  expect_round_trip(s);
  // 64 bits for the first value, then '0' + '0' per sample after the second.
  EXPECT_LE(append_all(s).size_bytes(), chunk_header_size + chunk_checksum_size + 8 + 4 + 30);
}

TEST(ChunkAppender, SpecialValuesKeepTheirBits) {
  std::vector<uint64_t> bits = {stale_nan_bits,        0x7ff8000000000000ull, 0xfff8000000000001ull,
                                0x7ff4000000000abcull, 0x8000000000000000ull, 0,
                                bits_of(inf),          bits_of(-inf),         1,
                                0x000fffffffffffffull, bits_of(1.0),          stale_nan_bits,
                                stale_nan_bits,        bits_of(-0.0),         bits_of(0.0)};
  std::vector<sample> s;
  for (size_t i = 0; i < bits.size(); ++i) s.push_back({static_cast<int64_t>(i) * 1000, from_bits(bits[i])});
  expect_round_trip(s);
}

TEST(ChunkAppender, EveryTimestampBucketBoundaryRoundTrips) {
  // dods at and around the edges of the 14, 17 and 20 bit buckets, both signs
  std::vector<int64_t> dods;
  for (int b : {13, 16, 19}) {
    int64_t e = int64_t{1} << b;
    for (int64_t d : {e - 1, e, e + 1, -e - 1, -e, -e + 1}) dods.push_back(d);
  }
  std::vector<sample> s;
  int64_t t = 0, delta = int64_t{1} << 22;  // large enough that every delta stays positive
  s.push_back({t, 1});
  for (int64_t d : dods) {
    delta += d;
    t += delta;
    s.push_back({t, static_cast<double>(s.size())});
  }
  expect_round_trip(s);
}

TEST(ChunkAppender, ExtremeTimestampsRoundTrip) {
  expect_round_trip({{INT64_MIN, 1}, {INT64_MIN + 1, 2}, {-1, 3}, {0, 4}, {INT64_MAX - 1, 5}, {INT64_MAX, 6}});
  expect_round_trip({{INT64_MIN, 1}, {INT64_MAX, 2}});
  expect_round_trip({{-5, 1}, {INT64_MAX, 2}});
}

TEST(ChunkAppender, HugeGapsRoundTrip) {
  std::vector<sample> s = {{0, 1}, {15000, 2}, {30000, 3}};
  s.push_back({s.back().t + 86'400'000LL * 365 * 100, 4});  // a century later
  s.push_back({s.back().t + 15000, 5});
  s.push_back({s.back().t + 1, 6});
  s.push_back({s.back().t + (int64_t{1} << 60), 7});
  expect_round_trip(s);
}

TEST(ChunkAppender, MaximumSampleCountRoundTrips) {
  std::mt19937_64 rng(7);
  expect_round_trip(random_series(rng, chunk_max_samples));
}

TEST(ChunkAppender, IteratorSeesOnlySamplesAppendedBeforeIt) {
  chunk_appender a;
  a.append(1, 1);
  a.append(2, 2);
  auto it = a.iterator();
  EXPECT_TRUE(same_samples({{1, 1}, {2, 2}}, drain(it)));
  a.append(3, 3);
  EXPECT_TRUE(same_samples({{1, 1}, {2, 2}, {3, 3}}, drain(a.iterator())));
}

TEST(ChunkAppender, SealLeavesTheAppenderUnchanged) {
  std::mt19937_64 rng(3);
  auto s = counter_series(rng, 100);
  chunk_appender a = append_all({s.begin(), s.begin() + 50});
  std::string first = a.seal();
  EXPECT_EQ(first, a.seal());
  for (size_t i = 50; i < s.size(); ++i) a.append(s[i].t, s[i].v);
  EXPECT_EQ(a.seal(), append_all(s).seal());
}

TEST(ChunkAppender, ResetEmptiesIt) {
  chunk_appender a = append_all({{1, 1}, {2, 2}});
  a.reset();
  EXPECT_EQ(a.count(), 0);
  EXPECT_FALSE(a.iterator().next());
  a.append(10, 5);
  EXPECT_TRUE(same_samples({{10, 5}}, drain(a.iterator())));
  EXPECT_EQ(a.min_t(), 10);
}

TEST(ChunkAppender, CopiesAreIndependentAndMovesEmptyTheSource) {
  std::mt19937_64 rng(11);
  auto s = gauge_series(rng, 200);
  chunk_appender a = append_all(s);
  chunk_appender copy = a;
  copy.append(s.back().t + 1, 0);
  EXPECT_EQ(a.count(), 200);
  EXPECT_EQ(copy.count(), 201);
  EXPECT_TRUE(same_samples(s, drain(a.iterator())));

  chunk_appender moved = std::move(a);
  EXPECT_EQ(a.count(), 0);  // NOLINT(bugprone-use-after-move): a moved-from appender is empty by contract
  EXPECT_TRUE(same_samples(s, drain(moved.iterator())));
  chunk_appender assigned;
  assigned.append(1, 1);
  assigned = moved;
  EXPECT_TRUE(same_samples(s, drain(assigned.iterator())));
  assigned = std::move(copy);
  EXPECT_EQ(assigned.count(), 201);
}

TEST(ChunkAppender, EmptyAppenderSealsToAnEmptyChunk) {
  chunk_appender a;
  auto v = open_chunk(a.seal());
  ASSERT_TRUE(v.is_ok()) << v.error().message();
  EXPECT_EQ(v->count(), 0);
  EXPECT_FALSE(v->iterator().next());
  std::vector<sample> out;
  v->decode(INT64_MIN, INT64_MAX, out);
  EXPECT_TRUE(out.empty());
}

TEST(ChunkView, DecodeKeepsOnlyTheClosedRange) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    auto s = seed % 2 ? counter_series(rng, 1 + rng() % 150) : random_series(rng, 1 + rng() % 150);
    std::string sealed = append_all(s).seal();
    auto v = open_chunk(sealed);
    ASSERT_TRUE(v.is_ok());
    for (int q = 0; q < 20; ++q) {
      // bounds on, between and outside sample timestamps
      auto pick = [&] {
        const sample& x = s[rng() % s.size()];
        switch (rng() % 4) {
          case 0:
            return x.t;
          case 1:
            return x.t - 1;
          case 2:
            return x.t + 1;
          default:
            return rng() % 2 ? s.front().t - 100 : s.back().t + 100;
        }
      };
      int64_t mint = pick(), maxt = pick();
      std::vector<sample> want;
      for (const auto& x : s)
        if (x.t >= mint && x.t <= maxt) want.push_back(x);
      std::vector<sample> got = {{-1, -1}};  // decode appends
      v->decode(mint, maxt, got);
      want.insert(want.begin(), sample{-1, -1});
      EXPECT_TRUE(same_samples(want, got)) << "range [" << mint << ", " << maxt << "]";
    }
  }
}

}  // namespace
}  // namespace strata::persistence::codec
