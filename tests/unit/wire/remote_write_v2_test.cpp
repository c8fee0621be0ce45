#include "wire/remote_write_v2.hpp"

#include <gtest/gtest.h>
#include <snappy.h>

#include "proto/remote_v2.pb.h"

namespace strata::wire {
namespace {

namespace v2 = io::prometheus::write::v2;

std::string pack(const v2::Request& req) {
  std::string raw = req.SerializeAsString(), out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

TEST(RemoteWriteV2, RoundTripsSeriesAndMetadata) {
  write_batch b{
      {{{"__name__", "up"}, {"job", "a"}}, {{1000, 1}, {2000, 0}}},
      {{{"__name__", "up"}, {"job", "b"}}, {{1000, 1}}},
      {{{"__name__", "req_total"}, {"job", "a"}}, {{1000, 5}}},
  };
  metadata_list md{{"req_total", metric_type::counter, "Requests.", "requests"}};
  auto r = decode_remote_write_v2(encode_remote_write_v2(b, md), {});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->series.size(), 3u);
  EXPECT_EQ(r->series[0].lbls, b[0].lbls);
  EXPECT_EQ(r->series[0].samples, b[0].samples);
  EXPECT_EQ(r->samples, 4u);
  ASSERT_EQ(r->metadata.size(), 1u);
  EXPECT_EQ(r->metadata[0], md[0]);
}

TEST(RemoteWriteV2, LabelsAreSortedAndEmptyValuesDropped) {
  v2::Request req;
  for (const char* s : {"", "zone", "eu", "__name__", "m", "empty"}) req.add_symbols(s);
  auto* ts = req.add_timeseries();
  for (uint32_t r : {1u, 2u, 3u, 4u, 5u, 0u}) ts->add_labels_refs(r);
  auto* s = ts->add_samples();
  s->set_value(2);
  s->set_timestamp(7);
  auto r = decode_remote_write_v2(pack(req), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(to_string(r->series[0].lbls), R"({__name__="m", zone="eu"})");
}

TEST(RemoteWriteV2, HistogramsAndExemplarsAreCountedNotStored) {
  v2::Request req;
  for (const char* s : {"", "__name__", "h"}) req.add_symbols(s);
  auto* ts = req.add_timeseries();
  ts->add_labels_refs(1);
  ts->add_labels_refs(2);
  ts->add_histograms();
  ts->add_histograms();
  ts->add_exemplars();
  auto r = decode_remote_write_v2(pack(req), {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->series.empty());
  EXPECT_EQ(r->histograms, 2u);
  EXPECT_EQ(r->exemplars, 1u);
}

TEST(RemoteWriteV2, BadRequestsNameTheSeriesAndTheProblem) {
  auto with = [](std::vector<const char*> symbols, std::vector<uint32_t> refs) {
    v2::Request req;
    for (auto* s : symbols) req.add_symbols(s);
    auto* ts = req.add_timeseries();
    for (auto r : refs) ts->add_labels_refs(r);
    ts->add_samples()->set_value(1);
    return req;
  };
  const std::pair<v2::Request, const char*> cases[] = {
      {with({"x", "__name__", "m"}, {1, 2}), "symbols[0] must be the empty string"},
      {with({"", "__name__", "m"}, {1, 2, 1}), "timeseries[0]: odd number of label references (3)"},
      {with({"", "__name__", "m"}, {1, 9}), "timeseries[0]: label reference 9 is past the symbol table of 3 symbols"},
      {with({"", "__name__", "m"}, {}), "timeseries[0] {}: series has no labels"},
      {with({"", "__name__", "m"}, {1, 2, 1, 2}), "duplicate label name \"__name__\""},
      {with({"", "__name__", "m", "\xff"}, {1, 2, 3, 2}), "label name \"\\xff\" is not valid UTF-8"},
      {with({"", "__name__", "m"}, {0, 2}), "timeseries[0] {=\"m\"}: a label has an empty name"},
  };
  for (const auto& [req, expect] : cases) {
    auto r = decode_remote_write_v2(pack(req), {});
    ASSERT_FALSE(r) << expect;
    EXPECT_EQ(r.error().code(), strata_errc::bad_request);
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
  }
  v2::Request req = with({"", "__name__", "m"}, {1, 2});
  req.mutable_timeseries(0)->mutable_metadata()->set_help_ref(5);
  auto r = decode_remote_write_v2(pack(req), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("metadata reference 5 is past the symbol table"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(decode_remote_write_v2("not snappy", {}));
}

TEST(RemoteWriteV2, LimitsAreNamed) {
  write_limits l;
  l.max_labels = 1;
  auto r = decode_remote_write_v2(encode_remote_write_v2({{{{"__name__", "m"}, {"a", "b"}}, {{1, 1}}}}), l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("2 labels, over the limit of 1"), std::string::npos) << r.error().message();
  l = {};
  l.max_series = 1;
  r = decode_remote_write_v2(encode_remote_write_v2({{{{"__name__", "m"}}, {{1, 1}}}, {{{"__name__", "n"}}, {{1, 1}}}}), l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("2 series, over the limit of 1"), std::string::npos) << r.error().message();
}

TEST(RemoteWriteV2, ContentTypeSelectsTheMessage) {
  EXPECT_EQ(remote_write_proto_for("application/x-protobuf"), remote_write_proto::v1);
  EXPECT_EQ(remote_write_proto_for("application/x-protobuf;proto=prometheus.WriteRequest"), remote_write_proto::v1);
  EXPECT_EQ(remote_write_proto_for("application/x-protobuf;proto=io.prometheus.write.v2.Request"), remote_write_proto::v2);
  EXPECT_EQ(remote_write_proto_for("application/x-protobuf; charset=x; proto=io.prometheus.write.v2.Request"),
            remote_write_proto::v2);
  EXPECT_EQ(remote_write_proto_for("application/x-protobuf;proto=io.prometheus.write.v3.Request"),
            remote_write_proto::unsupported);
  EXPECT_EQ(remote_write_proto_for("application/json"), remote_write_proto::unsupported);
}

}  // namespace
}  // namespace strata::wire
