// Function calls. Numeric kernels come from query/functions.hpp; this file
// maps arguments over the grid, handles labels, and implements the functions
// that need more than one series or the syntax tree (absent, scalar, sort,
// label_replace, histogram_quantile, timestamp, ...).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

#include <re2/re2.h>

#include "common/utf8.hpp"
#include "query/detail/evaluator.hpp"
#include "query/detail/rollup.hpp"
#include "query/functions.hpp"

namespace strata::query::detail {
namespace {

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return format_number(v);
}

// Range functions whose result keeps __name__.
bool keeps_name(std::string_view f) { return f == "last_over_time" || f == "first_over_time"; }

void set_label(labels& ls, const std::string& name, const std::string& v) {
  auto it = std::find_if(ls.begin(), ls.end(), [&](const label& l) { return l.name == name; });
  if (v.empty()) {
    if (it != ls.end()) ls.erase(it);
    return;
  }
  if (it != ls.end()) it->value = v;
  else {
    ls.push_back({name, v});
    sort_labels(ls);
  }
}

// Prometheus 3 accepts any non-empty UTF-8 label name.
bool valid_label_name(std::string_view s) { return !s.empty() && valid_utf8(s); }

// Go's regexp.Expand for label_replace's replacement: $1, ${1}, $name, ${name}, $$.
std::string expand(std::string_view tmpl, const RE2& re, const std::vector<re2::StringPiece>& groups) {
  std::string out;
  const auto& names = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out += c;
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out += c;
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() && (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) ++j;
      name = std::string(tmpl.substr(i + 1, j - i - 1));
    }
    if (name.empty()) {
      out += c;
      continue;
    }
    bool digits = std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; });
    int idx = -1;
    if (digits) idx = std::atoi(name.c_str());
    else if (auto it = names.find(name); it != names.end()) idx = it->second;
    if (idx >= 0 && static_cast<size_t>(idx) < groups.size() && groups[idx].data())
      out.append(groups[idx].data(), groups[idx].size());
    i = j - 1;
  }
  return out;
}

// Natural order for sort_by_label: digit runs compare as numbers.
int natural_compare(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i])), db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t si = i, sj = j;
      while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) ++i;
      while (j < b.size() && std::isdigit(static_cast<unsigned char>(b[j]))) ++j;
      std::string_view na = a.substr(si, i - si), nb = b.substr(sj, j - sj);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
      if (na != nb) return na < nb ? -1 : 1;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
    ++i, ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

vseries empty_like(labels metric, size_t n) {
  vseries s;
  s.metric = std::move(metric);
  s.v.assign(n, 0);
  s.ok.assign(n, 0);
  return s;
}

}  // namespace

result<value> evaluator::eval_call(const call_expr& c) {
  const std::string& f = c.func;
  size_t n = grid_.n;
  if (f == "time" || f == "pi" || f == "step" || f == "range" || f == "start" || f == "end") {
    scalar_value out;
    out.v.resize(n);
    double fixed = f == "pi"      ? M_PI
                   : f == "step"  ? static_cast<double>(query_step_) / 1000.0
                   : f == "range" ? static_cast<double>(query_end_ - query_start_) / 1000.0
                   : f == "start" ? static_cast<double>(query_start_) / 1000.0
                                  : static_cast<double>(query_end_) / 1000.0;
    for (size_t k = 0; k < n; ++k) out.v[k] = f == "time" ? static_cast<double>(grid_.at(k)) / 1000.0 : fixed;
    return value{std::move(out)};
  }
  if (f == "min_of" || f == "max_of") {
    auto a = eval_scalar(*c.args[0]);
    if (!a) return a.error();
    auto b = eval_scalar(*c.args[1]);
    if (!b) return b.error();
    for (size_t k = 0; k < n; ++k) {
      double x = a->v[k], y = b->v[k];
      a->v[k] = std::isnan(x) || std::isnan(y) ? std::nan("") : f == "min_of" ? std::min(x, y) : std::max(x, y);
    }
    return value{std::move(*a)};
  }
  if (fn::find_range_function(f) || f == "absent_over_time") return eval_range_function(c);
  if (f == "histogram_quantile" || f == "histogram_fraction" || f == "histogram_quantiles")
    return eval_histogram_function(c);
  if (f == "label_replace" || f == "label_join") return eval_label_function(c);
  if (f == "info") return eval_info(c);
  if (f == "vector") {
    auto s = eval_scalar(*c.args[0]);
    if (!s) return s.error();
    vec_value out;
    vseries one;
    one.v = std::move(s->v);
    one.ok.assign(n, 1);
    out.series.push_back(std::move(one));
    return value{std::move(out)};
  }
  if (f == "scalar") {
    auto v = eval_vector(*c.args[0]);
    if (!v) return v.error();
    scalar_value out;
    out.v.assign(n, std::nan(""));
    for (size_t k = 0; k < n; ++k) {
      int found = 0;
      for (const auto& s : v->series)
        if (s.ok[k] && found++ == 0) out.v[k] = s.v[k];
      if (found != 1) out.v[k] = std::nan("");
    }
    return value{std::move(out)};
  }
  if (f == "timestamp") {
    const expr& arg = unwrap_parens(*c.args[0]);
    result<value> v = std::holds_alternative<vector_selector>(arg.node)
                          ? eval_vector_selector(std::get<vector_selector>(arg.node), true)
                          : eval(arg);
    if (!v) return v;
    auto& vec = std::get<vec_value>(*v);
    if (!std::holds_alternative<vector_selector>(arg.node))
      for (auto& s : vec.series)
        for (size_t k = 0; k < n; ++k) s.v[k] = static_cast<double>(grid_.at(k)) / 1000.0;
    drop_metric_names(vec);
    if (auto st = merge_same_labels(vec); !st) return st;
    return v;
  }
  if (f == "absent") {
    auto v = eval_vector(*c.args[0]);
    if (!v) return v.error();
    vec_value out;
    vseries one = empty_like(absent_labels(unwrap_parens(*c.args[0])), n);
    bool any = false;
    for (size_t k = 0; k < n; ++k) {
      bool present = false;
      for (const auto& s : v->series)
        if (s.ok[k]) {
          present = true;
          break;
        }
      if (!present) one.ok[k] = 1, one.v[k] = 1, any = true;
    }
    if (any) out.series.push_back(std::move(one));
    return value{std::move(out)};
  }
  if (f == "sort" || f == "sort_desc" || f == "sort_by_label" || f == "sort_by_label_desc") {
    auto v = eval_vector(*c.args[0]);
    if (!v) return v.error();
    if (n != 1) return value{std::move(*v)};
    auto& ss = v->series;
    if (f == "sort" || f == "sort_desc") {
      bool desc = f == "sort_desc";
      std::stable_sort(ss.begin(), ss.end(), [desc](const vseries& a, const vseries& b) {
        double x = a.v[0], y = b.v[0];
        if (std::isnan(x)) return false;
        if (std::isnan(y)) return true;
        return desc ? x > y : x < y;
      });
    } else {
      std::vector<std::string> names;
      for (size_t i = 1; i < c.args.size(); ++i) {
        auto s = eval(*c.args[i]);
        if (!s) return s;
        names.push_back(std::get<string_value>(*s).s);
      }
      bool desc = f == "sort_by_label_desc";
      std::stable_sort(ss.begin(), ss.end(), [&](const vseries& a, const vseries& b) {
        for (const auto& name : names) {
          int r = natural_compare(label_value(a.metric, name), label_value(b.metric, name));
          if (r != 0) return desc ? r > 0 : r < 0;
        }
        return desc ? b.metric < a.metric : a.metric < b.metric;
      });
    }
    return value{std::move(*v)};
  }
  if (f == "histogram_count" || f == "histogram_sum" || f == "histogram_avg" || f == "histogram_stddev" ||
      f == "histogram_stdvar") {
    auto v = eval_vector(*c.args[0]);
    if (!v) return v.error();
    return value{vec_value{}};  // float samples carry no native histogram
  }

  // Element-wise functions of one vector and scalar parameters.
  vec_value in;
  if (c.args.empty()) {
    // Date functions default to vector(time()).
    vseries one;
    one.v.resize(n);
    for (size_t k = 0; k < n; ++k) one.v[k] = static_cast<double>(grid_.at(k)) / 1000.0;
    one.ok.assign(n, 1);
    in.series.push_back(std::move(one));
  } else {
    auto v = eval_vector(*c.args[0]);
    if (!v) return v.error();
    in = std::move(*v);
  }
  std::vector<scalar_value> params;
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto s = eval_scalar(*c.args[i]);
    if (!s) return s.error();
    params.push_back(std::move(*s));
  }
  fn::math_fn math = fn::find_math_function(f);
  for (auto& s : in.series) {
    for (size_t k = 0; k < n; ++k) {
      if (!s.ok[k]) continue;
      double x = s.v[k];
      if (math) {
        s.v[k] = math(x);
      } else if (f == "clamp") {
        double lo = params[0].v[k], hi = params[1].v[k];
        if (lo > hi) s.ok[k] = 0;
        else s.v[k] = fn::clamp(x, lo, hi);
      } else if (f == "clamp_min") {
        double lo = params[0].v[k];
        s.v[k] = (std::isnan(x) || std::isnan(lo)) ? std::nan("") : std::max(lo, x);
      } else if (f == "clamp_max") {
        double hi = params[0].v[k];
        s.v[k] = (std::isnan(x) || std::isnan(hi)) ? std::nan("") : std::min(hi, x);
      } else if (f == "round") {
        s.v[k] = fn::round_to(x, params.empty() ? 1.0 : params[0].v[k]);
      } else {
        return error(strata_errc::bad_request, "function " + quote(f) + " is not implemented");
      }
    }
  }
  drop_metric_names(in);
  in.series.erase(std::remove_if(in.series.begin(), in.series.end(),
                                 [](const vseries& s) { return std::find(s.ok.begin(), s.ok.end(), 1) == s.ok.end(); }),
                  in.series.end());
  if (auto st = merge_same_labels(in); !st) return st;
  return value{std::move(in)};
}

result<value> evaluator::eval_range_function(const call_expr& c, series_sink* sink) {
  const std::string& f = c.func;
  size_t n = grid_.n;
  // The range vector argument and the scalar ones, in call order.
  size_t matrix_arg = f == "quantile_over_time" ? 1 : 0;
  std::vector<scalar_value> scalars;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i == matrix_arg) continue;
    auto s = eval_scalar(*c.args[i]);
    if (!s) return s.error();
    scalars.push_back(std::move(*s));
  }
  if (f == "quantile_over_time") {
    for (size_t k = 0; k < n; ++k) {
      double q = scalars[0].v[k];
      if (std::isnan(q) || q < 0 || q > 1)
        notes_->warn("PromQL warning: quantile value should be between 0 and 1, got " + format_value(q));
    }
  }
  const auto* plain_sel = std::get_if<matrix_selector>(&unwrap_parens(*c.args[matrix_arg]).node);
  if (plain_sel && rollup_function(f)) {
    auto r = eval_rollup(c, *plain_sel, scalars);
    if (!r) return r.error();
    if (*r) return std::move(**r);
  }
  // Past the raw horizon only rollups hold data; functions they cannot
  // answer give no value there rather than one from what raw data is left.
  int64_t horizon = std::numeric_limits<int64_t>::min();
  if (plain_sel && !rollup_function(f) && f != "absent_over_time" && opts_.max_rollup_window_ms > 0)
    horizon = raw_horizon(opts_);
  // Into a sink, a plain selector's series are read and computed one at a
  // time (fetch_each): only their windows are known here.
  const bool stream = sink && plain_sel && plain_sel->vs.mode == range_mode::plain && f != "absent_over_time";
  std::pair<int64_t, int64_t> span;
  auto m = stream ? matrix_windows(*plain_sel, span) : eval_matrix(*c.args[matrix_arg]);
  if (!m) return m.error();
  bool cut = false;
  for (size_t k = 0; k < m->ends.size(); ++k) cut = cut || m->ends[k] - m->range_ms < horizon;
  vec_value out;
  if (f == "absent_over_time") {
    vseries one = empty_like(absent_labels(unwrap_parens(*c.args[0])), n);
    bool any = false;
    for (size_t k = 0; k < n && k < m->ends.size(); ++k) {
      int64_t end = m->ends[k], begin = end - m->range_ms;
      bool present = false;
      for (const auto& s : m->data) {
        auto it = std::upper_bound(s.samples.begin(), s.samples.end(), begin,
                                   [](int64_t t, const sample& x) { return t < x.t; });
        if (it != s.samples.end() && it->t <= end) {
          present = true;
          break;
        }
      }
      if (!present) one.ok[k] = 1, one.v[k] = 1, any = true;
    }
    if (m->ends.empty()) any = false;
    if (any) out.series.push_back(std::move(one));
    return value{std::move(out)};
  }
  if (f == "double_exponential_smoothing" || f == "holt_winters") {
    for (size_t k = 0; k < n; ++k) {
      double sf = scalars[0].v[k], tf = scalars[1].v[k];
      if (!(sf > 0 && sf < 1))
        return error(strata_errc::bad_request, "invalid smoothing factor. Expected: 0 < sf < 1, got: " +
                                                   std::to_string(sf));
      if (!(tf > 0 && tf < 1))
        return error(strata_errc::bad_request, "invalid trend factor. Expected: 0 < tf < 1, got: " +
                                                   std::to_string(tf));
    }
  }
  // predict_linear predicts from the step time, before `offset` and `@`.
  bool predict = f == "predict_linear";
  if (m->mode != range_mode::plain) return eval_extended_range(c, *m);
  fn::range_fn rf = fn::find_range_function(f);
  bool drop = !keeps_name(f);
  // rate and increase slide over each series: its counter resets are found
  // once, and a window adds those inside it in the same order as
  // fn::extrapolated_rate, so the sums are bit for bit the same.
  const bool counter = f == "rate" || f == "increase";
  const bool is_rate = f == "rate";
  // max_over_time and min_over_time slide too: a window's extreme is the
  // front of a queue of the samples no later sample beats (NaNs left out),
  // each sample entering and leaving it once. Ties stay queued, so the front
  // is the earliest of equal extremes, the one fn::compare_over_time picks;
  // an empty queue means a window of NaNs, which gives its last sample.
  const int extreme = f == "max_over_time" ? 1 : f == "min_over_time" ? -1 : 0;
  // A plain selector's series have distinct labels (fetch merges equal
  // ones), so a sink sees the same series as the merged vector would hold.
  if (!plain_sel) sink = nullptr;
  if (!sink) out.series.reserve(m->data.size());
  const grid& g = grid_;
  // One series' values; its scratch (the resets, the queue, the edges of
  // the last window) lives as long as the kernel (series_batches).
  auto make_kernel = [&]() -> series_batches::kernel {
    return [&, resets = std::vector<size_t>(), queue = std::vector<size_t>(),
            edges = fn::extrapolate_edges{-1, -1, -1, 0, 0, 0, 0, 0},  // matches no window (count >= 2)
            args = std::vector<double>(scalars.size())](series& s, vseries& r) mutable -> bool {
      if (stream) tidy_samples(s.samples, /*drop_stale=*/true);  // read here anyway: in cache
      r.v.assign(n, 0);
      r.ok.assign(n, 0);
      bool any = false;
      const sample* base = s.samples.data();
      size_t count = s.samples.size();
      if (counter) {
        resets.clear();
        for (size_t i = 1; i < count; ++i)
          if (base[i].v < base[i - 1].v) resets.push_back(i);
      }
      size_t lo = 0, hi = 0, first_reset = 0, queued = 0, head = 0;
      queue.clear();
      int64_t prev_end = std::numeric_limits<int64_t>::min();
      for (size_t k = 0; k < n; ++k) {
        int64_t end = m->ends[k], begin = end - m->range_ms;
        if (end < prev_end) {
          lo = hi = first_reset = queued = head = 0;
          queue.clear();
        }
        prev_end = end;
        if (begin < horizon) continue;
        while (hi < count && base[hi].t <= end) ++hi;
        while (lo < hi && base[lo].t <= begin) ++lo;
        if (lo == hi) continue;
        double x;
        if (extreme) {
          for (; queued < hi; ++queued) {
            const double v = base[queued].v;
            if (std::isnan(v)) continue;
            while (queue.size() > head && (extreme > 0 ? base[queue.back()].v < v : base[queue.back()].v > v))
              queue.pop_back();
            queue.push_back(queued);
          }
          while (head < queue.size() && queue[head] < lo) ++head;
          r.v[k] = head < queue.size() ? base[queue[head]].v : base[hi - 1].v;
          r.ok[k] = 1;
          any = true;
          continue;
        }
        if (counter) {
          if (hi - lo < 2) continue;
          const sample& a = base[lo];
          const sample& b = base[hi - 1];
          double change = b.v - a.v;
          while (first_reset < resets.size() && resets[first_reset] <= lo) ++first_reset;
          for (size_t i = first_reset; i < resets.size() && resets[i] < hi; ++i) change += base[resets[i] - 1].v;
          if (!edges.same(a.t, b.t, hi - lo, end, m->range_ms))
            edges = fn::edges_of(a.t, b.t, hi - lo, end, m->range_ms, is_rate);
          x = fn::extrapolate({a.t, a.v, b.t, b.v, hi - lo, change}, edges, m->range_ms, true, is_rate);
          r.v[k] = x;
          r.ok[k] = 1;
          any = true;
          continue;
        }
        for (size_t a = 0; a < scalars.size(); ++a) args[a] = scalars[a].v[k];
        if (predict) args[0] += static_cast<double>(g.at(k) - end) / 1000.0;
        fn::window w{base + lo, base + hi, end, m->range_ms};
        if (!rf(w, args.data(), x)) continue;
        r.v[k] = x;
        r.ok[k] = 1;
        any = true;
      }
      return any;
    };
  };
  auto emit = [&](series& s, vseries& r, bool any) -> status {
    if (stream)  // the samples the stream loaded, stale markers dropped
      if (auto st = charge(s.samples.size()); !st) return st;
    if (!any) return {};
    if (sink) {
      sink->add(s.lbls, drop, r.v, r.ok);
      return {};
    }
    r.metric = std::move(s.lbls);
    out.series.push_back(std::move(r));
    r = vseries{};
    return {};
  };
  // Into a sink, a batch's series are charged in order, then added at once
  // (group_accumulator splits the steps over the pool).
  series_batches::batch_fn emit_batch;
  if (sink)
    emit_batch = [&](std::vector<series>& in, std::vector<vseries>& rs, const std::vector<uint8_t>& any) -> status {
      if (stream)
        for (const auto& s : in)
          if (auto st = charge(s.samples.size()); !st) return st;
      sink->add_batch(in, drop, rs, any, *opts_.pool);
      return {};
    };
  auto check = [this](size_t ticks) { return check_deadline(ticks); };
  series_batches batches(opts_.pool, n, make_kernel, emit, check, emit_batch);
  if (stream) {
    auto st = fetch_each(plain_sel->vs.label_matchers, span.first, span.second,
                         [&](series& s) { return batches.add(std::move(s)); });
    if (!st) return st;
  } else {
    for (auto& s : m->data)
      if (auto st = batches.add(std::move(s)); !st) return st;
  }
  if (auto st = batches.finish(); !st) return st;
  if (cut)
    notes_->warn("PromQL warning: " + f +
                 " cannot be computed from rollup tiers, and raw samples before the raw retention are deleted: no "
                 "value where the range reaches before " + format_value(static_cast<double>(horizon) / 1000) +
                 " (unix seconds)");
  if (drop) drop_metric_names(out);
  if (auto st = merge_same_labels(out); !st) return st;
  return value{std::move(out)};
}

// rate/increase/delta (and changes/resets when anchored) over anchored or
// smoothed windows, without extrapolation.
result<value> evaluator::eval_extended_range(const call_expr& c, const matrix_value& m) {
  const std::string& f = c.func;
  bool smooth = m.mode == range_mode::smoothed;
  bool ok = f == "rate" || f == "increase" || f == "delta" || (!smooth && (f == "changes" || f == "resets"));
  if (!ok)
    return error(strata_errc::bad_request, std::string(smooth ? "smoothed" : "anchored") +
                                               " modifier is not allowed in function " + quote(f));
  size_t n = grid_.n;
  int64_t lb = opts_.lookback_ms;
  vec_value out;
  std::vector<sample> pts;
  for (const auto& s : m.data) {
    if (auto st = check_deadline(); !st) return st;
    vseries r = empty_like(s.lbls, n);
    bool any = false;
    const auto& xs = s.samples;
    for (size_t k = 0; k < n; ++k) {
      int64_t end = m.ends[k], begin = end - m.range_ms;
      auto lo = std::upper_bound(xs.begin(), xs.end(), begin, [](int64_t t, const sample& x) { return t < x.t; });
      auto hi = std::upper_bound(xs.begin(), xs.end(), end, [](int64_t t, const sample& x) { return t < x.t; });
      pts.clear();
      const sample* before = lo != xs.begin() && std::prev(lo)->t > begin - lb ? &*std::prev(lo) : nullptr;
      if (smooth) {
        // Interpolated points at both ends of the window.
        const sample* first_in = lo != hi ? &*lo : nullptr;
        const sample* after = hi != xs.end() && hi->t - end < lb ? &*hi : nullptr;
        const sample* last_in = lo != hi ? &*std::prev(hi) : before;
        // Data only before or only after the window gives no value.
        if (!first_in && !(before && after)) continue;
        auto interp = [](const sample& a, const sample& b, int64_t t) {
          return a.v + (b.v - a.v) * static_cast<double>(t - a.t) / static_cast<double>(b.t - a.t);
        };
        const sample* right_of_begin = first_in ? first_in : after;
        double v0 = before && right_of_begin ? interp(*before, *right_of_begin, begin)
                                             : (first_in ? first_in->v : before->v);
        if (before && right_of_begin && right_of_begin->v < before->v && f != "delta")
          v0 = right_of_begin->v * static_cast<double>(begin - before->t) /
               static_cast<double>(right_of_begin->t - before->t);
        double v1 = last_in && after ? interp(*last_in, *after, end) : (last_in ? last_in->v : v0);
        // Across a counter reset the counter restarts from 0 at the reset.
        if (last_in && after && after->v < last_in->v && f != "delta")
          v1 = after->v * static_cast<double>(end - last_in->t) / static_cast<double>(after->t - last_in->t);
        pts.push_back({begin, v0});
        for (auto it = lo; it != hi; ++it) pts.push_back(*it);
        pts.push_back({end, v1});
      } else {
        if (lo == hi) continue;  // the anchor alone gives no value
        if (before) pts.push_back(*before);
        for (auto it = lo; it != hi; ++it) pts.push_back(*it);
      }
      double x = 0;
      if (f == "delta") {
        x = pts.back().v - pts.front().v;
      } else if (f == "changes" || f == "resets") {
        for (size_t i = 1; i < pts.size(); ++i)
          x += f == "changes" ? (pts[i].v != pts[i - 1].v && !(std::isnan(pts[i].v) && std::isnan(pts[i - 1].v)))
                              : pts[i].v < pts[i - 1].v;
      } else {
        for (size_t i = 1; i < pts.size(); ++i)
          x += pts[i].v >= pts[i - 1].v ? pts[i].v - pts[i - 1].v : pts[i].v;
        if (f == "rate") x /= static_cast<double>(m.range_ms) / 1000.0;
      }
      r.v[k] = x;
      r.ok[k] = 1;
      any = true;
    }
    if (any) out.series.push_back(std::move(r));
  }
  drop_metric_names(out);
  if (auto st = merge_same_labels(out); !st) return st;
  return value{std::move(out)};
}

result<value> evaluator::eval_histogram_function(const call_expr& c) {
  size_t n = grid_.n;
  bool fraction = c.func == "histogram_fraction";
  // histogram_quantiles(v, "label", q...) answers one series per group and q.
  bool many = c.func == "histogram_quantiles";
  std::string q_label;
  std::vector<scalar_value> params;
  for (size_t i = many ? 1 : 0; i < (many ? c.args.size() : c.args.size() - 1); ++i) {
    if (many && i == 1) {
      auto l = eval(*c.args[i]);
      if (!l) return l;
      q_label = std::get<string_value>(*l).s;
      continue;
    }
    auto s = eval_scalar(*c.args[i]);
    if (!s) return s.error();
    params.push_back(std::move(*s));
  }
  auto in = eval_vector(many ? *c.args.front() : *c.args.back());
  if (!in) return in.error();
  // Group the bucket series by their labels without le and __name__.
  std::unordered_map<std::string, int> ids;
  std::vector<labels> group_lbls;
  std::vector<std::string> group_names;
  std::vector<int> gid(in->series.size(), -1);
  std::vector<double> le(in->series.size(), 0);
  for (size_t i = 0; i < in->series.size(); ++i) {
    const labels& ls = in->series[i].metric;
    std::string_view le_text = label_value(ls, "le");
    if (le_text.empty()) continue;
    std::string le_str(le_text);
    char* end = nullptr;
    double b = std::strtod(le_str.c_str(), &end);
    if (end == le_str.c_str() || *end != '\0') {
      notes_->warn("PromQL warning: bucket label \"le\" is missing or has a malformed value of " + quote(le_text) +
                   " for metric name " + quote(label_value(ls, metric_name_label)));
      continue;
    }
    le[i] = b;
    labels g;
    for (const auto& l : ls)
      if (l.name != "le" && l.name != metric_name_label) g.push_back(l);
    std::string key;
    for (const auto& l : g) key += l.name + '\xff' + l.value + '\xff';
    auto [it, fresh] = ids.emplace(std::move(key), static_cast<int>(group_lbls.size()));
    if (fresh) {
      group_lbls.push_back(std::move(g));
      group_names.emplace_back(label_value(ls, metric_name_label));
    }
    gid[i] = it->second;
  }
  size_t ng = group_lbls.size();
  size_t nq = many ? params.size() : 1;
  vec_value out;
  for (auto& g : group_lbls) {
    for (size_t q = 0; q < nq; ++q) {
      labels l = g;
      if (many) {
        double qv = params[q].v.empty() ? 0 : params[q].v[0];
        std::string text = format_value(qv);
        if (std::isfinite(qv) && text.find('.') == std::string::npos) text += ".0";
        set_label(l, q_label, text);
      }
      out.series.push_back(empty_like(std::move(l), n));
    }
  }
  std::vector<std::vector<std::pair<double, double>>> buckets(ng);
  for (size_t k = 0; k < n; ++k) {
    for (auto& b : buckets) b.clear();
    for (size_t i = 0; i < in->series.size(); ++i)
      if (gid[i] >= 0 && in->series[i].ok[k]) buckets[gid[i]].push_back({le[i], in->series[i].v[k]});
    if (!fraction) {
      for (size_t q = 0; q < nq; ++q) {
        double qv = params[q].v[k];
        if (std::isnan(qv) || qv < 0 || qv > 1)
          notes_->warn("PromQL warning: quantile value should be between 0 and 1, got " + format_value(qv));
      }
    }
    for (size_t gq = 0; gq < ng * nq; ++gq) {
      size_t g = gq / nq, q = gq % nq;
      if (buckets[g].empty()) continue;
      double r;
      if (fraction) {
        r = fn::histogram_fraction_classic(params[0].v[k], params[1].v[k], buckets[g]);
      } else {
        bool forced = false;
        std::vector<std::pair<double, double>> b = buckets[g];
        r = fn::histogram_quantile(params[q].v[k], b, &forced);
        if (forced)
          notes_->info(
              "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see "
              "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric "
              "name " +
              quote(group_names[g]));
      }
      out.series[gq].v[k] = r;
      out.series[gq].ok[k] = 1;
    }
  }
  if (many)
    if (auto st = merge_same_labels(out); !st) return st;
  out.series.erase(std::remove_if(out.series.begin(), out.series.end(),
                                  [](const vseries& s) { return std::find(s.ok.begin(), s.ok.end(), 1) == s.ok.end(); }),
                   out.series.end());
  return value{std::move(out)};
}

matchers info_series_matchers(const call_expr& c) {
  matchers out;
  bool named = false, positive = false;
  if (c.args.size() > 1)
    if (const auto* vs = std::get_if<vector_selector>(&unwrap_parens(*c.args[1]).node)) {
      out = vs->label_matchers;
      for (const auto& m : out)
        if (m.name() == metric_name_label) {
          named = true;
          positive = positive || m.type() == matcher::op::eq || m.type() == matcher::op::re;
        }
    }
  if (!named) out.push_back(*matcher::make(matcher::op::eq, std::string(metric_name_label), "target_info"));
  else if (!positive) out.push_back(*matcher::make(matcher::op::re, std::string(metric_name_label), ".+_info"));
  return out;
}

// info(v, selector): adds the data labels of the info series that share
// v's identifying labels (instance, job); the newest sample wins among
// series of one info metric.
result<value> evaluator::eval_info(const call_expr& c) {
  size_t n = grid_.n;
  auto base = eval_vector(*c.args[0]);
  if (!base) return base.error();
  matchers info_ms = info_series_matchers(c);
  std::vector<const matcher*> name_ms, data_ms;
  for (const auto& m : info_ms) (m.name() == metric_name_label ? name_ms : data_ms).push_back(&m);
  // A base series that the name matchers select is an info series itself
  // and passes through unchanged.
  const std::vector<const matcher*>& user_name_ms = name_ms;
  bool empty_ok = std::all_of(data_ms.begin(), data_ms.end(), [](const matcher* m) { return m->matches_empty(); });
  vector_selector sel;
  sel.label_matchers = info_ms;
  // Info series are read at the times the base series are read.
  sel.mods = info_time_modifiers(*c.args[0], query_step_, query_start_, query_end_);
  auto info = eval_vector_selector(sel, true);
  if (!info) return info;
  auto& infos = std::get<vec_value>(*info).series;
  auto identifying = [](const labels& ls) {
    return std::string(label_value(ls, "instance")) + '\xff' + std::string(label_value(ls, "job"));
  };
  std::unordered_map<std::string, std::vector<size_t>> by_id;
  for (size_t j = 0; j < infos.size(); ++j) by_id[identifying(infos[j].metric)].push_back(j);

  vec_value out;
  std::unordered_map<std::string, size_t> out_ids;
  for (auto& b : base->series) {
    std::string_view name = label_value(b.metric, metric_name_label);
    bool is_info = !name.empty() && std::all_of(user_name_ms.begin(), user_name_ms.end(),
                                                [&](const matcher* m) { return m->matches(name); });
    if (is_info) {
      out.series.push_back(std::move(b));
      continue;
    }
    auto it = by_id.find(identifying(b.metric));
    for (size_t k = 0; k < n; ++k) {
      if (!b.ok[k]) continue;
      // Per info metric name, the series with the newest sample.
      std::map<std::string, size_t> newest;
      if (it != by_id.end())
        for (size_t j : it->second) {
          if (!infos[j].ok[k]) continue;
          std::string nm(label_value(infos[j].metric, metric_name_label));
          auto [pos, fresh] = newest.emplace(nm, j);
          if (!fresh && infos[j].v[k] > infos[pos->second].v[k]) pos->second = j;
        }
      if (newest.empty() && !empty_ok) continue;
      labels l = b.metric;
      size_t own = l.size();  // labels past `own` came from info series
      for (const auto& [nm, j] : newest)
        for (const auto& il : infos[j].metric) {
          if (il.name == metric_name_label || il.name == "instance" || il.name == "job") continue;
          if (!data_ms.empty() &&
              std::none_of(data_ms.begin(), data_ms.end(), [&](const matcher* m) { return m->name() == il.name; }))
            continue;
          auto have = std::find_if(l.begin(), l.end(), [&](const label& x) { return x.name == il.name; });
          if (have == l.end()) {
            l.push_back(il);
          } else if (static_cast<size_t>(have - l.begin()) >= own && have->value != il.value) {
            return error(strata_errc::bad_request, "conflicting label: " + quote(il.name) + " has values " +
                                                       quote(have->value) + " and " + quote(il.value) +
                                                       " in info series of " + to_string(b.metric));
          }
        }
      sort_labels(l);
      std::string key;
      for (const auto& x : l) key += x.name + '\xff' + x.value + '\xff';
      auto [oit, fresh] = out_ids.emplace(std::move(key), out.series.size());
      if (fresh) {
        out.series.push_back(empty_like(std::move(l), n));
        out.series.back().drop_name = b.drop_name;
      }
      out.series[oit->second].v[k] = b.v[k];
      out.series[oit->second].ok[k] = 1;
    }
  }
  if (auto st = merge_same_labels(out); !st) return st;
  return value{std::move(out)};
}

result<value> evaluator::eval_label_function(const call_expr& c) {
  auto in = eval_vector(*c.args[0]);
  if (!in) return in.error();
  std::vector<std::string> s;
  for (size_t i = 1; i < c.args.size(); ++i) {
    auto v = eval(*c.args[i]);
    if (!v) return v;
    s.push_back(std::get<string_value>(*v).s);
  }
  if (c.func == "label_replace") {
    const std::string &dst = s[0], &repl = s[1], &src = s[2], &regex = s[3];
    RE2::Options ro;
    ro.set_log_errors(false);
    ro.set_dot_nl(true);
    RE2 re("^(?s:" + regex + ")$", ro);
    if (!re.ok())
      return error(strata_errc::bad_request, "invalid regular expression in label_replace(): " + regex);
    if (!valid_label_name(dst))
      return error(strata_errc::bad_request, "invalid destination label name in label_replace(): " + dst);
    std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
    for (auto& ser : in->series) {
      std::string v(label_value(ser.metric, src));
      if (!re.Match(v, 0, v.size(), RE2::UNANCHORED, groups.data(), static_cast<int>(groups.size()))) continue;
      set_label(ser.metric, dst, expand(repl, re, groups));
    }
    if (dst == metric_name_label)
      for (auto& ser : in->series) ser.drop_name = false;
  } else {
    const std::string &dst = s[0], &sep = s[1];
    if (!valid_label_name(dst))
      return error(strata_errc::bad_request, "invalid destination label name in label_join(): " + dst);
    for (size_t i = 2; i < s.size(); ++i)
      if (!valid_label_name(s[i]))
        return error(strata_errc::bad_request, "invalid source label name in label_join(): " + s[i]);
    for (auto& ser : in->series) {
      std::string joined;
      for (size_t i = 2; i < s.size(); ++i) {
        if (i > 2) joined += sep;
        joined += label_value(ser.metric, s[i]);
      }
      set_label(ser.metric, dst, joined);
      if (dst == metric_name_label) ser.drop_name = false;
    }
  }
  if (auto st = merge_same_labels(*in); !st) return st;
  return value{std::move(*in)};
}

}  // namespace strata::query::detail
