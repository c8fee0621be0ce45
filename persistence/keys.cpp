#include "persistence/keys.hpp"

#include <cstring>

#include <xxhash.h>
#include <limits>

namespace strata::persistence {
namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put_time(std::string& s, int64_t t) { put_u64(s, static_cast<uint64_t>(t) ^ (1ull << 63)); }
uint64_t get_u64(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}
uint32_t get_u32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}
int64_t get_time(std::string_view s, size_t at) { return static_cast<int64_t>(get_u64(s, at) ^ (1ull << 63)); }

constexpr uint8_t seal_state_version = 1;

}  // namespace

int64_t block_span(tier t) {
  switch (t) {
    case tier::raw:
    case tier::m1: return 2 * hour_ms;
    case tier::m5: return day_ms;
    case tier::h1: return 7 * day_ms;
  }
  return 2 * hour_ms;
}

int64_t window_span(tier t) {
  switch (t) {
    case tier::raw: return 0;
    case tier::m1: return minute_ms;
    case tier::m5: return 5 * minute_ms;
    case tier::h1: return hour_ms;
  }
  return 0;
}

const char* tier_name(tier t) {
  switch (t) {
    case tier::raw: return "raw";
    case tier::m1: return "1m";
    case tier::m5: return "5m";
    case tier::h1: return "1h";
  }
  return "?";
}

int64_t align_down(int64_t t, int64_t span) {
  int64_t r = t % span;
  if (r >= 0) return t - r;
  if (t - r < std::numeric_limits<int64_t>::min() + span) return std::numeric_limits<int64_t>::min();  // no lower block
  return t - r - span;
}

int64_t retention_options::of(tier t) const {
  switch (t) {
    case tier::raw: return raw_ms;
    case tier::m1: return m1_ms;
    case tier::m5: return m5_ms;
    case tier::h1: return h1_ms;
  }
  return raw_ms;
}

int64_t retention_options::longest() const {
  int64_t m = 0;
  for (auto t : all_tiers) m = std::max(m, of(t));
  return m;
}

tier choose_tier(int64_t mint, int64_t now, int64_t resolution_ms, const retention_options& r) {
  auto covers = [&](tier t) { return mint >= now - r.of(t); };
  for (auto it = std::rbegin(rollup_tiers); it != std::rend(rollup_tiers); ++it)
    if (window_span(*it) <= resolution_ms && covers(*it)) return *it;
  if (covers(tier::raw)) return tier::raw;
  for (auto t : rollup_tiers)  // finest rollup tier that still has the data
    if (covers(t)) return t;
  return tier::h1;
}

std::string series_labels_key(uint32_t sn) {
  std::string k(1, 'L');
  put_u32(k, sn);
  return k;
}

std::string series_seal_key(uint32_t sn) {
  std::string k(1, 'S');
  put_u32(k, sn);
  return k;
}

result<std::pair<char, uint32_t>> decode_series_key(std::string_view key) {
  if (key.size() != 5 || (key[0] != 'L' && key[0] != 'S'))
    return error(strata_errc::corruption, "series key of " + std::to_string(key.size()) +
                                              " bytes is neither 'L' nor 'S' followed by a u32 series number");
  return std::pair<char, uint32_t>{key[0], get_u32(key, 1)};
}

std::string encode_seal_state(const seal_state& s) {
  std::string v(1, static_cast<char>(seal_state_version));
  put_u64(v, s.through.seq);
  put_u32(v, s.through.sample);
  put_time(v, s.max_t);
  put_u64(v, s.max_v_bits);
  return v;
}

result<seal_state> decode_seal_state(std::string_view v) {
  if (v.size() != 29) return error(strata_errc::corruption, "seal state of " + std::to_string(v.size()) + " bytes, not 29");
  if (static_cast<uint8_t>(v[0]) != seal_state_version)
    return error(strata_errc::corruption, "seal state version " + std::to_string(static_cast<uint8_t>(v[0])) +
                                              " is unknown (this build reads version 1)");
  return seal_state{wal_pos{get_u64(v, 1), get_u32(v, 9)}, get_time(v, 13), get_u64(v, 21)};
}

std::string chunk_prefix(tier t, int64_t block, uint32_t sn) {
  std::string k(1, static_cast<char>(t));
  put_time(k, block);
  put_u32(k, sn);
  return k;
}

std::string chunk_key(tier t, int64_t block, uint32_t sn, int64_t min_t) {
  std::string k = chunk_prefix(t, block, sn);
  put_time(k, min_t);
  return k;
}

std::string rollup_key(tier t, int64_t block, uint32_t sn) { return chunk_prefix(t, block, sn); }

std::string rollup_piece_key(tier t, int64_t block, uint32_t sn, int64_t first_t) {
  return chunk_key(t, block, sn, first_t);
}

std::string rollup_pieces_end(const std::string& whole_key) { return whole_key + std::string(9, '\xff'); }

std::string tier_block_prefix(tier t, int64_t block) {
  std::string k(1, static_cast<char>(t));
  put_time(k, block);
  return k;
}

uint64_t group_hash(std::string_view name) { return XXH3_64bits(name.data(), name.size()); }

std::string group_block_prefix(int64_t block) {
  std::string k(1, static_cast<char>(group_space));
  put_time(k, block);
  return k;
}

std::string group_prefix(int64_t block, uint64_t hash) {
  std::string k = group_block_prefix(block);
  put_u64(k, hash);
  return k;
}

std::string group_key(int64_t block, uint64_t hash, uint32_t last_sn, uint16_t segment) {
  std::string k = group_prefix(block, hash);
  put_u32(k, last_sn);
  k.push_back(static_cast<char>(segment >> 8));
  k.push_back(static_cast<char>(segment));
  return k;
}

result<decoded_group_key> decode_group_key(std::string_view key) {
  if (key.size() != 23 || static_cast<uint8_t>(key[0]) != group_space)
    return error(strata_errc::corruption, "group key of " + std::to_string(key.size()) + " bytes, not 23 starting with 4");
  return decoded_group_key{get_time(key, 1), get_u64(key, 9), get_u32(key, 17),
                           static_cast<uint16_t>(static_cast<uint8_t>(key[21]) << 8 | static_cast<uint8_t>(key[22]))};
}

std::string rollup_group_block_prefix(tier t, int64_t block) {
  std::string k(1, static_cast<char>(group_space));
  k.push_back(static_cast<char>(t));
  put_time(k, block);
  return k;
}

std::string rollup_group_prefix(tier t, int64_t block, uint64_t hash) {
  std::string k = rollup_group_block_prefix(t, block);
  put_u64(k, hash);
  return k;
}

std::string rollup_group_key(tier t, int64_t block, uint64_t hash, uint32_t last_sn, uint16_t segment) {
  std::string k = rollup_group_prefix(t, block, hash);
  put_u32(k, last_sn);
  k.push_back(static_cast<char>(segment >> 8));
  k.push_back(static_cast<char>(segment));
  return k;
}

result<decoded_rollup_group_key> decode_rollup_group_key(std::string_view key) {
  if (key.size() != 24 || static_cast<uint8_t>(key[0]) != group_space)
    return error(strata_errc::corruption,
                 "rollup group key of " + std::to_string(key.size()) + " bytes, not 24 starting with 4");
  auto t = static_cast<uint8_t>(key[1]);
  if (t < static_cast<uint8_t>(tier::m1) || t > static_cast<uint8_t>(tier::h1))
    return error(strata_errc::corruption, "rollup group key names tier " + std::to_string(t) + ", not a rollup tier");
  return decoded_rollup_group_key{static_cast<tier>(t), get_time(key, 2), get_u64(key, 10), get_u32(key, 18),
                                  static_cast<uint16_t>(static_cast<uint8_t>(key[22]) << 8 |
                                                        static_cast<uint8_t>(key[23]))};
}

result<decoded_key> decode_data_key(std::string_view key, bool with_min_t) {
  const bool piece = !with_min_t && key.size() == 21;
  size_t want = with_min_t ? 21 : 13;
  if (key.size() != want && !piece)
    return error(strata_errc::corruption, std::string(with_min_t ? "chunk" : "rollup") + " key of " +
                                              std::to_string(key.size()) + " bytes, not " +
                                              (with_min_t ? "21" : "13 or 21"));
  auto t = static_cast<uint8_t>(key[0]);
  if (t > static_cast<uint8_t>(tier::h1))
    return error(strata_errc::corruption, "key names tier " + std::to_string(t) + ", which does not exist");
  return decoded_key{static_cast<tier>(t), get_time(key, 1), get_u32(key, 9), key.size() == 21 ? get_time(key, 13) : 0,
                     piece};
}

}  // namespace strata::persistence
