// Alert state replicated between real strata processes: the node that owns a
// rule group is killed while an alert is pending; the other node takes the
// group over with the `for` timer still running (same activeAt) and fires it;
// the first node comes back, takes the group again and does not fire it a
// second time (one firing entry in every node's alert history).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "rules/group_eval.hpp"
#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

nlohmann::json get_json(uint16_t port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  if (r.status != 200) return nlohmann::json();
  return nlohmann::json::parse(r.body, nullptr, false);
}

// The state of alert Hot on a node ("" when it has none).
std::string state(const nlohmann::json& alert) { return alert.is_object() ? alert.value("state", "") : ""; }

// The alert Hot of a node's /api/v1/alerts, or null.
nlohmann::json hot(const node& n) {
  auto j = get_json(n.http_port, "/api/v1/alerts");
  if (!j.is_object()) return nlohmann::json();
  for (const auto& a : j["data"]["alerts"])
    if (a["labels"].value("alertname", "") == "Hot") return a;
  return nlohmann::json();
}

// States of the alert history entries of Hot on a node, oldest first.
std::vector<std::string> history(const node& n) {
  std::vector<std::string> out;
  auto j = get_json(n.http_port, "/api/v1/alerts/history?alertname=Hot&start=0");
  if (!j.is_object()) return {"unreadable"};
  for (const auto& e : j["data"]["entries"]) out.push_back(e["state"].get<std::string>() + "@" + e["time"].get<std::string>());
  return out;
}

class RulesFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir();
    std::string file = root_ + "/rules.yml";
    std::ofstream(file) << "groups:\n"
                           "  - name: failover\n"
                           "    interval: 1s\n"
                           "    rules:\n"
                           "      - alert: Hot\n"
                           "        expr: vector(1)\n"
                           "        for: 8s\n";
    a_ = make_node(root_ + "/a");
    b_ = make_node(root_ + "/b", {a_.cluster_address()});
    for (node* n : {&a_, &b_}) n->extra_args = {"--rule-file", file};
  }
  void TearDown() override {
    for (node* n : {&a_, &b_})
      if (n->proc) n->stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  std::string root_;
  node a_, b_;
};

TEST_F(RulesFailover, TakeoverKeepsTheForTimerAndTheComebackDoesNotFireAgain) {
  a_.start();
  b_.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 2 && b_.live_members() == 2; }));
  std::string owner_addr = rules::owner_of("failover", {a_.cluster_address(), b_.cluster_address()});
  node& owner = owner_addr == a_.cluster_address() ? a_ : b_;
  node& other = &owner == &a_ ? b_ : a_;

  ASSERT_TRUE(wait_until(20000, [&] { return state(hot(owner)) == "pending"; }));
  std::string active_at = hot(owner)["activeAt"];
  EXPECT_TRUE(hot(other).is_null()) << "the group runs on one node only";
  // Part of `for` passes on the owner, so a timer restarted elsewhere would show.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_EQ(state(hot(owner)), "pending");
  owner.stop(SIGKILL, 5000);

  // The survivor takes over with the same activeAt and fires after `for`.
  ASSERT_TRUE(wait_until(30000, [&] { return state(hot(other)) == "firing"; })) << hot(other).dump();
  EXPECT_EQ(hot(other)["activeAt"], active_at);

  // The owner comes back, takes its group again, and keeps the firing alert.
  owner.start();
  ASSERT_TRUE(wait_until(20000, [&] { return owner.live_members() == 2 && other.live_members() == 2; }));
  ASSERT_TRUE(wait_until(20000, [&] { return state(hot(owner)) == "firing"; })) << hot(owner).dump();
  EXPECT_EQ(hot(owner)["activeAt"], active_at);
  ASSERT_TRUE(wait_until(20000, [&] { return hot(other).is_null(); })) << "the survivor let the group go";
  // One pending and one firing transition, the same on both nodes.
  ASSERT_TRUE(wait_until(10000, [&] { return history(owner) == history(other); }))
      << ::testing::PrintToString(history(owner)) << " vs " << ::testing::PrintToString(history(other));
  auto h = history(owner);
  ASSERT_EQ(h.size(), 2u) << ::testing::PrintToString(h);
  EXPECT_EQ(h[0].rfind("pending@", 0), 0u);
  EXPECT_EQ(h[1].rfind("firing@", 0), 0u);
}

// A write of a watched metric taken by the node that does not own the
// group: the owner evaluates the group at once (prompt evaluation across
// nodes), though its interval is an hour.
TEST(RulesPrompt, AWriteToTheOtherNodeFiresTheOwnersAlertAtOnce) {
  std::string root = make_temp_dir();
  node a = make_node(root + "/a");
  node b = make_node(root + "/b", {a.cluster_address()});
  std::vector<std::string> members{a.cluster_address(), b.cluster_address()};
  std::string group;
  for (int i = 0; group.empty(); ++i)
    if (rules::owner_of("p" + std::to_string(i), members) == b.cluster_address()) group = "p" + std::to_string(i);
  std::string file = root + "/prompt.yml";
  std::ofstream(file) << "groups:\n  - name: " << group
                      << "\n    interval: 1h\n    rules:\n      - alert: Big\n        expr: prompt_gauge > 10\n";
  for (node* n : {&a, &b}) {
    n->extra_args = {"--rule-file", file};
    n->start();
  }
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 2 && b.live_members() == 2; }));
  write_batch w{{{{"__name__", "prompt_gauge"}, {"job", "x"}}, {{now_ms(), 42}}}};
  ASSERT_EQ(remote_write(a.http_port, w).status, 204);
  auto big = [](const node& n) {
    auto j = get_json(n.http_port, "/api/v1/alerts");
    if (!j.is_object()) return std::string();
    for (const auto& x : j["data"]["alerts"])
      if (x["labels"].value("alertname", "") == "Big") return x.value("state", "");
    return std::string();
  };
  EXPECT_TRUE(wait_until(20000, [&] { return big(b) == "firing"; })) << "the owner did not evaluate the group";
  EXPECT_EQ(big(a), "") << "the group runs on its owner only";
  for (node* n : {&a, &b}) n->stop(SIGKILL, 5000);
  if (!::testing::Test::HasFailure()) remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
