// PromQL's numeric functions against hand-computed values and the edge cases
// Prometheus documents.
#include "query/functions.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace strata::query::fn {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
const double nan_v = std::numeric_limits<double>::quiet_NaN();

// Samples at (seconds, value) pairs; the window ends at end_s, spans range_s.
struct fixture {
  std::vector<sample> samples;
  int64_t end_ms;
  int64_t range_ms;
  window w() const { return {samples.data(), samples.data() + samples.size(), end_ms, range_ms}; }
};

fixture make(std::vector<std::pair<double, double>> pts, double end_s, double range_s) {
  fixture f;
  for (auto& [t, v] : pts) f.samples.push_back({static_cast<int64_t>(t * 1000), v});
  f.end_ms = static_cast<int64_t>(end_s * 1000);
  f.range_ms = static_cast<int64_t>(range_s * 1000);
  return f;
}

// Runs range function `name`; returns false when it has no output.
bool run(const char* name, const fixture& f, double& out, std::vector<double> args = {}) {
  range_fn fn = find_range_function(name);
  EXPECT_NE(fn, nullptr) << name;
  if (fn == nullptr) return false;
  return fn(f.w(), args.data(), out);
}

double eval(const char* name, const fixture& f, std::vector<double> args = {}) {
  double out = -12345;
  EXPECT_TRUE(run(name, f, out, std::move(args))) << name << " gave no output";
  return out;
}

bool no_output(const char* name, const fixture& f, std::vector<double> args = {}) {
  double out;
  return !run(name, f, out, std::move(args));
}

// extrapolate skips the division of a counter's zero point only where it
// cannot change the answer: against Prometheus's formula (always dividing)
// over random windows and over ones built to sit on the edge, where to_start
// is the zero point itself or one ulp either side of it.
TEST(Extrapolate, SkipsTheZeroPointDivisionOnlyWhereItCannotChangeTheAnswer) {
  auto reference = [](const change& c, const extrapolate_edges& e, int64_t range_ms) {
    double to_zero = e.to_start_s;
    if (c.result > 0 && c.first >= 0) to_zero = e.sampled * (c.first / c.result);
    if (to_zero < e.to_start_s) {
      double factor = (e.sampled + to_zero + e.to_end_s) / e.sampled;
      factor /= static_cast<double>(range_ms) / 1000;
      return c.result * factor;
    }
    return c.result * e.factor;
  };
  uint64_t x = 88172645463325252ull;
  auto next = [&] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  auto uniform = [&] { return static_cast<double>(next() >> 11) * 0x1p-53; };
  size_t checked = 0, edge = 0;
  for (int i = 0; i < 200000; ++i) {
    int64_t range_ms = 60000 * (1 + static_cast<int64_t>(next() % 10));
    int64_t end = 1'700'000'000'000 + static_cast<int64_t>(next() % 1000000);
    int64_t first_t = end - range_ms + 1 + static_cast<int64_t>(next() % static_cast<uint64_t>(range_ms / 2));
    int64_t last_t = first_t + 1 + static_cast<int64_t>(next() % static_cast<uint64_t>(end - first_t));
    size_t count = 2 + next() % 30;
    auto e = edges_of(first_t, last_t, count, end, range_ms, true);
    // Values from tiny to huge, and zero points near the window's start.
    double scale = std::ldexp(1.0, static_cast<int>(next() % 200) - 100);
    double result = (uniform() + 1e-3) * scale;
    double first = uniform() * scale * (next() % 4 == 0 ? 1e-6 : 1.0);
    if (next() % 3 == 0) {
      // first such that the zero point lies at to_start, give or take an ulp.
      first = e.to_start_s * result / e.sampled;
      int nudge = static_cast<int>(next() % 5) - 2;
      for (; nudge > 0; --nudge) first = std::nextafter(first, INFINITY);
      for (; nudge < 0; ++nudge) first = std::nextafter(first, 0.0);
      ++edge;
    }
    change c{first_t, first, last_t, first + result, count, result};
    double want = reference(c, e, range_ms), got = extrapolate(c, e, range_ms, true, true);
    ASSERT_EQ(std::memcmp(&want, &got, sizeof want), 0)
        << "first " << first << " result " << result << " sampled " << e.sampled << " to_start " << e.to_start_s;
    ++checked;
  }
  EXPECT_EQ(checked, 200000u);
  EXPECT_GT(edge, 50000u);
}

TEST(RangeFunctions, UnknownNameIsNull) {
  EXPECT_EQ(find_range_function("nope"), nullptr);
  EXPECT_EQ(find_range_function("abs"), nullptr);
  EXPECT_EQ(range_function_arg_count("nope"), -1);
  EXPECT_EQ(range_function_arg_count("rate"), 0);
  EXPECT_EQ(range_function_arg_count("quantile_over_time"), 1);
  EXPECT_EQ(range_function_arg_count("predict_linear"), 1);
  EXPECT_EQ(range_function_arg_count("holt_winters"), 2);
}

TEST(RangeFunctions, EveryDocumentedFloatRangeFunctionExists) {
  for (const char* n : {"rate", "increase", "delta", "irate", "idelta", "deriv", "predict_linear", "resets",
                        "changes", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
                        "count_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
                        "present_over_time", "mad_over_time", "quantile_over_time", "double_exponential_smoothing",
                        "holt_winters", "ts_of_min_over_time", "ts_of_max_over_time", "ts_of_last_over_time",
                        "first_over_time", "ts_of_first_over_time"}) {
    EXPECT_NE(find_range_function(n), nullptr) << n;
  }
}

TEST(Rate, ExtrapolatesToBothEdgesWhenSamplesAreClose) {
  // 10..60 at 10s..60s, window (0s, 60s]: first sample 10s from the start
  // (< 1.1 * 10s spacing) so the 50 increase extends over 60s: 60.
  auto f = make({{10, 10}, {20, 20}, {30, 30}, {40, 40}, {50, 50}, {60, 60}}, 60, 60);
  EXPECT_DOUBLE_EQ(eval("increase", f), 60);
  EXPECT_DOUBLE_EQ(eval("rate", f), 1);
  EXPECT_DOUBLE_EQ(eval("delta", f), 60);
}

TEST(Rate, CounterExtrapolationStopsAtZero) {
  // 2, 12, 22, 32 at 30..60s: the start gap (30s) is too big, so half a
  // spacing (5s) would do, but the counter reaches zero 2s before the first
  // sample: increase = 30 * (30 + 2) / 30 = 32.
  auto f = make({{30, 2}, {40, 12}, {50, 22}, {60, 32}}, 60, 60);
  EXPECT_DOUBLE_EQ(eval("increase", f), 32);
  // delta is no counter: it extrapolates the full half spacing.
  EXPECT_DOUBLE_EQ(eval("delta", f), 30.0 * 35 / 30);
}

TEST(Rate, ExtrapolatesHalfASpacingTowardsDistantEdges) {
  // 1, 2, 3 at 10..30s in (0s, 60s]: start gap 10s is close, end gap 30s is
  // not: delta = 2 * (20 + 10 + 5) / 20 = 3.5.
  auto f = make({{10, 1}, {20, 2}, {30, 3}}, 60, 60);
  EXPECT_DOUBLE_EQ(eval("delta", f), 3.5);
}

TEST(Rate, CounterResetsAddThePreviousValue) {
  // 10, 20, 5, 15 at 15..60s: raw increase 5 + 20 (reset) = 25 over 45s,
  // extrapolated to 60s (zero point 18s back is further than the 15s gap).
  auto f = make({{15, 10}, {30, 20}, {45, 5}, {60, 15}}, 60, 60);
  EXPECT_DOUBLE_EQ(eval("increase", f), 25.0 * 60 / 45);
  EXPECT_DOUBLE_EQ(eval("rate", f), 25.0 / 45);
  // delta ignores resets: 15 - 10 = 5.
  EXPECT_DOUBLE_EQ(eval("delta", f), 5.0 * 60 / 45);
}

TEST(Rate, FewerThanTwoSamplesGiveNoOutput) {
  EXPECT_TRUE(no_output("rate", make({}, 60, 60)));
  EXPECT_TRUE(no_output("rate", make({{30, 1}}, 60, 60)));
  EXPECT_TRUE(no_output("increase", make({{30, 1}}, 60, 60)));
  EXPECT_TRUE(no_output("delta", make({{30, 1}}, 60, 60)));
}

TEST(Rate, NaNAndInfPropagate) {
  EXPECT_TRUE(std::isnan(eval("rate", make({{30, 1}, {60, nan_v}}, 60, 60))));
  EXPECT_EQ(eval("increase", make({{30, 1}, {60, inf}}, 60, 60)), inf);
}

TEST(Irate, UsesTheLastTwoSamples) {
  EXPECT_DOUBLE_EQ(eval("irate", make({{0, 100}, {10, 5}, {20, 10}}, 20, 60)), 0.5);
  EXPECT_DOUBLE_EQ(eval("idelta", make({{0, 100}, {10, 5}, {20, 10}}, 20, 60)), 5);
}

TEST(Irate, CounterResetTakesTheNewValue) {
  auto f = make({{10, 5}, {20, 10}, {30, 4}}, 30, 60);
  EXPECT_DOUBLE_EQ(eval("irate", f), 0.4);
  EXPECT_DOUBLE_EQ(eval("idelta", f), -6);
}

TEST(Irate, OneSampleGivesNoOutput) {
  EXPECT_TRUE(no_output("irate", make({{10, 5}}, 30, 60)));
  EXPECT_TRUE(no_output("idelta", make({}, 30, 60)));
}

TEST(Deriv, SlopePerSecond) {
  EXPECT_DOUBLE_EQ(eval("deriv", make({{0, 0}, {10, 20}, {20, 40}}, 20, 60)), 2);
  EXPECT_TRUE(no_output("deriv", make({{0, 0}}, 20, 60)));
}

TEST(Deriv, ConstantSeriesHasSlopeZeroUnlessInfinite) {
  EXPECT_EQ(eval("deriv", make({{0, 7}, {10, 7}}, 20, 60)), 0);
  EXPECT_TRUE(std::isnan(eval("deriv", make({{0, inf}, {10, inf}}, 20, 60))));
}

TEST(PredictLinear, PredictsSecondsAfterTheWindowEnd) {
  auto f = make({{0, 0}, {10, 20}, {20, 40}}, 20, 60);
  EXPECT_DOUBLE_EQ(eval("predict_linear", f, {10}), 60);
  EXPECT_DOUBLE_EQ(eval("predict_linear", f, {0}), 40);
  // The intercept is taken at end_ms, which may lie after the last sample.
  auto g = make({{0, 0}, {10, 20}, {20, 40}}, 30, 60);
  EXPECT_DOUBLE_EQ(eval("predict_linear", g, {0}), 60);
  EXPECT_TRUE(std::isnan(eval("predict_linear", make({{0, -inf}, {10, -inf}}, 20, 60), {5})));
}

TEST(Resets, CountsDecreases) {
  EXPECT_EQ(eval("resets", make({{0, 1}, {1, 0}, {2, 1}, {3, 0}, {4, 0}}, 4, 60)), 2);
  EXPECT_EQ(eval("resets", make({{0, 1}}, 4, 60)), 0);
  EXPECT_TRUE(no_output("resets", make({}, 4, 60)));
}

TEST(Changes, NaNToNaNIsNoChange) {
  EXPECT_EQ(eval("changes", make({{0, 1}, {1, 1}, {2, nan_v}, {3, nan_v}, {4, 2}}, 4, 60)), 2);
  EXPECT_EQ(eval("changes", make({{0, 1}}, 4, 60)), 0);
  EXPECT_TRUE(no_output("changes", make({}, 4, 60)));
}

TEST(OverTime, Basics) {
  auto f = make({{1, 1}, {2, 4}, {3, 2}, {4, 3}}, 4, 60);
  EXPECT_DOUBLE_EQ(eval("avg_over_time", f), 2.5);
  EXPECT_DOUBLE_EQ(eval("sum_over_time", f), 10);
  EXPECT_DOUBLE_EQ(eval("count_over_time", f), 4);
  EXPECT_DOUBLE_EQ(eval("min_over_time", f), 1);
  EXPECT_DOUBLE_EQ(eval("max_over_time", f), 4);
  EXPECT_DOUBLE_EQ(eval("last_over_time", f), 3);
  EXPECT_DOUBLE_EQ(eval("first_over_time", f), 1);
  EXPECT_DOUBLE_EQ(eval("present_over_time", f), 1);
  EXPECT_DOUBLE_EQ(eval("ts_of_min_over_time", f), 1);
  EXPECT_DOUBLE_EQ(eval("ts_of_max_over_time", f), 2);
  EXPECT_DOUBLE_EQ(eval("ts_of_last_over_time", f), 4);
  EXPECT_DOUBLE_EQ(eval("ts_of_first_over_time", f), 1);
}

TEST(OverTime, EmptyWindowGivesNoOutput) {
  auto f = make({}, 4, 60);
  for (const char* n : {"avg_over_time", "sum_over_time", "count_over_time", "min_over_time", "max_over_time",
                        "last_over_time", "first_over_time", "present_over_time", "stddev_over_time",
                        "stdvar_over_time", "mad_over_time", "ts_of_min_over_time", "ts_of_max_over_time",
                        "ts_of_last_over_time", "ts_of_first_over_time"}) {
    EXPECT_TRUE(no_output(n, f)) << n;
  }
  EXPECT_TRUE(no_output("quantile_over_time", f, {0.5}));
}

TEST(OverTime, OneSample) {
  auto f = make({{3, 5}}, 4, 60);
  EXPECT_EQ(eval("avg_over_time", f), 5);
  EXPECT_EQ(eval("stddev_over_time", f), 0);
  EXPECT_EQ(eval("stdvar_over_time", f), 0);
  EXPECT_EQ(eval("quantile_over_time", f, {0.9}), 5);
  EXPECT_EQ(eval("mad_over_time", f), 0);
}

TEST(OverTime, MinMaxReplaceNaNButKeepItWhenAlone) {
  auto f = make({{1, nan_v}, {2, 1}, {3, 3}, {4, nan_v}}, 4, 60);
  EXPECT_EQ(eval("min_over_time", f), 1);
  EXPECT_EQ(eval("max_over_time", f), 3);
  EXPECT_TRUE(std::isnan(eval("max_over_time", make({{1, nan_v}, {2, nan_v}}, 4, 60))));
}

TEST(OverTime, TsOfExtremesPicksTheLastOfEqualValues) {
  auto f = make({{1, 3}, {2, 3}, {3, 1}, {4, 1}}, 4, 60);
  EXPECT_EQ(eval("ts_of_max_over_time", f), 2);
  EXPECT_EQ(eval("ts_of_min_over_time", f), 4);
}

TEST(OverTime, SumIsCompensated) {
  // Naive summation gives 0.
  auto f = make({{1, 1}, {2, 1e100}, {3, 1}, {4, -1e100}}, 4, 60);
  EXPECT_EQ(eval("sum_over_time", f), 2);
  EXPECT_EQ(eval("avg_over_time", f), 0.5);
}

TEST(OverTime, SumAndAvgWithInf) {
  EXPECT_EQ(eval("sum_over_time", make({{1, 1}, {2, inf}}, 4, 60)), inf);
  EXPECT_EQ(eval("avg_over_time", make({{1, 1}, {2, inf}}, 4, 60)), inf);
  EXPECT_TRUE(std::isnan(eval("sum_over_time", make({{1, inf}, {2, -inf}}, 4, 60))));
}

TEST(OverTime, AvgSwitchesToIncrementalMeanInsteadOfOverflowing) {
  auto f = make({{1, DBL_MAX}, {2, DBL_MAX}, {3, DBL_MAX}}, 4, 60);
  EXPECT_DOUBLE_EQ(eval("avg_over_time", f), DBL_MAX);
  auto g = make({{1, DBL_MAX}, {2, DBL_MAX}, {3, -DBL_MAX}, {4, -DBL_MAX}}, 4, 60);
  EXPECT_NEAR(eval("avg_over_time", g), 0, 1e295);
}

TEST(OverTime, StddevIsThePopulationDeviation) {
  auto f = make({{1, 2}, {2, 4}, {3, 4}, {4, 4}, {5, 5}, {6, 5}, {7, 7}, {8, 9}}, 8, 60);
  EXPECT_DOUBLE_EQ(eval("stddev_over_time", f), 2);
  EXPECT_DOUBLE_EQ(eval("stdvar_over_time", f), 4);
  EXPECT_TRUE(std::isnan(eval("stddev_over_time", make({{1, 1}, {2, inf}}, 8, 60))));
}

TEST(OverTime, QuantileInterpolatesBetweenRanks) {
  auto f = make({{1, 4}, {2, 1}, {3, 3}, {4, 2}}, 4, 60);
  EXPECT_DOUBLE_EQ(eval("quantile_over_time", f, {0.5}), 2.5);
  EXPECT_DOUBLE_EQ(eval("quantile_over_time", f, {0.75}), 3.25);
  EXPECT_DOUBLE_EQ(eval("quantile_over_time", f, {0}), 1);
  EXPECT_DOUBLE_EQ(eval("quantile_over_time", f, {1}), 4);
  EXPECT_EQ(eval("quantile_over_time", f, {1.5}), inf);
  EXPECT_EQ(eval("quantile_over_time", f, {-0.5}), -inf);
  EXPECT_TRUE(std::isnan(eval("quantile_over_time", f, {nan_v})));
}

TEST(OverTime, MadIsTheMedianAbsoluteDeviation) {
  EXPECT_DOUBLE_EQ(eval("mad_over_time", make({{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 100}}, 5, 60)), 1);
}

TEST(OverTime, MadIsNaNWhenASampleIsNaN) {
  EXPECT_TRUE(std::isnan(eval("mad_over_time", make({{1, 1}, {2, 2}, {3, nan_v}, {4, 4}}, 5, 60))));
}

TEST(DoubleExponentialSmoothing, FollowsALinearTrend) {
  auto f = make({{1, 0}, {2, 10}, {3, 20}}, 3, 60);
  EXPECT_DOUBLE_EQ(eval("double_exponential_smoothing", f, {0.5, 0.5}), 20);
  EXPECT_DOUBLE_EQ(eval("holt_winters", f, {0.1, 0.9}), 20);
}

TEST(DoubleExponentialSmoothing, HandComputedSmoothing) {
  // sf = tf = 0.5 over 0, 10, 0: s1 = 0, b = 10; step 1: s1 = 5 + 0.5 * 10 = 10;
  // step 2: b = 0.5 * (10 - 0) + 0.5 * 10 = 10, s1 = 0 + 0.5 * (10 + 10) = 10.
  auto f = make({{1, 0}, {2, 10}, {3, 0}}, 3, 60);
  EXPECT_DOUBLE_EQ(eval("double_exponential_smoothing", f, {0.5, 0.5}), 10);
}

TEST(DoubleExponentialSmoothing, NeedsTwoSamplesAndFactorsInsideZeroOne) {
  EXPECT_TRUE(no_output("double_exponential_smoothing", make({{1, 0}}, 3, 60), {0.5, 0.5}));
  auto f = make({{1, 0}, {2, 10}}, 3, 60);
  EXPECT_TRUE(no_output("double_exponential_smoothing", f, {1, 0.5}));
  EXPECT_TRUE(no_output("double_exponential_smoothing", f, {0.5, 0}));
}

TEST(MathFunctions, UnknownNameIsNull) {
  EXPECT_EQ(find_math_function("rate"), nullptr);
  EXPECT_EQ(find_math_function(""), nullptr);
}

TEST(MathFunctions, OneNumberFunctions) {
  EXPECT_EQ(find_math_function("abs")(-2), 2);
  EXPECT_EQ(find_math_function("ceil")(1.2), 2);
  EXPECT_EQ(find_math_function("floor")(-1.2), -2);
  EXPECT_DOUBLE_EQ(find_math_function("exp")(1), std::exp(1.0));
  EXPECT_DOUBLE_EQ(find_math_function("ln")(std::exp(2.0)), 2);
  EXPECT_EQ(find_math_function("log2")(8), 3);
  EXPECT_EQ(find_math_function("log10")(1000), 3);
  EXPECT_EQ(find_math_function("sqrt")(9), 3);
  EXPECT_TRUE(std::isnan(find_math_function("sqrt")(-1)));
  EXPECT_EQ(find_math_function("ln")(0), -inf);
  EXPECT_DOUBLE_EQ(find_math_function("deg")(M_PI), 180);
  EXPECT_DOUBLE_EQ(find_math_function("rad")(180), M_PI);
  for (const char* n : {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
                        "atanh"}) {
    EXPECT_NE(find_math_function(n), nullptr) << n;
  }
  EXPECT_DOUBLE_EQ(find_math_function("acos")(0), M_PI / 2);
  EXPECT_EQ(find_math_function("atanh")(1), inf);
}

TEST(MathFunctions, SgnKeepsZeroAndNaN) {
  math_fn sgn = find_math_function("sgn");
  EXPECT_EQ(sgn(-3), -1);
  EXPECT_EQ(sgn(0.1), 1);
  EXPECT_EQ(sgn(0), 0);
  EXPECT_TRUE(std::signbit(sgn(-0.0)));
  EXPECT_TRUE(std::isnan(sgn(nan_v)));
}

TEST(DateFunctions, UtcCalendarOfUnixSeconds) {
  const double t = 1136239445;  // 2006-01-02T22:04:05Z, a Monday
  EXPECT_EQ(find_math_function("year")(t), 2006);
  EXPECT_EQ(find_math_function("month")(t), 1);
  EXPECT_EQ(find_math_function("day_of_month")(t), 2);
  EXPECT_EQ(find_math_function("day_of_year")(t), 2);
  EXPECT_EQ(find_math_function("day_of_week")(t), 1);
  EXPECT_EQ(find_math_function("hour")(t), 22);
  EXPECT_EQ(find_math_function("minute")(t), 4);
  EXPECT_EQ(find_math_function("days_in_month")(t), 31);
}

TEST(DateFunctions, LeapYearsAndYearEdges) {
  EXPECT_EQ(find_math_function("days_in_month")(1454284800), 29);  // 2016-02-01
  EXPECT_EQ(find_math_function("days_in_month")(1485907200), 28);  // 2017-02-01
  EXPECT_EQ(find_math_function("year")(1230767999), 2008);         // 2008-12-31T23:59:59Z
  EXPECT_EQ(find_math_function("year")(1230768000), 2009);
  EXPECT_EQ(find_math_function("day_of_year")(1483191420), 366);  // 2016-12-31
  EXPECT_EQ(find_math_function("day_of_year")(1672493820), 365);  // 2022-12-31
  EXPECT_EQ(find_math_function("month")(1456790399), 2);          // 2016-02-29T23:59:59Z
  EXPECT_EQ(find_math_function("day_of_month")(1456790399), 29);
  EXPECT_EQ(find_math_function("month")(1456790400), 3);
}

TEST(DateFunctions, BeforeTheEpochAndNonFinite) {
  EXPECT_EQ(find_math_function("year")(-1), 1969);
  EXPECT_EQ(find_math_function("hour")(-1), 23);
  EXPECT_EQ(find_math_function("minute")(-1), 59);
  EXPECT_EQ(find_math_function("day_of_week")(-1), 3);  // Wednesday
  // Fractions truncate towards zero: -0.5 is the epoch itself.
  EXPECT_EQ(find_math_function("year")(-0.5), 1970);
  EXPECT_TRUE(std::isnan(find_math_function("year")(nan_v)));
  EXPECT_TRUE(std::isnan(find_math_function("hour")(inf)));
}

TEST(RoundTo, TiesRoundUp) {
  EXPECT_EQ(round_to(2.5, 1), 3);
  EXPECT_EQ(round_to(-2.5, 1), -2);
  EXPECT_EQ(round_to(7, 5), 5);
  EXPECT_EQ(round_to(7.5, 5), 10);
  EXPECT_DOUBLE_EQ(round_to(1.2345, 0.01), 1.23);
  EXPECT_TRUE(std::isnan(round_to(nan_v, 1)));
  EXPECT_EQ(round_to(inf, 1), inf);
}

TEST(Clamp, PrometheusRules) {
  EXPECT_EQ(clamp(5, 0, 3), 3);
  EXPECT_EQ(clamp(-1, 0, 3), 0);
  EXPECT_EQ(clamp(2, 0, 3), 2);
  EXPECT_EQ(clamp(2, -inf, inf), 2);
  EXPECT_TRUE(std::isnan(clamp(2, 3, 0)));
  EXPECT_TRUE(std::isnan(clamp(nan_v, 0, 3)));
  EXPECT_EQ(clamp(1, 1, 1), 1);
}

TEST(Quantile, LinearInterpolationAndBounds) {
  std::vector<double> v{4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile(0.5, v), 2.5);
  EXPECT_DOUBLE_EQ(quantile(0.25, v), 1.75);
  EXPECT_EQ(quantile(2, v), inf);
  EXPECT_EQ(quantile(-1, v), -inf);
  EXPECT_TRUE(std::isnan(quantile(nan_v, v)));
  std::vector<double> empty;
  EXPECT_TRUE(std::isnan(quantile(0.5, empty)));
}

TEST(Quantile, NaNSortsLowest) {
  std::vector<double> v{2, nan_v, 1};
  EXPECT_TRUE(std::isnan(quantile(0, v)));
  EXPECT_EQ(quantile(1, v), 2);
}

using buckets = std::vector<std::pair<double, double>>;

TEST(HistogramQuantile, InterpolatesInsideBuckets) {
  buckets b{{2, 20}, {inf, 20}, {1, 10}};  // any order
  bool forced = true;
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, b, &forced), 1);
  EXPECT_FALSE(forced);
  b = {{2, 20}, {inf, 20}, {1, 10}};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.75, b), 1.5);
  b = {{2, 20}, {inf, 20}, {1, 10}};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.25, b), 0.5);  // lowest bucket starts at 0
  b = {{2, 20}, {inf, 20}, {1, 10}};
  EXPECT_DOUBLE_EQ(histogram_quantile(1, b), 2);
}

TEST(HistogramQuantile, InfBucketAnswersTheSecondHighestBound) {
  buckets b{{1, 10}, {inf, 20}};
  EXPECT_EQ(histogram_quantile(0.9, b), 1);
}

TEST(HistogramQuantile, NonPositiveLowestBucketAnswersItsBound) {
  buckets b{{-1, 5}, {inf, 10}};
  EXPECT_EQ(histogram_quantile(0.2, b), -1);
}

TEST(HistogramQuantile, MissingInfBucketIsNaN) {
  buckets b{{1, 10}, {2, 20}};
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, b)));
}

TEST(HistogramQuantile, SingleBucketIsNaN) {
  buckets b{{inf, 10}};
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, b)));
  buckets none;
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, none)));
}

TEST(HistogramQuantile, NoObservationsIsNaN) {
  buckets b{{1, 0}, {inf, 0}};
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, b)));
}

TEST(HistogramQuantile, QOutsideZeroOne) {
  buckets b{{1, 10}, {inf, 20}};
  EXPECT_EQ(histogram_quantile(-0.1, b), -inf);
  EXPECT_EQ(histogram_quantile(1.1, b), inf);
  EXPECT_TRUE(std::isnan(histogram_quantile(nan_v, b)));
}

TEST(HistogramQuantile, NonMonotonicCountsAreRaised) {
  buckets b{{1, 10}, {2, 8}, {inf, 20}};
  bool forced = false;
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, b, &forced), 1);
  EXPECT_TRUE(forced);
}

TEST(HistogramQuantile, TinyFloatNoiseIsNotForcedMonotonicity) {
  buckets b{{1, 10}, {2, 10 - 1e-14}, {inf, 20}};
  bool forced = true;
  histogram_quantile(0.5, b, &forced);
  EXPECT_FALSE(forced);
}

TEST(HistogramQuantile, EqualBoundsAreMerged) {
  buckets b{{1, 5}, {1, 5}, {inf, 20}};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.25, b), 0.5);
}

TEST(HistogramFraction, InterpolatesInsideBuckets) {
  buckets b{{1, 10}, {inf, 30}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(0, 0.5, b), 5.0 / 30);
  b = {{1, 10}, {inf, 30}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(0, inf, b), 1);
  b = {{1, 10}, {inf, 30}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(-inf, 1, b), 10.0 / 30);
  b = {{2, 20}, {1, 10}, {inf, 30}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(1, 1.5, b), 5.0 / 30);
  b = {{1, 10}, {inf, 30}};
  EXPECT_EQ(histogram_fraction_classic(1, 0, b), 0);
}

TEST(HistogramFraction, NoInterpolationInsideInfiniteBuckets) {
  // (-Inf, -3]: 10, (-3, -2]: 2, (-2, -1]: 3, (-1, +Inf): 85.
  buckets b{{-3, 10}, {-2, 12}, {-1, 15}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(-4, -2, b), 0.02);
  b = {{-3, 10}, {-2, 12}, {-1, 15}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(-inf, -1.5, b), 0.135);
  b = {{-3, 10}, {-2, 12}, {-1, 15}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(0, 1, b), 0);
  b = {{1, 1}, {2, 3}, {3, 6}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(2, 5, b), 0.03);
  b = {{1, 1}, {2, 3}, {3, 6}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(0, 1.5, b), 0.02);
  b = {{1, 1}, {2, 3}, {3, 6}, {inf, 100}};
  EXPECT_DOUBLE_EQ(histogram_fraction_classic(-inf, inf, b), 1);
}

TEST(HistogramFraction, NaNCases) {
  buckets none;
  EXPECT_TRUE(std::isnan(histogram_fraction_classic(0, 1, none)));
  buckets no_inf{{1, 10}};
  EXPECT_TRUE(std::isnan(histogram_fraction_classic(0, 1, no_inf)));
  buckets empty{{1, 0}, {inf, 0}};
  EXPECT_TRUE(std::isnan(histogram_fraction_classic(0, 1, empty)));
  buckets b{{1, 10}, {inf, 30}};
  EXPECT_TRUE(std::isnan(histogram_fraction_classic(nan_v, 1, b)));
}

TEST(Kahan, CompensatesCancellation) {
  kahan k;
  for (double v : {1.0, 1e100, 1.0, -1e100}) k.add(v);
  EXPECT_EQ(k.value(), 2);
  kahan inf_sum;
  inf_sum.add(inf);
  inf_sum.add(1);
  EXPECT_EQ(inf_sum.value(), inf);
}

TEST(MeanAccumulator, DirectAndIncremental) {
  mean_accumulator m;
  EXPECT_TRUE(std::isnan(m.value()));
  for (double v : {1.0, 2.0, 3.0, 4.0}) m.add(v);
  EXPECT_DOUBLE_EQ(m.value(), 2.5);
  mean_accumulator big;
  for (int i = 0; i < 4; ++i) big.add(DBL_MAX);
  EXPECT_DOUBLE_EQ(big.value(), DBL_MAX);
}

TEST(VarianceAccumulator, PopulationVariance) {
  variance_accumulator v;
  EXPECT_TRUE(std::isnan(v.variance()));
  for (double x : {2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0}) v.add(x);
  EXPECT_DOUBLE_EQ(v.variance(), 4);
  EXPECT_EQ(v.count(), 8);
}

}  // namespace
}  // namespace strata::query::fn
