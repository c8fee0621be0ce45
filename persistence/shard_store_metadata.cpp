// shard_store: metric metadata (one entry per family, in the meta table) and
// the shard's complete statistics for /api/v1/status/tsdb.
//
// Metadata value (docs/format/keys.md, "meta"): version u8 = 1, type code u8
// (index into metric_types), help length u32 LE, help bytes, unit length
// u32 LE, unit bytes. The key is "metadata/" + family name.
#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "persistence/packed_group.hpp"
#include "persistence/shard_store.hpp"

namespace strata::persistence {
namespace {

constexpr std::string_view metadata_prefix = "metadata/";
// The first key after every "metadata/..." key ('0' follows '/').
constexpr std::string_view metadata_end = "metadata0";
constexpr uint8_t metadata_version = 1;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string encode_metadata(const metric_metadata& m) {
  std::string out;
  out.reserve(10 + m.help.size() + m.unit.size());
  out.push_back(static_cast<char>(metadata_version));
  out.push_back(static_cast<char>(metric_type_code(m.type)));
  put_u32(out, static_cast<uint32_t>(m.help.size()));
  out += m.help;
  put_u32(out, static_cast<uint32_t>(m.unit.size()));
  out += m.unit;
  return out;
}

result<metric_metadata> decode_metadata(std::string_view key, std::string_view v) {
  auto bad = [&](const std::string& why) {
    return error(strata_errc::corruption, "meta key \"" + std::string(key) + "\": " + why);
  };
  size_t pos = 0;
  auto take_u32 = [&](uint32_t& out) {
    if (v.size() - pos < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) out |= uint32_t{static_cast<uint8_t>(v[pos + i])} << (8 * i);
    pos += 4;
    return true;
  };
  if (v.size() < 2) return bad("value of " + std::to_string(v.size()) + " bytes is shorter than its 2-byte header");
  if (static_cast<uint8_t>(v[0]) != metadata_version)
    return bad("unknown metadata version " + std::to_string(static_cast<uint8_t>(v[0])));
  uint8_t type = static_cast<uint8_t>(v[1]);
  if (type >= metric_type_count) return bad("unknown type code " + std::to_string(type) + " at offset 1");
  pos = 2;
  metric_metadata m;
  m.family = std::string(key.substr(metadata_prefix.size()));
  m.type = metric_types[type];
  uint32_t n = 0;
  if (!take_u32(n) || v.size() - pos < n) return bad("help length runs past the end of the value at offset 2");
  m.help = std::string(v.substr(pos, n));
  pos += n;
  size_t unit_at = pos;
  if (!take_u32(n) || v.size() - pos < n)
    return bad("unit length runs past the end of the value at offset " + std::to_string(unit_at));
  m.unit = std::string(v.substr(pos, n));
  pos += n;
  if (pos != v.size()) return bad(std::to_string(v.size() - pos) + " trailing bytes at offset " + std::to_string(pos));
  return m;
}

std::string metadata_key(const std::string& family) { return std::string(metadata_prefix) + family; }

}  // namespace

result<size_t> shard_store::put_metadata(const std::vector<metric_metadata>& md) {
  std::map<std::string, const metric_metadata*> latest;
  for (const auto& m : md) latest[m.family] = &m;
  std::deque<std::string> keep;  // keys and values live until the commit
  std::vector<kv::op> ops;
  for (const auto& [family, m] : latest) {
    auto key = metadata_key(family);
    auto value = encode_metadata(*m);
    std::string stored;
    auto st = kv_->get(kv::table::meta, key, stored);
    if (st && stored == value) continue;
    if (!st && st.code() != strata_errc::not_found) return st;
    keep.push_back(std::move(key));
    const std::string& k = keep.back();
    keep.push_back(std::move(value));
    ops.push_back(kv::op::put(kv::table::meta, k, keep.back()));
  }
  if (ops.empty()) return size_t{0};
  if (auto st = kv_->commit(ops); !st) return st;
  return ops.size();
}

result<std::vector<metric_metadata>> shard_store::list_metadata(const std::string& family) const {
  std::vector<metric_metadata> out;
  status failure;
  auto take = [&](std::string_view k, std::string_view v) {
    auto m = decode_metadata(k, v);
    if (!m) {
      failure = m.error();
      return false;
    }
    out.push_back(std::move(*m));
    return true;
  };
  if (!family.empty()) {
    if (family.size() > max_metadata_family_bytes) return out;  // never stored
    auto key = metadata_key(family);
    std::string v;
    auto st = kv_->get(kv::table::meta, key, v);
    if (!st && st.code() == strata_errc::not_found) return out;
    if (!st) return st;
    take(key, v);
  } else if (auto st = kv_->scan(kv::table::meta, metadata_prefix, metadata_end, take); !st) {
    return st;
  }
  if (!failure.is_ok()) return failure;
  return out;
}

tsdb_summary shard_store::summarize() const {
  tsdb_summary s;
  s.series = index_.size();
  const Roaring& all = index_.all();
  for (const auto& name : index_.label_names(all)) {
    for (const auto& value : index_.label_values(name, all)) {
      auto m = matcher::make(matcher::op::eq, name, value);
      if (!m) continue;  // an equality matcher always compiles
      s.pairs.push_back({name, value, index_.select({std::move(*m)}).cardinality()});
    }
  }

  s.chunks = kv_->stats().entries[static_cast<size_t>(kv::table::chunks)] + pending_chunks_.size();
  for (const auto& h : heads_) {
    if (!h.live) continue;
    if (h.open.count() > 0) {
      ++s.chunks;
      s.min_t = std::min(s.min_t, h.open.min_t());
    }
    if (!h.ooo.empty()) s.min_t = std::min(s.min_t, h.ooo.front().t);
    s.max_t = std::max(s.max_t, h.max_t);
  }
  // The oldest sealed raw sample: the smallest chunk start of the oldest raw block.
  const std::string raw_from = tier_block_prefix(tier::raw, std::numeric_limits<int64_t>::min());
  const std::string raw_to = tier_block_prefix(tier::m1, std::numeric_limits<int64_t>::min());
  auto first_block = std::numeric_limits<int64_t>::max();
  auto note = [&](std::string_view key) {
    auto k = decode_data_key(key, true);
    if (!k) return true;
    if (first_block == std::numeric_limits<int64_t>::max()) first_block = k->block;
    if (k->block != first_block) return false;
    s.min_t = std::min(s.min_t, k->min_t);
    return true;
  };
  kv_->scan(kv::table::chunks, raw_from, raw_to, [&](std::string_view k, std::string_view) { return note(k); });
  first_block = std::numeric_limits<int64_t>::max();
  for (auto it = pending_chunks_.lower_bound(raw_from); it != pending_chunks_.end() && it->first < raw_to; ++it)
    if (!note(it->first)) break;
  // Compacted blocks: the packed groups' directories hold each series' first sample.
  first_block = std::numeric_limits<int64_t>::max();
  scan_groups(group_block_prefix(std::numeric_limits<int64_t>::min()), std::string(1, static_cast<char>(group_space + 1)),
              [&](std::string_view, const decoded_group_key& key, std::string_view v) {
                if (first_block == std::numeric_limits<int64_t>::max()) first_block = key.block;
                if (key.block != first_block) return false;
                if (auto d = read_group_directory(v, key.block))
                  for (const auto& e : d->entries) s.min_t = std::min(s.min_t, e.min_t);
                return true;
              });
  return s;
}

}  // namespace strata::persistence
