#pragma once
// Which node answers which partitions of a read, so that every sample is
// read from exactly one replica.
//
// A sample lives on the owners of its partition in the epoch in which it was
// *written* (the collector routes by the current placement), and a write may
// carry samples up to --max-sample-future ahead of the clock or
// --max-sample-age behind it. So the epochs that can hold samples of
// [mint, maxt] are those whose write period [start, end) satisfies
// start - max_age <= maxt and end + max_future >= mint (0: unlimited).
// For each partition the plan takes, per such epoch, one live owner (a
// member that stayed through the epoch's end first, then one already chosen
// for the partition, then rendezvous order) and asks it for the whole range.
// A partition whose epochs all share one chosen node is read from that node
// alone; otherwise from a few nodes whose answers are joined by timestamp.
//
// Plain logic, no actors: the gateway calls it per read.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/shard_table.hpp"

namespace strata::actors {

// How far a write's samples may lie from the write's time (collector_options).
struct write_window {
  int64_t max_future_ms = 0;  // 0: unlimited
  int64_t max_age_ms = 0;     // 0: unlimited
};

// A set of partitions as a bitmap (4096 bits). Its wire form is the bitmap
// (512 bytes), or when shorter a 0x01 byte and the partitions as varint
// gaps, ascending (a few partitions: a few bytes).
class partition_set {
 public:
  void add(uint32_t p) { bits_[p / 64] |= uint64_t{1} << (p % 64); }
  bool has(uint32_t p) const { return (bits_[p / 64] >> (p % 64)) & 1; }
  bool empty() const;
  uint32_t size() const;
  std::vector<uint32_t> list() const;
  std::string encode() const;
  // An empty string is every partition (a read with no plan).
  static partition_set decode(std::string_view bytes);
  static partition_set all();

 private:
  std::array<uint64_t, 64> bits_{};
};

struct read_plan {
  // The partitions each live node answers (only nodes with something to answer).
  std::map<std::string, partition_set> by_node;
  // Per partition, how many nodes answer it (0: none live in some epoch).
  std::vector<uint8_t> spread;
  // Partitions that some relevant epoch placed only on nodes that are not
  // live now: their samples of that epoch are missing from the read.
  partition_set unowned;
  uint32_t unowned_count = 0;
  std::set<std::string> missing_nodes;  // owners of unowned partitions that are not live
};

// Plans a read of [mint, maxt] over `only` (the partitions still to read)
// on the live members of `v` minus `exclude` (nodes that already failed
// this read).
read_plan plan_read(const shard_view& v, int64_t mint, int64_t maxt, const write_window& w,
                    const std::set<std::string>& exclude, const partition_set& only);

}  // namespace strata::actors
