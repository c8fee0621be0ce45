// A shard's answer to a rollup bucket selection, over a real shard_store.
#include "actors/bucket_reply.hpp"

#include <gtest/gtest.h>

#include "persistence/kv/store.hpp"

namespace strata::actors {
namespace {

constexpr int64_t min_ms = 60'000;
constexpr int64_t t0 = 1'700'000'000'000 / (60 * min_ms) * (60 * min_ms);  // on a whole hour

std::unique_ptr<persistence::shard_store> open_memory() {
  persistence::store_options o;
  o.kv = std::shared_ptr<persistence::kv::store>(persistence::kv::make_memory_store());
  o.retention.raw_ms = 30 * persistence::day_ms;
  auto s = persistence::shard_store::open(o);
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return std::move(*s);
}

matchers by_name(const std::string& re) { return {*matcher::make(matcher::op::re, "__name__", re)}; }

// `aligned`: every 15 s on whole seconds (each minute starts on its edge);
// else 1.234 s later.
series scrapes(const std::string& name, bool aligned, int from, int to) {
  series s{{{"__name__", name}}, {}};
  for (int k = from; k < to; ++k) s.samples.push_back({t0 + (aligned ? 0 : 1234) + k * 15'000, double(k)});
  return s;
}

const query::bucket_series* find(const std::vector<query::bucket_series>& v, const std::string& name) {
  for (const auto& s : v)
    if (label_value(s.lbls, "__name__") == name) return &s;
  return nullptr;
}

TEST(BucketReply, EdgeBucketsAndUnsealedSamplesComeRaw) {
  auto store = open_memory();
  ASSERT_TRUE(store->append({scrapes("jit", false, 0, 120), scrapes("edge", true, 0, 120)}).is_ok());
  ASSERT_TRUE(store->flush().is_ok());  // 30 minutes sealed and rolled up
  ASSERT_TRUE(store->append({scrapes("jit", false, 120, 160), scrapes("edge", true, 120, 160)}).is_ok());
  auto bytes = answer_buckets(*store, by_name(".*"), t0, t0 + 59 * min_ms, min_ms, -1);
  ASSERT_TRUE(bytes.is_ok()) << bytes.error().message();
  size_t counted = 0;
  auto got = decode_bucket_reply(*bytes, &counted);
  ASSERT_TRUE(got.is_ok()) << got.error().message();
  ASSERT_EQ(got->size(), 2u);
  const auto* jit = find(*got, "jit");
  ASSERT_NE(jit, nullptr);
  ASSERT_EQ(jit->buckets.size(), 30u);
  for (size_t i = 0; i < jit->buckets.size(); ++i) {
    const auto& b = jit->buckets[i];
    EXPECT_EQ(b.start, t0 + static_cast<int64_t>(i) * min_ms);
    EXPECT_EQ(b.count, 4u);
    EXPECT_EQ(b.increase, 3);
    ASSERT_NE(b.sketch, nullptr);
    EXPECT_NEAR(b.sketch->quantile(1), b.max, 0);
  }
  ASSERT_EQ(jit->samples.size(), 40u) << "the unsealed samples";
  EXPECT_EQ(jit->samples.front().t, t0 + 1234 + 120 * 15'000);
  const auto* edge = find(*got, "edge");
  ASSERT_NE(edge, nullptr);
  EXPECT_TRUE(edge->buckets.empty()) << "every bucket starts with a sample on its edge";
  ASSERT_EQ(edge->samples.size(), 160u);
  EXPECT_EQ(counted, 30u + 40u + 160u);
}

// Windows that are whole buckets have their edges at known starts: only a
// bucket there that begins with a sample on its start comes raw; the rest
// stand in whole, also for series scraped on the minute.
TEST(BucketReply, OnlyBucketsOnAWindowsEdgeComeRaw) {
  auto store = open_memory();
  ASSERT_TRUE(store->append({scrapes("edge", true, 0, 120)}).is_ok());
  ASSERT_TRUE(store->flush().is_ok());  // 30 one-minute buckets of 4 samples, each with one on its start
  for (int64_t edge_step : {10 * min_ms, 30 * min_ms}) {
    auto bytes = answer_buckets(*store, by_name("edge"), t0, t0 + 29 * min_ms, min_ms, edge_step);
    ASSERT_TRUE(bytes.is_ok()) << bytes.error().message();
    auto got = decode_bucket_reply(*bytes, nullptr);
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    ASSERT_EQ(got->size(), 1u);
    const auto& s = (*got)[0];
    std::vector<int64_t> raw_minutes, bucket_minutes;
    for (const auto& x : s.samples)
      if (raw_minutes.empty() || raw_minutes.back() != (x.t - t0) / min_ms) raw_minutes.push_back((x.t - t0) / min_ms);
    for (const auto& b : s.buckets) bucket_minutes.push_back((b.start - t0) / min_ms);
    if (edge_step == 10 * min_ms)
      EXPECT_EQ(raw_minutes, (std::vector<int64_t>{0, 10, 20})) << "edges of windows 10 minutes apart";
    else
      EXPECT_EQ(raw_minutes, (std::vector<int64_t>{0})) << "one window: its start";
    EXPECT_EQ(bucket_minutes.size() + raw_minutes.size(), 30u);
    EXPECT_EQ(s.samples.size(), 4 * raw_minutes.size());
  }
}

TEST(BucketReply, ReachesASampleOnTheLastWindowsEnd) {
  auto store = open_memory();
  ASSERT_TRUE(store->append({scrapes("edge", true, 0, 12)}).is_ok());
  // Bucket starts [t0, t0]: raw samples up to t0 + 1 m, inclusive.
  auto bytes = answer_buckets(*store, by_name("edge"), t0, t0, min_ms, -1);
  ASSERT_TRUE(bytes.is_ok());
  auto got = decode_bucket_reply(*bytes, nullptr);
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got->size(), 1u);
  ASSERT_EQ((*got)[0].samples.size(), 5u);
  EXPECT_EQ((*got)[0].samples.back().t, t0 + min_ms);
}

TEST(BucketReply, RejectsAWidthThatIsNoTier) {
  auto store = open_memory();
  auto r = answer_buckets(*store, by_name(".*"), t0, t0, 2 * min_ms, -1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("window_ms 120000"), std::string::npos) << r.error().message();
}

TEST(BucketReply, DamagedBytesAreCorruption) {
  auto store = open_memory();
  ASSERT_TRUE(store->append({scrapes("jit", false, 0, 40)}).is_ok());
  ASSERT_TRUE(store->flush().is_ok());
  auto bytes = answer_buckets(*store, by_name(".*"), t0, t0 + 9 * min_ms, min_ms, -1);
  ASSERT_TRUE(bytes.is_ok());
  for (size_t cut : {size_t{2}, size_t{6}, bytes->size() - 1}) {
    auto r = decode_bucket_reply(std::string_view(*bytes).substr(0, cut), nullptr);
    ASSERT_FALSE(r.is_ok()) << "cut at " << cut;
    EXPECT_EQ(r.error().code(), strata_errc::corruption) << r.error().message();
  }
  auto r = decode_bucket_reply(*bytes + "x", nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.error().message().find("1 bytes after the last record"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace strata::actors
