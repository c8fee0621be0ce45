// Pushdown: which subtrees may run at a shard, and that merging the shards'
// partial aggregates gives the single-node answer.
#include "query/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <map>
#include <random>

#include "query/parser.hpp"

namespace strata::query {
namespace {

class memory_source final : public series_source {
 public:
  void add(series s) { data_.push_back(std::move(s)); }
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    std::vector<series> out;
    for (const auto& s : data_) {
      if (!matches_all(ms, s.lbls)) continue;
      series cut{s.lbls, {}};
      for (const auto& x : s.samples)
        if (x.t >= mint && x.t <= maxt) cut.samples.push_back(x);
      if (!cut.samples.empty()) out.push_back(std::move(cut));
    }
    return out;
  }

 private:
  std::vector<series> data_;
};

expr q(const char* s) {
  auto e = parse(s);
  EXPECT_TRUE(e.is_ok()) << s;
  return std::move(*e);
}

TEST(Pushdown, SeriesLocalSubtrees) {
  EXPECT_TRUE(is_series_local(q("up")));
  EXPECT_TRUE(is_series_local(q("rate(up[5m])")));
  EXPECT_TRUE(is_series_local(q("abs(rate(up[5m])) * 2")));
  EXPECT_FALSE(is_series_local(q("up + on(job) down")));
  EXPECT_FALSE(is_series_local(q("sum(up)")));
  EXPECT_FALSE(is_series_local(q("rate(up[5m:1m])")));
}

TEST(Pushdown, DecomposableAggregations) {
  EXPECT_TRUE(is_decomposable_aggregation(q("sum by (job) (rate(up[5m]))")));
  EXPECT_TRUE(is_decomposable_aggregation(q("topk(3, up)")));
  EXPECT_TRUE(is_decomposable_aggregation(q("stddev without (i) (up)")));
  EXPECT_FALSE(is_decomposable_aggregation(q("quantile(0.5, up)")));
  EXPECT_FALSE(is_decomposable_aggregation(q("count_values(\"v\", up)")));
  EXPECT_FALSE(is_decomposable_aggregation(q("sum(up + on(job) down)")));
}

TEST(Pushdown, RootsAreMaximal) {
  auto e = q("sum(rate(a[5m])) / on() count(b) + quantile(0.9, c)");
  auto roots = pushdown_roots(e);
  ASSERT_EQ(roots.size(), 3u);
  EXPECT_EQ(to_string(*roots[0]), "sum(rate(a[5m]))");
  EXPECT_EQ(to_string(*roots[1]), "count(b)");
  EXPECT_EQ(to_string(*roots[2]), "c");
}

// Series spread over three shards: the merged partials equal the answer of
// one node holding everything.
TEST(Pushdown, MergedShardAnswersEqualSingleNode) {
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  memory_source all;
  std::vector<memory_source> shards(3);
  for (int i = 0; i < 30; ++i) {
    series s{{{"__name__", "m"}, {"i", std::to_string(i)}, {"job", std::string(1, static_cast<char>('a' + i % 4))}},
             {}};
    sort_labels(s.lbls);
    double v = 0;
    for (int t = 0; t <= 20; ++t) {
      v += static_cast<double>(rng() % 100);
      s.samples.push_back({t * 15000, v});
    }
    shards[rng() % 3].add(s);
    all.add(std::move(s));
  }
  const int64_t t = 300000;
  for (const char* text : {"sum by (job) (m)", "count(m)", "min by (job) (m)", "max(m)", "avg by (job) (m)",
                           "group by (job) (m)", "sum without (i) (rate(m[2m]))", "stddev by (job) (m)",
                           "stdvar(m)", "topk(3, m)", "bottomk by (job) (2, m * 2)"}) {
    SCOPED_TRACE(text);
    auto e = q(text);
    ASSERT_TRUE(is_decomposable_aggregation(e));
    auto single = eval_instant(e, all, t, {});
    ASSERT_TRUE(single.is_ok()) << single.error().message();
    std::vector<std::vector<partial_group>> parts;
    for (auto& sh : shards) {
      auto p = eval_partial(e, sh, t, {});
      ASSERT_TRUE(p.is_ok()) << p.error().message();
      parts.push_back(std::move(*p));
    }
    vector merged = merge_partials(e, std::move(parts), t);
    vector expect = std::get<vector>(single->value);
    auto by_labels = [](const instant_sample& a, const instant_sample& b) { return a.metric < b.metric; };
    std::sort(expect.begin(), expect.end(), by_labels);
    std::sort(merged.begin(), merged.end(), by_labels);
    ASSERT_EQ(merged.size(), expect.size());
    bool variance = std::string(text).find("std") != std::string::npos;
    for (size_t i = 0; i < merged.size(); ++i) {
      EXPECT_EQ(merged[i].metric, expect[i].metric);
      if (variance) EXPECT_NEAR(merged[i].s.v, expect[i].s.v, 1e-9 * std::fabs(expect[i].s.v) + 1e-12);
      else EXPECT_EQ(merged[i].s.v, expect[i].s.v);
    }
  }
}

// Range partials: per step, the merged partials of three shards equal the
// single-node range answer at that step.
TEST(Pushdown, RangePartialsMergedPerStepEqualSingleNodeRange) {
  memory_source all;
  std::vector<memory_source> shards(3);
  for (int i = 0; i < 24; ++i) {
    series s{{{"__name__", "m"}, {"i", std::to_string(i)}, {"job", std::string(1, static_cast<char>('a' + i % 3))}},
             {}};
    sort_labels(s.lbls);
    for (int t = 0; t <= 40; ++t) s.samples.push_back({t * 15000, double(t * (i + 1))});
    shards[i % 3].add(s);
    all.add(std::move(s));
  }
  const int64_t start = 120000, end = 600000, step = 60000;
  for (const char* text : {"sum by (job) (rate(m[2m]))", "count(m)", "max by (job) (m)", "topk(2, m)"}) {
    SCOPED_TRACE(text);
    auto e = q(text);
    auto single = eval_range(e, all, start, end, step, {});
    ASSERT_TRUE(single.is_ok()) << single.error().message();
    std::vector<partial_table> per_shard;
    for (auto& sh : shards) {
      auto p = eval_partial_range(e, sh, start, end, step, {});
      ASSERT_TRUE(p.is_ok()) << p.error().message();
      ASSERT_EQ(p->steps.size(), 9u);
      per_shard.push_back(std::move(*p));
    }
    std::map<labels, std::vector<sample>> merged;
    auto m = merge_partial_tables(e, std::move(per_shard), start, step);
    ASSERT_TRUE(m.is_ok()) << m.error().message();
    for (auto& s : *m) merged[s.lbls] = std::move(s.samples);
    const auto& expect = std::get<matrix>(single->value);
    ASSERT_EQ(merged.size(), expect.size());
    for (const auto& s : expect) {
      ASSERT_EQ(merged[s.lbls].size(), s.samples.size()) << to_string(s.lbls);
      for (size_t i = 0; i < s.samples.size(); ++i) {
        EXPECT_EQ(merged[s.lbls][i].t, s.samples[i].t);
        EXPECT_EQ(merged[s.lbls][i].v, s.samples[i].v);
      }
    }
  }
}

// A node combines its shards' tables before sending them: merging the
// combined table with another shard's equals merging the three.
TEST(Pushdown, CombinedTablesMergeLikeTheirParts) {
  std::vector<memory_source> shards(3);
  for (int i = 0; i < 30; ++i) {
    series s{{{"__name__", "m"}, {"i", std::to_string(i)}, {"job", std::string(1, static_cast<char>('a' + i % 4))}},
             {}};
    sort_labels(s.lbls);
    // Shard 2 starts late: its table has groups and steps the others lack.
    for (int t = (i % 3 == 2 ? 20 : 0); t <= 40; ++t) s.samples.push_back({t * 15000, double((t * (i + 3)) % 17)});
    shards[i % 3].add(std::move(s));
  }
  const int64_t start = 120000, end = 600000, step = 60000;
  for (const char* text : {"sum by (job) (rate(m[2m]))", "count(m)", "min by (job) (m)", "avg by (job) (m)",
                           "stddev(m)", "topk(3, m)", "bottomk(2, m)", "group by (job) (m)"}) {
    SCOPED_TRACE(text);
    auto e = q(text);
    auto tables = [&] {
      std::vector<partial_table> out;
      for (auto& sh : shards) {
        auto p = eval_partial_range(e, sh, start, end, step, {});
        EXPECT_TRUE(p.is_ok());
        out.push_back(p.is_ok() ? std::move(*p) : partial_table{});
      }
      return out;
    };
    auto three = tables();
    auto parts = tables();
    std::vector<partial_table> first_two;
    first_two.push_back(std::move(parts[0]));
    first_two.push_back(std::move(parts[1]));
    std::vector<partial_table> two;
    two.push_back(combine_partial_tables(std::move(first_two)));
    two.push_back(std::move(parts[2]));
    auto want = merge_partial_tables(e, std::move(three), start, step);
    auto got = merge_partial_tables(e, std::move(two), start, step);
    ASSERT_TRUE(want.is_ok() && got.is_ok());
    ASSERT_FALSE(want->empty());
    std::map<labels, std::vector<sample>> by_labels;
    for (auto& s : *got) by_labels[s.lbls] = std::move(s.samples);
    ASSERT_EQ(by_labels.size(), want->size());
    for (const auto& s : *want) {
      const auto& g = by_labels[s.lbls];
      ASSERT_EQ(g.size(), s.samples.size()) << to_string(s.lbls);
      for (size_t i = 0; i < g.size(); ++i) {
        EXPECT_EQ(g[i].t, s.samples[i].t);
        EXPECT_NEAR(g[i].v, s.samples[i].v, 1e-9 * std::fabs(s.samples[i].v)) << to_string(s.lbls);
      }
    }
  }
}

TEST(Pushdown, PushableAggregationsStopAtSubqueriesAndNameGrouping) {
  auto e = q("sum(rate(a[5m])) / max_over_time(sum(b)[10m:1m]) + count by (__name__) (c) + histogram_quantile(0.9, sum by (le) (rate(h[5m])))");
  auto roots = pushable_subtrees(e);
  ASSERT_EQ(roots.size(), 3u);
  EXPECT_EQ(to_string(*roots[0]), "sum(rate(a[5m]))");
  EXPECT_EQ(to_string(*roots[1]), "c");
  EXPECT_EQ(to_string(*roots[2]), "sum by (le) (rate(h[5m]))");
}

// A series-local subtree whose names a shard drops is pushed only where
// nothing above it reads names; a vector selector is pushed anywhere.
TEST(Pushdown, SeriesLocalSubtreesArePushedWhereEarlyNameDropsCannotShow) {
  auto texts = [](const char* text) {
    auto e = q(text);
    std::vector<std::string> out;
    for (const expr* r : pushable_subtrees(e)) out.push_back(to_string(*r));
    return out;
  };
  using v = std::vector<std::string>;
  EXPECT_EQ(texts("max_over_time(load[30m])"), v{"max_over_time(load[30m])"});
  EXPECT_EQ(texts("avail / total"), (v{"avail", "total"}));
  EXPECT_EQ(texts("min by (host) (avail / total)"), (v{"avail", "total"}));
  EXPECT_EQ(texts("rate(a[5m]) / rate(b[5m]) > 0.5"), (v{"rate(a[5m])", "rate(b[5m])"}));
  EXPECT_EQ(texts("histogram_quantile(0.9, rate(h[5m]))"), v{"rate(h[5m])"});
  EXPECT_EQ(texts("quantile(0.9, abs(x - 1))"), v{"abs(x - 1)"});
  EXPECT_EQ(texts("label_replace(rate(a[5m]), \"n\", \"$1\", \"__name__\", \"(.*)\")"), v{});
  EXPECT_EQ(texts("sort(rate(a[5m]))"), v{});
  EXPECT_EQ(texts("topk(2, rate(a[5m]) * on(i) b)"), v{"b"});
  EXPECT_EQ(texts("rate(a[5m]) * on(__name__) rate(b[5m])"), v{});
  EXPECT_EQ(texts("sum by (__name__) (rate(a[5m]))"), v{});
  EXPECT_EQ(texts("a[5m]"), v{});
  EXPECT_EQ(texts("max_over_time(rate(a[5m])[10m:1m])"), v{});
  EXPECT_EQ(texts("absent(a)"), v{"a"});
}

// A series-local expression evaluated per shard and merged equals the
// single-node answer; two shards answering the same labels at one step is
// PromQL's duplicate-labelset error.
TEST(Pushdown, SeriesLocalTablesMergeToTheSingleNodeAnswer) {
  memory_source all;
  std::vector<memory_source> shards(3);
  for (int i = 0; i < 24; ++i) {
    for (const char* name : {"a", "b"}) {
      series s{{{"__name__", name}, {"i", std::to_string(i)}}, {}};
      sort_labels(s.lbls);
      // Some series start late or stop early: steps without a value.
      for (int t = i % 5; t <= 40 - i % 7; ++t) s.samples.push_back({t * 15000, double((t * (i + 2)) % 23)});
      shards[(i + (name[0] == 'b')) % 3].add(s);
      all.add(std::move(s));
    }
  }
  const int64_t start = 60000, end = 600000, step = 30000;
  for (const char* text : {"a", "max_over_time(a[2m])", "rate(b[1m]) * 2", "a offset 1m", "abs(a - 10)",
                           "timestamp(b)"}) {
    SCOPED_TRACE(text);
    auto e = q(text);
    ASSERT_TRUE(is_pushable(e));
    for (bool instant : {false, true}) {
      int64_t until = instant ? start : end;
      auto single = instant ? eval_instant(e, all, start, {}) : eval_range(e, all, start, until, step, {});
      ASSERT_TRUE(single.is_ok()) << single.error().message();
      std::vector<partial_table> per_shard;
      for (auto& sh : shards) {
        auto p = eval_partial_range(e, sh, start, until, instant ? 0 : step, {});
        ASSERT_TRUE(p.is_ok()) << p.error().message();
        per_shard.push_back(std::move(*p));
      }
      auto m = merge_partial_tables(e, std::move(per_shard), start, instant ? 1 : step);
      ASSERT_TRUE(m.is_ok()) << m.error().message();
      std::map<labels, std::vector<sample>> want;
      if (instant) {
        for (const auto& x : std::get<vector>(single->value)) want[x.metric].push_back(x.s);
      } else {
        for (const auto& s : std::get<matrix>(single->value)) want[s.lbls] = s.samples;
      }
      ASSERT_EQ(m->size(), want.size());
      for (const auto& s : *m) {
        const auto& w = want[s.lbls];
        ASSERT_EQ(s.samples.size(), w.size()) << to_string(s.lbls);
        for (size_t i = 0; i < w.size(); ++i) {
          EXPECT_EQ(s.samples[i].t, w[i].t);
          EXPECT_EQ(s.samples[i].v, w[i].v);
        }
      }
    }
  }
  // rate() drops the names: a{i} and b{i} on different shards collide.
  auto e = q("rate({__name__=~\"a|b\"}[1m])");
  std::vector<partial_table> per_shard;
  for (auto& sh : shards) {
    auto p = eval_partial_range(e, sh, start, end, step, {});
    ASSERT_TRUE(p.is_ok()) << p.error().message();
    per_shard.push_back(std::move(*p));
  }
  auto m = merge_partial_tables(e, std::move(per_shard), start, step);
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.error().message(), "vector cannot contain metrics with the same labelset");
  EXPECT_FALSE(eval_range(e, all, start, end, step, {}).is_ok());
}

// The engine answers a precomputed node with the given values instead of
// evaluating it (the coordinator's merged pushdown results).
TEST(Pushdown, PrecomputedNodesAreNotEvaluated) {
  memory_source empty;
  auto e = q("sum(x) * 2");
  const auto& b = std::get<binary_expr>(e.node);
  std::vector<std::pair<const expr*, matrix>> pre{{b.lhs.get(), matrix{series{{}, {{60000, 21}}}}}};
  eval_options o;
  o.precomputed = &pre;
  auto r = eval_instant(e, empty, 60000, o);
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  const auto& v = std::get<vector>(r->value);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].s.v, 42);
}

// Reads its series one at a time (select_each) and counts whole selects.
class one_by_one_source final : public series_source {
 public:
  explicit one_by_one_source(memory_source& data) : data_(data) {}
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    ++selects_;
    return data_.select(ms, mint, maxt);
  }
  std::optional<status> select_each(const matchers& ms, int64_t mint, int64_t maxt,
                                    const std::function<status(series&)>& fn) override {
    auto all = data_.select(ms, mint, maxt);
    std::sort(all->begin(), all->end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
    for (auto& s : *all) {
      ++handed_;
      if (auto st = fn(s); !st) return st;
    }
    return status::ok();
  }
  size_t handed() const { return handed_; }
  size_t selects() const { return selects_; }

 private:
  memory_source& data_;
  size_t handed_ = 0, selects_ = 0;
};

// A shard folds the series of a range function into its partial states as
// it reads them, never asking for all of them at once, and every state adds
// its values in the order of eval_range's sorted answer (here the states
// are recomputed from that answer), so the bits are those of folding the
// whole answer. Dropping the metric name can reorder series (a name of
// series "b" sorting after "a" while their other labels sort the other
// way): the shard then folds eval_range's answer instead.
TEST(Pushdown, AShardFoldsARangeFunctionsSeriesAsItReadsThemInTheAnswersOrder) {
  memory_source data;
  for (int i = 0; i < 30; ++i) {
    for (const char* name : {"a", "b"}) {
      series s{{{"__name__", name}, {"g", std::to_string(i % 4)}, {"z", std::to_string(name[0] == 'a' ? 99 - i : i)}},
               {}};
      sort_labels(s.lbls);
      double v = 0;
      for (int t = 0; t <= 40; ++t) s.samples.push_back({t * 15000, v += 0.1 * (i + 1) + 1.0 / (t + 3)});
      data.add(std::move(s));
    }
  }
  const int64_t start = 120000, end = 600000, step = 60000;
  for (const char* text : {"sum by (g) (rate(a[2m]))", "avg by (g) (rate(a[2m]))", "stddev by (g) (increase(b[2m]))",
                           "max by (g) (rate(b[2m]))", "sum by (g) (rate({__name__=~\"a|b\"}[2m]))"}) {
    SCOPED_TRACE(text);
    auto e = q(text);
    one_by_one_source src(data);
    auto got = eval_partial_range(e, src, start, end, step, {});
    ASSERT_TRUE(got.is_ok()) << got.error().message();
    EXPECT_GT(src.handed(), 0u);
    bool reordered = std::string(text).find("a|b") != std::string::npos;
    EXPECT_EQ(src.selects(), reordered ? 1u : 0u) << "the whole selection is read only to start again";
    // The states folded from eval_range's answer of the operand, in its order.
    const auto& a = std::get<aggregate_expr>(e.node);
    auto in = eval_range(*a.operand, data, start, end, step, {});
    ASSERT_TRUE(in.is_ok()) << in.error().message();
    std::map<std::pair<int64_t, std::string>, partial_aggregate> want;
    for (const auto& s : std::get<matrix>(in->value))
      for (const auto& x : s.samples) {
        auto& st = want[std::make_pair(int64_t{x.t}, std::string(label_value(s.lbls, "g")))];
        st.op = a.op;
        st.add(x.v, &s.lbls);
      }
    size_t states = 0;
    for (size_t i = 0; i < got->steps.size(); ++i)
      for (const auto& [g, st] : got->steps[i]) {
        ++states;
        const auto& w = want[std::make_pair(start + static_cast<int64_t>(i) * step, std::string(label_value(got->groups[g], "g")))];
        EXPECT_EQ(st.count, w.count);
        EXPECT_EQ(st.sum, w.sum);
        EXPECT_EQ(st.sum_c, w.sum_c);
        EXPECT_EQ(st.extreme, w.extreme);
        EXPECT_EQ(st.mean, w.mean);
        EXPECT_EQ(st.m2, w.m2);
      }
    EXPECT_EQ(states, want.size());
  }
}

}  // namespace
}  // namespace strata::query
