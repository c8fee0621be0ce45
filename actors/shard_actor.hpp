#pragma once
// A shard actor owns one persistence::shard_store (one LMDB environment) and
// turns messages (actors/messages.hpp) into calls on it. It runs detached (its
// own thread), because a WAL commit waits for the disk.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "common/status.hpp"
#include "persistence/shard_store.hpp"

namespace strata::actors {

// Opens the store (replaying its WAL) before spawning, so a bad data dir is a
// clear error at start, not a dead actor later. With `sync_interval` > 0 the
// store must be opened with sync = false: commits are acknowledged before
// they reach the disk and the actor fsyncs every `sync_interval`
// (--wal-sync=interval: a crash of the machine, not of the process, can lose
// that much). 0 fsyncs every group commit before acknowledging it.
//
// `gauges`, when given, is kept equal to the store's series and sample counts
// (updated after replay and after every group commit) for /metrics.
struct shard_gauges {
  std::atomic<uint64_t> series{0};
  std::atomic<uint64_t> samples{0};
};
result<caf::actor> spawn_shard(caf::actor_system& sys, const persistence::store_options& opts,
                               std::chrono::milliseconds sync_interval = std::chrono::milliseconds(0),
                               std::shared_ptr<shard_gauges> gauges = nullptr);

}  // namespace strata::actors
