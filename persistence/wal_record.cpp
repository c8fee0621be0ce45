#include "persistence/wal_record.hpp"

#include <xxhash.h>

#include <cstdio>
#include <cstring>

#include "persistence/codec/detail/bits.hpp"

namespace strata::persistence {
namespace {

// Fixed-width little-endian fields, read and written with memcpy: LMDB values
// have no alignment guarantee.
template <class T>
void put_le(char* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

template <class T>
T get_le(const char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string hex(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string encode_wal_record(std::string_view payload, uint8_t version) {
  std::string rec(wal_record_header_size + payload.size(), '\0');
  std::memcpy(rec.data() + wal_record_header_size, payload.data(), payload.size());
  finish_wal_record(rec, version);
  return rec;
}

void finish_wal_record(std::string& record, uint8_t version) {
  const char* payload = record.data() + wal_record_header_size;
  size_t size = record.size() - wal_record_header_size;
  record[0] = static_cast<char>(version);
  put_le<uint32_t>(record.data() + 1, static_cast<uint32_t>(size));
  put_le<uint64_t>(record.data() + 5, XXH3_64bits(payload, size));
}

result<wal_payload> decode_wal_record(std::string_view record) {
  if (record.size() < wal_record_header_size)
    return error(strata_errc::corruption,
                 "record of " + std::to_string(record.size()) + " bytes is shorter than its 13-byte header");
  auto version = static_cast<uint8_t>(record[0]);
  if (version != wal_record_version && version != wal_record_version_batch)
    return error(strata_errc::corruption, "unknown record version " + std::to_string(version));
  auto len = get_le<uint32_t>(record.data() + 1);
  if (len != record.size() - wal_record_header_size)
    return error(strata_errc::corruption, "payload length " + std::to_string(len) + " but " +
                                              std::to_string(record.size() - wal_record_header_size) +
                                              " bytes follow the header");
  auto payload = record.substr(wal_record_header_size);
  auto stored = get_le<uint64_t>(record.data() + 5);
  auto computed = XXH3_64bits(payload.data(), payload.size());
  if (stored != computed)
    return error(strata_errc::corruption, "checksum mismatch: stored " + hex(stored) + ", computed " + hex(computed));
  return wal_payload{version, payload};
}

void append_wal_series(std::string& payload, uint32_t sn, const std::vector<sample>& samples, int64_t& prev_t) {
  using namespace codec::detail;
  put_uvarint(payload, sn);
  put_uvarint(payload, samples.size());
  for (const auto& x : samples) {
    put_varint(payload, static_cast<int64_t>(static_cast<uint64_t>(x.t) - static_cast<uint64_t>(prev_t)));
    put_le<uint64_t>(payload, double_bits(x.v));
    prev_t = x.t;
  }
}

result<wal_samples> decode_wal_samples(std::string_view payload) {
  using namespace codec::detail;
  wal_samples out;
  byte_reader in(payload);
  int64_t prev_t = 0;
  auto corrupt = [&](const std::string& what) {
    return error(strata_errc::corruption, what + " at byte " + std::to_string(in.position()) + " of the payload");
  };
  while (in.remaining() > 0) {
    uint64_t sn = 0, count = 0;
    if (!in.get_uvarint(sn) || sn > UINT32_MAX) return corrupt("series number cut short or past 2^32 - 1");
    const std::string of = " of series " + std::to_string(sn);
    if (!in.get_uvarint(count) || count == 0) return corrupt("sample count" + of + " cut short or 0");
    // Each sample takes at least 9 bytes: a count past what is left is damage, not a reason to allocate.
    if (count > in.remaining() / 9) return corrupt(std::to_string(count) + " samples" + of + " do not fit the payload");
    out.series.push_back({static_cast<uint32_t>(sn), static_cast<uint32_t>(count)});
    for (uint64_t i = 0; i < count; ++i) {
      int64_t dt = 0;
      uint64_t bits = 0;
      if (!in.get_varint(dt) || !in.get_fixed(bits)) return corrupt("sample" + of + " cut short");
      prev_t = static_cast<int64_t>(static_cast<uint64_t>(prev_t) + static_cast<uint64_t>(dt));
      out.samples.push_back({prev_t, bits_double(bits)});
    }
  }
  return out;
}

std::string encode_wal_key(uint64_t seq) {
  std::string k(wal_key_size, '\0');
  for (size_t i = 0; i < wal_key_size; ++i) k[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xFF);
  return k;
}

uint64_t decode_wal_key(std::string_view key) {
  uint64_t v = 0;
  for (size_t i = 0; i < wal_key_size; ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return v;
}

}  // namespace strata::persistence
