#pragma once
// What an evaluation returns, and the stale marker it has to recognise.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <variant>
#include <vector>

#include "common/series.hpp"

namespace strata::query {

// Prometheus writes this NaN (and only this bit pattern) to end a series;
// every other NaN is an ordinary value.
inline constexpr uint64_t stale_nan_bits = 0x7ff0000000000002ULL;

inline bool is_stale_nan(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits == stale_nan_bits;
}

inline double stale_nan() {
  double v;
  std::memcpy(&v, &stale_nan_bits, sizeof v);
  return v;
}

// One element of an instant vector: a series' labels and one sample.
struct instant_sample {
  labels metric;
  sample s;
};

using vector = std::vector<instant_sample>;
using matrix = std::vector<series>;

struct query_result {
  std::variant<vector, matrix> value;

  // Prometheus's resultType: "vector" or "matrix".
  std::string_view type() const { return value.index() == 0 ? "vector" : "matrix"; }
};

}  // namespace strata::query
