// One test per way a sealed chunk can break: each is strata_errc::corruption
// with its cause, never a crash or a read outside the input.
#include <gtest/gtest.h>
#include <xxhash.h>

#include "codec_test_util.hpp"
#include "persistence/codec/gorilla.hpp"

namespace strata::persistence::codec {
namespace {

using namespace test_support;

std::string sealed_counter(size_t n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  chunk_appender a;
  for (const auto& s : counter_series(rng, n)) a.append(s.t, s.v);
  return a.seal();
}

// Replaces the checksum with the right one for the (edited) bytes before it.
std::string rechecksum(std::string c) {
  auto sum = static_cast<uint32_t>(XXH3_64bits(c.data(), c.size() - 4));
  for (int i = 0; i < 4; ++i) c[c.size() - 4 + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  return c;
}

void put_u16(std::string& c, size_t at, uint16_t v) {
  c[at] = static_cast<char>(v & 0xFF);
  c[at + 1] = static_cast<char>(v >> 8);
}

void put_i64(std::string& c, size_t at, int64_t v) {
  for (int i = 0; i < 8; ++i) c[at + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF);
}

// The input on the heap at its exact size, so ASan sees any read past it.
::testing::AssertionResult is_corruption(const std::string& bytes, const std::string& cause) {
  std::unique_ptr<char[]> exact(new char[bytes.size() ? bytes.size() : 1]);
  std::memcpy(exact.get(), bytes.data(), bytes.size());
  auto r = open_chunk(std::string_view(exact.get(), bytes.size()));
  if (r.is_ok()) return ::testing::AssertionFailure() << "opened";
  if (r.error().code() != strata_errc::corruption)
    return ::testing::AssertionFailure() << "code " << to_string(r.error().code());
  if (r.error().message().find(cause) == std::string::npos)
    return ::testing::AssertionFailure() << "message '" << r.error().message() << "' lacks '" << cause << "'";
  return ::testing::AssertionSuccess();
}

TEST(ChunkCorruption, EmptyInputIsCorruption) { EXPECT_TRUE(is_corruption("", "shorter than its 23-byte header")); }

TEST(ChunkCorruption, EveryTruncationIsCorruption) {
  std::string c = sealed_counter(120);
  for (size_t n = 0; n < c.size(); ++n) EXPECT_TRUE(is_corruption(c.substr(0, n), "")) << "first " << n << " bytes";
}

TEST(ChunkCorruption, BadChecksumIsCorruption) {
  std::string c = sealed_counter(120);
  c[c.size() - 1] ^= 0x01;
  EXPECT_TRUE(is_corruption(c, "checksum mismatch"));
}

TEST(ChunkCorruption, AnyFlippedBitIsCorruption) {
  std::string c = sealed_counter(60);
  for (size_t i = 0; i < c.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string d = c;
      d[i] ^= static_cast<char>(1 << bit);
      EXPECT_TRUE(is_corruption(d, "")) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(ChunkCorruption, UnknownVersionIsCorruption) {
  std::string c = sealed_counter(10);
  c[0] = 2;
  EXPECT_TRUE(is_corruption(rechecksum(c), "unknown version 2"));
}

TEST(ChunkCorruption, CountLargerThanTheStreamIsCorruption) {
  std::string c = sealed_counter(100);
  put_u16(c, 1, 150);
  EXPECT_TRUE(is_corruption(rechecksum(c), "ends before sample 150"));
  put_u16(c, 1, 65535);
  EXPECT_TRUE(is_corruption(rechecksum(c), "ends before sample 65535"));
}

TEST(ChunkCorruption, CountSmallerThanTheStreamIsCorruption) {
  std::string c = sealed_counter(100);
  put_u16(c, 1, 90);
  // the 90th timestamp is not max_t, or bytes are left over
  EXPECT_TRUE(is_corruption(rechecksum(c), "last timestamp"));
}

TEST(ChunkCorruption, BytesAfterTheLastSampleAreCorruption) {
  std::mt19937_64 rng(5);
  chunk_appender a;
  for (const auto& s : counter_series(rng, 50)) a.append(s.t, s.v);
  std::string c = a.seal();
  c.insert(c.size() - 4, std::string(1, '\0'));
  EXPECT_TRUE(is_corruption(rechecksum(c), "stream bytes after the last sample"));
}

TEST(ChunkCorruption, NonZeroPaddingIsCorruption) {
  chunk_appender a;
  a.append(0, 1.0);
  a.append(1000, 1.0);  // 64 + 16 + 1 bits: 7 padding bits in the last byte
  std::string c = a.seal();
  ASSERT_EQ(c.size(), 23u + 11);
  c[c.size() - 5] |= 0x01;
  EXPECT_TRUE(is_corruption(rechecksum(c), "non-zero padding"));
}

TEST(ChunkCorruption, MaxTimeThatIsNotTheLastTimestampIsCorruption) {
  std::string c = sealed_counter(20);
  put_i64(c, 11, INT64_MAX);
  EXPECT_TRUE(is_corruption(rechecksum(c), "but max_t"));
}

TEST(ChunkCorruption, MinTimeAfterMaxTimeIsCorruption) {
  std::string c = sealed_counter(20);
  put_i64(c, 3, INT64_MAX);
  EXPECT_TRUE(is_corruption(rechecksum(c), "is after max_t"));
}

TEST(ChunkCorruption, TimestampsThatDoNotRiseAreCorruption) {
  // Stream of 2 samples: first value (64 bits), then dod '10' + 14 bits of -1
  // (delta -1), then value '0'.
  std::string c(1, '\x01');
  c += std::string("\x02\x00", 2);
  std::string times(16, '\0');
  put_i64(times, 0, 100);
  put_i64(times, 8, 100);
  c += times;
  c += std::string(8, '\0');            // first value: 0.0
  c += std::string("\xBF\xFF\x00", 3);  // 10 11111111111111 0 + padding
  c += std::string(4, '\0');
  EXPECT_TRUE(is_corruption(rechecksum(c), "has timestamp 99 after 100"));
}

TEST(ChunkCorruption, ReusedValueWindowBeforeAnyWindowIsCorruption) {
  // second sample: dod '0', value '10' with no window set yet
  std::string c(1, '\x01');
  c += std::string("\x02\x00", 2);
  std::string times(16, '\0');
  put_i64(times, 0, 100);
  put_i64(times, 8, 100);
  c += times;
  c += std::string(8, '\0');
  c += std::string("\x40", 1);  // 0 10 + padding
  c += std::string(4, '\0');
  auto r = open_chunk(rechecksum(c));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::corruption);
}

TEST(ChunkCorruption, ZeroSamplesWithStreamBytesIsCorruption) {
  std::string c = chunk_appender().seal();
  c.insert(c.size() - 4, std::string(3, '\0'));
  EXPECT_TRUE(is_corruption(rechecksum(c), "0 samples but 3 stream bytes"));
}

// Random streams behind a valid header and checksum: open either refuses them
// or returns a view whose every sample reads back without touching memory
// outside the input (checked under ASan).
TEST(ChunkCorruption, RandomStreamsWithValidChecksumsNeverCrash) {
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    std::string c = sealed_counter(1 + rng() % 30, seed);
    size_t stream = c.size() - 23;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) c[19 + rng() % stream] = static_cast<char>(rng());
    if (rng() % 3 == 0) put_u16(c, 1, static_cast<uint16_t>(rng()));
    c = rechecksum(c);
    std::unique_ptr<char[]> exact(new char[c.size()]);
    std::memcpy(exact.get(), c.data(), c.size());
    auto v = open_chunk(std::string_view(exact.get(), c.size()));
    if (!v.is_ok()) {
      EXPECT_EQ(v.error().code(), strata_errc::corruption);
      continue;
    }
    std::vector<sample> all;
    v->decode(INT64_MIN, INT64_MAX, all);
    EXPECT_EQ(all.size(), v->count());
    for (size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].t, all[i - 1].t);
  }
}

}  // namespace
}  // namespace strata::persistence::codec
