// The whole PromQL grammar: a table of expressions with the text the
// formatter prints back (as /api/v1/format_query answers), and a table of
// errors with their positions.
#include <gtest/gtest.h>

#include <cmath>

#include "query/parser.hpp"

namespace strata::query {
namespace {

struct format_case {
  const char* in;
  const char* out;
};

class Formats : public ::testing::TestWithParam<format_case> {};

TEST_P(Formats, PrintsBackLikePrometheus) {
  auto e = parse(GetParam().in);
  ASSERT_TRUE(e.is_ok()) << GetParam().in << ": " << e.error().message();
  EXPECT_EQ(to_string(*e), GetParam().out) << GetParam().in;
  // Printing is a fixed point.
  auto again = parse(to_string(*e));
  ASSERT_TRUE(again.is_ok()) << to_string(*e) << ": " << again.error().message();
  EXPECT_EQ(to_string(*again), GetParam().out);
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, Formats,
    ::testing::Values(
        format_case{"1", "1"}, format_case{"0x1F", "31"}, format_case{"1e3", "1000"}, format_case{"1.5e-3", "0.0015"},
        format_case{"Inf", "Inf"}, format_case{"-Inf", "-Inf"}, format_case{"nan", "NaN"}, format_case{"-1", "-1"},
        format_case{"+5", "5"}, format_case{"\"a\\nb\"", "\"a\\nb\""}, format_case{"'it\\'s'", "\"it's\""},
        format_case{"`raw\\n`", "\"raw\\\\n\""}, format_case{"up", "up"},
        format_case{"up{job=~\"a.*\",x!=\"y\"}", "up{job=~\"a.*\", x!=\"y\"}"},
        format_case{"up[1h30m]", "up[1h30m]"}, format_case{"up offset -5m", "up offset -5m"},
        format_case{"up @ 100", "up @ 100.000"}, format_case{"up @ start()", "up @ start()"},
        format_case{"up[5m] @ end() offset 1m", "up[5m] @ end() offset 1m"},
        format_case{"up offset 1m @ 10", "up @ 10.000 offset 1m"}, format_case{"up[1y]", "up[1y]"},
        format_case{"up[100ms]", "up[100ms]"}, format_case{"up[300]", "up[5m]"},
        format_case{"rate(up[5m])[30m:1m]", "rate(up[5m])[30m:1m]"}, format_case{"up[30m:]", "up[30m:]"},
        format_case{"(up)[30m:] offset 5m", "(up)[30m:] offset 5m"}, format_case{"1 + 2 * 3", "1 + 2 * 3"},
        format_case{"(1 + 2) * 3", "(1 + 2) * 3"}, format_case{"a + on(x) group_left(y) b",
                                                              "a + on (x) group_left (y) b"},
        format_case{"a * ignoring(x) group_right b", "a * ignoring (x) group_right () b"},
        format_case{"a > bool b", "a > bool b"}, format_case{"a and on() b", "a and on () b"},
        format_case{"a unless ignoring(x) b", "a unless ignoring (x) b"}, format_case{"a or b", "a or b"},
        format_case{"a atan2 b", "a atan2 b"}, format_case{"sum(up)", "sum(up)"},
        format_case{"sum by (job) (up)", "sum by (job) (up)"}, format_case{"sum(up) by (job)", "sum by (job) (up)"},
        format_case{"sum without (a, b) (up)", "sum without (a, b) (up)"},
        format_case{"sum without () (up)", "sum without () (up)"}, format_case{"topk(3, up)", "topk(3, up)"},
        format_case{"count_values(\"v\", up)", "count_values(\"v\", up)"},
        format_case{"quantile by (a) (0.9, up)", "quantile by (a) (0.9, up)"},
        format_case{"limitk(2, up)", "limitk(2, up)"}, format_case{"limit_ratio(0.5, up)", "limit_ratio(0.5, up)"},
        format_case{"label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
                    "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"},
        format_case{"-up", "-up"}, format_case{"-sum(up)", "-sum(up)"}, format_case{"time()", "time()"},
        format_case{"round(up, 5)", "round(up, 5)"}, format_case{"{\"utf8.metric\"}", "{\"utf8.metric\"}"},
        format_case{"SUM(up)", "sum(up)"}, format_case{"up # comment", "up"},
        format_case{"a + fill(0) b", "a + fill (0) b"},
        format_case{"a + on(x) group_left fill_left(1) fill_right(2) b",
                    "a + on (x) group_left () fill_left (1) fill_right (2) b"},
        format_case{"up[5m+30s]", "up[5m30s]"}, format_case{"up offset (100 + 2)", "up offset 1m42s"},
        format_case{"up[step()]", "up[step()]"}, format_case{"up offset min_of(step(), 1s)", "up offset min_of(step(), 1s)"},
        format_case{"predict_linear(up[5m], 1h)", "predict_linear(up[5m], 1h)"},
        format_case{"rate(up[5m] anchored)", "rate(up[5m] anchored)"}, format_case{"up smoothed", "up smoothed"},
        format_case{"info(up, {data=~\".*\"})", "info(up, {data=~\".*\"})"}, format_case{"step() * 2", "step() * 2"}));

struct tree_case {
  const char* in;
  const char* parenthesized;  // the tree, fully parenthesized
};

std::string shape(const expr& e) {
  if (const auto* b = std::get_if<binary_expr>(&e.node))
    return "(" + shape(*b->lhs) + " " + std::string(operator_text(b->op)) + " " + shape(*b->rhs) + ")";
  if (const auto* u = std::get_if<unary_expr>(&e.node))
    return "(" + std::string(operator_text(u->op)) + shape(*u->operand) + ")";
  return to_string(e);
}

class Precedence : public ::testing::TestWithParam<tree_case> {};

TEST_P(Precedence, BindsLikePrometheus) {
  auto e = parse(GetParam().in);
  ASSERT_TRUE(e.is_ok()) << e.error().message();
  EXPECT_EQ(shape(*e), GetParam().parenthesized);
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, Precedence,
    ::testing::Values(tree_case{"a + b * c", "(a + (b * c))"}, tree_case{"a - b - c", "((a - b) - c)"},
                      tree_case{"a ^ b ^ c", "(a ^ (b ^ c))"}, tree_case{"-a ^ b", "(-(a ^ b))"},
                      tree_case{"-a * b", "((-a) * b)"}, tree_case{"-2 ^ 2", "(-(2 ^ 2))"},
                      tree_case{"a or b and c", "(a or (b and c))"}, tree_case{"a and b unless c", "((a and b) unless c)"},
                      tree_case{"a == b + c", "(a == (b + c))"}, tree_case{"a < b or c > d", "((a < b) or (c > d))"},
                      tree_case{"a * b atan2 c", "((a * b) atan2 c)"}, tree_case{"a / b % c", "((a / b) % c)"},
                      tree_case{"2 * -3", "(2 * -3)"}, tree_case{"a ^ -b", "(a ^ (-b))"},
                      tree_case{"a offset 100 + 2", "(a offset 1m40s + 2)"},
                      tree_case{"a offset -2 ^ 2", "(a offset -2s ^ 2)"}));

TEST(Grammar, NumberLiteralsFoldTheirSign) {
  auto e = parse("-0x10");
  ASSERT_TRUE(e.is_ok());
  EXPECT_EQ(std::get<number_literal>(e->node).value, -16);
  auto nan = parse("NaN");
  ASSERT_TRUE(nan.is_ok());
  EXPECT_TRUE(std::isnan(std::get<number_literal>(nan->node).value));
}

TEST(Grammar, AtAndOffsetModifiers) {
  auto e = parse("up @ 1.5 offset -1m");
  ASSERT_TRUE(e.is_ok());
  const auto& m = std::get<vector_selector>(e->node).mods;
  EXPECT_EQ(m.at, at_kind::timestamp);
  EXPECT_EQ(m.at_ms, 1500);
  EXPECT_EQ(m.offset_ms, -60000);
  auto sq = parse("up[1h:5m] @ start()");
  ASSERT_TRUE(sq.is_ok());
  const auto& s = std::get<subquery_expr>(sq->node);
  EXPECT_EQ(s.range_ms, 3600000);
  EXPECT_EQ(s.step_ms, 300000);
  EXPECT_EQ(s.mods.at, at_kind::start);
}

TEST(Grammar, TypesOfExpressions) {
  EXPECT_EQ(type_of(*parse("1 + 1")), value_type::scalar);
  EXPECT_EQ(type_of(*parse("up + 1")), value_type::vector);
  EXPECT_EQ(type_of(*parse("up[5m]")), value_type::matrix);
  EXPECT_EQ(type_of(*parse("up[5m:]")), value_type::matrix);
  EXPECT_EQ(type_of(*parse("\"s\"")), value_type::string);
  EXPECT_EQ(type_of(*parse("scalar(up)")), value_type::scalar);
  EXPECT_EQ(type_of(*parse("(time())")), value_type::scalar);
}

struct error_case {
  const char* in;
  const char* message;
};

class Errors : public ::testing::TestWithParam<error_case> {};

TEST_P(Errors, FailWithPrometheusMessage) {
  auto e = parse(GetParam().in);
  ASSERT_FALSE(e.is_ok()) << GetParam().in << " parsed as " << to_string(*e);
  EXPECT_EQ(e.error().code(), strata_errc::bad_request);
  EXPECT_EQ(e.error().message(), GetParam().message) << GetParam().in;
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, Errors,
    ::testing::Values(
        error_case{"", "1:1: parse error: no expression found in input"},
        error_case{"1 +", "1:4: parse error: unexpected end of input"},
        error_case{"1 == 1", "1:1: parse error: comparisons between scalars must use BOOL modifier"},
        error_case{"up + bool 1", "1:1: parse error: bool modifier can only be used on comparison operators"},
        error_case{"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
        error_case{"up[5m] + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types"},
        error_case{"1 + on(a) up", "1:1: parse error: vector matching only allowed between instant vectors"},
        error_case{"a and on(x) group_left b", "1:1: parse error: no grouping allowed for \"and\" operation"},
        error_case{"a + on(x) group_left(x) b",
                   "1:1: parse error: label \"x\" must not occur in ON and GROUP clause at once"},
        error_case{"rate(up)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
        error_case{"rate(up[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"},
        error_case{"label_join(up, \"a\")",
                   "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"},
        error_case{"round(up, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
        error_case{"nosuchfn(up)", "1:1: parse error: unknown function with name \"nosuchfn\""},
        error_case{"sum(up[5m])",
                   "1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
        error_case{"topk(up)", "1:1: parse error: wrong number of arguments for aggregate expression provided, "
                               "expected 2, got 1"},
        error_case{"topk(\"a\", up)", "1:6: parse error: expected type scalar in aggregation parameter, got string"},
        error_case{"count_values(1, up)",
                   "1:14: parse error: expected type string in aggregation parameter, got scalar"},
        error_case{"up[5m][1h:]", "1:1: parse error: subquery is only allowed on instant vector, got range vector instead"},
        error_case{"-up[5m]",
                   "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, "
                   "got \"range vector\""},
        error_case{"(1) offset 5m",
                   "1:5: parse error: offset modifier must be preceded by an instant vector selector or range vector "
                   "selector or a subquery"},
        error_case{"up @ 1 @ 2", "1:8: parse error: @ <timestamp> may not be set multiple times"},
        error_case{"sum(up", "1:7: parse error: unexpected end of input in aggregation, expected \",\" or \")\""},
        error_case{"(up", "1:4: parse error: unexpected end of input in paren expression, expected \")\""},
        error_case{"up\n  + {}", "2:5: parse error: vector selector must contain at least one non-empty matcher"}));

}  // namespace
}  // namespace strata::query
