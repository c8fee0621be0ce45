#include "cluster/health.hpp"

#include <gtest/gtest.h>

namespace strata::cluster {
namespace {

std::string state_of(const std::vector<member_status>& v, const std::string& a) {
  for (const auto& m : v)
    if (m.address == a) return m.state;
  return "absent";
}

TEST(MemberStates, EachKnownNodeGetsOneState) {
  member_health h;
  h.heard("b:1", 10'000);
  h.heard("c:1", 8'000);
  h.left("e:1");
  auto v = member_states({"a:1", "b:1", "c:1"}, {"d:1"}, "a:1", true, h.snapshot(), 10'500, 1'500);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v[0].address, "a:1");  // sorted by address
  EXPECT_EQ(state_of(v, "a:1"), "up");
  EXPECT_EQ(state_of(v, "b:1"), "up");
  EXPECT_EQ(state_of(v, "c:1"), "suspect");  // silent for 2.5 s > 1.5 s
  EXPECT_EQ(v[2].silent_ms, 2'500);
  EXPECT_EQ(state_of(v, "d:1"), "down");
  EXPECT_EQ(state_of(v, "e:1"), "left");
}

TEST(MemberStates, ThisNodeIsJoiningUntilReady) {
  member_health h;
  auto v = member_states({"a:1"}, {}, "a:1", false, h.snapshot(), 0, 1'500);
  EXPECT_EQ(state_of(v, "a:1"), "joining");
}

TEST(MemberStates, ANodeThatLeftAndCameBackIsLiveAgain) {
  member_health h;
  h.left("b:1");
  EXPECT_EQ(state_of(member_states({"a:1"}, {}, "a:1", true, h.snapshot(), 0, 1'500), "b:1"), "left");
  h.joined("b:1");
  h.heard("b:1", 100);
  auto v = member_states({"a:1", "b:1"}, {}, "a:1", true, h.snapshot(), 200, 1'500);
  EXPECT_EQ(state_of(v, "b:1"), "up");
  EXPECT_EQ(v.size(), 2u);
}

}  // namespace
}  // namespace strata::cluster
