// The packed chunk (compaction's format): bit-exact round trips of every
// kind of value, and one test per way its bytes can break.
#include "persistence/packed_chunk.hpp"

#include "persistence/codec/gorilla.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace strata::persistence {
namespace {

constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();

std::vector<sample> round_trip(const std::vector<sample>& in, size_t* bytes = nullptr) {
  auto enc = encode_packed_chunk(in);
  if (bytes) *bytes = enc.size();
  std::vector<sample> out;
  auto st = decode_packed_chunk(enc, lo, hi, out);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return out;
}

double from_bits(uint64_t b) {
  double v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

TEST(PackedChunk, ShortDecimalsRoundTripBitForBitAndPackTightly) {
  std::mt19937_64 rng(1);
  std::vector<sample> in;
  double counter = 1000;
  for (int i = 0; i < 480; ++i) {
    counter = std::round((counter + static_cast<double>(rng() % 5000) / 100) * 100) / 100;
    in.push_back({1'700'000'000'000 + i * 15'000, counter});
  }
  size_t bytes = 0;
  EXPECT_EQ(round_trip(in, &bytes), in);
  // Uniform random increments carry ~12 bits each; Gorilla spends far more.
  codec::chunk_appender g;
  for (const auto& x : in) g.append(x.t, x.v);
  EXPECT_LT(bytes * 2, g.size_bytes()) << bytes << " packed vs " << g.size_bytes() << " Gorilla";
}

TEST(PackedChunk, ConstantSeriesCostsAlmostNothing) {
  std::vector<sample> in;
  for (int i = 0; i < 480; ++i) in.push_back({i * 15'000, 0});
  size_t bytes = 0;
  EXPECT_EQ(round_trip(in, &bytes), in);
  EXPECT_LT(bytes, 60u);
}

TEST(PackedChunk, ValuesThatAreNotShortDecimalsFallBackExactly) {
  std::vector<sample> in = {{1, 0.1 + 0.2},
                            {2, std::numeric_limits<double>::quiet_NaN()},
                            {3, from_bits(0x7ff0000000000002ULL)},  // the stale marker
                            {4, -0.0},
                            {5, std::numeric_limits<double>::infinity()},
                            {7, 1e300},
                            {90, std::numeric_limits<double>::denorm_min()}};
  auto out = round_trip(in);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    uint64_t a, b;
    std::memcpy(&a, &in[i].v, 8);
    std::memcpy(&b, &out[i].v, 8);
    EXPECT_EQ(out[i].t, in[i].t);
    EXPECT_EQ(a, b) << i;
  }
}

TEST(PackedChunk, RandomSeriesRoundTrip) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<sample> in;
    int64_t t = static_cast<int64_t>(rng() % 1'000'000'000) - 500'000'000;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 2000); i < n; ++i) {
      t += 1 + static_cast<int64_t>(rng() % (rng() % 2 ? 100 : 10'000'000'000));
      double v;
      switch (rng() % 4) {
        case 0: v = static_cast<double>(static_cast<int64_t>(rng() % 2'000'000) - 1'000'000) / 1000; break;
        case 1: v = static_cast<double>(rng() % 100); break;
        case 2: v = from_bits(rng()); break;
        default: v = std::ldexp(static_cast<double>(rng() % 1000), -static_cast<int>(rng() % 30));
      }
      in.push_back({t, v});
    }
    auto out = round_trip(in);
    ASSERT_EQ(out.size(), in.size()) << "seed " << seed;
    for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(out[i], in[i]) << "seed " << seed << " sample " << i;
  }
}

TEST(PackedChunk, DecodeKeepsOnlyTheRange) {
  std::vector<sample> in;
  for (int i = 0; i < 10; ++i) in.push_back({i * 10, i * 1.5});
  auto enc = encode_packed_chunk(in);
  std::vector<sample> out;
  ASSERT_TRUE(decode_packed_chunk(enc, 25, 60, out).is_ok());
  EXPECT_EQ(out, (std::vector<sample>{{30, 4.5}, {40, 6}, {50, 7.5}, {60, 9}}));
  auto h = packed_chunk_header(enc);
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->count, 10);
  EXPECT_EQ(h->min_t, 0);
  EXPECT_EQ(h->max_t, 90);
}

TEST(PackedChunk, DecodeAppendsTheRangeAfterWhatTheOutputHolds) {
  std::vector<sample> dec, words;
  for (int i = 0; i < 10; ++i) dec.push_back({i * 10, i * 1.5});
  for (int i = 0; i < 10; ++i) words.push_back({i * 10, std::sqrt(i + 2.0)});
  std::vector<sample> out{{-5, 1}};
  ASSERT_TRUE(decode_packed_chunk(encode_packed_chunk(dec), 25, 60, out).is_ok());
  ASSERT_TRUE(decode_packed_chunk(encode_packed_chunk(words), 80, 200, out).is_ok());
  ASSERT_TRUE(decode_packed_chunk(encode_packed_chunk(dec), 91, 200, out).is_ok());  // none in range
  EXPECT_EQ(out, (std::vector<sample>{{-5, 1}, {30, 4.5}, {40, 6}, {50, 7.5}, {60, 9}, {80, std::sqrt(10.0)},
                                      {90, std::sqrt(11.0)}}));
}

TEST(PackedChunk, TimestampsOutOfOrderStillGiveTheSamplesInRangeInStoredOrder) {
  std::vector<sample> in{{0, 1}, {30, 2}, {10, 3}, {20, 4}, {50, 5}, {40, 6}, {60, 7}};
  std::vector<sample> out{{-1, 0}};
  ASSERT_TRUE(decode_packed_chunk(encode_packed_chunk(in), 15, 45, out).is_ok());
  EXPECT_EQ(out, (std::vector<sample>{{-1, 0}, {30, 2}, {20, 4}, {40, 6}}));
}

class PackedV1Damage : public ::testing::Test {
 protected:
  std::string good() {
    std::vector<sample> in;
    for (int i = 0; i < 100; ++i) in.push_back({i * 1000, i * 0.25});
    return encode_packed_chunk_v1(in);
  }
  // Fixes the checksum after an edit, so the check behind it is reached.
  static void reseal(std::string& b) {
    auto sum = static_cast<uint32_t>(XXH3_64bits(b.data(), b.size() - 4));
    std::memcpy(b.data() + b.size() - 4, &sum, 4);
  }
  std::string decode_error(const std::string& b) {
    std::vector<sample> out;
    auto st = decode_packed_chunk(b, lo, hi, out);
    EXPECT_FALSE(st.is_ok());
    EXPECT_TRUE(out.empty());
    return st.message();
  }
};

TEST_F(PackedV1Damage, Truncated) { EXPECT_NE(decode_error(good().substr(0, 20)).find("shorter"), std::string::npos); }

TEST_F(PackedV1Damage, FlippedBodyByteIsAChecksumMismatch) {
  auto b = good();
  b[30] ^= 1;
  EXPECT_NE(decode_error(b).find("checksum"), std::string::npos);
}

TEST_F(PackedV1Damage, UnknownFormatByte) {
  auto b = good();
  b[0] = 0x52;
  reseal(b);
  EXPECT_NE(decode_error(b).find("format byte"), std::string::npos);
}

TEST_F(PackedV1Damage, UnknownValueCoding) {
  auto b = good();
  b[19] = 7;
  reseal(b);
  EXPECT_NE(decode_error(b).find("value coding"), std::string::npos);
}

TEST_F(PackedV1Damage, BodyLengthThatDisagreesWithTheFrame) {
  auto b = good();
  uint32_t len;
  std::memcpy(&len, b.data() + 21, 4);
  ++len;
  std::memcpy(b.data() + 21, &len, 4);
  reseal(b);
  EXPECT_NE(decode_error(b).find("decompress"), std::string::npos);
}

TEST_F(PackedV1Damage, CountLargerThanTheBodyHolds) {
  auto b = good();
  uint16_t n = 1000;
  std::memcpy(b.data() + 1, &n, 2);
  reseal(b);
  decode_error(b);
}

TEST_F(PackedV1Damage, MaxTimeThatTheTimestampsDoNotReach) {
  auto b = good();
  int64_t t = 12345678;
  std::memcpy(b.data() + 11, &t, 8);
  reseal(b);
  EXPECT_NE(decode_error(b).find("max_t"), std::string::npos);
}


TEST(PackedChunk, FirstFormatStillReadsBitForBit) {
  std::mt19937_64 rng(5);
  std::vector<sample> in;
  for (int i = 0; i < 300; ++i) in.push_back({i * 15'000 + static_cast<int64_t>(rng() % 3), static_cast<double>(rng() % 1000) / 4});
  auto v1 = encode_packed_chunk_v1(in);
  ASSERT_EQ(static_cast<uint8_t>(v1[0]), packed_chunk_format_v1);
  EXPECT_TRUE(is_packed_chunk(v1));
  std::vector<sample> out;
  ASSERT_TRUE(decode_any_chunk(v1, lo, hi, out).is_ok());
  EXPECT_EQ(out, in);
  EXPECT_LT(encode_packed_chunk(in).size(), v1.size());  // the varint header and a higher zstd level
}

// The format written now: 51 | count | zigzag min_t | span | coding + exponent << 2 | body length | zstd | checksum.
class PackedDamage : public PackedV1Damage {
 protected:
  std::string good() {
    std::vector<sample> in;
    for (int i = 0; i < 100; ++i) in.push_back({i * 1000, i * 0.25 + 0.01});  // no common factor
    auto b = encode_packed_chunk(in);
    EXPECT_EQ(static_cast<uint8_t>(b[0]), 0x51);
    return b;
  }
  static constexpr size_t how_at = 1 + 1 + 1 + 3;  // count 100, min_t 0, span 99000
};

TEST(PackedChunk, CommonFactorOfDecimalsIsStoredOnce) {
  std::mt19937_64 rng(6);
  std::vector<sample> in;
  double v = 16.0 * (1 << 30);
  for (int i = 0; i < 480; ++i) {
    in.push_back({1'700'000'000'000 + i * 15'000, v});
    v += static_cast<double>((static_cast<int64_t>(rng() % 2001) - 1000) * 1024);
  }
  auto b = encode_packed_chunk(in);
  std::vector<sample> out;
  ASSERT_TRUE(decode_packed_chunk(b, lo, hi, out).is_ok());
  EXPECT_EQ(out, in);
  EXPECT_LT(b.size(), encode_packed_chunk_v1(in).size() * 9 / 10);  // about 10 bits less per sample
}

TEST_F(PackedDamage, CommonFactorBelow2) {
  std::vector<sample> in = {{0, 2048}, {1000, 4096}};
  auto b = encode_packed_chunk(in);
  const size_t how = 1 + 1 + 1 + 2;  // count 2, min_t 0, span 1000
  ASSERT_NE(b[how] & 0x40, 0);
  b[how + 1] = 1;  // the factor 2048 (two varint bytes) becomes 1 and a stray byte
  reseal(b);
  EXPECT_NE(decode_error(b).find("common factor"), std::string::npos);
}

TEST_F(PackedDamage, CodingByteWithBit7) {
  auto b = good();
  b[how_at] = static_cast<char>(b[how_at] | 0x80);
  reseal(b);
  EXPECT_NE(decode_error(b).find("bit 7"), std::string::npos);
}

TEST_F(PackedDamage, EveryTruncation) {
  auto b = good();
  for (size_t n = 0; n < b.size(); ++n) decode_error(b.substr(0, n));
}

TEST_F(PackedDamage, AnyFlippedBit) {
  auto b = good();
  for (size_t i = 0; i < b.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto d = b;
      d[i] ^= static_cast<char>(1 << bit);
      decode_error(d);
    }
}

TEST_F(PackedDamage, UnknownFormatByte) {
  auto b = good();
  b[0] = 0x52;
  reseal(b);
  EXPECT_NE(decode_error(b).find("format byte"), std::string::npos);
}

TEST_F(PackedDamage, UnknownValueCoding) {
  auto b = good();
  b[how_at] = static_cast<char>((b[how_at] & ~3) | 3);
  reseal(b);
  EXPECT_NE(decode_error(b).find("value coding"), std::string::npos);
}

TEST_F(PackedDamage, BodyLengthThatDisagreesWithTheFrame) {
  auto b = good();
  ++b[how_at + 1];
  reseal(b);
  EXPECT_NE(decode_error(b).find("decompress"), std::string::npos);
}

TEST_F(PackedDamage, CountAbove65535) {
  auto b = good();
  b.replace(1, 1, std::string("\x80\x80\x04", 3));  // 65536
  reseal(b);
  EXPECT_NE(decode_error(b).find("above 65535"), std::string::npos);
}

TEST_F(PackedDamage, MaxTimeThatOverflows) {
  std::vector<sample> in = {{std::numeric_limits<int64_t>::max() - 5, 1}, {std::numeric_limits<int64_t>::max(), 2}};
  auto b = encode_packed_chunk(in);
  std::vector<sample> out;
  ASSERT_TRUE(decode_packed_chunk(b, lo, hi, out).is_ok());
  // span 5 -> 6 (one byte after the 10-byte min_t)
  ASSERT_EQ(b[1 + 1 + 10], 5);
  b[1 + 1 + 10] = 6;
  reseal(b);
  EXPECT_NE(decode_error(b).find("max_t overflows"), std::string::npos);
}

TEST_F(PackedDamage, MaxTimeThatTheTimestampsDoNotReach) {
  auto b = good();
  // span 99000 (3 varint bytes) -> 99001
  ++b[how_at - 3];
  reseal(b);
  EXPECT_NE(decode_error(b).find("max_t"), std::string::npos);
}

}  // namespace
}  // namespace strata::persistence
