#pragma once
// Evaluates a parsed expression over a series_source with Prometheus 3
// semantics:
//  - an instant vector selector at time t takes, per series, the newest
//    sample in the left-open window (t - offset - lookback, t - offset]; a
//    stale marker there hides the series; the result sample carries t.
//  - a range vector selector at t takes every sample in
//    (t - offset - range, t - offset], stale markers removed, with their own
//    timestamps.
//  - `@ t` pins a selector or subquery to t (start()/end(): the query's
//    start and end); subqueries evaluate their inner expression at the
//    multiples of their step inside their window.
//  - functions, operators and aggregations drop __name__ where Prometheus 3
//    does, delayed to the end of the query (or of a subquery) like its
//    delayed name removal, so that label_replace and `by (__name__)` see it.
//  - instant vector results are sorted by labels, except below sort(),
//    sort_desc(), sort_by_label(), topk() and bottomk(), which order them;
//    range results are sorted by labels.
// Plain functions, no state: a query actor or a shard calls them directly.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "common/status.hpp"
#include "common/work_pool.hpp"
#include "query/ast.hpp"
#include "query/series_source.hpp"
#include "query/value.hpp"

namespace strata::query {

struct eval_options {
  int64_t lookback_ms = 300000;  // Prometheus --query.lookback-delta
  // Most samples a query may load or hold (Prometheus --query.max-samples).
  size_t max_samples = 50'000'000;
  // The step of a subquery written without one (`x[1h:]`).
  int64_t default_subquery_step_ms = 60000;
  // Evaluation fails with strata_errc::timeout once this passes; checked
  // between series, so overshoot is bounded by the work on one series.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  // Rollup tiers (docs/design/query.md, "Rollup tiers"). A range function
  // over a plain selector reads buckets of a tier when the tier is
  // equivalent (window and step whole multiples of its width, ends aligned)
  // or the range reaches before the raw horizon. Empty: raw samples only.
  struct tier {
    int64_t window_ms;     // bucket width: 60000, 300000, 3600000
    int64_t retention_ms;  // how far back from now_ms the tier holds data
  };
  std::vector<tier> tiers;
  // Raw samples are kept this long (0: forever, no raw horizon).
  int64_t raw_retention_ms = 0;
  // The wall clock, for retention horizons (now_ms - retention).
  int64_t now_ms = 0;
  // The widest tier a query may read; 0 reads raw samples only (the
  // max_source_resolution query parameter).
  int64_t max_rollup_window_ms = std::numeric_limits<int64_t>::max();
  // Within raw retention an equivalent tier is read only when it is at least
  // this wide: a bucket costs several raw samples to read (its sketch), so
  // narrower buckets, which stand in for a few samples at common scrape
  // intervals (5 at 1 m in a 5m bucket), make the query slower, not faster.
  int64_t min_tier_within_raw_ms = 3'600'000;
  // Values of subtrees computed elsewhere (aggregations pushed down to the
  // shards and merged): the evaluator answers these nodes, found by
  // address, with them instead of evaluating them. Each series holds its
  // values at the query's evaluation times, in the order a node's result
  // has them. Not owned; null: none.
  const std::vector<std::pair<const expr*, matrix>>* precomputed = nullptr;
  // Threads that compute a selection's series in parallel (selectors and
  // range functions: each series' values alone, then taken in order, so the
  // answer's bits do not depend on the pool). Not owned; null: the calling
  // thread only.
  work_pool* pool = nullptr;
};

result<query_result> eval_instant(const expr& e, series_source& src, int64_t t_ms, const eval_options& o);

// Fails (bad_request) on a non-positive step, on end < start and on an
// expression that is not a scalar or an instant vector (Prometheus's messages).
result<query_result> eval_range(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                const eval_options& o);

// eval_range's answer one series at a time, as each is computed, for a
// caller that folds them (a shard's partial aggregation) and so never needs
// them all at once: `fn` gets a series' labels and, per step of the grid,
// its value v[k] where ok[k]; it returns false to get no more. Series with
// no value are left out. A range function over a plain selector hands them
// over in the order of the selection (by input labels, which is the
// answer's label order unless dropping the metric name reorders or merges
// them: the caller checks); every other expression in the answer's order.
// The returned answer holds the annotations and no series.
using series_fn = std::function<bool(const labels& metric, const std::vector<double>& v,
                                     const std::vector<uint8_t>& ok)>;
result<query_result> eval_range_each(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms,
                                     int64_t step_ms, const eval_options& o, const series_fn& fn);

// What one selector of a query reads: its matchers and the inclusive time
// span [mint, maxt] of its samples over the whole evaluation (offsets, `@`,
// subqueries and lookback or range included).
// window_ms > 0: a rollup selection (series_source::select_buckets): the
// buckets of that width whose window starts in [mint, maxt].
struct selection {
  matchers label_matchers;
  int64_t mint = 0;
  int64_t maxt = 0;
  int64_t window_ms = 0;
  // Rollup reads: which bucket starts are left edges of the query's windows
  // (series_source::select_buckets).
  int64_t edge_step = -1;
};

// One entry per selector of `e`, in the order they appear, for a query
// evaluated at start, start + step, ..., end (an instant query: start ==
// end and step 0, which is also what step() answers then). A caller fetches them ahead and serves the engine's select()
// from memory; the engine asks for exactly these spans.
std::vector<selection> selections(const expr& e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                  const eval_options& o);

}  // namespace strata::query
