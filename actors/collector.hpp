#pragma once
// A collector takes a validated write_batch, routes each series by the hash of
// its canonical labels to one shard of the shard_table, sends every shard its
// part as Cap'n Proto bytes and answers once every part is committed.
//
// Flow control: towards each remote node at most `window` parts are
// unacknowledged; further parts wait in a queue of at most `max_queued` parts.
// A write that would overflow a queue is refused whole (overloaded) before any
// part is sent, so memory stays bounded and nothing is half-acknowledged.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>

#include "actors/shard_table.hpp"

namespace strata::actors {

struct collector_options {
  size_t window = 64;
  size_t max_queued = 1024;
  std::chrono::milliseconds shard_timeout{30000};
};

// REQUIRES: `table` outlives the actor.
caf::actor spawn_collector(caf::actor_system& sys, const shard_table& table, collector_options opts);

}  // namespace strata::actors
