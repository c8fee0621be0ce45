// shard_store: sealing chunks, rollups, WAL trimming, retention, flush and
// compaction (docs/design/storage.md).
#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include "persistence/packed_chunk.hpp"
#include "persistence/packed_group.hpp"
#include "persistence/shard_store.hpp"
#include "persistence/wal_record.hpp"

namespace strata::persistence {
namespace {

constexpr size_t max_chunk_samples = 65535;                  // the chunk's count field

std::string encode_u32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
  return s;
}

using bucket_run = std::vector<std::pair<int64_t, codec::rollup_bucket>>;

// A packed group holds the series of one metric name in one block, cut into
// parts of about this many samples: a read of one series decompresses one
// part (about 32 series of 480 samples, 40-60 KB).
constexpr size_t group_part_samples = 16384;

}  // namespace

void shard_store::seal(uint32_t ref, wal_pos through) {
  auto& h = heads_[ref];
  if (!h.has_unsealed()) return;
  if (auto it = unsealed_from_.find(h.first_seq); it != unsealed_from_.end() && --it->second == 0)
    unsealed_from_.erase(it);
  stats_.head_samples -= h.unsealed_count();
  std::vector<sample> samples;
  // The open chunk only holds samples newer than every sealed one.
  const bool after_all = h.ooo.empty();
  if (after_all) {  // the common case: the open chunk is written as it is
    int64_t block = block_start(tier::raw, h.open.min_t());
    note_block(tier::raw, block);
    std::string key = chunk_key(tier::raw, block, h.sn, h.open.min_t());
    pending_chunks_[key] = h.open.seal();
    ++stats_.chunks_written;
    samples = h.take();
  } else {
    // Out-of-order samples whose timestamps are already sealed are dropped:
    // the first value written for a timestamp is the one reads return.
    std::vector<sample> sealed;
    read_raw(h.sn, h.ooo.front().t, h.ooo.back().t, sealed);
    samples = h.take();
    if (!sealed.empty()) {
      std::vector<sample> fresh;
      fresh.reserve(samples.size());
      auto it = sealed.begin();
      for (const auto& x : samples) {
        while (it != sealed.end() && it->t < x.t) ++it;
        if (it == sealed.end() || it->t != x.t) fresh.push_back(x);
      }
      samples = std::move(fresh);
    }
    if (!samples.empty()) put_chunk(h.sn, samples);
  }
  h.sealed_through = std::max(h.sealed_through, through);
  pending_series_records_[series_seal_key(h.sn)] = encode_seal_state({h.sealed_through, h.max_t, h.max_v_bits});
  fold_rollups(h, samples, after_all);
}

// Writes `samples` (sorted, unique) as chunks, one or more per raw block;
// where a chunk already starts at the same time, the two are merged (the
// stored samples win on equal timestamps).
void shard_store::put_chunk(uint32_t sn, std::vector<sample> samples) {
  size_t i = 0;
  while (i < samples.size()) {
    int64_t block = block_start(tier::raw, samples[i].t);
    size_t end = i;
    while (end < samples.size() && end - i < max_chunk_samples && block_start(tier::raw, samples[end].t) == block) ++end;
    std::vector<sample> piece(samples.begin() + i, samples.begin() + end);
    note_block(tier::raw, block);
    std::string key = chunk_key(tier::raw, block, sn, piece.front().t);
    std::string existing;
    auto p = pending_chunks_.find(key);
    bool found = p != pending_chunks_.end();
    if (found) existing = p->second;
    else found = static_cast<bool>(kv_->get(kv::table::chunks, key, existing));
    if (found) {
      std::vector<sample> old;
      if (decode_any_chunk(existing, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), old)) {
        old.insert(old.end(), piece.begin(), piece.end());
        piece = std::move(old);
        sort_unique(piece);
        if (piece.size() > max_chunk_samples) {  // put the tail back in line
          samples.insert(samples.begin() + end, piece.begin() + max_chunk_samples, piece.end());
          piece.resize(max_chunk_samples);
        }
      }
    }
    codec::chunk_appender a;
    for (const auto& s : piece) a.append(s.t, s.v);
    pending_chunks_[key] = a.seal();
    ++stats_.chunks_written;
    i = end;
  }
}

void shard_store::fold_rollups(head_series& h, const std::vector<sample>& samples, bool after_all) {
  std::vector<sample> clean;
  clean.reserve(samples.size());
  for (const auto& s : samples)
    if (value_bits(s.v) != stale_nan_bits) clean.push_back(s);
  if (clean.empty()) return;
  for (auto tr : rollup_tiers) {
    const int64_t w = window_span(tr);
    bucket_run folded;
    codec::fold(clean, w, folded);
    if (opts_.on_rollups && !folded.empty()) {
      auto& tally = tally_[static_cast<int>(tr) - 1];
      tally.series.insert(h.sn);
      tally.windows += folded.size();
      tally.first = std::min(tally.first, folded.front().first);
      tally.last = std::max(tally.last, folded.back().first);
    }
    // As pieces, only the new windows are encoded; a whole record is read,
    // merged and encoded with every window of the block.
    auto& pieces = h.rollup_pieces[static_cast<int>(tr) - 1];
    const bool as_piece = after_all && pieces < max_rollup_pieces;
    pieces = as_piece ? pieces + 1 : 0;
    int64_t block = 0;
    bucket_run* run = nullptr;
    for (auto& [ws, b] : folded) {
      if (!run || block_start(tr, ws) != block) {
        block = block_start(tr, ws);
        note_block(tr, block);
        run = as_piece ? &take_piece(tr, block, h.sn, std::max(clean.front().t, block)) : &take_whole(tr, block, h.sn);
      }
      auto at = std::lower_bound(run->begin(), run->end(), ws, [](const auto& e, int64_t x) { return e.first < x; });
      if (at == run->end() || at->first != ws) {
        run->insert(at, {ws, std::move(b)});
      } else if (at->second.last_t < b.first_t) {
        at->second.merge_later(b);
      } else if (b.last_t < at->second.first_t) {
        b.merge_later(at->second);
        at->second = std::move(b);
      } else {  // late samples inside the window: recompute it from the raw data
        std::vector<sample> raw;
        read_raw(h.sn, ws, ws + w - 1, raw);
        std::vector<sample> kept;
        for (const auto& s : raw)
          if (value_bits(s.v) != stale_nan_bits) kept.push_back(s);
        bucket_run one;
        codec::fold(kept, w, one);
        if (one.size() == 1) at->second = std::move(one.front().second);
        else at->second.merge_series(b);  // raw data already gone: count the new samples at least
      }
    }
  }
}

bucket_run& shard_store::take_piece(tier tr, int64_t block, uint32_t sn, int64_t first_t) {
  auto [it, fresh] = pending_rollups_.try_emplace(rollup_piece_key(tr, block, sn, first_t));
  if (fresh) ++stats_.rollups_written;
  return it->second;
}

bucket_run& shard_store::take_whole(tier tr, int64_t block, uint32_t sn) {
  const std::string key = rollup_key(tr, block, sn);
  auto it = pending_rollups_.find(key);
  if (it != pending_rollups_.end()) return it->second;
  // Folded from the stored record and pieces, and the pending pieces, which
  // it replaces.
  std::vector<std::string> stored_pieces;
  auto stored = read_rollup(tr, block, sn, &stored_pieces);
  pending_rollups_.erase(pending_rollups_.upper_bound(key), pending_rollups_.lower_bound(rollup_pieces_end(key)));
  for (auto& k : stored_pieces) pending_erase_rollups_.push_back(std::move(k));
  ++stats_.rollups_written;
  return pending_rollups_.emplace(key, stored ? std::move(*stored) : bucket_run{}).first->second;
}

uint64_t shard_store::wal_trim_point() const {
  return unsealed_from_.empty() ? next_seq_ : std::min(next_seq_, unsealed_from_.begin()->first);
}

void shard_store::pending_ops(std::vector<kv::op>& ops, std::deque<std::string>& keep) const {
  for (const auto& [k, v] : pending_chunks_) ops.push_back({kv::op::kind::put, kv::table::chunks, k, v});
  for (const auto& k : pending_erase_rollups_) ops.push_back({kv::op::kind::erase, kv::table::rollups, k, {}});
  for (const auto& [k, run] : pending_rollups_) {
    const auto& bytes = keep.emplace_back(codec::encode_buckets(window_span(static_cast<tier>(k[0])), run));
    ops.push_back({kv::op::kind::put, kv::table::rollups, k, bytes});
  }
  for (const auto& [k, v] : pending_series_records_) ops.push_back({kv::op::kind::put, kv::table::series, k, v});
  for (const auto& k : pending_erase_series_) ops.push_back({kv::op::kind::erase, kv::table::series, k, {}});
  if (next_sn_dirty_) {
    const auto& v = keep.emplace_back(encode_u32(next_sn_));
    ops.push_back({kv::op::kind::put, kv::table::meta, "next_sn", v});
  }
  if (uint64_t trim = wal_trim_point(); trim > wal_first_) {
    const auto& from = keep.emplace_back(encode_wal_key(wal_first_));
    const auto& to = keep.emplace_back(encode_wal_key(trim));
    ops.push_back({kv::op::kind::erase_range, kv::table::wal, from, to});
    // So that a store whose WAL is empty continues the sequence after a restart.
    ops.push_back({kv::op::kind::put, kv::table::meta, "wal_first", to});
  }
}

void shard_store::pending_written() {
  pending_chunks_.clear();
  pending_rollups_.clear();
  pending_erase_rollups_.clear();
  pending_series_records_.clear();
  pending_erase_series_.clear();
  next_sn_dirty_ = false;
  uint64_t trim = wal_trim_point();
  while (!wal_sizes_.empty() && wal_sizes_.begin()->first < trim) {
    wal_bytes_ -= wal_sizes_.begin()->second;
    wal_sizes_.erase(wal_sizes_.begin());
  }
  wal_first_ = std::max(wal_first_, trim);
  if (!opts_.on_rollups) return;
  std::vector<rollup_written> report;
  for (auto tr : rollup_tiers) {
    auto& tally = tally_[static_cast<int>(tr) - 1];
    if (tally.windows == 0) continue;
    report.push_back({tr, tally.series.size(), tally.windows, tally.first, tally.last});
    tally = rollup_tally{};
  }
  if (!report.empty()) opts_.on_rollups(report);
}

status shard_store::commit_pending() {
  std::vector<kv::op> ops;
  std::deque<std::string> keep;
  pending_ops(ops, keep);
  if (ops.empty()) return status::ok();
  if (auto st = kv_->commit(ops); !st) return st;
  pending_written();
  return status::ok();
}

status shard_store::seal_and_commit(const std::function<bool(const head_series&)>& which) {
  // Why not one commit: sealing every series of a shard at once held all its
  // chunks and decoded rollup runs, then the transaction's dirty pages, in
  // memory together (hundreds of MB at 25,000 series, docs/bench/ingest.md).
  // A group's commit carries its series' seal states and trims the WAL only
  // below the series still unsealed, so a crash between groups loses nothing.
  size_t sealed = 0;
  for (uint32_t ref = 0; ref < heads_.size(); ++ref) {
    if (!heads_[ref].has_unsealed() || !which(heads_[ref])) continue;
    seal(ref, last_committed());
    if (++sealed % std::max<size_t>(opts_.seals_per_commit, 1) == 0) {
      if (auto st = commit_pending(); !st) return st;
      kv_->release_mapped_pages();  // what the group's rollup reads and commit mapped in
    }
  }
  return commit_pending();
}

status shard_store::flush() {
  return seal_and_commit([](const head_series& h) { return h.live; });
}

status shard_store::maintain(int64_t now_ms) {
  if (wal_bytes_ > opts_.wal_max_bytes && !wal_sizes_.empty()) {
    // Seal the series whose unsealed samples start in the older half of the WAL.
    uint64_t cutoff = wal_sizes_.rbegin()->first, seen = 0;
    for (const auto& [seq, bytes] : wal_sizes_) {
      seen += bytes;
      if (seen >= wal_bytes_ / 2) {
        cutoff = seq + 1;
        break;
      }
    }
    if (auto st = seal_and_commit([&](const head_series& h) { return h.first_seq < cutoff; }); !st) return st;
  }
  if (auto st = apply_retention(now_ms); !st) return st;
  auto st = commit_pending();
  if (st) st = compact_closed(now_ms);
  // Seals, rollup reads and commits map in file pages that no read needs
  // again soon; unmapped, they stay in the page cache but not in the RSS.
  kv_->release_mapped_pages();
  return st;
}

status shard_store::apply_retention(int64_t now_ms) {
  std::vector<kv::op> ops;
  std::deque<std::string> keep;
  int64_t gone_below = std::numeric_limits<int64_t>::max();  // every tier is empty below this
  for (auto t : all_tiers) {
    const int64_t span = block_span(t);
    const int64_t limit = align_down(now_ms - opts_.retention.of(t), span);
    gone_below = std::min(gone_below, limit);
    const auto table = t == tier::raw ? kv::table::chunks : kv::table::rollups;
    const auto& from = keep.emplace_back(tier_block_prefix(t, std::numeric_limits<int64_t>::min()));
    const auto& to = keep.emplace_back(tier_block_prefix(t, limit));
    // The blocks to delete; a raw block may hold loose chunks, packed groups or both.
    auto data = data_blocks(t, to);
    if (!data) return data.error();
    std::set<int64_t> expired(data->begin(), data->end());
    {
      // The tier's groups (packed groups of raw blocks, rollup groups).
      auto group_prefix_of = [t](int64_t b) {
        return t == tier::raw ? group_block_prefix(b) : rollup_group_block_prefix(t, b);
      };
      const auto& gfrom = keep.emplace_back(group_prefix_of(std::numeric_limits<int64_t>::min()));
      const auto& gto = keep.emplace_back(group_prefix_of(limit));
      auto groups = blocks_with_keys(table, span, group_prefix_of, gto, [t](std::string_view k) -> std::optional<int64_t> {
        if (t == tier::raw) {
          if (auto d = decode_group_key(k)) return d->block;
        } else if (auto d = decode_rollup_group_key(k)) {
          return d->block;
        }
        return std::nullopt;
      });
      if (!groups) return groups.error();
      expired.insert(groups->begin(), groups->end());
      if (!groups->empty()) ops.push_back({kv::op::kind::erase_range, table, gfrom, gto});
      if (t == tier::raw) group_cache_.clear();
      else rollup_cache_.clear();
    }
    if (expired.empty()) continue;  // nothing expired in this tier
    stats_.blocks_deleted += expired.size();
    ops.push_back({kv::op::kind::erase_range, table, from, to});
    auto& seen = seen_[static_cast<int>(t)];
    seen.lo = std::max(seen.lo, limit);
    if (t == tier::raw) pending_chunks_.erase(pending_chunks_.lower_bound(from), pending_chunks_.lower_bound(to));
    else pending_rollups_.erase(pending_rollups_.lower_bound(from), pending_rollups_.lower_bound(to));
  }
  if (ops.empty()) return status::ok();
  compact_queue_.clear();  // its names may be in deleted blocks; the next scan lists what is left
  // Series with data in no tier leave the index and the series table.
  for (uint32_t ref : index_.drop_blocks_before(gone_below)) {
    auto& h = heads_[ref];
    if (h.has_unsealed() || !h.live) continue;
    h.live = false;
    h.open = codec::chunk_appender{};
    index_.remove(ref);
    ref_of_sn_[h.sn] = UINT32_MAX;
    pending_series_records_.erase(series_labels_key(h.sn));
    pending_series_records_.erase(series_seal_key(h.sn));
    pending_erase_series_.push_back(series_labels_key(h.sn));
    pending_erase_series_.push_back(series_seal_key(h.sn));
  }
  pending_ops(ops, keep);
  if (auto st = kv_->commit(ops); !st) return st;
  pending_written();
  return status::ok();
}

result<shard_store::loose_names> shard_store::loose_names_of(tier t, int64_t b, compact_stats& cs) const {
  const bool raw = t == tier::raw;
  const int64_t end = b > std::numeric_limits<int64_t>::max() - block_span(t) ? std::numeric_limits<int64_t>::max()
                                                                                : b + block_span(t);
  loose_names names;
  status bad = status::ok();
  std::optional<uint32_t> last;
  auto st = kv_->scan(raw ? kv::table::chunks : kv::table::rollups, tier_block_prefix(t, b), tier_block_prefix(t, end),
                      [&](std::string_view k, std::string_view) {
                        auto d = decode_data_key(k, raw);
                        if (!d) {
                          bad = error(strata_errc::corruption, std::string("compact: ") + tier_name(t) + " block " +
                                                                   std::to_string(b) + " of " + opts_.dir + ": " +
                                                                   d.error().message());
                          return false;
                        }
                        ++(raw ? cs.chunks_before : cs.rollups_before);
                        if (last != d->sn) names[group_hash_of(d->sn)].push_back(d->sn);  // a series may have several chunks
                        last = d->sn;
                        return true;
                      });
  if (!st) return st;
  if (!bad) return bad;
  return names;
}

status shard_store::compact_closed(int64_t now_ms) {
  if (opts_.compact_every_ms <= 0) return status::ok();
  if (compact_queue_.empty()) {
    if (now_ms < next_compact_scan_ms_) return status::ok();
    next_compact_scan_ms_ = now_ms + opts_.compact_every_ms;
    // A block is closed once it ended an out-of-order window and a minute
    // before the newest sample (and the clock): existing series can no longer
    // write to it, so what compaction writes stays (a backfill writes in data
    // time, and compacts behind itself). A new series may still write there;
    // its loose chunks are compacted by a later scan.
    int64_t newest = std::numeric_limits<int64_t>::min();
    for (const auto& h : heads_)
      if (h.live) newest = std::max(newest, h.max_t);
    const int64_t until = std::min(now_ms, newest);
    if (until < std::numeric_limits<int64_t>::min() / 2) return status::ok();  // no samples
    compact_stats unused;
    for (auto t : all_tiers) {
      const int64_t closed = align_down(until - opts_.ooo_window_ms - minute_ms, block_span(t));
      auto blocks = data_blocks(t, tier_block_prefix(t, closed));
      if (!blocks) return blocks.error();
      if (blocks->empty()) continue;
      auto names = loose_names_of(t, blocks->front(), unused);
      if (!names) return names.error();
      for (auto& [hash, sns] : *names) compact_queue_.push_back({t, blocks->front(), hash, std::move(sns)});
      break;
    }
    if (compact_queue_.empty()) return status::ok();
  }
  auto item = std::move(compact_queue_.front());
  compact_queue_.pop_front();
  compact_stats cs;
  // Parts of this name and block are rewritten: no cached copy may stay.
  auto st = item.t == tier::raw ? compact_name(item.block, item.hash, item.sns, cs)
                                : compact_rollup_name(item.t, item.block, item.hash, item.sns, cs);
  if (item.t == tier::raw) group_cache_.clear();
  else rollup_cache_.clear();
  if (st) ++stats_.names_compacted;
  return st;
}

result<compact_stats> shard_store::compact() {
  if (auto st = flush(); !st) return st;
  compact_queue_.clear();  // everything loose is compacted below
  group_cache_.clear();
  compact_stats cs;
  // The raw blocks with loose chunks (sealed since the last compaction, or
  // packed chunks of an older format), then each block on its own.
  auto blocks = data_blocks(tier::raw, tier_block_prefix(tier::m1, std::numeric_limits<int64_t>::min()));
  if (!blocks) return blocks.error();
  for (int64_t b : *blocks)
    if (auto st = compact_block(b, cs); !st) return st;
  if (auto st = compact_rollups(cs); !st) return st;
  // The file keeps the high-water mark of the WAL and of rewritten records:
  // copy the live pages into a new file and swap it in.
  if (auto st = kv_->compact_copy(); !st) return st;
  return cs;
}

result<std::vector<int64_t>> shard_store::blocks_with_keys(kv::table table, int64_t span,
                                                         const std::function<std::string(int64_t)>& first,
                                                         const std::string& to, const block_of_fn& block_of) const {
  std::vector<int64_t> blocks;
  std::string at = first(std::numeric_limits<int64_t>::min());
  for (;;) {
    std::optional<int64_t> block;
    auto st = kv_->scan(table, at, to, [&](std::string_view k, std::string_view) {
      block = block_of(k);
      return false;
    });
    if (!st) return st;
    if (!block) break;
    blocks.push_back(*block);
    if (*block > std::numeric_limits<int64_t>::max() - span) break;
    at = first(*block + span);
  }
  return blocks;
}

result<std::vector<int64_t>> shard_store::data_blocks(tier t, const std::string& to) const {
  return blocks_with_keys(
      t == tier::raw ? kv::table::chunks : kv::table::rollups, block_span(t),
      [t](int64_t b) { return tier_block_prefix(t, b); }, to,
      [t](std::string_view k) -> std::optional<int64_t> {
        if (auto d = decode_data_key(k, t == tier::raw)) return d->block;
        return std::nullopt;
      });
}

// Rewrites the packed groups of every metric name that has loose chunks in
// the block: the groups' samples and the loose ones (the older copy wins on
// equal timestamps) become new groups, one commit per name, so that a crash
// leaves every sample in the old form or the new. Memory stays at about one
// part: the names come from the keys, and each name's parts and loose chunks
// are merged series by series in series order as the new parts fill.
status shard_store::compact_block(int64_t b, compact_stats& cs) {
  auto names = loose_names_of(tier::raw, b, cs);
  if (!names) return names.error();
  for (const auto& [hash, sns] : *names) {
    if (auto r = compact_name(b, hash, sns, cs); !r) return r;
    kv_->release_mapped_pages();  // the file pages this name's chunks were read from
  }
  return status::ok();
}

status shard_store::compact_name(int64_t b, uint64_t hash, const std::vector<uint32_t>& loose_sns,
                                 compact_stats& cs) {
  std::vector<kv::op> ops;
  std::deque<std::string> keep;  // what ops point into
  const std::string from = group_prefix(b, hash);
  const std::string to = from + std::string(6, '\xff');
  auto corrupt = [&](const std::string& what, const std::string& why) {
    return error(strata_errc::corruption,
                 "compact: " + what + " of block " + std::to_string(b) + " of " + opts_.dir + ": " + why);
  };
  std::vector<std::string> parts;  // the name's packed parts as stored (compressed), in series order
  auto st = scan_groups(from, to, [&](std::string_view, const decoded_group_key&, std::string_view v) {
    ++cs.chunks_before;
    parts.emplace_back(v);
    return true;
  });
  if (!st) return st;
  ops.push_back({kv::op::kind::erase_range, kv::table::chunks, from, to});

  std::vector<group_member> part;
  size_t in_part = 0;
  auto put_part = [&]() {
    if (part.empty()) return;
    const auto& bytes = keep.emplace_back(encode_packed_group(b, part));
    for (size_t at = 0, seg = 0; at < bytes.size(); at += group_segment_bytes, ++seg) {
      const auto& k = keep.emplace_back(group_key(b, hash, part.back().sn, static_cast<uint16_t>(seg)));
      ops.push_back({kv::op::kind::put, kv::table::chunks, k, std::string_view(bytes).substr(at, group_segment_bytes)});
    }
    ++cs.chunks_after;
    part.clear();
    in_part = 0;
  };
  auto add = [&](uint32_t sn, std::vector<sample> samples) -> status {
    if (!part.empty() && sn <= part.back().sn) return corrupt("series " + std::to_string(sn), "out of order");
    sort_unique(samples);
    if (samples.empty()) return status::ok();
    if (in_part > 0 && in_part + samples.size() > group_part_samples) put_part();
    in_part += samples.size();
    part.push_back({sn, std::move(samples)});
    return status::ok();
  };
  // Appends the loose chunks of series sn to `out` and erases them.
  auto take_loose = [&](uint32_t sn, std::vector<sample>& out) -> status {
    status why = status::ok();
    const std::string end = sn == UINT32_MAX ? tier_block_prefix(tier::raw, b + block_span(tier::raw))
                                             : chunk_prefix(tier::raw, b, sn + 1);
    auto r = kv_->scan(kv::table::chunks, chunk_prefix(tier::raw, b, sn), end,
                       [&](std::string_view k, std::string_view v) {
                         if (auto d = decode_any_chunk(v, std::numeric_limits<int64_t>::min(),
                                                       std::numeric_limits<int64_t>::max(), out);
                             !d) {
                           why = corrupt("chunk of series " + std::to_string(sn), d.message());
                           return false;
                         }
                         ops.push_back({kv::op::kind::erase, kv::table::chunks, keep.emplace_back(k), {}});
                         return true;
                       });
    return r ? why : r;
  };
  size_t next = 0;  // the first series of loose_sns not merged yet
  auto loose_before = [&](uint64_t end) -> status {  // every loose series below `end` the parts do not hold
    for (; next < loose_sns.size() && loose_sns[next] < end; ++next) {
      std::vector<sample> s;
      if (auto r = take_loose(loose_sns[next], s); !r) return r;
      if (auto r = add(loose_sns[next], std::move(s)); !r) return r;
    }
    return status::ok();
  };
  for (const auto& v : parts) {
    auto d = read_group_directory(v, b);
    if (!d) return corrupt("packed group", d.error().message());
    auto stream = unpack_group(v, *d);
    if (!stream) return corrupt("packed group", stream.error().message());
    for (const auto& e : d->entries) {
      if (auto r = loose_before(e.sn); !r) return r;
      std::vector<sample> s;
      if (auto r = decode_group_member(*stream, e, std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max(), s);
          !r)
        return corrupt("packed group", r.message());
      if (next < loose_sns.size() && loose_sns[next] == e.sn)
        if (auto r = take_loose(loose_sns[next++], s); !r) return r;
      if (auto r = add(e.sn, std::move(s)); !r) return r;
    }
  }
  if (auto r = loose_before(uint64_t{1} << 32); !r) return r;
  put_part();
  return kv_->commit(ops);
}

}  // namespace strata::persistence
