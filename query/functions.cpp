#include "query/functions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace strata::query::fn {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();
constexpr double pi_v = 3.14159265358979323846;

// Go's float64 -> int64 conversion truncates towards zero; out-of-range and
// NaN inputs are undefined in C++, so they are refused here.
bool to_unix_seconds(double v, int64_t& out) {
  if (!std::isfinite(v) || v >= 9.2e18 || v <= -9.2e18) return false;
  out = static_cast<int64_t>(v);
  return true;
}

struct civil {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
  int64_t days;    // days since 1970-01-01
  int64_t secs_of_day;
};

// Proleptic Gregorian calendar from days since the epoch (H. Hinnant's
// civil_from_days), valid for the whole int64 range used here.
civil to_civil(int64_t unix_secs) {
  int64_t days = unix_secs / 86400;
  int64_t rem = unix_secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  return {y, m, d, days, rem};
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in(int64_t y, unsigned m) {
  static constexpr unsigned table[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : table[m - 1];
}

template <double (*F)(const civil&)>
double date_fn(double v) {
  int64_t secs;
  if (!to_unix_seconds(v, secs)) return nan_v;
  return F(to_civil(secs));
}

double civil_year(const civil& c) { return static_cast<double>(c.year); }
double civil_month(const civil& c) { return c.month; }
double civil_day_of_month(const civil& c) { return c.day; }
double civil_days_in_month(const civil& c) { return days_in(c.year, c.month); }
double civil_hour(const civil& c) { return static_cast<double>(c.secs_of_day / 3600); }
double civil_minute(const civil& c) { return static_cast<double>(c.secs_of_day % 3600 / 60); }
double civil_day_of_week(const civil& c) {
  // 1970-01-01 was a Thursday (4); Sunday is 0.
  int64_t w = (c.days % 7 + 7 + 4) % 7;
  return static_cast<double>(w);
}
double civil_day_of_year(const civil& c) {
  unsigned d = c.day;
  for (unsigned m = 1; m < c.month; ++m) d += days_in(c.year, m);
  return d;
}

double f_abs(double v) { return std::fabs(v); }
double f_ceil(double v) { return std::ceil(v); }
double f_floor(double v) { return std::floor(v); }
double f_exp(double v) { return std::exp(v); }
double f_ln(double v) { return std::log(v); }
double f_log2(double v) { return std::log2(v); }
double f_log10(double v) { return std::log10(v); }
double f_sqrt(double v) { return std::sqrt(v); }
double f_sin(double v) { return std::sin(v); }
double f_cos(double v) { return std::cos(v); }
double f_tan(double v) { return std::tan(v); }
double f_asin(double v) { return std::asin(v); }
double f_acos(double v) { return std::acos(v); }
double f_atan(double v) { return std::atan(v); }
double f_sinh(double v) { return std::sinh(v); }
double f_cosh(double v) { return std::cosh(v); }
double f_tanh(double v) { return std::tanh(v); }
double f_asinh(double v) { return std::asinh(v); }
double f_acosh(double v) { return std::acosh(v); }
double f_atanh(double v) { return std::atanh(v); }
double f_deg(double v) { return v * 180 / pi_v; }
double f_rad(double v) { return v * pi_v / 180; }
double f_sgn(double v) {
  if (v < 0) return -1;
  if (v > 0) return 1;
  return v;  // 0, -0 and NaN stay as they are
}

struct math_entry {
  std::string_view name;
  math_fn f;
};

constexpr math_entry math_table[] = {
    {"abs", f_abs},
    {"ceil", f_ceil},
    {"floor", f_floor},
    {"exp", f_exp},
    {"ln", f_ln},
    {"log2", f_log2},
    {"log10", f_log10},
    {"sqrt", f_sqrt},
    {"sgn", f_sgn},
    {"sin", f_sin},
    {"cos", f_cos},
    {"tan", f_tan},
    {"asin", f_asin},
    {"acos", f_acos},
    {"atan", f_atan},
    {"sinh", f_sinh},
    {"cosh", f_cosh},
    {"tanh", f_tanh},
    {"asinh", f_asinh},
    {"acosh", f_acosh},
    {"atanh", f_atanh},
    {"deg", f_deg},
    {"rad", f_rad},
    {"day_of_month", date_fn<civil_day_of_month>},
    {"day_of_week", date_fn<civil_day_of_week>},
    {"day_of_year", date_fn<civil_day_of_year>},
    {"days_in_month", date_fn<civil_days_in_month>},
    {"hour", date_fn<civil_hour>},
    {"minute", date_fn<civil_minute>},
    {"month", date_fn<civil_month>},
    {"year", date_fn<civil_year>},
};

// NaN sorts lowest, like Prometheus's vectorByValueHeap.
bool nan_first_less(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a < b;
}

using bucket = std::pair<double, double>;  // (upper bound, cumulative count)

void sort_and_coalesce(std::vector<bucket>& b) {
  std::stable_sort(b.begin(), b.end(), [](const bucket& x, const bucket& y) { return x.first < y.first; });
  size_t out = 0;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].first == b[out].first) {
      b[out].second += b[i].second;
    } else {
      b[++out] = b[i];
    }
  }
  b.resize(out + 1);
}

// Counts that differ from their predecessor by at most `tolerance` relative
// are float noise: treat them as equal.
void correct_precision_errors(std::vector<bucket>& b, double tolerance) {
  double prev = b[0].second;
  for (size_t i = 1; i < b.size(); ++i) {
    const double curr = b[i].second;
    const double delta = std::fabs(curr - prev);
    if (delta == 0) continue;
    if (delta / curr <= tolerance) {
      b[i].second = prev;
    } else {
      prev = curr;
    }
  }
}

bool ensure_monotonic(std::vector<bucket>& b) {
  bool forced = false;
  double max = b[0].second;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].second > max) {
      max = b[i].second;
    } else if (b[i].second < max) {
      b[i].second = max;
      forced = true;
    }
  }
  return forced;
}

}  // namespace

void variance_accumulator::add(double v) {
  count_ += 1;
  const double delta = v - (mean_ + c_mean_);
  kahan m{mean_, c_mean_};
  m.add(delta / count_);
  mean_ = m.sum;
  c_mean_ = m.c;
  kahan a{aux_, c_aux_};
  a.add(delta * (v - (mean_ + c_mean_)));
  aux_ = a.sum;
  c_aux_ = a.c;
}

double variance_accumulator::variance() const {
  if (count_ == 0) return nan_v;
  return (aux_ + c_aux_) / count_;
}

math_fn find_math_function(std::string_view name) {
  for (const auto& e : math_table) {
    if (e.name == name) return e.f;
  }
  return nullptr;
}

double round_to(double v, double to_nearest) {
  const double inverse = 1.0 / to_nearest;
  return std::floor(v * inverse + 0.5) / inverse;
}

double clamp(double v, double lo, double hi) {
  if (hi < lo) return nan_v;
  // Go's math.Max/Min: NaN wins.
  if (std::isnan(v) || std::isnan(lo) || std::isnan(hi)) return nan_v;
  return std::max(lo, std::min(hi, v));
}

double quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return nan_v;
  if (q < 0) return -inf_v;
  if (q > 1) return inf_v;
  std::sort(values.begin(), values.end(), nan_first_less);
  const double n = static_cast<double>(values.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) + values[static_cast<size_t>(upper)] * weight;
}

double histogram_quantile(double q, std::vector<std::pair<double, double>>& buckets, bool* forced_monotonic) {
  if (forced_monotonic != nullptr) *forced_monotonic = false;
  if (std::isnan(q)) return nan_v;
  if (q < 0) return -inf_v;
  if (q > 1) return inf_v;
  if (buckets.empty()) return nan_v;
  sort_and_coalesce(buckets);
  if (!(std::isinf(buckets.back().first) && buckets.back().first > 0)) return nan_v;
  correct_precision_errors(buckets, 1e-12);
  const bool forced = ensure_monotonic(buckets);
  if (buckets.size() < 2) return nan_v;
  const double observations = buckets.back().second;
  if (observations == 0) return nan_v;
  if (forced_monotonic != nullptr) *forced_monotonic = forced;

  double rank = q * observations;
  // The first bucket among all but +Inf whose count reaches the rank.
  size_t b = 0;
  const size_t n = buckets.size() - 1;
  {
    size_t lo = 0, hi = n;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (buckets[mid].second >= rank) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    b = lo;
  }
  if (b == n) return buckets[n - 1].first;
  if (b == 0 && buckets[0].first <= 0) return buckets[0].first;
  double start = 0;
  const double end = buckets[b].first;
  double count = buckets[b].second;
  if (b > 0) {
    start = buckets[b - 1].first;
    count -= buckets[b - 1].second;
    rank -= buckets[b - 1].second;
  }
  return start + (end - start) * (rank / count);
}

double histogram_fraction_classic(double lo, double hi, std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty()) return nan_v;
  sort_and_coalesce(buckets);
  if (!(std::isinf(buckets.back().first) && buckets.back().first > 0)) return nan_v;
  const double total = buckets.back().second;
  if (total == 0 || std::isnan(lo) || std::isnan(hi)) return nan_v;
  if (lo >= hi) return 0;

  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < buckets.size(); ++i) {
    // The lowest bucket starts at 0 when its bound is positive (as in
    // histogram_quantile), else at -Inf.
    double lower_bound = -inf_v;
    if (i > 0) {
      lower_bound = buckets[i - 1].first;
    } else if (buckets[0].first > 0) {
      lower_bound = 0;
    }
    const double upper_bound = buckets[i].first;
    const double count = buckets[i].second;
    // No interpolation inside a bucket of infinite width: its observations
    // sit at its finite bound.
    auto interpolate = [&](double v) {
      if (std::isinf(lower_bound)) return count;
      if (std::isinf(upper_bound)) return rank;
      return rank + (count - rank) * (v - lower_bound) / (upper_bound - lower_bound);
    };
    if (!lower_set && lower_bound >= lo) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lower_bound >= hi) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lower_bound < lo && upper_bound > lo) {
      lower_rank = interpolate(lo);
      lower_set = true;
    }
    if (!upper_set && lower_bound < hi && upper_bound > hi) {
      upper_rank = interpolate(hi);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = count;
  }
  if (!lower_set || lower_rank > total) lower_rank = total;
  if (!upper_set || upper_rank > total) upper_rank = total;
  return (upper_rank - lower_rank) / total;
}


// ---- range functions ----------------------------------------------------

namespace {

// rate, increase and delta: the change over the window, extrapolated towards
// the window's edges when the first/last samples lie close to them (within
// 110% of the average spacing, else by half a spacing), and for counters never
// before the point where the counter would have been zero.
bool extrapolated_rate(const window& w, bool is_counter, bool is_rate, double& out) {
  const size_t n = w.size();
  if (n < 2) return false;
  const sample* s = w.begin;
  double result = s[n - 1].v - s[0].v;
  if (is_counter) {
    for (size_t i = 1; i < n; ++i) {
      if (s[i].v < s[i - 1].v) result += s[i - 1].v;
    }
  }
  out = extrapolate({s[0].t, s[0].v, s[n - 1].t, s[n - 1].v, n, result}, w.end_ms, w.range_ms, is_counter, is_rate);
  return true;
}

bool r_rate(const window& w, const double*, double& out) { return extrapolated_rate(w, true, true, out); }
bool r_increase(const window& w, const double*, double& out) { return extrapolated_rate(w, true, false, out); }
bool r_delta(const window& w, const double*, double& out) { return extrapolated_rate(w, false, false, out); }

bool instant_value(const window& w, bool is_rate, double& out) {
  const size_t n = w.size();
  if (n < 2) return false;
  const sample& a = w.begin[n - 2];
  const sample& b = w.begin[n - 1];
  const int64_t interval = b.t - a.t;
  if (interval == 0) return false;
  // A counter reset (b < a) leaves b itself as the increase.
  double result = b.v;
  if (!is_rate || !(b.v < a.v)) result = b.v - a.v;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  out = result;
  return true;
}

bool r_irate(const window& w, const double*, double& out) { return instant_value(w, true, out); }
bool r_idelta(const window& w, const double*, double& out) { return instant_value(w, false, out); }

// Least squares over (seconds since intercept_ms, value), sums compensated.
void linear_regression(const window& w, int64_t intercept_ms, double& slope, double& intercept) {
  double n = 0;
  kahan sx, sy, sxy, sx2;
  const double init_y = w.begin->v;
  bool const_y = true;
  for (const sample* p = w.begin; p != w.end; ++p) {
    if (const_y && p != w.begin && p->v != init_y) const_y = false;
    n += 1;
    const double x = static_cast<double>(p->t - intercept_ms) / 1e3;
    sx.add(x);
    sy.add(p->v);
    sxy.add(x * p->v);
    sx2.add(x * x);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      slope = nan_v;
      intercept = nan_v;
    } else {
      slope = 0;
      intercept = init_y;
    }
    return;
  }
  const double sum_x = sx.sum + sx.c, sum_y = sy.sum + sy.c;
  const double sum_xy = sxy.sum + sxy.c, sum_x2 = sx2.sum + sx2.c;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  slope = cov_xy / var_x;
  intercept = sum_y / n - slope * sum_x / n;
}

bool r_deriv(const window& w, const double*, double& out) {
  if (w.size() < 2) return false;
  double slope, intercept;
  // Relative to the first sample, for precision (Prometheus does the same).
  linear_regression(w, w.begin->t, slope, intercept);
  out = slope;
  return true;
}

bool r_predict_linear(const window& w, const double* args, double& out) {
  if (w.size() < 2) return false;
  double slope, intercept;
  linear_regression(w, w.end_ms, slope, intercept);
  out = slope * args[0] + intercept;
  return true;
}

bool r_resets(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  int resets = 0;
  for (const sample* p = w.begin + 1; p < w.end; ++p) {
    if (p->v < (p - 1)->v) ++resets;
  }
  out = resets;
  return true;
}

bool r_changes(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  int changes = 0;
  for (const sample* p = w.begin + 1; p < w.end; ++p) {
    const double a = (p - 1)->v, b = p->v;
    if (a != b && !(std::isnan(a) && std::isnan(b))) ++changes;
  }
  out = changes;
  return true;
}

bool r_avg(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  mean_accumulator m;
  for (const sample* p = w.begin; p != w.end; ++p) m.add(p->v);
  out = m.value();
  return true;
}

bool r_sum(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  kahan k;
  for (const sample* p = w.begin; p != w.end; ++p) k.add(p->v);
  out = k.value();
  return true;
}

bool r_count(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = static_cast<double>(w.size());
  return true;
}

// min/max_over_time and their ts_of_ variants: a NaN is replaced by any later
// value; `or_equal` picks the last of equal extremes (the ts_of_ functions).
template <bool Max, bool OrEqual, bool Timestamp>
bool compare_over_time(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  double best = w.begin->v;
  int64_t best_t = w.begin->t;
  for (const sample* p = w.begin; p != w.end; ++p) {
    const double cur = p->v;
    bool take;
    if (Max) {
      take = OrEqual ? cur >= best : cur > best;
    } else {
      take = OrEqual ? cur <= best : cur < best;
    }
    if (take || std::isnan(best)) {
      best = cur;
      best_t = p->t;
    }
  }
  out = Timestamp ? static_cast<double>(best_t) / 1000 : best;
  return true;
}

template <bool Stddev>
bool variance_over_time(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  variance_accumulator v;
  for (const sample* p = w.begin; p != w.end; ++p) v.add(p->v);
  out = Stddev ? std::sqrt(v.variance()) : v.variance();
  return true;
}

bool r_last(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = (w.end - 1)->v;
  return true;
}

bool r_first(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = w.begin->v;
  return true;
}

bool r_ts_of_last(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = static_cast<double>((w.end - 1)->t) / 1000;
  return true;
}

bool r_ts_of_first(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = static_cast<double>(w.begin->t) / 1000;
  return true;
}

bool r_present(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  out = 1;
  return true;
}

bool r_quantile(const window& w, const double* args, double& out) {
  if (w.empty()) return false;
  std::vector<double> values;
  values.reserve(w.size());
  for (const sample* p = w.begin; p != w.end; ++p) values.push_back(p->v);
  out = quantile(args[0], values);
  return true;
}

// A NaN sample makes the result NaN (quantile() would sort it away).
bool r_mad(const window& w, const double*, double& out) {
  if (w.empty()) return false;
  std::vector<double> values;
  values.reserve(w.size());
  for (const sample* p = w.begin; p != w.end; ++p) {
    if (std::isnan(p->v)) {
      out = nan_v;
      return true;
    }
    values.push_back(p->v);
  }
  const double median = quantile(0.5, values);
  values.clear();
  for (const sample* p = w.begin; p != w.end; ++p) values.push_back(std::fabs(p->v - median));
  out = quantile(0.5, values);
  return true;
}

// Holt's linear smoothing: level s1 and trend b, started from the first two
// samples.
bool r_double_exponential_smoothing(const window& w, const double* args, double& out) {
  const double sf = args[0], tf = args[1];
  if (!(sf > 0 && sf < 1) || !(tf > 0 && tf < 1)) return false;
  const size_t n = w.size();
  if (n < 2) return false;
  const sample* s = w.begin;
  double s0 = 0, s1 = s[0].v;
  double b = s[1].v - s[0].v;
  for (size_t i = 1; i < n; ++i) {
    const double x = sf * s[i].v;
    if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
    const double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  out = s1;
  return true;
}

struct range_entry {
  std::string_view name;
  range_fn f;
  int args;
};

constexpr range_entry range_table[] = {
    {"rate", r_rate, 0},
    {"increase", r_increase, 0},
    {"delta", r_delta, 0},
    {"irate", r_irate, 0},
    {"idelta", r_idelta, 0},
    {"deriv", r_deriv, 0},
    {"predict_linear", r_predict_linear, 1},
    {"resets", r_resets, 0},
    {"changes", r_changes, 0},
    {"avg_over_time", r_avg, 0},
    {"min_over_time", compare_over_time<false, false, false>, 0},
    {"max_over_time", compare_over_time<true, false, false>, 0},
    {"sum_over_time", r_sum, 0},
    {"count_over_time", r_count, 0},
    {"stddev_over_time", variance_over_time<true>, 0},
    {"stdvar_over_time", variance_over_time<false>, 0},
    {"last_over_time", r_last, 0},
    {"first_over_time", r_first, 0},
    {"present_over_time", r_present, 0},
    {"mad_over_time", r_mad, 0},
    {"quantile_over_time", r_quantile, 1},
    {"double_exponential_smoothing", r_double_exponential_smoothing, 2},
    {"holt_winters", r_double_exponential_smoothing, 2},
    {"ts_of_min_over_time", compare_over_time<false, true, true>, 0},
    {"ts_of_max_over_time", compare_over_time<true, true, true>, 0},
    {"ts_of_last_over_time", r_ts_of_last, 0},
    {"ts_of_first_over_time", r_ts_of_first, 0},
};

}  // namespace

range_fn find_range_function(std::string_view name) {
  for (const auto& e : range_table) {
    if (e.name == name) return e.f;
  }
  return nullptr;
}

int range_function_arg_count(std::string_view name) {
  for (const auto& e : range_table) {
    if (e.name == name) return e.args;
  }
  return -1;
}

}  // namespace strata::query::fn
