#include "query/plan.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "query/functions.hpp"

namespace strata::query {
namespace {

bool is_literal(const expr& e) {
  const expr& u = unwrap_parens(e);
  if (std::holds_alternative<number_literal>(u.node)) return true;
  if (const auto* un = std::get_if<unary_expr>(&u.node)) return is_literal(*un->operand);
  return false;
}

bool is_elementwise(std::string_view f) {
  return fn::find_math_function(f) != nullptr || f == "clamp" || f == "clamp_min" || f == "clamp_max" ||
         f == "round" || f == "timestamp";
}

bool decomposable(token_kind op) {
  switch (op) {
    case token_kind::kw_sum:
    case token_kind::kw_count:
    case token_kind::kw_min:
    case token_kind::kw_max:
    case token_kind::kw_avg:
    case token_kind::kw_group:
    case token_kind::kw_stddev:
    case token_kind::kw_stdvar:
    case token_kind::kw_topk:
    case token_kind::kw_bottomk: return true;
    default: return false;
  }
}

void kahan_inc(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) c = 0;
  else if (std::fabs(sum) >= std::fabs(inc)) c += (sum - t) + inc;
  else c += (inc - t) + sum;
  sum = t;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}


labels group_of(const labels& ls, const aggregate_expr& a) {
  labels out;
  for (const auto& l : ls) {
    bool in = contains(a.grouping, l.name);
    if (a.without ? (!in && l.name != metric_name_label) : in) out.push_back(l);
  }
  return out;
}

// Prometheus's topk/bottomk order: NaN loses; ties keep label order.
bool better(token_kind op, const instant_sample& x, const instant_sample& y) {
  double a = x.s.v, b = y.s.v;
  if (std::isnan(a) != std::isnan(b)) return !std::isnan(a);
  if (a != b && !std::isnan(a)) return op == token_kind::kw_topk ? a > b : a < b;
  return x.metric < y.metric;
}

}  // namespace

bool is_series_local(const expr& e) {
  const expr& u = unwrap_parens(e);
  if (std::holds_alternative<vector_selector>(u.node) || std::holds_alternative<matrix_selector>(u.node)) return true;
  if (const auto* un = std::get_if<unary_expr>(&u.node)) return is_series_local(*un->operand);
  if (const auto* b = std::get_if<binary_expr>(&u.node)) {
    if (b->op == token_kind::kw_and || b->op == token_kind::kw_or || b->op == token_kind::kw_unless) return false;
    return (is_series_local(*b->lhs) && is_literal(*b->rhs)) || (is_literal(*b->lhs) && is_series_local(*b->rhs));
  }
  if (const auto* c = std::get_if<call_expr>(&u.node)) {
    if (c->args.empty()) return false;
    bool ranged = fn::find_range_function(c->func) != nullptr;
    if (!ranged && !is_elementwise(c->func)) return false;
    bool has_series = false;
    for (const auto& a : c->args) {
      const expr& arg = unwrap_parens(*a);
      if (is_literal(arg)) continue;
      if (ranged ? !std::holds_alternative<matrix_selector>(arg.node) : !is_series_local(arg)) return false;
      has_series = true;
    }
    return has_series;
  }
  return false;
}

bool is_decomposable_aggregation(const expr& e) {
  const auto* a = std::get_if<aggregate_expr>(&unwrap_parens(e).node);
  if (!a || !decomposable(a->op)) return false;
  if (a->param && !is_literal(*a->param)) return false;
  return is_series_local(*a->operand);
}

void add_annotations(std::vector<std::string>& into, const std::vector<std::string>& more) {
  for (const auto& a : more)
    if (!contains(into, a)) into.push_back(a);
}

bool is_pushable(const expr& e) {
  return is_decomposable_aggregation(e) || (is_series_local(e) && type_of(e) == value_type::vector);
}

token_kind partial_op(const expr& e) {
  const auto* a = std::get_if<aggregate_expr>(&unwrap_parens(e).node);
  return a && is_decomposable_aggregation(e) ? a->op : series_value_op;
}

namespace {

// What `find` returns for each direct child of `e` (the inner expression of a
// subquery only when into_subqueries), in order.
std::vector<const expr*> collect_below(const expr& e, bool into_subqueries,
                                       std::vector<const expr*> (*find)(const expr&)) {
  std::vector<const expr*> out;
  auto add = [&](const expr& child) {
    auto sub = find(child);
    out.insert(out.end(), sub.begin(), sub.end());
  };
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, paren_expr>) add(*n.inner);
        else if constexpr (std::is_same_v<T, subquery_expr>) {
          if (into_subqueries) add(*n.inner);
        } else if constexpr (std::is_same_v<T, unary_expr>) add(*n.operand);
        else if constexpr (std::is_same_v<T, binary_expr>) add(*n.lhs), add(*n.rhs);
        else if constexpr (std::is_same_v<T, call_expr>) {
          for (const auto& a : n.args) add(*a);
        } else if constexpr (std::is_same_v<T, aggregate_expr>) {
          add(*n.operand);
        }
      },
      e.node);
  return out;
}

}  // namespace

std::vector<const expr*> pushdown_roots(const expr& e) {
  if (is_decomposable_aggregation(e) || is_series_local(e)) return {&e};
  return collect_below(e, true, pushdown_roots);
}

void partial_aggregate::add(double v, const labels* metric) {
  count += 1;
  switch (op) {
    case token_kind::kw_sum:
    case token_kind::kw_avg: kahan_inc(v, sum, sum_c); break;
    case series_value_op: sum = v; break;
    case token_kind::kw_min:
      if (count == 1 || extreme > v || std::isnan(extreme)) extreme = v;
      break;
    case token_kind::kw_max:
      if (count == 1 || extreme < v || std::isnan(extreme)) extreme = v;
      break;
    case token_kind::kw_stddev:
    case token_kind::kw_stdvar: {
      double delta = v - mean;
      mean += delta / count;
      m2 += delta * (v - mean);
      break;
    }
    case token_kind::kw_topk:
    case token_kind::kw_bottomk: {
      kept.push_back({metric ? *metric : labels{}, sample{0, v}});
      std::stable_sort(kept.begin(), kept.end(), [this](const auto& x, const auto& y) { return better(op, x, y); });
      if (static_cast<int64_t>(kept.size()) > k) kept.resize(static_cast<size_t>(std::max<int64_t>(k, 0)));
      break;
    }
    default: break;
  }
}

void partial_aggregate::merge(const partial_aggregate& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  double n = count + o.count;
  switch (op) {
    case token_kind::kw_sum:
    case token_kind::kw_avg:
      kahan_inc(o.sum, sum, sum_c);
      kahan_inc(o.sum_c, sum, sum_c);
      break;
    case token_kind::kw_min:
      if (extreme > o.extreme || std::isnan(extreme)) extreme = o.extreme;
      break;
    case token_kind::kw_max:
      if (extreme < o.extreme || std::isnan(extreme)) extreme = o.extreme;
      break;
    case token_kind::kw_stddev:
    case token_kind::kw_stdvar: {
      double delta = o.mean - mean;
      m2 = m2 + o.m2 + delta * delta * count * o.count / n;
      mean += delta * o.count / n;
      break;
    }
    case token_kind::kw_topk:
    case token_kind::kw_bottomk:
      kept.insert(kept.end(), o.kept.begin(), o.kept.end());
      std::stable_sort(kept.begin(), kept.end(), [this](const auto& x, const auto& y) { return better(op, x, y); });
      if (static_cast<int64_t>(kept.size()) > k) kept.resize(static_cast<size_t>(std::max<int64_t>(k, 0)));
      break;
    default: break;
  }
  count = n;
}

double partial_aggregate::finish() const {
  switch (op) {
    case token_kind::kw_sum: return std::isinf(sum) ? sum : sum + sum_c;
    case token_kind::kw_avg: return std::isinf(sum) ? sum / count : sum / count + sum_c / count;  // as the engine's avg
    case token_kind::kw_count: return count;
    case token_kind::kw_group: return 1;
    case series_value_op: return sum;
    case token_kind::kw_min:
    case token_kind::kw_max: return extreme;
    case token_kind::kw_stdvar: return m2 / count;
    case token_kind::kw_stddev: return std::sqrt(m2 / count);
    default: return std::nan("");
  }
}

namespace {

// topk/bottomk's k at t_ms (0 for other operators), clamped like the engine's.
result<int64_t> param_k(const aggregate_expr& a, series_source& shard, int64_t t_ms, const eval_options& o) {
  if (!a.param) return int64_t{0};
  auto p = eval_instant(*a.param, shard, t_ms, o);
  if (!p) return p.error();
  double v = std::get<scalar_result>(p->value).v;
  return std::isnan(v) ? 0 : static_cast<int64_t>(std::max(std::min(v, 1e15), -1e15));
}

}  // namespace

result<std::vector<partial_group>> eval_partial(const expr& agg_expr, series_source& shard, int64_t t_ms,
                                                const eval_options& o) {
  const auto& a = std::get<aggregate_expr>(unwrap_parens(agg_expr).node);
  auto in = eval_instant(*a.operand, shard, t_ms, o);
  if (!in) return in.error();
  auto k = param_k(a, shard, t_ms, o);
  if (!k) return k.error();
  std::map<labels, partial_aggregate> groups;
  for (const auto& s : std::get<vector>(in->value)) {
    labels g = group_of(s.metric, a);
    auto [it, fresh] = groups.try_emplace(std::move(g));
    if (fresh) it->second.op = a.op, it->second.k = *k;
    it->second.add(s.s.v, &s.metric);
  }
  std::vector<partial_group> out;
  for (auto& [g, st] : groups) out.push_back({g, std::move(st)});
  return out;
}

vector merge_partials(const expr& agg_expr, std::vector<std::vector<partial_group>> shards, int64_t t_ms) {
  const auto& a = std::get<aggregate_expr>(unwrap_parens(agg_expr).node);
  std::map<labels, partial_aggregate> groups;
  for (auto& shard : shards)
    for (auto& pg : shard) {
      auto [it, fresh] = groups.try_emplace(pg.group);
      if (fresh) it->second = std::move(pg.state);
      else it->second.merge(pg.state);
    }
  vector out;
  for (auto& [g, st] : groups) {
    if (a.op == token_kind::kw_topk || a.op == token_kind::kw_bottomk) {
      for (const auto& s : st.kept) out.push_back({s.metric, sample{t_ms, s.s.v}});
      continue;
    }
    out.push_back({g, sample{t_ms, st.finish()}});
  }
  return out;
}

namespace {

// A series-local expression's values as a table: one group per series.
result<partial_table> series_table(const expr& e, series_source& shard, int64_t start_ms, int64_t end_ms,
                                   int64_t step_ms, size_t steps, const eval_options& o) {
  auto in = eval_range(e, shard, start_ms, end_ms, step_ms, o);
  if (!in) return in.error();
  partial_table out;
  out.warnings = std::move(in->warnings);
  out.infos = std::move(in->infos);
  out.steps.resize(steps);
  for (auto& s : std::get<matrix>(in->value)) {
    auto g = static_cast<uint32_t>(out.groups.size());
    for (const auto& x : s.samples) {
      partial_aggregate st;
      st.op = series_value_op;
      st.add(x.v);
      out.steps[static_cast<size_t>((x.t - start_ms) / step_ms)].emplace_back(g, std::move(st));
    }
    out.groups.push_back(std::move(s.lbls));
  }
  return out;
}

}  // namespace

result<partial_table> eval_partial_range(const expr& pushed, series_source& shard, int64_t start_ms, int64_t end_ms,
                                         int64_t step_ms, const eval_options& o) {
  if (step_ms <= 0 || end_ms == start_ms) step_ms = 1;
  size_t steps = static_cast<size_t>((end_ms - start_ms) / step_ms) + 1;
  if (!is_decomposable_aggregation(pushed)) return series_table(pushed, shard, start_ms, end_ms, step_ms, steps, o);
  const auto& a = std::get<aggregate_expr>(unwrap_parens(pushed).node);
  auto k = param_k(a, shard, start_ms, o);  // its error after the operand's, as the engine reports them
  // Groups are found once per series; states are dense per step and group.
  std::map<labels, uint32_t> index;
  std::vector<std::vector<partial_aggregate>> at(steps);
  auto state_of = [&](const labels& metric) -> std::vector<partial_aggregate>::size_type {
    auto next = static_cast<uint32_t>(index.size());
    auto [it, fresh] = index.try_emplace(group_of(metric, a), next);
    if (fresh) {
      partial_aggregate empty;
      empty.op = a.op;
      empty.k = k ? *k : 0;
      for (auto& row : at) row.push_back(empty);
    }
    return it->second;
  };
  // The operand's series are folded as they are computed, never held all
  // at once, provided they come in label order as eval_range would sort
  // them (then every state adds its values in the same order, bit for bit).
  // Out of order (dropping the metric name reordered or merged them):
  // start again from eval_range's sorted answer.
  std::optional<labels> last;
  bool ordered = true;
  auto in = eval_range_each(*a.operand, shard, start_ms, end_ms, step_ms, o,
                            [&](const labels& metric, const std::vector<double>& v, const std::vector<uint8_t>& ok) {
                              if (last && !(*last < metric)) return ordered = false;
                              last = metric;
                              auto j = state_of(metric);
                              for (size_t i = 0; i < steps && i < ok.size(); ++i)
                                if (ok[i]) at[i][j].add(v[i], &metric);
                              return true;
                            });
  if (!in) return in.error();
  if (!k) return k.error();
  if (!ordered) {
    index.clear();
    at.assign(steps, {});
    in = eval_range(*a.operand, shard, start_ms, end_ms, step_ms, o);
    if (!in) return in.error();
    for (const auto& s : std::get<matrix>(in->value)) {
      auto j = state_of(s.lbls);
      for (const auto& x : s.samples) at[static_cast<size_t>((x.t - start_ms) / step_ms)][j].add(x.v, &s.lbls);
    }
  }
  partial_table out;
  out.warnings = std::move(in->warnings);
  out.infos = std::move(in->infos);
  out.groups.resize(index.size());
  for (auto& [g, j] : index) out.groups[j] = g;
  out.steps.resize(steps);
  for (size_t i = 0; i < steps; ++i)
    for (uint32_t j = 0; j < at[i].size(); ++j)
      if (at[i][j].count > 0) out.steps[i].emplace_back(j, std::move(at[i][j]));
  return out;
}

partial_table combine_partial_tables(std::vector<partial_table> parts) {
  if (parts.size() == 1) return std::move(parts.front());
  partial_table out;
  std::map<labels, uint32_t> ids;
  std::vector<std::vector<uint32_t>> remap(parts.size());
  size_t steps = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    steps = std::max(steps, parts[i].steps.size());
    for (auto& g : parts[i].groups) {
      auto [it, fresh] = ids.try_emplace(g, static_cast<uint32_t>(out.groups.size()));
      if (fresh) out.groups.push_back(std::move(g));
      remap[i].push_back(it->second);
    }
  }
  out.steps.resize(steps);
  for (auto& part : parts) {
    add_annotations(out.warnings, part.warnings);
    add_annotations(out.infos, part.infos);
  }
  std::vector<int64_t> slot(out.groups.size(), -1);  // a group's entry in the step being built
  for (size_t k = 0; k < steps; ++k) {
    auto& into = out.steps[k];
    for (size_t i = 0; i < parts.size(); ++i) {
      if (k >= parts[i].steps.size()) continue;
      for (auto& [g, st] : parts[i].steps[k]) {
        uint32_t id = remap[i][g];
        if (slot[id] < 0) {
          slot[id] = static_cast<int64_t>(into.size());
          into.emplace_back(id, std::move(st));
        } else {
          into[static_cast<size_t>(slot[id])].second.merge(st);
        }
      }
    }
    for (const auto& e : into) slot[e.first] = -1;
  }
  return out;
}

result<matrix> merge_partial_tables(const expr& pushed, std::vector<partial_table> shards, int64_t start_ms,
                                    int64_t step_ms) {
  token_kind op = partial_op(pushed);
  bool ranked = op == token_kind::kw_topk || op == token_kind::kw_bottomk;
  // Every shard's group numbers mapped to one numbering, in label order.
  std::map<labels, uint32_t> ids;
  size_t steps = 0;
  for (const auto& t : shards) {
    for (const auto& g : t.groups) ids.emplace(g, 0);
    steps = std::max(steps, t.steps.size());
  }
  std::vector<const labels*> by_id;
  for (auto& [g, id] : ids) {
    id = static_cast<uint32_t>(by_id.size());
    by_id.push_back(&g);
  }
  std::vector<std::vector<uint32_t>> remap(shards.size());
  for (size_t i = 0; i < shards.size(); ++i)
    for (const auto& g : shards[i].groups) remap[i].push_back(ids[g]);
  matrix out;
  std::map<labels, size_t> series_at;
  auto emit = [&](const labels& ls, sample x) {
    auto [it, fresh] = series_at.try_emplace(ls, out.size());
    if (fresh) out.push_back({ls, {}});
    out[it->second].samples.push_back(x);
  };
  std::vector<partial_aggregate> merged(by_id.size());
  for (size_t k = 0; k < steps; ++k) {
    for (auto& m : merged) m = partial_aggregate{};
    for (size_t i = 0; i < shards.size(); ++i) {
      if (k >= shards[i].steps.size()) continue;
      for (auto& [g, st] : shards[i].steps[k]) {
        auto& into = merged[remap[i][g]];
        if (into.count == 0) into = std::move(st);
        else into.merge(st);
      }
    }
    int64_t t = start_ms + static_cast<int64_t>(k) * step_ms;
    for (size_t g = 0; g < merged.size(); ++g) {
      if (merged[g].count == 0) continue;
      if (op == series_value_op && merged[g].count > 1)
        return error(strata_errc::bad_request, "vector cannot contain metrics with the same labelset");
      if (ranked) {
        for (const auto& x : merged[g].kept) emit(x.metric, sample{t, x.s.v});
      } else {
        emit(*by_id[g], sample{t, merged[g].finish()});
      }
    }
  }
  return out;
}

namespace {

bool names_metric(const std::vector<std::string>& v) { return contains(v, metric_name_label); }

// Adds the pushable subtrees of `e` to `out`. `early_drop_ok`: nothing above
// `e` can tell a metric name dropped at a shard from one dropped at the end.
void find_pushable(const expr& e, bool early_drop_ok, std::vector<const expr*>& out) {
  const expr& u = unwrap_parens(e);
  if (const auto* a = std::get_if<aggregate_expr>(&u.node); a && is_decomposable_aggregation(u)) {
    if (a->without || !names_metric(a->grouping)) return out.push_back(&e);
  } else if (is_series_local(u) && type_of(u) == value_type::vector &&
             (early_drop_ok || std::holds_alternative<vector_selector>(u.node))) {
    return out.push_back(&e);
  }
  std::visit(
      [&](const auto& n) {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, unary_expr>) {
          find_pushable(*n.operand, early_drop_ok, out);
        } else if constexpr (std::is_same_v<T, binary_expr>) {
          bool ok = early_drop_ok && !names_metric(n.matching.labels) && !names_metric(n.matching.include);
          find_pushable(*n.lhs, ok, out);
          find_pushable(*n.rhs, ok, out);
        } else if constexpr (std::is_same_v<T, call_expr>) {
          bool ok = early_drop_ok && (is_elementwise(n.func) || n.func == "histogram_quantile" || n.func == "scalar");
          for (const auto& arg : n.args) find_pushable(*arg, ok, out);
        } else if constexpr (std::is_same_v<T, aggregate_expr>) {
          bool ranks = n.op == token_kind::kw_topk || n.op == token_kind::kw_bottomk || n.op == token_kind::kw_limitk ||
                       n.op == token_kind::kw_limit_ratio || n.op == token_kind::kw_count_values;
          find_pushable(*n.operand, early_drop_ok && !ranks && (n.without || !names_metric(n.grouping)), out);
        }
      },
      u.node);
}

}  // namespace

std::vector<const expr*> pushable_subtrees(const expr& e) {
  std::vector<const expr*> out;
  find_pushable(e, true, out);
  return out;
}

}  // namespace strata::query
