#pragma once
// The head of one series: the samples written since its last seal, in memory
// (docs/design/storage.md). Owned by a shard_store; not thread-safe.
//
// Invariants: `open` holds strictly increasing timestamps, all in one raw
// block; `ooo` is sorted by time with unique timestamps, none of them in
// `open`; max_t >= every timestamp the series ever had (sealed or not);
// first_seq != 0 exactly when open or ooo holds a sample.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "persistence/codec/gorilla.hpp"
#include "persistence/keys.hpp"

namespace strata::persistence {

inline constexpr uint16_t max_open_chunk_samples = 120;
// Seals append their windows to a rollup block as pieces, until this many;
// the next seal rewrites the block's record whole (docs/design/storage.md).
inline constexpr uint8_t max_rollup_pieces = 8;

// What a new sample does to a series.
enum class verdict : uint8_t {
  append,          // newer than anything the series has: goes to the open chunk
  out_of_order,    // older than the newest sample, inside the window: goes to the ooo buffer
  duplicate,       // the head holds this timestamp with the same value bits: dropped, not an error
  too_old,         // older than the newest sample by more than the window: rejected
  conflicting,     // the head holds this timestamp with another value: rejected
};

struct head_series {
  codec::chunk_appender open;
  std::vector<sample> ooo;
  int64_t max_t = std::numeric_limits<int64_t>::min();
  uint64_t max_v_bits = 0;  // value of the sample at max_t, so its duplicates are judged even once sealed
  uint64_t first_seq = 0;
  wal_pos sealed_through;
  uint32_t sn = 0;
  bool live = true;  // false once retention removed the series
  // Pieces appended to the series' newest block of each rollup tier (m1, m5,
  // h1) since a seal last wrote its record whole; unknown after a restart,
  // so counted as max_rollup_pieces.
  uint8_t rollup_pieces[3] = {max_rollup_pieces, max_rollup_pieces, max_rollup_pieces};

  bool has_unsealed() const { return open.count() > 0 || !ooo.empty(); }
  size_t unsealed_count() const { return open.count() + ooo.size(); }

  // What appending (t, v) would do, given a window of `ooo_window_ms`.
  // Duplicates of the newest sample are always found; of older samples only
  // among unsealed ones: an older timestamp that is already sealed is taken as
  // out of order, and reads keep its first value.
  verdict check(int64_t t, double v, int64_t ooo_window_ms) const;
  // REQUIRES: check(t, v) was append or out_of_order, and for append the
  // open chunk has room (count < max and t in the open chunk's block).
  void insert(int64_t t, double v, verdict how);
  // True when the open chunk must be sealed before `t` can be appended:
  // it is full or t lies in another raw block.
  bool must_seal_before(int64_t t) const;
  // Every unsealed sample with mint <= t <= maxt appended to out (not sorted
  // across open and ooo).
  void collect(int64_t mint, int64_t maxt, std::vector<sample>& out) const;
  // Every unsealed sample, sorted, and the head emptied (first_seq = 0).
  std::vector<sample> take();
};

// Bits of a double, so that NaN payloads compare exactly.
uint64_t value_bits(double v);
// Sorts by time, keeping one sample per timestamp: the first one (stable).
void sort_unique(std::vector<sample>& s);

}  // namespace strata::persistence
