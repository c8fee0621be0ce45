// The node actor driven by CAF's testing scheduler: every message and timer
// runs when the test says, so failure detection is checked step by step,
// without sockets or sleeps.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>

#include <memory>

#include "actors/messages.hpp"
#include "cluster/health.hpp"
#include "cluster/membership.hpp"

namespace strata::cluster {
namespace {

using hb_atom = caf::atom_constant<caf::atom("hb")>;

// A peer as the node sees it after a join: it counts the heartbeats it gets.
caf::behavior peer(caf::event_based_actor* self, caf::actor node, std::string addr, std::shared_ptr<int> heartbeats) {
  self->request(node, std::chrono::seconds(5), actors::join_atom::value, addr, std::vector<caf::actor>{},
                caf::actor{})
      .then([](std::string&, std::vector<caf::actor>&, caf::actor&, std::vector<std::string>&) {});
  return {
      [=](hb_atom, const std::string&) { ++*heartbeats; },
      [](actors::epochs_atom, const std::string&) {},
  };
}

class MembershipActor : public ::testing::Test {
 protected:
  MembershipActor() {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.verbosity", caf::atom("quiet"));
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_->scheduler());
    node_options o;
    o.health = health_;
    o.heartbeat_interval = std::chrono::milliseconds(500);
    node_ = spawn_node(*sys_, table_, {}, self_, o).actor;
    sched_->run();
  }
  ~MembershipActor() override {
    caf::anon_send_exit(node_, caf::exit_reason::kill);
    sched_->run();
  }

  std::vector<member_status> states() {
    auto v = table_.snapshot();
    return member_states(v->members, v->down, self_, true, health_->snapshot(), 0, 1500);
  }
  std::string state_of(const std::string& addr) {
    for (const auto& s : states())
      if (s.address == addr) return s.state;
    return "unknown";
  }

  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  actors::shard_table table_;
  std::shared_ptr<member_health> health_ = std::make_shared<member_health>();
  std::string self_ = "127.0.0.1:1";
  caf::actor node_;
};

TEST_F(MembershipActor, APeerThatJoinsIsAMemberAndGetsHeartbeats) {
  auto beats = std::make_shared<int>(0);
  auto p = sys_->spawn(peer, node_, "127.0.0.1:2", beats);
  sched_->run();
  EXPECT_EQ(table_.snapshot()->members, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"}));
  EXPECT_TRUE(health_->snapshot().last_heard_ms.count("127.0.0.1:2"));
  EXPECT_EQ(*beats, 0);
  for (int i = 1; i <= 3; ++i) {
    sched_->advance_time(std::chrono::milliseconds(500));
    sched_->run();
    EXPECT_EQ(*beats, i);
  }
  caf::anon_send_exit(p, caf::exit_reason::kill);
  sched_->run();
}

TEST_F(MembershipActor, APeerThatGoesDownLeavesTheViewAtOnceAndShowsDown) {
  auto p = sys_->spawn(peer, node_, "127.0.0.1:2", std::make_shared<int>(0));
  sched_->run();
  ASSERT_EQ(state_of("127.0.0.1:2"), "up");
  caf::anon_send_exit(p, caf::exit_reason::kill);
  sched_->run();  // the down message, no timer needed
  auto v = table_.snapshot();
  EXPECT_EQ(v->members, std::vector<std::string>{"127.0.0.1:1"});
  EXPECT_EQ(v->down, std::vector<std::string>{"127.0.0.1:2"});
  EXPECT_EQ(state_of("127.0.0.1:2"), "down");
}

// A join whose sender is gone by the time it is handled (a node resuming
// from a freeze sees joins from peers whose links already timed out) is
// refused; it used to crash the node.
TEST_F(MembershipActor, AJoinWithoutASenderIsRefusedAndTheNodeGoesOn) {
  caf::anon_send(node_, actors::join_atom::value, std::string("127.0.0.1:3"), std::vector<caf::actor>{}, caf::actor{});
  sched_->run();
  EXPECT_EQ(table_.snapshot()->members, std::vector<std::string>{"127.0.0.1:1"});
  auto p = sys_->spawn(peer, node_, "127.0.0.1:2", std::make_shared<int>(0));
  sched_->run();
  EXPECT_EQ(table_.snapshot()->members, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"}));
  caf::anon_send_exit(p, caf::exit_reason::kill);
  sched_->run();
}

}  // namespace
}  // namespace strata::cluster
