// WriteRequest.metadata (remote_write 1.0): decoded only when asked for,
// each entry checked, the whole request refused on a bad one.
#include <gtest/gtest.h>

#include "proto/remote.pb.h"
#include "wire/remote_write.hpp"

#include <snappy.h>

namespace strata::wire {
namespace {

write_batch one_series() { return {{{{"__name__", "up"}}, {{1000, 1}}}}; }

TEST(RemoteWriteMetadata, DecodesEveryEntryWithItsTypeName) {
  std::vector<metric_metadata> in{{"up", "gauge", "1 if up.", ""},
                                  {"http_requests_total", "counter", "Requests.", ""},
                                  {"latency_seconds", "histogram", "Latency.", "seconds"},
                                  {"x", "stateset", "", ""}};
  std::vector<metric_metadata> out;
  auto r = decode_remote_write(encode_remote_write(one_series(), in), write_limits{}, &out);
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->size(), 1u);
  EXPECT_EQ(out, in);
}

TEST(RemoteWriteMetadata, MetadataOnlyRequestHasNoSeries) {
  std::vector<metric_metadata> out;
  auto r = decode_remote_write(encode_remote_write({}, {{"up", "gauge", "", ""}}), write_limits{}, &out);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->empty());
  ASSERT_EQ(out.size(), 1u);
}

TEST(RemoteWriteMetadata, IgnoredWithoutAnOutput) {
  auto body = encode_remote_write(one_series(), {{"", "gauge", "", ""}});
  EXPECT_TRUE(decode_remote_write(body).is_ok()) << "the two-argument form skips metadata";
}

TEST(RemoteWriteMetadata, BadEntryRefusesTheRequestNamingIt) {
  std::vector<metric_metadata> out;
  auto body = encode_remote_write(one_series(), {{"ok", "gauge", "", ""}, {"", "gauge", "", ""}});
  auto r = decode_remote_write(body, write_limits{}, &out);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("metadata[1]"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("empty metric family name"), std::string::npos) << r.error().message();

  auto long_help = encode_remote_write(one_series(), {{"h", "gauge", std::string(20000, 'x'), ""}});
  auto r2 = decode_remote_write(long_help, write_limits{}, &out);
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.error().message().find("over the limit of 16384"), std::string::npos) << r2.error().message();
}

TEST(RemoteWriteMetadata, UnknownTypeNumberIsRefused) {
  prometheus::WriteRequest req;
  auto* m = req.add_metadata();
  m->set_metric_family_name("up");
  m->set_type(static_cast<prometheus::MetricMetadata::MetricType>(42));
  std::string raw = req.SerializeAsString(), body;
  snappy::Compress(raw.data(), raw.size(), &body);
  std::vector<metric_metadata> out;
  auto r = decode_remote_write(body, write_limits{}, &out);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.error().message().find("metadata[0]: type 42"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace strata::wire
