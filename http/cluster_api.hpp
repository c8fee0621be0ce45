#pragma once
// The cluster's state over HTTP: GET /api/v1/status/cluster (members and
// their states, partitions, hinted-handoff lag, shards) and
// POST /api/v1/cluster/leave (graceful leave). docs/api.md.
#include <functional>
#include <memory>
#include <string>

#include "cluster/health.hpp"
#include "http/api.hpp"
#include "http/server.hpp"

namespace strata::http {

struct cluster_api_options {
  std::shared_ptr<const cluster::member_health> health;  // null: every live member is up
  int64_t suspect_after_ms = 1500;
  std::string hints_dir;            // where hinted handoff keeps its files ("" : no lag shown)
  std::function<void()> leave;      // tells the membership actor to leave
};

// REQUIRES: ctx outlives the server.
void register_cluster_api(server& srv, const api_context& ctx, cluster_api_options o);

}  // namespace strata::http
