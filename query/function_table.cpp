#include "query/function_table.hpp"

#include <unordered_map>

namespace strata::query {
namespace {

using vt = value_type;

std::unordered_map<std::string_view, function_signature> make_table() {
  std::unordered_map<std::string_view, function_signature> t;
  auto add = [&t](std::string_view name, std::vector<vt> args, int variadic = 0, vt ret = vt::vector) {
    t.emplace(name, function_signature{name, std::move(args), variadic, ret});
  };
  for (std::string_view f : {"abs", "ceil", "exp", "floor", "ln", "log2", "log10", "sqrt", "sgn", "acos", "acosh",
                             "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg",
                             "rad", "timestamp", "sort", "sort_desc", "absent", "histogram_count", "histogram_sum",
                             "histogram_avg", "histogram_stddev", "histogram_stdvar"})
    add(f, {vt::vector});
  for (std::string_view f : {"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month",
                             "year"})
    add(f, {vt::vector}, 1);
  for (std::string_view f :
       {"rate", "increase", "delta", "irate", "idelta", "deriv", "resets", "changes", "avg_over_time",
        "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "stddev_over_time", "stdvar_over_time",
        "last_over_time", "first_over_time", "present_over_time", "mad_over_time", "absent_over_time",
        "ts_of_min_over_time", "ts_of_max_over_time", "ts_of_last_over_time", "ts_of_first_over_time"})
    add(f, {vt::matrix});
  add("quantile_over_time", {vt::scalar, vt::matrix});
  add("predict_linear", {vt::matrix, vt::scalar});
  add("double_exponential_smoothing", {vt::matrix, vt::scalar, vt::scalar});
  add("holt_winters", {vt::matrix, vt::scalar, vt::scalar});
  add("clamp", {vt::vector, vt::scalar, vt::scalar});
  add("clamp_min", {vt::vector, vt::scalar});
  add("clamp_max", {vt::vector, vt::scalar});
  add("round", {vt::vector, vt::scalar}, 1);
  add("histogram_quantile", {vt::scalar, vt::vector});
  add("histogram_fraction", {vt::scalar, vt::scalar, vt::vector});
  add("histogram_quantiles", {vt::vector, vt::string, vt::scalar}, -1);
  add("label_replace", {vt::vector, vt::string, vt::string, vt::string, vt::string});
  add("label_join", {vt::vector, vt::string, vt::string, vt::string}, -1);
  add("sort_by_label", {vt::vector, vt::string}, -1);
  add("sort_by_label_desc", {vt::vector, vt::string}, -1);
  add("scalar", {vt::vector}, 0, vt::scalar);
  add("info", {vt::vector, vt::vector}, 1);
  add("vector", {vt::scalar});
  add("time", {}, 0, vt::scalar);
  add("pi", {}, 0, vt::scalar);
  // The query's step and end - start (0 for an instant query), start and end,
  // in seconds; min_of/max_of of two scalars (NaN wins).
  add("step", {}, 0, vt::scalar);
  add("range", {}, 0, vt::scalar);
  add("start", {}, 0, vt::scalar);
  add("end", {}, 0, vt::scalar);
  add("min_of", {vt::scalar, vt::scalar}, 0, vt::scalar);
  add("max_of", {vt::scalar, vt::scalar}, 0, vt::scalar);
  return t;
}

}  // namespace

const function_signature* find_function(std::string_view name) {
  static const auto table = make_table();
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace strata::query
