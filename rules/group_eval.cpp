#include "rules/group_eval.hpp"

#include <xxhash.h>

#include <algorithm>
#include <chrono>

namespace strata::rules {

result<query::vector> as_vector(const query::query_result& r) {
  if (auto* v = std::get_if<query::vector>(&r.value)) return *v;
  if (auto* s = std::get_if<query::scalar_result>(&r.value)) {
    query::vector out;
    out.push_back({labels{}, {s->t, s->v}});
    return out;
  }
  return error(strata_errc::bad_request, "rule result is a " + std::string(r.type()) +
                                             ", not an instant vector or scalar");
}

std::string owner_of(const std::string& name, const std::vector<std::string>& members) {
  uint64_t seed = XXH64(name.data(), name.size(), 0);
  std::string best;
  uint64_t best_h = 0;
  for (const auto& m : members) {
    uint64_t h = XXH64(m.data(), m.size(), seed);
    if (best.empty() || h > best_h || (h == best_h && m < best)) {
      best = m;
      best_h = h;
    }
  }
  return best;
}

group_eval::group_eval(group g, labels external_labels)
    : group_(std::move(g)), external_(std::move(external_labels)) {
  for (const auto& r : group_.rules)
    states_.push_back(r.is_alert() ? std::make_unique<alert_rule_state>(r, external_) : nullptr);
  written_.resize(group_.rules.size());
  health_.resize(group_.rules.size());
}

void group_eval::reset() {
  for (size_t i = 0; i < group_.rules.size(); ++i) {
    if (states_[i]) states_[i] = std::make_unique<alert_rule_state>(group_.rules[i], external_);
    written_[i].clear();
    health_[i] = {};
  }
}

namespace {

result<query::vector> record(const rule& r, query::vector v, int64_t t, int64_t limit) {
  std::set<labels> seen;
  for (auto& s : v) {
    labels ls;
    for (auto& l : s.metric)
      if (l.name != metric_name_label) ls.push_back(l);
    ls.push_back({std::string(metric_name_label), r.record});
    for (const auto& [name, tmpl] : r.labels) {
      auto val = tmpl.expand({});
      std::string value = val ? *val : std::string();
      bool set = false;
      for (auto& l : ls)
        if (l.name == name) {
          l.value = value;
          set = true;
        }
      if (!set) ls.push_back({name, value});
    }
    ls.erase(std::remove_if(ls.begin(), ls.end(), [](const label& l) { return l.value.empty(); }), ls.end());
    sort_labels(ls);
    if (!seen.insert(ls).second)
      return error(strata_errc::bad_request, "vector contains metrics with the same labelset after applying rule labels");
    s.metric = std::move(ls);
    s.s.t = t;
  }
  if (limit > 0 && static_cast<int64_t>(v.size()) > limit)
    return error(strata_errc::bad_request, "exceeded limit of " + std::to_string(limit) + " with " +
                                               std::to_string(v.size()) + " series");
  return v;
}

}  // namespace

std::vector<pending_notification> group_eval::evaluate(int64_t t_ms, const evaluate_fn& eval, const write_fn& write,
                                                       int64_t resend_delay_ms) {
  std::vector<pending_notification> out;
  auto group_start = std::chrono::steady_clock::now();
  int64_t te = t_ms - group_.query_offset_ms;
  for (size_t i = 0; i < group_.rules.size(); ++i) {
    const rule& r = group_.rules[i];
    auto start = std::chrono::steady_clock::now();
    auto& h = health_[i];
    h.last_eval_ms = t_ms;
    status failure;
    auto fail = [&](const status& st) {
      if (failure.is_ok()) failure = st;
    };
    result<query::vector> samples = error(strata_errc::internal, "not evaluated");
    auto res = eval(*r.expr, te);
    if (!res) {
      fail(res.error());
    } else if (auto v = as_vector(*res); !v) {
      fail(v.error());
    } else if (r.is_alert()) {
      samples = states_[i]->eval(*v, te, group_.limit);
      if (!samples) fail(samples.error());
    } else {
      samples = record(r, std::move(*v), te, group_.limit);
      if (!samples) fail(samples.error());
    }
    write_batch batch;
    std::set<labels> now_written;
    if (samples) {
      for (auto& s : *samples) {
        now_written.insert(s.metric);
        batch.push_back({s.metric, {s.s}});
      }
    }
    // Series written last time and not now end with a stale marker, so
    // queries stop seeing them at once (Prometheus's rule staleness).
    for (const auto& ls : written_[i])
      if (!now_written.count(ls)) batch.push_back({ls, {{te, query::stale_nan()}}});
    if (!batch.empty()) {
      if (auto st = write(std::move(batch)); !st) {
        fail(st);
      } else {
        written_[i] = std::move(now_written);
      }
    } else {
      written_[i] = std::move(now_written);
    }
    h.health = failure.is_ok() ? "ok" : "err";
    h.last_error = failure.message();
    h.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.is_alert()) {
      auto send = states_[i]->to_send(te, resend_delay_ms, group_.interval_ms);
      if (!send.empty()) out.push_back({r.expr_text, std::move(send)});
    }
  }
  last_eval_ms_ = t_ms;
  last_eval_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - group_start).count();
  return out;
}

}  // namespace strata::rules
