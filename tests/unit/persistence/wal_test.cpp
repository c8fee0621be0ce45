// WAL record format and what open does with each way a record can be broken.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <xxhash.h>

#include <cstring>
#include <functional>

#include "persistence/shard_store.hpp"
#include "persistence/wal_record.hpp"
#include "test_util.hpp"
#include "wire/batch.hpp"

namespace strata::persistence {
namespace {

store_options unsynced(std::string dir) {
  store_options o;
  o.dir = std::move(dir);
  o.sync = false;
  return o;
}

using namespace test_support;

TEST(WalRecord, LayoutIsVersionLengthChecksumPayload) {
  std::string payload = "0123456789abcdef";
  auto rec = encode_wal_record(payload);
  ASSERT_EQ(rec.size(), 13 + payload.size());
  EXPECT_EQ(static_cast<uint8_t>(rec[0]), 2);
  uint8_t len[4] = {16, 0, 0, 0};
  EXPECT_EQ(std::memcmp(rec.data() + 1, len, 4), 0);
  uint64_t sum = XXH3_64bits(payload.data(), payload.size());
  for (int i = 0; i < 8; ++i) EXPECT_EQ(static_cast<uint8_t>(rec[5 + i]), (sum >> (8 * i)) & 0xFF) << i;
  EXPECT_EQ(rec.substr(13), payload);
  auto back = decode_wal_record(rec);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->version, 2);
  EXPECT_EQ(back->bytes, payload);
  auto v1 = decode_wal_record(encode_wal_record(payload, 1));
  ASSERT_TRUE(v1.is_ok());
  EXPECT_EQ(v1->version, 1);
}

TEST(WalRecord, ARecordBuiltInPlaceEqualsOneBuiltFromItsPayload) {
  std::string payload = "0123456789abcdef0123";
  std::string in_place = std::string(wal_record_header_size, '\x77') + payload;
  finish_wal_record(in_place);
  EXPECT_EQ(in_place, encode_wal_record(payload));
  auto back = decode_wal_record(in_place);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  EXPECT_EQ(back->bytes, payload);
}

TEST(WalSamples, SeriesNumbersAndSamplesComeBackBitForBit) {
  std::vector<sample> a = {{1'700'000'000'000, 1.5}, {1'700'000'015'000, stale_nan()}, {1'699'999'000'000, -0.0}};
  std::vector<sample> b = {{-5, 1e300}, {INT64_MAX, 2}};
  std::string payload;
  int64_t prev_t = 0;
  append_wal_series(payload, 7, a, prev_t);
  append_wal_series(payload, UINT32_MAX, b, prev_t);
  auto back = decode_wal_samples(payload);
  ASSERT_TRUE(back.is_ok()) << back.error().message();
  ASSERT_EQ(back->series.size(), 2u);
  EXPECT_EQ(back->series[0].sn, 7u);
  EXPECT_EQ(back->series[0].count, 3u);
  EXPECT_EQ(back->series[1].sn, UINT32_MAX);
  EXPECT_EQ(back->series[1].count, 2u);
  std::vector<sample> all = a;
  all.insert(all.end(), b.begin(), b.end());
  EXPECT_EQ(back->samples, all);  // sample == compares values bit for bit
}

TEST(WalSamples, BytesAreThoseOfTheFormatPagesExample) {  // docs/format/wal.md
  std::string payload;
  int64_t prev_t = 0;
  append_wal_series(payload, 300, {{1000, 1.0}, {2000, 2.0}}, prev_t);
  EXPECT_EQ(payload, std::string("\xac\x02\x02\xd0\x0f\0\0\0\0\0\0\xf0\x3f\xd0\x0f\0\0\0\0\0\0\0\x40", 23));
}

TEST(WalSamples, ARecordIsAboutThirteenBytesASampleForScrapedSeries) {
  // One sample per series, as a scrape sends them: a series number, a count,
  // a timestamp delta of 0 and the value.
  std::string payload;
  int64_t prev_t = 0;
  for (uint32_t sn = 0; sn < 1000; ++sn)
    append_wal_series(payload, 20'000 + sn, {{1'700'000'000'000, sn * 0.5}}, prev_t);
  EXPECT_LE(payload.size(), 1000u * 13 + 8);
}

TEST(WalSamples, EveryTruncationIsCorruptionNamingTheByte) {
  std::string payload;
  int64_t prev_t = 0;
  append_wal_series(payload, 300, {{1000, 1}, {2000, 2}}, prev_t);
  for (size_t n = 1; n < payload.size(); ++n) {
    auto r = decode_wal_samples(std::string_view(payload).substr(0, n));
    ASSERT_FALSE(r.is_ok()) << n;
    EXPECT_EQ(r.error().code(), strata_errc::corruption);
    EXPECT_NE(r.error().message().find("of the payload"), std::string::npos) << r.error().message();
  }
}

TEST(WalSamples, ASeriesWithoutSamplesOrACountPastThePayloadIsCorruption) {
  auto zero = decode_wal_samples(std::string("\x05\x00", 2));
  ASSERT_FALSE(zero.is_ok());
  EXPECT_NE(zero.error().message().find("cut short or 0"), std::string::npos) << zero.error().message();
  auto huge = decode_wal_samples(std::string("\x05\xff\xff\xff\xff\x0f", 6));
  ASSERT_FALSE(huge.is_ok());
  EXPECT_NE(huge.error().message().find("do not fit the payload"), std::string::npos) << huge.error().message();
  auto overlong = decode_wal_samples(std::string("\x85\x00\x01", 3));  // 5 in two bytes
  ASSERT_FALSE(overlong.is_ok());
}

TEST(WalRecord, KeysAreBigEndianSoTheySortInAppendOrder) {
  EXPECT_EQ(encode_wal_key(1), std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(encode_wal_key(0x0102030405060708ull), "\x01\x02\x03\x04\x05\x06\x07\x08");
  EXPECT_LT(encode_wal_key(255), encode_wal_key(256));
  EXPECT_EQ(decode_wal_key(encode_wal_key(0xdeadbeef12345678ull)), 0xdeadbeef12345678ull);
}

TEST(WalRecord, ShortRecordIsCorruption) {
  auto r = decode_wal_record(std::string("\x01\x00\x00", 3));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::corruption);
  EXPECT_NE(r.error().message().find("shorter than its 13-byte header"), std::string::npos);
}

// A store with three committed batches; `damage` then rewrites the raw value
// (or key) of a record with plain LMDB calls, as a broken disk would.
class WalCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = shard_store::open(unsynced(dir_.path()));
    ASSERT_TRUE(s.is_ok()) << s.error().message();
    for (int i = 1; i <= 3; ++i)
      ASSERT_TRUE((*s)->append({{{{"__name__", "m"}, {"i", std::to_string(i)}}, {{i, 1.0 * i}}}}).is_ok());
  }

  // Replaces the value of record `seq` by what `edit` makes of it.
  void rewrite(uint64_t seq, const std::function<void(std::string&)>& edit) {
    with_wal([&](MDB_txn* txn, MDB_dbi dbi) {
      auto key = encode_wal_key(seq);
      MDB_val k{key.size(), key.data()}, v;
      ASSERT_EQ(mdb_get(txn, dbi, &k, &v), 0);
      std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
      edit(value);
      MDB_val nv{value.size(), value.data()};
      ASSERT_EQ(mdb_put(txn, dbi, &k, &nv, 0), 0);
    });
  }

  void with_wal(const std::function<void(MDB_txn*, MDB_dbi)>& f) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ(mdb_env_open(env, dir_.path().c_str(), 0, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "wal", 0, &dbi), 0);
    f(txn, dbi);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }

  // The error of opening the damaged store; the test fails when it opens.
  status open_error() {
    auto s = shard_store::open(unsynced(dir_.path()));
    EXPECT_FALSE(s.is_ok());
    if (s) return status::ok();
    EXPECT_EQ(s.error().code(), strata_errc::corruption) << s.error().message();
    return s.error();
  }

  temp_dir dir_;
};

TEST_F(WalCorruption, UndamagedStoreOpens) {
  rewrite(2, [](std::string&) {});
  auto s = shard_store::open(unsynced(dir_.path()));
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  EXPECT_EQ((*s)->stats().wal_records, 3u);
}

TEST_F(WalCorruption, FlippedPayloadByteIsAChecksumMismatch) {
  rewrite(2, [](std::string& v) { v[v.size() - 9] ^= 0x40; });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("checksum mismatch"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, FlippedChecksumByteIsAChecksumMismatch) {
  rewrite(3, [](std::string& v) { v[7] ^= 0x01; });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 3 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("checksum mismatch"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, UnknownVersion) {
  rewrite(1, [](std::string& v) { v[0] = 3; });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 1 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("unknown record version 3"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, LengthDisagreesWithValueSize) {
  rewrite(2, [](std::string& v) { v.resize(v.size() - 8); });  // lost tail
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("payload length"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, ValueShorterThanHeader) {
  rewrite(2, [](std::string& v) { v.resize(5); });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("header"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, Version1PayloadWithValidChecksumThatIsNotABatch) {
  rewrite(2, [](std::string& v) { v = encode_wal_record(std::string(24, '\x7f'), 1); });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("batch"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, BatchWithNonCanonicalLabels) {
  rewrite(2, [](std::string& v) {
    v = encode_wal_record(wire::encode_batch({{{{"z", "1"}, {"a", "2"}}, {{1, 1}}}}), 1);
  });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("not sorted"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, Version2PayloadCutShort) {
  rewrite(2, [](std::string& v) {
    auto payload = decode_wal_record(v)->bytes;
    v = encode_wal_record(payload.substr(0, payload.size() - 1));
  });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 2 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("do not fit the payload at byte 2"), std::string::npos) << err.message();
}

TEST_F(WalCorruption, Version2SeriesNumberNoSeriesWasGiven) {
  rewrite(3, [](std::string& v) {
    std::string payload;
    int64_t prev_t = 0;
    append_wal_series(payload, 3, {{9, 9.0}}, prev_t);  // the store made series 0, 1 and 2
    v = encode_wal_record(payload);
  });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal record 3 "), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("series number 3 is not below next_sn 3"), std::string::npos) << err.message();
}

// Records written by an earlier version (a native batch with labels) replay
// beside version 2 records.
TEST_F(WalCorruption, Version1RecordsStillReplay) {
  rewrite(2, [](std::string& v) {
    v = encode_wal_record(wire::encode_batch({{{{"__name__", "m"}, {"i", "2"}}, {{2, 2.0}, {5, 5.0}}},
                                              {{{"__name__", "old"}}, {{4, 4.0}}}}),
                          1);
  });
  auto s = shard_store::open(unsynced(dir_.path()));
  ASSERT_TRUE(s.is_ok()) << s.error().message();
  auto m2 = (*s)->select({eq("i", "2")}, 0, 100);
  ASSERT_EQ(m2.size(), 1u);
  EXPECT_EQ(m2[0].samples, (std::vector<sample>{{2, 2.0}, {5, 5.0}}));
  auto old = (*s)->select({eq("__name__", "old")}, 0, 100);
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].samples, (std::vector<sample>{{4, 4.0}}));
  auto m3 = (*s)->select({eq("i", "3")}, 0, 100);
  ASSERT_EQ(m3.size(), 1u);
  EXPECT_EQ(m3[0].samples, (std::vector<sample>{{3, 3.0}}));
}

TEST_F(WalCorruption, KeyThatIsNotASequenceNumber) {
  with_wal([](MDB_txn* txn, MDB_dbi dbi) {
    std::string key = "\xff\xff\xff";  // sorts after every 8-byte key starting with less than 0xff
    auto rec = encode_wal_record(wire::encode_batch({}), 1);
    MDB_val k{key.size(), key.data()}, v{rec.size(), rec.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  });
  auto err = open_error();
  EXPECT_NE(err.message().find("wal key of 3 bytes after record 3"), std::string::npos) << err.message();
}

}  // namespace
}  // namespace strata::persistence
