#pragma once
// Durable alert state (docs/design/rules.md, "State that survives"): one
// small record per held alert (pending, firing, or resolved and still
// reported), keyed by group, rule and labels, written only when the alert's
// state changes, and an alert history (one entry per transition: pending,
// firing, resolved) kept for a retention. A node that restarts, or takes a
// group over, restores the records of the group, so a `for` timer is not
// reset and a firing alert keeps its start (it is not fired a second time).
//
// Replication: every record and history entry is a (key, value) pair whose
// merge is order-free, so nodes exchange them freely. An alert record carries
// `updated_at` (the evaluation time that wrote it); apply() keeps the newer
// of two records (equal times: the larger value). A dropped alert leaves a
// tombstone (a record with `deleted`) so that an older copy elsewhere cannot
// bring it back; tombstones and history older than the retention are pruned.
// History entries are immutable: apply() adds the absent ones.
//
// Over the storage seam (persistence/kv/store.hpp): LMDB in the node, in
// memory in tests. Threading: not thread-safe; the rule manager serialises it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "persistence/kv/store.hpp"
#include "rules/alert_state.hpp"

namespace strata::rules {

struct stored_alert {
  std::string group;
  std::string rule;  // the alert name of the rule
  alert a;
};

// One transition of an alert (GET /api/v1/alerts/history).
struct history_entry {
  int64_t at = 0;  // ms: activeAt (pending), firedAt (firing), resolvedAt (resolved)
  std::string group;
  std::string rule;
  alert_state state = alert_state::pending;  // inactive means resolved
  labels lbls;
  labels annotations;
  double value = 0;
};

using kv_pair = std::pair<std::string, std::string>;

class alert_store {
 public:
  explicit alert_store(std::unique_ptr<persistence::kv::store> st);

  // Opens (creating) the LMDB environment in `dir`.
  static result<std::unique_ptr<alert_store>> open(const std::string& dir);

  // `at`: the evaluation time that saw the change (the record's updated_at).
  status put(const std::string& group, const std::string& rule, const alert& a, int64_t at);
  // Leaves a tombstone dated `at`.
  status erase(const std::string& group, const std::string& rule, const labels& lbls, int64_t at);
  status add_history(const history_entry& h);

  // Every live record of `group`. A record that does not decode fails with
  // corruption naming its key.
  result<std::vector<stored_alert>> load(const std::string& group) const;

  // History entries with start <= at <= end, oldest first, at most `limit`
  // (the oldest kept); only those of alert `rule` when not empty.
  result<std::vector<history_entry>> history(int64_t start, int64_t end, size_t limit,
                                             const std::string& rule = "") const;

  // The pairs written by put/erase/add_history since the last call (what a
  // node sends its peers).
  std::vector<kv_pair> take_changes() { return std::exchange(changes_, {}); }
  // Every record, tombstone and history entry (for a peer that joins).
  result<std::vector<kv_pair>> dump() const;
  // Merges a pair from a peer (see above); a key or value this store would not
  // write is refused (bad_request) and nothing changes. Answers whether it
  // changed what is stored.
  result<bool> apply(const kv_pair& p);

  // Removes history entries and tombstones older than `before` (ms).
  status prune(int64_t before);

 private:
  std::unique_ptr<persistence::kv::store> store_;
  std::vector<kv_pair> changes_;

  status write(std::string key, std::string value);
};

// Pairs <-> one message (a JSON array of [key, value]).
std::string encode_pairs(const std::vector<kv_pair>& pairs);
result<std::vector<kv_pair>> decode_pairs(const std::string& blob);

}  // namespace strata::rules
