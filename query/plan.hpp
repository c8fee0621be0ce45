#pragma once
// Pushdown planning: which subtrees of a query a series source (a shard)
// can evaluate on its own data, and the partial aggregate a shard returns so
// that a coordinator merges shard answers into the single-node answer.
//
// Pushable subtrees:
//   - a vector or matrix selector;
//   - a range function over a matrix selector (rate(x[5m]), ...): each series
//     lives on exactly one shard, so per-series functions are shard-local;
//   - an element-wise function or a vector-scalar operation over those;
//   - sum, count, min, max, avg (as sum + count), group, stddev, stdvar,
//     topk and bottomk over a pushable operand: decomposable into
//     partial_aggregate values and merged.
// Everything else (vector matching across shards, quantile, count_values,
// limitk, subqueries, absent) runs at the coordinator over the pushed
// subtrees' results.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "query/ast.hpp"
#include "query/engine.hpp"
#include "query/series_source.hpp"
#include "query/value.hpp"

namespace strata::query {

// True when every series `e` reads contributes to its result independently
// of the others (so the union over shards of e's per-shard results is e's
// result).
bool is_series_local(const expr& e);

// True for an aggregation whose operator decomposes and whose operand is
// series-local.
bool is_decomposable_aggregation(const expr& e);

// The maximal subtrees of `e` that can run at a series source, outermost
// first (a decomposable aggregation, else a series-local subtree).
std::vector<const expr*> pushdown_roots(const expr& e);

// What a shard evaluates for a coordinator: a decomposable aggregation, or
// a series-local expression of instant-vector type (a selector with a
// function or arithmetic over it). A series-local expression's partial
// table holds one group per output series, each value a partial_aggregate
// with op series_value_op.
bool is_pushable(const expr& e);

// Appends the warnings or infos of `more` that `into` lacks, in order.
void add_annotations(std::vector<std::string>& into, const std::vector<std::string>& more);

// The partial_aggregate operator of a pushable expression: the
// aggregation's, or series_value_op.
token_kind partial_op(const expr& e);

// A partial_aggregate holding one series' value at a step (in `sum`, with
// count 1). Two such states merged have count 2: two series with the same
// labels, which the coordinator reports as PromQL's duplicate-labelset error.
inline constexpr token_kind series_value_op = token_kind::eof;

// One group's partial state of a decomposable aggregation at one step.
// merge() is associative and commutative; finish() gives the aggregation's
// value once every shard's partial was merged.
struct partial_aggregate {
  token_kind op = token_kind::kw_sum;
  double count = 0;
  double sum = 0, sum_c = 0;  // Kahan-Neumaier sum and its compensation
  double extreme = 0;         // min or max
  double mean = 0, m2 = 0;    // Chan et al. parallel variance (stddev, stdvar)
  int64_t k = 0;              // topk/bottomk
  std::vector<instant_sample> kept;  // topk/bottomk candidates, best first

  void add(double v, const labels* metric = nullptr);
  void merge(const partial_aggregate& other);
  double finish() const;
};

// One group of a shard's answer to a pushed-down aggregation.
struct partial_group {
  labels group;
  partial_aggregate state;
};

// Evaluates the decomposable aggregation `agg` at `t_ms` over one shard's
// source, returning one partial per group.
// REQUIRES: is_decomposable_aggregation(agg).
result<std::vector<partial_group>> eval_partial(const expr& agg, series_source& shard, int64_t t_ms,
                                                const eval_options& o);

// Merges the shards' partials of `agg` and finishes them into the instant
// vector a single node would answer (groups sorted by labels; topk/bottomk
// answer their series).
vector merge_partials(const expr& agg, std::vector<std::vector<partial_group>> shards, int64_t t_ms);

// A shard's partials of one aggregation over a grid: every group once, then
// per step the states of the groups that have a value there (index into
// `groups`, state).
struct partial_table {
  std::vector<labels> groups;
  std::vector<std::vector<std::pair<uint32_t, partial_aggregate>>> steps;
  // The annotations of the shard's evaluation (query_result's), each once.
  std::vector<std::string> warnings, infos;
};

// eval_partial at every step start, start + step, ..., end (an instant
// query: start == end), the operand evaluated once over the whole grid; for
// a series-local expression, its value per series and step.
// REQUIRES: is_pushable(e).
result<partial_table> eval_partial_range(const expr& e, series_source& shard, int64_t start_ms, int64_t end_ms,
                                         int64_t step_ms, const eval_options& o);

// Merges several shards' tables into one table of the same form (groups
// merged step by step, nothing finished, annotations united): what a node
// sends for its shards.
partial_table combine_partial_tables(std::vector<partial_table> parts);

// Merges the shards' tables step by step and finishes them: the pushed
// expression's result on the grid, one series per output series with a
// sample at each step where it has a value, in the order merge_partials
// gives them at their first step. Fails when two shards answer a
// series-local expression with the same labels at the same step.
result<matrix> merge_partial_tables(const expr& e, std::vector<partial_table> shards, int64_t start_ms,
                                    int64_t step_ms);

// The subtrees of `e` that a coordinator may have the shards compute for a
// query evaluated on its own grid, outermost first, none below a subquery
// (whose grid differs):
//   - decomposable aggregations not grouping by __name__ (a shard sees
//     names already dropped);
//   - outside those, the largest series-local subtrees of instant-vector
//     type but bare matrix selectors. A shard answers final labels, so a
//     subtree whose result drops the metric name (rate(x[5m]), x * 2) is
//     pushed only where nothing above it can tell a name dropped at the
//     shard from one dropped at the end: arithmetic and comparisons whose
//     on/ignoring/group lists do not name __name__, aggregations other
//     than topk/bottomk/limitk/limit_ratio/count_values grouping by
//     anything but __name__, element-wise functions, histogram_quantile
//     and scalar. A vector selector keeps its names and is pushed anywhere.
std::vector<const expr*> pushable_subtrees(const expr& e);

}  // namespace strata::query
