#include "rules/group_eval.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "query/engine.hpp"
#include "query/value.hpp"

namespace strata::rules {
namespace {

// An in-memory series_source: the samples the test put there.
class memory_source final : public query::series_source {
 public:
  std::vector<series> data;
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    std::vector<series> out;
    for (const auto& s : data) {
      if (!matches_all(ms, s.lbls)) continue;
      series cut{s.lbls, {}};
      for (const auto& smp : s.samples)
        if (smp.t >= mint && smp.t <= maxt) cut.samples.push_back(smp);
      if (!cut.samples.empty()) out.push_back(std::move(cut));
    }
    return out;
  }
};

group load_group(const std::string& yaml) {
  auto gs = parse_rule_file("g.yml", yaml);
  EXPECT_TRUE(gs) << (gs ? "" : gs.error().message());
  return gs ? (*gs)[0] : group{};
}

struct harness {
  memory_source src;
  write_batch written;
  evaluate_fn eval = [this](const query::expr& e, int64_t t) {
    query::eval_options o;
    return query::eval_instant(e, src, t, o);
  };
  write_fn write = [this](write_batch b) {
    for (auto& s : b) written.push_back(std::move(s));
    return status::ok();
  };
  void put(labels ls, int64_t t, double v) {
    sort_labels(ls);
    for (auto& s : src.data)
      if (s.lbls == ls) {
        s.samples.push_back({t, v});
        return;
      }
    src.data.push_back({ls, {{t, v}}});
  }
};

TEST(GroupEval, RecordingRuleWritesRenamedSeriesWithLabels) {
  harness h;
  h.put({{"__name__", "up"}, {"job", "a"}}, 1000, 1);
  h.put({{"__name__", "up"}, {"job", "a"}, {"i", "2"}}, 1000, 1);
  group_eval g(load_group("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n"
                          "    labels:\n      team: infra\n"),
               {});
  g.evaluate(2000, h.eval, h.write, 60000);
  ASSERT_EQ(h.written.size(), 1u);
  EXPECT_EQ(to_string(h.written[0].lbls), R"({__name__="job:up:sum", job="a", team="infra"})");
  EXPECT_EQ(h.written[0].samples[0].t, 2000);
  EXPECT_EQ(h.written[0].samples[0].v, 2);
  EXPECT_EQ(g.health()[0].health, "ok");
}

TEST(GroupEval, SeriesThatDisappearGetAStaleMarker) {
  harness h;
  h.put({{"__name__", "x"}, {"k", "1"}}, 1000, 5);
  group_eval g(load_group("groups:\n- name: g\n  rules:\n  - record: y\n    expr: x\n"), {});
  g.evaluate(2000, h.eval, h.write, 60000);
  h.written.clear();
  g.evaluate(400000, h.eval, h.write, 60000);  // past the lookback: x is gone
  ASSERT_EQ(h.written.size(), 1u);
  EXPECT_TRUE(is_stale_nan(h.written[0].samples[0].v));
  h.written.clear();
  g.evaluate(500000, h.eval, h.write, 60000);
  EXPECT_TRUE(h.written.empty());
}

TEST(GroupEval, QueryOffsetShiftsTheEvaluationTime) {
  harness h;
  h.put({{"__name__", "x"}}, 1000, 5);
  group_eval g(load_group("groups:\n- name: g\n  query_offset: 1s\n  rules:\n  - record: y\n    expr: x\n"), {});
  g.evaluate(1500, h.eval, h.write, 60000);  // evaluates at 500: nothing yet
  EXPECT_TRUE(h.written.empty());
  g.evaluate(2000, h.eval, h.write, 60000);
  ASSERT_EQ(h.written.size(), 1u);
  EXPECT_EQ(h.written[0].samples[0].t, 1000);
}

TEST(GroupEval, AlertingRuleWritesAlertsSeriesAndAsksToNotify) {
  harness h;
  h.put({{"__name__", "up"}, {"job", "a"}}, 1000, 0);
  group_eval g(load_group("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n"), {});
  auto notes = g.evaluate(2000, h.eval, h.write, 60000);
  ASSERT_EQ(h.written.size(), 2u);
  EXPECT_EQ(to_string(h.written[0].lbls), R"({__name__="ALERTS", alertname="Down", alertstate="firing", job="a"})");
  EXPECT_EQ(to_string(h.written[1].lbls), R"({__name__="ALERTS_FOR_STATE", alertname="Down", job="a"})");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rule_expr, "up == 0");
  EXPECT_EQ(notes[0].alerts.size(), 1u);
}

TEST(GroupEval, FiringAndResolvingAreReportedOnceWithOneCorrelationId) {
  harness h;
  h.put({{"__name__", "up"}, {"job", "a"}}, 1000, 0);
  group_eval g(load_group("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 1s\n"), {});
  std::vector<alert_transition> changed;
  g.evaluate(2000, h.eval, h.write, 60000, &changed);  // pending
  EXPECT_TRUE(changed.empty());
  h.put({{"__name__", "up"}, {"job", "a"}}, 3000, 0);
  g.evaluate(3000, h.eval, h.write, 60000, &changed);  // firing
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_TRUE(changed[0].fired);
  EXPECT_EQ(changed[0].group, "g");
  EXPECT_EQ(changed[0].rule, "Down");
  EXPECT_EQ(changed[0].a.fired_at, 3000);
  EXPECT_EQ(changed[0].correlation_id.size(), 32u);
  h.put({{"__name__", "up"}, {"job", "a"}}, 4000, 0);
  g.evaluate(4000, h.eval, h.write, 60000, &changed);  // still firing: nothing new
  EXPECT_EQ(changed.size(), 1u);
  h.put({{"__name__", "up"}, {"job", "a"}}, 5000, 1);
  g.evaluate(5000, h.eval, h.write, 60000, &changed);  // resolved
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_FALSE(changed[1].fired);
  EXPECT_EQ(changed[1].a.resolved_at, 5000);
  EXPECT_EQ(changed[1].correlation_id, changed[0].correlation_id);
  g.evaluate(6000, h.eval, h.write, 60000, &changed);
  EXPECT_EQ(changed.size(), 2u);
}

TEST(GroupEval, LimitFailsTheRuleAndWritesNothing) {
  harness h;
  h.put({{"__name__", "x"}, {"k", "1"}}, 1000, 1);
  h.put({{"__name__", "x"}, {"k", "2"}}, 1000, 1);
  group_eval g(load_group("groups:\n- name: g\n  limit: 1\n  rules:\n  - record: y\n    expr: x\n"), {});
  g.evaluate(2000, h.eval, h.write, 60000);
  EXPECT_TRUE(h.written.empty());
  EXPECT_EQ(g.health()[0].health, "err");
  EXPECT_NE(g.health()[0].last_error.find("exceeded limit of 1 with 2 series"), std::string::npos);
}

TEST(GroupEval, WriteFailureIsReportedAsRuleError) {
  harness h;
  h.put({{"__name__", "x"}}, 1000, 1);
  group_eval g(load_group("groups:\n- name: g\n  rules:\n  - record: y\n    expr: x\n"), {});
  g.evaluate(2000, h.eval, [](write_batch) { return error(strata_errc::unavailable, "shard 3 down"); }, 60000);
  EXPECT_EQ(g.health()[0].health, "err");
  EXPECT_EQ(g.health()[0].last_error, "shard 3 down");
}

TEST(GroupOwner, EachGroupHasOneOwnerAndMovesOnlyWhenItLeaves) {
  std::vector<std::string> three{"n1:1", "n2:1", "n3:1"};
  int moved = 0;
  for (int i = 0; i < 200; ++i) {
    std::string name = "group-" + std::to_string(i);
    std::string before = owner_of(name, three);
    ASSERT_FALSE(before.empty());
    std::vector<std::string> two;
    for (const auto& m : three)
      if (m != "n2:1") two.push_back(m);
    std::string after = owner_of(name, two);
    if (before != "n2:1") EXPECT_EQ(after, before);
    else ++moved;
    // The order of members does not matter.
    EXPECT_EQ(owner_of(name, {"n3:1", "n1:1", "n2:1"}), before);
  }
  EXPECT_GT(moved, 0);
  EXPECT_EQ(owner_of("g", {}), "");
}

}  // namespace
}  // namespace strata::rules
