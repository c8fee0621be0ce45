#include "persistence/packed_group.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/group_frame.hpp"
#include "persistence/packed_chunk.hpp"

namespace strata::persistence {
namespace {

// format u8 | series count uvarint | per series: sn (first) or sn delta
// uvarint, count uvarint, min_t - block uvarint, max_t - min_t uvarint,
// section size uvarint | stream size uvarint | zstd(sections) | checksum u32
// (low half of XXH3-64 of everything before it).
using group_frame::checksum_size;
using group_frame::get_varint;
constexpr int zstd_level = 19;  // written once, read many times (as packed chunks)

using codec::detail::put_uvarint;


status corrupt(const std::string& why) { return error(strata_errc::corruption, "packed group: " + why); }

}  // namespace

std::string encode_packed_group(int64_t block, const std::vector<group_member>& members) {
  std::string out, stream;
  out.push_back(static_cast<char>(packed_group_format));
  put_uvarint(out, members.size());
  uint32_t prev = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    std::string section = encode_packed_section(m.samples);
    put_uvarint(out, i == 0 ? m.sn : m.sn - prev);
    put_uvarint(out, m.samples.size());
    put_uvarint(out, static_cast<uint64_t>(m.samples.front().t) - static_cast<uint64_t>(block));
    put_uvarint(out, static_cast<uint64_t>(m.samples.back().t) - static_cast<uint64_t>(m.samples.front().t));
    put_uvarint(out, section.size());
    stream += section;
    prev = m.sn;
  }
  group_frame::finish(out, stream, zstd_level);
  return out;
}

result<group_directory> read_group_directory(std::string_view v, int64_t block) {
  if (v.size() < 1 + 1 + 6 + 1 + 1 + checksum_size)
    return corrupt(std::to_string(v.size()) + " bytes, shorter than the smallest group");
  if (static_cast<uint8_t>(v[0]) != packed_group_format)
    return corrupt("unknown format byte " + std::to_string(static_cast<uint8_t>(v[0])) + " (this build reads 0x52)");
  group_directory d;
  std::memcpy(&d.checksum, v.data() + v.size() - checksum_size, 4);
  if (static_cast<uint32_t>(XXH3_64bits(v.data(), v.size() - checksum_size)) != d.checksum)
    return corrupt("checksum mismatch");
  std::string_view head = v.substr(0, v.size() - checksum_size);
  size_t at = 1;
  uint64_t n;
  // A directory entry takes at least 5 bytes.
  if (!get_varint(head, at, n) || n == 0 || n > head.size() / 5)
    return corrupt("series count cut short, 0 or larger than the group");
  d.entries.reserve(n);
  uint64_t sn = 0, offset = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t dsn, count, from, span, size;
    if (!get_varint(head, at, dsn) || !get_varint(head, at, count) || !get_varint(head, at, from) ||
        !get_varint(head, at, span) || !get_varint(head, at, size))
      return corrupt("directory entry " + std::to_string(i) + " cut short");
    if (i > 0 && dsn == 0) return corrupt("directory entry " + std::to_string(i) + " repeats a series");
    sn += dsn;
    if (sn > UINT32_MAX) return corrupt("series number of entry " + std::to_string(i) + " above 2^32 - 1");
    if (count == 0 || size < 2 || size > count * 20 + 16)
      return corrupt("entry " + std::to_string(i) + ": " + std::to_string(count) + " samples in " +
                     std::to_string(size) + " bytes");
    int64_t min_t, max_t;
    if (from > static_cast<uint64_t>(INT64_MAX) || span > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(block, static_cast<int64_t>(from), &min_t) ||
        __builtin_add_overflow(min_t, static_cast<int64_t>(span), &max_t))
      return corrupt("time range of entry " + std::to_string(i) + " overflows");
    d.entries.push_back({static_cast<uint32_t>(sn), count, min_t, max_t, offset, size});
    offset += size;
  }
  if (auto st = group_frame::read_tail(head, at, offset, d.stream_size, d.frame_at); !st) return corrupt(st.message());
  return d;
}

const group_entry* find_member(const group_directory& d, uint32_t sn) { return group_frame::find(d.entries, sn); }

result<std::string> unpack_group(std::string_view v, const group_directory& d) {
  auto stream = group_frame::unpack(v, d.frame_at, d.stream_size);
  if (!stream) return corrupt(stream.error().message());
  return stream;
}

status decode_group_member(std::string_view stream, const group_entry& e, int64_t mint, int64_t maxt,
                           std::vector<sample>& out) {
  if (e.max_t < mint || e.min_t > maxt) return status::ok();
  if (e.offset + e.size > stream.size()) return corrupt("section past the stream");
  auto st = decode_packed_section(stream.substr(e.offset, e.size), e.count, e.min_t, e.max_t, mint, maxt, out);
  if (!st) return corrupt("series " + std::to_string(e.sn) + ": " + st.message());
  return st;
}

}  // namespace strata::persistence
