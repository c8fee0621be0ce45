#pragma once
// The rollup group (docs/format/rollup.md, "Rollup group"): what compaction
// writes for the rollup records of one metric name in one block of a rollup
// tier. One zstd frame over the records of many series compresses better
// than a frame per record (the series of one host share their bucket times
// and counts; histogram buckets of a quiet route hold the same values), one
// key replaces one per series, and its segments fill leaf pages where a
// record of 2-4 KB took a mostly empty overflow page. An uncompressed
// directory in front (series number, section size) says which series the
// group holds.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "persistence/codec/rollup.hpp"

namespace strata::persistence {

inline constexpr uint8_t rollup_group_format = 0x53;

using bucket_run = std::vector<std::pair<int64_t, codec::rollup_bucket>>;

struct rollup_member {
  uint32_t sn;
  bucket_run buckets;  // not empty
};

// REQUIRES: members sorted by sn, sn unique, window_ms > 0.
std::string encode_rollup_group(int64_t window_ms, const std::vector<rollup_member>& members);

struct rollup_group_entry {
  uint32_t sn;
  size_t offset, size;  // of the series' section in the decompressed stream
};
struct rollup_group_directory {
  int64_t window_ms = 0;
  std::vector<rollup_group_entry> entries;  // by sn
  uint64_t stream_size = 0;
  size_t frame_at = 0;  // where the zstd frame starts
};

// Checks format, checksum and directory; corruption names the cause.
result<rollup_group_directory> read_rollup_group_directory(std::string_view value);
// The entry of series sn, or nullptr.
const rollup_group_entry* find_rollup_member(const rollup_group_directory& d, uint32_t sn);
// The decompressed stream of a group whose directory was read.
result<std::string> unpack_rollup_group(std::string_view value, const rollup_group_directory& d);
// The buckets of one entry from the decompressed stream.
result<bucket_run> decode_rollup_member(std::string_view stream, const rollup_group_directory& d,
                                        const rollup_group_entry& e);

}  // namespace strata::persistence
