#pragma once
// One rule group's evaluation: every rule in order at the group's timestamp
// (minus query_offset), recording results and ALERTS/ALERTS_FOR_STATE
// written through a write function, stale markers for series a rule
// produced last time and not now, and the alerts each rule wants sent.
// Storage and the query path are seams (functions), so tests run it over an
// in-memory source. Owned by one thread (the rule driver); snapshot() may be
// read from others through the driver's lock.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "query/value.hpp"
#include "rules/alert_state.hpp"
#include "rules/alert_store.hpp"
#include "rules/rule_file.hpp"

namespace strata::rules {

using evaluate_fn = std::function<result<query::query_result>(const query::expr&, int64_t t_ms)>;
using write_fn = std::function<status(write_batch)>;

// What the API shows of a rule after its last evaluation.
struct rule_health {
  std::string health = "unknown";  // ok, err, unknown
  std::string last_error;
  int64_t last_eval_ms = 0;        // wall time of the last evaluation
  double eval_seconds = 0;
};

struct pending_notification {
  std::string rule_expr;
  std::vector<alert> alerts;
};

// An alert that went firing (fired) or was resolved in an evaluation; the
// correlation id is the same for both ends of one firing (alert_correlation_id).
struct alert_transition {
  std::string group;
  std::string rule;  // the alert rule's name
  bool fired = true;
  alert a;
  std::string correlation_id;
};

// 32 hex digits from the group, the alert's labels and when it fired: the
// triggered and resolved events of one firing share it, on any node.
std::string alert_correlation_id(const std::string& group, const alert& a);

class group_eval {
 public:
  // REQUIRES: the rules of g are valid (load_rule_files produced them).
  group_eval(group g, labels external_labels);

  // Evaluates every rule at t_ms; wall_ms and wall time measurements go to
  // the health records. Returns the alerts to send now; alerts that fired
  // or resolved in this evaluation are appended to *transitions when given.
  // alerts_only: the recording rules are skipped (a prompt evaluation
  // between two scheduled ones, see manager).
  std::vector<pending_notification> evaluate(int64_t t_ms, const evaluate_fn& eval, const write_fn& write,
                                             int64_t resend_delay_ms,
                                             std::vector<alert_transition>* transitions = nullptr,
                                             bool alerts_only = false);

  // Records alert state changes in `st` from now on (nullptr: none).
  // REQUIRES: st outlives *this.
  void attach_store(alert_store* st) { store_ = st; }
  // Puts back the alerts the store holds for this group (a restart, or
  // taking the group over); a record whose rule no longer exists is skipped.
  status restore();

  // Forgets every alert and the series written (the group moved to another
  // node; the next owner takes over from stored data).
  void reset();

  const group& definition() const { return group_; }
  // The metric names the alerting rules select by `__name__="..."`.
  const std::set<std::string>& alert_metric_names() const { return alert_names_; }
  const std::vector<rule_health>& health() const { return health_; }
  // For alerting rules, the state; nullptr for recording rules.
  const alert_rule_state* alerts_of(size_t rule_index) const { return states_[rule_index].get(); }
  int64_t last_eval_ms() const { return last_eval_ms_; }
  double last_eval_seconds() const { return last_eval_seconds_; }

 private:
  group group_;
  labels external_;
  std::vector<std::unique_ptr<alert_rule_state>> states_;
  std::vector<std::set<labels>> written_;  // per rule: series written by the last evaluation
  std::vector<rule_health> health_;
  int64_t last_eval_ms_ = 0;
  double last_eval_seconds_ = 0;
  alert_store* store_ = nullptr;
  std::set<std::string> alert_names_;
  std::vector<std::map<labels, alert>> persisted_;  // per rule: what the store holds

  void persist(size_t rule_index, int64_t t_ms);
};

// Turns what an evaluation returned into an instant vector: a scalar is one
// sample without labels; a string or a range vector is an error.
result<query::vector> as_vector(const query::query_result& r);

// Where the group of `name` is evaluated: the member with the highest
// XXH64(member, seed = XXH64(name)) (rendezvous hashing), so a group moves
// only when its owner leaves. "" when there are no members.
std::string owner_of(const std::string& name, const std::vector<std::string>& members);

}  // namespace strata::rules
