#pragma once
// The packed group (docs/format/chunk.md, "Packed group"): what compaction
// writes for the series of one metric name in one raw block. One zstd frame
// over the packed sections of many series compresses better than a frame per
// series (series scraped together share timestamps; histogram buckets of a
// quiet route hold the same counts), and one key replaces one per series. An
// uncompressed directory in front (series number, count, time range, section
// size) says which series the group holds, so a read of one series skips the
// groups that do not have it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::persistence {

inline constexpr uint8_t packed_group_format = 0x52;

struct group_member {
  uint32_t sn;
  std::vector<sample> samples;  // sorted by time, unique, not empty, all in the group's block
};

// REQUIRES: members sorted by sn, sn unique; every sample at or after `block`.
std::string encode_packed_group(int64_t block, const std::vector<group_member>& members);

struct group_entry {
  uint32_t sn;
  uint64_t count;
  int64_t min_t, max_t;
  size_t offset, size;  // of the series' section in the decompressed stream
};
struct group_directory {
  std::vector<group_entry> entries;  // by sn
  uint64_t stream_size = 0;
  size_t frame_at = 0;               // where the zstd frame starts
  uint32_t checksum = 0;             // as stored
};

// Checks format, checksum and directory; corruption names the cause.
result<group_directory> read_group_directory(std::string_view value, int64_t block);
// The entry of series sn, or nullptr.
const group_entry* find_member(const group_directory& d, uint32_t sn);
// The decompressed stream of a group whose directory was read.
result<std::string> unpack_group(std::string_view value, const group_directory& d);
// Appends e's samples with mint <= t <= maxt from the decompressed stream.
status decode_group_member(std::string_view stream, const group_entry& e, int64_t mint, int64_t maxt,
                           std::vector<sample>& out);

}  // namespace strata::persistence
