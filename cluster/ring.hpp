#pragma once
// The partition ring: where a series is written and who holds what since when.
//
// A series belongs to one of `partitions` partitions (the top 12 bits of its
// series hash). A partition is placed on `rf` members by rendezvous hashing:
// the members with the highest XXH3(address + "\n" + partition) own it, so
// every node that sees the same members places it the same way and a member
// coming or going moves only the partitions it gains or loses.
//
// Every change of the live members or of the replication factor opens a new
// epoch; the history of epochs says which members owned a partition at any
// time. Data never moves: a joining member takes new writes at once, and a
// read of a past time range asks the owners of that range's epochs. The
// history is persisted (docs/format/epochs.md) and exchanged between members,
// which merge what they hear into their own.
//
// Plain logic, no actors: the membership actor drives it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace strata::cluster {

inline constexpr uint32_t partitions = 4096;

inline uint32_t partition_of(uint64_t series_hash) { return static_cast<uint32_t>(series_hash >> 52); }

// The `rf` owners of partition `p` among `members` (fewer when there are
// fewer members), highest rendezvous score first.
std::vector<std::string> owners(const std::vector<std::string>& members, uint32_t p, uint32_t rf);

// How many replicas of a write must commit before it is acknowledged: a
// majority of the replication factor (1 of 1, 2 of 2, 2 of 3, 3 of 5).
inline uint32_t write_quorum(uint32_t rf) { return rf / 2 + 1; }

// --replication-factor: 1 to 5.
status check_replication_factor(int64_t rf);

struct epoch {
  int64_t start_ms = 0;              // the epoch runs from here to the next epoch's start
  uint32_t rf = 1;
  std::vector<std::string> members;  // live members, sorted
  bool operator==(const epoch& o) const { return start_ms == o.start_ms && rf == o.rf && members == o.members; }
};

class epoch_history {
 public:
  // Every epoch, oldest first; empty before the first advance(). Two epochs
  // in a row never have the same members and rf (the later one is dropped:
  // ownership did not change).
  const std::vector<epoch>& epochs() const { return epochs_; }
  // This node's own current epoch (the last one it advanced to, or after a
  // load the newest one). REQUIRES: !epochs().empty().
  const epoch& current() const { return current_; }

  // Opens an epoch at now_ms when `members` (any order) or `rf` differ from
  // the current one; returns whether it did.
  bool advance(std::vector<std::string> members, uint32_t rf, int64_t now_ms);

  // Adds the epochs of `other` (another member's history); returns whether
  // anything changed. The current epoch stays this node's own.
  bool merge(const epoch_history& other);

  // The epochs whose time range meets [mint, maxt], oldest first.
  std::vector<const epoch*> overlapping(int64_t mint, int64_t maxt) const;

  // Partitions that have no owner among `live` in some epoch meeting
  // [mint, maxt]: their data of that time may be missing from a read.
  uint32_t unowned_partitions(const std::vector<std::string>& live, int64_t mint, int64_t maxt) const;

  // Versioned, checksummed bytes (docs/format/epochs.md) and back; a torn or
  // corrupt encoding is an error naming what is wrong.
  std::string encode() const;
  static result<epoch_history> decode(std::string_view bytes);

  // The file <path>: written to <path>.tmp, fsynced and renamed over it, so
  // it is never torn. load() of a missing file is an empty history.
  status save(const std::string& path) const;
  static result<epoch_history> load(const std::string& path);

  // The most epochs kept; the oldest go first.
  static constexpr size_t max_epochs = 100000;

 private:
  void insert(epoch e);
  std::vector<epoch> epochs_;  // by start_ms
  epoch current_;
};

}  // namespace strata::cluster
