#pragma once
// The PromQL syntax tree. Today it holds series selectors only; binary
// expressions, function calls, aggregations and subqueries become further
// alternatives of expr::node (holding their operands by std::unique_ptr<expr>).
#include <cstdint>
#include <string>
#include <variant>

#include "common/matcher.hpp"
#include "common/status.hpp"
#include "query/lexer.hpp"

namespace strata::query {

// The PromQL value types, named in messages as Prometheus names them.
enum class value_type : uint8_t { scalar, vector, matrix, string };
// "scalar", "instant vector", "range vector", "string".
const char* document_type(value_type t);

// `metric{a="b"} offset 5m`.
struct vector_selector {
  std::string name;         // the metric name written before the braces, or ""
  matchers label_matchers;  // includes __name__="name" when `name` is set
  int64_t offset_ms = 0;    // may be negative
  position_range pos;       // the selector itself, without the offset
};

// `metric{a="b"}[5m] offset 5m`; the offset lives in `vs`.
struct matrix_selector {
  vector_selector vs;
  int64_t range_ms = 0;  // > 0
  position_range pos;    // selector and range
};

struct expr {
  std::variant<vector_selector, matrix_selector> node;
};

value_type type_of(const expr& e);
// Prints the expression back as PromQL (Prometheus's spelling).
std::string to_string(const expr& e);

// The matchers of the expression's series selector, for callers that fetch
// or fan out before evaluating.
// REQUIRES: e is a vector or a matrix selector (true of every expr for now).
const matchers& selector_matchers(const expr& e);
// The matchers of a plain instant vector selector (as in `match[]`), or an
// error naming what the expression is instead.
result<matchers> vector_selector_matchers(const expr& e);

}  // namespace strata::query
