// Member states and graceful leave with three real strata processes: a frozen
// node (SIGSTOP) shows as suspect before it is declared down and as up again
// after SIGCONT; `strata cluster leave` makes a node leave: the others drop
// it at once (no failure detection; with RF 2 no partial reads) and show it
// as left.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

std::string state_on(const node& asked, const node& about) {
  auto r = http_request(asked.http_port, "GET", "/api/v1/status/cluster");
  if (r.status != 200) return "unreachable";
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return "unreadable";
  for (const auto& m : j["data"]["member_states"])
    if (m["address"] == about.cluster_address()) return m["state"];
  return "absent";
}

class Membership : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
    c_ = make_node(root_ + "/c", {a_.cluster_address()});
    // Slow failure detection, so a frozen node stays suspect for a while.
    for (node* n : {&a_, &b_, &c_})
      n->extra_args = {"--heartbeat-interval-ms", "200", "--connection-timeout-ms", "8000", "--replication-factor", "2"};
  }
  void TearDown() override {
    for (node* n : {&a_, &b_, &c_})
      if (n->proc) {
        n->proc->kill(SIGCONT);
        n->stop(SIGKILL, 5000);
      }
    if (!HasFailure()) remove_dir(root_);
  }
  std::string root_;
  node a_, b_, c_;
};

TEST_F(Membership, FrozenNodeIsSuspectThenUpAndALeavingNodeIsDroppedAtOnce) {
  for (node* n : {&a_, &b_, &c_}) n->start();
  ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 3 && b_.live_members() == 3; }));
  EXPECT_EQ(state_on(a_, a_), "up");
  EXPECT_EQ(state_on(a_, c_), "up");

  // Partitions: every one placed once as primary, twice in all.
  auto j = nlohmann::json::parse(http_request(a_.http_port, "GET", "/api/v1/status/cluster").body);
  int primaries = 0;
  int placed = 0;
  for (const auto& m : j["data"]["member_states"]) {
    primaries += m["primary_partitions"].get<int>();
    placed += m["partitions"].get<int>();
  }
  EXPECT_EQ(primaries, 4096);
  EXPECT_EQ(placed, 2 * 4096);

  c_.proc->kill(SIGSTOP);
  EXPECT_TRUE(wait_until(6000, [&] { return state_on(a_, c_) == "suspect"; })) << state_on(a_, c_);
  c_.proc->kill(SIGCONT);
  EXPECT_TRUE(wait_until(6000, [&] { return state_on(a_, c_) == "up"; })) << state_on(a_, c_);

  child_process leave({STRATA_BINARY, "cluster", "leave", "--node", "http://127.0.0.1:" + std::to_string(c_.http_port)},
                      root_ + "/leave.out");
  ASSERT_EQ(leave.wait(10000), 0) << read_file(root_ + "/leave.out");
  ASSERT_TRUE(wait_until(5000, [&] { return state_on(a_, c_) == "left" && state_on(b_, c_) == "left"; }))
      << state_on(a_, c_) << " " << state_on(b_, c_);
  EXPECT_EQ(a_.live_members(), 2u);
  EXPECT_EQ(c_.live_members(), 1u);
  // With two replicas, reads of the time it held data stay whole.
  auto reply = query(a_.http_port, "up", now_ms());
  EXPECT_FALSE(reply.contains("warnings")) << reply.dump();

  child_process status({STRATA_BINARY, "cluster", "status", "--node", "http://127.0.0.1:" + std::to_string(a_.http_port)},
                       root_ + "/status.out");
  ASSERT_EQ(status.wait(10000), 0);
  auto out = read_file(root_ + "/status.out");
  EXPECT_NE(out.find(c_.cluster_address() + " "), std::string::npos) << out;
  EXPECT_NE(out.find("left"), std::string::npos) << out;
  EXPECT_NE(out.find("PARTITIONS"), std::string::npos) << out;

  // The node that left stays out after the others restart.
  b_.stop(SIGTERM, 10000);
  b_.start();
  ASSERT_TRUE(wait_until(10000, [&] { return b_.live_members() == 2; }));
  EXPECT_EQ(a_.live_members(), 2u);
}

}  // namespace
}  // namespace strata::testing
