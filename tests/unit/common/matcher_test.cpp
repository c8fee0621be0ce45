#include "common/matcher.hpp"

#include <gtest/gtest.h>

namespace strata {
namespace {

matcher make(matcher::op o, const std::string& n, const std::string& v) {
  auto m = matcher::make(o, n, v);
  EXPECT_TRUE(m.is_ok()) << m.error().message();
  return *m;
}

TEST(Matcher, RegexIsFullyAnchored) {
  auto m = make(matcher::op::re, "job", "api");
  EXPECT_TRUE(m.matches("api"));
  EXPECT_FALSE(m.matches("api-server"));
  EXPECT_FALSE(m.matches("my-api"));
  auto alt = make(matcher::op::re, "job", "a|b");
  EXPECT_TRUE(alt.matches("a"));
  EXPECT_FALSE(alt.matches("ab"));
}

TEST(Matcher, AbsentLabelMatchesAsEmpty) {
  labels ls{{"__name__", "up"}};
  EXPECT_TRUE(make(matcher::op::eq, "job", "").matches(ls));
  EXPECT_FALSE(make(matcher::op::neq, "job", "").matches(ls));
  EXPECT_TRUE(make(matcher::op::re, "job", ".*").matches(ls));
  EXPECT_FALSE(make(matcher::op::re, "job", ".+").matches(ls));
  EXPECT_TRUE(make(matcher::op::nre, "job", "x").matches(ls));
}

TEST(Matcher, DotMatchesNewline) {
  EXPECT_TRUE(make(matcher::op::re, "a", "x.y").matches("x\ny"));
}

TEST(Matcher, InvalidRegexIsRejectedWithItsText) {
  auto m = matcher::make(matcher::op::re, "job", "(unclosed");
  ASSERT_FALSE(m.is_ok());
  EXPECT_EQ(m.error().code(), strata_errc::bad_request);
  EXPECT_NE(m.error().message().find("(unclosed"), std::string::npos);
}

TEST(Matcher, EmptyNameIsRejected) {
  EXPECT_FALSE(matcher::make(matcher::op::eq, "", "x").is_ok());
}

}  // namespace
}  // namespace strata
