#pragma once
// The rules side of the HTTP API: /api/v1/rules and /api/v1/alerts in
// Prometheus's format, POST/PUT /-/reload, and the evaluate and write
// functions through which the rule driver reaches the cluster.
#include <functional>
#include <string>
#include <vector>

#include "http/api.hpp"
#include "http/server.hpp"
#include "rules/manager.hpp"

namespace strata::http {

// Evaluation through eval_instant_async, waited for (the rule driver's
// thread blocks; it is not an actor or HTTP thread).
rules::evaluate_fn rule_evaluator(const api_context& ctx);
// Writes through the gateway (the normal write path), waited for.
rules::write_fn rule_writer(const api_context& ctx);

// reload: what /-/reload runs (the node reloads its rule files); ok or the
// error that kept the old rules.
// REQUIRES: mgr and ctx outlive the server.
void register_rules_api(server& srv, const rules::manager& mgr, std::function<status()> reload);

// What /api/v1/rules lists (Prometheus's parameters): type (alert or
// record), rule_name[], rule_group[], file[] (empty: any), exclude_alerts.
struct rules_filter {
  std::string type;
  std::vector<std::string> rule_names, groups, files;
  bool exclude_alerts = false;
};

// The JSON bodies, for tests.
std::string rules_json(const rules::manager& mgr, const rules_filter& f);
std::string alerts_json(const rules::manager& mgr);

}  // namespace strata::http
