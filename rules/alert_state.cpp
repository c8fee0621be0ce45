#include "rules/alert_state.hpp"

#include <algorithm>
#include <cmath>

namespace strata::rules {

const char* to_string(alert_state s) {
  switch (s) {
    case alert_state::inactive: return "inactive";
    case alert_state::pending: return "pending";
    case alert_state::firing: return "firing";
  }
  return "inactive";
}

alert_rule_state::alert_rule_state(const rule& r, labels external_labels)
    : rule_(r), external_(std::move(external_labels)) {}

namespace {

void set_label(labels& ls, const std::string& name, std::string value) {
  for (auto& l : ls)
    if (l.name == name) {
      l.value = std::move(value);
      return;
    }
  ls.push_back({name, std::move(value)});
}

void drop_empty(labels& ls) {
  ls.erase(std::remove_if(ls.begin(), ls.end(), [](const label& l) { return l.value.empty(); }), ls.end());
}

query::instant_sample with_name(const labels& ls, const char* name, double v, int64_t t, const char* state = nullptr) {
  query::instant_sample s;
  s.metric = ls;
  s.metric.push_back({std::string(metric_name_label), name});
  if (state) s.metric.push_back({"alertstate", state});
  sort_labels(s.metric);
  s.s = {t, v};
  return s;
}

}  // namespace

result<query::vector> alert_rule_state::eval(const query::vector& results, int64_t t_ms, int64_t limit) {
  std::map<labels, alert> current;
  for (const auto& r : results) {
    template_data d{&r.metric, &external_, r.s.v};
    labels ls;
    for (const auto& l : r.metric)
      if (l.name != metric_name_label) ls.push_back(l);
    for (const auto& [name, t] : rule_.labels) {
      auto v = t.expand(d);
      // Prometheus logs an expansion error and uses the error text as the value.
      set_label(ls, name, v ? *v : "<error expanding template: " + v.error().message() + ">");
    }
    set_label(ls, "alertname", rule_.alert);
    drop_empty(ls);
    sort_labels(ls);
    labels ann;
    for (const auto& [name, t] : rule_.annotations) {
      auto v = t.expand(d);
      ann.push_back({name, v ? *v : "<error expanding template: " + v.error().message() + ">"});
    }
    sort_labels(ann);
    if (current.count(ls)) {
      active_.clear();
      return error(strata_errc::bad_request,
                   "vector contains metrics with the same labelset after applying alert labels");
    }
    alert a;
    a.lbls = ls;
    a.annotations = std::move(ann);
    a.state = alert_state::pending;
    a.value = r.s.v;
    a.active_at = t_ms;
    current.emplace(std::move(ls), std::move(a));
  }
  for (auto& [ls, a] : current) {
    auto it = active_.find(ls);
    if (it != active_.end() && it->second.state != alert_state::inactive) {
      it->second.value = a.value;
      it->second.annotations = std::move(a.annotations);
      continue;
    }
    active_[ls] = std::move(a);
  }
  query::vector out;
  int64_t active_count = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    alert& a = it->second;
    if (!current.count(it->first)) {
      bool keep_firing = false;
      if (a.state == alert_state::firing && rule_.keep_firing_for_ms > 0) {
        if (a.keep_firing_since == 0) a.keep_firing_since = t_ms;
        if (t_ms - a.keep_firing_since < rule_.keep_firing_for_ms) keep_firing = true;
      }
      if (a.state == alert_state::pending || (a.resolved_at != 0 && t_ms - a.resolved_at > resolved_retention_ms)) {
        it = active_.erase(it);
        continue;
      }
      if (a.state != alert_state::inactive && !keep_firing) {
        a.state = alert_state::inactive;
        a.resolved_at = t_ms;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since = 0;
    }
    ++active_count;
    if (a.state == alert_state::pending && t_ms - a.active_at >= rule_.for_ms) {
      a.state = alert_state::firing;
      a.fired_at = t_ms;
    }
    out.push_back(with_name(a.lbls, "ALERTS", 1, t_ms, to_string(a.state)));
    out.push_back(with_name(a.lbls, "ALERTS_FOR_STATE", static_cast<double>(a.active_at / 1000), t_ms));
    ++it;
  }
  if (limit > 0 && active_count > limit) {
    active_.clear();
    return error(strata_errc::bad_request, "exceeded limit of " + std::to_string(limit) + " with " +
                                               std::to_string(active_count) + " alerts");
  }
  return out;
}

std::vector<alert> alert_rule_state::to_send(int64_t t_ms, int64_t resend_delay_ms, int64_t interval_ms) {
  std::vector<alert> out;
  int64_t delta = std::max(resend_delay_ms, interval_ms);
  for (auto& [ls, a] : active_) {
    if (a.state == alert_state::pending) continue;
    bool needs = a.last_sent_at == 0 || a.resolved_at > a.last_sent_at || a.last_sent_at + resend_delay_ms < t_ms;
    if (!needs) continue;
    a.last_sent_at = t_ms;
    a.valid_until = t_ms + 4 * delta;
    out.push_back(a);
  }
  return out;
}

std::vector<alert> alert_rule_state::alerts() const {
  std::vector<alert> out;
  for (const auto& [ls, a] : active_) out.push_back(a);
  return out;
}

void alert_rule_state::restore(alert a) {
  labels key = a.lbls;
  active_[key] = std::move(a);
}

alert_state alert_rule_state::overall() const {
  alert_state s = alert_state::inactive;
  for (const auto& [ls, a] : active_) {
    if (a.state == alert_state::firing) return alert_state::firing;
    if (a.state == alert_state::pending) s = alert_state::pending;
  }
  return s;
}

}  // namespace strata::rules
