#include "actors/hints.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "actors/messages.hpp"
#include "tests/support/process.hpp"

namespace strata::actors {
namespace {

TEST(Hints, RecordsRoundTripInOrder) {
  std::string file = encode_hint({"127.0.0.1:9202", 3, "abc"}) + encode_hint({"127.0.0.1:9302", 0, std::string(1000, 'x')});
  uint64_t torn = 0;
  auto hs = decode_hints(file, &torn);
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_EQ(hs[0].node, "127.0.0.1:9202");
  EXPECT_EQ(hs[0].shard, 3u);
  EXPECT_EQ(hs[0].bytes, "abc");
  EXPECT_EQ(hs[1].bytes.size(), 1000u);
  EXPECT_EQ(torn, 0u);
}

TEST(Hints, ATornTailIsDroppedAndTheRecordsBeforeItKept) {
  std::string one = encode_hint({"n:1", 0, "first"});
  std::string two = encode_hint({"n:1", 1, "second"});
  uint64_t torn = 0;
  auto hs = decode_hints(one + two.substr(0, two.size() - 2), &torn);
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].bytes, "first");
  EXPECT_EQ(torn, 1u);
}

TEST(Hints, ARecordFailingItsChecksumEndsTheFile) {
  std::string one = encode_hint({"n:1", 0, "first"});
  std::string two = encode_hint({"n:1", 1, "second"});
  two[two.size() - 1] ^= 1;
  uint64_t torn = 0;
  auto hs = decode_hints(one + two + encode_hint({"n:1", 2, "third"}), &torn);
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(torn, 1u);
}

// A replica shard: takes appends, or fails the next `failing` of them as
// a node that is not back yet would.
struct replica_log {
  std::vector<std::string> taken;
  int failing = 0;
  int attempts = 0;
};
caf::behavior replica(caf::event_based_actor*, std::shared_ptr<replica_log> log) {
  return {
      [=](append_atom, const std::string& bytes) -> caf::result<uint64_t> {
        ++log->attempts;
        if (log->failing > 0) {
          --log->failing;
          return to_caf_error(error(strata_errc::unavailable, "not ready"));
        }
        log->taken.push_back(bytes);
        return uint64_t{1};
      },
  };
}

// The hints actor under CAF's testing scheduler: each delivery tick runs
// when the test advances the clock.
TEST(HintsActor, HintsWaitForTheNodeSurviveAFailedRoundAndArriveInOrder) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto dir = std::filesystem::path(testing::make_temp_dir()) / "hints";
  const std::string peer = "127.0.0.1:9302";
  shard_table table;
  shard_view alone;
  alone.members = {"127.0.0.1:9202"};
  alone.down = {peer};
  table.replace(alone);
  hints_options o;
  o.dir = dir.string();
  o.interval = std::chrono::milliseconds(1000);
  auto hints = spawn_hints(sys, table, o);
  sched.run();
  caf::anon_send(hints, hint_atom::value, peer, uint32_t{0}, std::string("part-1"));
  caf::anon_send(hints, hint_atom::value, peer, uint32_t{0}, std::string("part-2"));
  sched.run();
  uint64_t stored = hints_pending_bytes(o.dir, peer);
  EXPECT_GT(stored, 0u);

  // The node is down: ticks pass, nothing moves.
  auto log = std::make_shared<replica_log>();
  auto shard = sys.spawn(replica, log);
  sched.advance_time(o.interval);
  sched.run();
  EXPECT_EQ(log->attempts, 0);

  // Back, but its first append fails: the round stops, the hints stay.
  shard_view back;
  back.members = {"127.0.0.1:9202", peer};
  back.shards = {{shard, peer, 0, false}};
  table.replace(back);
  log->failing = 1;
  sched.advance_time(o.interval);
  sched.run();
  EXPECT_EQ(log->attempts, 1);
  EXPECT_TRUE(log->taken.empty());
  EXPECT_EQ(hints_pending_bytes(o.dir, peer), stored);

  // The next round delivers both, in order, and removes the file.
  sched.advance_time(o.interval);
  sched.run();
  EXPECT_EQ(log->taken, (std::vector<std::string>{"part-1", "part-2"}));
  EXPECT_EQ(hints_pending_bytes(o.dir, peer), 0u);
  sched.advance_time(o.interval);
  sched.run();
  EXPECT_EQ(log->taken.size(), 2u);  // nothing twice

  caf::anon_send_exit(hints, caf::exit_reason::kill);
  caf::anon_send_exit(shard, caf::exit_reason::kill);
  sched.run();
  std::filesystem::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace strata::actors
