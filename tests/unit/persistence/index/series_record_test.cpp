// The series record (docs/format/keys.md): layout, round trip, and one test
// per way the bytes can be broken.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>

#include "index_test_util.hpp"

namespace strata::persistence::index {
namespace {

// A record with the given body and a correct header, so that the checks after
// the checksum can be reached.
std::string with_header(const std::string& body, uint8_t version = 1) {
  std::string rec(9, '\0');
  rec[0] = static_cast<char>(version);
  uint64_t sum = XXH3_64bits(body.data(), body.size());
  for (int i = 0; i < 8; ++i) rec[1 + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  return rec + body;
}

// The corruption message of decoding `rec`; the test fails when it decodes.
std::string corruption(const std::string& rec) {
  auto r = series_index::decode_series(rec);
  EXPECT_FALSE(r.is_ok());
  if (r) return "";
  EXPECT_EQ(r.error().code(), strata_errc::corruption) << r.error().message();
  return r.error().message();
}

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(SeriesRecord, LayoutIsVersionChecksumCountAndLengthPrefixedStrings) {
  labels ls = {{"__name__", "up"}, {"job", "api"}};
  auto rec = series_index::encode_series(ls);
  std::string body(
      "\x02\x08__name__\x02up\x03job\x03"
      "api",
      21);
  EXPECT_EQ(rec, with_header(body));
  auto back = series_index::decode_series(rec);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(*back, ls);
}

TEST(SeriesRecord, RoundTripsAnyCanonicalLabels) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    SCOPED_TRACE("case " + std::to_string(i) + " of seed 11");
    labels ls;
    size_t n = rng() % 12;
    for (size_t k = 0; k < n; ++k) {
      std::string name = "n" + std::to_string(k) + std::string(rng() % 3, 'x');
      std::string value(rng() % (k == 0 ? 300 : 20), '\0');  // long values need 2-byte lengths
      for (auto& c : value) c = static_cast<char>(rng());
      ls.push_back({name, value});
    }
    sort_labels(ls);
    auto back = series_index::decode_series(series_index::encode_series(ls));
    ASSERT_TRUE(back.is_ok()) << back.error().message();
    EXPECT_EQ(*back, ls);
  }
  auto empty = series_index::decode_series(series_index::encode_series({}));
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(*empty, labels{});
}

TEST(SeriesRecord, ShortRecord) {
  EXPECT_CONTAINS(corruption(std::string("\x01\x00\x00", 3)), "record of 3 bytes is shorter than its 9-byte header");
  EXPECT_CONTAINS(corruption(""), "record of 0 bytes");
}

TEST(SeriesRecord, UnknownVersion) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x00", 1), 2)), "unknown record version 2");
}

TEST(SeriesRecord, FlippedByteIsAChecksumMismatch) {
  auto rec = series_index::encode_series({{"a", "b"}});
  rec.back() ^= 0x01;
  EXPECT_CONTAINS(corruption(rec), "checksum mismatch: stored 0x");
  rec = series_index::encode_series({{"a", "b"}});
  rec[4] ^= 0x10;
  EXPECT_CONTAINS(corruption(rec), "checksum mismatch");
}

TEST(SeriesRecord, MissingLabelCount) {
  EXPECT_CONTAINS(corruption(with_header("")), "label count at offset 9 is cut off");
}

TEST(SeriesRecord, OverlongVarint) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x81\x80\x80\x80\x80\x01", 6))),
                  "label count at offset 9 is longer than 5 bytes");
  EXPECT_CONTAINS(corruption(with_header(std::string("\xff\xff\xff\xff\x7f", 5))), "exceeds 2^32 - 1");
}

TEST(SeriesRecord, CountLargerThanTheBytesLeft) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x05\x01"
                                                     "a\x01"
                                                     "b",
                                                     5))),
                  "label count 5 does not fit in the 4 bytes that follow it");
}

TEST(SeriesRecord, StringRunsPastTheEnd) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x01\x01"
                                                     "a\x09"
                                                     "bc",
                                                     6))),
                  "label value length of 9 bytes at offset 12 runs past the end of the 15-byte record");
  EXPECT_CONTAINS(corruption(with_header(std::string("\x01\x01"
                                                     "a",
                                                     3))),
                  "label value length at offset 12 is cut off");
}

TEST(SeriesRecord, TrailingBytes) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x01\x01"
                                                     "a\x01"
                                                     "bzz",
                                                     7))),
                  "2 bytes follow the last label at offset 14");
}

TEST(SeriesRecord, EmptyName) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x01\x00\x01"
                                                     "b",
                                                     4))),
                  "label 0 has an empty name");
}

TEST(SeriesRecord, UnsortedOrRepeatedNames) {
  EXPECT_CONTAINS(corruption(with_header(std::string("\x02\x01"
                                                     "b\x00\x01"
                                                     "a\x00",
                                                     7))),
                  "label 1 (\"a\"): labels are not sorted by name or a name repeats");
  EXPECT_CONTAINS(corruption(with_header(std::string("\x02\x01"
                                                     "a\x00\x01"
                                                     "a\x00",
                                                     7))),
                  "a name repeats");
}

}  // namespace
}  // namespace strata::persistence::index
