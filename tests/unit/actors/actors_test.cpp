#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>

#include "actors/bucket_reply.hpp"
#include "actors/collector.hpp"
#include "actors/gateway.hpp"
#include "actors/messages.hpp"
#include "actors/shard_actor.hpp"
#include "tests/support/process.hpp"

namespace strata::actors {
namespace {

TEST(MergeSeries, JoinsEqualLabelsAndKeepsEachTimestampOnce) {
  labels a{{"__name__", "x"}, {"i", "1"}};
  labels b{{"__name__", "x"}, {"i", "2"}};
  auto merged = merge_series({{a, {{10, 1}, {20, 2}}}, {b, {{5, 9}}}, {a, {{15, 1.5}, {20, 2}}}});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].lbls, a);
  ASSERT_EQ(merged[0].samples.size(), 3u);
  EXPECT_EQ(merged[0].samples[0].t, 10);
  EXPECT_EQ(merged[0].samples[1].t, 15);
  EXPECT_EQ(merged[0].samples[2].t, 20);
  EXPECT_EQ(merged[1].lbls, b);
}

// The shards' answers come one after the other, each sorted by labels: the
// merge gives what a stable sort of all parts and then the join would, the
// first part's sample winning a timestamp (seeded; the seed is printed).
TEST(MergeSeries, RunsOfManyShardsMergeAsAStableSortWould) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    std::vector<series> parts;
    size_t shards = 1 + rng() % 6;
    for (size_t k = 0; k < shards; ++k) {
      std::vector<series> run;
      for (size_t n = rng() % 20; n > 0; --n) {
        int64_t t = static_cast<int64_t>(rng() % 4);
        run.push_back({{{"__name__", "x"}, {"i", std::to_string(rng() % 12)}}, {{t, double(k)}, {t + 10, double(k)}}});
      }
      std::stable_sort(run.begin(), run.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
      parts.insert(parts.end(), run.begin(), run.end());
    }
    auto want = parts;
    std::stable_sort(want.begin(), want.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
    std::vector<series> joined;
    for (auto& s : want) {
      if (joined.empty() || joined.back().lbls != s.lbls) joined.push_back(s);
      else joined.back().samples.insert(joined.back().samples.end(), s.samples.begin(), s.samples.end());
    }
    for (auto& s : joined) {
      std::stable_sort(s.samples.begin(), s.samples.end(), [](auto& a, auto& b) { return a.t < b.t; });
      s.samples.erase(std::unique(s.samples.begin(), s.samples.end(), [](auto& a, auto& b) { return a.t == b.t; }),
                      s.samples.end());
    }
    auto got = merge_series(parts);
    ASSERT_EQ(got.size(), joined.size()) << "seed " << seed;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].lbls, joined[i].lbls) << "seed " << seed;
      EXPECT_EQ(got[i].samples, joined[i].samples) << "seed " << seed << " series " << i;
    }
  }
}

TEST(Matchers, SurviveTheWireEncoding) {
  matchers ms{*matcher::make(matcher::op::eq, "job", "api"), *matcher::make(matcher::op::nre, "i", "a|b")};
  auto back = decode_matchers(encode_matchers(ms));
  ASSERT_TRUE(back.is_ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].type(), matcher::op::nre);
  EXPECT_TRUE((*back)[1].matches("c"));
  EXPECT_FALSE((*back)[1].matches("a"));
  EXPECT_FALSE(decode_matchers({"9", "a", "b"}).is_ok());
  EXPECT_FALSE(decode_matchers({"0", "a"}).is_ok());
}

TEST(CafError, CarriesCodeAndMessage) {
  auto st = from_caf_error(to_caf_error(error(strata_errc::overloaded, "too much")), "ctx");
  EXPECT_EQ(st.code(), strata_errc::overloaded);
  EXPECT_EQ(st.message(), "too much");
}

class LocalShards : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.set("scheduler.max-threads", size_t{2});
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    dir_ = testing::make_temp_dir();
    shard_view view;
    for (uint32_t i = 0; i < 3; ++i) {
      persistence::store_options o;
      o.dir = dir_ + "/shard-" + std::to_string(i);
      o.sync = false;
      auto s = spawn_shard(*sys_, o);
      ASSERT_TRUE(s.is_ok()) << s.error().message();
      view.shards.push_back({*s, "self", i, true});
      shards_.push_back(*s);
    }
    view.members = {"self"};
    table_.replace(view);
    collector_ = spawn_collector(*sys_, table_, {});
    gw_ = std::make_unique<gateway>(*sys_, table_, std::vector<caf::actor>{collector_}, std::chrono::seconds(10));
  }
  void TearDown() override {
    gw_.reset();
    caf::anon_send_exit(collector_, caf::exit_reason::user_shutdown);
    for (auto& s : shards_) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
    // ~actor_system waits for every actor: drop our handles first.
    shards_.clear();
    collector_ = nullptr;
    table_.replace({});
    sys_.reset();
    testing::remove_dir(dir_);
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::string dir_;
  shard_table table_;
  std::vector<caf::actor> shards_;
  caf::actor collector_;
  std::unique_ptr<gateway> gw_;
};

TEST_F(LocalShards, WriteSpreadsSeriesAndSelectFindsThemAll) {
  write_batch b;
  for (int i = 0; i < 60; ++i)
    b.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{1000, double(i)}, {2000, double(i) + 1}}});
  std::promise<result<uint64_t>> wrote;
  gw_->write(b, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  auto w = wrote.get_future().get();
  ASSERT_TRUE(w.is_ok()) << w.error().message();
  EXPECT_EQ(*w, 120u);

  // Every shard got some of the 60 series.
  caf::scoped_actor self{*sys_};
  for (const auto& s : table_.snapshot()->shards) {
    self->request(s.handle, std::chrono::seconds(5), stats_atom::value)
        .receive([&](uint64_t series, uint64_t) { EXPECT_GT(series, 0u) << "shard " << s.index; },
                 [&](caf::error& e) { FAIL() << caf::to_string(e); });
  }

  std::promise<result<std::vector<series>>> read;
  gw_->select({*matcher::make(matcher::op::re, "i", "1.")}, 0, 1500, 1000, {},
              [&](result<std::vector<series>> r, std::vector<std::string>, read_stats) { read.set_value(std::move(r)); });
  auto got = read.get_future().get();
  ASSERT_TRUE(got.is_ok());
  ASSERT_EQ(got->size(), 10u);  // i = 10..19
  for (const auto& s : *got) {
    ASSERT_EQ(s.samples.size(), 1u) << "maxt bounds the samples";
    EXPECT_EQ(s.samples[0].t, 1000);
  }

  std::promise<std::vector<std::string>> names;
  gw_->label_values("i", {}, 0, 5000, [&](result<std::vector<std::string>> r, std::vector<std::string>) {
    names.set_value(r.is_ok() ? *r : std::vector<std::string>{});
  });
  EXPECT_EQ(names.get_future().get().size(), 60u);
}

TEST_F(LocalShards, AWriteWithLabelsNotInCanonicalOrderIsRefusedWholeAndStoresNothing) {
  write_batch b;
  for (int i = 0; i < 10; ++i) b.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{1000, 1}}});
  b.push_back({{{"z", "1"}, {"__name__", "m"}}, {{1000, 1}}});
  std::promise<result<uint64_t>> wrote;
  gw_->write(b, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  auto w = wrote.get_future().get();
  ASSERT_FALSE(w.is_ok());
  EXPECT_EQ(w.error().code(), strata_errc::bad_request);
  EXPECT_NE(w.error().message().find("series 10 "), std::string::npos) << w.error().message();
  caf::scoped_actor self{*sys_};
  for (const auto& s : shards_)
    self->request(s, std::chrono::seconds(5), stats_atom::value)
        .receive([&](uint64_t series, uint64_t) { EXPECT_EQ(series, 0u); },
                 [&](caf::error& e) { FAIL() << caf::to_string(e); });
}

TEST_F(LocalShards, SelectPastTheSampleLimitFails) {
  write_batch b;
  for (int i = 0; i < 30; ++i) b.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{1000, 1}, {2000, 2}}});
  std::promise<result<uint64_t>> wrote;
  gw_->write(b, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  ASSERT_TRUE(wrote.get_future().get().is_ok());
  auto read = [&](size_t limit) {
    std::promise<result<std::vector<series>>> p;
    gw_->select({*matcher::make(matcher::op::eq, "__name__", "m")}, 0, 5000, limit, {},
                [&](result<std::vector<series>> r, std::vector<std::string>, read_stats) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  auto over = read(59);
  ASSERT_FALSE(over.is_ok());
  EXPECT_EQ(over.error().code(), strata_errc::bad_request);
  EXPECT_NE(over.error().message().find("too many samples"), std::string::npos);
  auto at_limit = read(60);
  ASSERT_TRUE(at_limit.is_ok()) << at_limit.error().message();
  EXPECT_EQ(at_limit->size(), 30u);
}

// Rollup buckets from the shards of this node come as the buckets
// themselves (lbuckets_atom): the same as each shard's encoded reply, and
// counted against the sample limit in the same way.
TEST_F(LocalShards, SelectBucketsTakesTheShardsBucketsAsTheirEncodedRepliesHoldThem) {
  write_batch b;
  const int64_t t0 = 1'700'000'000'000 - 1'700'000'000'000 % 3'600'000;  // an hour's start
  for (int i = 0; i < 12; ++i) {
    series s{{{"__name__", "m"}, {"i", std::to_string(i)}}, {}};
    for (int k = 0; k < 30; ++k) s.samples.push_back({t0 + 7'000 + k * 20'000, double(i * 100 + k)});
    b.push_back(std::move(s));
  }
  std::promise<result<uint64_t>> wrote;
  gw_->write(b, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  ASSERT_TRUE(wrote.get_future().get().is_ok());
  caf::scoped_actor self{*sys_};
  const matchers ms{*matcher::make(matcher::op::eq, "__name__", "m")};
  std::vector<query::bucket_series> want;
  for (auto& s : shards_) {
    self->request(s, std::chrono::seconds(5), admin_atom::value, std::string("flush"))
        .receive([](const std::string&) {}, [&](caf::error& e) { FAIL() << caf::to_string(e); });
    self->request(s, std::chrono::seconds(5), buckets_atom::value, encode_matchers(ms), t0, t0 + 3'600'000 - 1,
                  int64_t{60'000}, int64_t{60'000}, std::string())
        .receive(
            [&](const std::string& bytes) {
              auto got = decode_bucket_reply(bytes, nullptr);
              ASSERT_TRUE(got.is_ok()) << got.error().message();
              for (auto& x : *got) want.push_back(std::move(x));
            },
            [&](caf::error& e) { FAIL() << caf::to_string(e); });
  }
  auto read = [&](size_t limit) {
    std::promise<result<std::vector<query::bucket_series>>> p;
    gw_->select_buckets(ms, t0, t0 + 3'600'000 - 1, 60'000, 60'000, limit, {},
                        [&](result<std::vector<query::bucket_series>> r, std::vector<std::string>, read_stats) {
                          p.set_value(std::move(r));
                        });
    return p.get_future().get();
  };
  auto got = read(1'000'000);
  ASSERT_TRUE(got.is_ok()) << got.error().message();
  auto by_labels = [](const query::bucket_series& a, const query::bucket_series& c) { return a.lbls < c.lbls; };
  std::sort(want.begin(), want.end(), by_labels);
  std::sort(got->begin(), got->end(), by_labels);
  ASSERT_EQ(got->size(), 12u);
  ASSERT_EQ(want.size(), 12u);
  size_t pieces = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].lbls, want[i].lbls);
    EXPECT_EQ((*got)[i].samples, want[i].samples);
    ASSERT_EQ((*got)[i].buckets.size(), want[i].buckets.size());
    EXPECT_EQ((*got)[i].buckets.size(), 10u);  // 30 samples every 20 s from :07: 10 minutes
    for (size_t k = 0; k < want[i].buckets.size(); ++k) {
      const auto &g = (*got)[i].buckets[k], &w = want[i].buckets[k];
      EXPECT_EQ(g.start, w.start);
      EXPECT_EQ(g.count, w.count);
      EXPECT_EQ(g.sum, w.sum);
      EXPECT_EQ(g.first_t, w.first_t);
      EXPECT_EQ(g.last, w.last);
      EXPECT_EQ(g.increase, w.increase);
      ASSERT_TRUE(g.sketch && w.sketch);
      EXPECT_EQ(g.sketch->quantile(0.5), w.sketch->quantile(0.5));
    }
    pieces += want[i].buckets.size() + want[i].samples.size();
  }
  auto over = read(pieces - 1);
  ASSERT_FALSE(over.is_ok());
  EXPECT_NE(over.error().message().find("too many samples"), std::string::npos) << over.error().message();
  EXPECT_TRUE(read(pieces).is_ok());
}

TEST_F(LocalShards, WriteWithoutShardsIsUnavailable) {
  table_.replace({});
  std::promise<result<uint64_t>> wrote;
  gw_->write({{{{"__name__", "m"}}, {{1, 1}}}}, [&](result<uint64_t> r) { wrote.set_value(std::move(r)); });
  auto w = wrote.get_future().get();
  ASSERT_FALSE(w.is_ok());
  EXPECT_EQ(w.error().code(), strata_errc::unavailable);
}

// A remote shard that holds every append until told to answer, so a test
// controls how many batches are unacknowledged.
using release_atom = caf::atom_constant<caf::atom("release")>;

caf::behavior held_shard(caf::event_based_actor* self) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [=](append_atom, const std::string&) -> caf::result<uint64_t> {
      held->push_back(self->make_response_promise());
      return held->back();
    },
    [=](release_atom) {
      for (auto& p : *held) p.deliver(uint64_t{1});
      held->clear();
    },
  };
}

TEST(Collector, RefusesWritesBeyondTheRemoteWindowAndQueue) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", size_t{2});
  caf::actor_system sys{cfg};
  auto remote = sys.spawn(held_shard);
  shard_table table;
  shard_view view;
  view.shards.push_back({remote, "127.0.0.1:1", 0, false});
  table.replace(view);
  collector_options opts;
  opts.window = 1;
  opts.max_queued = 1;
  auto collector = spawn_collector(sys, table, opts);
  {
    gateway gw(sys, table, {collector}, std::chrono::seconds(10));
    write_batch one{{{{"__name__", "m"}}, {{1, 1}}}};
    std::mutex mu;
    std::condition_variable cv;
    std::vector<result<uint64_t>> results;
    auto wait_for = [&](size_t n) {
      std::unique_lock<std::mutex> lock(mu);
      return cv.wait_for(lock, std::chrono::seconds(10), [&] { return results.size() >= n; });
    };
    for (int i = 0; i < 3; ++i)
      gw.write(one, [&](result<uint64_t> r) {
        std::lock_guard<std::mutex> lock(mu);
        results.push_back(std::move(r));
        cv.notify_all();
      });
    // One in flight, one queued: the third is refused at once, whole.
    ASSERT_TRUE(wait_for(1));
    ASSERT_FALSE(results[0].is_ok());
    EXPECT_EQ(results[0].error().code(), strata_errc::overloaded);
    EXPECT_NE(results[0].error().message().find("127.0.0.1:1"), std::string::npos) << results[0].error().message();
    caf::anon_send(remote, release_atom::value);  // acks the first; the queued one goes out
    ASSERT_TRUE(wait_for(2));
    caf::anon_send(remote, release_atom::value);
    ASSERT_TRUE(wait_for(3));
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(results[1].is_ok());
    EXPECT_TRUE(results[2].is_ok());
  }
  caf::anon_send_exit(collector, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(remote, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace strata::actors
