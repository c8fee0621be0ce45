// --max-active-series in the shard actor: one real shard (LMDB in a temp
// dir), appends sent as the collector sends them.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>

#include "actors/messages.hpp"
#include "actors/shard_actor.hpp"
#include "tests/support/process.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

series one(const std::string& i, int64_t t) { return {{{"__name__", "m"}, {"i", i}}, {{t, 1}}}; }

class SeriesLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.set("scheduler.max-threads", size_t{2});
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    dir_ = testing::make_temp_dir();
  }
  void TearDown() override {
    stop();
    sys_.reset();
    testing::remove_dir(dir_);
  }
  void start(size_t max) {
    limit_ = std::make_shared<series_limit>();
    limit_->max = max;
    gauges_ = std::make_shared<shard_gauges>();
    gauges_->rejected_samples = &rejected_;
    persistence::store_options o;
    o.dir = dir_ + "/shard-0";
    auto s = spawn_shard(*sys_, o, std::chrono::milliseconds(0), gauges_, std::chrono::milliseconds(0), limit_);
    ASSERT_TRUE(s.is_ok()) << s.error().message();
    shard_ = *s;
  }
  void stop() {
    if (!shard_) return;
    caf::scoped_actor self{*sys_};
    self->monitor(shard_);
    caf::anon_send_exit(shard_, caf::exit_reason::user_shutdown);
    self->receive([](caf::down_msg&) {});
    shard_ = nullptr;
  }
  // The shard's answer to one append: samples written, or the error.
  result<uint64_t> append(const write_batch& b) {
    caf::scoped_actor self{*sys_};
    result<uint64_t> out = error(strata_errc::internal, "no answer");
    self->request(shard_, std::chrono::seconds(10), append_atom::value, wire::encode_batch(b))
        .receive([&](uint64_t n) { out = n; }, [&](caf::error& e) { out = from_caf_error(e, "shard"); });
    return out;
  }
  // The same as the collector sends a part to a shard of its own node.
  result<uint64_t> append_local(write_batch b) {
    std::vector<uint64_t> hashes;
    for (const auto& s : b) hashes.push_back(wire::series_hash(s.lbls));
    caf::scoped_actor self{*sys_};
    result<uint64_t> out = error(strata_errc::internal, "no answer");
    self->request(shard_, std::chrono::seconds(10), lappend_atom::value, std::move(b), std::move(hashes))
        .receive([&](uint64_t n) { out = n; }, [&](caf::error& e) { out = from_caf_error(e, "shard"); });
    return out;
  }
  uint64_t series_held() {
    caf::scoped_actor self{*sys_};
    uint64_t out = 0;
    self->request(shard_, std::chrono::seconds(10), stats_atom::value)
        .receive([&](uint64_t series, uint64_t) { out = series; }, [&](caf::error&) {});
    return out;
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::string dir_;
  caf::actor shard_;
  std::shared_ptr<series_limit> limit_;
  std::shared_ptr<shard_gauges> gauges_;
  counter_family rejected_{"x_rejected_samples_total", "Refused.", {"reason"}};
};

TEST_F(SeriesLimit, AnEncodedSeriesTakesAtLeastEightBytes) {
  // The shard relies on this to skip the check while far from the limit.
  write_batch b;
  for (int i = 0; i < 1000; ++i) b.push_back({{{"a", "b"}}, {{0, 0}}});
  EXPECT_GE(wire::encode_batch(b).size(), 8 * b.size());
}

TEST_F(SeriesLimit, SeriesUpToTheLimitAreCreated) {
  start(3);
  auto r = append({one("1", 1000), one("2", 1000), one("3", 1000)});
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(*r, 3u);
  EXPECT_EQ(limit_->active.load(), 3);
}

TEST_F(SeriesLimit, NewSeriesPastTheLimitAreRefusedAndExistingOnesWritten) {
  start(2);
  ASSERT_TRUE(append({one("1", 1000), one("2", 1000)}).is_ok());
  auto r = append({one("1", 2000), one("3", 2000), one("4", 2000)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::limit_exceeded);
  const auto& msg = r.error().message();
  EXPECT_NE(msg.find("series {__name__=\"m\", i=\"3\"} and 1 more not created (2 samples refused)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("limit of 2 active series (--max-active-series)"), std::string::npos) << msg;
  EXPECT_EQ(series_held(), 2u);
  EXPECT_EQ(rejected_.get({"series_limit"}), 2);
  // The existing series got its sample: writing it again is an exact duplicate.
  auto again = append({one("1", 2000)});
  ASSERT_TRUE(again.is_ok()) << again.error().message();
  EXPECT_EQ(*again, 0u);
}

TEST_F(SeriesLimit, NewSeriesOfALocalPartPastTheLimitAreRefusedAndExistingOnesWritten) {
  start(2);
  ASSERT_TRUE(append_local({one("1", 1000), one("2", 1000)}).is_ok());
  auto r = append_local({one("3", 2000), one("1", 2000), one("4", 2000)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::limit_exceeded);
  EXPECT_NE(r.error().message().find("series {__name__=\"m\", i=\"3\"} and 1 more not created (2 samples refused)"),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(series_held(), 2u);
  EXPECT_EQ(rejected_.get({"series_limit"}), 2);
  auto again = append_local({one("1", 2000)});
  ASSERT_TRUE(again.is_ok()) << again.error().message();
  EXPECT_EQ(*again, 0u);  // written by the refused append already: an exact duplicate
}

TEST_F(SeriesLimit, ALocalPartWhoseHashesDoNotMatchItsSeriesIsRefused) {
  start(0);
  caf::scoped_actor self{*sys_};
  bool refused = false;
  self->request(shard_, std::chrono::seconds(10), lappend_atom::value, write_batch{one("1", 1000)},
                std::vector<uint64_t>{})
      .receive([&](uint64_t) {}, [&](caf::error& e) { refused = from_caf_error(e, "shard").code() == strata_errc::internal; });
  EXPECT_TRUE(refused);
  EXPECT_EQ(series_held(), 0u);
}

TEST_F(SeriesLimit, OnlyTheSeriesThatFitAreCreatedFromOneBatch) {
  start(3);
  ASSERT_TRUE(append({one("1", 1000)}).is_ok());
  auto r = append({one("2", 1000), one("3", 1000), one("4", 1000), one("2", 2000)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::limit_exceeded);
  EXPECT_EQ(series_held(), 3u);
  EXPECT_EQ(rejected_.get({"series_limit"}), 1);
}

TEST_F(SeriesLimit, ReplayedSeriesCountAfterARestart) {
  start(0);  // no limit
  ASSERT_TRUE(append({one("1", 1000), one("2", 1000), one("3", 1000)}).is_ok());
  stop();
  start(3);
  EXPECT_EQ(series_held(), 3u);  // answered after the shard has set itself up
  EXPECT_EQ(limit_->active.load(), 3);
  auto r = append({one("4", 1000)});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::limit_exceeded);
  EXPECT_TRUE(append({one("2", 2000)}).is_ok());
}

}  // namespace
}  // namespace strata::actors
