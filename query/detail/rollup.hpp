#pragma once
// The rule that sends a range function to a rollup tier, shared by the
// evaluator and selections() so that what is fetched is what is read
// (docs/design/query.md, "Rollup tiers").
#include <cstdint>
#include <string_view>
#include <utility>

#include "query/engine.hpp"

namespace strata::query::detail {

// Range functions a run of rollup buckets answers: rate, increase, delta,
// sum/count/min/max/avg/last/first/present_over_time, their ts_of_last/first
// variants and quantile_over_time.
bool rollup_function(std::string_view f);

// The window width of the tier that a rollup function over a plain selector
// reads, or 0 for raw samples. Its windows end at first_end, first_end +
// step, ..., last_end (step 0 when there is one end, or all are equal).
//  1. the coarsest tier that is equivalent: range, step and first_end whole
//     multiples of its width, and its retention covers first_end - range;
//     within raw retention only if it is at least o.min_tier_within_raw_ms
//     wide;
//  2. else, when first_end - range lies before the raw horizon, the finest
//     tier whose retention covers it (or the longest-kept tier);
//  3. else raw.
// Tiers wider than o.max_rollup_window_ms are never chosen.
int64_t choose_rollup_window(int64_t first_end, int64_t last_end, int64_t step, int64_t range_ms,
                             const eval_options& o);

// Which bucket starts of width w may be an edge of a window of `range_ms`
// ending at first_end, first_end + step, ..., last_end, as
// series_source::select_buckets takes it: when windows and steps are whole
// buckets, every window starts and ends on the first window's start plus a
// multiple of gcd(step, range) (range alone for one window); -1 when windows
// are rounded to buckets (any start).
int64_t window_edge_step(int64_t first_end, int64_t last_end, int64_t step, int64_t range_ms, int64_t w);

// The oldest time raw samples are sure to exist: now - raw retention;
// INT64_MIN when raw samples are kept forever or no tier is configured.
int64_t raw_horizon(const eval_options& o);

// The bucket starts [first, last] that windows ending first_end..last_end of
// `range_ms` read from a tier of width w: a window (e - range, e] takes the
// buckets whose start lies in [e - range, e). first > last: none.
std::pair<int64_t, int64_t> bucket_starts(int64_t first_end, int64_t last_end, int64_t range_ms, int64_t w);

// Floor and ceiling of t to a multiple of w (also for negative t).
int64_t floor_to(int64_t t, int64_t w);
int64_t ceil_to(int64_t t, int64_t w);

}  // namespace strata::query::detail
