#include "rules/group_eval.hpp"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "query/engine.hpp"

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
  persisted_.resize(group_.rules.size());
  for (const auto& r : group_.rules) {
    if (!r.is_alert()) continue;
    for (const auto& sel : query::selections(*r.expr, 0, 0, 0, query::eval_options{}))
      for (const auto& m : sel.label_matchers)
        if (m.name() == "__name__" && m.type() == matcher::op::eq) alert_names_.insert(m.value());
  }
}

namespace {

bool state_changed(const alert& a, const alert& b) {
  return a.state != b.state || a.active_at != b.active_at || a.fired_at != b.fired_at ||
         a.resolved_at != b.resolved_at || a.keep_firing_since != b.keep_firing_since;
}

// Whether alert labels `ls` could come from rule r: its literal labels match.
bool could_come_from(const rule& r, const labels& ls) {
  for (const auto& [name, t] : r.labels)
    if (t.source().find("{{") == std::string::npos && label_value(ls, name) != t.source()) return false;
  return true;
}

}  // namespace

void group_eval::persist(size_t i, int64_t t_ms) {
  if (!store_ || !states_[i]) return;
  std::map<labels, alert> now;
  for (auto& a : states_[i]->alerts()) now.emplace(a.lbls, a);
  auto& prev = persisted_[i];
  const std::string& rule_name = group_.rules[i].alert;
  auto warn = [&](const char* what, const status& st) {
    if (!st) spdlog::warn("rules: group {}: {}: {}", group_.name, what, st.message());
  };
  for (const auto& [ls, a] : now) {
    auto it = prev.find(ls);
    if (it != prev.end() && !state_changed(it->second, a)) continue;
    warn("alert state not saved", store_->put(group_.name, rule_name, a, t_ms));
    if (it == prev.end() || it->second.state != a.state) {
      int64_t at = a.state == alert_state::pending  ? a.active_at
                   : a.state == alert_state::firing ? a.fired_at
                                                    : a.resolved_at;
      warn("alert history not saved",
           store_->add_history({at, group_.name, rule_name, a.state, a.lbls, a.annotations, a.value}));
    }
  }
  for (const auto& [ls, a] : prev)
    if (!now.count(ls)) warn("alert state not removed", store_->erase(group_.name, rule_name, ls, t_ms));
  prev = std::move(now);
}

status group_eval::restore() {
  if (!store_) return {};
  auto stored = store_->load(group_.name);
  if (!stored) return stored.error();
  for (auto& s : *stored) {
    for (size_t i = 0; i < group_.rules.size(); ++i) {
      const rule& r = group_.rules[i];
      if (!r.is_alert() || r.alert != s.rule || !could_come_from(r, s.a.lbls)) continue;
      persisted_[i].emplace(s.a.lbls, s.a);
      states_[i]->restore(std::move(s.a));
      break;
    }
  }
  return {};
}

void group_eval::reset() {
  for (size_t i = 0; i < group_.rules.size(); ++i) {
    if (states_[i]) states_[i] = std::make_unique<alert_rule_state>(group_.rules[i], external_);
    written_[i].clear();
    health_[i] = {};
    persisted_[i].clear();
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

std::string alert_correlation_id(const std::string& group, const alert& a) {
  std::string key = group;
  key += '\xff';
  key += to_string(a.lbls);
  key += '\xff';
  key += std::to_string(a.fired_at);
  XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  char out[33];
  std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return out;
}

std::vector<pending_notification> group_eval::evaluate(int64_t t_ms, const evaluate_fn& eval, const write_fn& write,
                                                       int64_t resend_delay_ms,
                                                       std::vector<alert_transition>* transitions, bool alerts_only) {
  std::vector<pending_notification> out;
  auto group_start = std::chrono::steady_clock::now();
  int64_t te = t_ms - group_.query_offset_ms;
  for (size_t i = 0; i < group_.rules.size(); ++i) {
    const rule& r = group_.rules[i];
    if (alerts_only && !r.is_alert()) continue;
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
      if (!now_written.count(ls)) batch.push_back({ls, {{te, stale_nan()}}});
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
      if (transitions)
        for (auto& a : states_[i]->alerts()) {
          bool fired = a.state == alert_state::firing && a.fired_at == te;
          bool resolved = a.state == alert_state::inactive && a.resolved_at == te && a.fired_at != 0;
          if (!fired && !resolved) continue;
          std::string cid = alert_correlation_id(group_.name, a);
          transitions->push_back({group_.name, r.name(), fired, std::move(a), std::move(cid)});
        }
      persist(i, te);
      auto send = states_[i]->to_send(te, resend_delay_ms, group_.interval_ms);
      if (!send.empty()) out.push_back({r.expr_text, std::move(send)});
    }
  }
  last_eval_ms_ = t_ms;
  last_eval_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - group_start).count();
  return out;
}

}  // namespace strata::rules
