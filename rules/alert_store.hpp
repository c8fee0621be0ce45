#pragma once
// Durable alert state (docs/design/rules.md, "State that survives"): one
// small record per held alert (pending, firing, or resolved and still
// reported), keyed by group, rule and labels, written only when the alert's
// state changes. A node that restarts, or takes a group over, restores the
// records of the group, so a `for` timer is not reset and a firing alert
// keeps its start (it is not fired a second time).
//
// Over the storage seam (persistence/kv/store.hpp): LMDB in the node, in
// memory in tests. Threading: used by the rule driver's thread only.
#include <memory>
#include <string>
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

class alert_store {
 public:
  explicit alert_store(std::unique_ptr<persistence::kv::store> st);

  // Opens (creating) the LMDB environment in `dir`.
  static result<std::unique_ptr<alert_store>> open(const std::string& dir);

  status put(const std::string& group, const std::string& rule, const alert& a);
  status erase(const std::string& group, const std::string& rule, const labels& lbls);
  // Every record of `group`. A record that does not decode fails with
  // corruption naming its key.
  result<std::vector<stored_alert>> load(const std::string& group) const;

 private:
  std::unique_ptr<persistence::kv::store> store_;
};

}  // namespace strata::rules
