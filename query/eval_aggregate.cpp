// Aggregations: sum, avg, count, min, max, group, stddev, stdvar, quantile,
// topk, bottomk, limitk, limit_ratio, count_values. Groups are computed once
// per series (labels do not change across steps); values per step.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <xxhash.h>

#include "query/detail/evaluator.hpp"
#include "query/functions.hpp"

namespace strata::query::detail {
namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

labels group_labels(const labels& ls, const aggregate_expr& a) {
  labels out;
  for (const auto& l : ls) {
    bool in = contains(a.grouping, l.name);
    if (a.without ? (!in && l.name != metric_name_label) : in) out.push_back(l);
  }
  return out;
}

std::string key_of(const labels& ls) {
  std::string k;
  for (const auto& l : ls) k += l.name + '\xff' + l.value + '\xff';
  return k;
}

// Prometheus's labels.Hash (xxhash64 over name, 0xff, value, 0xff, ...).
uint64_t labels_hash(const labels& ls) {
  std::string b;
  for (const auto& l : ls) {
    b += l.name;
    b += '\xff';
    b += l.value;
    b += '\xff';
  }
  return XXH64(b.data(), b.size(), 0);
}

bool valid_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return format_number(v);
}

vseries empty_like(labels metric, size_t n) {
  vseries s;
  s.metric = std::move(metric);
  s.v.assign(n, 0);
  s.ok.assign(n, 0);
  return s;
}

// sum, avg, count, group, min, max, stddev and stdvar, fed one input series
// at a time: per group and step the state of the aggregation. Every
// (group, step) receives its values in input order, so the results are the
// same bit for bit as adding up step by step.
bool accumulates(token_kind op) {
  switch (op) {
    case token_kind::kw_sum:
    case token_kind::kw_avg:
    case token_kind::kw_count:
    case token_kind::kw_group:
    case token_kind::kw_min:
    case token_kind::kw_max:
    case token_kind::kw_stddev:
    case token_kind::kw_stdvar: return true;
    default: return false;
  }
}

class group_accumulator final : public series_sink {
 public:
  // REQUIRES: accumulates(a.op).
  group_accumulator(const aggregate_expr& a, size_t n) : a_(a), n_(n) {}

  void add(const labels& metric, bool drop_name, const std::vector<double>& v,
           const std::vector<uint8_t>& ok) override {
    accumulate(group_of(metric, drop_name), v, ok, 0, n_);
  }

  // The groups of the batch's series first (in order, so groups appear as
  // with add), then each thread adds every series for its range of steps.
  void add_batch(const std::vector<series>& in, bool drop_name, const std::vector<vseries>& out,
                 const std::vector<uint8_t>& any, work_pool& pool) override {
    std::vector<size_t> gs(in.size(), none);
    for (size_t i = 0; i < in.size(); ++i)
      if (any[i]) gs[i] = group_of(in[i].lbls, drop_name);
    accumulate_steps(gs, out, &pool);
  }

  // A whole instant vector, as add would take its series one by one.
  void add_vector(const std::vector<vseries>& in, work_pool* pool) {
    std::vector<size_t> gs(in.size());
    for (size_t i = 0; i < in.size(); ++i) gs[i] = group_of(in[i].metric, in[i].drop_name);
    accumulate_steps(gs, in, pool);
  }

  // One series per group, in the order the groups first appeared.
  vec_value finish() {
    vec_value out;
    out.series.reserve(groups_.size());
    for (auto& g : groups_) {
      for (size_t k = 0; k < n_; ++k) {
        if (g.cnt[k] == 0) continue;
        double r = 0;
        switch (a_.op) {
          case token_kind::kw_sum: r = g.sums[k].value(); break;
          case token_kind::kw_avg: r = g.means[k].value(); break;
          case token_kind::kw_count: r = g.cnt[k]; break;
          case token_kind::kw_group: r = 1; break;
          case token_kind::kw_min:
          case token_kind::kw_max: r = g.acc[k]; break;
          case token_kind::kw_stdvar: r = g.vars[k].variance(); break;
          case token_kind::kw_stddev: r = std::sqrt(g.vars[k].variance()); break;
          default: break;
        }
        g.out.v[k] = r;
        g.out.ok[k] = 1;
      }
      out.series.push_back(std::move(g.out));
    }
    return out;
  }

 private:
  // A group's output series and its state per step.
  struct group {
    vseries out;
    std::vector<double> cnt, acc;
    std::vector<fn::kahan> sums;
    std::vector<fn::mean_accumulator> means;
    std::vector<fn::variance_accumulator> vars;
  };

  size_t group_of(const labels& metric, bool drop_name) {
    labels gl = group_labels(metric, a_);
    auto [it, fresh] = ids_.emplace(key_of(gl), groups_.size());
    if (fresh) groups_.push_back(make_group(std::move(gl)));
    if (drop_name) groups_[it->second].out.drop_name = true;
    return it->second;
  }

  static constexpr size_t none = SIZE_MAX;

  // Adds each series of `values` with a group (gs[i] != none), in order, to
  // its group: on one thread, or with the steps split over the pool's
  // threads (each (group, step) still takes its values in series order).
  void accumulate_steps(const std::vector<size_t>& gs, const std::vector<vseries>& values, work_pool* pool) {
    auto run = [&](size_t k0, size_t k1) {
      for (size_t i = 0; i < gs.size(); ++i)
        if (gs[i] != none) accumulate(gs[i], values[i].v, values[i].ok, k0, k1);
    };
    if (!pool || pool->width() == 1 || n_ < 2) return run(0, n_);
    pool->parallel_ranges(n_, pool->width(), run);
  }

  // Adds a series' values at steps [k0, k1) to group `gi`.
  void accumulate(size_t gi, const std::vector<double>& v, const std::vector<uint8_t>& ok, size_t k0, size_t k1) {
    group& g = groups_[gi];
    for (size_t k = k0; k < k1; ++k) {
      if (!ok[k]) continue;
      double x = v[k];
      switch (a_.op) {
        case token_kind::kw_sum: g.sums[k].add(x); break;
        case token_kind::kw_avg: g.means[k].add(x); break;
        case token_kind::kw_stddev:
        case token_kind::kw_stdvar: g.vars[k].add(x); break;
        case token_kind::kw_max:
          if (g.cnt[k] == 0 || g.acc[k] < x || std::isnan(g.acc[k])) g.acc[k] = x;
          break;
        case token_kind::kw_min:
          if (g.cnt[k] == 0 || g.acc[k] > x || std::isnan(g.acc[k])) g.acc[k] = x;
          break;
        default: break;
      }
      g.cnt[k] += 1;
    }
  }

  group make_group(labels gl) const {
    group g;
    g.out = empty_like(std::move(gl), n_);
    g.cnt.assign(n_, 0);
    switch (a_.op) {
      case token_kind::kw_sum: g.sums.resize(n_); break;
      case token_kind::kw_avg: g.means.resize(n_); break;
      case token_kind::kw_stddev:
      case token_kind::kw_stdvar: g.vars.resize(n_); break;
      case token_kind::kw_min:
      case token_kind::kw_max: g.acc.assign(n_, 0); break;
      default: break;
    }
    return g;
  }

  const aggregate_expr& a_;
  size_t n_;
  std::unordered_map<std::string, size_t> ids_;
  std::vector<group> groups_;
};

}  // namespace

result<value> evaluator::eval_aggregate(const aggregate_expr& a) {
  size_t n = grid_.n;
  scalar_value param;
  std::string label_param;
  if (a.param) {
    auto p = eval(*a.param);
    if (!p) return p;
    if (auto* s = std::get_if<scalar_value>(&*p)) param = std::move(*s);
    else label_param = std::get<string_value>(*p).s;
  }
  token_kind op = a.op;
  if (accumulates(op)) {
    group_accumulator acc(a, n);
    // Over a range function, each series is added as it is computed: no
    // vector of all of them (bench/query.md).
    auto in = eval_into(*a.operand, acc);
    if (!in) return in.error();
    auto* vec = std::get_if<vec_value>(&*in);
    if (!vec) return error(strata_errc::internal, "expected an instant vector: " + to_string(*a.operand));
    if (auto st = check_deadline(vec->series.size()); !st) return st;
    acc.add_vector(vec->series, opts_.pool);
    return value{acc.finish()};
  }
  auto in = eval_vector(*a.operand);
  if (!in) return in.error();
  auto& src = in->series;

  // Group ids per input series.
  std::unordered_map<std::string, int> ids;
  std::vector<labels> group_lbls;
  std::vector<int> gid(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    labels g = group_labels(src[i].metric, a);
    auto [it, fresh] = ids.emplace(key_of(g), static_cast<int>(group_lbls.size()));
    if (fresh) group_lbls.push_back(std::move(g));
    gid[i] = it->second;
  }
  size_t ng = group_lbls.size();
  vec_value out;

  if (op == token_kind::kw_topk || op == token_kind::kw_bottomk || op == token_kind::kw_limitk ||
      op == token_kind::kw_limit_ratio) {
    // Selections keep the input series; each is present where it was picked.
    std::vector<vseries> picked;
    picked.reserve(src.size());
    for (auto& s : src) {
      picked.push_back(empty_like(s.metric, n));
      picked.back().drop_name = s.drop_name;
    }
    std::vector<size_t> order;  // instant queries: output order of step 0
    std::vector<std::vector<size_t>> members(ng);
    for (size_t i = 0; i < src.size(); ++i) members[gid[i]].push_back(i);
    std::vector<uint64_t> hashes;
    if (op == token_kind::kw_limit_ratio) {
      hashes.resize(src.size());
      for (size_t i = 0; i < src.size(); ++i) hashes[i] = labels_hash(src[i].metric);
    }
    bool top = op == token_kind::kw_topk;
    // Prometheus's heap order: NaN loses for topk and for bottomk.
    auto better = [&](double x, double y) {
      if (std::isnan(y)) return !std::isnan(x);
      if (std::isnan(x)) return false;
      return top ? x > y : x < y;
    };
    std::vector<size_t> cand;
    for (size_t k = 0; k < n; ++k) {
      double p = param.v.empty() ? 0 : param.v[k];
      if (op == token_kind::kw_limit_ratio) {
        if (std::isnan(p)) return error(strata_errc::bad_request, "Ratio value is NaN");
        if (p < -1 || p > 1) {
          notes_->warn("PromQL warning: ratio value should be between -1 and 1, got " + format_value(p) +
                       ", capping to " + (p < 0 ? "-1" : "1"));
          p = p < 0 ? -1 : 1;
        }
        for (size_t i = 0; i < src.size(); ++i) {
          if (!src[i].ok[k]) continue;
          double off = static_cast<double>(hashes[i]) / static_cast<double>(std::numeric_limits<uint64_t>::max());
          bool keep = p >= 0 ? off < p : off >= 1 + p;
          if (!keep) continue;
          picked[i].ok[k] = 1;
          picked[i].v[k] = src[i].v[k];
          if (n == 1) order.push_back(i);
        }
        continue;
      }
      if (std::isnan(p) || p >= 9.223372036854775807e18 || p < -9.223372036854775808e18)
        return error(strata_errc::bad_request, "Scalar value " + format_value(p) + " overflows int64");
      int64_t kk = static_cast<int64_t>(p);
      if (kk < 1) continue;
      for (size_t g = 0; g < ng; ++g) {
        cand.clear();
        for (size_t i : members[g])
          if (src[i].ok[k]) cand.push_back(i);
        size_t take = std::min(cand.size(), static_cast<size_t>(std::min<int64_t>(kk, 1 << 30)));
        if (op != token_kind::kw_limitk) {
          std::stable_sort(cand.begin(), cand.end(),
                           [&](size_t x, size_t y) { return better(src[x].v[k], src[y].v[k]); });
        }
        for (size_t c = 0; c < take; ++c) {
          size_t i = cand[c];
          picked[i].ok[k] = 1;
          picked[i].v[k] = src[i].v[k];
          if (n == 1) order.push_back(i);
        }
      }
    }
    if (n == 1) {
      for (size_t i : order) out.series.push_back(std::move(picked[i]));
    } else {
      for (auto& s : picked)
        if (std::find(s.ok.begin(), s.ok.end(), 1) != s.ok.end()) out.series.push_back(std::move(s));
    }
    return value{std::move(out)};
  }

  if (op == token_kind::kw_count_values) {
    if (!valid_label_name(label_param)) return error(strata_errc::bad_request, "invalid label name " + quote(label_param));
    std::unordered_map<std::string, size_t> out_ids;  // group key + value -> output series
    for (size_t k = 0; k < n; ++k) {
      for (size_t i = 0; i < src.size(); ++i) {
        if (!src[i].ok[k]) continue;
        std::string val = format_value(src[i].v[k]);
        std::string key = std::to_string(gid[i]) + '\xff' + val;
        auto it = out_ids.find(key);
        if (it == out_ids.end()) {
          labels l = group_lbls[gid[i]];
          auto pos = std::find_if(l.begin(), l.end(), [&](const label& x) { return x.name == label_param; });
          if (pos != l.end()) pos->value = val;
          else l.push_back({label_param, val});
          sort_labels(l);
          it = out_ids.emplace(std::move(key), out.series.size()).first;
          out.series.push_back(empty_like(std::move(l), n));
        }
        auto& o = out.series[it->second];
        if (!o.ok[k]) o.ok[k] = 1, o.v[k] = 0;
        o.v[k] += 1;
      }
    }
    if (auto st = merge_same_labels(out); !st) return st;
    return value{std::move(out)};
  }

  // quantile: the values of each group per step.
  out.series.reserve(ng);
  for (auto& g : group_lbls) out.series.push_back(empty_like(std::move(g), n));
  for (size_t i = 0; i < src.size(); ++i)
    if (src[i].drop_name) out.series[gid[i]].drop_name = true;
  std::vector<std::vector<double>> values(ng);
  for (size_t k = 0; k < n; ++k) {
    if ((k & 255) == 0)
      if (auto st = check_deadline(); !st) return st;
    for (auto& v : values) v.clear();
    for (size_t i = 0; i < src.size(); ++i)
      if (src[i].ok[k]) values[gid[i]].push_back(src[i].v[k]);
    double q = param.v[k];
    bool warned = false;
    for (size_t g = 0; g < ng; ++g) {
      if (values[g].empty()) continue;
      if (!warned && (std::isnan(q) || q < 0 || q > 1))
        notes_->warn("PromQL warning: quantile value should be between 0 and 1, got " + format_value(q));
      warned = true;
      out.series[g].v[k] = fn::quantile(q, values[g]);
      out.series[g].ok[k] = 1;
    }
  }
  return value{std::move(out)};
}

}  // namespace strata::query::detail
