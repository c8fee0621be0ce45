#pragma once
// A shard actor owns one persistence::shard_store (one LMDB environment) and
// turns messages (actors/messages.hpp) into calls on it. It runs detached (its
// own thread), because a WAL commit waits for the disk.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "common/metrics.hpp"
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
//
// Every `maintain_interval` (0: never) the actor calls store.maintain() with
// the wall clock: pending chunks are written, the WAL is kept below its limit
// and retention runs. `admin` messages run flush() and compact().
struct shard_gauges {
  std::atomic<uint64_t> series{0};
  std::atomic<uint64_t> samples{0};  // in the head, not yet sealed
  std::atomic<uint64_t> wal_bytes{0};
  std::atomic<uint64_t> chunks_written{0};
  std::atomic<uint64_t> rejected_too_old{0};
  std::atomic<uint64_t> rejected_conflicting{0};
  std::atomic<uint64_t> blocks_deleted{0};
  std::atomic<uint64_t> series_created{0};
  // When set: every fsync of the WAL (the group commit with --wal-sync=always,
  // the periodic sync otherwise) is observed in seconds, and refused samples
  // are added by reason ("out_of_order", "duplicate_timestamp", "series_limit").
  histogram_family* fsync_seconds = nullptr;
  counter_family* rejected_samples = nullptr;
};

// The active-series limit of a node (--max-active-series), shared by its
// shards. `active` is the sum of the shards' series counts; each shard adds
// its own changes after every commit. A write that would create series past
// `max` has those series refused (strata_errc::limit_exceeded naming the
// first, the limit and its value); its samples for existing series are
// written. Shards check concurrently, so the node may pass `max` by the new
// series of one group commit per shard. 0 = no limit.
struct series_limit {
  size_t max = 0;
  std::atomic<int64_t> active{0};
};
result<caf::actor> spawn_shard(caf::actor_system& sys, const persistence::store_options& opts,
                               std::chrono::milliseconds sync_interval = std::chrono::milliseconds(0),
                               std::shared_ptr<shard_gauges> gauges = nullptr,
                               std::chrono::milliseconds maintain_interval = std::chrono::seconds(1),
                               std::shared_ptr<series_limit> limit = nullptr);

}  // namespace strata::actors
