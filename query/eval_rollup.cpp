// Range functions over rollup buckets (docs/design/query.md, "Rollup tiers"):
// the tier rule, and the evaluation of a window from the buckets whose start
// lies in [end - range, end), merged in time order like
// rollup_bucket::merge_later (docs/format/rollup.md).
#include <algorithm>
#include <numeric>
#include <cmath>
#include <limits>
#include <optional>

#include "query/detail/evaluator.hpp"
#include "query/detail/rollup.hpp"
#include "query/functions.hpp"

namespace strata::query::detail {
namespace {

constexpr int64_t int64_min = std::numeric_limits<int64_t>::min();
// Wider than any tier's window (the widest is 1 h).
constexpr int64_t hour_limit = 24 * 3'600'000;

bool mul_of(int64_t x, int64_t w) { return x % w == 0; }

// The increase from prev to v of a counter: a drop is a restart from 0.
double counter_step(double prev, double v) { return v < prev ? v : v - prev; }

// A window's buckets merged in time order.
struct summary {
  uint64_t count = 0;
  fn::kahan sum;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double first = 0, last = 0;
  int64_t first_t = 0, last_t = 0;
  double increase = 0;

  void add(const bucket& b) {
    if (b.count == 0) return;
    if (count == 0) {
      first = b.first;
      first_t = b.first_t;
      increase = b.increase;
    } else {
      increase += counter_step(last, b.first) + b.increase;
    }
    count += b.count;
    sum.add(b.sum);
    if (b.min < min) min = b.min;
    if (b.max > max) max = b.max;
    last = b.last;
    last_t = b.last_t;
  }
};

bucket from_sample(const sample& s, int64_t w) {
  bucket b;
  b.start = floor_to(s.t, w);
  b.count = 1;
  b.sum = s.v;
  if (!std::isnan(s.v)) b.min = b.max = s.v;
  b.first = b.last = s.v;
  b.first_t = b.last_t = s.t;
  return b;
}

struct piece_series {
  labels lbls;
  std::vector<bucket> pieces;  // by first_t, disjoint in time
};

// Joins answers of one series (two shards), turns raw samples into
// one-sample buckets without sketch (stale markers dropped), sorts by time and drops
// pieces that overlap an earlier one (the same samples answered twice).
std::vector<piece_series> normalize_buckets(std::vector<bucket_series> in, int64_t w) {
  std::stable_sort(in.begin(), in.end(), [](const bucket_series& a, const bucket_series& b) { return a.lbls < b.lbls; });
  std::vector<piece_series> out;
  for (auto& s : in) {
    if (out.empty() || !(out.back().lbls == s.lbls)) out.push_back({std::move(s.lbls), {}});
    auto& ps = out.back().pieces;
    // A series' buckets are taken whole where they are its first answer, so
    // that the selection is not held twice (a 24 h range at a 1 m step holds
    // millions of buckets).
    if (ps.empty()) {
      ps = std::move(s.buckets);
      ps.erase(std::remove_if(ps.begin(), ps.end(), [](const bucket& b) { return b.count == 0; }), ps.end());
    } else {
      ps.reserve(ps.size() + s.buckets.size());
      for (auto& b : s.buckets)
        if (b.count > 0) ps.push_back(std::move(b));
      std::vector<bucket>().swap(s.buckets);
    }
    ps.reserve(ps.size() + s.samples.size());
    for (const auto& x : s.samples)
      if (!is_stale_nan(x.v)) ps.push_back(from_sample(x, w));
    std::vector<sample>().swap(s.samples);
  }
  for (auto& s : out) {
    auto& ps = s.pieces;
    // Equal starts (replicas of one bucket): the fuller one first, so it is kept.
    auto by_time = [](const bucket& a, const bucket& b) {
      return a.first_t != b.first_t ? a.first_t < b.first_t : a.count > b.count;
    };
    if (!std::is_sorted(ps.begin(), ps.end(), by_time)) std::stable_sort(ps.begin(), ps.end(), by_time);
    size_t k = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      if (k > 0 && ps[i].first_t <= ps[k - 1].last_t) continue;
      if (k != i) ps[k] = std::move(ps[i]);
      ++k;
    }
    ps.resize(k);
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const piece_series& s) { return s.pieces.empty(); }), out.end());
  return out;
}

// quantile_over_time of a window: exact (Prometheus's interpolation) when
// every piece is a raw sample, else the merged sketches plus the raw values.
double window_quantile(double q, const std::vector<const bucket*>& in) {
  std::unique_ptr<value_sketch> sk;
  std::vector<double> loose;
  for (const bucket* p : in) {
    if (p->sketch) {
      if (!sk) sk = p->sketch->clone();
      else sk->merge(*p->sketch);
    } else {
      loose.push_back(p->first);  // a raw sample
    }
  }
  if (!sk) return fn::quantile(q, loose);
  for (double v : loose) sk->add(v);
  return sk->quantile(q);
}

}  // namespace

int64_t floor_to(int64_t t, int64_t w) {
  int64_t r = t % w;
  return r < 0 ? t - r - w : t - r;
}

int64_t ceil_to(int64_t t, int64_t w) {
  int64_t f = floor_to(t, w);
  return f == t ? t : f + w;
}

bool rollup_function(std::string_view f) {
  return f == "rate" || f == "increase" || f == "delta" || f == "sum_over_time" || f == "count_over_time" ||
         f == "min_over_time" || f == "max_over_time" || f == "avg_over_time" || f == "last_over_time" ||
         f == "first_over_time" || f == "present_over_time" || f == "ts_of_last_over_time" ||
         f == "ts_of_first_over_time" || f == "quantile_over_time";
}

int64_t raw_horizon(const eval_options& o) {
  if (o.tiers.empty() || o.raw_retention_ms <= 0) return int64_min;
  return o.now_ms - o.raw_retention_ms;
}

int64_t choose_rollup_window(int64_t first_end, int64_t last_end, int64_t step, int64_t range_ms,
                             const eval_options& o) {
  if (o.tiers.empty() || o.max_rollup_window_ms <= 0 || range_ms <= 0) return 0;
  if (first_end == last_end) step = 0;
  int64_t oldest, past;
  // Times near the ends of int64 (far-off `@`) read raw samples.
  if (__builtin_sub_overflow(first_end, range_ms, &oldest) ||
      __builtin_add_overflow(last_end, 2 * hour_limit, &past) || oldest < int64_min + 2 * hour_limit)
    return 0;
  auto covers = [&](const eval_options::tier& t) { return oldest >= o.now_ms - t.retention_ms; };
  const eval_options::tier* equivalent = nullptr;
  const eval_options::tier* finest_covering = nullptr;
  const eval_options::tier* longest = nullptr;
  for (const auto& t : o.tiers) {
    if (t.window_ms <= 0 || t.window_ms > hour_limit || t.window_ms > o.max_rollup_window_ms) continue;
    if (!longest || t.retention_ms > longest->retention_ms) longest = &t;
    if (!covers(t)) continue;
    if (!finest_covering || t.window_ms < finest_covering->window_ms) finest_covering = &t;
    if (mul_of(range_ms, t.window_ms) && mul_of(step, t.window_ms) && mul_of(first_end, t.window_ms) &&
        (!equivalent || t.window_ms > equivalent->window_ms))
      equivalent = &t;
  }
  const bool past_raw = oldest < raw_horizon(o);
  if (equivalent && (past_raw || equivalent->window_ms >= o.min_tier_within_raw_ms)) return equivalent->window_ms;
  if (!past_raw) return 0;
  if (finest_covering) return finest_covering->window_ms;
  return longest ? longest->window_ms : 0;
}

int64_t window_edge_step(int64_t first_end, int64_t last_end, int64_t step, int64_t range_ms, int64_t w) {
  if (first_end == last_end) step = 0;
  if (range_ms <= 0 || !mul_of(range_ms, w) || !mul_of(first_end, w) || !mul_of(step, w)) return -1;
  return std::gcd(step, range_ms);
}

std::pair<int64_t, int64_t> bucket_starts(int64_t first_end, int64_t last_end, int64_t range_ms, int64_t w) {
  return {ceil_to(first_end - range_ms, w), floor_to(last_end - 1, w)};
}

result<std::optional<value>> evaluator::eval_rollup(const call_expr& c, const matrix_selector& ms,
                                                    const std::vector<scalar_value>& scalars) {
  const std::string& f = c.func;
  const size_t n = grid_.n;
  const int64_t range = duration_ms(ms.range_ms, ms.range_expr);
  if (range <= 0 || n == 0 || ms.vs.mode != range_mode::plain) return std::optional<value>();
  std::vector<int64_t> ends(n);
  for (size_t k = 0; k < n; ++k) ends[k] = time_at(ms.vs.mods, k);
  const int64_t w = choose_rollup_window(ends.front(), ends.back(), n > 1 ? grid_.step : 0, range, opts_);
  if (w == 0) return std::optional<value>();
  auto [lo, hi] = bucket_starts(ends.front(), ends.back(), range, w);
  vec_value out;
  if (lo > hi) return std::optional<value>(value{std::move(out)});
  if (opts_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= opts_.deadline)
    return error(strata_errc::timeout, timeout_message);
  const int64_t edge_step = window_edge_step(ends.front(), ends.back(), n > 1 ? grid_.step : 0, range, w);
  auto got = src_.select_buckets(ms.vs.label_matchers, lo, hi, w, edge_step);
  if (!got) {
    if (got.error().code() == strata_errc::not_found) return std::optional<value>();  // no tiers: raw
    return got.error();
  }
  auto data = normalize_buckets(std::move(*got), w);
  size_t used = 0;
  for (const auto& s : data) used += s.pieces.size();
  if (auto st = charge(used); !st) return st;

  const bool aligned = mul_of(range, w) && mul_of(ends.front(), w) && (n == 1 || mul_of(grid_.step, w));
  if (!aligned)
    notes_->info("PromQL info: " + f + " reads the " + std::to_string(w / 1000) +
                 "s rollup tier: the range reaches before the raw retention, and windows are rounded to whole "
                 "buckets");
  const bool counter = f == "rate" || f == "increase";
  const bool keeps_name = f == "last_over_time" || f == "first_over_time";
  out.series.reserve(data.size());
  for (auto& s : data) {
    if (auto st = check_deadline(); !st) return st;
    vseries r;
    r.v.assign(n, 0);
    r.ok.assign(n, 0);
    bool any = false;
    const bucket* base = s.pieces.data();
    std::vector<const bucket*> in;
    const size_t count = s.pieces.size();
    for (size_t k = 0; k < n; ++k) {
      // A bucket belongs to the window when it starts in [end - range, end),
      // a raw sample when it lies in (end - range, end]. Pieces are sorted
      // by time; a bucket starting in the window begins before end + w.
      const int64_t begin_t = ends[k] - range, end_t = ends[k];
      const bucket* p = std::lower_bound(base, base + count, begin_t,
                                         [](const bucket& x, int64_t t) { return x.first_t < t; });
      in.clear();
      for (; p != base + count && p->first_t - w < end_t; ++p) {
        bool inside = p->sketch ? p->start >= begin_t && p->start < end_t
                                : p->first_t > begin_t && p->first_t <= end_t;
        if (inside) in.push_back(p);
      }
      if (in.empty()) continue;
      summary sm;
      for (const bucket* q : in) sm.add(*q);
      double x;
      if (f == "rate" || f == "increase" || f == "delta") {
        if (sm.count < 2) continue;
        double change = counter ? sm.increase : sm.last - sm.first;
        x = fn::extrapolate({sm.first_t, sm.first, sm.last_t, sm.last, static_cast<size_t>(sm.count), change},
                            ends[k], range, counter, f == "rate");
      } else if (f == "sum_over_time") {
        x = sm.sum.value();
      } else if (f == "count_over_time") {
        x = static_cast<double>(sm.count);
      } else if (f == "avg_over_time") {
        x = sm.sum.value() / static_cast<double>(sm.count);
      } else if (f == "min_over_time" || f == "max_over_time") {
        bool none = sm.min == std::numeric_limits<double>::infinity() &&
                    sm.max == -std::numeric_limits<double>::infinity();
        x = none ? std::nan("") : f == "min_over_time" ? sm.min : sm.max;
      } else if (f == "last_over_time") {
        x = sm.last;
      } else if (f == "first_over_time") {
        x = sm.first;
      } else if (f == "ts_of_last_over_time") {
        x = static_cast<double>(sm.last_t) / 1000;
      } else if (f == "ts_of_first_over_time") {
        x = static_cast<double>(sm.first_t) / 1000;
      } else if (f == "present_over_time") {
        x = 1;
      } else {  // quantile_over_time
        x = window_quantile(scalars[0].v[k], in);
      }
      r.v[k] = x;
      r.ok[k] = 1;
      any = true;
    }
    if (!any) continue;
    r.metric = std::move(s.lbls);
    out.series.push_back(std::move(r));
  }
  if (!keeps_name) drop_metric_names(out);
  if (auto st = merge_same_labels(out); !st) return st;
  return std::optional<value>(value{std::move(out)});
}

}  // namespace strata::query::detail
