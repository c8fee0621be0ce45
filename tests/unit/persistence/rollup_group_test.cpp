// The rollup group (compaction's format for the rollup records of one metric
// name in one block of a rollup tier): round trips, one test per way its
// bytes can break, what a store keeps when one part is damaged, reads that
// merge a group with records sealed after it, retention, and loose records
// of both record versions read and compacted.
#include "persistence/rollup_group.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <random>

#include "persistence/keys.hpp"
#include "persistence/shard_store.hpp"
#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

constexpr int64_t block = 1'699'999'200'000;  // a raw and 1m block start (a multiple of 2 h)

// Three series of different kinds, as 1m buckets: a counter, a float sum, a gauge with NaN and -0.0.
std::vector<rollup_member> members() {
  std::mt19937_64 rng(3);
  std::vector<sample> s[3];
  double c = 0, f = 0;
  for (int i = 0; i < 480; ++i) {
    int64_t t = block + i * 15'000 + static_cast<int64_t>(rng() % 4);
    c += static_cast<double>(rng() % 100);
    f += std::ldexp(static_cast<double>(rng() >> 11), -45);
    s[0].push_back({t, c});
    s[1].push_back({t, f});
    if (i % 2 == 0) s[2].push_back({t + 7, i % 3 == 0 ? std::nan("") : (i % 5 == 0 ? -0.0 : 1.25 * i)});
  }
  std::vector<rollup_member> m{{2, {}}, {9, {}}, {300, {}}};
  for (int i = 0; i < 3; ++i) codec::fold(s[i], minute_ms, m[i].buckets);
  return m;
}

result<bucket_run> read_member(std::string_view v, uint32_t sn) {
  auto d = read_rollup_group_directory(v);
  if (!d) return d.error();
  const auto* e = find_rollup_member(*d, sn);
  if (!e) return error(strata_errc::not_found, "absent");
  auto stream = unpack_rollup_group(v, *d);
  if (!stream) return stream.error();
  return decode_rollup_member(*stream, *d, *e);
}

void expect_same(const bucket_run& a, const bucket_run& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first) << i;
    EXPECT_TRUE(a[i].second == b[i].second) << "bucket " << i << " differs";
  }
}

TEST(RollupGroup, EveryMemberRoundTripsBitForBitAndOthersAreAbsent) {
  auto m = members();
  auto v = encode_rollup_group(minute_ms, m);
  EXPECT_EQ(static_cast<uint8_t>(v[0]), 0x53);
  for (const auto& x : m) {
    auto got = read_member(v, x.sn);
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    expect_same(*got, x.buckets);
  }
  EXPECT_EQ(read_member(v, 3).error().code(), strata_errc::not_found);
  EXPECT_EQ(read_member(v, 301).error().code(), strata_errc::not_found);
}

TEST(RollupGroup, OneFrameIsSmallerThanARecordPerSeries) {
  // Series scraped together share their bucket times and counts; quiet histogram buckets their values.
  std::vector<rollup_member> m;
  std::mt19937_64 rng(5);
  std::vector<std::vector<sample>> s(20);
  double c = 0;
  for (int i = 0; i < 480; ++i) {
    int64_t t = block + i * 15'000 + static_cast<int64_t>(rng() % 4);
    c += static_cast<double>(rng() % 3);
    for (size_t k = 0; k < s.size(); ++k) s[k].push_back({t, k < 10 ? c : c + static_cast<double>(k)});
  }
  size_t apart = 0;
  for (uint32_t sn = 0; sn < s.size(); ++sn) {
    m.push_back({sn, {}});
    codec::fold(s[sn], minute_ms, m.back().buckets);
    apart += codec::encode_buckets(minute_ms, m.back().buckets).size();
  }
  EXPECT_LT(encode_rollup_group(minute_ms, m).size(), apart / 3);
}

void expect_corrupt(const std::string& v, const std::string& why) {
  auto d = read_rollup_group_directory(v);
  ASSERT_FALSE(d.is_ok()) << why;
  EXPECT_EQ(d.error().code(), strata_errc::corruption);
  EXPECT_NE(d.error().message().find(why), std::string::npos) << d.error().message();
}

// A checksum over the edited bytes, so that the check after it is reached.
std::string resum(std::string v) {
  auto s = static_cast<uint32_t>(XXH3_64bits(v.data(), v.size() - 4));
  std::memcpy(v.data() + v.size() - 4, &s, 4);
  return v;
}

TEST(RollupGroupDamage, TruncatedIsCorrupt) {
  auto v = encode_rollup_group(minute_ms, members());
  expect_corrupt(v.substr(0, v.size() - 1), "checksum mismatch");
  expect_corrupt(v.substr(0, 5), "shorter than the smallest group");
  expect_corrupt("", "shorter than the smallest group");
}

TEST(RollupGroupDamage, BadChecksumIsCorrupt) {
  auto v = encode_rollup_group(minute_ms, members());
  v[v.size() / 2] ^= 0x01;
  expect_corrupt(v, "checksum mismatch");
}

TEST(RollupGroupDamage, UnknownFormatIsCorrupt) {
  auto v = encode_rollup_group(minute_ms, members());
  v[0] = 0x54;
  expect_corrupt(resum(v), "unknown format byte 84");
  v[0] = 0x52;  // a packed group's format byte is not a rollup group's
  expect_corrupt(resum(v), "unknown format byte 82");
}

TEST(RollupGroupDamage, ADirectoryThatDisagreesWithTheStreamIsCorrupt) {
  auto v = encode_rollup_group(minute_ms, members());
  // Byte 1-3: the window (60,000, three varint bytes); byte 4: the series count.
  ASSERT_EQ(v[4], 3);
  v[4] = 4;  // four series where three entries follow: the stream size no longer adds up
  auto d = read_rollup_group_directory(resum(v));
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.error().code(), strata_errc::corruption);
}

TEST(RollupGroupDamage, ASectionOfAnotherWindowIsCorrupt) {
  auto m = members();
  std::string v = encode_rollup_group(minute_ms, m);
  // The same sections under a 5-minute window: each section names its own 1-minute window.
  std::string w = encode_rollup_group(5 * minute_ms, m);
  auto d = read_rollup_group_directory(w);
  ASSERT_TRUE(d.is_ok());
  auto stream = unpack_rollup_group(w, *d);
  ASSERT_TRUE(stream.is_ok());
  auto vd = read_rollup_group_directory(v);
  ASSERT_TRUE(vd.is_ok());
  vd->window_ms = 5 * minute_ms;  // as if the group's window said 5 minutes over 1-minute sections
  auto vs = unpack_rollup_group(v, *vd);
  ASSERT_TRUE(vs.is_ok());
  auto r = decode_rollup_member(*vs, *vd, vd->entries[0]);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.error().message().find("a section of window 60000 in a group of 300000"), std::string::npos)
      << r.error().message();
}

TEST(RollupGroupDamage, AFrameThatDoesNotDecompressIsCorrupt) {
  auto v = encode_rollup_group(minute_ms, members());
  auto d = read_rollup_group_directory(v);
  ASSERT_TRUE(d.is_ok());
  v[d->frame_at + 6] ^= 0x40;
  v = resum(v);
  d = read_rollup_group_directory(v);
  ASSERT_TRUE(d.is_ok());  // the directory is intact
  auto s = unpack_rollup_group(v, *d);
  if (s.is_ok()) {  // the frame may still decompress to the right length: then a section breaks or differs
    auto m = members();
    bool same = true;
    for (size_t i = 0; i < m.size(); ++i) {
      auto r = decode_rollup_member(*s, *d, d->entries[i]);
      same = same && r.is_ok() && r->size() == m[i].buckets.size();
      for (size_t j = 0; same && j < r->size(); ++j) same = (*r)[j].second == m[i].buckets[j].second;
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
  o.retention.m1_ms = 3650 * day_ms;
  o.retention.m5_ms = 3650 * day_ms;
  o.retention.h1_ms = 3650 * day_ms;
  o.ooo_window_ms = day_ms;
  return o;
}

labels metric(const std::string& name, const std::string& id) { return {{"__name__", name}, {"id", id}}; }

// Samples of two names, three series each, every 15 s from `from`: counters for "m", float sums for "n".
write_batch batch(int64_t from, int n, uint64_t seed = 0) {
  write_batch b;
  for (const char* name : {"m", "n"})
    for (int id = 0; id < 3; ++id) {
      series s{metric(name, std::to_string(id)), {}};
      std::mt19937_64 rng(seed * 10 + static_cast<uint64_t>(id * 2 + (name[0] == 'm')));
      double v = 100;
      for (int i = 0; i < n; ++i) {
        v += name[0] == 'm' ? static_cast<double>(rng() % 50) : std::ldexp(static_cast<double>(rng() >> 11), -45);
        s.samples.push_back({from + i * 15'000 + static_cast<int64_t>(rng() % 5), v});
      }
      b.push_back(std::move(s));
    }
  return b;
}

std::vector<bucket_series> buckets(const shard_store& s, tier t, const std::string& name = "") {
  matchers ms;
  if (!name.empty()) ms.push_back(eq("__name__", name));
  return s.select_buckets(ms, min_t, max_t, t);
}

void expect_same(const std::vector<bucket_series>& a, const std::vector<bucket_series>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].lbls, b[i].lbls);
    expect_same(a[i].buckets, b[i].buckets);
  }
}

struct table_counts {
  size_t loose = 0, parts = 0;
};
table_counts rollup_keys(kv::store& kv) {
  table_counts c;
  EXPECT_TRUE(kv.scan(kv::table::rollups, "", "", [&](std::string_view k, std::string_view) {
                  if (static_cast<uint8_t>(k[0]) != group_space) ++c.loose;
                  else if (auto d = decode_rollup_group_key(k); d && d->segment == 0) ++c.parts;
                  return true;
                }).is_ok());
  return c;
}

TEST(RollupGroupStore, SelectBucketsOverAGroupedBlockEqualsTheUngroupedAnswer) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->append(batch(block, 960)).is_ok());  // 4 h: two 1m blocks
  ASSERT_TRUE((*s)->flush().is_ok());
  std::vector<bucket_series> before[3];
  for (auto t : rollup_tiers) {
    before[static_cast<int>(t) - 1] = buckets(**s, t);
    ASSERT_EQ(before[static_cast<int>(t) - 1].size(), 6u);
  }
  const size_t loose = rollup_keys(*kv).loose;  // whole records and pieces
  auto cs = (*s)->compact();
  ASSERT_TRUE(cs.is_ok());
  // The 4 h cross midnight: per series two 1m blocks, two 5m (1-day blocks), one 1h (7 days).
  EXPECT_EQ(cs->rollups_before, loose);
  EXPECT_EQ(cs->rollups_after, 2u * 5);  // per name, one part per block
  auto c = rollup_keys(*kv);
  EXPECT_EQ(c.loose, 0u);
  EXPECT_EQ(c.parts, 10u);
  for (auto t : rollup_tiers) expect_same(buckets(**s, t), before[static_cast<int>(t) - 1]);
  // A time range inside a block, and after a restart (the open reads the directories).
  auto reopened = shard_store::open(memory_options(kv));
  ASSERT_TRUE(reopened.is_ok());
  for (auto t : rollup_tiers) expect_same(buckets(**reopened, t), before[static_cast<int>(t) - 1]);
  auto some = (*reopened)->select_buckets({eq("__name__", "m")}, block + 30 * minute_ms, block + 150 * minute_ms - 1,
                                          tier::m1);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(some[0].buckets.size(), 120u);
  EXPECT_EQ((*reopened)->select_labels({}, block, block + hour_ms).size(), 6u);
}

// Samples sealed into a grouped block after compaction: the record the seal
// writes holds the group's buckets and the new ones, and wins over the
// group; the next compaction folds it back in. Compared with a store that
// was never compacted.
TEST(RollupGroupStore, SamplesSealedAfterCompactionMergeWithTheGroup) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto plain = shard_store::open(memory_options(std::shared_ptr<kv::store>(kv::make_memory_store())));
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok() && plain.is_ok());
  for (auto* x : {&*s, &*plain}) ASSERT_TRUE((*x)->append(batch(block, 300)).is_ok());
  ASSERT_TRUE((*s)->compact().is_ok());
  ASSERT_TRUE((*plain)->flush().is_ok());
  // Later samples in the same blocks, a late one inside a grouped 1m window, and a new series.
  write_batch more = batch(block + 300 * 15'000, 200, 1);
  more[0].samples.push_back({block + 10 * 15'000 + 7, 1e9});
  more.push_back({metric("m", "new"), {{block + 61 * minute_ms, 5.0}}});
  for (auto* x : {&*s, &*plain}) {
    ASSERT_TRUE((*x)->append(more).is_ok());
    ASSERT_TRUE((*x)->flush().is_ok());
  }
  EXPECT_GT(rollup_keys(*kv).loose, 0u);
  for (auto t : rollup_tiers) expect_same(buckets(**s, t), buckets(**plain, t));
  auto cs = (*s)->compact();
  ASSERT_TRUE(cs.is_ok());
  EXPECT_EQ(rollup_keys(*kv).loose, 0u);
  for (auto t : rollup_tiers) expect_same(buckets(**s, t), buckets(**plain, t));
  auto again = (*s)->compact();  // nothing loose: nothing rewritten
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->rollups_before, 0u);
  EXPECT_EQ(again->rollups_after, 0u);
}

// One name of many series fills several parts; records sealed later for
// series before, inside and after those parts (and a new series) are merged
// into them in series order. Compared with a store that was never compacted.
TEST(RollupGroupStore, LooseRecordsMergeIntoANameOfManyParts) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto plain = shard_store::open(memory_options(std::shared_ptr<kv::store>(kv::make_memory_store())));
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok() && plain.is_ok());
  auto wide = [](int64_t from, int n, int ids) {  // ids series of "w", a sample a minute
    write_batch b;
    for (int id = 0; id < ids; ++id) {
      series x{metric("w", std::to_string(1000 + id)), {}};
      for (int i = 0; i < n; ++i) x.samples.push_back({from + i * minute_ms + id, static_cast<double>(id * i % 97)});
      b.push_back(std::move(x));
    }
    return b;
  };
  for (auto* x : {&*s, &*plain}) ASSERT_TRUE((*x)->append(wide(block, 100, 300)).is_ok());
  ASSERT_TRUE((*s)->compact().is_ok());
  ASSERT_TRUE((*plain)->flush().is_ok());
  size_t parts = 0;
  ASSERT_TRUE(kv->scan(kv::table::rollups, rollup_group_prefix(tier::m1, block, group_hash("w")),
                       rollup_group_prefix(tier::m1, block, group_hash("w")) + std::string(6, '\xff'),
                       [&](std::string_view k, std::string_view) {
                         if (auto d = decode_rollup_group_key(k); d && d->segment == 0) ++parts;
                         return true;
                       }).is_ok());
  EXPECT_GE(parts, 3u);  // 300 series of 100 1m buckets
  write_batch more;
  for (int id : {0, 150, 299}) more.push_back({metric("w", std::to_string(1000 + id)), {{block + 110 * minute_ms, 1.5}}});
  more.push_back({metric("w", "new"), {{block + 111 * minute_ms, 2.5}}});
  for (auto* x : {&*s, &*plain}) {
    ASSERT_TRUE((*x)->append(more).is_ok());
    ASSERT_TRUE((*x)->flush().is_ok());
  }
  for (auto t : rollup_tiers) expect_same(buckets(**s, t), buckets(**plain, t));
  auto cs = (*s)->compact();
  ASSERT_TRUE(cs.is_ok());
  EXPECT_EQ(rollup_keys(*kv).loose, 0u);
  for (auto t : rollup_tiers) expect_same(buckets(**s, t), buckets(**plain, t));
  auto reopened = shard_store::open(memory_options(kv));
  ASSERT_TRUE(reopened.is_ok());
  for (auto t : rollup_tiers) expect_same(buckets(**reopened, t), buckets(**plain, t));
  EXPECT_EQ(buckets(**reopened, tier::m1, "w").size(), 301u);
}

// A selection over more grouped blocks than the shard keeps decompressed
// parts, where half the series stop after the first block (a read of those
// in later blocks finds no section), answers as the store never compacted.
TEST(RollupGroupStore, ASelectionOverManyGroupedBlocksEqualsTheUngroupedAnswer) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto plain = shard_store::open(memory_options(std::shared_ptr<kv::store>(kv::make_memory_store())));
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok() && plain.is_ok());
  write_batch b;
  for (int id = 0; id < 200; ++id) {
    series x{metric(id % 3 ? "w" : "v", std::to_string(id)), {}};
    const int n = id % 2 ? 26 * 12 : 2 * 12;  // every 5 min for 26 h (thirteen 1m blocks), or 2 h
    for (int i = 0; i < n; ++i) x.samples.push_back({block + i * 5 * minute_ms + id, static_cast<double>(i * id % 89)});
    b.push_back(std::move(x));
  }
  for (auto* x : {&*s, &*plain}) ASSERT_TRUE((*x)->append(b).is_ok());
  ASSERT_TRUE((*s)->compact().is_ok());
  ASSERT_TRUE((*plain)->flush().is_ok());
  EXPECT_EQ(rollup_keys(*kv).loose, 0u);
  for (auto t : rollup_tiers) {
    auto want = buckets(**plain, t);
    ASSERT_EQ(want.size(), 200u);
    expect_same(buckets(**s, t), want);
    expect_same(buckets(**s, t, "w"), buckets(**plain, t, "w"));
    auto some = [&](shard_store& x) { return x.select_buckets({}, block + 3 * hour_ms, block + 20 * hour_ms, t); };
    expect_same(some(**s), some(**plain));
  }
}

// The part of "m" in the first 1m block, damaged three ways.
class RollupGroupPartDamage : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    kv_ = std::shared_ptr<kv::store>(kv::make_memory_store());
    auto s = shard_store::open(memory_options(kv_));
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->append(batch(block, 960)).is_ok());
    ASSERT_TRUE((*s)->compact().is_ok());
    for (auto t : rollup_tiers) before_[static_cast<int>(t) - 1] = buckets(**s, t);
  }
  std::shared_ptr<kv::store> kv_;
  std::vector<bucket_series> before_[3];
};

TEST_P(RollupGroupPartDamage, OnlyTheDamagedPartIsLeftOutAndCompactionNamesIt) {
  // Series 0 to 2 are "m": their part is keyed by series 2.
  const std::string from = rollup_group_key(tier::m1, block, group_hash("m"), 2, 0);
  const std::string to = rollup_group_key(tier::m1, block, group_hash("m"), 3, 0);
  std::vector<std::string> segments;
  ASSERT_TRUE(kv_->scan(kv::table::rollups, from, to, [&](std::string_view, std::string_view v) {
                    segments.emplace_back(v);
                    return true;
                  }).is_ok());
  ASSERT_GE(segments.size(), 2u) << "a part of 3 x 120 float buckets takes more than one segment";
  for (const auto& x : segments) EXPECT_LE(x.size(), group_segment_bytes);
  std::string v;
  for (const auto& x : segments) v += x;
  const std::string how = GetParam();
  std::vector<kv::op> ops{{kv::op::kind::erase_range, kv::table::rollups, from, to}};
  if (how == "truncated") segments.pop_back();
  if (how == "checksum") segments[0][segments[0].size() / 2] ^= 0x08;
  if (how == "version") {
    v = resum(std::string(1, '\x54') + v.substr(1));
    for (size_t i = 0; i < segments.size(); ++i) segments[i] = v.substr(i * group_segment_bytes, group_segment_bytes);
  }
  std::deque<std::string> keys;
  for (size_t i = 0; i < segments.size(); ++i)
    ops.push_back({kv::op::kind::put, kv::table::rollups,
                   keys.emplace_back(rollup_group_key(tier::m1, block, group_hash("m"), 2, static_cast<uint16_t>(i))),
                   segments[i]});
  ASSERT_TRUE(kv_->commit(ops).is_ok());
  auto s = shard_store::open(memory_options(kv_));
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  // "m" keeps its buckets of the second 1m block; "n" and the other tiers are whole.
  auto m1 = buckets(**s, tier::m1, "m");
  ASSERT_EQ(m1.size(), 3u);
  for (const auto& x : m1) {
    EXPECT_EQ(x.buckets.size(), 120u);
    EXPECT_GE(x.buckets.front().first, block + 2 * hour_ms);
  }
  expect_same(buckets(**s, tier::m1, "n"), std::vector<bucket_series>(before_[0].begin() + 3, before_[0].end()));
  expect_same(buckets(**s, tier::m5), before_[1]);
  expect_same(buckets(**s, tier::h1), before_[2]);
  auto c = (*s)->compact();  // nothing loose in that block: the damaged part is not rewritten
  ASSERT_TRUE(c.is_ok());
  // A late sample for m in the damaged block makes compaction rewrite it, which fails naming it.
  ASSERT_TRUE((*s)->append({{metric("m", "0"), {{block + 2 * hour_ms - 1, 1.0}}}}).is_ok());
  c = (*s)->compact();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.error().code(), strata_errc::corruption);
  EXPECT_NE(c.error().message().find("1m block " + std::to_string(block)), std::string::npos) << c.error().message();
  expect_same(buckets(**s, tier::m1, "n"), std::vector<bucket_series>(before_[0].begin() + 3, before_[0].end()));
}

INSTANTIATE_TEST_SUITE_P(Ways, RollupGroupPartDamage, ::testing::Values("truncated", "checksum", "version"));

// Retention deletes a compacted rollup block as a key range, groups included.
TEST(RollupGroupStore, ExpiredGroupsGoWithTheirBlock) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  o.retention.m1_ms = 2 * hour_ms;
  auto s = shard_store::open(o);
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE((*s)->append(batch(block, 960)).is_ok());
  ASSERT_TRUE((*s)->compact().is_ok());
  ASSERT_TRUE((*s)->maintain(block + 4 * hour_ms + 1).is_ok());  // the first 1m block is past retention
  EXPECT_EQ((*s)->stats().blocks_deleted, 1u);
  std::vector<int64_t> m1_blocks;
  ASSERT_TRUE(kv->scan(kv::table::rollups, "", "", [&](std::string_view k, std::string_view) {
                  auto d = decode_rollup_group_key(k);
                  EXPECT_TRUE(d.is_ok());
                  if (d && d->segment == 0 && d->t == tier::m1) m1_blocks.push_back(d->block);
                  return true;
                }).is_ok());
  EXPECT_EQ(m1_blocks, (std::vector<int64_t>{block + 2 * hour_ms, block + 2 * hour_ms}));
  auto m1 = buckets(**s, tier::m1);
  ASSERT_EQ(m1.size(), 6u);
  for (const auto& x : m1) EXPECT_EQ(x.buckets.size(), 120u);
  EXPECT_EQ(buckets(**s, tier::m5).size(), 6u);
}

// Stores written by older builds hold a loose record per series, of either
// version: they read as they are, and compaction groups them.
TEST(RollupGroupStore, LooseRecordsOfEitherVersionReadAndCompactIntoGroups) {
  for (bool v1 : {false, true}) {
    auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
    {
      auto s = shard_store::open(memory_options(kv));
      ASSERT_TRUE(s.is_ok());
      ASSERT_TRUE((*s)->append(batch(block, 300)).is_ok());
      ASSERT_TRUE((*s)->flush().is_ok());
    }
    std::vector<kv::op> ops;
    std::deque<std::string> keep;
    ASSERT_TRUE(kv->scan(kv::table::rollups, "", "", [&](std::string_view k, std::string_view v) {
                    int64_t window = 0;
                    auto run = codec::decode_buckets(v, &window);
                    EXPECT_TRUE(run.is_ok());
                    ops.push_back({kv::op::kind::put, kv::table::rollups, keep.emplace_back(k),
                                   keep.emplace_back(v1 ? codec::encode_buckets_v1(window, *run)
                                                        : codec::encode_buckets(window, *run))});
                    return true;
                  }).is_ok());
    ASSERT_EQ(ops.size(), 6u * 3 * 3);  // per series and tier a whole record and two pieces
    ASSERT_TRUE(kv->commit(ops).is_ok());
    auto s = shard_store::open(memory_options(kv));
    ASSERT_TRUE(s.is_ok());
    std::vector<bucket_series> want[3];
    for (auto t : rollup_tiers) {
      want[static_cast<int>(t) - 1] = buckets(**s, t);
      ASSERT_EQ(want[static_cast<int>(t) - 1].size(), 6u);
    }
    ASSERT_TRUE((*s)->compact().is_ok());
    auto c = rollup_keys(*kv);
    EXPECT_EQ(c.loose, 0u);
    EXPECT_EQ(c.parts, 2u * 3);
    for (auto t : rollup_tiers) expect_same(buckets(**s, t), want[static_cast<int>(t) - 1]);
  }
}

// --- pieces: what seals append to a series' rollups of a block ----------------

struct record_keys {
  size_t whole = 0, pieces = 0;
};
record_keys record_keys_of(kv::store& kv, tier t) {
  record_keys c;
  EXPECT_TRUE(kv.scan(kv::table::rollups, tier_block_prefix(t, std::numeric_limits<int64_t>::min()),
                      std::string(1, static_cast<char>(static_cast<uint8_t>(t) + 1)),
                      [&](std::string_view k, std::string_view) {
                        auto d = decode_data_key(k, false);
                        EXPECT_TRUE(d.is_ok()) << d.error().message();
                        ++(d && d->piece ? c.pieces : c.whole);
                        return true;
                      })
                  .is_ok());
  return c;
}

// The buckets of every tier equal one fold of all the samples (whole
// numbers: sums, increases and sketches merge exactly).
void expect_naive(const shard_store& s, const std::vector<sample>& all, const std::string& why) {
  for (auto t : rollup_tiers) {
    bucket_run want;
    codec::fold(all, window_span(t), want);
    auto got = buckets(s, t, "c");
    ASSERT_EQ(got.size(), 1u) << why << " " << tier_name(t);
    SCOPED_TRACE(why + " " + tier_name(t));
    expect_same(got[0].buckets, want);
  }
}

// A counter every 10 s from 3 s into a block, so that seals (every 120
// samples, 20 min) end inside 1m and 1h windows, which pieces then share.
std::vector<sample> counter_samples(size_t n, int64_t from, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<sample> out;
  double v = 0;
  for (size_t i = 0; i < n; ++i) {
    v += static_cast<double>(rng() % 50);
    if (i % 500 == 499) v = 1;  // a reset
    out.push_back({from + static_cast<int64_t>(i) * 10'000 + static_cast<int64_t>(rng() % 3), v});
  }
  return out;
}

TEST(RollupPieces, SealsAppendPiecesUntilTheEighthAndEveryReadEqualsOneFold) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok());
  auto all = counter_samples(120 * 11 + 50, block + 3'000, 1);  // 11 seals in one 1h block
  std::vector<sample> sent;
  for (size_t i = 0; i < all.size(); i += 40) {  // three appends per seal
    series x{{{"__name__", "c"}}, {all.begin() + i, all.begin() + std::min(all.size(), i + 40)}};
    ASSERT_TRUE((*s)->append({x}).is_ok());
    sent.insert(sent.end(), x.samples.begin(), x.samples.end());
    if (i == 120 * 5) {  // the first seal wrote the record whole, the next four pieces
      EXPECT_EQ(record_keys_of(*kv, tier::h1).whole, 1u);
      EXPECT_EQ(record_keys_of(*kv, tier::h1).pieces, 4u);
    }
  }
  // Seals 2 to 9 appended pieces, the tenth merged them into the whole
  // record, the eleventh appended one; the unsealed rest is in the head.
  EXPECT_EQ(record_keys_of(*kv, tier::h1).whole, 1u);
  EXPECT_EQ(record_keys_of(*kv, tier::h1).pieces, 1u);
  ASSERT_TRUE((*s)->flush().is_ok());
  EXPECT_EQ(record_keys_of(*kv, tier::h1).pieces, 2u);
  expect_naive(**s, sent, "after the seals");

  // After a restart the count of pieces is unknown: the next seal writes whole.
  s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok());
  expect_naive(**s, sent, "reopened");
  auto write_more = [&](size_t n, uint64_t seed) {  // n samples after the last, then a flush
    auto more = counter_samples(n, sent.back().t + 10'000, seed);
    ASSERT_TRUE((*s)->append({{{{"__name__", "c"}}, more}}).is_ok());
    sent.insert(sent.end(), more.begin(), more.end());
    ASSERT_TRUE((*s)->flush().is_ok());
  };
  write_more(60, 2);  // inside the same raw block: one seal
  EXPECT_EQ(record_keys_of(*kv, tier::h1).whole, 1u);
  EXPECT_EQ(record_keys_of(*kv, tier::h1).pieces, 0u);
  expect_naive(**s, sent, "sealed after the restart");

  // Compaction folds the whole record and the pieces into the group.
  write_more(300, 3);
  EXPECT_GT(record_keys_of(*kv, tier::h1).pieces, 0u);
  ASSERT_TRUE((*s)->compact().is_ok());
  EXPECT_EQ(rollup_keys(*kv).loose, 0u);
  expect_naive(**s, sent, "compacted");
  // Pieces after compaction merge with the group's section.
  write_more(250, 4);
  EXPECT_GT(record_keys_of(*kv, tier::h1).pieces, 0u);
  expect_naive(**s, sent, "pieces over the group");
}

// Many seals in one commit (one large append), then out-of-order samples:
// the whole record folds pending pieces and stored ones alike, and the late
// windows are recomputed exactly.
TEST(RollupPieces, PendingPiecesAndOutOfOrderSamplesFoldIntoTheWholeRecord) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto s = shard_store::open(memory_options(kv));
  ASSERT_TRUE(s.is_ok());
  auto all = counter_samples(120 * 12, block + 3'000, 5);
  std::vector<sample> first(all.begin(), all.begin() + 240), rest(all.begin() + 240, all.end());
  ASSERT_TRUE((*s)->append({{{{"__name__", "c"}}, first}}).is_ok());
  ASSERT_TRUE((*s)->append({{{{"__name__", "c"}}, rest}}).is_ok());  // ten seals in one commit
  ASSERT_TRUE((*s)->flush().is_ok());
  expect_naive(**s, all, "one commit");
  // Late samples between existing ones (odd times: none is a duplicate),
  // inside windows that pieces hold.
  std::vector<sample> late;
  for (size_t i = 130; i < all.size(); i += 97) late.push_back({all[i].t + 5, all[i].v});
  ASSERT_TRUE((*s)->append({{{{"__name__", "c"}}, late}}).is_ok());
  ASSERT_TRUE((*s)->flush().is_ok());
  EXPECT_EQ(record_keys_of(*kv, tier::m5).pieces, 0u);
  all.insert(all.end(), late.begin(), late.end());
  sort_unique(all);
  expect_naive(**s, all, "late samples");
}

}  // namespace
}  // namespace strata::persistence
