#pragma once
// The HTTP API of a node: Prometheus remote_write and query API, /metrics,
// /health, /ready, cluster status. Handlers validate and decode on the HTTP
// thread, then hand the work to the actors through the gateway.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "actors/gateway.hpp"
#include "actors/shard_table.hpp"
#include "common/metrics.hpp"
#include "events/bus.hpp"
#include "http/server.hpp"
#include "query/engine.hpp"
#include "wire/remote_write.hpp"

namespace strata::http {

struct api_options {
  int64_t lookback_ms = 300000;
  size_t max_query_samples = 50'000'000;
  size_t max_points_per_series = 11000;
  wire::write_limits write_limits;
  std::string push_state_dir;  // LMDB environment of the push groups (http/push.hpp); "" = in memory
  // Rollup tiers queries may read, and how long raw samples are kept (0:
  // forever); empty tiers: raw samples only.
  std::vector<query::eval_options::tier> rollup_tiers;
  int64_t raw_retention_ms = 0;
  work_pool* query_pool = nullptr;  // eval_options::pool of every query; null: none
};

struct api_context {
  actors::gateway& gateway;
  const actors::shard_table& table;
  metrics_registry& metrics;
  const std::atomic<bool>& ready;
  std::string self_address;
  api_options options;
  events::bus* events = nullptr;  // where accepted writes publish metrics.collected; null: nowhere
};

// REQUIRES: everything referenced by ctx outlives the server.
void register_api(server& srv, const api_context& ctx);

// Evaluates `e` at t_ms over the cluster (the path of /api/v1/query: the
// selections fetched from the shards, then the engine) with the node's
// lookback, sample limit and rollup tiers; `done` runs on an actor or HTTP
// thread. For callers inside the node, such as the rule driver.
void eval_instant_async(const api_context& ctx, std::shared_ptr<const query::expr> e, int64_t t_ms,
                        std::function<void(result<query::query_result>)> done);

// The one table from strata_errc to HTTP status and Prometheus errorType.
int http_status(strata_errc code);
const char* prometheus_error_type(strata_errc code);

}  // namespace strata::http
