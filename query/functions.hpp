#pragma once
// PromQL's numeric functions as plain functions over samples and numbers.
// No AST, no series_source, no annotations: the evaluator calls them, checks
// argument ranges that must fail the query, and turns flags into warnings.
//
// Every function follows Prometheus 3.x to the bit where its test corpus
// checks results: Kahan-Neumaier sums, the direct mean that switches to an
// incremental mean when the sum would overflow, Welford variance with
// compensated terms, and rate extrapolation with the counter zero point.
// Stateless and thread-safe.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "common/series.hpp"

namespace strata::query::fn {

// The samples of one series inside a range window (t - range, t] (left-open,
// Prometheus 3), stale markers already removed, oldest first. `end_ms` is the
// evaluation time t (after offset/@), `range_ms` the range.
struct window {
  const sample* begin;
  const sample* end;
  int64_t end_ms;
  int64_t range_ms;

  size_t size() const { return static_cast<size_t>(end - begin); }
  bool empty() const { return begin == end; }
};

// A range-vector function: false when it has no output for this window (e.g.
// rate with < 2 samples). `args` are the function's scalar arguments in call
// order, without the range vector:
//   quantile_over_time(q, v[..])                -> {q}
//   predict_linear(v[..], t)                    -> {t}: predicts t seconds after end_ms
//   double_exponential_smoothing(v[..], sf, tf) -> {sf, tf} (holt_winters alike)
// Differences from Prometheus that the evaluator bridges:
// - predict_linear: Prometheus predicts from the step time before `offset`;
//   with `offset o` pass t + o (seconds) to get its answer.
// - double_exponential_smoothing: Prometheus fails the query unless
//   0 < sf < 1 and 0 < tf < 1 ("invalid smoothing factor. Expected: 0 < sf < 1,
//   got: %f", "invalid trend factor. ..."); check first. Out of range here
//   yields no output.
// - quantile_over_time with q outside [0, 1] or NaN answers -Inf/+Inf/NaN; the
//   warning is the evaluator's.
// - `anchored`/`smoothed` selectors need samples outside the window: not here.
using range_fn = bool (*)(const window& w, const double* args, double& out);

// nullptr if unknown. Covers rate, increase, delta, irate, idelta, deriv,
// predict_linear, resets, changes, avg/min/max/sum/count/stddev/stdvar/last/
// present/mad_over_time, quantile_over_time, double_exponential_smoothing (and
// holt_winters), ts_of_min/max/last_over_time, first_over_time,
// ts_of_first_over_time. Not absent_over_time (it needs the whole matrix).
range_fn find_range_function(std::string_view name);

// The number of scalar arguments a range function takes (see range_fn), or -1
// when `name` is no range function here.
int range_function_arg_count(std::string_view name);

// Prometheus's extrapolation of rate/increase/delta from a window's summary:
// the first and last sample, the sample count (>= 2) and the change between
// them (for counters reset-aware: every drop counts as a restart from 0).
// Extrapolates towards (end_ms - range_ms, end_ms] by at most 110% of the
// average spacing, for counters not before the counter's zero point; per
// second when is_rate. Rollup buckets give the same summary.
struct change {
  int64_t first_t;
  double first;
  int64_t last_t;
  double last;
  size_t count;
  double result;
};
// What extrapolate computes from where a window's first and last samples lie
// alone (not their values): the sampled interval and the extrapolated
// distances to the window's edges, in seconds, and the factor when no
// counter's zero point cuts the start short. Regular scrapes give the same
// edges window after window, so a caller sliding over a series computes
// them when they change (extrapolate_edges::same) and only the value-dependent
// rest per window: the same operations, so the same bits.
struct extrapolate_edges {
  int64_t from_start, to_end, span;  // first_t - window start, end - last_t, last_t - first_t (ms)
  size_t count;
  double sampled, to_start_s, to_end_s, factor;
  bool same(int64_t first_t, int64_t last_t, size_t n, int64_t end_ms, int64_t range_ms) const {
    return from_start == first_t - (end_ms - range_ms) && to_end == end_ms - last_t && span == last_t - first_t &&
           count == n;
  }
};
inline extrapolate_edges edges_of(int64_t first_t, int64_t last_t, size_t count, int64_t end_ms, int64_t range_ms,
                                  bool is_rate) {
  const int64_t range_start = end_ms - range_ms;
  extrapolate_edges e{first_t - range_start, end_ms - last_t, last_t - first_t, count, 0, 0, 0, 0};
  double to_start = static_cast<double>(first_t - range_start) / 1000;
  double to_end = static_cast<double>(end_ms - last_t) / 1000;
  const double sampled = static_cast<double>(last_t - first_t) / 1000;
  const double avg_spacing = sampled / static_cast<double>(count - 1);
  const double threshold = avg_spacing * 1.1;
  if (to_start >= threshold) to_start = avg_spacing / 2;
  if (to_end >= threshold) to_end = avg_spacing / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= static_cast<double>(range_ms) / 1000;
  e.sampled = sampled;
  e.to_start_s = to_start;
  e.to_end_s = to_end;
  e.factor = factor;
  return e;
}
// Whether sampled * (first / result), the time back to the counter's zero
// point, is surely not less than to_start: sampled * first exceeds
// to_start * result by more than the rounding of both products and of the
// quotient can make up, all of them normal numbers. Then the division per
// window (a quarter of rate's time) is not needed to know that the zero
// point does not cut the window's start short; otherwise it is done as
// Prometheus does it. REQUIRES: result > 0, first >= 0.
inline bool counter_zero_is_far(const extrapolate_edges& e, double first, double result) {
  const double lhs = e.sampled * first, rhs = e.to_start_s * result;
  return rhs >= 0x1p-1000 && lhs <= std::numeric_limits<double>::max() && lhs >= rhs * (1 + 0x1p-48);
}
// Inline: called once per window and step.
inline double extrapolate(const change& c, const extrapolate_edges& e, int64_t range_ms, bool is_counter,
                          bool is_rate) {
  const double result = c.result;
  if (is_counter) {
    double to_zero = e.to_start_s;
    if (result > 0 && c.first >= 0 && !counter_zero_is_far(e, c.first, result))
      to_zero = e.sampled * (c.first / result);
    if (to_zero < e.to_start_s) {
      double factor = (e.sampled + to_zero + e.to_end_s) / e.sampled;
      if (is_rate) factor /= static_cast<double>(range_ms) / 1000;
      return result * factor;
    }
  }
  return result * e.factor;
}
inline double extrapolate(const change& c, int64_t end_ms, int64_t range_ms, bool is_counter, bool is_rate) {
  return extrapolate(c, edges_of(c.first_t, c.last_t, c.count, end_ms, range_ms, is_rate), range_ms, is_counter,
                     is_rate);
}

// One-number functions: abs, ceil, floor, exp, ln, log2, log10, sqrt, sgn, all
// trig incl. hyperbolic and inverse, deg, rad, and the date functions
// day_of_month, day_of_week, day_of_year, days_in_month, hour, minute, month,
// year taking unix seconds (UTC; truncated towards zero like Go's int64();
// NaN and +-Inf give NaN).
using math_fn = double (*)(double);
math_fn find_math_function(std::string_view name);  // nullptr if unknown

// round(v, to_nearest): ties round up; divides by 1/to_nearest like Prometheus.
double round_to(double v, double to_nearest);
// max(lo, min(hi, v)) with Go's NaN rules (a NaN bound or value gives NaN).
// Returns NaN when lo > hi; Prometheus then drops the element altogether
// (clamp answers an empty vector), which the evaluator has to do itself.
double clamp(double v, double lo, double hi);

// histogram_quantile over classic buckets of one series group: (le, cumulative
// count) pairs in any order (sorted and coalesced in place); Prometheus's rules:
// q NaN -> NaN, q < 0 -> -Inf, q > 1 -> +Inf, no +Inf bucket, fewer than two
// buckets or zero observations -> NaN, counts within 1e-12 relative treated as
// equal, decreasing counts raised to the running maximum (sets
// `*forced_monotonic`), linear interpolation inside a bucket, lowest bucket
// starts at 0 when its bound is positive, the +Inf bucket answers the second
// highest bound.
double histogram_quantile(double q, std::vector<std::pair<double, double>>& buckets,
                          bool* forced_monotonic = nullptr);
// histogram_fraction(lo, hi, ...) over the same buckets: the fraction of
// observations in (lo, hi], interpolating linearly inside buckets (none inside
// the -Inf or +Inf bucket: their observations sit at the finite bound). NaN when
// there are no buckets, no +Inf bucket, no observations or a NaN bound; 0 when
// lo >= hi.
double histogram_fraction_classic(double lo, double hi, std::vector<std::pair<double, double>>& buckets);

// quantile aggregation over values (Prometheus: linear interpolation between
// closest ranks, NaN sorts lowest). Sorts `values`. Empty or q NaN -> NaN,
// q < 0 -> -Inf, q > 1 -> +Inf.
double quantile(double q, std::vector<double>& values);

// Kahan-Neumaier compensated summation as Prometheus 3 uses it
// (sum_over_time, avg_over_time, sum/avg aggregations).
struct kahan {
  double sum = 0, c = 0;
  void add(double v);
  // sum + c, or sum alone once it is infinite (so Inf - Inf stays Inf).
  double value() const;
};

// Prometheus's avg: direct Kahan mean while the running sum stays finite,
// incremental Kahan mean from the first value that would overflow it (the
// avg aggregation and avg_over_time).
class mean_accumulator {
 public:
  void add(double v);
  double value() const;  // NaN when nothing was added
  double count() const { return count_; }

 private:
  double count_ = 0;
  double sum_ = 0, c_ = 0, mean_ = 0;
  bool incremental_ = false;
};

// Defined here so that the loops of range functions and aggregations keep
// the running sums in registers (the same operations, so the same bits).
inline void kahan::add(double v) {
  const double t = sum + v;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(v)) {
    c += (sum - t) + v;
  } else {
    c += (v - t) + sum;
  }
  sum = t;
}

inline double kahan::value() const { return std::isinf(sum) ? sum : sum + c; }

inline void mean_accumulator::add(double v) {
  count_ += 1;
  if (count_ == 1) {
    sum_ = v;
    return;
  }
  if (!incremental_) {
    kahan k{sum_, c_};
    k.add(v);
    if (!std::isinf(k.sum)) {
      sum_ = k.sum;
      c_ = k.c;
      return;
    }
    incremental_ = true;
    mean_ = sum_ / (count_ - 1);
    c_ /= count_ - 1;
  }
  const double q = (count_ - 1) / count_;
  kahan k{q * mean_, q * c_};
  k.add(v / count_);
  mean_ = k.sum;
  c_ = k.c;
}

inline double mean_accumulator::value() const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  if (incremental_) return mean_ + c_;
  return sum_ / count_ + c_ / count_;
}

// Welford variance with compensated mean and sum of squares, as Prometheus's
// stddev/stdvar aggregations and *_over_time compute it (population variance).
class variance_accumulator {
 public:
  void add(double v);
  double variance() const;  // NaN when nothing was added
  double count() const { return count_; }

 private:
  double count_ = 0;
  double mean_ = 0, c_mean_ = 0, aux_ = 0, c_aux_ = 0;
};

}  // namespace strata::query::fn
