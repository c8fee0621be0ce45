// series_index: the series record, the value of the `series` table
// (docs/format/keys.md, "Series record").
#include <xxhash.h>

#include <cstdio>

#include "persistence/index/series_index.hpp"

namespace strata::persistence::index {
namespace {

constexpr uint8_t series_record_version = 1;
constexpr size_t header_size = 9;  // version, checksum

void put_uvarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::string hex(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

status corrupt(const std::string& cause) { return error(strata_errc::corruption, "series record: " + cause); }

// Reads the body after the header; `pos` is an offset into the whole record.
class reader {
 public:
  reader(std::string_view in, size_t pos) : in_(in), pos_(pos) {}

  // A uvarint of at most 32 bits.
  result<uint32_t> u32(const char* what) {
    size_t start = pos_;
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= in_.size())
        return corrupt(std::string(what) + " at offset " + std::to_string(start) +
                       " is cut off by the end of the record");
      auto b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) break;
      if (shift >= 28)
        return corrupt(std::string(what) + " at offset " + std::to_string(start) + " is longer than 5 bytes");
    }
    if (v > UINT32_MAX) return corrupt(std::string(what) + " at offset " + std::to_string(start) + " exceeds 2^32 - 1");
    return static_cast<uint32_t>(v);
  }

  result<std::string> bytes(const char* what) {
    size_t start = pos_;
    auto n = u32(what);
    if (!n) return n.error();
    if (*n > in_.size() - pos_)
      return corrupt(std::string(what) + " of " + std::to_string(*n) + " bytes at offset " + std::to_string(start) +
                     " runs past the end of the " + std::to_string(in_.size()) + "-byte record");
    std::string s(in_.substr(pos_, *n));
    pos_ += *n;
    return s;
  }

  size_t pos() const { return pos_; }
  size_t left() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  size_t pos_;
};

}  // namespace

std::string series_index::encode_series(const labels& ls) {
  std::string out(header_size, '\0');
  out[0] = static_cast<char>(series_record_version);
  put_uvarint(out, ls.size());
  for (const auto& l : ls) {
    put_uvarint(out, l.name.size());
    out += l.name;
    put_uvarint(out, l.value.size());
    out += l.value;
  }
  uint64_t sum = XXH3_64bits(out.data() + header_size, out.size() - header_size);
  for (size_t i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((sum >> (8 * i)) & 0xFF);
  return out;
}

result<labels> series_index::decode_series(std::string_view in) {
  if (in.size() < header_size)
    return corrupt("record of " + std::to_string(in.size()) + " bytes is shorter than its 9-byte header");
  auto version = static_cast<uint8_t>(in[0]);
  if (version != series_record_version) return corrupt("unknown record version " + std::to_string(version));
  uint64_t stored = 0;
  for (size_t i = 0; i < 8; ++i) stored |= static_cast<uint64_t>(static_cast<uint8_t>(in[1 + i])) << (8 * i);
  uint64_t computed = XXH3_64bits(in.data() + header_size, in.size() - header_size);
  if (stored != computed) return corrupt("checksum mismatch: stored " + hex(stored) + ", computed " + hex(computed));

  reader r(in, header_size);
  auto count = r.u32("label count");
  if (!count) return count.error();
  // Each label takes at least two bytes (two lengths): a count beyond that is
  // caught before anything is reserved for it.
  if (*count > r.left() / 2)
    return corrupt("label count " + std::to_string(*count) + " does not fit in the " + std::to_string(r.left()) +
                   " bytes that follow it");
  labels ls;
  ls.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    auto name = r.bytes("label name length");
    if (!name) return name.error();
    auto value = r.bytes("label value length");
    if (!value) return value.error();
    if (name->empty()) return corrupt("label " + std::to_string(i) + " has an empty name");
    if (i > 0 && !(ls.back().name < *name))
      return corrupt("label " + std::to_string(i) + " (\"" + *name +
                     "\"): labels are not sorted by name or a name repeats");
    ls.push_back({std::move(*name), std::move(*value)});
  }
  if (r.left() != 0)
    return corrupt(std::to_string(r.left()) + " bytes follow the last label at offset " + std::to_string(r.pos()));
  return ls;
}

}  // namespace strata::persistence::index
