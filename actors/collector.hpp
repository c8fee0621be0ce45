#pragma once
// A collector takes a validated write_batch, routes each series to the
// shards of its partition's owners (shard_table::shard_for), sends every
// shard its part (to a shard of this node the series themselves, to a remote
// one Cap'n Proto bytes) and answers once each partition the
// write touches has a write quorum of replicas committed (a majority of
// --replication-factor). A partition that cannot reach its quorum fails the
// write: unavailable (503) when too few nodes are up, before anything is
// sent. Replica parts that failed for a passing reason go to hinted handoff.
// A write with a series whose labels are not canonical (common/series.hpp)
// is refused whole (bad_request) before routing.
//
// Flow control: towards each remote node at most `window` parts are
// unacknowledged; further parts wait in a queue of at most `max_queued` parts.
// A write that would overflow a queue is refused whole (overloaded) before any
// part is sent, so memory stays bounded and nothing is half-acknowledged.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <memory>

#include "actors/shard_table.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::actors {

// Sample time bounds (--max-sample-future, --max-sample-age): a sample more
// than `max_future_ms` ahead of `clock` or more than `max_age_ms` behind it
// is dropped before routing and the rest of the write goes on; the write is
// then answered bad_request naming the first such series, the limit and its
// value (a partial write, as the remote_write spec allows for 400). 0 = no
// bound. Dropped samples are added to `rejected_samples` by reason
// ("too_far_in_future", "too_old").
struct collector_options {
  size_t window = 64;
  size_t max_queued = 1024;
  std::chrono::milliseconds shard_timeout{30000};
  int64_t max_future_ms = 0;
  int64_t max_age_ms = 0;
  std::shared_ptr<const clock> time;  // the system clock when null
  counter_family* rejected_samples = nullptr;
  caf::actor hints;  // hinted handoff (hints.hpp) for failed remote replicas; none: not kept
};

// Drops the samples of `batch` outside [now - max_age_ms, now + max_future_ms]
// (a bound of 0 is no bound) and the series left without samples. Returns
// ok, or bad_request naming the first series dropped for each bound, the
// limit, its flag and how many samples were dropped. `counts` (when given)
// receives the dropped samples: [0] too far in the future, [1] too old.
status drop_out_of_bounds(write_batch& batch, int64_t now_ms, int64_t max_future_ms, int64_t max_age_ms,
                          uint64_t counts[2] = nullptr);

// REQUIRES: `table` outlives the actor.
caf::actor spawn_collector(caf::actor_system& sys, const shard_table& table, collector_options opts);

}  // namespace strata::actors
