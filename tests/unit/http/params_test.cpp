#include "http/params.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

int64_t time_ok(std::string_view s) {
  auto t = parse_time_ms(s);
  EXPECT_TRUE(t.is_ok()) << s << ": " << (t.is_ok() ? "" : t.error().message());
  return t.is_ok() ? *t : -42;
}

int64_t duration_ok(std::string_view s) {
  auto d = parse_duration_ms(s);
  EXPECT_TRUE(d.is_ok()) << s << ": " << (d.is_ok() ? "" : d.error().message());
  return d.is_ok() ? *d : -42;
}

TEST(ParseTime, UnixSecondsAsFloat) {
  EXPECT_EQ(time_ok("1435781451.781"), 1435781451781);
  EXPECT_EQ(time_ok("1435781451"), 1435781451000);
  EXPECT_EQ(time_ok("0"), 0);
  EXPECT_EQ(time_ok("-1.5"), -1500);
  EXPECT_EQ(time_ok("+2"), 2000);
  EXPECT_EQ(time_ok("1.0006"), 1001);  // rounded to the millisecond
  EXPECT_EQ(time_ok("1.0004"), 1000);
  EXPECT_EQ(time_ok("1e3"), 1000000);
}

TEST(ParseTime, Rfc3339) {
  EXPECT_EQ(time_ok("2015-07-01T20:10:51.781Z"), 1435781451781);
  EXPECT_EQ(time_ok("2015-07-01T20:10:51Z"), 1435781451000);
  EXPECT_EQ(time_ok("2015-07-01T20:10:51.7Z"), 1435781451700);
  EXPECT_EQ(time_ok("2015-07-01T20:10:51.781999999Z"), 1435781451781);  // truncated
  EXPECT_EQ(time_ok("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(time_ok("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(time_ok("2016-02-29T00:00:00Z"), 1456704000000);
  EXPECT_EQ(time_ok("2000-03-01T00:00:00Z"), 951868800000);
}

TEST(ParseTime, Rfc3339WithOffsets) {
  EXPECT_EQ(time_ok("2015-07-01T22:10:51.781+02:00"), 1435781451781);
  EXPECT_EQ(time_ok("2015-07-01T15:10:51.781-05:00"), 1435781451781);
  EXPECT_EQ(time_ok("2015-07-02T01:40:51+05:30"), 1435781451000);
}

TEST(ParseTime, PrometheusMinAndMaxTime) {
  EXPECT_EQ(time_ok("-292273086-05-16T16:47:06Z"), -9223309901257974000LL);
  EXPECT_EQ(time_ok("292277025-08-18T07:12:54.999999999Z"), 9223309901257974999LL);
}

TEST(ParseTime, ErrorsNameTheValue) {
  auto t = parse_time_ms("abc");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.error().code(), strata_errc::bad_request);
  EXPECT_EQ(t.error().message(), "cannot parse \"abc\" to a valid timestamp");
  for (const char* bad :
       {"", "NaN", "Inf", "1e300", "2015-07-01", "2015-07-01 20:10:51Z", "2015-07-01T20:10:51", "2015-13-01T00:00:00Z",
        "2015-02-29T00:00:00Z", "2015-07-01T24:00:00Z", "2015-07-01T20:10:60Z", "2015-07-01T20:10:51.Z",
        "2015-07-01T20:10:51+0200", "2015-07-01T20:10:51Zjunk", " 1", "1 ", "0x10"})
    EXPECT_FALSE(parse_time_ms(bad).is_ok()) << bad;
}

TEST(ParseDuration, FloatSeconds) {
  EXPECT_EQ(duration_ok("15"), 15000);
  EXPECT_EQ(duration_ok("0.5"), 500);
  EXPECT_EQ(duration_ok("0.29"), 290);
  EXPECT_EQ(duration_ok("0"), 0);
  EXPECT_EQ(duration_ok("-1"), -1000);
}

TEST(ParseDuration, PrometheusDurations) {
  EXPECT_EQ(duration_ok("15s"), 15000);
  EXPECT_EQ(duration_ok("1m30s"), 90000);
  EXPECT_EQ(duration_ok("1h"), 3600000);
  EXPECT_EQ(duration_ok("2d"), 172800000);
  EXPECT_EQ(duration_ok("250ms"), 250);
  EXPECT_EQ(duration_ok("1w1d"), 8 * 86400000LL);
  EXPECT_EQ(duration_ok("1y"), 365 * 86400000LL);
}

TEST(ParseDuration, ErrorsNameTheValue) {
  auto d = parse_duration_ms("abc");
  ASSERT_FALSE(d.is_ok());
  EXPECT_EQ(d.error().message(), "cannot parse \"abc\" to a valid duration");
  for (const char* bad : {"", "1m1h", "5x", "1.5m", "m", "1s1s", "NaN"})
    EXPECT_FALSE(parse_duration_ms(bad).is_ok()) << bad;
  auto big = parse_duration_ms("1e300");
  ASSERT_FALSE(big.is_ok());
  EXPECT_EQ(big.error().message(), "cannot parse \"1e300\" to a valid duration. It overflows int64");
}

TEST(PercentDecode, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(*percent_decode("a+b%20c%2B", true), "a b c+");
  EXPECT_EQ(*percent_decode("a+b%2fc", false), "a+b/c");
  auto bad = percent_decode("x%zz", true);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.error().message(), "invalid URL escape \"%zz\"");
  EXPECT_FALSE(percent_decode("x%4", true).is_ok());
}

TEST(ParseForm, KeepsOrderAndRepeats) {
  auto f = parse_form("match%5B%5D=up&b=x+y%7B%7D&match[]=down&flag&&=v");
  ASSERT_TRUE(f.is_ok());
  std::vector<std::pair<std::string, std::string>> want{
      {"match[]", "up"}, {"b", "x y{}"}, {"match[]", "down"}, {"flag", ""}, {"", "v"}};
  EXPECT_EQ(*f, want);
  EXPECT_FALSE(parse_form("a=%G0").is_ok());
}

}  // namespace
}  // namespace strata::http
