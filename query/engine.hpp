#pragma once
// Evaluates a parsed expression over a series_source with Prometheus 3
// semantics:
//  - an instant vector selector at time t takes, per series, the newest
//    sample in the left-open window (t - offset - lookback, t - offset]; a
//    stale marker there hides the series; the result sample carries t.
//  - a range vector selector at t takes every sample in
//    (t - offset - range, t - offset], stale markers removed, with their own
//    timestamps; series left empty are dropped.
//  - a range query evaluates an instant vector selector at start, start +
//    step, ... <= end; a range vector there is an error.
//  - results are sorted by labels; __name__ is kept (plain selectors).
// Plain functions, no state: a query actor or a shard calls them directly.
#include <cstddef>
#include <cstdint>
#include <utility>

#include "common/status.hpp"
#include "query/ast.hpp"
#include "query/series_source.hpp"
#include "query/value.hpp"

namespace strata::query {

struct eval_options {
  int64_t lookback_ms = 300000;  // Prometheus --query.lookback-delta
  // Most samples a result may hold (Prometheus --query.max-samples).
  size_t max_samples = 50'000'000;
};

result<query_result> eval_instant(const expr& e, series_source& src, int64_t t_ms, const eval_options& o);

// Fails (bad_request) on a non-positive step, on end < start and on an
// expression that is not an instant vector (Prometheus's messages).
result<query_result> eval_range(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                const eval_options& o);

// The inclusive time span [mint, maxt] of samples that evaluating `e` from
// start to end (start == end for an instant query) reads, so that a caller
// can fetch it ahead and serve the engine's select() from memory.
std::pair<int64_t, int64_t> select_range(const expr& e, int64_t start_ms, int64_t end_ms, const eval_options& o);

}  // namespace strata::query
