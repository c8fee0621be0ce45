// The read planner: one live owner per partition and epoch, epochs chosen by
// the write window, members that stayed through an epoch preferred.
#include "actors/read_plan.hpp"

#include "actors/messages.hpp"
#include "query/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace strata::actors {
namespace {

const std::string a = "127.0.0.1:1", b = "127.0.0.1:2", c = "127.0.0.1:3";

// Live members with one shard each (no actors: the planner reads nodes only).
shard_view view_of(std::vector<std::string> live, uint32_t rf, std::shared_ptr<cluster::epoch_history> h = nullptr) {
  shard_view v;
  for (const auto& n : live) v.shards.push_back({caf::actor(), n, 0, false});
  v.members = live;
  v.rf = rf;
  v.epochs = std::move(h);
  place(v);
  return v;
}

std::shared_ptr<cluster::epoch_history> history(std::vector<std::pair<int64_t, std::vector<std::string>>> es,
                                                uint32_t rf) {
  auto h = std::make_shared<cluster::epoch_history>();
  for (auto& [t, members] : es) h->advance(members, rf, t);
  return h;
}

TEST(ReadPlan, EachPartitionIsAskedOfOneOwner) {
  auto v = view_of({a, b, c}, 2);
  auto plan = plan_read(v, 0, 1000, {}, {}, partition_set::all());
  EXPECT_EQ(plan.unowned_count, 0u);
  std::vector<int> asked(cluster::partitions, 0);
  for (const auto& [node, parts] : plan.by_node)
    for (uint32_t p : parts.list()) {
      ++asked[p];
      auto os = cluster::owners(v.members, p, 2);
      EXPECT_NE(std::find(os.begin(), os.end(), node), os.end()) << p;
    }
  EXPECT_TRUE(std::all_of(asked.begin(), asked.end(), [](int n) { return n == 1; }));
  EXPECT_EQ(plan.by_node.size(), 3u);  // the load is spread over every replica
}

TEST(ReadPlan, ADownOwnerIsReplacedByTheOtherReplica) {
  auto v = view_of({a, b}, 2, history({{0, {a, b, c}}}, 2));
  auto plan = plan_read(v, 0, 1000, {}, {}, partition_set::all());
  EXPECT_EQ(plan.unowned_count, 0u);
  EXPECT_EQ(plan.by_node.count(c), 0u);
  uint32_t total = 0;
  for (const auto& [node, parts] : plan.by_node) total += parts.size();
  EXPECT_EQ(total, cluster::partitions);
}

TEST(ReadPlan, WithOneReplicaADownOwnersPartitionsAreUnowned) {
  auto v = view_of({a, b}, 1, history({{0, {a, b, c}}}, 1));
  auto plan = plan_read(v, 0, 1000, {}, {}, partition_set::all());
  uint32_t owned_by_c = 0;
  for (uint32_t p = 0; p < cluster::partitions; ++p) {
    bool c_owns = cluster::owners({a, b, c}, p, 1)[0] == c;
    owned_by_c += c_owns;
    EXPECT_EQ(plan.unowned.has(p), c_owns) << p;
  }
  EXPECT_EQ(plan.unowned_count, owned_by_c);
  EXPECT_EQ(plan.missing_nodes, std::set<std::string>{c});
  // A node that failed during the read counts as down.
  auto without_b = plan_read(v, 0, 1000, {}, {b}, partition_set::all());
  EXPECT_EQ(without_b.by_node.size(), 1u);
  EXPECT_EQ(without_b.missing_nodes, (std::set<std::string>{b, c}));
}

TEST(ReadPlan, EpochsThatCannotHoldTheRangeAreNotAsked) {
  auto v = view_of({a, b}, 1, history({{0, {a}}, {1'000'000, {a, b}}}, 1));
  write_window w{10'000, 0};
  // Writes of the first epoch ended by 1,000,000 + 10 s: a later range is the second epoch's alone.
  auto late = plan_read(v, 2'000'000, 3'000'000, w, {}, partition_set::all());
  for (uint32_t p = 0; p < cluster::partitions; ++p) ASSERT_EQ(late.spread[p], 1) << p;
  EXPECT_EQ(late.by_node.size(), 2u);
  // An earlier range meets both: partitions that moved to b are asked of a and b.
  auto early = plan_read(v, 500'000, 3'000'000, w, {}, partition_set::all());
  for (uint32_t p = 0; p < cluster::partitions; ++p) {
    bool moved = cluster::owners({a, b}, p, 1)[0] == b;
    ASSERT_EQ(early.spread[p], moved ? 2 : 1) << p;
  }
}

TEST(ReadPlan, AnEpochWithFewerMembersThanAWriteQuorumIsNotAsked) {
  // c saw no peer for a moment (a freeze) and opened an epoch alone: with
  // rf 2 nothing was written in it, so c being down now loses nothing.
  auto v = view_of({a, b}, 2, history({{0, {a, b, c}}, {1000, {c}}, {2000, {a, b, c}}}, 2));
  auto plan = plan_read(v, 0, 3000, {}, {}, partition_set::all());
  EXPECT_EQ(plan.unowned_count, 0u);
  EXPECT_TRUE(plan.missing_nodes.empty());
  // With rf 1 a node alone takes writes: its epoch is asked.
  auto v1 = view_of({a, b}, 1, history({{0, {a, b, c}}, {1000, {c}}, {2000, {a, b, c}}}, 1));
  EXPECT_EQ(plan_read(v1, 0, 3000, {}, {}, partition_set::all()).unowned_count, cluster::partitions);
}

TEST(ReadPlan, AMemberThatStayedThroughAnEpochIsPreferred) {
  // b left (a new epoch without it) and came back: for the first epoch a,
  // which stayed, is asked, and reused for the last, so one node reads all.
  auto v = view_of({a, b}, 2, history({{0, {a, b}}, {1000, {a}}, {2000, {a, b}}}, 2));
  auto plan = plan_read(v, 0, 3000, {}, {}, partition_set::all());
  ASSERT_EQ(plan.by_node.size(), 1u);
  EXPECT_EQ(plan.by_node.begin()->first, a);
  EXPECT_EQ(plan.by_node.begin()->second.size(), cluster::partitions);
}

TEST(ReadPlan, AnOwnerOfEveryEpochReadsThePartitionAlone) {
  // Three nodes starting one after another with rf 2: {a, b} own everything
  // in the first epoch, and every owner pair of the second meets {a, b}, so
  // one node can answer each partition for both epochs (and a pushed-down
  // aggregation needs no probe).
  auto v = view_of({a, b, c}, 2, history({{0, {a, b}}, {1000, {a, b, c}}}, 2));
  auto plan = plan_read(v, 0, 3000, {}, {}, partition_set::all());
  EXPECT_EQ(plan.unowned_count, 0u);
  for (uint32_t p = 0; p < cluster::partitions; ++p) ASSERT_EQ(plan.spread[p], 1) << p;
  EXPECT_EQ(plan.by_node.size(), 2u);  // c holds the second epoch's samples only
  EXPECT_EQ(plan.by_node.count(c), 0u);
}

TEST(ReadPlan, PartitionSetsRoundTrip) {
  partition_set s;
  for (uint32_t p : {0u, 63u, 64u, 4095u}) s.add(p);
  auto back = partition_set::decode(s.encode());
  EXPECT_EQ(back.list(), (std::vector<uint32_t>{0, 63, 64, 4095}));
  EXPECT_EQ(s.encode().size(), 6u);  // 0x01 and the gaps 0, 63, 1, 4031 (two bytes)
  EXPECT_EQ(partition_set::decode("").size(), cluster::partitions);
  // Only the named partitions: planning a subset plans nothing else.
  auto v = view_of({a, b}, 1);
  auto plan = plan_read(v, 0, 1, {}, {}, s);
  uint32_t total = 0;
  for (const auto& [node, parts] : plan.by_node) total += parts.size();
  EXPECT_EQ(total, 4u);
}

// A few partitions travel as a few bytes, many as the 512-byte bitmap;
// both decode to the same set, and no damaged list crashes the decoder.
TEST(PartitionSetWire, FewPartitionsAreAFewBytesManyTheBitmap) {
  for (uint32_t n : {0u, 1u, 3u, 100u, 300u, 1000u, 4096u}) {
    SCOPED_TRACE(n);
    partition_set s;
    for (uint32_t i = 0; i < n; ++i) s.add(n == 4096 ? i : (i * 2654435761u) % 4096);
    auto bytes = s.encode();
    EXPECT_LE(bytes.size(), 512u);
    if (s.size() <= 3) {
      EXPECT_LE(bytes.size(), 1u + 2 * s.size());
    }
    auto back = partition_set::decode(bytes);
    EXPECT_EQ(back.list(), s.list());
  }
  partition_set edge;
  edge.add(0);
  edge.add(4095);
  EXPECT_EQ(partition_set::decode(edge.encode()).list(), (std::vector<uint32_t>{0, 4095}));
  EXPECT_EQ(partition_set::decode("").size(), 4096u);  // empty: every partition
  EXPECT_TRUE(partition_set::decode(std::string("\x01\xff\xff\xff\xff\xff\x7f", 7)).empty());
}

TEST(PartialsWire, RoundTripBitForBitAndDamageIsAnError) {
  query::partial_table t;
  t.groups = {{{"job", "a"}}, {}};
  query::partial_aggregate st;
  st.op = query::token_kind::kw_topk;
  st.count = 3;
  st.k = 2;
  st.kept = {{{{"__name__", "m"}, {"i", "1"}}, {0, 7.5}}, {{{"__name__", "m"}, {"i", "2"}}, {0, std::nan("")}}};
  t.steps = {{{1, st}}, {}};
  t.warnings = {"a warning"};
  t.infos = {"PromQL info: one", "PromQL info: two"};
  auto bytes = encode_partials(t, query::token_kind::kw_topk, 2);
  auto back = decode_partials(bytes);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(back->groups, t.groups);
  EXPECT_EQ(back->warnings, t.warnings);
  EXPECT_EQ(back->infos, t.infos);
  ASSERT_EQ(back->steps.size(), 2u);
  ASSERT_EQ(back->steps[0].size(), 1u);
  EXPECT_TRUE(back->steps[1].empty());
  const auto& [g, s] = back->steps[0][0];
  EXPECT_EQ(g, 1u);
  EXPECT_EQ(s.op, query::token_kind::kw_topk);
  EXPECT_EQ(s.k, 2);
  EXPECT_EQ(s.count, 3);
  ASSERT_EQ(s.kept.size(), 2u);
  EXPECT_EQ(s.kept[0].metric, st.kept[0].metric);
  EXPECT_EQ(s.kept[0].s.v, 7.5);
  EXPECT_TRUE(std::isnan(s.kept[1].s.v));
  // A sum keeps its compensation bit for bit.
  query::partial_aggregate sum;
  sum.op = query::token_kind::kw_sum;
  sum.count = 2;
  sum.sum = 0.1;
  sum.sum_c = -1e-17;
  query::partial_table ts;
  ts.groups = {{}};
  ts.steps = {{{0, sum}}};
  auto sb = decode_partials(encode_partials(ts, query::token_kind::kw_sum, 0));
  ASSERT_TRUE(sb.is_ok());
  EXPECT_EQ(sb->steps[0][0].second.sum, 0.1);
  EXPECT_EQ(sb->steps[0][0].second.sum_c, -1e-17);
  EXPECT_FALSE(decode_partials(bytes.substr(0, bytes.size() - 1)).is_ok());
  EXPECT_FALSE(decode_partials(bytes + "x").is_ok());
  // A group number past the group list is damage, not a crash later.
  auto past = t;
  past.steps[0][0].first = 5;
  EXPECT_FALSE(decode_partials(encode_partials(past, query::token_kind::kw_topk, 2)).is_ok());
  // Every cut of the bytes is an error, and no damaged byte crashes the decoder.
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_partials(bytes.substr(0, n)).is_ok()) << n;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      (void)decode_partials(bad);
    }
}

// The compact form: whole counts as varints, a zero compensation left out,
// each kept series' labels once however many steps keep it.
TEST(PartialsWire, CountsCompensationsAndKeptLabelsCostLittle) {
  query::partial_table t;
  t.groups = {{{"job", "a"}}};
  for (int i = 0; i < 100; ++i) {
    query::partial_aggregate st;
    st.op = query::token_kind::kw_sum;
    st.count = 3;
    st.sum = i * 1.5;
    t.steps.push_back({{0, st}});
  }
  auto bytes = encode_partials(t, query::token_kind::kw_sum, 0);
  EXPECT_LE(bytes.size(), 100u * 12 + 20);  // per step: entries, group, flags, count: 4 bytes; the sum: 8
  auto back = decode_partials(bytes);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->steps[99][0].second.sum, 99 * 1.5);
  EXPECT_EQ(back->steps[99][0].second.count, 3);
  // A fractional count and a negative k travel exactly.
  t.steps[0][0].second.count = 2.5;
  auto frac = decode_partials(encode_partials(t, query::token_kind::kw_sum, -7));
  ASSERT_TRUE(frac.is_ok());
  EXPECT_EQ(frac->steps[0][0].second.count, 2.5);
  EXPECT_EQ(frac->steps[0][0].second.k, -7);
  query::partial_table top;
  top.groups = {{}};
  labels long_labels{{"__name__", std::string(200, 'm')}, {"instance", "host-1"}};
  for (int i = 0; i < 100; ++i) {
    query::partial_aggregate st;
    st.op = query::token_kind::kw_topk;
    st.count = 1;
    st.k = 1;
    st.kept = {{long_labels, {0, double(i)}}};
    top.steps.push_back({{0, st}});
  }
  auto tb = encode_partials(top, query::token_kind::kw_topk, 1);
  EXPECT_LE(tb.size(), 250u + 100 * 14);
  auto tback = decode_partials(tb);
  ASSERT_TRUE(tback.is_ok());
  EXPECT_EQ(tback->steps[42][0].second.kept[0].metric, long_labels);
  EXPECT_EQ(tback->steps[42][0].second.kept[0].s.v, 42.0);
}

// A series-local table over a long grid (every series' value at every
// step) travels as one zstd frame: far smaller, decoded bit for bit; every
// cut is an error and no damaged byte changes what is decoded.
TEST(PartialsWire, LargeTablesTravelCompressedAndDamageIsAnError) {
  query::partial_table t;
  for (int g = 0; g < 50; ++g) t.groups.push_back({{"instance", "host-" + std::to_string(g)}, {"job", "node"}});
  t.steps.resize(200);
  for (uint32_t g = 0; g < 50; ++g)
    for (size_t k = 0; k < t.steps.size(); ++k) {
      if ((g + k) % 17 == 0) continue;  // a step without this series' value
      query::partial_aggregate st;
      st.op = query::series_value_op;
      st.add(std::floor(1000.0 * (g + 1) + 3.5 * static_cast<double>(k) * (g % 5)));
      t.steps[k].emplace_back(g, st);
    }
  auto bytes = encode_partials(t, query::series_value_op, 0);
  size_t entries = 0;
  for (const auto& e : t.steps) entries += e.size();
  EXPECT_EQ(bytes[0], '\xff');
  EXPECT_LT(bytes.size() * 3, entries * 11) << bytes.size();  // plain: 11 bytes an entry
  auto back = decode_partials(bytes);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(back->groups, t.groups);
  ASSERT_EQ(back->steps.size(), t.steps.size());
  for (size_t k = 0; k < t.steps.size(); ++k) {
    ASSERT_EQ(back->steps[k].size(), t.steps[k].size());
    for (size_t j = 0; j < t.steps[k].size(); ++j) {
      EXPECT_EQ(back->steps[k][j].first, t.steps[k][j].first);
      EXPECT_EQ(back->steps[k][j].second.op, query::series_value_op);
      EXPECT_EQ(back->steps[k][j].second.count, 1);
      EXPECT_EQ(back->steps[k][j].second.finish(), t.steps[k][j].second.finish());
    }
  }
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_partials(bytes.substr(0, n)).is_ok()) << n;
  // A flip either is an error or changed nothing decoded (a padding bit).
  std::string plain = encode_partials(*back, query::series_value_op, 0);
  for (size_t i = 1; i < bytes.size(); i += 29)
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto d = decode_partials(bad);
      if (d) {
        EXPECT_EQ(encode_partials(*d, query::series_value_op, 0), plain) << i << " " << bit;
      }
    }
}

// A shard evaluates a pushed-down expression with the querying node's
// options (so both choose the same rollup tiers).
TEST(EvalOptionsWire, RoundTripAndDamageIsAnError) {
  query::eval_options o;
  o.lookback_ms = 120000;
  o.max_samples = 1234567;
  o.default_subquery_step_ms = 15000;
  o.raw_retention_ms = 86400000;
  o.now_ms = 1765000000123;
  o.max_rollup_window_ms = std::numeric_limits<int64_t>::max();
  o.min_tier_within_raw_ms = 3600000;
  o.tiers = {{60000, 7 * 86400000LL}, {3600000, -1}};
  auto bytes = encode_eval_options(o);
  auto back = decode_eval_options(bytes);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(back->lookback_ms, o.lookback_ms);
  EXPECT_EQ(back->max_samples, o.max_samples);
  EXPECT_EQ(back->default_subquery_step_ms, o.default_subquery_step_ms);
  EXPECT_EQ(back->raw_retention_ms, o.raw_retention_ms);
  EXPECT_EQ(back->now_ms, o.now_ms);
  EXPECT_EQ(back->max_rollup_window_ms, o.max_rollup_window_ms);
  EXPECT_EQ(back->min_tier_within_raw_ms, o.min_tier_within_raw_ms);
  ASSERT_EQ(back->tiers.size(), 2u);
  EXPECT_EQ(back->tiers[0].window_ms, 60000);
  EXPECT_EQ(back->tiers[0].retention_ms, 7 * 86400000LL);
  EXPECT_EQ(back->tiers[1].retention_ms, -1);
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_eval_options(bytes.substr(0, n)).is_ok()) << n;
  EXPECT_FALSE(decode_eval_options(bytes + "x").is_ok());
}

}  // namespace
}  // namespace strata::actors
