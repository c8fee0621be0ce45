// shard_store: the read path. Postings pick the series, per-block activity
// narrows them to the time range, and each series' data is read with one
// seek per block in the chunks (or rollups) table, plus what is pending and
// what is in the head.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>

#include "persistence/packed_chunk.hpp"
#include "persistence/packed_group.hpp"
#include "persistence/shard_store.hpp"
#include "persistence/segments.hpp"

namespace strata::persistence {
namespace {


bool by_labels(const labels& a, const labels& b) { return a < b; }

}  // namespace

Roaring shard_store::candidates(const matchers& ms, int64_t mint, int64_t maxt) const {
  Roaring active = index_.active_between(mint, maxt);
  if (ms.empty()) return active;
  return index_.select(ms) & active;
}

uint64_t shard_store::group_hash_of(uint32_t sn) const {
  if (sn >= ref_of_sn_.size() || ref_of_sn_[sn] == UINT32_MAX) return group_hash("");
  // A series number keeps its labels for life: its name's hash is computed once.
  if (sn >= name_hash_of_sn_.size()) name_hash_of_sn_.resize(ref_of_sn_.size(), 0);
  uint64_t& h = name_hash_of_sn_[sn];
  if (h == 0) h = group_hash(index_.label_value(ref_of_sn_[sn], metric_name_label));  // 0: not yet (or hashes to 0)
  return h;
}

bool shard_store::parts_before(uint32_t a, uint32_t b) const {
  uint32_t sa = heads_[a].sn, sb = heads_[b].sn;
  uint64_t ha = group_hash_of(sa), hb = group_hash_of(sb);
  return ha != hb ? ha < hb : sa < sb;
}

std::vector<uint32_t> shard_store::in_parts_order(const Roaring& refs) const {
  std::vector<uint32_t> out(refs.cardinality());
  refs.toUint32Array(out.data());
  std::sort(out.begin(), out.end(), [&](uint32_t a, uint32_t b) { return parts_before(a, b); });
  return out;
}

status shard_store::scan_groups(const std::string& from, const std::string& to, const group_fn& fn) const {
  return join_segments(
      *kv_, kv::table::chunks, from, to, "table \"chunks\" of " + opts_.dir, decode_group_key,
      [](const decoded_group_key& a, const decoded_group_key& b) {
        return a.block == b.block && a.hash == b.hash && a.last_sn == b.last_sn;
      },
      fn);
}

const shard_store::unpacked_group* shard_store::cached_group(const std::string& from, const std::string& to) const {
  if (group_cache_.empty()) return nullptr;
  std::string first, tail;  // tail: the last 4 bytes of the joined segments, the checksum
  decoded_group_key at{};
  bool open = false, whole = false;
  kv_->scan(kv::table::chunks, from, to, [&](std::string_view k, std::string_view v) {
    auto key = decode_group_key(k);
    if (!key) {
      whole = false;
      return false;
    }
    if (!open) {
      first = k;
      at = *key;
      open = true;
      whole = key->segment == 0;
    } else if (key->block != at.block || key->hash != at.hash || key->last_sn != at.last_sn) {
      return false;
    } else {
      whole = whole && key->segment == at.segment + 1;
      at.segment = key->segment;
    }
    tail += v.substr(v.size() - std::min<size_t>(v.size(), 4));
    if (tail.size() > 4) tail.erase(0, tail.size() - 4);
    return true;
  });
  if (!whole || tail.size() < 4) return nullptr;
  uint32_t stored = 0;
  std::memcpy(&stored, tail.data(), 4);
  for (const auto& g : group_cache_)
    if (g.key == first && g.checksum == stored) return &g;
  return nullptr;
}

void shard_store::read_group(uint32_t sn, uint64_t hash, int64_t b, int64_t mint, int64_t maxt,
                             std::vector<sample>& out, read_memo* memo) const {
  auto decode = [&](const unpacked_group& g) {
    if (const auto* e = find_member(g.dir, sn)) {
      size_t before = out.size();
      if (!decode_group_member(g.stream, *e, mint, maxt, out)) out.resize(before);
    }
  };
  read_memo::block_memo* m = memo ? memo->at(b) : nullptr;
  auto remember = [&](const unpacked_group& g) {
    if (!m || g.dir.entries.empty()) return;
    m->hash = hash;
    m->first_sn = g.dir.entries.front().sn;
    m->last_sn = g.dir.entries.back().sn;
    m->part = &g;
  };
  // The part read last holds every series of its name and block whose
  // number lies in its run (parts hold consecutive runs): no seek.
  if (m && m->part && m->hash == hash && sn >= m->first_sn && sn <= m->last_sn) return decode(*m->part);
  // The first part whose last series is sn or later is the only one that can hold it.
  const std::string from = group_key(b, hash, sn, 0);
  const std::string to = group_prefix(b, hash) + std::string(6, '\xff');
  // A part read before is not joined, checked or decompressed again.
  if (const unpacked_group* g = cached_group(from, to)) {
    remember(*g);
    return decode(*g);
  }
  scan_groups(from, to, [&](std::string_view k, const decoded_group_key&, std::string_view v) {
    // A part read before is not checked and decompressed again.
    uint32_t stored = 0;
    if (v.size() >= 4) std::memcpy(&stored, v.data() + v.size() - 4, 4);
    auto hit = std::find_if(group_cache_.begin(), group_cache_.end(),
                            [&](const unpacked_group& g) { return g.key == k && g.checksum == stored; });
    if (hit == group_cache_.end()) {
      auto d = read_group_directory(v, b);
      if (!d) return false;  // a damaged group is left out of answers; compaction reports it
      const auto* e = find_member(*d, sn);
      if (!e || e->max_t < mint || e->min_t > maxt) return false;
      auto stream = unpack_group(v, *d);
      if (!stream) return false;
      if (group_cache_.size() == group_cache_size) {
        if (memo)
          for (auto& x : memo->blocks)
            if (x.part == &group_cache_.back()) x.part = nullptr;
        group_cache_.pop_back();
      }
      group_cache_.push_front({std::string(k), d->checksum, std::move(*d), std::move(*stream)});
      hit = group_cache_.begin();
    }
    remember(*hit);
    decode(*hit);
    return false;
  });
}

bool shard_store::has_loose_chunks(int64_t b) const {
  const std::string from = chunk_prefix(tier::raw, b, 0);
  const std::string to = chunk_prefix(tier::raw, b, UINT32_MAX) + std::string(9, '\xff');
  bool any = false;
  kv_->scan(kv::table::chunks, from, to, [&](std::string_view, std::string_view) {
    any = true;
    return false;
  });
  auto it = pending_chunks_.lower_bound(from);
  return any || (it != pending_chunks_.end() && it->first < to);
}

void shard_store::read_raw(uint32_t sn, int64_t mint, int64_t maxt, std::vector<sample>& out, read_memo* memo) const {
  const int64_t span = block_span(tier::raw);
  const auto& seen = seen_[static_cast<int>(tier::raw)];
  size_t first = out.size();
  std::optional<uint64_t> hash;
  for (int64_t b = std::max(block_start(tier::raw, mint), seen.lo); b <= maxt && b <= seen.hi; b += span) {
    if (!hash) hash = group_hash_of(sn);
    // Compacted samples first: on equal timestamps the older copy wins.
    if (memo && !memo->at(b)) memo->blocks.push_back({b, has_loose_chunks(b)});
    read_group(sn, *hash, b, mint, maxt, out, memo);
    if (!memo || memo->at(b)->loose) {
      auto from = chunk_prefix(tier::raw, b, sn);
      auto to = chunk_prefix(tier::raw, b, sn + 1);
      auto take = [&](std::string_view v) {
        // A damaged chunk is left out of answers; compaction reports it.
        size_t before = out.size();
        if (!decode_any_chunk(v, mint, maxt, out)) out.resize(before);
      };
      kv_->scan(kv::table::chunks, from, to, [&](std::string_view, std::string_view v) {
        take(v);
        return true;
      });
      for (auto it = pending_chunks_.lower_bound(from); it != pending_chunks_.end() && it->first < to; ++it)
        take(it->second);
    }
    if (b > std::numeric_limits<int64_t>::max() - span) break;
  }
  auto newer = [](const sample& a, const sample& b) { return a.t >= b.t; };
  if (out.size() - first > 1 && std::adjacent_find(out.begin() + first, out.end(), newer) != out.end()) {
    std::vector<sample> mine(out.begin() + first, out.end());
    sort_unique(mine);
    out.resize(first);
    out.insert(out.end(), mine.begin(), mine.end());
  }
}

void shard_store::read_series(uint32_t ref, int64_t mint, int64_t maxt, std::vector<sample>& out,
                              read_memo* memo) const {
  const auto& h = heads_[ref];
  if (memo && out.empty()) out.reserve(memo->last_count);
  read_raw(h.sn, mint, maxt, out, memo);
  size_t sealed = out.size();
  h.collect(mint, maxt, out);
  if (out.size() != sealed) sort_unique(out);
  if (!memo) return;
  memo->last_count = out.size();
  if (out.capacity() > 2 * out.size() + 64) out.shrink_to_fit();  // a small series after a large one
}

std::vector<series> shard_store::select(const matchers& ms, int64_t mint, int64_t maxt) const {
  // In the order of the packed parts (metric name, then series number), so
  // that each part is decompressed once (group_cache_), then by labels.
  const std::vector<uint32_t> order = in_parts_order(candidates(ms, mint, maxt));
  std::vector<series> read(order.size());
  read_memo memo;
  for (size_t i = 0; i < order.size(); ++i) read_series(order[i], mint, maxt, read[i].samples, &memo);
  std::vector<size_t> by_label(order.size());
  std::iota(by_label.begin(), by_label.end(), size_t{0});
  std::sort(by_label.begin(), by_label.end(),
            [&](size_t a, size_t b) { return index_.labels_less(order[a], order[b]); });
  std::vector<series> out;
  out.reserve(order.size());
  for (size_t i : by_label) {
    if (read[i].samples.empty()) continue;
    read[i].lbls = index_.labels_of(order[i]);
    out.push_back(std::move(read[i]));
  }
  return out;
}

status shard_store::select_each(const matchers& ms, int64_t mint, int64_t maxt,
                                const std::function<status(series&)>& fn) const {
  std::vector<uint32_t> refs;
  for (uint32_t ref : candidates(ms, mint, maxt)) refs.push_back(ref);
  std::sort(refs.begin(), refs.end(), [&](uint32_t a, uint32_t b) { return index_.labels_less(a, b); });
  std::vector<std::pair<labels, uint32_t>> order;
  order.reserve(refs.size());
  for (uint32_t ref : refs) order.emplace_back(index_.labels_of(ref), ref);
  read_memo memo;
  std::vector<size_t> by_part;  // positions in `order` of a run, in the parts' order
  std::vector<std::vector<sample>> run;
  size_t series_read = 0, samples_read = 0, n = 0;
  for (size_t from = 0; from < order.size(); from += n) {
    size_t per_series = series_read ? std::max<size_t>(1, samples_read / series_read) : 0;
    n = std::min(order.size() - from,
                 per_series ? std::clamp<size_t>(each_run_samples / per_series, 16, 16384) : size_t{64});
    by_part.resize(n);
    std::iota(by_part.begin(), by_part.end(), from);
    std::sort(by_part.begin(), by_part.end(),
              [&](size_t a, size_t b) { return parts_before(order[a].second, order[b].second); });
    run.assign(n, {});
    for (size_t i : by_part) {
      read_series(order[i].second, mint, maxt, run[i - from], &memo);
      samples_read += run[i - from].size();
    }
    series_read += n;
    for (size_t i = 0; i < n; ++i) {
      if (run[i].empty()) continue;
      series s{std::move(order[from + i].first), std::move(run[i])};
      if (auto st = fn(s); !st) return st;
    }
  }
  return status::ok();
}

std::vector<bucket_series> shard_store::select_buckets(const matchers& ms, int64_t mint, int64_t maxt, tier t) const {
  std::vector<bucket_series> out;
  if (t == tier::raw) return out;
  const int64_t span = block_span(t);
  const auto& seen = seen_[static_cast<int>(t)];
  // By metric name, then series number: the order of rollup group parts.
  // The blocks are read a few at a time (fewer than the parts the shard keeps
  // decompressed), each series through those blocks, so that a selection
  // decompresses each part once however many blocks it spans.
  const std::vector<uint32_t> order = in_parts_order(candidates(ms, mint, maxt));
  std::vector<int64_t> blocks;
  for (int64_t b = std::max(block_start(t, mint), seen.lo); b <= maxt && b <= seen.hi; b += span) {
    blocks.push_back(b);
    if (b > std::numeric_limits<int64_t>::max() - span) break;
  }
  constexpr size_t blocks_at_once = rollup_cache_size / 2;
  std::vector<bucket_series> found(order.size());
  for (size_t from = 0; from < blocks.size(); from += blocks_at_once)
    for (size_t i = 0; i < order.size(); ++i)
      for (size_t k = from; k < std::min(blocks.size(), from + blocks_at_once); ++k) {
        auto run = read_rollup(t, blocks[k], heads_[order[i]].sn);
        if (!run) continue;
        for (auto& e : *run)
          if (e.first >= mint && e.first <= maxt) found[i].buckets.push_back(std::move(e));
      }
  for (size_t i = 0; i < order.size(); ++i) {
    if (found[i].buckets.empty()) continue;
    found[i].lbls = index_.labels_of(order[i]);
    out.push_back(std::move(found[i]));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return by_labels(a.lbls, b.lbls); });
  return out;
}

std::vector<labels> shard_store::select_labels(const matchers& ms, int64_t mint, int64_t maxt) const {
  std::vector<labels> out;
  for (uint32_t ref : candidates(ms, mint, maxt)) out.push_back(index_.labels_of(ref));
  std::sort(out.begin(), out.end(), by_labels);
  return out;
}

std::vector<std::string> shard_store::label_names(const matchers& ms, int64_t mint, int64_t maxt) const {
  return index_.label_names(candidates(ms, mint, maxt));
}

std::vector<std::string> shard_store::label_values(const std::string& name, const matchers& ms, int64_t mint,
                                                   int64_t maxt) const {
  return index_.label_values(name, candidates(ms, mint, maxt));
}

index::series_index::cardinality shard_store::cardinality(size_t top_n) const { return index_.stats(top_n); }

bool shard_store::has_series(const labels& canonical) const { return index_.find(canonical).has_value(); }

}  // namespace strata::persistence
