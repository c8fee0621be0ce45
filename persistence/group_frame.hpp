#pragma once
// What packed groups (docs/format/chunk.md) and rollup groups
// (docs/format/rollup.md) share: a directory of per-series sections sorted by
// series number, then the stream size, a zstd frame of the sections and a
// checksum of 4 bytes.
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/detail/zstd_context.hpp"

namespace strata::persistence::group_frame {

constexpr size_t checksum_size = 4;

inline bool get_varint(std::string_view s, size_t& at, uint64_t& v) {
  codec::detail::byte_reader r(s.substr(std::min(at, s.size())));
  if (!r.get_uvarint(v)) return false;
  at += r.position();
  return true;
}

// The entry of series sn in `entries` (sorted by sn), or nullptr.
template <class Entry>
const Entry* find(const std::vector<Entry>& entries, uint32_t sn) {
  auto it = std::lower_bound(entries.begin(), entries.end(), sn, [](const Entry& e, uint32_t x) { return e.sn < x; });
  return it != entries.end() && it->sn == sn ? &*it : nullptr;
}

// Ends group `out` (its directory written) with the stream size, the
// sections as one zstd frame and the checksum.
inline void finish(std::string& out, const std::string& stream, int zstd_level) {
  codec::detail::put_uvarint(out, stream.size());
  size_t at = out.size();
  out.resize(at + ZSTD_compressBound(stream.size()));
  // Bound-sized: cannot fail.
  out.resize(at + ZSTD_compress(out.data() + at, out.size() - at, stream.data(), stream.size(), zstd_level));
  auto sum = static_cast<uint32_t>(XXH3_64bits(out.data(), out.size()));
  char b[checksum_size];
  std::memcpy(b, &sum, checksum_size);
  out.append(b, checksum_size);
}

// After a directory whose sections add up to `sections` bytes, at `at` of
// `head` (the group without its checksum): the stream size, which must be
// that, and where the frame starts. The error says what is wrong.
inline status read_tail(std::string_view head, size_t at, uint64_t sections, uint64_t& stream_size,
                        size_t& frame_at) {
  if (!get_varint(head, at, stream_size)) return error(strata_errc::corruption, "stream size cut short");
  if (stream_size != sections)
    return error(strata_errc::corruption, "stream of " + std::to_string(stream_size) + " bytes, sections of " +
                                              std::to_string(sections));
  if (at >= head.size()) return error(strata_errc::corruption, "no frame");
  frame_at = at;
  return status::ok();
}

// The sections of group `v`: its frame (from frame_at to the checksum)
// decompressed to exactly stream_size bytes.
inline result<std::string> unpack(std::string_view v, size_t frame_at, uint64_t stream_size) {
  std::string stream(stream_size, '\0');
  auto frame = v.substr(frame_at, v.size() - checksum_size - frame_at);
  if (ZSTD_getFrameContentSize(frame.data(), frame.size()) != stream_size)
    return error(strata_errc::corruption, "frame does not declare the stream size");
  size_t got = codec::detail::zstd_decompress(stream.data(), stream.size(), frame.data(), frame.size());
  if (ZSTD_isError(got) || got != stream_size) return error(strata_errc::corruption, "stream does not decompress");
  return stream;
}

}  // namespace strata::persistence::group_frame
