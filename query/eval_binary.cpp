// Binary operators: arithmetic, comparisons (filters or `bool`), set
// operators and vector matching, following Prometheus's VectorBinop.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "query/detail/evaluator.hpp"

namespace strata::query::detail {
namespace {

bool is_comparison(token_kind k) {
  return k == token_kind::eqlc || k == token_kind::neq || k == token_kind::lss || k == token_kind::lte ||
         k == token_kind::gtr || k == token_kind::gte;
}

// Prometheus's vectorElemBinop for floats: `out` is the result (the left
// value for comparisons); false when a comparison does not hold.
bool apply(token_kind op, double l, double r, double& out) {
  switch (op) {
    case token_kind::add: out = l + r; return true;
    case token_kind::sub: out = l - r; return true;
    case token_kind::mul: out = l * r; return true;
    case token_kind::div: out = l / r; return true;
    case token_kind::pow: out = std::pow(l, r); return true;
    case token_kind::mod: out = std::fmod(l, r); return true;
    case token_kind::kw_atan2: out = std::atan2(l, r); return true;
    case token_kind::eqlc: out = l; return l == r;
    case token_kind::neq: out = l; return l != r;
    case token_kind::gtr: out = l; return l > r;
    case token_kind::lss: out = l; return l < r;
    case token_kind::gte: out = l; return l >= r;
    case token_kind::lte: out = l; return l <= r;
    default: out = 0; return false;
  }
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The matching key of a series: the `on` labels, or every label but the
// `ignoring` ones and __name__.
std::string signature(const labels& ls, const vector_matching& m) {
  std::string key;
  for (const auto& l : ls) {
    bool use = m.on ? contains(m.labels, l.name) : (l.name != metric_name_label && !contains(m.labels, l.name));
    if (!use) continue;
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xff';
  }
  return key;
}

labels signature_labels(const labels& ls, const vector_matching& m) {
  labels out;
  for (const auto& l : ls) {
    bool use = m.on ? contains(m.labels, l.name) : (l.name != metric_name_label && !contains(m.labels, l.name));
    if (use) out.push_back(l);
  }
  return out;
}

// Interns signatures as small integers.
std::vector<int> signature_ids(const vec_value& a, const vec_value& b, const vector_matching& m,
                               std::vector<int>& ids_b, size_t& count) {
  std::unordered_map<std::string, int> ids;
  auto id_of = [&](const labels& ls) {
    auto [it, fresh] = ids.emplace(signature(ls, m), static_cast<int>(ids.size()));
    return it->second;
  };
  std::vector<int> ids_a;
  ids_a.reserve(a.series.size());
  for (const auto& s : a.series) ids_a.push_back(id_of(s.metric));
  ids_b.clear();
  for (const auto& s : b.series) ids_b.push_back(id_of(s.metric));
  count = ids.size();
  return ids_a;
}

// The labels of a result element (Prometheus's resultMetric).
labels result_metric(const labels& many, const labels& one, const vector_matching& m) {
  labels out;
  for (const auto& l : many) {
    if (m.card == cardinality::one_to_one) {
      if (m.on ? !contains(m.labels, l.name) : contains(m.labels, l.name)) continue;
    }
    out.push_back(l);
  }
  for (const auto& name : m.include) {
    std::string_view v = label_value(one, name);
    auto it = std::find_if(out.begin(), out.end(), [&](const label& l) { return l.name == name; });
    if (!v.empty()) {
      if (it != out.end()) it->value = std::string(v);
      else out.push_back({name, std::string(v)});
    } else if (it != out.end()) {
      out.erase(it);
    }
  }
  sort_labels(out);
  return out;
}

vseries empty_like(const labels& metric, size_t n) {
  vseries s;
  s.metric = metric;
  s.v.assign(n, 0);
  s.ok.assign(n, 0);
  return s;
}

}  // namespace

result<value> evaluator::eval_binary(const binary_expr& b) {
  auto lv = eval(*b.lhs);
  if (!lv) return lv;
  auto rv = eval(*b.rhs);
  if (!rv) return rv;
  size_t n = grid_.n;
  auto* ls = std::get_if<scalar_value>(&*lv);
  auto* rs = std::get_if<scalar_value>(&*rv);
  if (ls && rs) {
    scalar_value out;
    out.v.resize(n);
    for (size_t k = 0; k < n; ++k) {
      double x;
      bool keep = apply(b.op, ls->v[k], rs->v[k], x);
      out.v[k] = is_comparison(b.op) ? (keep ? 1 : 0) : x;
    }
    return value{std::move(out)};
  }
  if (ls || rs) {
    // Vector and scalar, in either order.
    bool scalar_left = ls != nullptr;
    vec_value vec = std::move(std::get<vec_value>(scalar_left ? *rv : *lv));
    const scalar_value& sc = scalar_left ? *ls : *rs;
    bool cmp = is_comparison(b.op);
    vec_value out;
    out.series.reserve(vec.series.size());
    for (auto& s : vec.series) {
      bool any = false;
      for (size_t k = 0; k < n; ++k) {
        if (!s.ok[k]) continue;
        double l = s.v[k], r = sc.v[k];
        if (scalar_left) std::swap(l, r);
        double x;
        bool keep = apply(b.op, l, r, x);
        if (b.return_bool) x = keep ? 1 : 0;
        else if (cmp && !keep) s.ok[k] = 0;
        else if (cmp) x = s.v[k];
        s.v[k] = x;
        any = any || s.ok[k];
      }
      if (any) out.series.push_back(std::move(s));
    }
    if (!cmp || b.return_bool) {
      drop_metric_names(out);
      if (auto st = merge_same_labels(out); !st) return st;
    }
    return value{std::move(out)};
  }
  auto& l = std::get<vec_value>(*lv);
  auto& r = std::get<vec_value>(*rv);
  if (b.op == token_kind::kw_and || b.op == token_kind::kw_or || b.op == token_kind::kw_unless)
    return set_operation(b, l, r);
  return binary_vector_vector(b, l, r);
}

result<value> evaluator::set_operation(const binary_expr& b, vec_value& l, vec_value& r) {
  size_t n = grid_.n;
  std::vector<int> rid;
  size_t nsig = 0;
  std::vector<int> lid = signature_ids(l, r, b.matching, rid, nsig);
  std::vector<uint8_t> seen(nsig, 0);
  std::vector<int> touched;
  vec_value out;
  if (b.op == token_kind::kw_or) {
    // Every left element; right elements whose signature the left lacks at that step.
    std::vector<vseries> right = std::move(r.series);
    for (size_t k = 0; k < n; ++k) {
      touched.clear();
      for (size_t i = 0; i < l.series.size(); ++i)
        if (l.series[i].ok[k] && !seen[lid[i]]) seen[lid[i]] = 1, touched.push_back(lid[i]);
      for (size_t j = 0; j < right.size(); ++j)
        if (right[j].ok[k] && seen[rid[j]]) right[j].ok[k] = 0;
      for (int t : touched) seen[t] = 0;
    }
    out.series = std::move(l.series);
    for (auto& s : right)
      if (std::find(s.ok.begin(), s.ok.end(), 1) != s.ok.end()) out.series.push_back(std::move(s));
    return value{std::move(out)};
  }
  bool keep_matching = b.op == token_kind::kw_and;
  for (size_t k = 0; k < n; ++k) {
    touched.clear();
    for (size_t j = 0; j < r.series.size(); ++j)
      if (r.series[j].ok[k] && !seen[rid[j]]) seen[rid[j]] = 1, touched.push_back(rid[j]);
    for (size_t i = 0; i < l.series.size(); ++i)
      if (l.series[i].ok[k] && (seen[lid[i]] != 0) != keep_matching) l.series[i].ok[k] = 0;
    for (int t : touched) seen[t] = 0;
  }
  for (auto& s : l.series)
    if (std::find(s.ok.begin(), s.ok.end(), 1) != s.ok.end()) out.series.push_back(std::move(s));
  return value{std::move(out)};
}

result<value> evaluator::binary_vector_vector(const binary_expr& b, vec_value& lhs, vec_value& rhs) {
  size_t n = grid_.n;
  const vector_matching& m = b.matching;
  bool swapped = m.card == cardinality::one_to_many;
  vec_value& many = swapped ? rhs : lhs;
  vec_value& one = swapped ? lhs : rhs;
  std::vector<int> one_id;
  size_t nsig = 0;
  std::vector<int> many_id = signature_ids(many, one, m, one_id, nsig);
  std::vector<int> one_at(nsig, -1);         // per step: the `one` series of a signature
  std::vector<uint8_t> matched(nsig, 0);     // per step, one-to-one: signature already produced
  std::vector<uint8_t> many_seen(nsig, 0);   // per step: some `many` series has the signature
  std::vector<int> touched;
  // Output series per (many, one) pair; index nm / no stands for a filled side.
  const uint64_t nm = many.series.size(), no = one.series.size();
  std::unordered_map<uint64_t, size_t> pair_out;
  std::unordered_map<std::string, int> out_label_ids;
  std::vector<int> out_label_id;        // per output series
  std::vector<int64_t> out_label_seen;  // per label id: the last step it was produced at
  std::vector<int> out_label_seen_sig;
  vec_value out;
  bool cmp = is_comparison(b.op);

  // Produces the element of (many i, one j) at step k; i == nm or j == no
  // means that side is missing and filled with `fill`.
  auto produce = [&](size_t k, uint64_t i, uint64_t j, int sig, double fl, double fr) -> status {
    if (swapped) std::swap(fl, fr);
    double x;
    bool keep = apply(b.op, fl, fr, x);
    if (b.return_bool) x = keep ? 1 : 0;
    else if (cmp && !keep) return {};
    uint64_t key = i * (no + 1) + j;
    auto it = pair_out.find(key);
    if (it == pair_out.end()) {
      labels many_l = i < nm ? many.series[i].metric : signature_labels(one.series[j].metric, m);
      labels one_l = j < no ? one.series[j].metric : signature_labels(many.series[i].metric, m);
      labels metric = result_metric(many_l, one_l, m);
      std::string lkey;
      for (const auto& l : metric) lkey += l.name + '\xff' + l.value + '\xff';
      auto [lit, fresh] = out_label_ids.emplace(std::move(lkey), static_cast<int>(out_label_ids.size()));
      if (fresh) out_label_seen.push_back(-1), out_label_seen_sig.push_back(-1);
      out_label_id.push_back(lit->second);
      it = pair_out.emplace(key, out.series.size()).first;
      out.series.push_back(empty_like(metric, n));
      out.series.back().drop_name = !cmp || b.return_bool || (i < nm && many.series[i].drop_name);
    }
    if (m.card != cardinality::one_to_one) {
      int lid = out_label_id[it->second];
      if (out_label_seen[lid] == static_cast<int64_t>(k) && out_label_seen_sig[lid] == sig)
        return error(strata_errc::bad_request, "multiple matches for labels: grouping labels must ensure unique matches");
      out_label_seen[lid] = static_cast<int64_t>(k);
      out_label_seen_sig[lid] = sig;
    }
    out.series[it->second].v[k] = x;
    out.series[it->second].ok[k] = 1;
    return {};
  };

  for (size_t k = 0; k < n; ++k) {
    if ((k & 255) == 0)
      if (auto st = check_deadline(); !st) return st;
    touched.clear();
    for (size_t j = 0; j < one.series.size(); ++j) {
      if (!one.series[j].ok[k]) continue;
      int sig = one_id[j];
      if (one_at[sig] >= 0) {
        const labels& a = one.series[one_at[sig]].metric;
        const labels& c = one.series[j].metric;
        return error(strata_errc::bad_request,
                     "found duplicate series for the match group " + to_string(signature_labels(c, m)) + " on the " +
                         (swapped ? "left" : "right") + " hand-side of the operation: [" + to_string(a) + ", " +
                         to_string(c) + "];many-to-many matching not allowed: matching labels must be unique on one side");
      }
      one_at[sig] = static_cast<int>(j);
      touched.push_back(sig);
    }
    for (size_t i = 0; i < many.series.size(); ++i) {
      if (!many.series[i].ok[k]) continue;
      int sig = many_id[i];
      many_seen[sig] = 1;
      int j = one_at[sig];
      if (j < 0) {
        // fill_right fills the `one` side, fill_left the `many` side (the
        // sides after group_right swapped them, as Prometheus does).
        if (!m.fill_right) continue;
        double fv = m.fill_right_value;
        if (auto st = produce(k, i, no, sig, many.series[i].v[k], fv); !st) return st;
        continue;
      }
      if (m.card == cardinality::one_to_one) {
        // Checked before comparisons filter, as Prometheus 3 does.
        if (matched[sig])
          return error(strata_errc::bad_request,
                       "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
        matched[sig] = 1;
      }
      if (auto st = produce(k, i, static_cast<uint64_t>(j), sig, many.series[i].v[k], one.series[j].v[k]); !st)
        return st;
    }
    if (m.fill_left) {
      double fv = m.fill_left_value;
      for (int sig : touched) {
        if (many_seen[sig]) continue;
        int j = one_at[sig];
        if (auto st = produce(k, nm, static_cast<uint64_t>(j), sig, fv, one.series[j].v[k]); !st) return st;
      }
    }
    for (int t : touched) one_at[t] = -1;
    for (size_t i = 0; i < many.series.size(); ++i) matched[many_id[i]] = 0, many_seen[many_id[i]] = 0;
  }
  if (auto st = merge_same_labels(out); !st) return st;
  return value{std::move(out)};
}

}  // namespace strata::query::detail
