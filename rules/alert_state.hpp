#pragma once
// The state machine of one alerting rule, as Prometheus runs it: each
// evaluation result (a series and its value) becomes an alert that is
// pending until it has been active for `for`, then firing; when its series
// disappears a firing alert stays firing for `keep_firing_for`, then it is
// resolved (inactive) and kept 15 minutes so that notifiers learn of it; a
// pending alert that disappears is dropped. Which alerts to send follows
// Prometheus's resend rule (firing: every resend delay; resolved: once more).
//
// A plain class: time is passed in (the evaluation timestamp), so tests drive
// it with a test clock. Owned by one thread (the rule driver).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "query/value.hpp"
#include "rules/rule_file.hpp"

namespace strata::rules {

enum class alert_state { inactive, pending, firing };
const char* to_string(alert_state s);

struct alert {
  labels lbls;         // the result's labels without __name__, the rule's labels, alertname
  labels annotations;  // expanded
  alert_state state = alert_state::inactive;
  double value = 0;
  int64_t active_at = 0;  // ms; 0: never
  int64_t fired_at = 0;
  int64_t resolved_at = 0;
  int64_t last_sent_at = 0;
  int64_t valid_until = 0;
  int64_t keep_firing_since = 0;
};

// How long a resolved alert is kept for notifiers (Prometheus's resolvedRetention).
inline constexpr int64_t resolved_retention_ms = 15 * 60 * 1000;

class alert_rule_state {
 public:
  // REQUIRES: r.is_alert(); r outlives *this.
  alert_rule_state(const rule& r, labels external_labels);

  // Applies one evaluation at `t_ms` and returns the ALERTS and
  // ALERTS_FOR_STATE samples of the active (pending or firing) alerts.
  // Fails (and drops every alert, as Prometheus does) when two results
  // collapse into one label set, or when more than `limit` (> 0) alerts are
  // active.
  result<query::vector> eval(const query::vector& results, int64_t t_ms, int64_t limit = 0);

  // The alerts to send now (marks them sent): firing ones not sent within
  // resend_delay, resolved ones not sent since they resolved. EndsAt of a
  // firing alert is valid_until = t + 4 * max(resend_delay, interval).
  std::vector<alert> to_send(int64_t t_ms, int64_t resend_delay_ms, int64_t interval_ms);

  // Every alert held, inactive (resolved) ones included, ordered by labels.
  std::vector<alert> alerts() const;

  // Puts back an alert restored from persisted state (a restart). The next
  // eval treats it like one it held all along.
  void restore(alert a);

  const rule& definition() const { return rule_; }
  // The state of the rule as a whole: firing if any alert fires, else
  // pending if any is pending, else inactive.
  alert_state overall() const;

 private:
  const rule& rule_;
  labels external_;
  std::map<labels, alert> active_;
};

}  // namespace strata::rules
