#pragma once
// Hinted handoff: a replica part that a remote node could not take (down,
// slow, restarting) is kept on disk here and delivered when that node is a
// live member again, so replicas converge after a failure without a repair.
//
// Files: <dir>/<node>.hints, appended and fsynced per hint; a delivery round
// renames it to <node>.hints.sending (new hints go to a fresh file), sends
// its records in order and deletes it once all were answered. A round that
// fails keeps the file and starts over on the next tick (a replica takes a
// part twice without harm: equal samples are duplicates). Records carry a
// checksum; a torn tail is dropped (docs/format/hints.md).
//
// Bounds: at most max_bytes of hints per node; beyond it a hint is dropped
// and counted. The acknowledged write is safe on its quorum either way: a
// dropped hint costs a replica, not data.
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/shard_table.hpp"
#include "common/metrics.hpp"
#include "common/status.hpp"

namespace strata::actors {

struct hints_options {
  std::string dir;  // created if missing
  uint64_t max_bytes = uint64_t{1} << 30;
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{30000};
  counter_family* handoff = nullptr;  // strata_hints_total{outcome}: stored, delivered, dropped_full, refused, torn
};

struct hint_record {
  std::string node;
  uint32_t shard = 0;
  std::string bytes;
};
std::string encode_hint(const hint_record& h);
// Every whole, intact record of a file's bytes; `torn` counts what was cut off
// or failed its checksum at the end.
std::vector<hint_record> decode_hints(std::string_view file, uint64_t* torn = nullptr);

// Bytes of hints waiting in `dir` for `node` (its lag; 0 when none).
uint64_t hints_pending_bytes(const std::string& dir, const std::string& node);

// REQUIRES: `table` outlives the actor.
caf::actor spawn_hints(caf::actor_system& sys, const shard_table& table, hints_options opts);

}  // namespace strata::actors
