#include "cluster/ring.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace strata::cluster {
namespace {

const std::vector<std::string> three = {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"};

TEST(Ring, PartitionIsTheTopTwelveBitsOfTheSeriesHash) {
  EXPECT_EQ(partition_of(0), 0u);
  EXPECT_EQ(partition_of(~uint64_t{0}), partitions - 1);
  EXPECT_EQ(partition_of(uint64_t{1} << 52), 1u);
}

TEST(Ring, OwnersAreDistinctAndIndependentOfMemberOrder) {
  auto reversed = std::vector<std::string>(three.rbegin(), three.rend());
  for (uint32_t p = 0; p < partitions; p += 97) {
    auto a = owners(three, p, 2);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_NE(a[0], a[1]);
    EXPECT_EQ(a, owners(reversed, p, 2));
  }
  EXPECT_EQ(owners(three, 5, 7).size(), 3u);  // never more owners than members
  EXPECT_TRUE(owners({}, 5, 2).empty());
}

TEST(Ring, PlacementIsBalanced) {
  std::map<std::string, int> primaries;
  for (uint32_t p = 0; p < partitions; ++p) ++primaries[owners(three, p, 1)[0]];
  for (const auto& [m, n] : primaries) EXPECT_NEAR(n, partitions / 3.0, partitions * 0.05) << m;
}

TEST(Ring, AMemberLeavingMovesOnlyItsOwnPartitions) {
  std::vector<std::string> two = {three[0], three[1]};
  int moved = 0;
  for (uint32_t p = 0; p < partitions; ++p) {
    auto before = owners(three, p, 2), after = owners(two, p, 2);
    bool had_leaver = std::find(before.begin(), before.end(), three[2]) != before.end();
    if (!had_leaver) EXPECT_EQ(before, after) << p;
    else ++moved;
  }
  EXPECT_GT(moved, 0);
}

TEST(Ring, WriteQuorumIsAMajorityOfTheReplicationFactor) {
  EXPECT_EQ(write_quorum(1), 1u);
  EXPECT_EQ(write_quorum(2), 2u);
  EXPECT_EQ(write_quorum(3), 2u);
  EXPECT_EQ(write_quorum(5), 3u);
}

TEST(Ring, ReplicationFactorOutsideOneToFiveIsRefusedWithTheRange) {
  EXPECT_TRUE(check_replication_factor(1));
  EXPECT_TRUE(check_replication_factor(5));
  auto st = check_replication_factor(0);
  EXPECT_FALSE(st);
  EXPECT_NE(st.message().find("1 to 5"), std::string::npos) << st.message();
  EXPECT_FALSE(check_replication_factor(6));
}

TEST(EpochHistory, AdvanceOpensAnEpochOnlyWhenOwnershipChanges) {
  epoch_history h;
  EXPECT_TRUE(h.advance({three[1], three[0]}, 2, 1000));
  EXPECT_FALSE(h.advance({three[0], three[1]}, 2, 2000));
  EXPECT_TRUE(h.advance(three, 2, 3000));
  EXPECT_TRUE(h.advance(three, 3, 4000));
  ASSERT_EQ(h.epochs().size(), 3u);
  EXPECT_EQ(h.current().start_ms, 4000);
  EXPECT_EQ(h.current().rf, 3u);
  EXPECT_EQ(h.epochs()[0].members, (std::vector<std::string>{three[0], three[1]}));
}

TEST(EpochHistory, AClockBehindTheLastEpochStillOpensALaterEpoch) {
  epoch_history h;
  h.advance({three[0]}, 1, 5000);
  h.advance(three, 1, 4000);
  EXPECT_EQ(h.current().start_ms, 5001);
}

TEST(EpochHistory, OverlappingReturnsTheEpochsOfATimeRange) {
  epoch_history h;
  h.advance({three[0]}, 1, 1000);
  h.advance({three[0], three[1]}, 1, 2000);
  h.advance(three, 1, 3000);
  EXPECT_EQ(h.overlapping(2500, 2600).size(), 1u);
  EXPECT_EQ(h.overlapping(2500, 3000).size(), 2u);
  EXPECT_EQ(h.overlapping(0, 500).size(), 1u);  // before the first epoch: the first
  EXPECT_EQ(h.overlapping(0, 10000).size(), 3u);
  EXPECT_EQ(h.overlapping(9000, 10000).front()->members, three);
}

TEST(EpochHistory, MergeAddsHeardEpochsAndKeepsTheOwnCurrent) {
  epoch_history a, b;
  a.advance({three[0]}, 1, 1000);
  b.advance({three[1]}, 1, 1500);
  b.advance({three[1], three[2]}, 1, 2500);
  EXPECT_TRUE(a.merge(b));
  EXPECT_EQ(a.epochs().size(), 3u);
  EXPECT_EQ(a.current().members, std::vector<std::string>{three[0]});
  EXPECT_FALSE(a.merge(b));  // nothing new
  EXPECT_TRUE(a.advance(three, 1, 3000));
  EXPECT_EQ(a.epochs().back().members, three);
}

TEST(EpochHistory, EqualOwnershipHeardFromTwoMembersIsOneEpoch) {
  epoch_history a, b;
  a.advance(three, 2, 1000);
  b.advance(three, 2, 1003);
  a.merge(b);
  EXPECT_EQ(a.epochs().size(), 1u);
}

TEST(EpochHistory, UnownedPartitionsCountsPartitionsWithoutALiveOwner) {
  epoch_history h;
  h.advance(three, 2, 1000);
  EXPECT_EQ(h.unowned_partitions(three, 0, 2000), 0u);
  // One of three down with RF 2: every partition keeps a live owner.
  EXPECT_EQ(h.unowned_partitions({three[0], three[1]}, 0, 2000), 0u);
  // Two down: the partitions owned by exactly those two are lost.
  uint32_t expected = 0;
  for (uint32_t p = 0; p < partitions; ++p)
    if (owners(three, p, 2) == std::vector<std::string>{three[1], three[2]} ||
        owners(three, p, 2) == std::vector<std::string>{three[2], three[1]})
      ++expected;
  EXPECT_GT(expected, 0u);
  EXPECT_EQ(h.unowned_partitions({three[0]}, 0, 2000), expected);
}

TEST(EpochHistory, UnownedPartitionsLooksOnlyAtTheEpochsOfTheRange) {
  epoch_history h;
  h.advance({three[2]}, 1, 1000);  // only node 3 held data then
  h.advance({three[0]}, 1, 2000);
  EXPECT_EQ(h.unowned_partitions({three[0]}, 2500, 3000), 0u);
  EXPECT_EQ(h.unowned_partitions({three[0]}, 1500, 3000), partitions);
}

TEST(EpochHistory, EncodingRoundTrips) {
  epoch_history h;
  h.advance({three[0]}, 1, -5);
  h.advance(three, 3, 1700000000000);
  auto d = epoch_history::decode(h.encode());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->epochs(), h.epochs());
  EXPECT_EQ(d->current(), h.current());
}

TEST(EpochHistory, EachCorruptionIsRefusedNamingIt) {
  epoch_history h;
  h.advance(three, 2, 1000);
  std::string good = h.encode();
  auto expect = [](std::string bytes, const char* what) {
    auto d = epoch_history::decode(bytes);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code(), strata_errc::corruption);
    EXPECT_NE(d.error().message().find(what), std::string::npos) << d.error().message();
  };
  expect(good.substr(0, 10), "truncated");
  expect(good.substr(0, good.size() - 1), "checksum");
  std::string flipped = good;
  flipped[20] ^= 1;
  expect(flipped, "checksum");
  std::string magic = good;
  magic[0] = 'X';
  expect(magic, "magic");
}

TEST(EpochHistory, SaveAndLoadKeepTheHistoryAndAMissingFileIsEmpty) {
  auto dir = std::filesystem::temp_directory_path() / ("ring_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "epochs").string();
  auto empty = epoch_history::load(path);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->epochs().empty());
  epoch_history h;
  h.advance(three, 2, 1000);
  ASSERT_TRUE(h.save(path));
  auto back = epoch_history::load(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->epochs(), h.epochs());
  std::ofstream(path, std::ios::trunc) << "garbage";
  auto bad = epoch_history::load(path);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find(path), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::cluster
