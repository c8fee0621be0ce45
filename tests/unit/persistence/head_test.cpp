#include "persistence/head.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

uint64_t constant_hash(const labels&) { return 42; }

double from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

uint64_t to_bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

TEST(Head, CollidingHashesKeepSeriesApart) {
  head h(&constant_hash);  // every label set collides
  h.append({{{{"__name__", "a"}}, {{1, 1}}}, {{{"__name__", "b"}}, {{1, 2}}}, {{{"__name__", "c"}}, {{1, 3}}}});
  h.append({{{{"__name__", "b"}}, {{2, 20}}}});
  EXPECT_EQ(h.series_count(), 3u);
  EXPECT_EQ(h.sample_count(), 4u);
  auto got = h.select({eq("__name__", "b")}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  std::vector<sample> want{{1, 2}, {2, 20}};
  EXPECT_EQ(got[0].samples, want);
  EXPECT_EQ(h.select({}, min_t, max_t).size(), 3u);
}

TEST(Head, SameTimestampKeepsTheFirstWrite) {
  head h;
  h.append({{{{"__name__", "m"}}, {{10, 1}, {20, 2}}}});
  h.append({{{{"__name__", "m"}}, {{10, 100}, {20, 200}, {30, 3}}}});
  auto got = h.select({}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  std::vector<sample> want{{10, 1}, {20, 2}, {30, 3}};
  EXPECT_EQ(got[0].samples, want);
  EXPECT_EQ(h.sample_count(), 3u);
}

TEST(Head, SameTimestampWithinOneBatchKeepsTheFirst) {
  head h;
  h.append({{{{"__name__", "m"}}, {{10, 1}, {10, 2}}}, {{{"__name__", "m"}}, {{10, 3}}}});
  auto got = h.select({}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<sample>{{10, 1}}));
}

TEST(Head, OlderSamplesAreInsertedInOrder) {
  head h;
  h.append({{{{"__name__", "m"}}, {{50, 5}, {10, 1}, {30, 3}}}});
  h.append({{{{"__name__", "m"}}, {{20, 2}, {60, 6}, {0, 0}, {40, 4}}}});
  auto got = h.select({}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  std::vector<sample> want{{0, 0}, {10, 1}, {20, 2}, {30, 3}, {40, 4}, {50, 5}, {60, 6}};
  EXPECT_EQ(got[0].samples, want);
}

TEST(Head, StaleNanIsKeptBitForBit) {
  head h;
  const uint64_t stale = 0x7ff0000000000002ull;
  h.append({{{{"__name__", "m"}}, {{1, from_bits(stale)}, {2, from_bits(0xfff8000000000123ull)}}}});
  h.append({{{{"__name__", "m"}}, {{1, 5.0}}}});  // same timestamp: the stale marker stays
  auto got = h.select({}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].samples.size(), 2u);
  EXPECT_EQ(to_bits(got[0].samples[0].v), stale);
  EXPECT_EQ(to_bits(got[0].samples[1].v), 0xfff8000000000123ull);
}

TEST(Head, SeriesWithoutSamplesAreNotCreated) {
  head h;
  h.append({{{{"__name__", "m"}}, {}}});
  EXPECT_EQ(h.series_count(), 0u);
  EXPECT_TRUE(h.select({}, min_t, max_t).empty());
}

}  // namespace
}  // namespace strata::persistence
