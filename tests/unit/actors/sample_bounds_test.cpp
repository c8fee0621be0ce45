// --max-sample-future and --max-sample-age: drop_out_of_bounds, a plain
// function the collector applies to every write before routing it.
#include <gtest/gtest.h>

#include "actors/collector.hpp"

namespace strata::actors {
namespace {

constexpr int64_t now = 1'700'000'000'000;
constexpr int64_t minute = 60'000;

series make(std::string name, std::vector<int64_t> ts) {
  series s{{{"__name__", std::move(name)}}, {}};
  for (auto t : ts) s.samples.push_back({t, 1});
  return s;
}

TEST(SampleBounds, SamplesInsideTheBoundsPass) {
  write_batch b{make("a", {now - 59 * minute, now, now + 10 * minute})};
  uint64_t counts[2] = {9, 9};
  auto st = drop_out_of_bounds(b, now, 10 * minute, 60 * minute, counts);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(b[0].samples.size(), 3u);
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 0u);
}

TEST(SampleBounds, FutureSampleIsDroppedAndNamedWithTheLimit) {
  write_batch b{make("ok", {now}), make("late", {now, now + 11 * minute, now + 20 * minute})};
  uint64_t counts[2] = {0, 0};
  auto st = drop_out_of_bounds(b, now, 10 * minute, 0, counts);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), strata_errc::bad_request);
  EXPECT_EQ(counts[0], 2u);
  EXPECT_NE(st.message().find("2 samples too far in the future"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("{__name__=\"late\"}"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("11m ahead"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("limit of 10m (--max-sample-future)"), std::string::npos) << st.message();
  ASSERT_EQ(b.size(), 2u);  // the rest is kept
  EXPECT_EQ(b[1].samples.size(), 1u);
  EXPECT_EQ(b[1].samples[0].t, now);
}

TEST(SampleBounds, OldSampleIsDroppedAndSeriesLeftEmptyGoes) {
  write_batch b{make("old", {now - 2 * 60 * minute}), make("ok", {now})};
  uint64_t counts[2] = {0, 0};
  auto st = drop_out_of_bounds(b, now, 0, 60 * minute, counts);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(counts[1], 1u);
  EXPECT_NE(st.message().find("{__name__=\"old\"}"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("2h behind"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("limit of 1h (--max-sample-age)"), std::string::npos) << st.message();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].lbls[0].value, "ok");
}

TEST(SampleBounds, ZeroMeansNoBound) {
  write_batch b{make("a", {0, now + 365 * 24 * 60 * minute})};
  EXPECT_TRUE(drop_out_of_bounds(b, now, 0, 0).is_ok());
  EXPECT_EQ(b[0].samples.size(), 2u);
}

}  // namespace
}  // namespace strata::actors
