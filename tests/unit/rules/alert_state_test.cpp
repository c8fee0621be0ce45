#include "rules/alert_state.hpp"

#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "query/parser.hpp"

namespace strata::rules {
namespace {

rule alert_rule(int64_t for_ms, int64_t keep_ms = 0) {
  rule r;
  r.alert = "HighLoad";
  r.expr_text = "load > 1";
  r.expr = std::make_shared<const query::expr>(query::parse(r.expr_text).value());
  r.for_ms = for_ms;
  r.keep_firing_for_ms = keep_ms;
  r.labels.emplace_back("severity", *text_template::compile("page"));
  r.annotations.emplace_back("summary", *text_template::compile("{{ $labels.host }} at {{ $value }}"));
  return r;
}

query::vector result_for(const std::string& host, double v) {
  return {{{{"__name__", "load"}, {"host", host}}, {0, v}}};
}

struct fixture {
  manual_clock clk{1'000'000};
  rule r;
  alert_rule_state st;
  explicit fixture(rule rr) : r(std::move(rr)), st(r, {}) {}
  query::vector eval(const query::vector& v) {
    auto out = st.eval(v, clk.now_ms());
    EXPECT_TRUE(out) << (out ? "" : out.error().message());
    return out ? *out : query::vector{};
  }
  alert only() {
    auto a = st.alerts();
    EXPECT_EQ(a.size(), 1u);
    return a.empty() ? alert{} : a[0];
  }
};

TEST(AlertState, PendingUntilForElapsesThenFiring) {
  fixture f(alert_rule(60000));
  auto out = f.eval(result_for("a", 2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(label_value(out[0].metric, "__name__"), "ALERTS");
  EXPECT_EQ(label_value(out[0].metric, "alertstate"), "pending");
  EXPECT_EQ(label_value(out[0].metric, "severity"), "page");
  EXPECT_EQ(label_value(out[1].metric, "__name__"), "ALERTS_FOR_STATE");
  EXPECT_EQ(out[1].s.v, 1000.0);  // active_at in seconds
  EXPECT_EQ(f.only().state, alert_state::pending);
  f.clk.advance(59999);
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.only().state, alert_state::pending);
  f.clk.advance(1);
  out = f.eval(result_for("a", 3));
  EXPECT_EQ(label_value(out[0].metric, "alertstate"), "firing");
  alert a = f.only();
  EXPECT_EQ(a.state, alert_state::firing);
  EXPECT_EQ(a.fired_at, 1'060'000);
  EXPECT_EQ(a.active_at, 1'000'000);
  EXPECT_EQ(label_value(a.annotations, "summary"), "a at 3");
}

TEST(AlertState, ZeroForFiresAtOnce) {
  fixture f(alert_rule(0));
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.only().state, alert_state::firing);
}

TEST(AlertState, PendingAlertThatDisappearsIsDropped) {
  fixture f(alert_rule(60000));
  f.eval(result_for("a", 2));
  f.clk.advance(10000);
  EXPECT_TRUE(f.eval({}).empty());
  EXPECT_TRUE(f.st.alerts().empty());
  // Coming back starts the for timer over.
  f.clk.advance(10000);
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.only().active_at, 1'020'000);
}

TEST(AlertState, FiringAlertThatDisappearsResolvesAndIsKeptForRetention) {
  fixture f(alert_rule(0));
  f.eval(result_for("a", 2));
  f.clk.advance(15000);
  EXPECT_TRUE(f.eval({}).empty());
  alert a = f.only();
  EXPECT_EQ(a.state, alert_state::inactive);
  EXPECT_EQ(a.resolved_at, 1'015'000);
  f.clk.advance(resolved_retention_ms);
  f.eval({});
  EXPECT_EQ(f.st.alerts().size(), 1u);
  f.clk.advance(1);
  f.eval({});
  EXPECT_TRUE(f.st.alerts().empty());
}

TEST(AlertState, KeepFiringForHoldsAFiringAlert) {
  fixture f(alert_rule(0, 30000));
  f.eval(result_for("a", 2));
  f.clk.advance(10000);
  auto out = f.eval({});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(f.only().state, alert_state::firing);
  EXPECT_EQ(f.only().keep_firing_since, 1'010'000);
  f.clk.advance(29999);
  f.eval({});
  EXPECT_EQ(f.only().state, alert_state::firing);
  f.clk.advance(1);
  f.eval({});
  EXPECT_EQ(f.only().state, alert_state::inactive);
}

TEST(AlertState, ConditionBackDuringKeepFiringResetsIt) {
  fixture f(alert_rule(0, 30000));
  f.eval(result_for("a", 2));
  f.clk.advance(10000);
  f.eval({});
  f.clk.advance(10000);
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.only().keep_firing_since, 0);
  EXPECT_EQ(f.only().fired_at, 1'000'000);  // never fired twice
}

TEST(AlertState, ResolvedAlertThatReturnsStartsOver) {
  fixture f(alert_rule(60000));
  f.eval(result_for("a", 2));
  f.clk.advance(60000);
  f.eval(result_for("a", 2));
  ASSERT_EQ(f.only().state, alert_state::firing);
  f.clk.advance(10000);
  f.eval({});
  ASSERT_EQ(f.only().state, alert_state::inactive);
  f.clk.advance(10000);
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.only().state, alert_state::pending);
  EXPECT_EQ(f.only().active_at, 1'080'000);
}

TEST(AlertState, DuplicateLabelSetsAfterRuleLabelsFail) {
  fixture f(alert_rule(0));
  query::vector v{{{{"__name__", "load"}, {"host", "a"}}, {0, 1}}, {{{"__name__", "load2"}, {"host", "a"}}, {0, 1}}};
  auto out = f.st.eval(v, f.clk.now_ms());
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("same labelset"), std::string::npos);
}

TEST(AlertState, LimitExceededDropsAlerts) {
  fixture f(alert_rule(0));
  query::vector v = result_for("a", 2);
  v.push_back(result_for("b", 2)[0]);
  auto out = f.st.eval(v, f.clk.now_ms(), 1);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("exceeded limit of 1 with 2 alerts"), std::string::npos);
  EXPECT_TRUE(f.st.alerts().empty());
}

TEST(AlertState, FiringAlertIsResentAfterResendDelayAndResolvedOnce) {
  fixture f(alert_rule(0));
  f.eval(result_for("a", 2));
  auto s = f.st.to_send(f.clk.now_ms(), 60000, 15000);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].valid_until, f.clk.now_ms() + 4 * 60000);
  f.clk.advance(15000);
  f.eval(result_for("a", 2));
  EXPECT_TRUE(f.st.to_send(f.clk.now_ms(), 60000, 15000).empty());
  f.clk.advance(60000);
  f.eval(result_for("a", 2));
  EXPECT_EQ(f.st.to_send(f.clk.now_ms(), 60000, 15000).size(), 1u);
  f.clk.advance(15000);
  f.eval({});
  s = f.st.to_send(f.clk.now_ms(), 60000, 15000);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].state, alert_state::inactive);
  EXPECT_EQ(s[0].resolved_at, f.clk.now_ms());
  f.clk.advance(15000);
  f.eval({});
  EXPECT_TRUE(f.st.to_send(f.clk.now_ms(), 60000, 15000).empty());
}

TEST(AlertState, PendingAlertsAreNotSent) {
  fixture f(alert_rule(60000));
  f.eval(result_for("a", 2));
  EXPECT_TRUE(f.st.to_send(f.clk.now_ms(), 60000, 15000).empty());
}

}  // namespace
}  // namespace strata::rules
