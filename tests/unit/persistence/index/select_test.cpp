// series_index::select: every matcher kind with Prometheus semantics, and
// random label sets and matchers checked against a scan of every series.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "index_test_util.hpp"

namespace strata::persistence::index {
namespace {

using namespace index_test;
using refs = std::vector<series_ref>;

// Series 0..5 of a small fixed index.
class SelectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add({{"__name__", "up"}, {"env", "prod"}, {"job", "api"}});       // 0
    add({{"__name__", "up"}, {"env", "dev"}, {"job", "apiserver"}});  // 1
    add({{"__name__", "up"}, {"job", "db"}});                         // 2: no env
    add({{"__name__", "down"}, {"env", ""}, {"job", "api"}});         // 3: env stored empty
    add({{"__name__", "down"}, {"env", "prod"}, {"job", "xapi"}});    // 4
    add({{"env", "prod"}});                                           // 5: no name
  }
  void add(const labels& ls) { idx_.get_or_add(ls); }
  refs sel(const matchers& ms) { return to_vector(idx_.select(ms)); }

  series_index idx_;
};

TEST_F(SelectTest, Equality) {
  EXPECT_EQ(sel({eq("job", "api")}), (refs{0, 3}));
  EXPECT_EQ(sel({eq("__name__", "up"), eq("env", "prod")}), (refs{0}));
  EXPECT_EQ(sel({eq("job", "nope")}), (refs{}));
  EXPECT_EQ(sel({eq("nolabel", "x")}), (refs{}));
}

TEST_F(SelectTest, EqualsEmptyAlsoMatchesSeriesWithoutTheLabel) {
  EXPECT_EQ(sel({eq("env", "")}), (refs{2, 3}));
  EXPECT_EQ(sel({eq("nolabel", "")}), (refs{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(sel({eq("__name__", "up"), eq("env", "")}), (refs{2}));
}

TEST_F(SelectTest, NotEqualExcludesAndKeepsSeriesWithoutTheLabel) {
  EXPECT_EQ(sel({neq("env", "prod")}), (refs{1, 2, 3}));
  EXPECT_EQ(sel({eq("__name__", "up"), neq("env", "prod")}), (refs{1, 2}));
  EXPECT_EQ(sel({neq("nolabel", "x")}), (refs{0, 1, 2, 3, 4, 5}));
}

TEST_F(SelectTest, NotEqualEmptyRequiresANonEmptyValue) {
  EXPECT_EQ(sel({neq("env", "")}), (refs{0, 1, 4, 5}));
  EXPECT_EQ(sel({neq("nolabel", "")}), (refs{}));
}

TEST_F(SelectTest, RegexIsFullyAnchored) {
  EXPECT_EQ(sel({re("job", "api")}), (refs{0, 3}));  // not apiserver, not xapi
  EXPECT_EQ(sel({re("job", "api.*")}), (refs{0, 1, 3}));
  EXPECT_EQ(sel({re("job", ".*api")}), (refs{0, 3, 4}));
  EXPECT_EQ(sel({re("job", "a.i")}), (refs{0, 3}));
  EXPECT_EQ(sel({re("job", "pi")}), (refs{}));
  EXPECT_EQ(sel({re("job", "api|db")}), (refs{0, 2, 3}));  // literal alternatives
  EXPECT_EQ(sel({re("job", "(api|db)")}), (refs{0, 2, 3}));
  EXPECT_EQ(sel({re("job", "ap")}), (refs{}));
}

TEST_F(SelectTest, RegexThatMatchesEmptyAlsoMatchesSeriesWithoutTheLabel) {
  EXPECT_EQ(sel({re("env", "prod|")}), (refs{0, 2, 3, 4, 5}));
  EXPECT_EQ(sel({re("env", "p.*|")}), (refs{0, 2, 3, 4, 5}));
  EXPECT_EQ(sel({re("env", ".*")}), (refs{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(sel({re("env", "")}), (refs{2, 3}));
  EXPECT_EQ(sel({re("env", ".+")}), (refs{0, 1, 4, 5}));
  EXPECT_EQ(sel({re("nolabel", ".*")}), (refs{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(sel({re("nolabel", ".+")}), (refs{}));
}

TEST_F(SelectTest, NegativeRegex) {
  EXPECT_EQ(sel({nre("job", "api.*")}), (refs{2, 4, 5}));
  EXPECT_EQ(sel({nre("env", ".+")}), (refs{2, 3}));  // only series without a value
  EXPECT_EQ(sel({nre("env", ".*")}), (refs{}));
  EXPECT_EQ(sel({nre("env", "")}), (refs{0, 1, 4, 5}));
  EXPECT_EQ(sel({nre("env", "prod|dev")}), (refs{2, 3}));
  EXPECT_EQ(sel({nre("env", "pr.d|")}), (refs{1}));
  EXPECT_EQ(sel({nre("nolabel", "x")}), (refs{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(sel({eq("__name__", "down"), nre("job", "x.*")}), (refs{3}));
}

TEST_F(SelectTest, NoMatchersSelectsEverySeries) { EXPECT_EQ(sel({}), (refs{0, 1, 2, 3, 4, 5})); }

TEST_F(SelectTest, MatchersOnOneLabelCombine) {
  EXPECT_EQ(sel({re("job", "api.*"), neq("job", "api")}), (refs{1}));
  EXPECT_EQ(sel({eq("job", "api"), eq("job", "db")}), (refs{}));
}

TEST(Select, RegexOnFewCandidatesAndOnManyValuesAgree) {
  // Few series left after the equality, many values of the regex's label: the
  // regex is tried on those series' values, not on every value of the label.
  series_index idx;
  for (int i = 0; i < 1000; ++i)
    idx.get_or_add({{"__name__", i < 3 ? "rare" : "common"}, {"instance", "host-" + std::to_string(i)}});
  EXPECT_EQ(to_vector(idx.select({eq("__name__", "rare"), re("instance", "host-[12]")})), (refs{1, 2}));
  EXPECT_EQ(to_vector(idx.select({eq("__name__", "rare"), nre("instance", "host-[12]")})), (refs{0}));
  EXPECT_EQ(to_vector(idx.select({re("instance", "host-99.")})).size(), 10u);
  EXPECT_EQ(to_vector(idx.select({nre("instance", "host-.*[0-8]")})).size(), 100u);
}

// Random label sets over few names and values, random matchers of every kind,
// compared with matches_all over every live series. Removals and a constant
// hash (every series collides) are mixed in.
void check_against_scan(uint64_t seed, series_index::hash_fn hash) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<std::string> names = {"__name__", "a", "b", "env", "job"};
  const std::vector<std::string> values = {"", "foo", "foobar", "bar", "ba", "b", "x|y", "Foo", "f\no"};
  const std::vector<std::string> regexes = {".*", ".+", "",       "foo",    "fo.*", "foo|bar", "ba?", "f.*r", "(foo|)",
                                            "b|", "oo", ".*oo.*", "[fb].*", "FOO",  "(?i)foo", "f.o", "x\\|y"};
  series_index idx(hash);
  std::map<series_ref, labels> live;
  size_t n = 50 + rng() % 800;
  for (size_t i = 0; i < n; ++i) {
    labels ls;
    for (const auto& name : names)
      if (rng() % 3 != 0) ls.push_back({name, values[rng() % (rng() % 2 ? 3 : values.size())]});
    auto [r, created] = idx.get_or_add(ls);
    if (created) live[r] = ls;
    if (rng() % 7 == 0 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      idx.remove(it->first);
      live.erase(it);
    }
  }
  ASSERT_EQ(idx.size(), live.size());
  for (int q = 0; q < 300; ++q) {
    matchers ms;
    size_t k = rng() % 4;
    for (size_t j = 0; j < k; ++j) {
      std::string name = rng() % 8 == 0 ? "missing" : names[rng() % names.size()];
      auto type = static_cast<matcher::op>(rng() % 4);
      bool regex = type == matcher::op::re || type == matcher::op::nre;
      std::string value = regex ? regexes[rng() % regexes.size()] : values[rng() % values.size()];
      ms.push_back(test_support::make_matcher(type, name, value));
    }
    refs want;
    for (const auto& [r, ls] : live)
      if (matches_all(ms, ls)) want.push_back(r);
    std::string text;
    for (const auto& m : ms) text += m.to_string() + " ";
    ASSERT_EQ(to_vector(idx.select(ms)), want) << "{" << text << "}";
  }
}

uint64_t constant_hash(const labels&) { return 7; }

TEST(Select, RandomMatchersAgreeWithAScanOfEverySeries) {
  for (uint64_t seed = 1; seed <= 40; ++seed) check_against_scan(seed, &wire::series_hash);
}

TEST(Select, RandomMatchersAgreeWithAScanWhenEveryHashCollides) {
  for (uint64_t seed = 100; seed <= 104; ++seed) check_against_scan(seed, &constant_hash);
}

}  // namespace
}  // namespace strata::persistence::index
