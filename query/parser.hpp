#pragma once
// The PromQL parser: a recursive-descent parser over query::lexer tokens.
//
// Accepted today (Prometheus 3 syntax):
//   metric                          metric{a="b", c!="d", e=~"f.*", g!~"h"}
//   {__name__="metric"}             {"utf8.metric", "utf8.label"="v"}
//   <selector> offset 5m            <selector> offset -1h30m
//   <selector>[5m]                  <selector>[1h30m] offset 1d
// Strings are "..." or '...' with Go escapes, or `raw`.
// Anything else (numbers, operators, functions, aggregations, subqueries,
// @) is a parse error saying that only series selectors are supported for
// now. The grammar is laid out so those productions slot in: parse_expr()
// is where operator precedence climbing goes, parse_primary() where calls,
// aggregations, literals and parentheses go.
//
// Errors are strata_errc::bad_request, spelled like Prometheus's:
//   1:8: parse error: unexpected character inside braces: '>'
// (line:column of the error's first byte, both from 1).
#include <string_view>

#include "common/status.hpp"
#include "query/ast.hpp"

namespace strata::query {

result<expr> parse(std::string_view query);

}  // namespace strata::query
