#include "query/engine.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

#include "query/detail/evaluator.hpp"
#include "query/detail/rollup.hpp"
#include "query/functions.hpp"

namespace strata::query {

void annotations::warn(std::string msg) {
  if (std::find(warnings.begin(), warnings.end(), msg) == warnings.end()) warnings.push_back(std::move(msg));
}

void annotations::info(std::string msg) {
  if (std::find(infos.begin(), infos.end(), msg) == infos.end()) infos.push_back(std::move(msg));
}

namespace detail {

void tidy_samples(std::vector<sample>& xs, bool drop_stale) {
  bool in_order = true, stale = false;
  for (size_t j = 0; j < xs.size(); ++j) {
    in_order &= j == 0 || xs[j - 1].t < xs[j].t;
    stale |= is_stale_nan(xs[j].v);
  }
  if (!in_order) {
    std::stable_sort(xs.begin(), xs.end(), [](const sample& a, const sample& b) { return a.t < b.t; });
    xs.erase(std::unique(xs.begin(), xs.end(), [](const sample& a, const sample& b) { return a.t == b.t; }),
             xs.end());
  }
  if (drop_stale && stale)
    xs.erase(std::remove_if(xs.begin(), xs.end(), [](const sample& x) { return is_stale_nan(x.v); }), xs.end());
}

bool labels_ascending(const std::vector<series>& v) {
  return std::adjacent_find(v.begin(), v.end(), [](const series& a, const series& b) { return !(a.lbls < b.lbls); }) ==
         v.end();
}

namespace {

int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

bool sample_time_less(const sample& a, const sample& b) { return a.t < b.t; }

// Sorts series by labels, merges series that a source returned more than
// once, and puts each series' samples in time order without duplicates
// (the first one returned for a timestamp wins); with drop_stale, stale
// markers are then removed. The look at each series runs on `pool` where
// there is one.
std::vector<series> normalize(std::vector<series> in, bool drop_stale, work_pool* pool) {
  auto tidy_all = [pool](std::vector<series>& v, bool drop) {
    if (pool && pool->width() > 1 && v.size() >= 64) {
      pool->parallel_ranges(v.size(), pool->width() * 4, [&](size_t i, size_t e) {
        for (; i < e; ++i) tidy_samples(v[i].samples, drop);
      });
    } else {
      for (auto& x : v) tidy_samples(x.samples, drop);
    }
  };
  // Sources answer each series once, by labels (series_source::select):
  // then only each series' samples are looked at.
  if (labels_ascending(in)) {
    tidy_all(in, drop_stale);
    return in;
  }
  tidy_all(in, false);
  std::stable_sort(in.begin(), in.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
  std::vector<series> out;
  out.reserve(in.size());
  for (auto& s : in) {
    if (out.empty() || out.back().lbls != s.lbls) {
      out.push_back(std::move(s));
      continue;
    }
    auto& into = out.back().samples;
    std::vector<sample> merged;
    merged.reserve(into.size() + s.samples.size());
    std::merge(into.begin(), into.end(), s.samples.begin(), s.samples.end(), std::back_inserter(merged),
               sample_time_less);
    into = std::move(merged);
  }
  tidy_all(out, drop_stale);  // a merged series' timestamps once each, the first part's winning
  return out;
}

// The newest sample of `s` in (lo, hi], searching from `*from` (which is
// advanced, so that walking non-decreasing windows is linear); null when
// there is none or it is a stale marker.
const sample* latest_in(const std::vector<sample>& s, size_t* from, int64_t lo, int64_t hi) {
  size_t j = *from;
  while (j < s.size() && s[j].t <= hi) ++j;
  *from = j;
  if (j == 0) return nullptr;
  const sample& c = s[j - 1];
  if (c.t <= lo || is_stale_nan(c.v)) return nullptr;
  return &c;
}

int64_t base_time(const time_modifiers& m, int64_t t, int64_t query_start, int64_t query_end) {
  switch (m.at) {
    case at_kind::none: return t;
    case at_kind::timestamp: return m.at_ms;
    case at_kind::start: return query_start;
    case at_kind::end: return query_end;
  }
  return t;
}

// The first multiple of `step` at or after `t`.
int64_t align_up(int64_t t, int64_t step) {
  int64_t a = step * (t / step);
  if (a < t) a += step;
  return a;
}

// The value of a fixed-or-expression duration for a query (qstep, qs, qe).
int64_t dur(int64_t fixed, const duration_ptr& e, int64_t qstep, int64_t qs, int64_t qe) {
  return e ? eval_duration_ms(*e, qstep, qe - qs) : fixed;
}

}  // namespace

time_modifiers info_time_modifiers(const expr& v, int64_t qstep, int64_t qs, int64_t qe) {
  // Each level maps a time t to (@ ? @ : t) - offset.
  auto compose = [&](time_modifiers acc, const time_modifiers& m) {
    int64_t off = dur(m.offset_ms, m.offset_expr, qstep, qs, qe);
    if (m.at == at_kind::none) {
      acc.offset_ms = sat_add(acc.offset_ms, off);
    } else {
      acc.at = at_kind::timestamp;
      acc.at_ms = base_time(m, 0, qs, qe);
      acc.offset_ms = off;
    }
    return acc;
  };
  std::function<std::optional<time_modifiers>(const expr&, const time_modifiers&)> walk =
      [&](const expr& e, const time_modifiers& acc) -> std::optional<time_modifiers> {
    return std::visit(
        [&](const auto& n) -> std::optional<time_modifiers> {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, vector_selector>) return compose(acc, n.mods);
          else if constexpr (std::is_same_v<T, matrix_selector>) return compose(acc, n.vs.mods);
          else if constexpr (std::is_same_v<T, subquery_expr>) return walk(*n.inner, compose(acc, n.mods));
          else if constexpr (std::is_same_v<T, paren_expr>) return walk(*n.inner, acc);
          else if constexpr (std::is_same_v<T, unary_expr>) return walk(*n.operand, acc);
          else if constexpr (std::is_same_v<T, binary_expr>) {
            if (auto r = walk(*n.lhs, acc)) return r;
            return walk(*n.rhs, acc);
          } else if constexpr (std::is_same_v<T, call_expr>) {
            for (const auto& a : n.args)
              if (auto r = walk(*a, acc)) return r;
            return std::nullopt;
          } else if constexpr (std::is_same_v<T, aggregate_expr>) {
            if (auto r = walk(*n.operand, acc)) return r;
            return n.param ? walk(*n.param, acc) : std::nullopt;
          } else {
            return std::nullopt;
          }
        },
        e.node);
  };
  return walk(v, time_modifiers{}).value_or(time_modifiers{});
}

namespace {

// `gstep`: the step of the grid lo..hi (0 for one time).
void collect(const expr& e, int64_t lo, int64_t hi, int64_t gstep, int64_t qs, int64_t qe, int64_t qstep,
             const eval_options& o, std::vector<selection>& out) {
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, vector_selector> || std::is_same_v<T, matrix_selector>) {
          const vector_selector* vs;
          int64_t window;
          if constexpr (std::is_same_v<T, vector_selector>) vs = &n, window = o.lookback_ms;
          else vs = &n.vs, window = dur(n.range_ms, n.range_expr, qstep, qs, qe);
          int64_t off = dur(vs->mods.offset_ms, vs->mods.offset_expr, qstep, qs, qe);
          int64_t a = sat_sub(base_time(vs->mods, lo, qs, qe), off);
          int64_t b = sat_sub(base_time(vs->mods, hi, qs, qe), off);
          if (vs->mode != range_mode::plain && std::is_same_v<T, matrix_selector>) a = sat_sub(a, o.lookback_ms);
          if (vs->mode == range_mode::smoothed) b = sat_add(b, o.lookback_ms);
          out.push_back({vs->label_matchers, sat_add(sat_sub(a, window), 1), b});
        } else if constexpr (std::is_same_v<T, subquery_expr>) {
          int64_t step = dur(n.step_ms, n.step_expr, qstep, qs, qe);
          if (step == 0 && !n.step_expr) step = o.default_subquery_step_ms;
          if (step <= 0) return;
          int64_t off = dur(n.mods.offset_ms, n.mods.offset_expr, qstep, qs, qe);
          int64_t a = sat_sub(base_time(n.mods, lo, qs, qe), off);
          int64_t b = sat_sub(base_time(n.mods, hi, qs, qe), off);
          int64_t start = align_up(sat_sub(a, dur(n.range_ms, n.range_expr, qstep, qs, qe)), step);
          if (start <= b) collect(*n.inner, start, b - (b - start) % step, step, qs, qe, qstep, o, out);
        } else if constexpr (std::is_same_v<T, paren_expr>) {
          collect(*n.inner, lo, hi, gstep, qs, qe, qstep, o, out);
        } else if constexpr (std::is_same_v<T, unary_expr>) {
          collect(*n.operand, lo, hi, gstep, qs, qe, qstep, o, out);
        } else if constexpr (std::is_same_v<T, binary_expr>) {
          collect(*n.lhs, lo, hi, gstep, qs, qe, qstep, o, out);
          collect(*n.rhs, lo, hi, gstep, qs, qe, qstep, o, out);
        } else if constexpr (std::is_same_v<T, call_expr>) {
          if (n.func == "info") {
            collect(*n.args[0], lo, hi, gstep, qs, qe, qstep, o, out);
            time_modifiers mods = info_time_modifiers(*n.args[0], qstep, qs, qe);
            int64_t a = sat_sub(base_time(mods, lo, qs, qe), mods.offset_ms);
            int64_t b = sat_sub(base_time(mods, hi, qs, qe), mods.offset_ms);
            out.push_back({info_series_matchers(n), sat_add(sat_sub(a, o.lookback_ms), 1), b});
            return;
          }
          if (rollup_function(n.func)) {
            size_t mi = n.func == "quantile_over_time" ? 1 : 0;
            const auto* ms = mi < n.args.size() ? std::get_if<matrix_selector>(&unwrap_parens(*n.args[mi]).node)
                                                : nullptr;
            if (ms && ms->vs.mode == range_mode::plain) {
              int64_t range = dur(ms->range_ms, ms->range_expr, qstep, qs, qe);
              int64_t off = dur(ms->vs.mods.offset_ms, ms->vs.mods.offset_expr, qstep, qs, qe);
              int64_t a = sat_sub(base_time(ms->vs.mods, lo, qs, qe), off);
              int64_t b = sat_sub(base_time(ms->vs.mods, hi, qs, qe), off);
              int64_t w = choose_rollup_window(a, b, lo == hi ? 0 : gstep, range, o);
              if (w > 0) {
                for (size_t i = 0; i < n.args.size(); ++i)
                  if (i != mi) collect(*n.args[i], lo, hi, gstep, qs, qe, qstep, o, out);
                auto [first, last] = bucket_starts(a, b, range, w);
                if (first <= last)
                  out.push_back({ms->vs.label_matchers, first, last, w,
                                 window_edge_step(a, b, lo == hi ? 0 : gstep, range, w)});
                return;
              }
            }
          }
          for (const auto& a : n.args) collect(*a, lo, hi, gstep, qs, qe, qstep, o, out);
        } else if constexpr (std::is_same_v<T, aggregate_expr>) {
          if (n.param) collect(*n.param, lo, hi, gstep, qs, qe, qstep, o, out);
          collect(*n.operand, lo, hi, gstep, qs, qe, qstep, o, out);
        }
      },
      e.node);
}

}  // namespace

labels absent_labels(const expr& arg) {
  const expr& e = arg;
  const vector_selector* vs = std::get_if<vector_selector>(&e.node);
  if (const auto* ms = std::get_if<matrix_selector>(&e.node)) vs = &ms->vs;
  labels out;
  if (!vs) return out;
  std::vector<std::string> seen;
  for (const auto& m : vs->label_matchers) {
    if (m.name() == metric_name_label) continue;
    bool dup = std::find(seen.begin(), seen.end(), m.name()) != seen.end();
    auto it = std::find_if(out.begin(), out.end(), [&](const label& l) { return l.name == m.name(); });
    if (m.type() == matcher::op::eq && !dup) {
      if (it != out.end()) it->value = m.value();
      else if (!m.value().empty()) out.push_back({m.name(), m.value()});
      seen.push_back(m.name());
    } else if (it != out.end()) {
      out.erase(it);
    }
  }
  sort_labels(out);
  return out;
}

void drop_metric_names(vec_value& v) {
  for (auto& s : v.series) s.drop_name = true;
}

bool drop_metric_name(labels& ls) {
  // The type and unit labels describe the metric name and go with it.
  auto last = std::remove_if(ls.begin(), ls.end(), [](const label& l) {
    return l.name == metric_name_label || l.name == "__type__" || l.name == "__unit__";
  });
  if (last == ls.end()) return false;
  ls.erase(last, ls.end());
  return true;
}

status apply_name_drops(vec_value& v) {
  bool any = false;
  for (auto& s : v.series) {
    if (!s.drop_name) continue;
    s.drop_name = false;
    any = drop_metric_name(s.metric) || any;
  }
  if (!any) return {};
  return merge_same_labels(v);
}

status merge_same_labels(vec_value& v) {
  if (v.series.size() < 2) return {};
  std::vector<size_t> idx(v.series.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v.series[a].metric < v.series[b].metric; });
  std::vector<uint8_t> gone(v.series.size(), 0);
  bool any = false;
  // idx is stable-sorted, so the head of each run of equal labels is the
  // run's first series in the original order.
  size_t head = idx[0];
  for (size_t i = 1; i < idx.size(); ++i) {
    size_t cur = idx[i];
    if (!(v.series[cur].metric == v.series[head].metric)) {
      head = cur;
      continue;
    }
    auto& into = v.series[head];
    auto& from = v.series[cur];
    into.drop_name = into.drop_name || from.drop_name;
    for (size_t k = 0; k < into.ok.size(); ++k) {
      if (!from.ok[k]) continue;
      if (into.ok[k]) return error(strata_errc::bad_request, "vector cannot contain metrics with the same labelset");
      into.ok[k] = 1;
      into.v[k] = from.v[k];
    }
    gone[cur] = 1;
    any = true;
  }
  if (!any) return {};
  size_t w = 0;
  for (size_t i = 0; i < v.series.size(); ++i)
    if (!gone[i]) {
      if (w != i) v.series[w] = std::move(v.series[i]);
      ++w;
    }
  v.series.resize(w);
  return {};
}

evaluator::evaluator(series_source& src, const eval_options& o, grid g, int64_t query_start, int64_t query_end,
                     int64_t query_step, annotations* notes, size_t* samples_used)
    : src_(src),
      opts_(o),
      grid_(g),
      query_start_(query_start),
      query_end_(query_end),
      query_step_(query_step),
      notes_(notes),
      samples_used_(samples_used) {}

int64_t evaluator::duration_ms(int64_t fixed, const duration_ptr& e) const {
  return e ? eval_duration_ms(*e, query_step_, query_end_ - query_start_) : fixed;
}

int64_t evaluator::time_at(const time_modifiers& m, size_t k) const {
  return sat_sub(base_time(m, grid_.at(k), query_start_, query_end_), duration_ms(m.offset_ms, m.offset_expr));
}

status evaluator::charge(size_t samples) {
  *samples_used_ += samples;
  if (*samples_used_ > opts_.max_samples) return error(strata_errc::bad_request, too_many_samples_message);
  return {};
}

series_batches::series_batches(work_pool* pool, size_t steps, std::function<kernel()> make_kernel, emit_fn emit,
                               std::function<status(size_t)> check_deadline, batch_fn emit_batch)
    : pool_(pool && pool->width() > 1 ? pool : nullptr),
      // A batch holds its values on the grid: at most ~2 MB of them.
      batch_(std::clamp<size_t>((size_t{1} << 21) / (9 * std::max<size_t>(steps, 1)), 16, 256)),
      make_(std::move(make_kernel)),
      emit_(std::move(emit)),
      check_(std::move(check_deadline)),
      emit_batch_(std::move(emit_batch)) {
  if (!pool_) serial_ = make_();
}

status series_batches::add(series&& s) {
  if (!pool_) {
    if (auto st = check_(1); !st) return st;
    bool any = serial_(s, one_);
    return emit_(s, one_, any);
  }
  in_.push_back(std::move(s));
  return in_.size() < batch_ ? status{} : run_batch();
}

status series_batches::finish() { return in_.empty() ? status{} : run_batch(); }

status series_batches::run_batch() {
  size_t count = in_.size();
  out_.resize(count);
  any_.assign(count, 0);
  // Pieces of consecutive series, a few per thread, so that a slow series
  // does not leave the other threads idle.
  pool_->parallel_ranges(count, pool_->width() * 4, [&](size_t i, size_t e) {
    kernel k = make_();
    for (; i < e; ++i) any_[i] = k(in_[i], out_[i]);
  });
  if (emit_batch_) {
    if (auto st = check_(count); !st) return st;  // a tick per series, as on one thread
    if (auto st = emit_batch_(in_, out_, any_); !st) return st;
  } else {
    for (size_t i = 0; i < count; ++i) {
      if (auto st = check_(1); !st) return st;
      if (auto st = emit_(in_[i], out_[i], any_[i] != 0); !st) return st;
    }
  }
  in_.clear();
  return {};
}

status evaluator::check_deadline(size_t ticks) {
  const uint64_t from = deadline_tick_;
  deadline_tick_ += ticks;
  if (ticks == 0 || (from + 63) / 64 > (deadline_tick_ - 1) / 64) return {};  // no multiple of 64 among them
  if (opts_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= opts_.deadline)
    return error(strata_errc::timeout, timeout_message);
  return {};
}

result<std::vector<series>> evaluator::fetch(const matchers& ms, int64_t mint, int64_t maxt, bool drop_stale) {
  if (opts_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= opts_.deadline)
    return error(strata_errc::timeout, timeout_message);
  auto sel = src_.select(ms, mint, maxt);
  if (!sel) return sel.error();
  return normalize(std::move(*sel), drop_stale, opts_.pool);
}

status evaluator::fetch_each(const matchers& ms, int64_t mint, int64_t maxt, const std::function<status(series&)>& fn) {
  if (opts_.deadline != std::chrono::steady_clock::time_point::max() &&
      std::chrono::steady_clock::now() >= opts_.deadline)
    return error(strata_errc::timeout, timeout_message);
  if (auto st = src_.select_each(ms, mint, maxt, fn)) return *st;
  auto sel = src_.select(ms, mint, maxt);
  if (!sel) return sel.error();
  // Each series once, by labels (what sources answer): handed over as they
  // are, for the caller to tidy each where it reads it. Else normalized here.
  if (!labels_ascending(*sel)) *sel = normalize(std::move(*sel), /*drop_stale=*/true, opts_.pool);
  for (auto& s : *sel)
    if (auto st = fn(s); !st) return st;
  return {};
}

result<value> evaluator::eval_into(const expr& e, series_sink& sink) {
  const auto* call = std::get_if<call_expr>(&unwrap_parens(e).node);
  if (call && fn::find_range_function(call->func)) return eval_range_function(*call, &sink);
  return eval(e);
}

result<value> evaluator::eval(const expr& e) {
  if (opts_.precomputed)
    for (const auto& [at, m] : *opts_.precomputed) {
      if (at != &e) continue;
      vec_value out;
      for (const auto& s : m) {
        vseries vs;
        vs.metric = s.lbls;
        vs.v.assign(grid_.n, 0);
        vs.ok.assign(grid_.n, 0);
        for (const auto& x : s.samples) {
          if (x.t < grid_.start) continue;
          auto k = static_cast<size_t>((x.t - grid_.start) / grid_.step);
          if (k < grid_.n && grid_.at(k) == x.t) vs.v[k] = x.v, vs.ok[k] = 1;
        }
        out.series.push_back(std::move(vs));
      }
      return value{std::move(out)};
    }
  return std::visit(
      [&](const auto& n) -> result<value> {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, vector_selector>) {
          return eval_vector_selector(n, false);
        } else if constexpr (std::is_same_v<T, matrix_selector>) {
          return eval_matrix_selector(n);
        } else if constexpr (std::is_same_v<T, number_literal>) {
          return value{scalar_value{std::vector<double>(grid_.n, n.value)}};
        } else if constexpr (std::is_same_v<T, string_literal>) {
          return value{string_value{n.value}};
        } else if constexpr (std::is_same_v<T, subquery_expr>) {
          return eval_subquery(n);
        } else if constexpr (std::is_same_v<T, paren_expr>) {
          return eval(*n.inner);
        } else if constexpr (std::is_same_v<T, unary_expr>) {
          return eval_unary(n);
        } else if constexpr (std::is_same_v<T, binary_expr>) {
          return eval_binary(n);
        } else if constexpr (std::is_same_v<T, call_expr>) {
          return eval_call(n);
        } else {
          return eval_aggregate(n);
        }
      },
      e.node);
}

result<scalar_value> evaluator::eval_scalar(const expr& e) {
  auto v = eval(e);
  if (!v) return v.error();
  if (auto* s = std::get_if<scalar_value>(&*v)) return std::move(*s);
  return error(strata_errc::internal, "expected a scalar: " + to_string(e));
}

result<vec_value> evaluator::eval_vector(const expr& e) {
  auto v = eval(e);
  if (!v) return v.error();
  if (auto* s = std::get_if<vec_value>(&*v)) return std::move(*s);
  return error(strata_errc::internal, "expected an instant vector: " + to_string(e));
}

result<matrix_value> evaluator::eval_matrix(const expr& e) {
  auto v = eval(e);
  if (!v) return v.error();
  if (auto* s = std::get_if<matrix_value>(&*v)) return std::move(*s);
  return error(strata_errc::internal, "expected a range vector: " + to_string(e));
}

result<value> evaluator::eval_vector_selector(const vector_selector& vs, bool timestamps) {
  vec_value out;
  size_t n = grid_.n;
  if (n == 0) return value{std::move(out)};
  int64_t lo = time_at(vs.mods, 0), hi = time_at(vs.mods, n - 1);
  bool smooth = vs.mode == range_mode::smoothed;
  auto data = fetch(vs.label_matchers, sat_add(sat_sub(lo, opts_.lookback_ms), 1),
                    smooth ? sat_add(hi, opts_.lookback_ms) : hi);
  if (!data) return data.error();
  std::vector<int64_t> times(n);
  for (size_t k = 0; k < n; ++k) times[k] = time_at(vs.mods, k);
  size_t used = 0;
  out.series.reserve(data->size());
  auto make_kernel = [&]() -> series_batches::kernel {
    return [&](series& s, vseries& r) {
      r.v.assign(n, 0);
      r.ok.assign(n, 0);
      size_t from = 0;
      bool any = false;
      for (size_t k = 0; k < n; ++k) {
        const sample* c = latest_in(s.samples, &from, sat_sub(times[k], opts_.lookback_ms), times[k]);
        if (!c) continue;
        r.v[k] = timestamps ? static_cast<double>(c->t) / 1000.0 : c->v;
        // smoothed: interpolate towards the next sample within the lookback.
        if (smooth && !timestamps && c->t < times[k] && from < s.samples.size()) {
          const sample& nx = s.samples[from];
          if (nx.t - times[k] < opts_.lookback_ms && !is_stale_nan(nx.v))
            r.v[k] = c->v + (nx.v - c->v) * static_cast<double>(times[k] - c->t) / static_cast<double>(nx.t - c->t);
        }
        r.ok[k] = 1;
        any = true;
      }
      return any;
    };
  };
  auto emit = [&](series& s, vseries& r, bool any) -> status {
    if (!any) return {};
    used += static_cast<size_t>(std::count(r.ok.begin(), r.ok.end(), 1));
    r.metric = std::move(s.lbls);
    out.series.push_back(std::move(r));
    r = vseries{};
    return {};
  };
  series_batches batches(opts_.pool, n, make_kernel, emit, [this](size_t ticks) { return check_deadline(ticks); });
  for (auto& s : *data)
    if (auto st = batches.add(std::move(s)); !st) return st;
  if (auto st = batches.finish(); !st) return st;
  if (auto st = charge(used); !st) return st;
  return value{std::move(out)};
}

result<matrix_value> evaluator::matrix_windows(const matrix_selector& ms, std::pair<int64_t, int64_t>& span) {
  matrix_value out;
  out.range_ms = duration_ms(ms.range_ms, ms.range_expr);
  if (out.range_ms <= 0) return error(strata_errc::bad_request, "duration must be greater than 0");
  size_t n = grid_.n;
  out.mode = ms.vs.mode;
  span = {0, -1};
  if (n == 0) return out;
  out.ends.resize(n);
  for (size_t k = 0; k < n; ++k) out.ends[k] = time_at(ms.vs.mods, k);
  int64_t before = out.mode == range_mode::plain ? 0 : opts_.lookback_ms;
  int64_t after = out.mode == range_mode::smoothed ? opts_.lookback_ms : 0;
  span = {sat_add(sat_sub(sat_sub(out.ends.front(), out.range_ms), before), 1), sat_add(out.ends.back(), after)};
  return out;
}

result<value> evaluator::eval_matrix_selector(const matrix_selector& ms) {
  std::pair<int64_t, int64_t> span;
  auto out = matrix_windows(ms, span);
  if (!out) return out.error();
  if (grid_.n == 0) return value{std::move(*out)};
  auto data = fetch(ms.vs.label_matchers, span.first, span.second, /*drop_stale=*/true);
  if (!data) return data.error();
  size_t used = 0;
  out->data.reserve(data->size());
  for (auto& s : *data) {
    if (s.samples.empty()) continue;
    used += s.samples.size();
    out->data.push_back(std::move(s));
  }
  if (auto st = charge(used); !st) return st;
  return value{std::move(*out)};
}

result<value> evaluator::eval_subquery(const subquery_expr& sq) {
  matrix_value out;
  out.range_ms = duration_ms(sq.range_ms, sq.range_expr);
  if (out.range_ms <= 0) return error(strata_errc::bad_request, "duration must be greater than 0");
  size_t n = grid_.n;
  if (n == 0) return value{std::move(out)};
  out.ends.resize(n);
  for (size_t k = 0; k < n; ++k) out.ends[k] = time_at(sq.mods, k);
  int64_t step = duration_ms(sq.step_ms, sq.step_expr);
  if (step == 0 && !sq.step_expr) step = opts_.default_subquery_step_ms;
  if (step <= 0) return error(strata_errc::bad_request, "step must be greater than 0");
  int64_t start = align_up(sat_sub(out.ends.front(), out.range_ms), step);
  int64_t end = out.ends.back();
  if (start > end) return value{std::move(out)};
  grid inner_grid{start, step, static_cast<size_t>((end - start) / step) + 1};
  evaluator inner(src_, opts_, inner_grid, query_start_, query_end_, query_step_, notes_, samples_used_);
  auto v = inner.eval_vector(*sq.inner);
  if (!v) return v.error();
  if (auto st = apply_name_drops(*v); !st) return st;
  out.data.reserve(v->series.size());
  for (auto& s : v->series) {
    series m{std::move(s.metric), {}};
    for (size_t k = 0; k < inner_grid.n; ++k)
      if (s.ok[k]) m.samples.push_back({inner_grid.at(k), s.v[k]});
    if (!m.samples.empty()) out.data.push_back(std::move(m));
  }
  return value{std::move(out)};
}

result<value> evaluator::eval_unary(const unary_expr& u) {
  auto v = eval(*u.operand);
  if (!v) return v;
  if (u.op != token_kind::sub) return v;
  if (auto* s = std::get_if<scalar_value>(&*v)) {
    for (auto& x : s->v) x = -x;
    return v;
  }
  auto& vec = std::get<vec_value>(*v);
  for (auto& s : vec.series)
    for (auto& x : s.v) x = -x;
  drop_metric_names(vec);
  if (auto st = merge_same_labels(vec); !st) return st;
  return v;
}

}  // namespace detail

namespace {

using detail::evaluator;
using detail::grid;

bool orders_result(const expr& e) {
  const expr& u = unwrap_parens(e);
  if (const auto* c = std::get_if<call_expr>(&u.node))
    return c->func == "sort" || c->func == "sort_desc" || c->func == "sort_by_label" ||
           c->func == "sort_by_label_desc";
  if (const auto* a = std::get_if<aggregate_expr>(&u.node))
    return a->op == token_kind::kw_topk || a->op == token_kind::kw_bottomk;
  return false;
}

}  // namespace

result<query_result> eval_instant(const expr& e, series_source& src, int64_t t_ms, const eval_options& o) {
  annotations notes;
  size_t used = 0;
  evaluator ev(src, o, grid{t_ms, 1, 1}, t_ms, t_ms, 0, &notes, &used);
  auto v = ev.eval(e);
  if (!v) return v.error();
  query_result out;
  if (auto* s = std::get_if<detail::scalar_value>(&*v)) {
    out.value = scalar_result{t_ms, s->v[0]};
  } else if (auto* str = std::get_if<detail::string_value>(&*v)) {
    out.value = string_result{t_ms, std::move(str->s)};
  } else if (auto* m = std::get_if<detail::matrix_value>(&*v)) {
    matrix res;
    int64_t end = m->ends[0], begin = end - m->range_ms;
    for (auto& s : m->data) {
      series kept{std::move(s.lbls), {}};
      for (const auto& x : s.samples)
        if (x.t > begin && x.t <= end) kept.samples.push_back(x);
      if (!kept.samples.empty()) res.push_back(std::move(kept));
    }
    std::sort(res.begin(), res.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
    out.value = std::move(res);
  } else {
    auto& vec = std::get<detail::vec_value>(*v);
    if (auto st = detail::apply_name_drops(vec); !st) return st;
    vector res;
    res.reserve(vec.series.size());
    for (auto& s : vec.series)
      if (s.ok[0]) res.push_back({std::move(s.metric), sample{t_ms, s.v[0]}});
    if (!orders_result(e))
      std::sort(res.begin(), res.end(),
                [](const instant_sample& a, const instant_sample& b) { return a.metric < b.metric; });
    out.value = std::move(res);
  }
  out.warnings = std::move(notes.warnings);
  out.infos = std::move(notes.infos);
  return out;
}

namespace {

// A range query's grid, or Prometheus's message for what makes it invalid.
result<grid> range_grid(const expr& e, int64_t start_ms, int64_t end_ms, int64_t step_ms, const eval_options& o) {
  if (step_ms <= 0)
    return error(strata_errc::bad_request,
                 "zero or negative query resolution step widths are not accepted. Try a positive integer");
  if (end_ms < start_ms) return error(strata_errc::bad_request, "end timestamp must not be before start time");
  value_type t = type_of(e);
  if (t != value_type::vector && t != value_type::scalar)
    return error(strata_errc::bad_request, std::string("invalid expression type \"") + document_type(t) +
                                               "\" for range query, must be Scalar or instant Vector");
  // end - start may not fit in int64 when both are extreme; it fits in uint64.
  uint64_t steps =
      (static_cast<uint64_t>(end_ms) - static_cast<uint64_t>(start_ms)) / static_cast<uint64_t>(step_ms) + 1;
  if (steps > o.max_samples) return error(strata_errc::bad_request, detail::too_many_samples_message);
  return grid{start_ms, step_ms, static_cast<size_t>(steps)};
}

// A range query's value as the series of its answer (unsorted).
result<detail::vec_value> answer_series(detail::value v, const grid& g) {
  detail::vec_value vec;
  if (auto* s = std::get_if<detail::scalar_value>(&v)) {
    detail::vseries one;
    one.v = std::move(s->v);
    one.ok.assign(g.n, 1);
    vec.series.push_back(std::move(one));
    return vec;
  }
  vec = std::move(std::get<detail::vec_value>(v));
  if (auto st = detail::apply_name_drops(vec); !st) return st;
  if (auto st = detail::merge_same_labels(vec); !st) return st;
  return vec;
}

}  // namespace

result<query_result> eval_range(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                const eval_options& o) {
  auto g = range_grid(e, start_ms, end_ms, step_ms, o);
  if (!g) return g.error();
  annotations notes;
  size_t used = 0;
  evaluator ev(src, o, *g, start_ms, end_ms, step_ms, &notes, &used);
  auto v = ev.eval(e);
  if (!v) return v.error();
  auto vec = answer_series(std::move(*v), *g);
  if (!vec) return vec.error();
  matrix res;
  res.reserve(vec->series.size());
  size_t points = 0;
  for (auto& s : vec->series) {
    series out{std::move(s.metric), {}};
    out.samples.reserve(static_cast<size_t>(std::count_if(s.ok.begin(), s.ok.end(), [](uint8_t x) { return x; })));
    for (size_t k = 0; k < g->n; ++k)
      if (s.ok[k]) out.samples.push_back({g->at(k), s.v[k]});
    s = {};  // the step values go as their samples come
    if (out.samples.empty()) continue;
    points += out.samples.size();
    res.push_back(std::move(out));
  }
  if (points > o.max_samples) return error(strata_errc::bad_request, detail::too_many_samples_message);
  std::sort(res.begin(), res.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
  query_result out;
  out.value = std::move(res);
  out.warnings = std::move(notes.warnings);
  out.infos = std::move(notes.infos);
  return out;
}

result<query_result> eval_range_each(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms,
                                     int64_t step_ms, const eval_options& o, const series_fn& fn) {
  auto g = range_grid(e, start_ms, end_ms, step_ms, o);
  if (!g) return g.error();
  annotations notes;
  size_t used = 0;
  evaluator ev(src, o, *g, start_ms, end_ms, step_ms, &notes, &used);
  struct forward final : detail::series_sink {
    const series_fn& fn;
    size_t points = 0;
    bool more = true;
    labels dropped;
    explicit forward(const series_fn& f) : fn(f) {}
    void add(const labels& metric, bool drop_name, const std::vector<double>& v,
             const std::vector<uint8_t>& ok) override {
      size_t n = static_cast<size_t>(std::count(ok.begin(), ok.end(), uint8_t{1}));
      if (!more || n == 0) return;
      points += n;
      if (!drop_name) {
        more = fn(metric, v, ok);
        return;
      }
      dropped = metric;
      detail::drop_metric_name(dropped);
      more = fn(dropped, v, ok);
    }
  } sink(fn);
  auto v = ev.eval_into(e, sink);
  if (!v) return v.error();
  // What did not go to the sink (every path but a range function's over raw samples).
  auto vec = answer_series(std::move(*v), *g);
  if (!vec) return vec.error();
  std::sort(vec->series.begin(), vec->series.end(),
            [](const detail::vseries& a, const detail::vseries& b) { return a.metric < b.metric; });
  for (const auto& s : vec->series) sink.add(s.metric, false, s.v, s.ok);
  if (sink.points > o.max_samples) return error(strata_errc::bad_request, detail::too_many_samples_message);
  query_result out;
  out.value = matrix{};
  out.warnings = std::move(notes.warnings);
  out.infos = std::move(notes.infos);
  return out;
}

std::vector<selection> selections(const expr& e, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                  const eval_options& o) {
  std::vector<selection> out;
  int64_t last = end_ms;
  if (step_ms > 0 && end_ms > start_ms) last = end_ms - (end_ms - start_ms) % step_ms;
  detail::collect(e, start_ms, last, last == start_ms ? 0 : step_ms, start_ms, end_ms, step_ms, o, out);
  return out;
}

}  // namespace strata::query
