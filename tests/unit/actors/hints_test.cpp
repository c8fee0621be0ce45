#include "actors/hints.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace strata::actors
