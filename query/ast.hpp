#pragma once
// The PromQL syntax tree. An expr owns its operands through expr_ptr; the
// tree is immutable once the parser returns it, and every node keeps the
// byte range it was parsed from (for error messages).
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/matcher.hpp"
#include "common/status.hpp"
#include "query/lexer.hpp"

namespace strata::query {

// The PromQL value types, named in messages as Prometheus names them.
enum class value_type : uint8_t { scalar, vector, matrix, string };
// "scalar", "instant vector", "range vector", "string".
const char* document_type(value_type t);

struct expr;
using expr_ptr = std::unique_ptr<expr>;

// A duration written as arithmetic (`[5m+30s]`, `offset step()*2`,
// `[min_of(range(), 1h)]`), in seconds; step() and range() are the query's
// step and end - start, known only at evaluation.
struct duration_expr {
  enum class kind : uint8_t { literal, step, range, negate, binary, min_of, max_of };
  kind k = kind::literal;
  double seconds = 0;              // literal
  token_kind op = token_kind::add; // binary
  std::shared_ptr<const duration_expr> a, b;
};
using duration_ptr = std::shared_ptr<const duration_expr>;

double eval_duration(const duration_expr& d, double step_s, double range_s);
// Milliseconds, rounded.
int64_t eval_duration_ms(const duration_expr& d, int64_t step_ms, int64_t range_ms);
std::string to_string(const duration_expr& d);

// What an `@` modifier pins the evaluation time to.
enum class at_kind : uint8_t { none, timestamp, start, end };

// The `offset` and `@` modifiers of a selector or a subquery.
struct time_modifiers {
  int64_t offset_ms = 0;  // may be negative
  duration_ptr offset_expr;  // set when the offset depends on step() or range()
  at_kind at = at_kind::none;
  int64_t at_ms = 0;  // at == at_kind::timestamp only
};

struct number_literal {
  double value = 0;
  position_range pos;
  bool duration = false;  // written as a duration (`1h` is 3600); printed back as one
};

struct string_literal {
  std::string value;
  position_range pos;
};

// `x[1m] anchored`: the window also takes the newest sample at or before its
// start; `x[1m] smoothed` / `x smoothed`: values at the window's ends are
// interpolated between the samples around them.
enum class range_mode : uint8_t { plain, anchored, smoothed };

// `metric{a="b"} @ 100 offset 5m`.
struct vector_selector {
  std::string name;         // the metric name written before or inside the braces, or ""
  matchers label_matchers;  // includes __name__="name" when `name` is set
  time_modifiers mods;
  range_mode mode = range_mode::plain;
  position_range pos;  // the selector itself, without modifiers
};

// `metric{a="b"}[5m] offset 5m`; the modifiers live in `vs`.
struct matrix_selector {
  vector_selector vs;
  int64_t range_ms = 0;  // > 0
  duration_ptr range_expr;  // set when the range depends on step() or range()
  position_range pos;    // selector and range
};

// `<expr>[range:step]`; step_ms == 0 means the default subquery step.
struct subquery_expr {
  expr_ptr inner;
  int64_t range_ms = 0;
  int64_t step_ms = 0;
  duration_ptr range_expr, step_expr;  // set when they depend on step() or range()
  time_modifiers mods;
  position_range pos;
};

struct paren_expr {
  expr_ptr inner;
  position_range pos;
};

// `-x` or `+x` (number literals are folded by the parser instead).
struct unary_expr {
  token_kind op = token_kind::sub;  // sub or add
  expr_ptr operand;
  position_range pos;
};

enum class cardinality : uint8_t { one_to_one, many_to_one, one_to_many, many_to_many };

// How the series of two vectors pair up (`on`, `ignoring`, `group_left`).
struct vector_matching {
  cardinality card = cardinality::one_to_one;
  bool on = false;                  // `on(...)`; otherwise `ignoring(...)` (possibly empty)
  std::vector<std::string> labels;  // the on/ignoring labels
  std::vector<std::string> include; // group_left/group_right labels
  // `fill(v)`, `fill_left(v)`, `fill_right(v)`: the value a missing series on
  // that side takes (left is the many side, right the one side, also under
  // group_right).
  bool fill_left = false, fill_right = false;
  double fill_left_value = 0, fill_right_value = 0;
};

struct binary_expr {
  token_kind op = token_kind::add;
  expr_ptr lhs;
  expr_ptr rhs;
  bool return_bool = false;
  // Set when both sides are instant vectors; written modifiers are kept
  // as well for printing.
  bool has_matching = false;  // `on`/`ignoring` was written
  vector_matching matching;
  position_range pos;
};

struct call_expr {
  std::string func;
  std::vector<expr_ptr> args;
  position_range pos;
};

struct aggregate_expr {
  token_kind op = token_kind::kw_sum;
  expr_ptr operand;
  expr_ptr param;  // topk/bottomk/quantile/count_values/limitk/limit_ratio
  std::vector<std::string> grouping;
  bool without = false;
  bool grouping_written = false;  // `by ()` printed only when written with labels
  position_range pos;
};

struct expr {
  std::variant<vector_selector, matrix_selector, number_literal, string_literal, subquery_expr, paren_expr,
               unary_expr, binary_expr, call_expr, aggregate_expr>
      node;
};

value_type type_of(const expr& e);
position_range position_of(const expr& e);
// Prints the expression back as PromQL, spelled like Prometheus's formatter.
std::string to_string(const expr& e);
// Prometheus's spelling of a number literal: "Inf", "-Inf", "NaN", or the
// shortest decimal that reads back exactly, without exponent.
std::string format_number(double v);
// The operator's text: "+", "==", "and", "atan2", ...
std::string_view operator_text(token_kind op);
// Aggregation keyword text: "sum", "topk", ...
std::string_view aggregator_text(token_kind op);

// Strips enclosing parentheses.
const expr& unwrap_parens(const expr& e);

// The matchers of a plain instant vector selector (as in `match[]`), or an
// error naming what the expression is instead.
result<matchers> vector_selector_matchers(const expr& e);

}  // namespace strata::query
