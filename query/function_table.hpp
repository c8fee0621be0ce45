#pragma once
// The signatures of PromQL's functions, for the parser's argument checks and
// the evaluator's dispatch. The numeric work lives in query/functions.hpp.
#include <string_view>
#include <vector>

#include "query/ast.hpp"

namespace strata::query {

struct function_signature {
  std::string_view name;
  std::vector<value_type> arg_types;
  // 0: exactly arg_types; n > 0: up to n trailing arguments may be left out;
  // -1: the last argument may repeat any number of times (and may be left out).
  int variadic = 0;
  value_type return_type = value_type::vector;
};

// nullptr when `name` is no PromQL function.
const function_signature* find_function(std::string_view name);

}  // namespace strata::query
