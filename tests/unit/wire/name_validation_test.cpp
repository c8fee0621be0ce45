// --name-validation: which metric and label names remote_write accepts.
#include <gtest/gtest.h>

#include "wire/remote_write.hpp"

namespace strata::wire {
namespace {

write_limits legacy() {
  write_limits l;
  l.names = name_validation::legacy;
  return l;
}

std::string legacy_rejection(const write_batch& b) {
  auto r = decode_remote_write(encode_remote_write(b), legacy());
  EXPECT_FALSE(r.is_ok());
  if (r) return {};
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  return r.error().message();
}

TEST(NameValidation, LegacyMetricNameSyntax) {
  EXPECT_TRUE(legacy_metric_name("http_requests_total"));
  EXPECT_TRUE(legacy_metric_name(":job:rate5m"));
  EXPECT_TRUE(legacy_metric_name("_x9"));
  EXPECT_FALSE(legacy_metric_name(""));
  EXPECT_FALSE(legacy_metric_name("9lives"));
  EXPECT_FALSE(legacy_metric_name("http.requests"));
  EXPECT_FALSE(legacy_metric_name("a-b"));
  EXPECT_FALSE(legacy_metric_name("k\xc3\xb6nig"));
}

TEST(NameValidation, LegacyLabelNameSyntax) {
  EXPECT_TRUE(legacy_label_name("job"));
  EXPECT_TRUE(legacy_label_name("__name__"));
  EXPECT_TRUE(legacy_label_name("_a1"));
  EXPECT_FALSE(legacy_label_name("a:b"));  // colons are for metric names only
  EXPECT_FALSE(legacy_label_name("1a"));
  EXPECT_FALSE(legacy_label_name("a.b"));
}

TEST(NameValidation, Utf8IsTheDefaultAndAcceptsDottedNames) {
  write_batch b{{{{"__name__", "http.requests"}, {"service.name", "api"}}, {{1, 1}}}};
  auto r = decode_remote_write(encode_remote_write(b), write_limits{});
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->size(), 1u);
}

TEST(NameValidation, LegacyRejectsBadMetricNameNamingSeriesAndFlag) {
  auto msg = legacy_rejection({{{{"__name__", "ok_metric"}}, {{1, 1}}}, {{{"__name__", "http.requests"}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("metric name \"http.requests\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("[a-zA-Z_:][a-zA-Z0-9_:]*"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--name-validation=legacy"), std::string::npos) << msg;
}

TEST(NameValidation, LegacyRejectsBadLabelName) {
  auto msg = legacy_rejection({{{{"__name__", "m"}, {"service.name", "api"}}, {{1, 1}}}});
  EXPECT_NE(msg.find("timeseries[0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label name \"service.name\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("[a-zA-Z_][a-zA-Z0-9_]*"), std::string::npos) << msg;
}

TEST(NameValidation, LegacyAcceptsValidNames) {
  write_batch b{{{{"__name__", "ns:http_requests_total"}, {"job", "api"}}, {{1, 1}}}};
  auto r = decode_remote_write(encode_remote_write(b), legacy());
  ASSERT_TRUE(r.is_ok()) << r.error().message();
  EXPECT_EQ(r->size(), 1u);
}

}  // namespace
}  // namespace strata::wire
