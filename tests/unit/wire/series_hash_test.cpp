#include "wire/series_hash.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <set>

namespace strata::wire {
namespace {

TEST(SeriesHash, IsXxh3OfTheDocumentedEncoding) {
  labels ls{{"__name__", "up"}, {"job", "node"}};
  const std::string sep = "\xff";
  std::string enc = "__name__" + sep + "up" + sep + "job" + sep + "node" + sep;
  EXPECT_EQ(series_hash(ls), XXH3_64bits(enc.data(), enc.size()));
}

TEST(SeriesHash, IsStable) {
  // Stored on disk and compared across nodes: these values must never change.
  EXPECT_EQ(series_hash({}), XXH3_64bits("", 0));
  EXPECT_EQ(series_hash({{"a", "b"}}), 0x59c2858706f3c527ull);
  EXPECT_EQ(series_hash({{"__name__", "up"}, {"job", "node"}}), 0x85d666c28b445bb9ull);
}

TEST(SeriesHash, SeparatorsRemoveAmbiguity) {
  std::vector<labels> sets{
      {{"a", "b,c"}},
      {{"a", "b"}, {"c", ""}},
      {{"a", "bc"}},
      {{"ab", "c"}},
      {{"a", ""}, {"bc", ""}},
      {{"a", "b"}},
      {{"a", "b"}, {"c", "d"}},
      {{"a", "b=c"}, {"d", ""}},
      {{"a", "b\"c\""}},
  };
  std::set<uint64_t> hashes;
  for (const auto& ls : sets) hashes.insert(series_hash(ls));
  EXPECT_EQ(hashes.size(), sets.size());
}

TEST(SeriesHash, LongLabelSetsUseTheSameEncoding) {
  labels ls{{"__name__", std::string(3000, 'x')}, {"z", "y"}};
  const std::string sep = "\xff";
  std::string enc = "__name__" + sep + std::string(3000, 'x') + sep + "z" + sep + "y" + sep;
  EXPECT_EQ(series_hash(ls), XXH3_64bits(enc.data(), enc.size()));
}

}  // namespace
}  // namespace strata::wire
