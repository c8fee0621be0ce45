#include "query/engine.hpp"

#include <algorithm>
#include <limits>

namespace strata::query {
namespace {

constexpr const char* too_many_samples = "query processing would load too many samples into memory in query execution";

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

const vector_selector& selector_of(const expr& e) {
  if (const auto* m = std::get_if<matrix_selector>(&e.node)) return m->vs;
  return std::get<vector_selector>(e.node);
}

bool sample_time_less(const sample& a, const sample& b) { return a.t < b.t; }

// Sorts series by labels, merges series that a source returned more than
// once, and puts each series' samples in time order without duplicates
// (the first one returned for a timestamp wins).
std::vector<series> normalize(std::vector<series> in) {
  for (auto& s : in)
    if (!std::is_sorted(s.samples.begin(), s.samples.end(), sample_time_less))
      std::stable_sort(s.samples.begin(), s.samples.end(), sample_time_less);
  std::stable_sort(in.begin(), in.end(), [](const series& a, const series& b) { return a.lbls < b.lbls; });
  std::vector<series> out;
  out.reserve(in.size());
  for (auto& s : in) {
    if (!out.empty() && out.back().lbls == s.lbls) {
      auto& into = out.back().samples;
      std::vector<sample> merged;
      merged.reserve(into.size() + s.samples.size());
      std::merge(into.begin(), into.end(), s.samples.begin(), s.samples.end(), std::back_inserter(merged),
                 sample_time_less);
      into = std::move(merged);
      continue;
    }
    out.push_back(std::move(s));
  }
  for (auto& s : out) {
    auto last =
        std::unique(s.samples.begin(), s.samples.end(), [](const sample& a, const sample& b) { return a.t == b.t; });
    s.samples.erase(last, s.samples.end());
  }
  return out;
}

// Counts samples against eval_options::max_samples.
class sample_budget {
 public:
  explicit sample_budget(size_t max) : left_(max) {}
  bool take(size_t n) {
    if (n > left_) return false;
    left_ -= n;
    return true;
  }

 private:
  size_t left_;
};

// The newest sample of `s` in (lo, hi], searching from `*from` (which is
// advanced, so that walking increasing windows is linear); null when there
// is none or it is a stale marker.
const sample* latest_in(const std::vector<sample>& s, size_t* from, int64_t lo, int64_t hi) {
  size_t j = *from;
  while (j < s.size() && s[j].t <= hi) ++j;
  *from = j;
  if (j == 0) return nullptr;
  const sample& c = s[j - 1];
  if (c.t <= lo || is_stale_nan(c.v)) return nullptr;
  return &c;
}

result<std::vector<series>> fetch(const expr& e, series_source& src, int64_t start, int64_t end,
                                  const eval_options& o) {
  auto [mint, maxt] = select_range(e, start, end, o);
  auto sel = src.select(selector_matchers(e), mint, maxt);
  if (!sel) return sel.error();
  return normalize(std::move(*sel));
}

}  // namespace

std::pair<int64_t, int64_t> select_range(const expr& e, int64_t start_ms, int64_t end_ms, const eval_options& o) {
  const vector_selector& vs = selector_of(e);
  int64_t window = o.lookback_ms;
  if (const auto* m = std::get_if<matrix_selector>(&e.node)) window = m->range_ms;
  int64_t maxt = sat_sub(end_ms, vs.offset_ms);
  int64_t mint = sat_add(sat_sub(sat_sub(start_ms, vs.offset_ms), window), 1);  // windows are left-open
  return {mint, maxt};
}

result<query_result> eval_instant(const expr& e, series_source& src, int64_t t_ms, const eval_options& o) {
  auto data = fetch(e, src, t_ms, t_ms, o);
  if (!data) return data.error();
  sample_budget budget(o.max_samples);
  const vector_selector& vs = selector_of(e);
  int64_t hi = sat_sub(t_ms, vs.offset_ms);

  if (const auto* ms = std::get_if<matrix_selector>(&e.node)) {
    int64_t lo = sat_sub(hi, ms->range_ms);
    matrix out;
    for (auto& s : *data) {
      series kept{std::move(s.lbls), {}};
      auto first =
          std::upper_bound(s.samples.begin(), s.samples.end(), lo, [](int64_t t, const sample& x) { return t < x.t; });
      for (auto it = first; it != s.samples.end() && it->t <= hi; ++it)
        if (!is_stale_nan(it->v)) kept.samples.push_back(*it);
      if (kept.samples.empty()) continue;
      if (!budget.take(kept.samples.size())) return error(strata_errc::bad_request, too_many_samples);
      out.push_back(std::move(kept));
    }
    return query_result{std::move(out)};
  }

  int64_t lo = sat_sub(hi, o.lookback_ms);
  vector out;
  for (auto& s : *data) {
    size_t from = 0;
    const sample* c = latest_in(s.samples, &from, lo, hi);
    if (!c) continue;
    if (!budget.take(1)) return error(strata_errc::bad_request, too_many_samples);
    out.push_back({std::move(s.lbls), sample{t_ms, c->v}});
  }
  return query_result{std::move(out)};
}

result<query_result> eval_range(const expr& e, series_source& src, int64_t start_ms, int64_t end_ms, int64_t step_ms,
                                const eval_options& o) {
  if (step_ms <= 0)
    return error(strata_errc::bad_request,
                 "zero or negative query resolution step widths are not accepted. Try a positive integer");
  if (end_ms < start_ms) return error(strata_errc::bad_request, "end timestamp must not be before start time");
  if (type_of(e) != value_type::vector && type_of(e) != value_type::scalar)
    return error(strata_errc::bad_request, std::string("invalid expression type \"") + document_type(type_of(e)) +
                                               "\" for range query, must be Scalar or instant Vector");

  auto data = fetch(e, src, start_ms, end_ms, o);
  if (!data) return data.error();
  const vector_selector& vs = selector_of(e);
  // end - start may not fit in int64 when both are extreme; it fits in uint64.
  uint64_t steps =
      (static_cast<uint64_t>(end_ms) - static_cast<uint64_t>(start_ms)) / static_cast<uint64_t>(step_ms) + 1;
  sample_budget budget(o.max_samples);
  matrix out;
  for (auto& s : *data) {
    series kept{std::move(s.lbls), {}};
    size_t from = 0;
    for (uint64_t k = 0; k < steps; ++k) {
      auto ts = static_cast<int64_t>(static_cast<uint64_t>(start_ms) + k * static_cast<uint64_t>(step_ms));
      int64_t hi = sat_sub(ts, vs.offset_ms);
      const sample* c = latest_in(s.samples, &from, sat_sub(hi, o.lookback_ms), hi);
      if (c) kept.samples.push_back({ts, c->v});
    }
    if (kept.samples.empty()) continue;
    if (!budget.take(kept.samples.size())) return error(strata_errc::bad_request, too_many_samples);
    out.push_back(std::move(kept));
  }
  return query_result{std::move(out)};
}

}  // namespace strata::query
