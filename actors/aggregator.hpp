#pragma once
// A node's aggregator: merges the answers of the node's own shards to a
// pushed-down aggregation before they leave the node, so a querying node
// gets one partial table per node instead of one per shard (the bytes that
// cross nodes and the merge work of the querying node shrink with the
// shards per node). It speaks the shard's read messages:
//   (partial, text, start, end, step, lookback_ms, max_samples, parts)
//       -> encode_partials bytes: the shards' tables combined per group and step;
//   (holds, selections, parts) -> partition_set bytes: the union of the shards'.
// A shard that fails or times out fails the whole answer with its error (the
// querying node then reads that node's partitions elsewhere).
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <vector>

namespace strata::actors {

caf::actor spawn_aggregator(caf::actor_system& sys, std::vector<caf::actor> shards, std::chrono::milliseconds timeout);

}  // namespace strata::actors
