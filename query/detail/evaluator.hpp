#pragma once
// The evaluator behind eval_instant/eval_range. It evaluates every node of a
// query once over all steps of a grid (not step by step): an instant vector
// is a set of series, each with one slot per step, so that selectors and
// range functions walk a series' samples once for the whole query and
// labels are computed once per series, not once per step.
//
// Invariants: every vseries of a vec_value has v.size() == ok.size() ==
// grid.n; matrix_value::ends is non-decreasing and has grid.n entries.
// An evaluator lives for one query and runs on one thread, except that the
// per-series work of selectors and range functions may run on the query's
// work pool (series_batches).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.hpp"
#include "query/ast.hpp"
#include "query/engine.hpp"
#include "query/series_source.hpp"
#include "query/value.hpp"

namespace strata::query::detail {

// Evaluation times start, start + step, ..., n of them.
struct grid {
  int64_t start = 0;
  int64_t step = 1;
  size_t n = 1;
  int64_t at(size_t k) const { return start + static_cast<int64_t>(k) * step; }
};

// One series of an instant vector over the grid.
struct vseries {
  labels metric;
  std::vector<double> v;
  std::vector<uint8_t> ok;  // 1 where the series has a value at that step
  // __name__ is to be removed once the query's result is final (Prometheus's
  // delayed name removal): label_replace/label_join and `by (__name__)`
  // still see it.
  bool drop_name = false;
};

struct vec_value {
  std::vector<vseries> series;
};
struct scalar_value {
  std::vector<double> v;
};
struct string_value {
  std::string s;
};
// A range vector over the grid: at step k, series s holds the samples of
// s.samples in (ends[k] - range_ms, ends[k]].
struct matrix_value {
  std::vector<series> data;  // oldest first, no stale markers
  std::vector<int64_t> ends;
  int64_t range_ms = 0;
  // anchored/smoothed selectors hold samples up to one lookback before the
  // first window (and after the last one, smoothed).
  range_mode mode = range_mode::plain;
};

using value = std::variant<vec_value, scalar_value, string_value, matrix_value>;

// Takes the series of an instant vector one at a time instead of a
// vec_value holding them all (an aggregation fused with the range function
// below it). `v` and `ok` have one entry per step of the grid and are only
// valid during the call.
class series_sink {
 public:
  virtual ~series_sink() = default;
  virtual void add(const labels& metric, bool drop_name, const std::vector<double>& v,
                   const std::vector<uint8_t>& ok) = 0;
  // A batch: add(in[i].lbls, drop_name, out[i].v, out[i].ok) for each i
  // where any[i], in order. A sink whose steps are independent may split
  // them over `pool`'s threads, each adding every series in order for its
  // steps: the same values in the same order per step.
  virtual void add_batch(const std::vector<series>& in, bool drop_name, const std::vector<vseries>& out,
                         const std::vector<uint8_t>& any, work_pool& pool) {
    (void)pool;
    for (size_t i = 0; i < in.size(); ++i)
      if (any[i]) add(in[i].lbls, drop_name, out[i].v, out[i].ok);
  }
};

// Computes the series of a selection one batch at a time: `kernel` turns a
// series into its values on the grid (true if it has any), `emit` takes each
// series with its values in the order they were added. With a pool the
// series of a batch are computed in parallel, in pieces of consecutive
// series, each piece with a kernel of its own from `make_kernel` (a kernel
// may keep scratch between the series of its piece; it must write nothing
// else), then emitted in order: the same emit calls with the same values as
// without a pool. Without a pool (or with a pool of one thread) each series
// is computed and emitted as it is added.
class series_batches {
 public:
  using kernel = std::function<bool(series&, vseries&)>;
  using emit_fn = std::function<status(series&, vseries&, bool any)>;
  // Takes a whole computed batch instead of emit (the pool's path only).
  using batch_fn = std::function<status(std::vector<series>&, std::vector<vseries>&, const std::vector<uint8_t>&)>;
  series_batches(work_pool* pool, size_t steps, std::function<kernel()> make_kernel, emit_fn emit,
                 std::function<status(size_t)> check_deadline, batch_fn emit_batch = {});
  status add(series&& s);
  // Computes and emits what is left; call once after the last add.
  status finish();

 private:
  status run_batch();

  work_pool* pool_;
  size_t batch_;
  std::function<kernel()> make_;
  emit_fn emit_;
  std::function<status(size_t)> check_;
  batch_fn emit_batch_;
  kernel serial_;
  vseries one_;
  std::vector<series> in_;
  std::vector<vseries> out_;
  std::vector<uint8_t> any_;
};

constexpr const char* too_many_samples_message =
    "query processing would load too many samples into memory in query execution";
constexpr const char* timeout_message = "query timed out in expression evaluation";

// The series of `e`'s (unwrapped) vector or matrix selector with both
// absent-label rules of absent()/absent_over_time().
labels absent_labels(const expr& e);

// The times at which info(v) reads its info series, as one set of modifiers:
// the @ and offsets met on the way from v down to its first vector selector
// (subqueries included), composed so that an inner @ overrides the outer
// times. Resolved for a query (step, start, end); never an expression.
time_modifiers info_time_modifiers(const expr& v, int64_t qstep, int64_t qs, int64_t qe);

class evaluator {
 public:
  // `query_start`/`query_end` resolve `@ start()` and `@ end()`.
  // `query_step` (0 for an instant query) and query_end - query_start are
  // what step() and range() answer in duration expressions.
  evaluator(series_source& src, const eval_options& o, grid g, int64_t query_start, int64_t query_end,
            int64_t query_step, annotations* notes, size_t* samples_used);

  result<value> eval(const expr& e);
  // eval, except that a range function over a plain selector hands its
  // series to `sink` (eval_range_function) instead of returning them.
  result<value> eval_into(const expr& e, series_sink& sink);
  const grid& steps() const { return grid_; }

 private:
  result<value> eval_vector_selector(const vector_selector& vs, bool timestamps);
  result<value> eval_matrix_selector(const matrix_selector& ms);
  // A matrix selector's windows without its series, and the span
  // [first, second] of the samples they read.
  result<matrix_value> matrix_windows(const matrix_selector& ms, std::pair<int64_t, int64_t>& span);
  result<value> eval_subquery(const subquery_expr& sq);
  result<value> eval_unary(const unary_expr& u);
  result<value> eval_binary(const binary_expr& b);
  result<value> eval_call(const call_expr& c);
  result<value> eval_aggregate(const aggregate_expr& a);

  // With a sink, the series a plain range selector's raw samples give go to
  // it, one at a time, and are left out of the returned vector (which holds
  // those of the other paths: rollups, anchored/smoothed, absent_over_time).
  result<value> eval_range_function(const call_expr& c, series_sink* sink = nullptr);
  result<value> eval_histogram_function(const call_expr& c);
  result<value> eval_label_function(const call_expr& c);
  result<value> eval_info(const call_expr& c);
  result<value> eval_extended_range(const call_expr& c, const matrix_value& m);
  // A rollup function over a plain selector from the tier the rule picks
  // (eval_rollup.cpp); nullopt when the rule says raw or the source has no
  // rollups.
  result<std::optional<value>> eval_rollup(const call_expr& c, const matrix_selector& ms,
                                           const std::vector<scalar_value>& scalars);

  result<value> binary_vector_vector(const binary_expr& b, vec_value& l, vec_value& r);
  result<value> set_operation(const binary_expr& b, vec_value& l, vec_value& r);

  result<scalar_value> eval_scalar(const expr& e);
  result<vec_value> eval_vector(const expr& e);
  result<matrix_value> eval_matrix(const expr& e);

  // The evaluation time of step k for a node with these modifiers.
  int64_t time_at(const time_modifiers& m, size_t k) const;
  int64_t duration_ms(int64_t fixed, const duration_ptr& e) const;
  // The series of src_.select, normalized (engine.cpp); with drop_stale
  // without stale markers.
  result<std::vector<series>> fetch(const matchers& ms, int64_t mint, int64_t maxt, bool drop_stale = false);
  // fetch's series one at a time, in the same order, through `fn` (which
  // returns an error to stop): read one by one where the source can
  // (series_source::select_each), else from the source's vector. Their
  // samples may still be out of order or hold stale markers: `fn` tidies
  // each (tidy_samples) where it reads it, on the thread that does.
  status fetch_each(const matchers& ms, int64_t mint, int64_t maxt, const std::function<status(series&)>& fn);
  status charge(size_t samples);
  // A timeout once the deadline passed, counting `ticks` units of work (a
  // series, a block of steps); the clock is read once every 64.
  status check_deadline(size_t ticks = 1);

  series_source& src_;
  const eval_options& opts_;
  grid grid_;
  int64_t query_start_, query_end_, query_step_;
  annotations* notes_;
  size_t* samples_used_;
  uint64_t deadline_tick_ = 0;
};

// The matchers that select info()'s info series: its second argument's
// matchers, __name__="target_info" when it names no metric, and
// __name__=~".+_info" when it only excludes names.
matchers info_series_matchers(const call_expr& c);

// Puts a series' samples in time order with each timestamp once (the first
// wins) and, with drop_stale, takes its stale markers out: one look when
// there is nothing to do.
void tidy_samples(std::vector<sample>& xs, bool drop_stale);
// Whether each series of `v` has labels after the one before it (sorted,
// each label set once).
bool labels_ascending(const std::vector<series>& v);

// Merges series of `v` with identical labels; fails with Prometheus's
// "vector cannot contain metrics with the same labelset" when two of them
// have a value at the same step.
status merge_same_labels(vec_value& v);
// Marks every series' __name__ for removal.
void drop_metric_names(vec_value& v);
// Removes __name__ from the series marked so, then merges equal label sets.
status apply_name_drops(vec_value& v);
// Takes the metric name (and the type and unit labels that go with it) off
// `ls`; false when it had none.
bool drop_metric_name(labels& ls);

}  // namespace strata::query::detail
