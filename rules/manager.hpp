#pragma once
// The rule driver of a node: holds the loaded groups, evaluates the groups
// this node owns (owner_of over the live members) on their intervals on one
// thread, writes results through write_fn and hands alerts to the notifier.
// A group whose owner changes is reset here and starts over on its new owner.
//
// Threading: one driver thread owned by the manager evaluates; reload(),
// snapshot() and stop() may be called from any thread (one mutex guards the
// groups; evaluation holds it, so an API read waits for at most one group).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "rules/group_eval.hpp"
#include "rules/notifier.hpp"

namespace strata::rules {

struct manager_options {
  std::vector<std::string> rule_files;
  // When set, each reload asks it for the rule files instead (the node
  // re-reads its config file and expands its globs); an error fails the reload.
  std::function<result<std::vector<std::string>>()> list_rule_files;
  std::vector<std::string> alertmanager_urls;
  labels external_labels;
  int64_t default_interval_ms = 60000;  // a group without `interval`
  int64_t resend_delay_ms = 60000;      // Prometheus --rules.alert.resend-delay
  std::string generator_url_base;       // http://host:port of this node's API
  // Runs on the driver thread for every alert that fired or resolved (the
  // event stream's alert.triggered / alert.resolved); must not block.
  std::function<void(const alert_transition&)> on_alert;
  // Alert history and tombstones older than this are removed (--alert-history-retention).
  int64_t history_retention_ms = 180LL * 24 * 3600 * 1000;
  // Replication of the alert store (docs/design/rules.md): `publish` sends an
  // encoded batch of changes to every live peer, `send_to` one to one peer.
  // Both run on the driver thread and must not block. Empty: not replicated.
  std::function<void(std::string blob)> publish;
  std::function<void(const std::string& peer, std::string blob)> send_to;
  // With replication, a node that starts evaluates nothing until every live
  // peer has sent it its alert state (or this long has passed), so a restart
  // never fires from stale local state what a peer already fired.
  int64_t sync_timeout_ms = 10000;
  // Prompt evaluation: an acknowledged write of a metric an alerting rule
  // selects by name (written()) evaluates that group's alerting rules at
  // once, at most every interval / 4, between its scheduled evaluations.
  bool prompt_evaluation = true;
};

class manager {
 public:
  using members_fn = std::function<std::pair<std::vector<std::string>, std::string>()>;  // (live members, self)

  // post: the notifier's HTTP seam (empty: real HTTP).
  // store: where alert state is kept (nullptr: in memory only).
  manager(manager_options o, const clock& clk, evaluate_fn eval, write_fn write, members_fn members,
          std::unique_ptr<alert_store> store = nullptr, notifier::post_fn post = {});
  ~manager();
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  // Loads the rule files; on failure keeps the rules loaded before and
  // returns the error (file, line, reason). Groups that keep their file and
  // name keep their alert state when their rules are unchanged.
  status reload();
  void start();
  void stop();

  // Runs one round by hand at t_ms: every owned group due or not (tests).
  void evaluate_all(int64_t t_ms);

  struct group_view {
    const group_eval* g;
    bool owned;
  };
  // Calls fn with every group under the lock (for the API).
  void visit(const std::function<void(const std::vector<group_view>&)>& fn) const;

  // From any thread, never blocking: a batch of alert state a peer sent
  // (applied by the driver before its next evaluations), and a peer that came
  // up (the driver sends it everything this node holds).
  void receive(std::string blob);
  // Prompt evaluation (manager_options::prompt_evaluation), from any thread,
  // never blocking: the metric names of `b` that alerting rules select, and
  // (after the write was acknowledged) those names again.
  std::vector<std::string> watched_names(const write_batch& b) const;
  void written(std::vector<std::string> names);
  void peer_up(std::string address);

  // GET /api/v1/alerts/history (alert_store::history), under the lock.
  result<std::vector<history_entry>> history(int64_t start, int64_t end, size_t limit, const std::string& rule) const;

  const manager_options& options() const { return opts_; }
  const notifier& alert_notifier() const { return *notifier_; }
  uint64_t reloads_failed() const { return reloads_failed_; }

 private:
  struct entry {
    std::unique_ptr<group_eval> g;
    int64_t next_ms = 0;
    bool owned = false;
  };
  void run();
  void exchange_state(int64_t now, const std::string& self);  // REQUIRES: mu_ held
  bool synced(int64_t now, const std::vector<std::string>& members, const std::string& self);
  void eval_group(entry& e, int64_t t_ms, const std::vector<std::string>& members, const std::string& self,
                  bool alerts_only = false);
  // Runs the prompt evaluations that are due; returns when the next one is.
  int64_t prompt_evaluations(int64_t now, const std::vector<std::string>& members, const std::string& self);

  manager_options opts_;
  const clock& clock_;
  evaluate_fn eval_;
  write_fn write_;
  members_fn members_;
  std::unique_ptr<alert_store> store_;
  std::unique_ptr<notifier> notifier_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<entry> groups_;
  bool stop_ = false;
  bool changed_ = false;
  uint64_t reloads_failed_ = 0;
  // What other threads hand the driver: never under mu_ (an actor thread
  // must not wait for an evaluation that waits for actors). wake() then tells
  // the driver; a wake-up lost in a narrow race costs at most one second.
  std::mutex inbox_mu_;
  std::vector<std::string> inbox_;       // batches from peers, not yet applied
  std::vector<std::string> new_peers_;   // peers to send everything to
  std::set<std::string> written_names_;  // acknowledged, not yet evaluated
  std::set<std::string> prompted_names_;  // the same from peers (driver thread only)
  std::atomic<bool> inbox_pending_{false};
  void wake();
  int64_t next_prune_ms_ = 0;
  int64_t started_ms_ = 0;
  bool synced_ = false;
  std::set<std::string> heard_from_;  // peers whose whole state arrived
  // Metric names alerting rules select; std::atomic_load/store: read by
  // writers, looked up by string_view (no allocation per series written).
  std::shared_ptr<const std::set<std::string, std::less<>>> watched_;
  std::thread thread_;
};

}  // namespace strata::rules
