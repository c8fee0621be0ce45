#pragma once
// What an evaluation returns, and the stale marker it has to recognise.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/series.hpp"

namespace strata::query {

// One element of an instant vector: a series' labels and one sample.
struct instant_sample {
  labels metric;
  sample s;
};

using vector = std::vector<instant_sample>;
using matrix = std::vector<series>;

// A scalar result: the evaluation time and the value.
struct scalar_result {
  int64_t t = 0;
  double v = 0;
};

// A string result (a string literal at the top of a query).
struct string_result {
  int64_t t = 0;
  std::string v;
};

// Prometheus's annotations: warnings and infos, each "PromQL warning: ..." /
// "PromQL info: ...", without duplicates.
struct annotations {
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  void warn(std::string msg);
  void info(std::string msg);
};

struct query_result {
  std::variant<vector, matrix, scalar_result, string_result> value;
  std::vector<std::string> warnings;
  std::vector<std::string> infos;

  // Prometheus's resultType: "vector", "matrix", "scalar" or "string".
  std::string_view type() const {
    switch (value.index()) {
      case 0: return "vector";
      case 1: return "matrix";
      case 2: return "scalar";
      default: return "string";
    }
  }
};

}  // namespace strata::query
