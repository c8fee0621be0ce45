#pragma once
// The data model: a series is a sorted label set (metric name is __name__)
// plus samples (int64 ms, float64 kept bit for bit).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace strata {

inline constexpr std::string_view metric_name_label = "__name__";

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

struct label {
  std::string name;
  std::string value;
  friend bool operator==(const label& a, const label& b) { return a.name == b.name && a.value == b.value; }
  friend bool operator<(const label& a, const label& b) {
    return a.name != b.name ? a.name < b.name : a.value < b.value;
  }
};

// Invariant where a function says "canonical": sorted by name, names unique and non-empty.
using labels = std::vector<label>;

struct sample {
  int64_t t = 0;  // milliseconds since the epoch
  double v = 0;
  friend bool operator==(const sample& a, const sample& b);  // bitwise on v
};

struct series {
  labels lbls;
  std::vector<sample> samples;
};

// What one write carries: any number of series, each with its samples in the
// order they were sent.
using write_batch = std::vector<series>;

void sort_labels(labels& ls);
// Returns the value of `name`, or "" when absent (Prometheus: absent == empty).
std::string_view label_value(const labels& ls, std::string_view name);
// `{__name__="x", a="b"}` style, for messages and logs.
std::string to_string(const labels& ls);
size_t sample_count(const write_batch& b);

}  // namespace strata
