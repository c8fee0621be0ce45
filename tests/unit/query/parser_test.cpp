#include "query/parser.hpp"

#include <gtest/gtest.h>

namespace strata::query {
namespace {

const vector_selector& vs_of(const expr& e) { return std::get<vector_selector>(e.node); }

std::string parse_error(std::string_view q) {
  auto e = parse(q);
  if (e.is_ok()) return "parsed: " + to_string(*e);
  EXPECT_EQ(e.error().code(), strata_errc::bad_request) << q;
  return e.error().message();
}

// The matcher named `name`, or nullptr.
const matcher* find(const matchers& ms, std::string_view name) {
  for (const auto& m : ms)
    if (m.name() == name) return &m;
  return nullptr;
}

TEST(Parser, BareMetricName) {
  auto e = parse("http_requests_total");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  const auto& vs = vs_of(*e);
  EXPECT_EQ(vs.name, "http_requests_total");
  ASSERT_EQ(vs.label_matchers.size(), 1u);
  EXPECT_EQ(vs.label_matchers[0].name(), "__name__");
  EXPECT_EQ(vs.label_matchers[0].type(), matcher::op::eq);
  EXPECT_EQ(vs.label_matchers[0].value(), "http_requests_total");
  EXPECT_EQ(vs.mods.offset_ms, 0);
  EXPECT_EQ(type_of(*e), value_type::vector);
}

TEST(Parser, EachMatcherType) {
  auto e = parse(R"(metric{a="b", c!="d", e=~"f.*", g!~"h"})");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  const auto& ms = vs_of(*e).label_matchers;
  ASSERT_EQ(ms.size(), 5u);
  EXPECT_EQ(find(ms, "a")->type(), matcher::op::eq);
  EXPECT_EQ(find(ms, "c")->type(), matcher::op::neq);
  EXPECT_EQ(find(ms, "e")->type(), matcher::op::re);
  EXPECT_EQ(find(ms, "e")->value(), "f.*");
  EXPECT_EQ(find(ms, "g")->type(), matcher::op::nre);
  EXPECT_TRUE(find(ms, "e")->matches("foo"));
  EXPECT_FALSE(find(ms, "e")->matches("xfoo"));  // anchored
}

TEST(Parser, NameOnlyInsideBraces) {
  auto e = parse(R"({__name__="x", job="j"})");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  EXPECT_EQ(vs_of(*e).name, "");
  EXPECT_EQ(find(vs_of(*e).label_matchers, "__name__")->value(), "x");
}

TEST(Parser, QuotedUtf8NamesInsideBraces) {
  auto e = parse(R"({"my.metric", "some.label"="v"})");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  const auto& ms = vs_of(*e).label_matchers;
  EXPECT_EQ(find(ms, "__name__")->value(), "my.metric");
  EXPECT_EQ(find(ms, "some.label")->value(), "v");
}

TEST(Parser, TrailingCommaAndEmptyBracesAfterName) {
  EXPECT_TRUE(parse(R"(up{job="a",})").is_ok());
  EXPECT_TRUE(parse("up{}").is_ok());
}

TEST(Parser, KeywordsAreNamesInsideBracesAndAsMetrics) {
  auto e = parse(R"(up{by="x", offset="y"})");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  EXPECT_NE(find(vs_of(*e).label_matchers, "offset"), nullptr);
  auto k = parse("offset");
  ASSERT_TRUE(k.is_ok()) << k.error().message();
  EXPECT_EQ(vs_of(*k).name, "offset");
}

TEST(Parser, StringQuotingStyles) {
  auto e = parse(R"(m{a="x\ty", b='it\'s', c=`raw\d+`, d="\u00e9\x41"})");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  const auto& ms = vs_of(*e).label_matchers;
  EXPECT_EQ(find(ms, "a")->value(), "x\ty");
  EXPECT_EQ(find(ms, "b")->value(), "it's");
  EXPECT_EQ(find(ms, "c")->value(), "raw\\d+");
  EXPECT_EQ(find(ms, "d")->value(),
            "\xc3\xa9"
            "A");
}

TEST(Parser, MatrixSelectorDurations) {
  auto e = parse("rate_me[1h30m]");
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  ASSERT_EQ(type_of(*e), value_type::matrix);
  const auto& ms = std::get<matrix_selector>(e->node);
  EXPECT_EQ(ms.range_ms, 5400000);
  EXPECT_EQ(ms.vs.name, "rate_me");
  EXPECT_EQ(std::get<matrix_selector>(parse("x[100ms]")->node).range_ms, 100);
  EXPECT_EQ(std::get<matrix_selector>(parse("x[2d]")->node).range_ms, 2LL * 86400 * 1000);
  EXPECT_EQ(std::get<matrix_selector>(parse("x[1w]")->node).range_ms, 7LL * 86400 * 1000);
  EXPECT_EQ(std::get<matrix_selector>(parse("x[1y]")->node).range_ms, 365LL * 86400 * 1000);
}

TEST(Parser, Offset) {
  EXPECT_EQ(vs_of(*parse("up offset 5m")).mods.offset_ms, 300000);
  EXPECT_EQ(vs_of(*parse("up offset -1h")).mods.offset_ms, -3600000);
  auto m = parse(R"(up{a="b"}[5m] offset 1d)");
  ASSERT_TRUE(m.is_ok()) << m.error().message();
  EXPECT_EQ(std::get<matrix_selector>(m->node).vs.mods.offset_ms, 86400000);
  EXPECT_EQ(std::get<matrix_selector>(m->node).range_ms, 300000);
}

TEST(Parser, PrintsBackAsPromQL) {
  EXPECT_EQ(to_string(*parse(R"(up{job="a",x=~"b.*"}[90m] offset -5m)")), R"(up{job="a", x=~"b.*"}[1h30m] offset -5m)");
  EXPECT_EQ(to_string(*parse(R"({__name__="up"})")), R"({__name__="up"})");
  EXPECT_EQ(to_string(*parse("up")), "up");
}

TEST(Parser, SelectorMatchersForFanOut) {
  auto e = parse(R"(up{job="a"}[5m])");
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(std::get<matrix_selector>(e->node).vs.label_matchers.size(), 2u);
  auto v = vector_selector_matchers(*e);
  ASSERT_FALSE(v.is_ok());
  EXPECT_NE(v.error().message().find("range vector"), std::string::npos);
  EXPECT_TRUE(vector_selector_matchers(*parse("up")).is_ok());
}

TEST(Parser, RejectsSelectorWithOnlyEmptyMatchers) {
  EXPECT_EQ(parse_error("{}"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(parse_error(R"({a=""})"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_EQ(parse_error(R"({a=~".*", b!="x"})"),
            "1:1: parse error: vector selector must contain at least one non-empty matcher");
  EXPECT_TRUE(parse(R"({a=~".+"})").is_ok());
}

TEST(Parser, RejectsMetricNameSetTwice) {
  EXPECT_EQ(parse_error(R"(a{__name__="b"})"), "1:1: parse error: metric name must not be set twice: \"a\" or \"b\"");
  EXPECT_EQ(parse_error(R"(a{"b"})"), "1:3: parse error: metric name must not be set twice: \"a\" or \"b\"");
}

TEST(Parser, UnexpectedCharacterInsideBracesNamesPosition) {
  EXPECT_EQ(parse_error(R"(metric{>"a"})"), "1:8: parse error: unexpected character inside braces: '>'");
  EXPECT_EQ(parse_error(R"(metric{a!"b"})"), "1:9: parse error: unexpected character after '!' inside braces: '\"'");
}

TEST(Parser, PositionsCountLines) {
  EXPECT_EQ(parse_error("up{\n  a=\"b\",\n  c>\"d\"}"), "3:4: parse error: unexpected character inside braces: '>'");
}

TEST(Parser, UnexpectedEndOfInput) {
  EXPECT_EQ(parse_error("up{a=\"b\""), "1:9: parse error: unexpected end of input inside braces");
  EXPECT_EQ(parse_error("up["), "1:4: parse error: unexpected end of input inside brackets");
  EXPECT_EQ(parse_error("up offset"), "1:10: parse error: unexpected end of input in offset, expected duration");
  EXPECT_EQ(parse_error(""), "1:1: parse error: no expression found in input");
}

TEST(Parser, LabelMatchingErrors) {
  EXPECT_EQ(parse_error("up{a}"),
            "1:5: parse error: unexpected \"}\" in label matching, expected label matching operator");
  EXPECT_EQ(parse_error("up{a=b}"), "1:6: parse error: unexpected identifier \"b\" in label matching, expected string");
  EXPECT_EQ(parse_error(R"(up{a="b" c="d"})"),
            "1:10: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"");
  EXPECT_EQ(parse_error("up{,}"), "1:4: parse error: unexpected \",\" in label matching, expected identifier or \"}\"");
}

TEST(Parser, InvalidRegexIsAParseError) {
  auto msg = parse_error(R"(up{a=~"(x"})");
  EXPECT_EQ(msg.rfind("1:4: parse error: invalid regular expression", 0), 0u) << msg;
}

TEST(Parser, BadStringEscapeIsAParseError) {
  EXPECT_EQ(parse_error(R"(up{a="\q"})"), "1:6: parse error: unknown escape sequence U+0071 'q'");
}

TEST(Parser, BadDurations) {
  EXPECT_EQ(parse_error("up[1m1h]"), "1:4: parse error: not a valid duration string: \"1m1h\"");
  EXPECT_EQ(parse_error("up[0s]"), "1:3: parse error: duration must be greater than 0");
  EXPECT_EQ(parse_error("up[5]"), "parsed: up[5s]");  // a number is seconds
  EXPECT_EQ(parse_error("up[\"5m\"]"), "1:4: parse error: unexpected string \"\\\"5m\\\"\" in range, expected duration");
}

TEST(Parser, ModifierOrderAndRepeats) {
  EXPECT_EQ(parse_error("up offset 1m [5m]"), "1:14: parse error: no offset modifiers allowed before range");
  EXPECT_EQ(parse_error("up offset 1m offset 2m"), "1:14: parse error: offset may not be set multiple times");
  EXPECT_EQ(parse_error("up[5m][5m]"), "1:7: parse error: ranges only allowed for vector selectors");
}

TEST(Parser, TrailingGarbage) {
  EXPECT_EQ(parse_error("up down"), "1:4: parse error: unexpected identifier \"down\"");
  EXPECT_EQ(parse_error("up }"), "1:4: parse error: unexpected right brace '}'");
}

}  // namespace
}  // namespace strata::query
