// The packed group (compaction's format for the series of one metric name in
// one block): round trips, one test per way its bytes can break, what a store
// keeps when one group is damaged, and stores of the older packed-chunk
// formats read and compacted.
#include "persistence/packed_group.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <random>

#include "persistence/keys.hpp"
#include "persistence/packed_chunk.hpp"
#include "persistence/shard_store.hpp"
#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
constexpr int64_t block = 1'699'999'200'000;  // a raw block start (a multiple of 2 h)

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Three series of different kinds: a counter, a float sum, a gauge with NaN and -0.0.
std::vector<group_member> members() {
  std::mt19937_64 rng(3);
  std::vector<group_member> m{{2, {}}, {9, {}}, {300, {}}};
  double c = 0, f = 0;
  for (int i = 0; i < 480; ++i) {
    int64_t t = block + i * 15'000 + static_cast<int64_t>(rng() % 4);
    c += static_cast<double>(rng() % 100);
    f += std::ldexp(static_cast<double>(rng() >> 11), -45);
    m[0].samples.push_back({t, c});
    m[1].samples.push_back({t, f});
    if (i % 2 == 0) m[2].samples.push_back({t + 7, i % 3 == 0 ? std::nan("") : (i % 5 == 0 ? -0.0 : 1.25 * i)});
  }
  return m;
}

std::vector<sample> read_member(std::string_view v, uint32_t sn, int64_t mint = lo, int64_t maxt = hi) {
  auto d = read_group_directory(v, block);
  EXPECT_TRUE(d.is_ok()) << d.error().message();
  if (!d) return {};
  const auto* e = find_member(*d, sn);
  if (!e) return {};
  auto stream = unpack_group(v, *d);
  EXPECT_TRUE(stream.is_ok());
  std::vector<sample> out;
  auto st = decode_group_member(*stream, *e, mint, maxt, out);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return out;
}

void expect_same(const std::vector<sample>& a, const std::vector<sample>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].t, b[i].t) << i;
    EXPECT_EQ(bits(a[i].v), bits(b[i].v)) << i;
  }
}

TEST(PackedGroup, EveryMemberRoundTripsBitForBitAndOthersAreAbsent) {
  auto m = members();
  auto v = encode_packed_group(block, m);
  EXPECT_EQ(static_cast<uint8_t>(v[0]), 0x52);
  for (const auto& x : m) expect_same(read_member(v, x.sn), x.samples);
  EXPECT_TRUE(read_member(v, 3).empty());
  EXPECT_TRUE(read_member(v, 301).empty());
  // A time range cuts the member's samples.
  auto part = read_member(v, 2, block + 60'000, block + 120'000);
  ASSERT_FALSE(part.empty());
  EXPECT_GE(part.front().t, block + 60'000);
  EXPECT_LE(part.back().t, block + 120'000);
}

TEST(PackedGroup, OneFrameIsSmallerThanAPackedChunkPerSeries) {
  // Series scraped together share their timestamps, and quiet histogram buckets their counts.
  std::vector<group_member> m;
  std::mt19937_64 rng(5);
  for (uint32_t sn = 0; sn < 20; ++sn) m.push_back({sn, {}});
  double c = 0;
  for (int i = 0; i < 480; ++i) {
    int64_t t = block + i * 15'000 + static_cast<int64_t>(rng() % 4);
    c += static_cast<double>(rng() % 3);
    for (auto& x : m) x.samples.push_back({t, x.sn < 10 ? c : c + x.sn});
  }
  size_t apart = 0;
  for (const auto& x : m) apart += encode_packed_chunk(x.samples).size();
  EXPECT_LT(encode_packed_group(block, m).size(), apart / 3);
}

status directory_of(const std::string& v) {
  auto d = read_group_directory(v, block);
  return d ? status::ok() : d.error();
}

void expect_corrupt(const std::string& v, const std::string& why) {
  auto st = directory_of(v);
  ASSERT_FALSE(st.is_ok()) << why;
  EXPECT_EQ(st.code(), strata_errc::corruption);
  EXPECT_NE(st.message().find(why), std::string::npos) << st.message();
}

// A checksum over the edited bytes, so that the check after it is reached.
std::string resum(std::string v) {
  auto s = static_cast<uint32_t>(XXH3_64bits(v.data(), v.size() - 4));
  std::memcpy(v.data() + v.size() - 4, &s, 4);
  return v;
}

TEST(PackedGroupDamage, TruncatedIsCorrupt) {
  auto v = encode_packed_group(block, members());
  expect_corrupt(v.substr(0, v.size() - 1), "checksum mismatch");
  expect_corrupt(v.substr(0, 5), "shorter than the smallest group");
  expect_corrupt("", "shorter than the smallest group");
}

TEST(PackedGroupDamage, BadChecksumIsCorrupt) {
  auto v = encode_packed_group(block, members());
  v[v.size() / 2] ^= 0x01;
  expect_corrupt(v, "checksum mismatch");
}

TEST(PackedGroupDamage, UnknownFormatIsCorrupt) {
  auto v = encode_packed_group(block, members());
  v[0] = 0x53;
  expect_corrupt(resum(v), "unknown format byte 83");
}

TEST(PackedGroupDamage, ADirectoryThatDisagreesWithTheStreamIsCorrupt) {
  auto v = encode_packed_group(block, members());
  v[1] = 4;  // four series where three entries follow: the stream size no longer adds up
  auto st = directory_of(resum(v));
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), strata_errc::corruption);
}

TEST(PackedGroupDamage, AFrameThatDoesNotDecompressIsCorrupt) {
  auto v = encode_packed_group(block, members());
  auto d = read_group_directory(v, block);
  ASSERT_TRUE(d.is_ok());
  v[d->frame_at + 4] ^= 0x40;
  v = resum(v);
  d = read_group_directory(v, block);
  ASSERT_TRUE(d.is_ok());  // the directory is intact
  auto s = unpack_group(v, *d);
  if (s.is_ok()) {  // the frame may still decompress to the right length: then a section breaks
    std::vector<sample> out;
    bool any_bad = false;
    for (const auto& e : d->entries) any_bad |= !decode_group_member(*s, e, lo, hi, out).is_ok();
    auto m = members();
    bool same = !any_bad;
    if (same) {
      size_t at = 0;
      for (const auto& x : m)
        for (const auto& y : x.samples) same = same && at < out.size() && bits(out[at++].v) == bits(y.v);
    }
    EXPECT_FALSE(same);
  } else {
    EXPECT_EQ(s.error().code(), strata_errc::corruption);
  }
}

// --- the store --------------------------------------------------------------

store_options memory_options(std::shared_ptr<kv::store> kv) {
  store_options o;
  o.kv = std::move(kv);
  o.retention.raw_ms = 3650 * day_ms;
  o.ooo_window_ms = day_ms;
  return o;
}

labels metric(const std::string& name, const std::string& id) { return {{"__name__", name}, {"id", id}}; }

write_batch batch(int64_t from, int n) {
  write_batch b;
  for (const char* name : {"m", "n"})
    for (int id = 0; id < 3; ++id) {
      series s{metric(name, std::to_string(id)), {}};
      std::mt19937_64 rng(static_cast<uint64_t>(id * 2 + (name[0] == 'm')));
      double v = 100;  // a float sum: noisy mantissas, 8 bytes a value
      for (int i = 0; i < n; ++i) s.samples.push_back({from + i * 15'000, v += std::ldexp(static_cast<double>(rng() >> 11), -45)});
      b.push_back(std::move(s));
    }
  return b;
}

size_t count(const shard_store& s, const std::string& name) {
  size_t n = 0;
  for (const auto& x : s.select({eq("__name__", name)}, min_t, max_t)) n += x.samples.size();
  return n;
}

// Two blocks of two metric names, compacted: four groups.
class GroupDamage : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    kv_ = std::shared_ptr<kv::store>(kv::make_memory_store());
    auto s = shard_store::open(memory_options(kv_));
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->append(batch(block, 960)).is_ok());  // 480 in this block, 480 in the next
    ASSERT_TRUE((*s)->compact().is_ok());
  }
  std::shared_ptr<kv::store> kv_;
};

TEST_P(GroupDamage, OnlyTheDamagedGroupIsLeftOutAndCompactionNamesIt) {
  // The segments of the part of "m" in the first block: series 0 to 2, keyed by the last.
  const std::string from = group_key(block, group_hash("m"), 2, 0), to = group_key(block, group_hash("m"), 3, 0);
  std::vector<std::string> segments;
  ASSERT_TRUE(kv_->scan(kv::table::chunks, from, to, [&](std::string_view, std::string_view v) {
                    segments.emplace_back(v);
                    return true;
                  }).is_ok());
  ASSERT_GE(segments.size(), 2u) << "a part of 3 x 480 samples takes more than one segment";
  for (const auto& x : segments) EXPECT_LE(x.size(), group_segment_bytes);
  std::string v;
  for (const auto& x : segments) v += x;
  const std::string how = GetParam();
  std::vector<kv::op> ops{{kv::op::kind::erase_range, kv::table::chunks, from, to}};
  if (how == "truncated") segments.pop_back();  // the last segment is lost
  if (how == "checksum") segments[0][segments[0].size() / 2] ^= 0x08;
  if (how == "version") {
    v = resum(std::string(1, '\x53') + v.substr(1));
    for (size_t i = 0; i < segments.size(); ++i) segments[i] = v.substr(i * group_segment_bytes, group_segment_bytes);
  }
  std::deque<std::string> keys;
  for (size_t i = 0; i < segments.size(); ++i)
    ops.push_back({kv::op::kind::put, kv::table::chunks,
                   keys.emplace_back(group_key(block, group_hash("m"), 2, static_cast<uint16_t>(i))), segments[i]});
  ASSERT_TRUE(kv_->commit(ops).is_ok());
  auto s = shard_store::open(memory_options(kv_));
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  EXPECT_EQ(count(**s, "m"), 3u * 480) << "the other block of m survives";
  EXPECT_EQ(count(**s, "n"), 3u * 960) << "the other name survives whole";
  auto c = (*s)->compact();  // nothing loose: the damaged group is not rewritten
  ASSERT_TRUE(c.is_ok());
  // A late sample for m in the damaged block makes compaction rewrite it, which fails naming it.
  ASSERT_TRUE((*s)->append({{metric("m", "0"), {{block + 2 * hour_ms - 1, 1.0}}}}).is_ok());
  c = (*s)->compact();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.error().code(), strata_errc::corruption);
  EXPECT_NE(c.error().message().find("packed group of block " + std::to_string(block)), std::string::npos)
      << c.error().message();
  EXPECT_EQ(count(**s, "n"), 3u * 960);
}

INSTANTIATE_TEST_SUITE_P(Ways, GroupDamage, ::testing::Values("truncated", "checksum", "version"));

// Stores compacted by older builds hold packed chunks (0x51, 0x50) under
// per-series keys: they read as they are, and the next compaction turns them
// into groups.
TEST(OlderFormats, PackedChunksOfEitherFormatReadAndCompactIntoGroups) {
  for (bool v1 : {false, true}) {
    auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
    {
      auto s = shard_store::open(memory_options(kv));
      ASSERT_TRUE(s.is_ok());
      ASSERT_TRUE((*s)->append(batch(block, 200)).is_ok());
      ASSERT_TRUE((*s)->flush().is_ok());
    }
    // Rewrite every chunk as a packed chunk, as compaction did before groups.
    std::vector<kv::op> ops;
    std::deque<std::string> keep;
    ASSERT_TRUE(kv->scan(kv::table::chunks, "", "", [&](std::string_view k, std::string_view v) {
                    std::vector<sample> out;
                    EXPECT_TRUE(decode_any_chunk(v, lo, hi, out).is_ok());
                    ops.push_back({kv::op::kind::put, kv::table::chunks, keep.emplace_back(k),
                                   keep.emplace_back(v1 ? encode_packed_chunk_v1(out) : encode_packed_chunk(out))});
                    return true;
                  }).is_ok());
    ASSERT_FALSE(ops.empty());
    ASSERT_TRUE(kv->commit(ops).is_ok());
    auto s = shard_store::open(memory_options(kv));
    ASSERT_TRUE(s.is_ok());
    auto want = (*s)->select({}, min_t, max_t);
    ASSERT_EQ(want.size(), 6u);
    for (const auto& x : want) EXPECT_EQ(x.samples.size(), 200u);
    ASSERT_TRUE((*s)->compact().is_ok());
    size_t loose = 0, groups = 0;
    ASSERT_TRUE(kv->scan(kv::table::chunks, "", "", [&](std::string_view k, std::string_view) {
                    if (static_cast<uint8_t>(k[0]) != group_space) ++loose;
                    else if (auto d = decode_group_key(k); d && d->segment == 0) ++groups;  // a part's first segment
                    return true;
                  }).is_ok());
    EXPECT_EQ(loose, 0u);
    EXPECT_EQ(groups, 2u);
    auto got = (*s)->select({}, min_t, max_t);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) expect_same(got[i].samples, want[i].samples);
  }
}

// Retention deletes a compacted raw block as a key range, groups included.
TEST(GroupRetention, ExpiredGroupsGoWithTheirBlock) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  o.retention.raw_ms = 2 * hour_ms;
  auto s = shard_store::open(o);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->append(batch(block, 960)).is_ok());
  ASSERT_TRUE((*s)->compact().is_ok());
  ASSERT_TRUE((*s)->maintain(block + 4 * hour_ms + 1).is_ok());  // the first block is past retention
  EXPECT_EQ((*s)->stats().blocks_deleted, 1u);
  std::vector<int64_t> blocks;
  ASSERT_TRUE(kv->scan(kv::table::chunks, "", "", [&](std::string_view k, std::string_view) {
                  auto d = decode_group_key(k);
                  EXPECT_TRUE(d.is_ok());
                  if (d && d->segment == 0) blocks.push_back(d->block);
                  return true;
                }).is_ok());
  EXPECT_EQ(blocks, (std::vector<int64_t>{block + 2 * hour_ms, block + 2 * hour_ms}));
  EXPECT_EQ(count(**s, "m"), 3u * 480);
}

}  // namespace
}  // namespace strata::persistence
