#pragma once
// Tiers, blocks, and the key of every entry a shard keeps in its kv::store
// (docs/format/keys.md). Keys compare as unsigned bytes; integers are
// big-endian, and signed times have their sign bit flipped so that negative
// times sort before positive ones.
//
//   table    key                                              value
//   meta     "layout"                                         docs/format/keys.md
//   wal      seq u64                                          WAL record (wal.md)
//   series   'L' sn u32                                       labels (index::series_index::encode_series)
//   series   'S' sn u32                                       seal state (encode_seal_state)
//   chunks   tier u8 | block start i64 | sn u32 | min_t i64   sealed Gorilla chunk (chunk.md)
//   chunks   0x04 | block start i64 | name hash u64 | last sn u32 | segment u16
//                                                             a piece of a packed group (chunk.md)
//   rollups  tier u8 | block start i64 | sn u32               bucket run (rollup.md): the whole record
//   rollups  tier u8 | block start i64 | sn u32 | first_t i64 bucket run: a piece a seal appended
//   rollups  0x04 | tier u8 | block start i64 | name hash u64 | last sn u32 | segment u16
//                                                             a piece of a rollup group (rollup.md)
//
// `sn` is the series number: dense per shard, assigned at creation, never
// reused, stable across restarts (unlike index refs, which are per process).
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace strata::persistence {

enum class tier : uint8_t { raw = 0, m1 = 1, m5 = 2, h1 = 3 };
inline constexpr tier all_tiers[] = {tier::raw, tier::m1, tier::m5, tier::h1};
inline constexpr tier rollup_tiers[] = {tier::m1, tier::m5, tier::h1};

inline constexpr int64_t minute_ms = 60'000;
inline constexpr int64_t hour_ms = 60 * minute_ms;
inline constexpr int64_t day_ms = 24 * hour_ms;

// The span of one block of the tier: a raw chunk or a rollup record never
// crosses a block. Raw and 1m: 2 h; 5m: 1 day; 1h: 7 days.
int64_t block_span(tier t);
// The bucket width of a rollup tier (1 min, 5 min, 1 h); 0 for raw.
int64_t window_span(tier t);
const char* tier_name(tier t);  // "raw", "1m", "5m", "1h"
// Floor of t to a multiple of span (also for negative t).
int64_t align_down(int64_t t, int64_t span);
inline int64_t block_start(tier tr, int64_t t) { return align_down(t, block_span(tr)); }

struct retention_options {
  int64_t raw_ms = day_ms;
  int64_t m1_ms = 7 * day_ms;
  int64_t m5_ms = 30 * day_ms;
  int64_t h1_ms = 365 * day_ms;
  int64_t of(tier t) const;
  int64_t longest() const;
};

// The coarsest tier whose bucket width is at most `resolution_ms` and whose
// retention (counted back from `now`) still covers `mint`; raw when no rollup
// tier fits. A query with a 5-minute step over last month gets the 5m tier;
// one with a 15 s step over the last hour gets raw.
tier choose_tier(int64_t mint, int64_t now, int64_t resolution_ms, const retention_options& r);

// A position in the WAL: a record and the index of a sample in that record's
// batch (all samples counted in batch order). Sealed-through positions say
// which WAL samples a series already has in sealed chunks.
struct wal_pos {
  uint64_t seq = 0;
  uint32_t sample = 0;
  friend bool operator<(const wal_pos& a, const wal_pos& b) {
    return a.seq != b.seq ? a.seq < b.seq : a.sample < b.sample;
  }
};

std::string series_labels_key(uint32_t sn);
std::string series_seal_key(uint32_t sn);
// The series number of a 'L' or 'S' key; corruption when the key is neither.
result<std::pair<char, uint32_t>> decode_series_key(std::string_view key);

// Seal state value: version u8 = 1, sealed-through seq u64, sample u32,
// newest time i64, bits of the newest value u64.
struct seal_state {
  wal_pos through;
  int64_t max_t = 0;
  uint64_t max_v_bits = 0;
};
std::string encode_seal_state(const seal_state& s);
result<seal_state> decode_seal_state(std::string_view v);

std::string chunk_key(tier t, int64_t block, uint32_t sn, int64_t min_t);
// The first key of (t, block, sn): every chunk of that series in that block
// lies in [chunk_prefix(t, block, sn), chunk_prefix(t, block, sn + 1)).
std::string chunk_prefix(tier t, int64_t block, uint32_t sn);
std::string rollup_key(tier t, int64_t block, uint32_t sn);
// A piece of a series' rollups of a block: the windows of one seal's samples,
// keyed by the first of them, so that pieces sort after the whole record and
// in the order they were written (docs/format/keys.md, "rollups").
std::string rollup_piece_key(tier t, int64_t block, uint32_t sn, int64_t first_t);
// Every piece key of a series' block lies between its whole record's key
// (rollup_key) and this.
std::string rollup_pieces_end(const std::string& whole_key);
// The first key of all blocks of tier t starting at or after `block`.
std::string tier_block_prefix(tier t, int64_t block);

// Packed groups of a compacted raw block: the series of one metric name
// (its XXH3-64 hash; names that collide share the groups), in parts that
// each hold a run of series numbers, keyed by the last series number they
// hold, so that the first part at or after (block, hash, sn) is the only one
// that can hold sn. Their own key space in the chunks table, after every
// tier's chunk keys, so that raw retention deletes the range
// [group_block_prefix(lo), group_block_prefix(hi)) too. A part is stored in
// segments of at most group_segment_bytes, so that every segment stays in a
// leaf page (a larger value takes whole overflow pages, and the last one is
// mostly empty); its value is its segments in key order.
inline constexpr uint8_t group_space = 4;
inline constexpr size_t group_segment_bytes = 2000;
uint64_t group_hash(std::string_view metric_name);
std::string group_key(int64_t block, uint64_t hash, uint32_t last_sn, uint16_t segment);
std::string group_prefix(int64_t block, uint64_t hash);  // every part: [prefix, prefix + 6 x "\xff")
std::string group_block_prefix(int64_t block);
struct decoded_group_key {
  int64_t block;
  uint64_t hash;
  uint32_t last_sn;
  uint16_t segment;
};
result<decoded_group_key> decode_group_key(std::string_view key);

// Rollup groups of a compacted rollup block: the records of one tier, block
// and metric name, in parts keyed and segmented as packed groups are, in the
// rollups table after every tier's record keys; retention of tier t deletes
// [rollup_group_block_prefix(t, lo), rollup_group_block_prefix(t, hi)).
std::string rollup_group_key(tier t, int64_t block, uint64_t hash, uint32_t last_sn, uint16_t segment);
std::string rollup_group_prefix(tier t, int64_t block, uint64_t hash);  // every part: [prefix, prefix + 6 x "\xff")
std::string rollup_group_block_prefix(tier t, int64_t block);
struct decoded_rollup_group_key {
  tier t;
  int64_t block;
  uint64_t hash;
  uint32_t last_sn;
  uint16_t segment;
};
result<decoded_rollup_group_key> decode_rollup_group_key(std::string_view key);

struct decoded_key {
  tier t;
  int64_t block;
  uint32_t sn;
  int64_t min_t;  // chunks; the first time of a rollup piece
  bool piece = false;  // a rollup piece, not a whole record
};
// Decodes a chunks (with_min_t) or rollups key (a whole record's or a
// piece's); corruption names the cause.
result<decoded_key> decode_data_key(std::string_view key, bool with_min_t);

}  // namespace strata::persistence
