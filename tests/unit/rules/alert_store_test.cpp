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
    ASSERT_TRUE((*st)->put("g", "A", sample_alert(), 1));
    alert other = sample_alert();
    other.lbls = {{"alertname", "A"}, {"job", "y"}};
    ASSERT_TRUE((*st)->put("g", "A", other, 2));
    ASSERT_TRUE((*st)->erase("g", "A", other.lbls, 3));
    ASSERT_TRUE((*st)->put("h", "A", sample_alert(), 4));
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
  ASSERT_TRUE(st.put("g", "A", sample_alert(), 1));
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
  // Written once (the record, then its history entry): the state did not
  // change after it became pending.
  EXPECT_EQ(counts->commit_calls(), 2u);
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

// Two nodes' stores: what one writes, the other applies (replication).
TEST(AlertStoreReplication, NewerRecordWinsInAnyOrder) {
  alert_store a(kv::make_memory_store()), b(kv::make_memory_store());
  alert x = sample_alert();
  x.state = alert_state::pending;
  ASSERT_TRUE(a.put("g", "A", x, 100));
  auto first = a.take_changes();
  x.state = alert_state::firing;
  ASSERT_TRUE(a.put("g", "A", x, 200));
  auto second = a.take_changes();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  // The newer record arrives first; the older one changes nothing.
  EXPECT_TRUE(*b.apply(second[0]));
  EXPECT_FALSE(*b.apply(first[0]));
  auto loaded = b.load("g");
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].a.state, alert_state::firing);
  EXPECT_TRUE(b.take_changes().empty());  // applied pairs are not sent on again
}

TEST(AlertStoreReplication, TombstoneKeepsAnOlderCopyFromComingBack) {
  alert_store a(kv::make_memory_store()), b(kv::make_memory_store());
  ASSERT_TRUE(a.put("g", "A", sample_alert(), 100));
  auto put = a.take_changes();
  ASSERT_TRUE(a.erase("g", "A", sample_alert().lbls, 300));
  auto tomb = a.take_changes();
  EXPECT_TRUE(*b.apply(tomb[0]));
  EXPECT_FALSE(*b.apply(put[0]));
  EXPECT_TRUE(b.load("g")->empty());
  // Pruning drops tombstones older than the cut, not newer ones.
  ASSERT_TRUE(b.prune(300));
  EXPECT_EQ(b.dump()->size(), 1u);
  ASSERT_TRUE(b.prune(301));
  EXPECT_TRUE(b.dump()->empty());
}

TEST(AlertStoreReplication, ForeignOrMalformedPairsAreRefusedAndChangeNothing) {
  alert_store b(kv::make_memory_store());
  auto bad_key = b.apply({"series/1", "{}"});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code(), strata_errc::bad_request);
  std::string key = "alert/" + std::string(16, '0') + "/" + std::string(16, '1');
  EXPECT_FALSE(b.apply({key, "{not json"}));
  EXPECT_FALSE(b.apply({key, R"({"v":1,"group":"g","updated_at":5,"state":9})"}));
  EXPECT_TRUE(b.dump()->empty());
  EXPECT_FALSE(decode_pairs("{}"));
  EXPECT_FALSE(decode_pairs(R"([["k"]])"));
  auto ok = decode_pairs(encode_pairs({{"k", "v"}}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<kv_pair>{{"k", "v"}}));
}

TEST(AlertHistory, TransitionsAreKeptInTimeOrderAndPrunedByAge) {
  env e;
  alert_store st(kv::make_memory_store());
  group_eval g(pending_group(), {});
  g.attach_store(&st);
  g.evaluate(10000, e.eval, e.write, 60000);   // pending
  g.evaluate(70000, e.eval, e.write, 60000);   // firing
  g.evaluate(80000, e.eval, e.write, 60000);   // unchanged: no entry
  e.src.data.clear();
  g.evaluate(90000, e.eval, e.write, 60000);   // resolved
  auto h = st.history(0, 100000, 100);
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].state, alert_state::pending);
  EXPECT_EQ((*h)[0].at, 10000);
  EXPECT_EQ((*h)[1].state, alert_state::firing);
  EXPECT_EQ((*h)[1].at, 70000);
  EXPECT_EQ((*h)[2].state, alert_state::inactive);
  EXPECT_EQ((*h)[2].at, 90000);
  EXPECT_EQ((*h)[2].rule, "Hot");
  EXPECT_EQ((*h)[2].group, "g");
  EXPECT_EQ(st.history(20000, 100000, 100)->size(), 2u);
  EXPECT_EQ(st.history(0, 100000, 1)->size(), 1u);
  EXPECT_TRUE(st.history(0, 100000, 100, "Other")->empty());
  ASSERT_TRUE(st.prune(70000));
  h = st.history(0, 100000, 100);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].at, 70000);
}

// A group's owner dies: the node that takes it over holds the replicated
// state, so the `for` timer keeps running and a firing alert is not fired twice.
TEST(AlertStoreReplication, TakeoverKeepsTheForTimerAndDoesNotFireAgain) {
  env e;
  alert_store owner(kv::make_memory_store()), next(kv::make_memory_store());
  auto ship = [&] {
    for (const auto& p : owner.take_changes()) ASSERT_TRUE(next.apply(p));
  };
  group_eval g(pending_group(), {});
  g.attach_store(&owner);
  g.evaluate(10000, e.eval, e.write, 60000);
  ship();
  group_eval taken(pending_group(), {});
  taken.attach_store(&next);
  ASSERT_TRUE(taken.restore());
  std::vector<alert_transition> fired;
  taken.evaluate(70000, e.eval, e.write, 60000, &fired);
  ASSERT_EQ(fired.size(), 1u);  // pending since 10 s: fires at 70 s, as on the first owner
  EXPECT_EQ(fired[0].a.active_at, 10000);
  // The first owner fired it too (before dying); the next one restores and stays quiet.
  g.evaluate(70000, e.eval, e.write, 60000);
  ship();
  group_eval third(pending_group(), {});
  third.attach_store(&next);
  ASSERT_TRUE(third.restore());
  fired.clear();
  third.evaluate(80000, e.eval, e.write, 60000, &fired);
  EXPECT_TRUE(fired.empty());
  EXPECT_EQ(third.alerts_of(0)->alerts()[0].fired_at, 70000);
}

}  // namespace
}  // namespace strata::rules
