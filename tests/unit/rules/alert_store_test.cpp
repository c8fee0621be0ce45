#include "rules/alert_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "persistence/kv/faulty_store.hpp"
#include "query/engine.hpp"
#include "rules/group_eval.hpp"

namespace strata::rules {
namespace {
namespace kv = persistence::kv;

alert sample_alert() {
  alert a;
  a.lbls = {{"alertname", "A"}, {"job", "x"}};
  a.annotations = {{"summary", "s"}};
  a.state = alert_state::firing;
  a.value = 2.5;
  a.active_at = 1000;
  a.fired_at = 61000;
  a.keep_firing_since = 70000;
  return a;
}

TEST(AlertStore, RecordsSurviveReopeningTheLmdbEnvironment) {
  auto dir = (std::filesystem::temp_directory_path() / ("alert-store-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  {
    auto st = alert_store::open(dir);
    ASSERT_TRUE(st) << st.error().message();
    ASSERT_TRUE((*st)->put("g", "A", sample_alert()));
    alert other = sample_alert();
    other.lbls = {{"alertname", "A"}, {"job", "y"}};
    ASSERT_TRUE((*st)->put("g", "A", other));
    ASSERT_TRUE((*st)->erase("g", "A", other.lbls));
    ASSERT_TRUE((*st)->put("h", "A", sample_alert()));
  }
  auto st = alert_store::open(dir);
  ASSERT_TRUE(st);
  auto loaded = (*st)->load("g");
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_EQ(loaded->size(), 1u);
  const alert& a = (*loaded)[0].a;
  EXPECT_EQ((*loaded)[0].rule, "A");
  EXPECT_EQ(a.lbls, sample_alert().lbls);
  EXPECT_EQ(a.annotations, sample_alert().annotations);
  EXPECT_EQ(a.state, alert_state::firing);
  EXPECT_EQ(a.active_at, 1000);
  EXPECT_EQ(a.fired_at, 61000);
  EXPECT_EQ(a.keep_firing_since, 70000);
  EXPECT_EQ(a.value, 2.5);
  std::filesystem::remove_all(dir);
}

TEST(AlertStore, UndecodableRecordIsCorruptionNamingTheKey) {
  auto mem = kv::make_memory_store();
  auto* raw = mem.get();
  alert_store st(std::move(mem));
  ASSERT_TRUE(st.put("g", "A", sample_alert()));
  std::string key;
  raw->scan(kv::table::meta, "", "", [&](std::string_view k, std::string_view) {
    key = std::string(k);
    return false;
  });
  ASSERT_TRUE(raw->commit({kv::op::put(kv::table::meta, key, "{not json")}));
  auto loaded = st.load("g");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), strata_errc::corruption);
  EXPECT_NE(loaded.error().message().find(key), std::string::npos);
}

class memory_source final : public query::series_source {
 public:
  std::vector<series> data;
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    std::vector<series> out;
    for (const auto& s : data)
      if (matches_all(ms, s.lbls)) {
        series cut{s.lbls, {}};
        for (const auto& smp : s.samples)
          if (smp.t >= mint && smp.t <= maxt) cut.samples.push_back(smp);
        if (!cut.samples.empty()) out.push_back(std::move(cut));
      }
    return out;
  }
};

group pending_group() {
  auto gs = parse_rule_file("g.yml", "groups:\n- name: g\n  rules:\n  - alert: Hot\n    expr: temp > 1\n    for: 1m\n");
  return (*gs)[0];
}

struct env {
  memory_source src;
  evaluate_fn eval = [this](const query::expr& e, int64_t t) {
    return query::eval_instant(e, src, t, query::eval_options{});
  };
  write_fn write = [](write_batch) { return status::ok(); };
  env() {
    series s{{{"__name__", "temp"}}, {}};
    for (int64_t t = 0; t <= 200000; t += 10000) s.samples.push_back({t, 5});
    src.data.push_back(s);
  }
};

TEST(GroupEvalRestore, RestartKeepsTheForTimer) {
  env e;
  auto faulty = std::make_unique<kv::faulty_store>(kv::make_memory_store());
  auto* counts = faulty.get();
  alert_store st(std::move(faulty));
  {
    group_eval g(pending_group(), {});
    g.attach_store(&st);
    ASSERT_TRUE(g.restore());
    g.evaluate(10000, e.eval, e.write, 60000);
    g.evaluate(20000, e.eval, e.write, 60000);
    g.evaluate(30000, e.eval, e.write, 60000);
    EXPECT_EQ(g.alerts_of(0)->alerts()[0].state, alert_state::pending);
  }
  // Written once: the state did not change after it became pending.
  EXPECT_EQ(counts->commit_calls(), 1u);
  group_eval again(pending_group(), {});
  again.attach_store(&st);
  ASSERT_TRUE(again.restore());
  again.evaluate(70000, e.eval, e.write, 60000);
  auto a = again.alerts_of(0)->alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].state, alert_state::firing);
  EXPECT_EQ(a[0].active_at, 10000);
  EXPECT_EQ(a[0].fired_at, 70000);
}

TEST(GroupEvalRestore, RestartDoesNotFireAgain) {
  env e;
  alert_store st(kv::make_memory_store());
  {
    group_eval g(pending_group(), {});
    g.attach_store(&st);
    g.evaluate(10000, e.eval, e.write, 60000);
    g.evaluate(80000, e.eval, e.write, 60000);
    ASSERT_EQ(g.alerts_of(0)->alerts()[0].fired_at, 80000);
  }
  group_eval again(pending_group(), {});
  again.attach_store(&st);
  ASSERT_TRUE(again.restore());
  again.evaluate(90000, e.eval, e.write, 60000);
  auto a = again.alerts_of(0)->alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].state, alert_state::firing);
  EXPECT_EQ(a[0].fired_at, 80000);
  EXPECT_EQ(a[0].active_at, 10000);
}

}  // namespace
}  // namespace strata::rules
