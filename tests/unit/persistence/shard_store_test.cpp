#include "persistence/shard_store.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "test_util.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::persistence {
namespace {

using namespace test_support;

store_options options_for(const std::string& dir, bool sync) {
  store_options o;
  o.dir = dir;
  o.sync = sync;
  return o;
}

std::unique_ptr<shard_store> open_store(const std::string& dir) {
  auto s = shard_store::open(options_for(dir, false));
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

// http_requests_total for two jobs and three codes, plus `up` for two instances;
// samples every 10 ms from 0 to 90.
write_batch fixture() {
  write_batch b;
  for (std::string job : {"api", "web"})
    for (std::string code : {"200", "404", "500"}) {
      series s{{{"__name__", "http_requests_total"}, {"code", code}, {"job", job}}, {}};
      for (int64_t t = 0; t < 100; t += 10) s.samples.push_back({t, static_cast<double>(t)});
      b.push_back(std::move(s));
    }
  b.push_back({{{"__name__", "up"}, {"instance", "a"}}, {{0, 1}, {50, 1}}});
  b.push_back({{{"__name__", "up"}, {"instance", "b"}, {"zone", "eu"}}, {{90, 0}}});
  return b;
}

std::vector<std::string> names_of(const std::vector<series>& ss) {
  std::vector<std::string> out;
  for (const auto& s : ss) out.push_back(to_string(s.lbls));
  return out;
}

class ShardStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_store(dir_.path());
    ASSERT_TRUE(store_);
    auto st = store_->append(fixture());
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  std::vector<series> select(const matchers& ms, int64_t mint = min_t, int64_t maxt = max_t) {
    return store_->select(ms, mint, maxt);
  }
  temp_dir dir_;
  std::unique_ptr<shard_store> store_;
};

TEST_F(ShardStoreTest, EqualMatcher) {
  auto got = select({eq("__name__", "http_requests_total"), eq("code", "500")});
  EXPECT_EQ(names_of(got), (std::vector<std::string>{R"({__name__="http_requests_total", code="500", job="api"})",
                                                     R"({__name__="http_requests_total", code="500", job="web"})"}));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].samples.size(), 10u);
}

TEST_F(ShardStoreTest, NotEqualMatcher) {
  auto got = select({eq("__name__", "http_requests_total"), neq("code", "200"), neq("job", "web")});
  EXPECT_EQ(names_of(got), (std::vector<std::string>{R"({__name__="http_requests_total", code="404", job="api"})",
                                                     R"({__name__="http_requests_total", code="500", job="api"})"}));
}

TEST_F(ShardStoreTest, RegexMatcher) {
  auto got = select({re("__name__", "http_.*"), re("code", "4..|5..")});
  EXPECT_EQ(got.size(), 4u);
  // Anchored: "0" does not match "200".
  EXPECT_TRUE(select({re("code", "0")}).empty());
}

TEST_F(ShardStoreTest, NotRegexMatcher) {
  auto got = select({nre("code", "2..|4..")});
  // The 500s, and both `up` series (no code label: "" does not match 2..|4..).
  EXPECT_EQ(names_of(got), (std::vector<std::string>{R"({__name__="http_requests_total", code="500", job="api"})",
                                                     R"({__name__="http_requests_total", code="500", job="web"})",
                                                     R"({__name__="up", instance="a"})",
                                                     R"({__name__="up", instance="b", zone="eu"})"}));
}

TEST_F(ShardStoreTest, MatcherOnAbsentLabelMatchesEmpty) {
  EXPECT_EQ(names_of(select({eq("__name__", "up"), eq("zone", "")})),
            (std::vector<std::string>{R"({__name__="up", instance="a"})"}));
}

TEST_F(ShardStoreTest, NoMatchersSelectsEverythingSortedByLabels) {
  auto got = select({});
  ASSERT_EQ(got.size(), 8u);
  for (size_t i = 1; i < got.size(); ++i)
    EXPECT_TRUE(std::lexicographical_compare(got[i - 1].lbls.begin(), got[i - 1].lbls.end(), got[i].lbls.begin(),
                                             got[i].lbls.end()));
}

TEST_F(ShardStoreTest, TimeBoundsAreInclusiveAndCutSamples) {
  auto got = select({eq("__name__", "http_requests_total"), eq("code", "200"), eq("job", "api")}, 20, 40);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<sample>{{20, 20}, {30, 30}, {40, 40}}));
}

TEST_F(ShardStoreTest, SeriesWithoutSamplesInRangeAreLeftOut) {
  // up{instance="a"} has samples at 0 and 50, up{instance="b"} at 90 only.
  auto got = select({eq("__name__", "up")}, 51, 89);
  EXPECT_TRUE(got.empty());
  got = select({eq("__name__", "up")}, 50, 90);
  EXPECT_EQ(got.size(), 2u);
  got = select({eq("__name__", "up")}, 60, 100);
  EXPECT_EQ(names_of(got), (std::vector<std::string>{R"({__name__="up", instance="b", zone="eu"})"}));
  EXPECT_TRUE(select({}, 10, 5).empty());  // mint > maxt
}

TEST_F(ShardStoreTest, SelectLabels) {
  auto got = store_->select_labels({eq("__name__", "up")}, min_t, max_t);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(to_string(got[0]), R"({__name__="up", instance="a"})");
  EXPECT_EQ(to_string(got[1]), R"({__name__="up", instance="b", zone="eu"})");
  // Time bounds of label queries are as fine as the 2-hour blocks.
  EXPECT_EQ(store_->select_labels({eq("__name__", "up")}, 60, 100).size(), 2u);
  EXPECT_TRUE(store_->select_labels({eq("__name__", "up")}, 2 * 3'600'000, 3 * 3'600'000).empty());
}

TEST_F(ShardStoreTest, LabelNames) {
  EXPECT_EQ(store_->label_names({}, min_t, max_t),
            (std::vector<std::string>{"__name__", "code", "instance", "job", "zone"}));
  EXPECT_EQ(store_->label_names({eq("__name__", "up")}, min_t, max_t),
            (std::vector<std::string>{"__name__", "instance", "zone"}));
  EXPECT_TRUE(store_->label_names({}, 2 * 3'600'000, 3 * 3'600'000).empty());
  EXPECT_TRUE(store_->label_names({}, -3 * 3'600'000, -3'600'000).empty());
}

TEST_F(ShardStoreTest, LabelValues) {
  EXPECT_EQ(store_->label_values("code", {}, min_t, max_t), (std::vector<std::string>{"200", "404", "500"}));
  EXPECT_EQ(store_->label_values("__name__", {}, min_t, max_t),
            (std::vector<std::string>{"http_requests_total", "up"}));
  EXPECT_EQ(store_->label_values("job", {eq("code", "404")}, min_t, max_t), (std::vector<std::string>{"api", "web"}));
  EXPECT_TRUE(store_->label_values("instance", {}, 2 * 3'600'000, 3 * 3'600'000).empty());
  EXPECT_TRUE(store_->label_values("nope", {}, min_t, max_t).empty());
}

TEST_F(ShardStoreTest, Stats) {
  auto st = store_->stats();
  EXPECT_EQ(st.series, 8u);
  EXPECT_EQ(st.head_samples, 6u * 10 + 3);
  EXPECT_EQ(st.wal_records, 1u);
}

TEST(ShardStore, RetriedBatchIsStoredOnceAndAConflictingValueIsRejected) {
  temp_dir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s);
  write_batch b{{{{"__name__", "m"}}, {{10, 1}, {20, 2}}}};
  ASSERT_TRUE(s->append(b).is_ok());
  ASSERT_TRUE(s->append(b).is_ok());  // a retried batch: nothing new, nothing written
  EXPECT_EQ(s->append({{{{"__name__", "m"}}, {{20, 99}}}}).code(), strata_errc::bad_request);
  auto check = [](const shard_store& st) {
    auto got = st.select({}, min_t, max_t);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].samples, (std::vector<sample>{{10, 1}, {20, 2}}));
    EXPECT_EQ(st.stats().head_samples, 2u);
  };
  check(*s);
  s.reset();
  s = open_store(dir.path());  // replay gives the same
  ASSERT_TRUE(s);
  check(*s);
  EXPECT_EQ(s->stats().wal_records, 1u);
}

TEST(ShardStore, CommitOfRollupsIsReportedPerTier) {
  temp_dir dir;
  store_options o;
  o.dir = dir.path();
  o.sync = false;
  std::vector<std::vector<rollup_written>> reports;
  o.on_rollups = [&](const std::vector<rollup_written>& r) { reports.push_back(r); };
  auto s = shard_store::open(o);
  ASSERT_TRUE(s) << s.error().message();
  // Two series over three minutes: windows 0, 60000 and 120000 of the 1m tier.
  ASSERT_TRUE((*s)->append({{{{"__name__", "a"}}, {{0, 1}, {70'000, 2}, {130'000, 3}}},
                            {{{"__name__", "b"}}, {{10'000, 1}}}}).is_ok());
  EXPECT_TRUE(reports.empty());  // nothing sealed yet
  ASSERT_TRUE((*s)->flush().is_ok());
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].size(), 3u);
  EXPECT_EQ(reports[0][0].t, tier::m1);
  EXPECT_EQ(reports[0][0].series, 2u);
  EXPECT_EQ(reports[0][0].windows, 4u);  // a: 3 windows, b: 1
  EXPECT_EQ(reports[0][0].first_window_ms, 0);
  EXPECT_EQ(reports[0][0].last_window_ms, 120'000);
  EXPECT_EQ(reports[0][1].t, tier::m5);
  EXPECT_EQ(reports[0][1].windows, 2u);
  EXPECT_EQ(reports[0][2].t, tier::h1);
  ASSERT_TRUE((*s)->flush().is_ok());  // nothing new: no report
  EXPECT_EQ(reports.size(), 1u);
}

TEST(ShardStore, OutOfOrderSamplesAreSorted) {
  temp_dir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append({{{{"__name__", "m"}}, {{30, 3}, {40, 4}}}}).is_ok());
  ASSERT_TRUE(s->append({{{{"__name__", "m"}}, {{10, 1}, {35, 3.5}, {50, 5}, {20, 2}}}}).is_ok());
  auto got = s->select({}, min_t, max_t);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<sample>{{10, 1}, {20, 2}, {30, 3}, {35, 3.5}, {40, 4}, {50, 5}}));
}

TEST(WalReplay, AcknowledgedBatchesSurviveReopen) {
  temp_dir dir;
  write_batch all;
  {
    auto s = shard_store::open(options_for(dir.path(), true));
    ASSERT_TRUE(s.is_ok()) << s.error().message();
    for (int i = 0; i < 50; ++i) {
      write_batch b{{{{"__name__", "m"}, {"i", std::to_string(i % 7)}}, {{i, i * 0.25}}},
                    {{{"__name__", "n"}}, {{1000 - i, -i * 1.0}}}};
      ASSERT_TRUE((*s)->append(b).is_ok());
    }
  }
  auto s = open_store(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().wal_records, 50u);
  EXPECT_EQ(s->stats().series, 8u);
  EXPECT_EQ(s->stats().head_samples, 100u);
  auto n = s->select({eq("__name__", "n")}, min_t, max_t);
  ASSERT_EQ(n.size(), 1u);
  ASSERT_EQ(n[0].samples.size(), 50u);
  EXPECT_EQ(n[0].samples.front(), (sample{951, -49}));
  auto m3 = s->select({eq("__name__", "m"), eq("i", "3")}, min_t, max_t);
  ASSERT_EQ(m3.size(), 1u);
  std::vector<sample> want;
  for (int i = 3; i < 50; i += 7) want.push_back({i, i * 0.25});
  EXPECT_EQ(m3[0].samples, want);
  // Appends after a reopen continue the sequence.
  ASSERT_TRUE(s->append({{{{"__name__", "later"}}, {{1, 1}}}}).is_ok());
  s.reset();
  s = open_store(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().wal_records, 51u);
  EXPECT_EQ(s->select({eq("__name__", "later")}, min_t, max_t).size(), 1u);
}

TEST(WalReplay, EmptyStoreOpensEmpty) {
  temp_dir dir;
  auto sub = dir.path() + "/nested/shard-0";  // created if missing
  auto s = open_store(sub);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().series, 0u);
  EXPECT_EQ(s->stats().wal_records, 0u);
  EXPECT_TRUE(std::filesystem::is_directory(sub));
}

TEST(ShardStore, NonCanonicalLabelsAreRejectedAndNothingIsStored) {
  temp_dir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s);
  write_batch unsorted{{{{"__name__", "ok"}}, {{1, 1}}}, {{{"job", "x"}, {"__name__", "m"}}, {{1, 1}}}};
  auto st = s->append(unsorted);
  EXPECT_EQ(st.code(), strata_errc::bad_request);
  EXPECT_NE(st.message().find("series 1"), std::string::npos) << st.message();
  write_batch dup{{{{"a", "1"}, {"a", "2"}}, {{1, 1}}}};
  EXPECT_EQ(s->append(dup).code(), strata_errc::bad_request);
  write_batch empty_name{{{{"", "1"}}, {{1, 1}}}};
  EXPECT_EQ(s->append(empty_name).code(), strata_errc::bad_request);
  EXPECT_EQ(s->stats().series, 0u);
  EXPECT_EQ(s->stats().wal_records, 0u);
}

TEST(ShardStore, BatchWithoutSamplesWritesNothing) {
  temp_dir dir;
  auto s = open_store(dir.path());
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->append({}).is_ok());
  ASSERT_TRUE(s->append({{{{"__name__", "m"}}, {}}}).is_ok());
  EXPECT_EQ(s->stats().wal_records, 0u);
  EXPECT_EQ(s->stats().series, 0u);
}

TEST(ShardStoreEncoded, SamplesRepeatedWithinOneGroupAreJudgedAgainstEachOther) {
  test_support::temp_dir dir;
  std::string first = wire::encode_batch({{{{"__name__", "m"}}, {{10, 1}, {20, 2}}}});
  std::string same = wire::encode_batch({{{{"__name__", "m"}}, {{20, 2}, {30, 3}}}});
  std::string conflicting = wire::encode_batch({{{{"__name__", "m"}}, {{30, 4}}}});
  {
    auto s = open_store(dir.path());
    auto r = s->append_encoded_group({first, same, conflicting});
    ASSERT_EQ(r.size(), 3u);
    ASSERT_TRUE(r[0].is_ok());
    EXPECT_EQ(*r[0], 2u);
    ASSERT_TRUE(r[1].is_ok());
    EXPECT_EQ(*r[1], 1u);  // t=20 repeats the first batch's sample: dropped as a duplicate
    ASSERT_FALSE(r[2].is_ok());
    EXPECT_EQ(r[2].error().code(), strata_errc::bad_request);
    EXPECT_NE(r[2].error().message().find("duplicate sample for timestamp 30"), std::string::npos)
        << r[2].error().message();
  }
  auto s = open_store(dir.path());
  auto got = s->select({test_support::eq("__name__", "m")}, 0, 100);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<sample>{{10, 1}, {20, 2}, {30, 3}}));
}

}  // namespace
}  // namespace strata::persistence

namespace strata::persistence {
namespace {

TEST(ShardStoreEncoded, AppendsTheBytesItReceivedAndReplaysThem) {
  test_support::temp_dir dir;
  write_batch b{{{{"__name__", "m"}, {"i", "1"}}, {{10, 1.5}, {20, 2.5}}}};
  {
    auto s = open_store(dir.path());
    auto n = s->append_encoded(wire::encode_batch(b));
    ASSERT_TRUE(n.is_ok()) << n.error().message();
    EXPECT_EQ(*n, 2u);
  }
  auto s = open_store(dir.path());
  auto got = s->select({test_support::eq("__name__", "m")}, 0, 100);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, b[0].samples);
}

TEST(ShardStoreEncoded, BytesThatDoNotDecodeChangeNothing) {
  test_support::temp_dir dir;
  auto s = open_store(dir.path());
  auto n = s->append_encoded(std::string(64, '\x5a'));
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.error().code(), strata_errc::corruption);
  EXPECT_EQ(s->stats().wal_records, 0u);
  EXPECT_EQ(s->stats().series, 0u);
}

TEST(ShardStoreEncoded, GroupCommitsGoodBatchesTogetherAndFailsABadOneAlone) {
  test_support::temp_dir dir;
  std::string a = wire::encode_batch({{{{"__name__", "a"}}, {{1, 1}}}});
  std::string bad(24, '\x11');
  std::string b = wire::encode_batch({{{{"__name__", "b"}}, {{1, 2}, {2, 3}}}});
  {
    auto s = open_store(dir.path());
    auto r = s->append_encoded_group({a, bad, b});
    ASSERT_EQ(r.size(), 3u);
    ASSERT_TRUE(r[0].is_ok());
    EXPECT_EQ(*r[0], 1u);
    ASSERT_FALSE(r[1].is_ok());
    EXPECT_EQ(r[1].error().code(), strata_errc::corruption);
    ASSERT_TRUE(r[2].is_ok());
    EXPECT_EQ(*r[2], 2u);
    EXPECT_EQ(s->stats().wal_records, 2u);
  }
  auto s = open_store(dir.path());
  EXPECT_EQ(s->stats().series, 2u);
  EXPECT_EQ(s->stats().head_samples, 3u);
}


shard_store::group_batch in_memory(write_batch b) {
  shard_store::group_batch g;
  for (const auto& s : b) g.hashes.push_back(wire::series_hash(s.lbls));
  g.batch = std::move(b);
  return g;
}

shard_store::group_batch encoded(const std::string& bytes) {
  shard_store::group_batch g;
  g.encoded = true;
  g.bytes = bytes;
  return g;
}

TEST(ShardStoreGroup, BatchesInMemoryAndEncodedCommitTogetherAndReplayBitForBit) {
  test_support::temp_dir dir;
  double nan_payload;
  uint64_t bits = 0x7ff8000000000123ULL;
  std::memcpy(&nan_payload, &bits, sizeof bits);
  write_batch local{{{{"__name__", "m"}, {"i", "1"}}, {{10, 1.5}, {20, nan_payload}}},
                    {{{"__name__", "m"}, {"i", "2"}}, {{10, -0.0}}}};
  write_batch remote{{{{"__name__", "m"}, {"i", "3"}}, {{10, 7}}}};
  std::string remote_bytes = wire::encode_batch(remote);
  {
    auto s = open_store(dir.path());
    std::vector<shard_store::group_batch> group;
    group.push_back(in_memory(local));
    group.push_back(encoded(remote_bytes));
    auto r = s->append_batches(group);
    ASSERT_EQ(r.size(), 2u);
    ASSERT_TRUE(r[0].is_ok()) << r[0].error().message();
    EXPECT_EQ(*r[0], 3u);
    ASSERT_TRUE(r[1].is_ok()) << r[1].error().message();
    EXPECT_EQ(*r[1], 1u);
    EXPECT_EQ(s->stats().wal_records, 2u);
  }
  // Reopened from the WAL alone: the record of the batch in memory decodes.
  auto s = open_store(dir.path());
  auto got = s->select({test_support::eq("__name__", "m")}, 0, 100);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].samples, local[0].samples);  // operator== compares the bits (NaN payload, -0)
  EXPECT_EQ(got[1].samples, local[1].samples);
  EXPECT_EQ(got[2].samples, remote[0].samples);
}

TEST(ShardStoreGroup, AnEncodedBatchThatIsEmptyOrNotCanonicalFailsAloneBesideABatchInMemory) {
  test_support::temp_dir dir;
  std::string unsorted = wire::encode_batch({{{{"b", "1"}, {"a", "2"}}, {{1, 1}}}});
  std::string empty;
  auto s = open_store(dir.path());
  std::vector<shard_store::group_batch> group;
  group.push_back(encoded(unsorted));
  group.push_back(in_memory({{{{"__name__", "m"}}, {{1, 1}}}}));
  group.push_back(encoded(empty));
  auto r = s->append_batches(group);
  ASSERT_EQ(r.size(), 3u);
  ASSERT_FALSE(r[0].is_ok());
  EXPECT_EQ(r[0].error().code(), strata_errc::bad_request);
  EXPECT_NE(r[0].error().message().find("not sorted"), std::string::npos) << r[0].error().message();
  ASSERT_TRUE(r[1].is_ok()) << r[1].error().message();
  EXPECT_EQ(*r[1], 1u);
  ASSERT_FALSE(r[2].is_ok());
  EXPECT_EQ(r[2].error().code(), strata_errc::corruption);
  EXPECT_EQ(s->stats().series, 1u);
  EXPECT_EQ(s->stats().wal_records, 1u);
}

TEST(ShardStoreGroup, RejectedSamplesOfABatchInMemoryAreLeftOutOfItsWalRecord) {
  test_support::temp_dir dir;
  {
    auto s = open_store(dir.path());
    ASSERT_TRUE(s->append({{{{"__name__", "m"}}, {{100, 1}}}}).is_ok());
    std::vector<shard_store::group_batch> group;
    group.push_back(in_memory({{{{"__name__", "m"}}, {{100, 2}, {200, 3}}}}));  // t=100 conflicts
    auto r = s->append_batches(group);
    ASSERT_FALSE(r[0].is_ok());
    EXPECT_EQ(r[0].error().code(), strata_errc::bad_request);
  }
  auto s = open_store(dir.path());
  auto got = s->select({test_support::eq("__name__", "m")}, 0, 1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples, (std::vector<sample>{{100, 1}, {200, 3}}));
}

}  // namespace
}  // namespace strata::persistence
