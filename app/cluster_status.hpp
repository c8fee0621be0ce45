#pragma once
// `strata cluster status --node URL`: asks a node for its view of the cluster
// (GET /api/v1/status/cluster) and prints members, their state, shards,
// partitions and hinted-handoff lag.
#include <string>

namespace strata::app {

// Returns the process exit code: 0, or 1 with a message on stderr naming the
// node and what failed.
int cluster_status(const std::string& node_url);
// `strata cluster leave --node URL`: that node leaves the cluster gracefully
// (POST /api/v1/cluster/leave).
int cluster_leave(const std::string& node_url);

}  // namespace strata::app
