// The storage engine's behaviour over an in-memory or fault-injecting kv
// store: seals and WAL trimming, exactly-once replay, out-of-order and
// duplicate rules, rollup tiers, retention, flush and compaction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "persistence/kv/faulty_store.hpp"
#include "persistence/packed_chunk.hpp"
#include "persistence/shard_store.hpp"
#include "test_util.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

constexpr int64_t t0 = 1'700'000'000'000;  // a block-aligned-enough real time (ms)

store_options memory_options(std::shared_ptr<kv::store> kv = nullptr) {
  store_options o;
  o.kv = kv ? std::move(kv) : std::shared_ptr<kv::store>(kv::make_memory_store());
  o.retention.raw_ms = 30 * day_ms;
  return o;
}

std::unique_ptr<shard_store> open_ok(const store_options& o) {
  auto s = shard_store::open(o);
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

labels metric(const std::string& name, const std::string& id = "0") { return {{"__name__", name}, {"id", id}}; }

// n samples of one series every `step` ms from `from`, value = index.
write_batch run_of(const labels& ls, int64_t from, int n, int64_t step = 15'000) {
  series s{ls, {}};
  for (int i = 0; i < n; ++i) s.samples.push_back({from + i * step, static_cast<double>(i)});
  return {s};
}

std::vector<sample> all_samples(const shard_store& s, const labels& ls) {
  matchers ms;
  for (const auto& l : ls) ms.push_back(eq(l.name, l.value));
  auto got = s.select(ms, min_t, max_t);
  return got.empty() ? std::vector<sample>{} : got[0].samples;
}

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

TEST(Seal, FullChunkSealsAndTheWalIsTrimmedBehindIt) {
  auto o = memory_options();
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(s->append(run_of(metric("m"), t0 + i * 15'000, 1)).is_ok());
  ASSERT_TRUE(s->maintain(0).is_ok());  // writes the chunks sealed by the last appends
  auto st = s->stats();
  EXPECT_EQ(st.chunks_written, 2u);       // 120 + 120, 60 still open
  EXPECT_EQ(st.head_samples, 60u);
  EXPECT_EQ(st.wal_records, 60u);          // the records of the open chunk only
  EXPECT_EQ(all_samples(*s, metric("m")).size(), 300u);
}

TEST(Seal, ReplayAfterASealInTheMiddleOfARecordReturnsEverySampleOnce) {
  auto o = memory_options();
  std::vector<sample> want;
  {
    auto s = open_ok(o);
    ASSERT_TRUE(s);
    // 100 samples, then one record of 50: the chunk fills at its 20th sample.
    auto a = run_of(metric("m"), t0, 100);
    auto b = run_of(metric("m"), t0 + 100 * 15'000, 50);
    ASSERT_TRUE(s->append(a).is_ok());
    ASSERT_TRUE(s->append(b).is_ok());
    ASSERT_TRUE(s->maintain(0).is_ok());
    want = all_samples(*s, metric("m"));
    ASSERT_EQ(want.size(), 150u);
    EXPECT_EQ(s->stats().chunks_written, 1u);
  }
  auto s = open_ok(o);  // the second record is replayed; its first 20 samples are sealed already
  ASSERT_TRUE(s);
  EXPECT_EQ(all_samples(*s, metric("m")), want);
  EXPECT_EQ(s->stats().head_samples, 30u);
}

TEST(Seal, ChunksNeverCrossABlock) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  int64_t block = align_down(t0, 2 * hour_ms) + 2 * hour_ms;
  ASSERT_TRUE(s->append(run_of(metric("m"), block - 3 * 15'000, 6)).is_ok());
  ASSERT_TRUE(s->flush().is_ok());
  EXPECT_EQ(s->stats().chunks_written, 2u);
  EXPECT_EQ(all_samples(*s, metric("m")).size(), 6u);
}

TEST(OutOfOrder, InsideTheWindowIsAcceptedAndReadInOrder) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(run_of(metric("m"), t0, 10, 60'000)).is_ok());
  ASSERT_TRUE(s->append({{metric("m"), {{t0 + 30'000, 0.5}, {t0 + 90'000, 1.5}}}}).is_ok());
  auto got = all_samples(*s, metric("m"));
  ASSERT_EQ(got.size(), 12u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](auto& a, auto& b) { return a.t < b.t; }));
  EXPECT_EQ(got[1], (sample{t0 + 30'000, 0.5}));
  ASSERT_TRUE(s->flush().is_ok());  // the ooo buffer seals as a chunk of its own
  EXPECT_EQ(all_samples(*s, metric("m")), got);
}

TEST(OutOfOrder, OlderThanTheWindowIsRejectedNamingSeriesAndLimit) {
  auto o = memory_options();
  o.ooo_window_ms = 10 * minute_ms;
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(run_of(metric("m"), t0, 1)).is_ok());
  auto st = s->append({{metric("m"), {{t0 - 11 * minute_ms, 1}, {t0 + 1000, 2}}}});
  EXPECT_EQ(st.code(), strata_errc::bad_request);
  EXPECT_NE(st.message().find(R"({__name__="m", id="0"})"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("out-of-order window 10m"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1 of 2 samples rejected"), std::string::npos) << st.message();
  // The good sample of the batch is written; the rejected one is not.
  EXPECT_EQ(all_samples(*s, metric("m")), (std::vector<sample>{{t0, 0}, {t0 + 1000, 2}}));
  EXPECT_EQ(s->stats().rejected_too_old, 1u);
}

TEST(Duplicates, SameValueIsIdempotentAndAnotherValueIsRejectedEvenAfterASeal) {
  auto o = memory_options();
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  auto b = run_of(metric("m"), t0, 5);
  ASSERT_TRUE(s->append(b).is_ok());
  ASSERT_TRUE(s->append(b).is_ok());  // a retried batch
  EXPECT_EQ(s->stats().wal_records, 1u);
  auto st = s->append({{metric("m"), {{t0 + 2 * 15'000, 99}}}});
  EXPECT_EQ(st.code(), strata_errc::bad_request);
  EXPECT_NE(st.message().find("duplicate sample for timestamp"), std::string::npos) << st.message();
  ASSERT_TRUE(s->flush().is_ok());
  EXPECT_EQ(s->append({{metric("m"), {{t0 + 4 * 15'000, 7}}}}).code(), strata_errc::bad_request);
  s.reset();
  s = open_ok(o);  // the newest value survives a restart
  ASSERT_TRUE(s);
  EXPECT_EQ(s->append({{metric("m"), {{t0 + 4 * 15'000, 7}}}}).code(), strata_errc::bad_request);
  EXPECT_TRUE(s->append({{metric("m"), {{t0 + 4 * 15'000, 4}}}}).is_ok());
  EXPECT_EQ(all_samples(*s, metric("m")), b[0].samples);
}

TEST(Staleness, StaleMarkersAreKeptBitForBit) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  double stale;
  uint64_t sb = 0x7ff0000000000002ULL;
  std::memcpy(&stale, &sb, sizeof stale);
  ASSERT_TRUE(s->append({{metric("m"), {{t0, 1}, {t0 + 1000, stale}}}}).is_ok());
  ASSERT_TRUE(s->flush().is_ok());
  auto got = all_samples(*s, metric("m"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(bits(got[1].v), sb);
}

TEST(Rollups, BucketsMatchANaiveRecomputation) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  std::mt19937_64 rng(7);
  std::vector<sample> all;
  double counter = 0;
  for (int i = 0; i < 2000; ++i) {
    counter += static_cast<double>(rng() % 100);
    if (i == 1234) counter = 3;  // a reset
    all.push_back({t0 + i * 10'000, counter});
  }
  for (size_t i = 0; i < all.size(); i += 37) {
    series x{metric("c"), {all.begin() + i, all.begin() + std::min(all.size(), i + 37)}};
    ASSERT_TRUE(s->append({x}).is_ok());
  }
  ASSERT_TRUE(s->flush().is_ok());
  for (auto t : rollup_tiers) {
    const int64_t w = window_span(t);
    auto got = s->select_buckets({eq("__name__", "c")}, min_t, max_t, t);
    ASSERT_EQ(got.size(), 1u) << tier_name(t);
    std::map<int64_t, std::vector<sample>> by_window;
    for (const auto& x : all) by_window[align_down(x.t, w)].push_back(x);
    ASSERT_EQ(got[0].buckets.size(), by_window.size()) << tier_name(t);
    for (const auto& [ws, b] : got[0].buckets) {
      const auto& xs = by_window[ws];
      double sum = 0, mn = xs[0].v, mx = xs[0].v, inc = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        sum += xs[i].v;
        mn = std::min(mn, xs[i].v);
        mx = std::max(mx, xs[i].v);
        if (i > 0) inc += xs[i].v >= xs[i - 1].v ? xs[i].v - xs[i - 1].v : xs[i].v;
      }
      EXPECT_EQ(b.count, xs.size()) << tier_name(t) << " " << ws;
      EXPECT_DOUBLE_EQ(b.sum, sum) << tier_name(t) << " " << ws;
      EXPECT_EQ(b.min, mn);
      EXPECT_EQ(b.max, mx);
      EXPECT_EQ(b.last, xs.back().v);
      EXPECT_DOUBLE_EQ(b.increase, inc) << tier_name(t) << " " << ws;
      // The sketch's median within 1% of the exact (nearest-rank) median.
      std::vector<double> vs;
      for (const auto& x : xs) vs.push_back(x.v);
      std::sort(vs.begin(), vs.end());
      double exact = vs[static_cast<size_t>(std::ceil(0.5 * vs.size())) - 1];
      EXPECT_NEAR(b.sketch.quantile(0.5), exact, 0.0101 * std::abs(exact)) << tier_name(t) << " " << ws;
    }
  }
}

TEST(Rollups, LateSamplesInsideAWindowAreFoldedInExactly) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  int64_t w = align_down(t0, hour_ms);
  ASSERT_TRUE(s->append({{metric("g"), {{w + 10'000, 1}, {w + 50'000, 5}}}}).is_ok());
  ASSERT_TRUE(s->flush().is_ok());
  ASSERT_TRUE(s->append({{metric("g"), {{w + 30'000, 3}}}}).is_ok());  // late, inside the same minute
  ASSERT_TRUE(s->flush().is_ok());
  auto got = s->select_buckets({eq("__name__", "g")}, min_t, max_t, tier::m1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].buckets.size(), 1u);
  const auto& b = got[0].buckets[0].second;
  EXPECT_EQ(b.count, 3u);
  EXPECT_EQ(b.sum, 9);
  EXPECT_EQ(b.first, 1);
  EXPECT_EQ(b.last, 5);
}

TEST(ChooseTier, CoarsestTierThatFitsTheResolutionAndStillHasTheData) {
  retention_options r;
  int64_t now = t0;
  EXPECT_EQ(choose_tier(now - hour_ms, now, 15'000, r), tier::raw);
  EXPECT_EQ(choose_tier(now - hour_ms, now, minute_ms, r), tier::m1);
  EXPECT_EQ(choose_tier(now - 3 * day_ms, now, 10 * minute_ms, r), tier::m5);
  EXPECT_EQ(choose_tier(now - 3 * day_ms, now, 15'000, r), tier::m1);  // raw is gone that far back
  EXPECT_EQ(choose_tier(now - 60 * day_ms, now, 15'000, r), tier::h1);
  EXPECT_EQ(choose_tier(now - 20 * day_ms, now, 10 * minute_ms, r), tier::m5);
  EXPECT_EQ(choose_tier(now - 20 * day_ms, now, 2 * hour_ms, r), tier::h1);
}

TEST(Retention, WholeBlocksOlderThanEachTiersRetentionAreDeleted) {
  auto o = memory_options();
  o.retention.raw_ms = day_ms;
  o.retention.m1_ms = 3 * day_ms;
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  // One sample per hour for 5 days.
  for (int h = 0; h < 5 * 24; ++h) ASSERT_TRUE(s->append(run_of(metric("m"), t0 + h * hour_ms, 1)).is_ok());
  ASSERT_TRUE(s->flush().is_ok());
  int64_t now = t0 + 5 * day_ms;
  ASSERT_TRUE(s->maintain(now).is_ok());
  auto raw = all_samples(*s, metric("m"));
  ASSERT_FALSE(raw.empty());
  EXPECT_GE(raw.front().t, align_down(now - day_ms, 2 * hour_ms));
  EXPECT_LT(raw.front().t, now - day_ms + 2 * hour_ms);
  auto m1 = s->select_buckets({eq("__name__", "m")}, min_t, max_t, tier::m1);
  ASSERT_EQ(m1.size(), 1u);
  EXPECT_GE(m1[0].buckets.front().first, align_down(now - 3 * day_ms, 2 * hour_ms));
  auto h1 = s->select_buckets({eq("__name__", "m")}, min_t, max_t, tier::h1);
  ASSERT_EQ(h1.size(), 1u);
  EXPECT_EQ(h1[0].buckets.size(), 5u * 24);  // 1h rollups are kept a year
  EXPECT_GT(s->stats().blocks_deleted, 0u);
  // Once every tier has expired, the series itself is gone.
  ASSERT_TRUE(s->maintain(now + 400 * day_ms).is_ok());
  EXPECT_EQ(s->stats().series, 0u);
  EXPECT_TRUE(s->label_names({}, min_t, max_t).empty());
}

// WAL records name series by number. Retention removes a series once every
// sample of it is sealed, while a record holding some of them may stay for
// another series' unsealed samples: a reopen skips the removed series.
TEST(Retention, ARecordNamingARemovedSeriesReplaysTheOtherSeries) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  write_batch b = run_of(metric("gone"), t0, 120, 30'000);  // a full chunk: sealed as it is appended
  b.push_back(run_of(metric("kept"), t0, 1).front());      // unsealed: keeps the record
  ASSERT_TRUE(s->append(b).is_ok());
  ASSERT_TRUE(s->maintain(t0 + hour_ms).is_ok());  // commits the sealed chunk
  ASSERT_TRUE(s->maintain(t0 + 400 * day_ms).is_ok());
  EXPECT_EQ(s->stats().series, 1u);
  EXPECT_EQ(s->stats().wal_records, 1u);
  s.reset();
  s = open_ok(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().series, 1u);
  EXPECT_TRUE(all_samples(*s, metric("gone")).empty());
  EXPECT_EQ(all_samples(*s, metric("kept")), (std::vector<sample>{{t0, 0.0}}));
}

// maintain() compacts closed blocks in the background, one metric name per
// call, as compact() would; the open block and what reads see stay as they were.
TEST(BackgroundCompaction, ClosedBlocksBecomeGroupsOneNameAtATimeAndReadTheSame) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  o.compact_every_ms = minute_ms;
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  const std::vector<labels> all = {metric("a", "1"), metric("a", "2"), metric("b", "1"), metric("b", "2")};
  const int64_t end = t0 + 6 * hour_ms;
  for (int64_t t = t0; t < end; t += minute_ms) {
    write_batch b;
    for (const auto& ls : all) b.push_back({ls, {{t, static_cast<double>((t - t0) / minute_ms % 97)}}});
    ASSERT_TRUE(s->append(b).is_ok());
  }
  auto loose_raw_blocks = [&](int64_t below) {
    std::set<int64_t> blocks;
    EXPECT_TRUE(kv->scan(kv::table::chunks, "", "", [&](std::string_view k, std::string_view) {
                    if (auto d = decode_data_key(k, true); d && d->block < below) blocks.insert(d->block);
                    return true;
                  }).is_ok());
    return blocks;
  };
  ASSERT_TRUE(s->maintain(t0).is_ok());  // commits what sealed; no block is closed yet
  EXPECT_EQ(s->stats().names_compacted, 0u);
  std::vector<std::vector<sample>> before;
  for (const auto& ls : all) before.push_back(all_samples(*s, ls));
  auto buckets_before = s->select_buckets({}, min_t, max_t, tier::m1);

  int64_t now = end + 10 * hour_ms;
  // Closed: ended an out-of-order window and a minute before the newest sample (not the clock).
  const int64_t closed = align_down(end - minute_ms - o.ooo_window_ms - minute_ms, block_span(tier::raw));
  ASSERT_FALSE(loose_raw_blocks(closed).empty());
  ASSERT_TRUE(s->maintain(now).is_ok());
  EXPECT_EQ(s->stats().names_compacted, 1u) << "one name per call";
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(s->maintain(now += 30'000).is_ok());
  EXPECT_TRUE(loose_raw_blocks(closed).empty());
  EXPECT_FALSE(loose_raw_blocks(std::numeric_limits<int64_t>::max()).empty()) << "the newest block stays open";
  EXPECT_GT(s->stats().names_compacted, 4u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all_samples(*s, all[i]), before[i]) << to_string(all[i]);
  auto buckets_after = s->select_buckets({}, min_t, max_t, tier::m1);
  ASSERT_EQ(buckets_after.size(), buckets_before.size());
  for (size_t i = 0; i < buckets_after.size(); ++i) {
    ASSERT_EQ(buckets_after[i].buckets.size(), buckets_before[i].buckets.size());
    for (size_t j = 0; j < buckets_after[i].buckets.size(); ++j) {
      EXPECT_EQ(buckets_after[i].buckets[j].first, buckets_before[i].buckets[j].first);
      EXPECT_EQ(buckets_after[i].buckets[j].second.count, buckets_before[i].buckets[j].second.count);
      EXPECT_EQ(buckets_after[i].buckets[j].second.sum, buckets_before[i].buckets[j].second.sum);
    }
  }
  // And after a restart (groups read from the store, not from caches).
  s.reset();
  s = open_ok(o);
  ASSERT_TRUE(s);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all_samples(*s, all[i]), before[i]) << to_string(all[i]);
}

TEST(BackgroundCompaction, OffByDefault) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto s = open_ok(memory_options(kv));
  ASSERT_TRUE(s);
  for (int64_t t = t0; t < t0 + 4 * hour_ms; t += minute_ms) ASSERT_TRUE(s->append(run_of(metric("m"), t, 1)).is_ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->maintain(t0 + 10 * hour_ms + i * hour_ms).is_ok());
  EXPECT_EQ(s->stats().names_compacted, 0u);
}

TEST(Admin, FlushEmptiesTheWalAndCompactLeavesOnePackedGroupPerMetricNameAndBlock) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(s->append(run_of(metric("m", "a"), t0 + i * 60'000, 1)).is_ok());
    ASSERT_TRUE(s->append(run_of(metric("m", "b"), t0 + i * 60'000, 1)).is_ok());
    if (i % 10 == 9) {
      ASSERT_TRUE(s->flush().is_ok());  // many small chunks
    }
  }
  EXPECT_EQ(s->stats().wal_records, 0u);
  EXPECT_EQ(s->stats().head_samples, 0u);
  auto before = all_samples(*s, metric("m", "a"));
  auto cs = s->compact();
  ASSERT_TRUE(cs.is_ok()) << cs.error().message();
  EXPECT_EQ(cs->chunks_before, 8u);
  EXPECT_EQ(cs->chunks_after, 1u);  // both series of "m" in one group
  std::vector<std::string> keys;
  ASSERT_TRUE(kv->scan(kv::table::chunks, "", "", [&](std::string_view k, std::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).is_ok());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], group_key(block_start(tier::raw, t0), group_hash("m"), 1, 0));
  EXPECT_EQ(all_samples(*s, metric("m", "a")), before);
  s.reset();
  s = open_ok(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(all_samples(*s, metric("m", "a")), before);
  EXPECT_EQ(all_samples(*s, metric("m", "b")).size(), 40u);
}

// select reads a name's series in the order of its packed parts (series
// number) and answers them by labels: series created in the reverse of their
// label order, compacted into more parts than the shard keeps decompressed,
// come back whole, in label order, as select_each hands them over.
TEST(Select, AnswersByLabelsWhateverOrderTheSeriesWereCreatedIn) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  const int64_t block = block_start(tier::raw, t0);
  auto id = [](int i) { return std::string(1, static_cast<char>('a' + i / 26 / 26)) +
                               static_cast<char>('a' + i / 26 % 26) + static_cast<char>('a' + i % 26); };
  constexpr int n = 500;  // 500 x 400 samples: 13 parts of at most 16,384
  for (int i = n - 1; i >= 0; --i) ASSERT_TRUE(s->append(run_of(metric("m", id(i)), block, 400)).is_ok());
  auto cs = s->compact();
  ASSERT_TRUE(cs.is_ok()) << cs.error().message();
  EXPECT_EQ(cs->chunks_after, 13u);
  auto all = s->select({eq("__name__", "m")}, min_t, max_t);
  ASSERT_EQ(all.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(all[i].lbls, metric("m", id(i))) << i;
    EXPECT_EQ(all[i].samples, run_of(metric("m", id(i)), block, 400)[0].samples) << i;
  }
  size_t at = 0;
  ASSERT_TRUE(s->select_each({eq("__name__", "m")}, min_t, max_t, [&](series& one) {
                 EXPECT_LT(at, all.size());
                 if (at < all.size()) {
                   EXPECT_EQ(one.lbls, all[at].lbls);
                   EXPECT_EQ(one.samples, all[at].samples);
                 }
                 ++at;
                 return status::ok();
               }).is_ok());
  EXPECT_EQ(at, all.size());
}

// One selection takes a series from the part it read last while series
// numbers stay in that part's run, and reads loose chunks only in blocks
// that hold some: a series whose number lies inside a part's run but that
// has no samples in that block, a late seal into a compacted block and a
// series created after compaction all come back whole.
TEST(Select, OneSelectionReadsPartsLateSealsAndSeriesAbsentFromABlock) {
  auto s = open_ok(memory_options());
  ASSERT_TRUE(s);
  const int64_t block = block_start(tier::raw, t0);
  const int64_t next = block + block_span(tier::raw);
  auto id = [](int i) { return std::to_string(100 + i); };  // label order = creation order
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(s->append(run_of(metric("m", id(i)), i == 40 ? next : block, i == 40 ? 50 : 400)).is_ok());
  ASSERT_TRUE(s->append(run_of(metric("m", id(3)), next, 20)).is_ok());
  auto cs = s->compact();
  ASSERT_TRUE(cs.is_ok()) << cs.error().message();
  EXPECT_GE(cs->chunks_after, 4u);  // 39,600 samples of "m" in parts of at most 16,384, and the next block's
  ASSERT_TRUE(s->append(run_of(metric("m", id(57)), block + 400 * 15'000, 10)).is_ok());
  ASSERT_TRUE(s->append(run_of(metric("m", id(100)), block, 30)).is_ok());
  ASSERT_TRUE(s->flush().is_ok());  // both as loose chunks of the compacted block
  auto all = s->select({eq("__name__", "m")}, min_t, max_t);
  ASSERT_EQ(all.size(), 101u);
  for (int i = 0; i <= 100; ++i) {
    EXPECT_EQ(all[i].lbls, metric("m", id(i)));
    std::vector<sample> want;
    if (i == 40) want = run_of(metric("m", id(i)), next, 50)[0].samples;
    else if (i == 100) want = run_of(metric("m", id(i)), block, 30)[0].samples;
    else want = run_of(metric("m", id(i)), block, 400)[0].samples;
    write_batch more;
    if (i == 3) more = run_of(metric("m", id(i)), next, 20);
    if (i == 57) more = run_of(metric("m", id(i)), block + 400 * 15'000, 10);
    for (const auto& x : more.empty() ? std::vector<sample>{} : more[0].samples) want.push_back(x);
    EXPECT_EQ(all[i].samples, want) << i;
  }
}

// A name with many series is cut into parts of runs of series numbers; a
// series sealed into a compacted block later joins its group at the next
// compaction, and blocks with nothing new are left alone.
TEST(Admin, CompactCutsLargeGroupsIntoPartsAndMergesLateSeals) {
  auto kv = std::shared_ptr<kv::store>(kv::make_memory_store());
  auto o = memory_options(kv);
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  const int64_t block = block_start(tier::raw, t0);
  for (int id = 0; id < 100; ++id) ASSERT_TRUE(s->append(run_of(metric("m", std::to_string(id)), block, 400)).is_ok());
  ASSERT_TRUE(s->append(run_of(metric("other"), block, 400)).is_ok());
  auto cs = s->compact();
  ASSERT_TRUE(cs.is_ok()) << cs.error().message();
  EXPECT_EQ(cs->chunks_after, 3u + 1u);  // 40,000 samples of "m" in parts of at most 16,384; one of "other"
  auto again = s->compact();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->chunks_before, 0u);
  // 10 more samples of one series, in the same block.
  ASSERT_TRUE(s->append(run_of(metric("m", "57"), block + 400 * 15'000, 10)).is_ok());
  auto merged = s->compact();
  ASSERT_TRUE(merged.is_ok()) << merged.error().message();
  EXPECT_EQ(merged->chunks_before, 1u + 3u);  // the new chunk and the parts of "m"
  EXPECT_EQ(merged->chunks_after, 3u);
  s.reset();
  s = open_ok(o);
  ASSERT_TRUE(s);
  for (int id = 0; id < 100; ++id) {
    auto got = all_samples(*s, metric("m", std::to_string(id)));
    ASSERT_EQ(got.size(), id == 57 ? 410u : 400u) << id;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].t, block + static_cast<int64_t>(i) * 15'000);
      EXPECT_EQ(got[i].v, static_cast<double>(i < 400 ? i : i - 400));
    }
  }
  EXPECT_EQ(all_samples(*s, metric("other")).size(), 400u);
}

TEST(Faults, AFailedCommitChangesNothingAndTheNextOneSucceeds) {
  auto faulty = std::make_shared<kv::faulty_store>(kv::make_memory_store());
  auto o = memory_options(faulty);
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(run_of(metric("m"), t0, 3)).is_ok());
  faulty->fail_next_commits(1, strata_errc::storage, "injected");
  auto st = s->append(run_of(metric("m"), t0 + 100'000, 3));
  EXPECT_EQ(st.code(), strata_errc::storage);
  EXPECT_EQ(all_samples(*s, metric("m")).size(), 3u);
  EXPECT_TRUE(s->append(run_of(metric("m"), t0 + 100'000, 3)).is_ok());
  EXPECT_EQ(all_samples(*s, metric("m")).size(), 6u);
  faulty->set_disk_full(true);
  st = s->append(run_of(metric("m"), t0 + 200'000, 3));
  EXPECT_EQ(st.code(), strata_errc::storage);
  EXPECT_NE(st.message().find("no space"), std::string::npos) << st.message();
  EXPECT_FALSE(s->flush().is_ok());
  faulty->set_disk_full(false);
  EXPECT_TRUE(s->flush().is_ok());
  s.reset();
  s = open_ok(memory_options(faulty));
  ASSERT_TRUE(s);
  EXPECT_EQ(all_samples(*s, metric("m")).size(), 6u);
}

TEST(Faults, SealsCommitInGroupsAndAFailureBetweenGroupsLosesNothing) {
  auto faulty = std::make_shared<kv::faulty_store>(kv::make_memory_store());
  auto o = memory_options(faulty);
  o.seals_per_commit = 4;
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  write_batch b;
  for (int i = 0; i < 10; ++i) b.push_back(run_of(metric("m", std::to_string(i)), t0, 3).front());
  std::sort(b.begin(), b.end(), [](const series& x, const series& y) { return x.lbls < y.lbls; });
  ASSERT_TRUE(s->append(b).is_ok());
  // 10 series: a commit after the 4th and the 8th seal, one for the last 2.
  uint64_t before = faulty->commit_calls();
  ASSERT_TRUE(s->flush().is_ok());
  EXPECT_EQ(faulty->commit_calls() - before, 3u);
  EXPECT_EQ(s->stats().head_samples, 0u);

  // The second group's commit fails: the first group is sealed, the rest
  // stays in the WAL, and a reopen (the process died there) has every sample.
  for (auto& x : b)
    for (auto& smp : x.samples) smp.t += hour_ms;
  ASSERT_TRUE(s->append(b).is_ok());
  faulty->fail_next_commits(1, strata_errc::storage, "injected", 1);
  EXPECT_EQ(s->flush().code(), strata_errc::storage);
  EXPECT_EQ(faulty->failed_commits(), 1u);
  s.reset();
  s = open_ok(memory_options(faulty));
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) {
    auto got = all_samples(*s, metric("m", std::to_string(i)));
    ASSERT_EQ(got.size(), 6u) << "series " << i;
    EXPECT_EQ(got[3].t, t0 + hour_ms);
  }
}

TEST(Faults, ChunksFilledByOneAppendCommitInGroupsAndAReopenLosesNothing) {
  auto faulty = std::make_shared<kv::faulty_store>(kv::make_memory_store());
  auto o = memory_options(faulty);
  o.seals_per_commit = 4;
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  // 10 series in one record, each with n(i) samples from `from`.
  auto batch = [](int64_t from, const std::function<int(int)>& n) {
    write_batch b;
    for (int i = 0; i < 10; ++i) b.push_back(run_of(metric("m", std::to_string(i)), from, n(i)).front());
    std::sort(b.begin(), b.end(), [](const series& x, const series& y) { return x.lbls < y.lbls; });
    return b;
  };
  const int full = max_open_chunk_samples, half = full / 2;
  const int64_t step = 15'000;
  uint64_t before = faulty->commit_calls();
  ASSERT_TRUE(s->append(batch(t0, [&](int) { return full; })).is_ok());
  // Every open chunk fills: the WAL record, then a commit after the 4th and the 8th seal.
  EXPECT_EQ(faulty->commit_calls() - before, 3u);
  EXPECT_EQ(s->stats().head_samples, 0u);
  // Series 8 and 9 keep half a chunk in the head. The seal commits in the
  // middle of the record ran before they were applied: the record must stay
  // in the WAL for them.
  ASSERT_TRUE(s->append(batch(t0 + full * step, [&](int i) { return i < 8 ? full : half; })).is_ok());
  s.reset();  // the process ends without a flush
  s = open_ok(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(all_samples(*s, metric("m", std::to_string(i))).size(), size_t(i < 8 ? 2 * full : full + half))
        << "series " << i;
  // A failed seal commit changes nothing either.
  faulty->fail_next_commits(1, strata_errc::storage, "injected", 1);
  ASSERT_TRUE(s->append(batch(t0 + 2 * full * step, [&](int) { return full; })).is_ok());
  EXPECT_EQ(faulty->failed_commits(), 1u);
  s.reset();
  s = open_ok(o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) {
    auto got = all_samples(*s, metric("m", std::to_string(i)));
    EXPECT_EQ(got.size(), size_t(i < 8 ? 3 * full : 2 * full + half)) << "series " << i;
    if (!got.empty()) {
      EXPECT_EQ(got.back().t, t0 + 3 * full * step - step);
    }
  }
}

TEST(Index, LabelQueriesAreBoundedByTime) {
  auto o = memory_options();
  auto s = open_ok(o);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append(run_of(metric("early"), t0, 3)).is_ok());
  ASSERT_TRUE(s->append(run_of(metric("late"), t0 + day_ms, 3)).is_ok());
  ASSERT_TRUE(s->flush().is_ok());
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto v = s->label_values("__name__", {}, t0 + day_ms - hour_ms, t0 + 2 * day_ms);
    EXPECT_EQ(v, std::vector<std::string>{"late"}) << "reopen " << reopen;
    EXPECT_EQ(s->label_values("__name__", {}, min_t, max_t), (std::vector<std::string>{"early", "late"}));
    s.reset();
    s = open_ok(o);
    ASSERT_TRUE(s);
  }
}

// Damage to each kind of entry, through the kv seam, and what survives it.
class Damage : public ::testing::Test {
 protected:
  void SetUp() override {
    kv_ = std::shared_ptr<kv::store>(kv::make_memory_store());
    auto s = open_ok(memory_options(kv_));
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->append(run_of(metric("m", "a"), t0, 200)).is_ok());
    ASSERT_TRUE(s->append(run_of(metric("m", "b"), t0, 10)).is_ok());
    ASSERT_TRUE(s->flush().is_ok());
  }
  // Rewrites the first entry of `t` whose key starts with `prefix`.
  void damage(kv::table t, const std::string& prefix, const std::function<void(std::string&)>& edit) {
    std::string key, value;
    ASSERT_TRUE(kv_->scan(t, prefix, "", [&](std::string_view k, std::string_view v) {
                  key = k;
                  value = v;
                  return false;
                }).is_ok());
    ASSERT_FALSE(key.empty());
    edit(value);
    ASSERT_TRUE(kv_->commit({{kv::op::kind::put, t, key, value}}).is_ok());
  }
  result<std::unique_ptr<shard_store>> reopen() { return shard_store::open(memory_options(kv_)); }
  std::shared_ptr<kv::store> kv_;
};

TEST_F(Damage, ABadChunkIsLeftOutOfReadsAndCompactionNamesIt) {
  damage(kv::table::chunks, std::string(1, '\0'), [](std::string& v) { v[v.size() / 2] ^= 0x10; });
  auto s = reopen();
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  auto a = all_samples(**s, metric("m", "a"));
  auto b = all_samples(**s, metric("m", "b"));
  EXPECT_EQ(a.size() + b.size(), 210u - 120u) << "only the damaged chunk's 120 samples are missing";
  auto c = (*s)->compact();
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.error().code(), strata_errc::corruption);
  EXPECT_NE(c.error().message().find("block"), std::string::npos) << c.error().message();
}

TEST_F(Damage, BadSeriesLabelsStopTheOpenNamingTheSeries) {
  damage(kv::table::series, "L", [](std::string& v) { v[v.size() - 1] ^= 0x01; });
  auto s = reopen();
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().code(), strata_errc::corruption);
  EXPECT_NE(s.error().message().find("labels of series 0"), std::string::npos) << s.error().message();
}

TEST_F(Damage, SealStateOfAnotherVersionStopsTheOpen) {
  damage(kv::table::series, "S", [](std::string& v) { v[0] = 9; });
  auto s = reopen();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.error().message().find("version 9"), std::string::npos) << s.error().message();
}

TEST_F(Damage, TruncatedSealStateStopsTheOpen) {
  damage(kv::table::series, "S", [](std::string& v) { v.resize(10); });
  auto s = reopen();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.error().message().find("10 bytes"), std::string::npos) << s.error().message();
}

TEST_F(Damage, AKeyOfNoKnownShapeStopsTheOpen) {
  ASSERT_TRUE(kv_->commit({{kv::op::kind::put, kv::table::series, "Xjunk", "1"}}).is_ok());
  auto s = reopen();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.error().message().find("table \"series\""), std::string::npos) << s.error().message();
}

TEST_F(Damage, ABadRollupRecordIsLeftOutOfBucketReads) {
  damage(kv::table::rollups, std::string(1, '\1'), [](std::string& v) { v[v.size() - 1] ^= 0x01; });
  auto s = reopen();
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  auto got = (*s)->select_buckets({eq("__name__", "m")}, min_t, max_t, tier::m1);
  size_t buckets = 0;
  for (const auto& x : got) buckets += x.buckets.size();
  EXPECT_LT(buckets, 200u / 4 + 10u / 4 + 2u);
  EXPECT_EQ(all_samples(**s, metric("m", "a")).size(), 200u);  // raw data is untouched
}

}  // namespace
}  // namespace strata::persistence
