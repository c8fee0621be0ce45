#include "scrape/ownership.hpp"

#include <gtest/gtest.h>

#include <map>

namespace strata::scrape {
namespace {

const std::vector<std::string> three = {"127.0.0.1:19701", "127.0.0.1:19702", "127.0.0.1:19703"};

TEST(TargetOwnership, NoMembersMeansNoOwner) { EXPECT_EQ(owner_of({}, target_key("j", "h:1")), ""); }

TEST(TargetOwnership, OrderOfMembersDoesNotMatter) {
  std::vector<std::string> reversed(three.rbegin(), three.rend());
  for (int i = 0; i < 100; ++i) {
    auto key = target_key("job", "10.0.0." + std::to_string(i) + ":9100");
    EXPECT_EQ(owner_of(three, key), owner_of(reversed, key));
  }
}

TEST(TargetOwnership, TargetsSpreadOverMembers) {
  std::map<std::string, int> per_node;
  for (int i = 0; i < 300; ++i) ++per_node[owner_of(three, target_key("job", "10.0.0." + std::to_string(i) + ":9100"))];
  ASSERT_EQ(per_node.size(), 3u);
  for (const auto& [node, n] : per_node) EXPECT_GT(n, 60) << node;
}

TEST(TargetOwnership, OnlyTheLeavingMembersTargetsMove) {
  for (int i = 0; i < 200; ++i) {
    auto key = target_key("job", "10.0.0." + std::to_string(i) + ":9100");
    auto before = owner_of(three, key);
    std::vector<std::string> left;
    for (const auto& m : three)
      if (m != three[0]) left.push_back(m);
    auto after = owner_of(left, key);
    if (before != three[0]) EXPECT_EQ(after, before) << key;
    else EXPECT_NE(after, three[0]);
  }
}

TEST(TargetOwnership, SameAddressInTwoJobsIsTwoTargets) {
  EXPECT_NE(target_key("a", "h:1"), target_key("b", "h:1"));
}

TEST(TargetOwnership, OffsetIsWithinInterval) {
  for (int i = 0; i < 100; ++i) {
    auto off = scrape_offset_ms(target_key("j", std::to_string(i)), 15'000);
    EXPECT_GE(off, 0);
    EXPECT_LT(off, 15'000);
  }
}

}  // namespace
}  // namespace strata::scrape
