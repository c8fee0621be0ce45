// series_index: refs, collisions, removal, time blocks, label names and values, stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "index_test_util.hpp"

namespace strata::persistence::index {
namespace {

using namespace index_test;

uint64_t constant_hash(const labels&) { return 42; }

TEST(SeriesIndex, GetOrAddGivesDenseRefsAndFindsExistingSeries) {
  series_index idx;
  labels a = {{"__name__", "up"}, {"job", "api"}};
  labels b = {{"__name__", "up"}, {"job", "db"}};
  EXPECT_EQ(idx.get_or_add(a), std::make_pair(series_ref{0}, true));
  EXPECT_EQ(idx.get_or_add(b), std::make_pair(series_ref{1}, true));
  EXPECT_EQ(idx.get_or_add(a), std::make_pair(series_ref{0}, false));
  EXPECT_EQ(idx.find(b), std::optional<series_ref>(1));
  EXPECT_EQ(idx.find({{"__name__", "up"}}), std::nullopt);
  EXPECT_EQ(idx.find({{"__name__", "up"}, {"job", "api"}, {"x", "y"}}), std::nullopt);
  EXPECT_EQ(idx.labels_of(1), b);
  EXPECT_EQ(idx.id_of(0), wire::series_hash(a));
  EXPECT_EQ(idx.size(), 2u);
}

TEST(SeriesIndex, GetOrAddWithAKnownHashFindsTheSameSeries) {
  series_index idx;
  labels a = {{"__name__", "up"}, {"job", "api"}};
  labels b = {{"__name__", "up"}, {"job", "db"}};
  EXPECT_EQ(idx.get_or_add(a, wire::series_hash(a)), std::make_pair(series_ref{0}, true));
  EXPECT_EQ(idx.get_or_add(a), std::make_pair(series_ref{0}, false));
  EXPECT_EQ(idx.get_or_add(b), std::make_pair(series_ref{1}, true));
  EXPECT_EQ(idx.get_or_add(b, wire::series_hash(b)), std::make_pair(series_ref{1}, false));
  EXPECT_EQ(idx.id_of(0), wire::series_hash(a));
}

TEST(SeriesIndex, EmptyLabelSetIsASeriesToo) {
  series_index idx;
  auto [r, created] = idx.get_or_add({});
  EXPECT_TRUE(created);
  EXPECT_EQ(idx.find({}), std::optional<series_ref>(r));
  EXPECT_EQ(idx.labels_of(r), labels{});
}

TEST(SeriesIndex, CollidingHashesAreSeparateSeries) {
  series_index idx(&constant_hash);
  std::vector<labels> sets;
  for (int i = 0; i < 200; ++i) sets.push_back({{"__name__", "m"}, {"i", std::to_string(i)}});
  for (size_t i = 0; i < sets.size(); ++i) EXPECT_EQ(idx.get_or_add(sets[i]), std::make_pair(series_ref(i), true));
  for (size_t i = 0; i < sets.size(); ++i) {
    EXPECT_EQ(idx.get_or_add(sets[i]), std::make_pair(series_ref(i), false));
    EXPECT_EQ(idx.find(sets[i]), std::optional<series_ref>(i));
    EXPECT_EQ(idx.labels_of(series_ref(i)), sets[i]);
    EXPECT_EQ(idx.id_of(series_ref(i)), 42u);
  }
  idx.remove(7);
  EXPECT_EQ(idx.find(sets[7]), std::nullopt);
  EXPECT_EQ(idx.find(sets[8]), std::optional<series_ref>(8));
  EXPECT_EQ(idx.get_or_add(sets[7]), std::make_pair(series_ref(200), true));
  EXPECT_EQ(to_vector(idx.select({eq("i", "7")})), (std::vector<series_ref>{200}));
}

// labels_less orders refs as their copied labels compare, for prefixes,
// shared names or values, the empty set, and removed or unknown refs.
TEST(SeriesIndex, LabelsLessOrdersRefsAsTheirLabelsCompare) {
  series_index idx;
  std::vector<labels> sets = {
      {{"__name__", "up"}, {"job", "db"}},
      {{"__name__", "up"}, {"job", "api"}},
      {{"__name__", "up"}},
      {{"__name__", "up"}, {"job", "api"}, {"z", "1"}},
      {{"__name__", "down"}, {"job", "api"}},
      {{"__name__", "up"}, {"jobs", "api"}},
      {{"__name__", "up"}, {"instance", "api"}},
      {{"a", "up"}},
      {},
      {{"__name__", "upx"}, {"job", "db"}},
  };
  for (const auto& ls : sets) idx.get_or_add(ls);
  idx.remove(5);
  for (series_ref a = 0; a < 12; ++a)
    for (series_ref b = 0; b < 12; ++b)
      EXPECT_EQ(idx.labels_less(a, b), idx.labels_of(a) < idx.labels_of(b)) << a << " < " << b;
}

TEST(SeriesIndex, RemoveForgetsTheSeriesAndNeverReusesItsRef) {
  series_index idx;
  labels a = {{"__name__", "up"}, {"job", "api"}, {"only_a", "x"}};
  labels b = {{"__name__", "up"}, {"job", "db"}};
  idx.get_or_add(a);
  idx.get_or_add(b);
  idx.note_time(0, 1000);
  idx.remove(0);
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_FALSE(idx.contains(0));
  EXPECT_EQ(idx.find(a), std::nullopt);
  EXPECT_EQ(idx.labels_of(0), labels{});
  EXPECT_EQ(idx.id_of(0), 0u);
  EXPECT_EQ(to_vector(idx.select({eq("__name__", "up")})), (std::vector<series_ref>{1}));
  EXPECT_EQ(idx.label_names(idx.all()), (std::vector<std::string>{"__name__", "job"}));
  EXPECT_EQ(idx.label_values("job", idx.all()), (std::vector<std::string>{"db"}));
  idx.note_time(0, 2000);  // a removed ref is ignored
  EXPECT_TRUE(idx.active_between(0, 10000).isEmpty());
  idx.remove(0);   // twice: nothing
  idx.remove(99);  // unknown: nothing
  EXPECT_EQ(idx.get_or_add(a), std::make_pair(series_ref{2}, true));
  EXPECT_EQ(idx.labels_of(2), a);
}

TEST(SeriesIndex, ManyRemovalsKeepTheSurvivorsIntact) {
  // Enough removals to compact the shared label array and to move postings
  // between inline and bitmap form.
  series_index idx;
  std::vector<labels> sets;
  for (int i = 0; i < 6000; ++i)
    sets.push_back({{"__name__", "m" + std::to_string(i % 5)}, {"i", std::to_string(i)}, {"p", std::to_string(i % 7)}});
  for (auto& s : sets) idx.get_or_add(s);
  for (series_ref r = 0; r < 6000; ++r)
    if (r % 3 != 0) idx.remove(r);
  EXPECT_EQ(idx.size(), 2000u);
  for (series_ref r = 0; r < 6000; ++r) {
    if (r % 3 != 0) continue;
    ASSERT_EQ(idx.labels_of(r), sets[r]) << r;
    ASSERT_EQ(idx.find(sets[r]), std::optional<series_ref>(r)) << r;
  }
  std::vector<series_ref> want;
  for (series_ref r = 0; r < 6000; r += 3)
    if (r % 5 == 2 && r % 7 == 4) want.push_back(r);
  EXPECT_EQ(to_vector(idx.select({eq("__name__", "m2"), eq("p", "4")})), want);
  EXPECT_EQ(idx.label_values("i", idx.select({eq("i", "9")})), (std::vector<std::string>{"9"}));
  EXPECT_EQ(idx.label_values("i", idx.select({eq("i", "10")})), (std::vector<std::string>{}));
}

TEST(SeriesIndex, ActiveBetweenIsTheUnionOfOverlappingBlocks) {
  series_index idx(&wire::series_hash, 1000);
  for (int i = 0; i < 4; ++i) idx.get_or_add({{"i", std::to_string(i)}});
  idx.note_time(0, 0);     // block 0
  idx.note_time(0, 999);   // block 0
  idx.note_time(1, 1000);  // block 1
  idx.note_time(2, 2500);  // block 2
  idx.note_time(2, 500);   // block 0, older than its newest
  idx.note_time(3, -1);    // block -1 (floor)
  using v = std::vector<series_ref>;
  EXPECT_EQ(to_vector(idx.active_between(0, 999)), (v{0, 2}));
  EXPECT_EQ(to_vector(idx.active_between(999, 1000)), (v{0, 1, 2}));  // both ends inclusive
  EXPECT_EQ(to_vector(idx.active_between(1500, 1600)), (v{1}));       // inside a block
  EXPECT_EQ(to_vector(idx.active_between(2000, 99999)), (v{2}));
  EXPECT_EQ(to_vector(idx.active_between(-1000, -1)), (v{3}));
  EXPECT_EQ(to_vector(idx.active_between(-5000, -1001)), (v{}));
  EXPECT_EQ(to_vector(idx.active_between(10, 5)), (v{}));  // reversed
  EXPECT_EQ(to_vector(idx.active_between(INT64_MIN, INT64_MAX)), (v{0, 1, 2, 3}));
}

TEST(SeriesIndex, DropBlocksBeforeReturnsSeriesActiveNowhereElse) {
  series_index idx(&wire::series_hash, 1000);
  for (int i = 0; i < 5; ++i) idx.get_or_add({{"i", std::to_string(i)}});
  idx.note_time(0, 100);  // block 0 only
  idx.note_time(1, 100);  // blocks 0 and 2
  idx.note_time(1, 2100);
  idx.note_time(2, 1100);  // block 1 only
  idx.note_time(3, 2100);  // block 2 only
  // 4: never noted
  using v = std::vector<series_ref>;
  EXPECT_EQ(idx.drop_blocks_before(999), (v{}));  // block 0 ends at 1000: not before 999
  EXPECT_EQ(idx.drop_blocks_before(1000), (v{0}));
  EXPECT_EQ(to_vector(idx.active_between(0, 999)), (v{}));
  EXPECT_EQ(idx.drop_blocks_before(1999), (v{}));
  EXPECT_EQ(idx.drop_blocks_before(2000), (v{2}));
  EXPECT_EQ(to_vector(idx.active_between(INT64_MIN, INT64_MAX)), (v{1, 3}));
  idx.remove(0);
  idx.remove(2);
  // A dropped series that was not removed becomes active again with a new sample.
  EXPECT_EQ(idx.drop_blocks_before(5000), (v{1, 3}));
  idx.note_time(3, 5500);
  EXPECT_EQ(to_vector(idx.active_between(5000, 5999)), (v{3}));
  EXPECT_EQ(idx.drop_blocks_before(7000), (v{3}));
}

TEST(SeriesIndex, RemovedSeriesLeavesEveryBlock) {
  series_index idx(&wire::series_hash, 10);
  idx.get_or_add({{"i", "0"}});
  idx.get_or_add({{"i", "1"}});
  for (int64_t t = 0; t < 100; t += 10) {
    idx.note_time(0, t);
    idx.note_time(1, t);
  }
  idx.remove(0);
  EXPECT_EQ(to_vector(idx.active_between(0, 100)), (std::vector<series_ref>{1}));
  EXPECT_EQ(idx.drop_blocks_before(1000), (std::vector<series_ref>{1}));
}

TEST(SeriesIndex, LabelNamesAndValuesOfTheGivenRefs) {
  series_index idx;
  idx.get_or_add({{"__name__", "up"}, {"job", "api"}, {"zone", "eu"}});  // 0
  idx.get_or_add({{"__name__", "up"}, {"job", "db"}});                   // 1
  idx.get_or_add({{"__name__", "cpu"}, {"core", "0"}, {"job", "api"}});  // 2
  idx.get_or_add({{"__name__", "cpu"}, {"empty", ""}, {"job", "api"}});  // 3
  using s = std::vector<std::string>;
  EXPECT_EQ(idx.label_names(idx.all()), (s{"__name__", "core", "empty", "job", "zone"}));
  EXPECT_EQ(idx.label_names(idx.select({eq("__name__", "up")})), (s{"__name__", "job", "zone"}));
  EXPECT_EQ(idx.label_names(Roaring()), (s{}));
  EXPECT_EQ(idx.label_values("job", idx.all()), (s{"api", "db"}));
  EXPECT_EQ(idx.label_values("job", idx.select({eq("__name__", "cpu")})), (s{"api"}));
  EXPECT_EQ(idx.label_values("__name__", idx.select({eq("job", "api")})), (s{"cpu", "up"}));
  EXPECT_EQ(idx.label_values("empty", idx.all()), (s{}));  // values are non-empty
  EXPECT_EQ(idx.label_values("nope", idx.all()), (s{}));
  Roaring one;
  one.add(1);
  EXPECT_EQ(idx.label_values("job", one), (s{"db"}));  // fewer refs than values: read from the series
}

TEST(SeriesIndex, LabelValuesAgreeOnBothPaths) {
  // The values of a label are found by postings when the refs outnumber the
  // values, else through the series; both must give the same answer.
  series_index idx;
  for (int i = 0; i < 300; ++i)
    idx.get_or_add({{"__name__", "m"}, {"g", std::to_string(i % 10)}, {"i", std::to_string(i)}});
  for (int k = 1; k <= 300; k += 37) {
    Roaring refs;
    std::set<std::string> want_g, want_i;
    for (series_ref r = 0; r < 300; r += k) {
      refs.add(r);
      want_g.insert(std::to_string(r % 10));
      want_i.insert(std::to_string(r));
    }
    EXPECT_EQ(idx.label_values("g", refs), std::vector<std::string>(want_g.begin(), want_g.end())) << k;
    EXPECT_EQ(idx.label_values("i", refs), std::vector<std::string>(want_i.begin(), want_i.end())) << k;
  }
}

TEST(SeriesIndex, StatsCountLikePrometheus) {
  series_index idx;
  idx.get_or_add({{"__name__", "up"}, {"instance", "a:1"}, {"job", "api"}});
  idx.get_or_add({{"__name__", "up"}, {"instance", "b:1"}, {"job", "api"}});
  idx.get_or_add({{"__name__", "up"}, {"instance", "c:1"}, {"job", "db"}});
  idx.get_or_add({{"__name__", "cpu_seconds"}, {"instance", "a:1"}, {"job", "api"}});
  auto s = idx.stats(10);
  using v = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(s.series, 4u);
  EXPECT_EQ(s.series_by_metric, (v{{"up", 3}, {"cpu_seconds", 1}}));
  EXPECT_EQ(s.values_by_label, (v{{"instance", 3}, {"__name__", 2}, {"job", 2}}));
  EXPECT_EQ(s.series_by_label_pair, (v{{"__name__=up", 3},
                                       {"job=api", 3},
                                       {"instance=a:1", 2},
                                       {"__name__=cpu_seconds", 1},
                                       {"instance=b:1", 1},
                                       {"instance=c:1", 1},
                                       {"job=db", 1}}));
  // Bytes as Prometheus counts them: length of each value times its series.
  EXPECT_EQ(s.bytes_by_label, (v{{"__name__", 2 * 3 + 11 * 1}, {"instance", 3 * 4}, {"job", 3 * 3 + 2}}));

  auto top2 = idx.stats(2);
  EXPECT_EQ(top2.series_by_label_pair, (v{{"__name__=up", 3}, {"job=api", 3}}));
  EXPECT_EQ(top2.values_by_label, (v{{"instance", 3}, {"__name__", 2}}));
  EXPECT_EQ(top2.series_by_metric.size(), 2u);
  EXPECT_EQ(idx.stats(0).series_by_label_pair, v{});
  EXPECT_EQ(series_index().stats(5).series, 0u);
}

TEST(SeriesIndex, MemoryEstimateGrowsWithSeriesAndOptimizeKeepsAnswers) {
  series_index idx;
  size_t empty = idx.memory_bytes();
  for (int i = 0; i < 5000; ++i) {
    auto [r, created] = idx.get_or_add({{"__name__", "m"}, {"i", std::to_string(i)}});
    idx.note_time(r, i * 1000);
  }
  EXPECT_GT(idx.memory_bytes(), empty + 5000 * 16);
  auto before = to_vector(idx.select({eq("__name__", "m"), re("i", "1.*")}));
  idx.optimize();
  EXPECT_EQ(to_vector(idx.select({eq("__name__", "m"), re("i", "1.*")})), before);
  EXPECT_EQ(idx.active_between(0, INT64_MAX).cardinality(), 5000u);
}

}  // namespace
}  // namespace strata::persistence::index
