#include "wire/capnp_push.hpp"

#include <gtest/gtest.h>

#include "wire/batch.hpp"

namespace strata::wire {
namespace {

TEST(CapnpPush, LabelsAreMadeCanonical) {
  write_batch b{{{{"zone", "eu"}, {"__name__", "m"}, {"empty", ""}}, {{1, 2}}}, {{{"__name__", "no_samples"}}, {}}};
  auto r = decode_capnp_push(encode_batch(b), {});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(to_string((*r)[0].lbls), R"({__name__="m", zone="eu"})");
  EXPECT_EQ((*r)[0].samples, b[0].samples);
}

TEST(CapnpPush, BadSeriesAreNamed) {
  const std::pair<write_batch, const char*> cases[] = {
      {{{{}, {{1, 1}}}}, "series[0] {}: series has no labels"},
      {{{{{"__name__", "m"}}, {{1, 1}}}, {{{"a", "1"}, {"a", "2"}}, {{1, 1}}}}, "series[1] {a=\"1\", a=\"2\"}: duplicate label name \"a\""},
      {{{{{"", "x"}}, {{1, 1}}}}, "series[0] {=\"x\"}: a label has an empty name"},
      {{{{{"a", "\xff"}}, {{1, 1}}}}, "series[0] {a=\"\\xff\"}: value of label \"a\" is not valid UTF-8"},
      {{{{{"a", ""}}, {{1, 1}}}}, "series[0] {a=\"\"}: series has no label with a non-empty value"},
  };
  for (const auto& [b, expect] : cases) {
    auto r = decode_capnp_push(encode_batch(b), {});
    ASSERT_FALSE(r) << expect;
    EXPECT_EQ(r.error().code(), strata_errc::bad_request);
    EXPECT_NE(r.error().message().find(expect), std::string::npos) << r.error().message();
  }
}

TEST(CapnpPush, GarbageAndLimitsAreBadRequests) {
  auto r = decode_capnp_push("not a batch", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), strata_errc::bad_request);
  EXPECT_NE(r.error().message().find("body is not a strata batch"), std::string::npos) << r.error().message();
  write_limits l;
  l.max_labels = 1;
  r = decode_capnp_push(encode_batch({{{{"__name__", "m"}, {"a", "b"}}, {{1, 1}}}}), l);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("2 labels, over the limit of 1"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace strata::wire
