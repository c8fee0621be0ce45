#include "persistence/rollup_group.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/group_frame.hpp"

namespace strata::persistence {
namespace {

// format u8 | window uvarint | series count uvarint | per series: sn (first)
// or sn delta uvarint, section size uvarint | stream size uvarint |
// zstd(sections) | checksum u32 (low half of XXH3-64 of everything before it).
using group_frame::checksum_size;
using group_frame::get_varint;
// Level 15: within 0.3 % of level 19 on the bench data, at a third of its
// CPU (docs/bench/storage.md).
constexpr int zstd_level = 15;

using codec::detail::put_uvarint;


status corrupt(const std::string& why) { return error(strata_errc::corruption, "rollup group: " + why); }

}  // namespace

std::string encode_rollup_group(int64_t window_ms, const std::vector<rollup_member>& members) {
  std::string out, stream;
  out.push_back(static_cast<char>(rollup_group_format));
  put_uvarint(out, static_cast<uint64_t>(window_ms));
  put_uvarint(out, members.size());
  uint32_t prev = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    std::string section = codec::encode_bucket_section(window_ms, m.buckets);
    put_uvarint(out, i == 0 ? m.sn : m.sn - prev);
    put_uvarint(out, section.size());
    stream += section;
    prev = m.sn;
  }
  group_frame::finish(out, stream, zstd_level);
  return out;
}

result<rollup_group_directory> read_rollup_group_directory(std::string_view v) {
  if (v.size() < 1 + 1 + 1 + 2 + 1 + 1 + checksum_size)
    return corrupt(std::to_string(v.size()) + " bytes, shorter than the smallest group");
  if (static_cast<uint8_t>(v[0]) != rollup_group_format)
    return corrupt("unknown format byte " + std::to_string(static_cast<uint8_t>(v[0])) + " (this build reads 0x53)");
  uint32_t stored;
  std::memcpy(&stored, v.data() + v.size() - checksum_size, 4);
  if (static_cast<uint32_t>(XXH3_64bits(v.data(), v.size() - checksum_size)) != stored)
    return corrupt("checksum mismatch");
  std::string_view head = v.substr(0, v.size() - checksum_size);
  rollup_group_directory d;
  size_t at = 1;
  uint64_t window, n;
  if (!get_varint(head, at, window) || window == 0 || window > static_cast<uint64_t>(INT64_MAX))
    return corrupt("window cut short, 0 or above 2^63 - 1");
  d.window_ms = static_cast<int64_t>(window);
  // A directory entry takes at least 2 bytes.
  if (!get_varint(head, at, n) || n == 0 || n > head.size() / 2)
    return corrupt("series count cut short, 0 or larger than the group");
  d.entries.reserve(n);
  uint64_t sn = 0, offset = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t dsn, size;
    if (!get_varint(head, at, dsn) || !get_varint(head, at, size))
      return corrupt("directory entry " + std::to_string(i) + " cut short");
    if (i > 0 && dsn == 0) return corrupt("directory entry " + std::to_string(i) + " repeats a series");
    sn += dsn;
    if (sn > UINT32_MAX) return corrupt("series number of entry " + std::to_string(i) + " above 2^32 - 1");
    // A section holds at least a version, a window, a count and one bucket.
    if (size < 8 || size > (uint64_t{256} << 20))
      return corrupt("entry " + std::to_string(i) + ": a section of " + std::to_string(size) + " bytes");
    d.entries.push_back({static_cast<uint32_t>(sn), offset, size});
    offset += size;
  }
  if (auto st = group_frame::read_tail(head, at, offset, d.stream_size, d.frame_at); !st) return corrupt(st.message());
  return d;
}

const rollup_group_entry* find_rollup_member(const rollup_group_directory& d, uint32_t sn) { return group_frame::find(d.entries, sn); }

result<std::string> unpack_rollup_group(std::string_view v, const rollup_group_directory& d) {
  auto stream = group_frame::unpack(v, d.frame_at, d.stream_size);
  if (!stream) return corrupt(stream.error().message());
  return stream;
}

result<bucket_run> decode_rollup_member(std::string_view stream, const rollup_group_directory& d,
                                        const rollup_group_entry& e) {
  if (e.offset + e.size > stream.size()) return corrupt("section past the stream");
  int64_t window = 0;
  auto run = codec::decode_bucket_section(stream.substr(e.offset, e.size), &window);
  if (!run) return corrupt("series " + std::to_string(e.sn) + ": " + run.error().message());
  if (window != d.window_ms)
    return corrupt("series " + std::to_string(e.sn) + ": a section of window " + std::to_string(window) +
                   " in a group of " + std::to_string(d.window_ms));
  if (run->empty()) return corrupt("series " + std::to_string(e.sn) + ": no buckets");
  return run;
}

}  // namespace strata::persistence
