#include "wire/remote_write.hpp"

#include <gtest/gtest.h>
#include <snappy.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace strata::wire {
namespace {

double from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

uint64_t to_bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

constexpr uint64_t stale_nan_bits = 0x7ff0000000000002ull;

std::string compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// Decodes what encode_remote_write made of `b`; the test fails on an error.
write_batch round_trip(const write_batch& b) {
  auto r = decode_remote_write(encode_remote_write(b));
  EXPECT_TRUE(r.is_ok()) << (r ? "" : r.error().message());
  return r ? *r : write_batch{};
}

// The error message of decoding `b`; the test fails when it decodes.
std::string rejection(const write_batch& b, size_t max = default_max_decompressed) {
  auto r = decode_remote_write(encode_remote_write(b), max);
  EXPECT_FALSE(r.is_ok());
  if (r) return {};
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  return r.error().message();
}

TEST(RemoteWrite, RoundTripKeepsSeriesAndSamples) {
  write_batch in{
      {{{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}, {{1000, 1}, {2000, 0}, {3000, 1}}},
      {{{"__name__", "temp"}, {"room", "k\xc3\xbc\x63he"}}, {{-5, -273.15}}},
  };
  auto out = round_trip(in);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].lbls, in[i].lbls);
    EXPECT_EQ(out[i].samples, in[i].samples);
  }
}

TEST(RemoteWrite, LabelsComeOutSortedByName) {
  write_batch in{{{{"zone", "eu"}, {"__name__", "m"}, {"a", "1"}, {"job", "x"}}, {{1, 2}}}};
  auto out = round_trip(in);
  ASSERT_EQ(out.size(), 1u);
  labels want{{"__name__", "m"}, {"a", "1"}, {"job", "x"}, {"zone", "eu"}};
  EXPECT_EQ(out[0].lbls, want);
}

TEST(RemoteWrite, NanPayloadsAreKeptBitForBit) {
  std::vector<uint64_t> bits{stale_nan_bits,        0x7ff8000000000000ull, 0x7ff8000000000001ull,
                             0xfff8000000000000ull, 0x7ff0000000000000ull, 0x8000000000000000ull,
                             0x0000000000000001ull, 0x7fefffffffffffffull};
  series s{{{"__name__", "nan"}}, {}};
  for (size_t i = 0; i < bits.size(); ++i) s.samples.push_back({static_cast<int64_t>(i), from_bits(bits[i])});
  auto out = round_trip({s});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].samples.size(), bits.size());
  for (size_t i = 0; i < bits.size(); ++i) EXPECT_EQ(to_bits(out[0].samples[i].v), bits[i]) << i;
}

TEST(RemoteWrite, EmptyLabelValuesAreDropped) {
  auto out = round_trip({{{{"__name__", "m"}, {"empty", ""}, {"job", "j"}}, {{1, 1}}}});
  ASSERT_EQ(out.size(), 1u);
  labels want{{"__name__", "m"}, {"job", "j"}};
  EXPECT_EQ(out[0].lbls, want);
}

TEST(RemoteWrite, SeriesWithoutSamplesAreDropped) {
  auto out = round_trip({{{{"__name__", "a"}}, {}}, {{{"__name__", "b"}}, {{1, 1}}}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].lbls[0].value, "b");
}

TEST(RemoteWrite, SamplesKeepTheirOrder) {
  auto out = round_trip({{{{"__name__", "m"}}, {{30, 3}, {10, 1}, {20, 2}}}});
  ASSERT_EQ(out.size(), 1u);
  std::vector<sample> want{{30, 3}, {10, 1}, {20, 2}};
  EXPECT_EQ(out[0].samples, want);
}

TEST(RemoteWrite, EmptyRequestIsAnEmptyBatch) {
  auto out = round_trip({});
  EXPECT_TRUE(out.empty());
}

TEST(RemoteWrite, RejectsBodyThatIsNotSnappy) {
  auto r = decode_remote_write("this is not snappy at all \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("not valid snappy"), std::string::npos) << r.error().message();

  // A valid length header followed by a broken stream.
  std::string good = compress(std::string(1000, 'x'));
  auto cut = decode_remote_write(std::string_view(good).substr(0, good.size() - 3));
  ASSERT_FALSE(cut.is_ok());
  EXPECT_NE(cut.error().message().find("not valid snappy"), std::string::npos) << cut.error().message();
}

TEST(RemoteWrite, RejectsSnappyThatIsNotProtobuf) {
  // Field 1, length-delimited, length 16, but only 3 bytes follow.
  auto r = decode_remote_write(compress(std::string("\x0a\x10\x61\x62\x63", 5)));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("not a valid remote_write WriteRequest"), std::string::npos)
      << r.error().message();
  // Wire type 7 does not exist.
  auto r2 = decode_remote_write(compress(std::string("\x0f\x01", 2)));
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.error().message().find("WriteRequest"), std::string::npos) << r2.error().message();
}

// Protobuf's wire format by hand, for messages encode_remote_write does not make.
std::string varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  return out + static_cast<char>(v);
}
std::string field_bytes(uint32_t field, const std::string& b) { return varint(field << 3 | 2) + varint(b.size()) + b; }
std::string field_varint(uint32_t field, uint64_t v) { return varint(field << 3) + varint(v); }
std::string field_fixed64(uint32_t field, uint64_t v) {
  std::string out = varint(field << 3 | 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
std::string field_fixed32(uint32_t field, uint32_t v) {
  std::string out = varint(field << 3 | 5);
  for (int i = 0; i < 4; ++i) out += static_cast<char>(v >> (8 * i));
  return out;
}
std::string pb_label(const std::string& n, const std::string& v) { return field_bytes(1, n) + field_bytes(2, v); }
std::string pb_sample(double v, int64_t t) { return field_fixed64(1, to_bits(v)) + field_varint(2, static_cast<uint64_t>(t)); }

TEST(RemoteWrite, FieldsOutsideTheSchemaAreSkipped) {
  std::string ts = field_bytes(1, pb_label("__name__", "up") + field_varint(3, 9)) +
                   field_bytes(2, pb_sample(1.5, 1000) + field_fixed32(7, 1)) +
                   field_bytes(3, "an exemplar") + field_bytes(4, "a native histogram") +
                   field_bytes(1, pb_label("job", "j"));
  std::string req = field_varint(2, 5) + field_bytes(1, ts) + field_fixed64(9, 1) + field_fixed32(10, 2);
  auto r = decode_remote_write(compress(req));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].lbls, (labels{{"__name__", "up"}, {"job", "j"}}));
  EXPECT_EQ((*r)[0].samples, (std::vector<sample>{{1000, 1.5}}));
}

TEST(RemoteWrite, AFieldSentTwiceKeepsItsLastValueAndAFieldOfAnotherWireTypeIsSkipped) {
  std::string label = field_bytes(1, "first") + field_varint(1, 7) + field_bytes(1, "__name__") + field_bytes(2, "up");
  std::string smp = pb_sample(1, 5) + field_varint(2, 7) + field_varint(1, 3);
  auto r = decode_remote_write(compress(field_bytes(1, field_bytes(1, label) + field_bytes(2, smp))));
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].lbls, (labels{{"__name__", "up"}}));
  EXPECT_EQ((*r)[0].samples, (std::vector<sample>{{7, 1}}));
}

TEST(RemoteWrite, NegativeAndExtremeTimestampsRoundTrip) {
  write_batch b{{{{"__name__", "t"}},
                 {{std::numeric_limits<int64_t>::min(), 1}, {-1, 2}, {0, 3}, {std::numeric_limits<int64_t>::max(), 4}}}};
  EXPECT_EQ(round_trip(b)[0].samples, b[0].samples);
}

TEST(RemoteWrite, RejectsAMessageThatRunsPastTheOneHoldingIt) {
  // A label whose value claims 50 bytes inside a series of 12.
  std::string label = field_bytes(1, "__name__") + varint(2 << 3 | 2) + varint(50) + "up";
  std::string ts = varint(1 << 3 | 2) + varint(label.size()) + label;
  for (const std::string& req : {field_bytes(1, ts), field_bytes(1, ts + std::string(60, '\0')).substr(0, 4 + ts.size()),
                                 field_bytes(1, field_bytes(2, "\x09\x01\x02")),  // a sample with a cut fixed64
                                 std::string("\x08\xff", 2)}) {                   // a cut varint
    auto r = decode_remote_write(compress(req));
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.error().message().find("not a valid remote_write WriteRequest"), std::string::npos)
        << r.error().message();
  }
}

TEST(RemoteWrite, RejectsBodyOverTheSizeLimit) {
  write_batch b{{{{"__name__", "big"}, {"pad", std::string(3000, 'p')}, {"pad2", std::string(3000, 'q')}}, {{1, 1}}}};
  auto msg = rejection(b, 4096);
  EXPECT_NE(msg.find("4096"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit"), std::string::npos) << msg;
  // The same body passes under a larger limit.
  EXPECT_TRUE(decode_remote_write(encode_remote_write(b), 1 << 20).is_ok());
}

// The error message of decoding `b` under `limits`; the test fails when it decodes.
std::string limit_rejection(const write_batch& b, const write_limits& limits) {
  auto r = decode_remote_write(encode_remote_write(b), limits);
  EXPECT_FALSE(r.is_ok());
  return r ? std::string() : r.error().message();
}

TEST(RemoteWrite, RejectsRequestWithTooManySeries) {
  write_limits l;
  l.max_series = 2;
  write_batch b;
  for (int i = 0; i < 3; ++i) b.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{1, 1}}});
  auto msg = limit_rejection(b, l);
  EXPECT_NE(msg.find("3 series"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit of 2"), std::string::npos) << msg;
  b.pop_back();
  EXPECT_TRUE(decode_remote_write(encode_remote_write(b), l).is_ok());
}

TEST(RemoteWrite, RejectsSeriesWithTooManyLabels) {
  write_limits l;
  l.max_labels = 2;
  auto msg = limit_rejection({{{{"__name__", "m"}, {"a", "1"}, {"b", "2"}}, {{1, 1}}}}, l);
  EXPECT_NE(msg.find("timeseries[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 labels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit of 2"), std::string::npos) << msg;
}

TEST(RemoteWrite, RejectsTooLongLabelNameAndValue) {
  write_limits l;
  l.max_name_length = 8;
  l.max_value_length = 8;
  auto msg = limit_rejection({{{{"__name__", "m"}, {"a_long_name", "1"}}, {{1, 1}}}}, l);
  EXPECT_NE(msg.find("label name \"a_long_name\" has 11 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("limit of 8"), std::string::npos) << msg;
  msg = limit_rejection({{{{"__name__", "m"}, {"a", "123456789"}}, {{1, 1}}}}, l);
  EXPECT_NE(msg.find("9 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--max-label-value-length"), std::string::npos) << msg;
}

TEST(RemoteWrite, ZeroMeansNoLimit) {
  write_limits l{default_max_decompressed, 0, 0, 0, 0};
  write_batch b{{{{"__name__", "m"}, {std::string(2000, 'n'), std::string(10000, 'v')}}, {{1, 1}}}};
  EXPECT_TRUE(decode_remote_write(encode_remote_write(b), l).is_ok());
}

TEST(RemoteWrite, RejectsSeriesWithoutLabels) {
  auto msg = rejection({{{{"__name__", "ok"}}, {{1, 1}}}, {{}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no labels"), std::string::npos) << msg;
}

TEST(RemoteWrite, RejectsSeriesWhoseLabelsAreAllEmpty) {
  auto msg = rejection({{{{"__name__", ""}, {"job", ""}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-empty value"), std::string::npos) << msg;
}

TEST(RemoteWrite, RejectsEmptyLabelName) {
  auto msg = rejection({{{{"__name__", "m"}, {"", "v"}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a label has an empty name"), std::string::npos) << msg;
}

TEST(RemoteWrite, RejectsDuplicateLabelName) {
  auto msg = rejection(
      {{{{"__name__", "ok"}}, {{1, 1}}}, {{{"__name__", "m"}, {"job", "a"}, {"zone", "z"}, {"job", "b"}}, {{1, 1}}}});
  EXPECT_NE(msg.find("duplicate label name \"job\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("timeseries[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("__name__=\"m\""), std::string::npos) << msg;
}

TEST(RemoteWrite, RejectsInvalidUtf8InLabelValue) {
  auto msg = rejection({{{{"__name__", "ok"}}, {{1, 1}}}, {{{"__name__", "m"}, {"path", "/a\xc3("}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("value of label \"path\" is not valid UTF-8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\\xc3"), std::string::npos) << msg;  // the bad byte, escaped
}

TEST(RemoteWrite, RejectsInvalidUtf8InLabelName) {
  auto msg = rejection({{{{"__name__", "m"}, {"bad\xff", "v"}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label name \"bad\\xff\" is not valid UTF-8"), std::string::npos) << msg;
}

TEST(RemoteWrite, AcceptsUtf8LabelNames) {
  auto out = round_trip({{{{"__name__", "http.requests"}, {"k\xc3\xb6nig", "ja"}}, {{1, 1}}}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].lbls[1].name, "k\xc3\xb6nig");
}

TEST(RemoteWrite, RejectsWholeRequestOnOneBadSeries) {
  write_batch b;
  for (int i = 0; i < 100; ++i) b.push_back({{{"__name__", "m"}, {"i", std::to_string(i)}}, {{1, 1}}});
  b[73].lbls.push_back({"", "x"});
  auto msg = rejection(b);
  EXPECT_NE(msg.find("timeseries[73]"), std::string::npos) << msg;
}

}  // namespace
}  // namespace strata::wire
