#include "wire/check_series.hpp"

#include <gtest/gtest.h>

#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

std::string reason(labels ls, const write_limits& l = {}) {
  auto st = check_series(ls, l);
  return st ? "" : st.message();
}

TEST(CheckSeries, ValidSeriesIsSortedAndKeepsItsLabels) {
  labels ls{{"zone", "a"}, {"__name__", "up"}, {"job", "j"}};
  ASSERT_TRUE(check_series(ls, {}).is_ok());
  EXPECT_EQ(ls, (labels{{"__name__", "up"}, {"job", "j"}, {"zone", "a"}}));
}

TEST(CheckSeries, EmptyValuesAreDropped) {
  labels ls{{"__name__", "up"}, {"job", ""}};
  ASSERT_TRUE(check_series(ls, {}).is_ok());
  EXPECT_EQ(ls, (labels{{"__name__", "up"}}));
}

TEST(CheckSeries, NoLabelsIsRejected) { EXPECT_EQ(reason({}), "{}: series has no labels"); }

TEST(CheckSeries, OnlyEmptyValuesIsRejected) {
  EXPECT_EQ(reason({{"a", ""}, {"b", ""}}), "{a=\"\", b=\"\"}: series has no label with a non-empty value");
}

TEST(CheckSeries, EmptyLabelNameIsRejected) {
  EXPECT_EQ(reason({{"__name__", "up"}, {"", "x"}}), "{=\"x\", __name__=\"up\"}: a label has an empty name");
}

TEST(CheckSeries, LabelNameOverTheLimitIsRejected) {
  write_limits l;
  l.max_name_length = 8;
  EXPECT_EQ(reason({{"abcdefghi", "x"}, {"__name__", "up"}}, l),
            "{__name__=\"up\", abcdefghi=\"x\"}: label name \"abcdefghi\" has 9 bytes, over the limit of 8 "
            "(--max-label-name-length)");
  EXPECT_EQ(reason({{"abcdefgh", "x"}}, l), "");
}

TEST(CheckSeries, LabelValueOverTheLimitIsRejected) {
  write_limits l;
  l.max_value_length = 3;
  EXPECT_EQ(reason({{"__name__", "up"}, {"a", "long"}}, l),
            "{__name__=\"up\", a=\"long\"}: value of label \"a\" has 4 bytes, over the limit of 3 "
            "(--max-label-value-length)");
  EXPECT_EQ(reason({{"a", "abc"}}, l), "");
}

TEST(CheckSeries, MetricNameCountsAsALabelValue) {
  write_limits l;
  l.max_value_length = 3;
  EXPECT_NE(reason({{"__name__", "long"}}, l).find("value of label \"__name__\" has 4 bytes"), std::string::npos);
}

TEST(CheckSeries, InvalidUtf8NameIsRejected) {
  EXPECT_EQ(reason({{"a\xff", "x"}}), "{a\\xff=\"x\"}: label name \"a\\xff\" is not valid UTF-8");
}

TEST(CheckSeries, InvalidUtf8ValueIsRejected) {
  EXPECT_EQ(reason({{"a", "\xc3"}}), "{a=\"\\xc3\"}: value of label \"a\" is not valid UTF-8");
}

TEST(CheckSeries, InvalidUtf8AnywhereInALongStringIsRejected) {
  // Past the first eight bytes, in the last full eight and in the tail.
  for (std::string bad : {std::string("abcdefgh\xff"), std::string("abcdefgh\xc3"), std::string("abcdefghijklmno\xe2\x82"),
                          std::string("abcdefghijklmnopq\xed\xa0\x80")})
    EXPECT_NE(reason({{"__name__", "up"}, {"a", bad}}).find("value of label \"a\" is not valid UTF-8"), std::string::npos)
        << quote_for_message(bad, 64);
  EXPECT_NE(reason({{"abcdefgh\x80", "x"}}).find("is not valid UTF-8"), std::string::npos);
}

TEST(CheckSeries, Utf8InALongStringIsAccepted) {
  EXPECT_EQ(reason({{"__name__", "up"}, {"city", "abcdefghM\xc3\xbcnchen \xe2\x82\xac \xf0\x9f\x98\x80"}}), "");
}

TEST(CheckSeries, LabelsSentSortedWithARepeatedNameAreRejected) {
  EXPECT_EQ(reason({{"__name__", "up"}, {"a", "1"}, {"a", "2"}}),
            "{__name__=\"up\", a=\"1\", a=\"2\"}: duplicate label name \"a\"");
}

TEST(CheckSeries, Utf8NamesAreAcceptedByDefault) {
  EXPECT_EQ(reason({{"__name__", "http.requests"}, {"k\xc3\xb6nig", "x"}}), "");
}

TEST(CheckSeries, LegacyLabelNameSyntaxIsEnforcedWhenAsked) {
  write_limits l;
  l.names = name_validation::legacy;
  EXPECT_EQ(reason({{"a.b", "x"}}, l),
            "{a.b=\"x\"}: label name \"a.b\" does not match [a-zA-Z_][a-zA-Z0-9_]* (--name-validation=legacy)");
  EXPECT_NE(reason({{"a:b", "x"}}, l).find("label name \"a:b\" does not match"), std::string::npos);
}

TEST(CheckSeries, LegacyMetricNameSyntaxIsEnforcedWhenAsked) {
  write_limits l;
  l.names = name_validation::legacy;
  EXPECT_EQ(reason({{"__name__", "http.requests"}}, l),
            "{__name__=\"http.requests\"}: metric name \"http.requests\" does not match [a-zA-Z_:][a-zA-Z0-9_:]* "
            "(--name-validation=legacy)");
  EXPECT_EQ(reason({{"__name__", "job:rate:5m"}}, l), "");
}

TEST(CheckSeries, DuplicateLabelNameIsRejected) {
  EXPECT_EQ(reason({{"a", "1"}, {"__name__", "up"}, {"a", "2"}}),
            "{__name__=\"up\", a=\"1\", a=\"2\"}: duplicate label name \"a\"");
}

TEST(CheckSeries, DuplicateWithAnEmptyValueIsStillADuplicate) {
  EXPECT_NE(reason({{"a", ""}, {"__name__", "up"}, {"a", "2"}}).find("duplicate label name \"a\""), std::string::npos);
}

TEST(CheckSeries, TooManyLabelsIsRejected) {
  write_limits l;
  l.max_labels = 2;
  EXPECT_EQ(reason({{"__name__", "up"}, {"a", "1"}, {"b", "2"}}, l),
            "{__name__=\"up\", a=\"1\", b=\"2\"}: 3 labels, over the limit of 2 labels per series "
            "(--max-labels-per-series)");
}

TEST(CheckSeries, EmptyValuesDoNotCountTowardsTheLabelLimit) {
  write_limits l;
  l.max_labels = 2;
  EXPECT_EQ(reason({{"__name__", "up"}, {"a", "1"}, {"b", ""}}, l), "");
}

TEST(CheckSeries, ZeroLimitsMeanNoLimit) {
  write_limits l;
  l.max_labels = l.max_name_length = l.max_value_length = 0;
  labels ls;
  for (int i = 0; i < 200; ++i) ls.push_back({"l" + std::to_string(i) + std::string(2000, 'n'), std::string(10000, 'v')});
  EXPECT_EQ(reason(ls, l), "");
}

TEST(CheckSeries, LongSeriesAreCutInTheMessage) {
  labels ls;
  for (int i = 0; i < 100; ++i) ls.push_back({"l" + std::to_string(100 + i), "value"});
  ls.push_back({"l200", "\xff"});
  auto r = reason(ls);
  EXPECT_NE(r.find(", ...}: value of label \"l200\" is not valid UTF-8"), std::string::npos) << r;
  EXPECT_LT(r.size(), 400u);
}

TEST(CheckSeries, WhatItAcceptsIsCanonical) {
  labels ls{{"zone", "a"}, {"__name__", "up"}, {"job", "j"}, {"empty", ""}};
  EXPECT_FALSE(is_canonical(ls));
  ASSERT_TRUE(check_series(ls, {}).is_ok());
  EXPECT_TRUE(is_canonical(ls));
}

TEST(CheckSeries, UnsortedRepeatedOrEmptyNamesAreNotCanonical) {
  EXPECT_TRUE(is_canonical({}));
  EXPECT_TRUE(is_canonical({{"__name__", "up"}, {"a", ""}, {"b", "1"}}));
  EXPECT_FALSE(is_canonical({{"b", "1"}, {"a", "1"}}));
  EXPECT_FALSE(is_canonical({{"a", "1"}, {"a", "2"}}));
  EXPECT_FALSE(is_canonical({{"", "1"}, {"a", "2"}}));
}

}  // namespace
}  // namespace strata::wire
