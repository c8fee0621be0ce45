// Metric metadata and /api/v1/status/tsdb below the HTTP layer: the shard
// store's methods, their wire encodings, the exact merge, and the gateway over
// real shard actors on LMDB.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>

#include <future>

#include "actors/collector.hpp"
#include "actors/gateway.hpp"
#include "actors/messages.hpp"
#include "actors/shard_actor.hpp"
#include "persistence/shard_store.hpp"
#include "tests/support/process.hpp"

namespace strata::actors {
namespace {

using persistence::tsdb_summary;

metric_metadata md(std::string family, std::string type, std::string help, std::string unit = "") {
  return {std::move(family), std::move(type), std::move(help), std::move(unit)};
}

std::unique_ptr<persistence::shard_store> open_memory(std::shared_ptr<persistence::kv::store> kv) {
  persistence::store_options o;
  o.kv = std::move(kv);
  auto s = persistence::shard_store::open(o);
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return std::move(*s);
}

TEST(ShardStoreMetadata, KeepsTheLatestEntryPerFamilyAndWritesOnlyChanges) {
  std::shared_ptr<persistence::kv::store> kv = persistence::kv::make_memory_store();
  auto store = open_memory(kv);
  auto commits = [&] { return kv->stats().commits; };

  auto n = store->put_metadata({md("a_total", "counter", "A."), md("b", "gauge", "B.", "bytes")});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 2u);
  auto before = commits();
  n = store->put_metadata({md("a_total", "counter", "A."), md("b", "gauge", "B.", "bytes")});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(commits(), before) << "an unchanged entry is not written again";

  n = store->put_metadata({md("b", "gauge", "old"), md("b", "gauge", "B, newer.", "bytes")});
  ASSERT_TRUE(n.is_ok());
  EXPECT_EQ(*n, 1u);
  auto all = store->list_metadata("");
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0], md("a_total", "counter", "A."));
  EXPECT_EQ((*all)[1], md("b", "gauge", "B, newer.", "bytes")) << "within one put the later entry wins";

  auto one = store->list_metadata("b");
  ASSERT_TRUE(one.is_ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].help, "B, newer.");
  auto none = store->list_metadata("c");
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
}

TEST(ShardStoreMetadata, SurvivesReopeningTheLmdbEnvironment) {
  auto dir = testing::make_temp_dir();
  persistence::store_options o;
  o.dir = dir + "/shard";
  {
    auto s = persistence::shard_store::open(o);
    ASSERT_TRUE(s.is_ok()) << s.error().message();
    ASSERT_TRUE((*s)->put_metadata({md("up", "gauge", "1 if the target is up.")}).is_ok());
  }
  auto s = persistence::shard_store::open(o);
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  auto all = (*s)->list_metadata("");
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0], md("up", "gauge", "1 if the target is up."));
  s->reset();
  testing::remove_dir(dir);
}

TEST(ShardStoreMetadata, DamagedValueIsCorruptionNamingTheKey) {
  std::shared_ptr<persistence::kv::store> kv = persistence::kv::make_memory_store();
  auto store = open_memory(kv);
  ASSERT_TRUE(store->put_metadata({md("good", "counter", "")}).is_ok());
  std::string key = "metadata/bad", value("\x01\x02\xff\x00\x00\x00", 6);  // help length past the end
  ASSERT_TRUE(kv->commit({persistence::kv::op::put(persistence::kv::table::meta, key, value)}).is_ok());
  auto all = store->list_metadata("");
  ASSERT_FALSE(all.is_ok());
  EXPECT_EQ(all.error().code(), strata_errc::corruption);
  EXPECT_NE(all.error().message().find("metadata/bad"), std::string::npos) << all.error().message();

  std::string unknown_type("\x01\x09\x00\x00\x00\x00\x00\x00\x00\x00", 10);
  ASSERT_TRUE(kv->commit({persistence::kv::op::put(persistence::kv::table::meta, key, unknown_type)}).is_ok());
  auto one = store->list_metadata("bad");
  ASSERT_FALSE(one.is_ok());
  EXPECT_NE(one.error().message().find("type code 9"), std::string::npos) << one.error().message();
}

TEST(ShardStoreSummary, CountsEveryLabelPairAndTheTimeBounds) {
  auto store = open_memory(persistence::kv::make_memory_store());
  write_batch b;
  b.push_back({{{"__name__", "up"}, {"job", "api"}}, {{1000, 1}, {5000, 1}}});
  b.push_back({{{"__name__", "up"}, {"job", "db"}}, {{2000, 1}}});
  b.push_back({{{"__name__", "temp"}, {"job", "api"}}, {{3000, 20}}});
  ASSERT_TRUE(store->append(b).is_ok());
  auto s = store->summarize();
  EXPECT_EQ(s.series, 3u);
  EXPECT_EQ(s.min_t, 1000);
  EXPECT_EQ(s.max_t, 5000);
  EXPECT_EQ(s.chunks, 3u) << "one open head chunk per series";
  ASSERT_EQ(s.pairs.size(), 4u);
  EXPECT_EQ(s.pairs[0].name + "=" + s.pairs[0].value, "__name__=temp");
  EXPECT_EQ(s.pairs[1].name + "=" + s.pairs[1].value, "__name__=up");
  EXPECT_EQ(s.pairs[1].series, 2u);
  EXPECT_EQ(s.pairs[2].name + "=" + s.pairs[2].value, "job=api");
  EXPECT_EQ(s.pairs[2].series, 2u);

  // Sealed chunks still count and still bound the oldest time.
  ASSERT_TRUE(store->flush().is_ok());
  auto sealed = store->summarize();
  EXPECT_EQ(sealed.min_t, 1000);
  EXPECT_EQ(sealed.max_t, 5000);
  EXPECT_EQ(sealed.chunks, 3u);
}

TEST(ShardStoreSummary, EmptyShardHasNoTimeBounds) {
  auto s = open_memory(persistence::kv::make_memory_store())->summarize();
  EXPECT_EQ(s.series, 0u);
  EXPECT_EQ(s.min_t, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(s.max_t, std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(s.pairs.empty());
}

TEST(TsdbSummaryWire, RoundTripsAndRejectsTruncatedBytes) {
  tsdb_summary s;
  s.series = 7;
  s.chunks = 9;
  s.min_t = -5;
  s.max_t = 1234567890123;
  s.pairs = {{"__name__", "up", 4}, {"job", std::string("a\0b", 3), 3}};
  auto bytes = encode_tsdb_summary(s);
  auto back = decode_tsdb_summary(bytes);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(back->series, 7u);
  EXPECT_EQ(back->chunks, 9u);
  EXPECT_EQ(back->min_t, -5);
  EXPECT_EQ(back->max_t, 1234567890123);
  ASSERT_EQ(back->pairs.size(), 2u);
  EXPECT_EQ(back->pairs[1].value, std::string("a\0b", 3));
  EXPECT_EQ(back->pairs[1].series, 3u);
  for (size_t cut : {size_t{0}, size_t{8}, size_t{40}, bytes.size() - 1})
    EXPECT_FALSE(decode_tsdb_summary(std::string_view(bytes).substr(0, cut)).is_ok()) << cut;
  EXPECT_FALSE(decode_tsdb_summary(bytes + "x").is_ok()) << "trailing bytes";
}

TEST(MetadataWire, RoundTripsAndRejectsBadEntries) {
  std::vector<metric_metadata> in{md("a", "counter", "A.", "seconds"), md("b", "unknown", "")};
  auto back = decode_metadata(encode_metadata(in));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(*back, in);
  EXPECT_FALSE(decode_metadata({"a", "counter", "help"}).is_ok()) << "not a quadruple";
  auto bad = decode_metadata({"a", "countr", "", ""});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.error().code(), strata_errc::bad_request);
  EXPECT_NE(bad.error().message().find("unknown type \"countr\""), std::string::npos) << bad.error().message();
}

TEST(CheckMetadata, NamesTheFieldAndTheLimit) {
  EXPECT_TRUE(check_metadata(md("x", "histogram", "h")).is_ok());
  EXPECT_FALSE(check_metadata(md("", "gauge", "")).is_ok());
  auto long_name = check_metadata(md(std::string(501, 'n'), "gauge", ""));
  ASSERT_FALSE(long_name.is_ok());
  EXPECT_NE(long_name.message().find("limit of 500"), std::string::npos) << long_name.message();
  auto long_help = check_metadata(md("x", "gauge", std::string(16385, 'h')));
  EXPECT_NE(long_help.message().find("help of 16385 bytes, over the limit of 16384"), std::string::npos)
      << long_help.message();
  EXPECT_NE(check_metadata(md("x", "gauge", "", std::string(257, 'u'))).message().find("unit of 257 bytes"),
            std::string::npos);
  EXPECT_NE(check_metadata(md("x", "gauge", "\xff")).message().find("help is not valid UTF-8"), std::string::npos);
}

tsdb_summary summary(std::vector<tsdb_summary::pair> pairs, uint64_t series) {
  tsdb_summary s;
  s.series = series;
  s.pairs = std::move(pairs);
  return s;
}

TEST(MergeTsdb, TopNIsTakenAfterCountsAreAdded) {
  // Per shard, "c" is never the largest, but over both it is.
  auto a = summary({{"__name__", "a", 5}, {"__name__", "c", 4}}, 9);
  auto b = summary({{"__name__", "b", 5}, {"__name__", "c", 4}}, 9);
  a.min_t = 100;
  a.max_t = 200;
  b.min_t = 50;
  b.max_t = 150;
  a.chunks = 3;
  b.chunks = 4;
  auto m = merge_tsdb({a, b}, 1);
  EXPECT_EQ(m.num_series, 18u);
  EXPECT_EQ(m.chunk_count, 7u);
  EXPECT_EQ(m.min_time, 50);
  EXPECT_EQ(m.max_time, 200);
  ASSERT_EQ(m.series_by_metric.size(), 1u);
  EXPECT_EQ(m.series_by_metric[0], (std::pair<std::string, uint64_t>{"c", 8}));
  ASSERT_EQ(m.series_by_pair.size(), 1u);
  EXPECT_EQ(m.series_by_pair[0].first, "__name__=c");
}

TEST(MergeTsdb, DistinctValuesAreAUnionAndBytesCountEverySeries) {
  auto a = summary({{"job", "api", 2}, {"job", "db", 1}}, 3);
  auto b = summary({{"job", "api", 1}, {"zone", "eu", 1}}, 2);
  auto m = merge_tsdb({a, b}, 10);
  EXPECT_EQ(m.num_label_pairs, 3u);
  ASSERT_EQ(m.values_by_label.size(), 2u);
  EXPECT_EQ(m.values_by_label[0], (std::pair<std::string, uint64_t>{"job", 2})) << "api counted once";
  EXPECT_EQ(m.values_by_label[1], (std::pair<std::string, uint64_t>{"zone", 1}));
  ASSERT_EQ(m.bytes_by_label.size(), 2u);
  EXPECT_EQ(m.bytes_by_label[0], (std::pair<std::string, uint64_t>{"job", 3 * 3 + 2 * 1}));
  EXPECT_EQ(m.bytes_by_label[1], (std::pair<std::string, uint64_t>{"zone", 2}));
  ASSERT_EQ(m.series_by_pair.size(), 3u);
  EXPECT_EQ(m.series_by_pair[0], (std::pair<std::string, uint64_t>{"job=api", 3}));
  EXPECT_EQ(m.series_by_pair[1], (std::pair<std::string, uint64_t>{"job=db", 1})) << "ties by name";
  EXPECT_TRUE(m.series_by_metric.empty());
}

TEST(MetadataShard, IsTheSameForEveryCallerAndInRange) {
  for (std::string f : {"up", "http_requests_total", "x"}) {
    EXPECT_EQ(metadata_shard(f, 7), metadata_shard(f, 7));
    EXPECT_LT(metadata_shard(f, 7), 7u);
  }
  EXPECT_EQ(metadata_shard("up", 1), 0u);
}

// Real shard actors on LMDB behind a gateway, as a node runs them.
class GatewayShards : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.set("scheduler.max-threads", size_t{2});
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    dir_ = testing::make_temp_dir();
    start_shards();
  }
  void start_shards() {
    shard_view view;
    for (uint32_t i = 0; i < 3; ++i) {
      persistence::store_options o;
      o.dir = dir_ + "/shard-" + std::to_string(i);
      o.sync = false;
      auto s = spawn_shard(*sys_, o, std::chrono::milliseconds(0), nullptr, std::chrono::milliseconds(0));
      ASSERT_TRUE(s.is_ok()) << s.error().message();
      view.shards.push_back({*s, "self", i, true});
      shards_.push_back(*s);
    }
    view.members = {"self"};
    table_.replace(view);
    collector_ = spawn_collector(*sys_, table_, {});
    gw_ = std::make_unique<gateway>(*sys_, table_, std::vector<caf::actor>{collector_}, std::chrono::seconds(10));
  }
  void stop_shards() {
    gw_.reset();
    caf::anon_send_exit(collector_, caf::exit_reason::user_shutdown);
    for (auto& s : shards_) {
      caf::scoped_actor self{*sys_};
      self->send_exit(s, caf::exit_reason::user_shutdown);
      self->wait_for(s);
    }
    shards_.clear();
    collector_ = nullptr;
    table_.replace({});
  }
  void TearDown() override {
    stop_shards();
    sys_.reset();
    testing::remove_dir(dir_);
  }
  result<size_t> put(std::vector<metric_metadata> m) {
    std::promise<result<size_t>> p;
    gw_->put_metadata(std::move(m), [&](result<size_t> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  result<std::vector<metric_metadata>> list(const std::string& family) {
    std::promise<result<std::vector<metric_metadata>>> p;
    gw_->metadata(family, [&](auto r, std::vector<std::string>) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  std::vector<metric_metadata> list_shard(size_t i) {
    std::vector<metric_metadata> out;
    caf::scoped_actor self{*sys_};
    self->request(shards_[i], std::chrono::seconds(5), mdlist_atom::value, std::string())
        .receive([&](std::vector<std::string>& flat) { out = *decode_metadata(flat); },
                 [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return out;
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::string dir_;
  shard_table table_;
  std::vector<caf::actor> shards_;
  caf::actor collector_;
  std::unique_ptr<gateway> gw_;
};

TEST_F(GatewayShards, MetadataGoesToTheOwningShardAndSurvivesARestart) {
  std::vector<metric_metadata> in;
  for (int i = 0; i < 12; ++i) in.push_back(md("family_" + std::to_string(i), "counter", "Family " + std::to_string(i)));
  auto n = put(in);
  ASSERT_TRUE(n.is_ok()) << n.error().message();
  EXPECT_EQ(*n, 12u);
  size_t held = 0;
  for (size_t i = 0; i < shards_.size(); ++i)
    for (const auto& m : list_shard(i)) {
      ++held;
      EXPECT_EQ(metadata_shard(m.family, shards_.size()), i) << m.family;
    }
  EXPECT_EQ(held, 12u) << "each family in exactly one shard";

  stop_shards();
  start_shards();
  auto all = list("");
  ASSERT_TRUE(all.is_ok()) << all.error().message();
  std::sort(in.begin(), in.end());
  EXPECT_EQ(*all, in);
  auto one = list("family_3");
  ASSERT_TRUE(one.is_ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].help, "Family 3");
}

TEST_F(GatewayShards, BadMetadataIsRefusedWholeNamingTheEntry) {
  auto r = put({md("ok", "gauge", ""), md("bad", "gauge", "", std::string(300, 'u'))});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("metadata[1]"), std::string::npos) << r.error().message();
  auto all = list("");
  ASSERT_TRUE(all.is_ok());
  EXPECT_TRUE(all->empty()) << "nothing stored";
}

TEST_F(GatewayShards, EmptyWriteIsAcknowledgedWithoutTheShards) {
  std::promise<result<uint64_t>> wrote;
  gw_->write({}, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  auto f = wrote.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "a metadata-only write must not hang";
  auto r = f.get();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r, 0u);
}

TEST_F(GatewayShards, TsdbStatusCountsEveryShard) {
  write_batch b;
  for (int i = 0; i < 30; ++i)
    b.push_back({{{"__name__", i < 20 ? "big" : "small"}, {"i", std::to_string(i)}}, {{1000 + i, double(i)}}});
  std::promise<result<uint64_t>> wrote;
  gw_->write(b, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  ASSERT_TRUE(wrote.get_future().get().is_ok());

  std::promise<result<tsdb_status>> got;
  gw_->tsdb(2, [&](result<tsdb_status> r, std::vector<std::string>) { got.set_value(std::move(r)); });
  auto st = got.get_future().get();
  ASSERT_TRUE(st.is_ok()) << st.error().message();
  EXPECT_EQ(st->num_series, 30u);
  EXPECT_EQ(st->num_label_pairs, 32u);
  EXPECT_EQ(st->min_time, 1000);
  EXPECT_EQ(st->max_time, 1029);
  ASSERT_EQ(st->series_by_metric.size(), 2u);
  EXPECT_EQ(st->series_by_metric[0], (std::pair<std::string, uint64_t>{"big", 20}));
  EXPECT_EQ(st->series_by_metric[1], (std::pair<std::string, uint64_t>{"small", 10}));
  ASSERT_EQ(st->values_by_label.size(), 2u);
  EXPECT_EQ(st->values_by_label[0], (std::pair<std::string, uint64_t>{"i", 30}));
  EXPECT_EQ(st->series_by_pair.size(), 2u);
}

}  // namespace
}  // namespace strata::actors
