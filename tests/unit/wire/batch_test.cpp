#include "wire/batch.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "schema/batch.capnp.h"

namespace strata::wire {
namespace {

double from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

write_batch sample_batch() {
  write_batch b;
  for (int i = 0; i < 20; ++i) {
    series s{{{"__name__", "http_requests_total"}, {"code", i % 2 ? "200" : "500"}, {"i", std::to_string(i)}}, {}};
    for (int k = 0; k < i; ++k) s.samples.push_back({int64_t{1000} * k, 0.5 * k});
    b.push_back(std::move(s));
  }
  b.push_back(
      {{{"__name__", "stale"}}, {{1, from_bits(0x7ff0000000000002ull)}, {2, from_bits(0xfff8000000000001ull)}}});
  b.push_back({{}, {{5, 5}}});                                 // no labels
  b.push_back({{{"__name__", "no_samples"}}, {}});             // no samples
  b.push_back({{{"nul", std::string("a\0b", 3)}}, {{7, 7}}});  // embedded NUL
  return b;
}

void expect_equal(const write_batch& got, const write_batch& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].lbls, want[i].lbls) << i;
    EXPECT_EQ(got[i].samples, want[i].samples) << i;  // bitwise on values
  }
}

std::string flat(capnp::MallocMessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// A valid one-series message that a test then breaks through `edit`.
template <class Edit>
std::string built(Edit edit) {
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::Batch>();
  root.setVersion(batch_version);
  auto strings = root.initStrings(2);
  strings.set(0, "__name__");
  strings.set(1, "m");
  auto s = root.initSeries(1)[0];
  auto ls = s.initLabels(2);
  ls.set(0, 0);
  ls.set(1, 1);
  s.initTimestamps(1).set(0, 10);
  s.initValues(1).set(0, 1.5);
  edit(root);
  return flat(mb);
}

std::string corruption(std::string_view bytes) {
  auto r = decode_batch(bytes);
  EXPECT_FALSE(r.is_ok());
  if (r) return {};
  EXPECT_EQ(r.error().code(), strata_errc::corruption);
  return r.error().message();
}

TEST(Batch, RoundTrip) {
  auto b = sample_batch();
  auto r = decode_batch(encode_batch(b));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  expect_equal(*r, b);
}

TEST(Batch, HeadroomLeavesZeroBytesBeforeTheSameMessage) {
  auto b = sample_batch();
  auto plain = encode_batch(b);
  auto with_room = encode_batch(b, 13);
  ASSERT_EQ(with_room.size(), 13 + plain.size());
  EXPECT_EQ(with_room.substr(0, 13), std::string(13, '\0'));
  EXPECT_EQ(with_room.substr(13), plain);
  auto r = decode_batch(std::string_view(with_room).substr(13));  // unaligned: decoded from a copy
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  expect_equal(*r, b);
}

TEST(Batch, EmptyBatchRoundTrips) {
  auto r = decode_batch(encode_batch({}));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_TRUE(r->empty());
}

TEST(Batch, LargeBatchRoundTrips) {
  write_batch b;
  for (int i = 0; i < 2000; ++i) {
    series s{{{"__name__", "m"}, {"i", std::to_string(i)}}, {}};
    for (int k = 0; k < 50; ++k) s.samples.push_back({k, static_cast<double>(i * k)});
    b.push_back(std::move(s));
  }
  auto r = decode_batch(encode_batch(b));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  expect_equal(*r, b);
}

TEST(Batch, StringsAreInterned) {
  write_batch b;
  for (int i = 0; i < 100; ++i)
    b.push_back({{{"__name__", std::string(100, 'n')}, {"job", std::string(100, 'j')}}, {{i, 1}}});
  // 100 series repeating 300 bytes of label text: well under 100 copies of it.
  EXPECT_LT(encode_batch(b).size(), 100u * 300u / 4);
}

TEST(Batch, StringsSharedByNeighbouringSeriesAtAnyPositionRoundTrip) {
  write_batch b{
      {{{"__name__", "up"}, {"instance", "a"}, {"job", "j"}}, {{1, 1}}},
      {{{"__name__", "up"}, {"instance", "b"}, {"job", "j"}}, {{1, 2}}},     // same names, one value differs
      {{{"__name__", "up"}, {"instance", "b"}}, {{1, 3}}},                   // fewer labels
      {{{"__name__", "down"}, {"instance", "b"}, {"zone", "j"}}, {{1, 4}}},  // a name differs, its value does not
      {{{"b", "instance"}, {"instance", "up"}, {"job", "up"}}, {{1, 5}}},     // names as values and values as names
      {{{"__name__", "up"}, {"instance", "a"}, {"job", "j"}, {"x", ""}}, {{1, 6}}},
  };
  auto bytes = encode_batch(b);
  auto r = decode_batch(bytes);
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  expect_equal(*r, b);
}

TEST(Batch, DecodesUnalignedInput) {
  auto b = sample_batch();
  auto bytes = encode_batch(b);
  for (size_t offset : {1, 2, 4, 7}) {
    std::vector<uint64_t> storage(bytes.size() / 8 + 2);  // 8-byte aligned base
    char* base = reinterpret_cast<char*>(storage.data());
    std::copy(bytes.begin(), bytes.end(), base + offset);
    std::string_view view(base + offset, bytes.size());
    ASSERT_NE(reinterpret_cast<uintptr_t>(view.data()) % 8, 0u);
    auto r = decode_batch(view);
    ASSERT_TRUE(r.is_ok()) << "offset " << offset << ": " << r.error().message();
    expect_equal(*r, b);
  }
}

TEST(Batch, TruncatedInputIsCorruption) {
  auto bytes = encode_batch(sample_batch());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_batch(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.is_ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().code(), strata_errc::corruption);
  }
}

TEST(Batch, TrailingBytesAreCorruption) {
  auto bytes = encode_batch(sample_batch()) + std::string(8, '\0');
  EXPECT_NE(corruption(bytes).find("trailing"), std::string::npos);
}

TEST(Batch, GarbageIsCorruptionNotAnException) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string g(8 * (1 + rng() % 64), '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    if (i % 2) {  // a plausible segment table in front of the garbage
      uint32_t hdr[2] = {0, static_cast<uint32_t>(g.size() / 8 - 1)};
      std::memcpy(g.data(), hdr, sizeof hdr);
    }
    auto r = decode_batch(g);  // must not throw; may rarely decode
    if (!r) {
      EXPECT_EQ(r.error().code(), strata_errc::corruption);
    }
  }
}

TEST(Batch, FlippedBytesNeverThrow) {
  auto bytes = encode_batch(sample_batch());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    auto b = bytes;
    b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = decode_batch(b);
    if (!r) {
      EXPECT_EQ(r.error().code(), strata_errc::corruption);
    }
  }
}

TEST(Batch, SizeNotAMultipleOfEightIsCorruption) {
  auto bytes = encode_batch(sample_batch());
  bytes.push_back('x');
  EXPECT_NE(corruption(bytes).find("multiple of 8"), std::string::npos);
}

TEST(Batch, StringIndexOutOfRangeIsCorruption) {
  auto msg = corruption(built([](schema::Batch::Builder root) { root.getSeries()[0].getLabels().set(1, 9); }));
  EXPECT_NE(msg.find("string 9 of 2"), std::string::npos) << msg;
}

TEST(Batch, OddLabelListIsCorruption) {
  auto msg = corruption(built([](schema::Batch::Builder root) { root.getSeries()[0].initLabels(3); }));
  EXPECT_NE(msg.find("odd number"), std::string::npos) << msg;
}

TEST(Batch, TimestampsAndValuesOfDifferentLengthAreCorruption) {
  auto msg = corruption(built([](schema::Batch::Builder root) { root.getSeries()[0].initValues(2); }));
  EXPECT_NE(msg.find("1 timestamps but 2 values"), std::string::npos) << msg;
}

TEST(Batch, UnknownVersionIsCorruption) {
  auto msg = corruption(built([](schema::Batch::Builder root) { root.setVersion(2); }));
  EXPECT_NE(msg.find("unsupported version 2"), std::string::npos) << msg;
  auto msg0 = corruption(built([](schema::Batch::Builder root) { root.setVersion(0); }));
  EXPECT_NE(msg0.find("unsupported version 0"), std::string::npos) << msg0;
}

TEST(Batch, BuiltMessageIsValidBeforeItIsBroken) {
  auto r = decode_batch(built([](schema::Batch::Builder) {}));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].lbls, (labels{{"__name__", "m"}}));
}

}  // namespace
}  // namespace strata::wire
