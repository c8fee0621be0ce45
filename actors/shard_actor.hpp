#pragma once
// A shard actor owns one persistence::shard_store (one LMDB environment) and
// turns messages (actors/messages.hpp) into calls on it. It runs detached (its
// own thread), because a WAL commit waits for the disk.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "common/status.hpp"
#include "persistence/shard_store.hpp"

namespace strata::actors {

// Opens the store (replaying its WAL) before spawning, so a bad data dir is a
// clear error at start, not a dead actor later.
result<caf::actor> spawn_shard(caf::actor_system& sys, const persistence::store_options& opts);

}  // namespace strata::actors
