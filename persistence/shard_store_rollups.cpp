// shard_store: a series' rollups of a block and rollup groups
// (docs/format/rollup.md, "Rollup group"): their read path and their
// compaction. A series' buckets of a rollup block are its whole loose record
// when there is one (written by a seal from the group's buckets, the pieces
// and the new ones), else its section in the part of its name's group that
// lists it; then the pieces seals appended since, merged in order.
#include <algorithm>
#include <limits>
#include <optional>

#include "persistence/segments.hpp"
#include "persistence/shard_store.hpp"

namespace strata::persistence {
namespace {

// A rollup group is cut into parts of about this many buckets: a read of one
// series decompresses one part (about 68 series of 120 1m buckets, ~70 KB).
constexpr size_t rollup_part_buckets = 8192;

std::string parts_end(const std::string& prefix) { return prefix + std::string(6, '\xff'); }

// Adds pieces, in the order they were written, to the buckets before them. A
// piece's samples are newer than everything before it, so a window it shares
// with them continues there.
void append_pieces(bucket_run& run, std::vector<bucket_run>& pieces) {
  for (auto& piece : pieces)
    for (auto& [ws, b] : piece) {
      auto at = std::lower_bound(run.begin(), run.end(), ws, [](const auto& e, int64_t x) { return e.first < x; });
      if (at == run.end() || at->first != ws) run.insert(at, {ws, std::move(b)});
      else at->second.merge_later(b);
    }
}

}  // namespace

result<shard_store::stored_rollup> shard_store::stored_rollup_of(tier t, int64_t b, uint32_t sn) const {
  const std::string whole_key = rollup_key(t, b, sn);
  stored_rollup out;
  status bad = status::ok();
  const std::string end = rollup_pieces_end(whole_key);
  auto st = kv_->scan(kv::table::rollups, whole_key, end, [&](std::string_view k, std::string_view v) {
    auto run = codec::decode_buckets(v);
    if (!run) {
      bad = error(strata_errc::corruption, std::string(tier_name(t)) + " rollups of series " + std::to_string(sn) +
                                               " in block " + std::to_string(b) + " of " + opts_.dir + ": " +
                                               run.error().message());
      return false;
    }
    if (k.size() == whole_key.size()) {
      out.whole = std::move(*run);
    } else {
      out.piece_keys.emplace_back(k);
      out.pieces.push_back(std::move(*run));
    }
    return true;
  });
  if (!st) return st;
  if (!bad) return bad;
  return out;
}

result<bucket_run> shard_store::read_rollup(tier t, int64_t b, uint32_t sn,
                                           std::vector<std::string>* stored_pieces) const {
  const std::string whole_key = rollup_key(t, b, sn), end = rollup_pieces_end(whole_key);
  bucket_run run;
  if (auto p = pending_rollups_.find(whole_key); p != pending_rollups_.end()) {
    run = p->second;
  } else {
    auto stored = stored_rollup_of(t, b, sn);
    if (!stored) return stored.error();
    if (stored->whole) {
      run = std::move(*stored->whole);
    } else if (auto section = read_rollup_group(t, b, sn)) {
      run = std::move(*section);
    } else if (section.error().code() != strata_errc::not_found) {
      return section.error();
    }
    append_pieces(run, stored->pieces);
    if (stored_pieces) *stored_pieces = std::move(stored->piece_keys);
  }
  std::vector<bucket_run> pending;
  for (auto p = pending_rollups_.upper_bound(whole_key); p != pending_rollups_.end() && p->first < end; ++p)
    pending.push_back(p->second);
  append_pieces(run, pending);
  return run;
}

status shard_store::scan_rollup_groups(const std::string& from, const std::string& to,
                                       const rollup_group_fn& fn) const {
  return join_segments(
      *kv_, kv::table::rollups, from, to, "table \"rollups\" of " + opts_.dir, decode_rollup_group_key,
      [](const decoded_rollup_group_key& a, const decoded_rollup_group_key& b) {
        return a.t == b.t && a.block == b.block && a.hash == b.hash && a.last_sn == b.last_sn;
      },
      [&](std::string_view, const decoded_rollup_group_key& key, std::string_view v) { return fn(key, v); });
}

result<bucket_run> shard_store::read_rollup_group(tier t, int64_t b, uint32_t sn) const {
  const uint64_t hash = group_hash_of(sn);
  auto hit = std::find_if(rollup_cache_.begin(), rollup_cache_.end(), [&](const unpacked_rollup_group& g) {
    return g.t == t && g.block == b && g.hash == hash && g.first_sn <= sn && sn <= g.last_sn;
  });
  if (hit == rollup_cache_.end()) {
    // The first part whose last series is sn or later is the only one that can hold it.
    status why = error(strata_errc::not_found, "no rollup group holds the series");
    auto st = scan_rollup_groups(rollup_group_key(t, b, hash, sn, 0), parts_end(rollup_group_prefix(t, b, hash)),
                                 [&](const decoded_rollup_group_key& key, std::string_view v) {
                                   auto d = read_rollup_group_directory(v);
                                   if (!d) {
                                     why = d.error();  // left out of answers; compaction reports it
                                     return false;
                                   }
                                   auto stream = unpack_rollup_group(v, *d);
                                   if (!stream) {
                                     why = stream.error();
                                     return false;
                                   }
                                   if (rollup_cache_.size() == rollup_cache_size) rollup_cache_.pop_back();
                                   // The seek from sn found this part first: it answers every
                                   // series from sn to its last, held or not (the cache's
                                   // first_sn may lie below the part's first entry).
                                   const uint32_t from = std::min(sn, d->entries.front().sn);
                                   rollup_cache_.push_front(
                                       {t, b, hash, from, key.last_sn, std::move(*d), std::move(*stream)});
                                   return false;
                                 });
    if (!st) return st;
    if (rollup_cache_.empty() || rollup_cache_.front().t != t || rollup_cache_.front().block != b ||
        rollup_cache_.front().hash != hash || rollup_cache_.front().last_sn < sn ||
        rollup_cache_.front().first_sn > sn)
      return why;
    hit = rollup_cache_.begin();
  }
  const auto* e = find_rollup_member(hit->dir, sn);
  if (!e) return error(strata_errc::not_found, "no rollup group holds the series");
  return decode_rollup_member(hit->stream, hit->dir, *e);
}

status shard_store::compact_rollups(compact_stats& cs) {
  rollup_cache_.clear();
  for (auto t : rollup_tiers) {
    // The blocks with loose records (written since the last compaction).
    auto blocks = data_blocks(t, std::string(1, static_cast<char>(static_cast<uint8_t>(t) + 1)));
    if (!blocks) return blocks.error();
    for (int64_t b : *blocks)
      if (auto st = compact_rollup_block(t, b, cs); !st) return st;
  }
  rollup_cache_.clear();
  return status::ok();
}

// Rewrites the rollup groups of every metric name that has loose records in
// the block: a loose record replaces the series' section whole (it was
// folded from it), one commit per name, so that a crash leaves every record
// in the old form or the new. Memory stays at about one part: the names come
// from the keys, and each name's parts and loose records are merged series by
// series in series order as the new parts fill.
status shard_store::compact_rollup_block(tier t, int64_t b, compact_stats& cs) {
  auto names = loose_names_of(t, b, cs);
  if (!names) return names.error();
  for (const auto& [hash, sns] : *names) {
    if (auto r = compact_rollup_name(t, b, hash, sns, cs); !r) return r;
    kv_->release_mapped_pages();  // the file pages this name's parts were read from
  }
  return status::ok();
}

status shard_store::compact_rollup_name(tier t, int64_t b, uint64_t hash, const std::vector<uint32_t>& loose_sns,
                                        compact_stats& cs) {
  std::vector<kv::op> ops;
  std::deque<std::string> keep;  // what ops point into
  const std::string from = rollup_group_prefix(t, b, hash);
  const std::string to = parts_end(from);
  const int64_t window = window_span(t);
  auto corrupt = [&](const std::string& why) {
    return error(strata_errc::corruption,
                 std::string("compact: ") + tier_name(t) + " block " + std::to_string(b) + " of " + opts_.dir + ": " + why);
  };
  std::vector<std::string> parts;  // the name's group parts as stored (compressed), in series order
  status bad = status::ok();
  auto st = scan_rollup_groups(from, to, [&](const decoded_rollup_group_key&, std::string_view v) {
    ++cs.rollups_before;
    if (v.empty()) {
      bad = corrupt("rollup group part misses a segment");
      return false;
    }
    parts.emplace_back(v);
    return true;
  });
  if (!st) return st;
  if (!bad) return bad;
  ops.push_back({kv::op::kind::erase_range, kv::table::rollups, from, to});

  std::vector<rollup_member> part;
  size_t in_part = 0;
  auto put_part = [&]() {
    if (part.empty()) return;
    const auto& bytes = keep.emplace_back(encode_rollup_group(window, part));
    for (size_t at = 0, seg = 0; at < bytes.size(); at += group_segment_bytes, ++seg) {
      const auto& k = keep.emplace_back(rollup_group_key(t, b, hash, part.back().sn, static_cast<uint16_t>(seg)));
      ops.push_back({kv::op::kind::put, kv::table::rollups, k, std::string_view(bytes).substr(at, group_segment_bytes)});
    }
    ++cs.rollups_after;
    part.clear();
    in_part = 0;
  };
  auto add = [&](uint32_t sn, bucket_run run) -> status {
    if (!part.empty() && sn <= part.back().sn) return corrupt("series " + std::to_string(sn) + " out of order");
    if (run.empty()) return status::ok();
    if (in_part > 0 && in_part + run.size() > rollup_part_buckets) put_part();
    in_part += run.size();
    part.push_back({sn, std::move(run)});
    return status::ok();
  };
  // The buckets of series sn: its whole loose record, else its group
  // section, then its pieces; the compaction erases the loose ones.
  auto take_loose = [&](uint32_t sn, bucket_run section) -> result<bucket_run> {
    auto stored = stored_rollup_of(t, b, sn);
    if (!stored) return corrupt(stored.error().message());
    if (stored->whole) {
      section = std::move(*stored->whole);
      ops.push_back({kv::op::kind::erase, kv::table::rollups, keep.emplace_back(rollup_key(t, b, sn)), {}});
    }
    append_pieces(section, stored->pieces);
    for (auto& k : stored->piece_keys)
      ops.push_back({kv::op::kind::erase, kv::table::rollups, keep.emplace_back(std::move(k)), {}});
    return section;
  };
  size_t next = 0;  // the first series of loose_sns not merged yet
  auto loose_before = [&](uint64_t end) -> status {  // every loose series below `end` the parts do not hold
    for (; next < loose_sns.size() && loose_sns[next] < end; ++next) {
      auto run = take_loose(loose_sns[next], {});
      if (!run) return run.error();
      if (auto r = add(loose_sns[next], std::move(*run)); !r) return r;
    }
    return status::ok();
  };
  for (const auto& v : parts) {
    auto d = read_rollup_group_directory(v);
    if (!d) return corrupt(d.error().message());
    if (d->window_ms != window) return corrupt("rollup group of another window");
    auto stream = unpack_rollup_group(v, *d);
    if (!stream) return corrupt(stream.error().message());
    for (const auto& e : d->entries) {
      if (auto r = loose_before(e.sn); !r) return r;
      auto run = decode_rollup_member(*stream, *d, e);
      if (!run) return corrupt(run.error().message());
      if (next < loose_sns.size() && loose_sns[next] == e.sn) run = take_loose(loose_sns[next++], std::move(*run));
      if (!run) return run.error();
      if (auto r = add(e.sn, std::move(*run)); !r) return r;
    }
  }
  if (auto r = loose_before(uint64_t{1} << 32); !r) return r;
  put_part();
  return kv_->commit(ops);
}

}  // namespace strata::persistence
