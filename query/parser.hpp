#pragma once
// The PromQL parser: recursive descent over query::lexer tokens, with
// precedence climbing for binary operators. It accepts Prometheus 3's whole
// grammar (see docs/design/query.md): literals, selectors, ranges, offset,
// @, subqueries, unary and binary operators with their modifiers
// (bool, on/ignoring, group_left/group_right, fill/fill_left/fill_right),
// aggregations, function calls and duration arithmetic in ranges and
// offsets.
//
// Syntax errors are reported first; Prometheus's type checks (operand and
// argument types, argument counts, modifier rules) run on the finished tree.
// Errors are strata_errc::bad_request, spelled like Prometheus's:
//   1:8: parse error: unexpected character inside braces: '>'
// (line:column of the error's first byte, both from 1).
#include <string_view>

#include "common/status.hpp"
#include "query/ast.hpp"

namespace strata::query {

result<expr> parse(std::string_view query);

}  // namespace strata::query
