// shard_store: open, replay and the write path (group commit).
#include "persistence/shard_store.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory_resource>
#include <optional>
#include <unordered_map>
#include <utility>

#include "persistence/packed_group.hpp"
#include "persistence/wal_record.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::persistence {
namespace {

constexpr std::string_view next_sn_key = "next_sn";
constexpr size_t max_named_rejections = 3;

// Why the labels of `b` are not canonical, or nothing.
std::optional<std::string> not_canonical(const write_batch& b) {
  for (size_t i = 0; i < b.size(); ++i) {
    const labels& ls = b[i].lbls;
    for (size_t k = 0; k < ls.size(); ++k) {
      if (ls[k].name.empty())
        return "series " + std::to_string(i) + " " + to_string(ls) + ": label " + std::to_string(k) +
               " has an empty name";
      if (k > 0 && !(ls[k - 1].name < ls[k].name))
        return "series " + std::to_string(i) + " " + to_string(ls) +
               ": labels are not sorted by name or a name repeats (\"" + ls[k].name + "\")";
    }
  }
  return std::nullopt;
}

status wal_corruption(const std::string& dir, uint64_t seq, const std::string& cause) {
  char key[19];
  std::snprintf(key, sizeof key, "0x%016llx", static_cast<unsigned long long>(seq));
  return error(strata_errc::corruption,
               "wal record " + std::to_string(seq) + " (key " + key + " in table \"wal\" of " + dir + "): " + cause);
}

std::string format_duration(int64_t ms) {
  if (ms % hour_ms == 0) return std::to_string(ms / hour_ms) + "h";
  if (ms % minute_ms == 0) return std::to_string(ms / minute_ms) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

// One batch of a group on its way through append_group().
struct shard_store::batch_plan {
  write_batch batch;               // decoded; only accepted samples once planned
  std::vector<uint64_t> hashes;    // per series of `batch` when known (wire::series_hash), else empty
  std::vector<uint32_t> refs;      // per series of `batch`
  // The WAL record (header, then the accepted samples by series number).
  std::string record;
  size_t accepted = 0;
  size_t rejected = 0;
  std::string rejections;          // the first few, named
  std::optional<status> failed;    // decode or canonical-label error: the batch is left out
};

shard_store::shard_store(store_options o) : opts_(std::move(o)) {}
shard_store::~shard_store() = default;

result<std::unique_ptr<shard_store>> shard_store::open(const store_options& o) {
  std::unique_ptr<shard_store> s(new shard_store(o));
  if (o.kv) {
    s->kv_ = o.kv;
  } else {
    kv::lmdb_options lo;
    lo.dir = o.dir;
    lo.sync = o.sync;
    auto kv = kv::open_lmdb(lo);
    if (!kv) return kv.error();
    s->kv_ = std::shared_ptr<kv::store>(std::move(*kv));
  }
  if (auto st = s->load(); !st) return st;
  if (auto st = s->replay(); !st) return st;
  if (auto st = s->commit_pending(); !st) return st;
  return s;
}

status shard_store::load() {
  std::string v;
  if (auto st = kv_->get(kv::table::meta, next_sn_key, v); st) {
    if (v.size() != 4) return error(strata_errc::corruption, "meta key next_sn of " + opts_.dir + " is not 4 bytes");
    next_sn_ = 0;
    for (char c : v) next_sn_ = (next_sn_ << 8) | static_cast<uint8_t>(c);
  } else if (st.code() != strata_errc::not_found) {
    return st;
  }
  if (auto st = kv_->get(kv::table::meta, "wal_first", v); st) {
    if (v.size() != wal_key_size) return error(strata_errc::corruption, "meta key wal_first of " + opts_.dir + " is not 8 bytes");
    wal_first_ = next_seq_ = decode_wal_key(v);
  } else if (st.code() != strata_errc::not_found) {
    return st;
  }
  ref_of_sn_.assign(next_sn_, UINT32_MAX);
  status bad = status::ok();
  auto st = kv_->scan(kv::table::series, "", "", [&](std::string_view k, std::string_view val) {
    auto key = decode_series_key(k);
    if (!key) {
      bad = error(strata_errc::corruption, "table \"series\" of " + opts_.dir + ": " + key.error().message());
      return false;
    }
    auto [kind, sn] = *key;
    if (sn >= next_sn_) {
      bad = error(strata_errc::corruption, "table \"series\" of " + opts_.dir + ": series number " +
                                               std::to_string(sn) + " is not below next_sn " + std::to_string(next_sn_));
      return false;
    }
    if (kind == 'L') {
      auto ls = index::series_index::decode_series(val);
      if (!ls) {
        bad = error(strata_errc::corruption, "labels of series " + std::to_string(sn) + " in " + opts_.dir + ": " +
                                                 ls.error().message());
        return false;
      }
      auto [ref, created] = index_.get_or_add(*ls);
      if (!created) {
        bad = error(strata_errc::corruption, "series " + std::to_string(sn) + " in " + opts_.dir + " repeats " +
                                                 to_string(*ls));
        return false;
      }
      if (heads_.size() <= ref) heads_.resize(ref + 1);
      heads_[ref].sn = sn;
      ref_of_sn_[sn] = ref;
    } else {
      auto state = decode_seal_state(val);
      if (!state) {
        bad = error(strata_errc::corruption, "seal state of series " + std::to_string(sn) + " in " + opts_.dir +
                                                 ": " + state.error().message());
        return false;
      }
      if (ref_of_sn_[sn] == UINT32_MAX) return true;  // labels removed in the same commit: ignore
      auto& h = heads_[ref_of_sn_[sn]];
      h.sealed_through = state->through;
      h.max_t = state->max_t;
      h.max_v_bits = state->max_v_bits;
    }
    return true;
  });
  if (!st) return st;
  if (!bad) return bad;

  // Packed groups: their directories name the series they hold.
  const std::string groups_from = group_block_prefix(std::numeric_limits<int64_t>::min());
  const std::string groups_to(1, static_cast<char>(group_space + 1));
  st = scan_groups(groups_from, groups_to, [&](std::string_view, const decoded_group_key& key, std::string_view v) {
    auto d = read_group_directory(v, key.block);
    if (!d) return true;  // a damaged group is left out of answers; compaction reports it
    note_block(tier::raw, key.block);
    for (const auto& e : d->entries)
      if (e.sn < ref_of_sn_.size() && ref_of_sn_[e.sn] != UINT32_MAX) index_.note_time(ref_of_sn_[e.sn], key.block);
    return true;
  });
  if (!st) return st;

  // Which blocks each series has data in, for time-bounded label queries.
  int64_t fine_from = std::numeric_limits<int64_t>::max();
  auto note = [&](tier t, int64_t block, uint32_t sn) {
    note_block(t, block);
    if (sn >= ref_of_sn_.size() || ref_of_sn_[sn] == UINT32_MAX) return;  // removed series
    uint32_t ref = ref_of_sn_[sn];
    // Raw and 1m blocks are as fine as the index's; a 5m or 1h block marks
    // its whole span, but only before the finer tiers' data begins.
    int64_t end = block + block_span(t);
    if (t == tier::m5 || t == tier::h1) end = std::min(end, fine_from);
    for (int64_t b = block; b < end; b += block_span(tier::raw)) index_.note_time(ref, b);
  };
  for (auto t : all_tiers) {
    if (t == tier::m5) fine_from = std::min(seen_[0].lo, seen_[1].lo);
    auto table = t == tier::raw ? kv::table::chunks : kv::table::rollups;
    auto from = tier_block_prefix(t, std::numeric_limits<int64_t>::min());
    auto to = std::string(1, static_cast<char>(static_cast<uint8_t>(t) + 1));
    st = kv_->scan(table, from, to, [&](std::string_view k, std::string_view) {
      auto key = decode_data_key(k, t == tier::raw);
      if (!key) {
        bad = error(strata_errc::corruption, std::string("table \"") + (t == tier::raw ? "chunks" : "rollups") +
                                                 "\" of " + opts_.dir + ": " + key.error().message());
        return false;
      }
      note(t, key->block, key->sn);
      return true;
    });
    if (!st) return st;
    if (!bad) return bad;
    if (t == tier::raw) continue;
    // Rollup groups: their directories name the series they hold.
    st = scan_rollup_groups(rollup_group_block_prefix(t, std::numeric_limits<int64_t>::min()),
                            rollup_group_block_prefix(static_cast<tier>(static_cast<uint8_t>(t) + 1),
                                                      std::numeric_limits<int64_t>::min()),
                            [&](const decoded_rollup_group_key& key, std::string_view v) {
                              auto d = read_rollup_group_directory(v);
                              if (!d) return true;  // left out of answers; compaction reports it
                              for (const auto& e : d->entries) note(t, key.block, e.sn);
                              return true;
                            });
    if (!st) return st;
  }
  return status::ok();
}

status shard_store::replay() {
  status bad = status::ok();
  bool first = true;
  auto st = kv_->scan(kv::table::wal, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != wal_key_size) {
      bad = error(strata_errc::corruption, "wal key of " + std::to_string(k.size()) + " bytes after record " +
                                               std::to_string(next_seq_ - 1) + " in " + opts_.dir +
                                               " is not an 8-byte sequence number");
      return false;
    }
    uint64_t seq = decode_wal_key(k);
    auto payload = decode_wal_record(v);
    if (!payload) {
      bad = wal_corruption(opts_.dir, seq, payload.error().message());
      return false;
    }
    // A record's samples as (ref, sample) in record order, checked whole before any is applied.
    std::vector<std::pair<uint32_t, const sample*>> samples;
    write_batch batch;  // version 1: series by labels
    wal_samples by_sn;  // version 2: series by number
    if (payload->version == wal_record_version_batch) {
      auto b = wire::decode_batch(payload->bytes);
      if (!b) {
        bad = wal_corruption(opts_.dir, seq, b.error().message());
        return false;
      }
      if (auto why = not_canonical(*b)) {
        bad = wal_corruption(opts_.dir, seq, *why);
        return false;
      }
      batch = std::move(*b);
      for (const auto& s : batch) {
        uint32_t ref = ref_for(s.lbls);
        for (const auto& x : s.samples) samples.emplace_back(ref, &x);
      }
    } else {
      auto d = decode_wal_samples(payload->bytes);
      if (!d) {
        bad = wal_corruption(opts_.dir, seq, d.error().message());
        return false;
      }
      by_sn = std::move(*d);
      const sample* x = by_sn.samples.data();
      for (const auto& e : by_sn.series) {
        if (e.sn >= ref_of_sn_.size()) {
          bad = wal_corruption(opts_.dir, seq, "series number " + std::to_string(e.sn) + " is not below next_sn " +
                                                   std::to_string(ref_of_sn_.size()));
          return false;
        }
        // UINT32_MAX: retention removed the series, which it does only once
        // every sample of it is sealed; its samples keep their positions.
        for (uint32_t n = 0; n < e.count; ++n) samples.emplace_back(ref_of_sn_[e.sn], x++);
      }
    }
    if (first) wal_first_ = seq;
    first = false;
    next_seq_ = seq + 1;
    wal_sizes_[seq] = v.size();
    wal_bytes_ += v.size();
    uint32_t i = 0;
    for (const auto& [ref, x] : samples) {
      if (ref != UINT32_MAX) apply(ref, x->t, x->v, {seq, i});
      ++i;
    }
    return true;
  });
  if (!st) return st;
  if (first) wal_first_ = next_seq_;
  return bad;
}

uint32_t shard_store::ref_for(const labels& ls) { return ref_for(ls, wire::series_hash(ls)); }

uint32_t shard_store::ref_for(const labels& ls, uint64_t hash) {
  auto [ref, created] = index_.get_or_add(ls, hash);
  if (heads_.size() <= ref) heads_.resize(ref + 1);
  if (created) {
    uint32_t sn = next_sn_++;
    heads_[ref].sn = sn;
    ref_of_sn_.push_back(ref);
    pending_series_records_[series_labels_key(sn)] = index::series_index::encode_series(ls);
    next_sn_dirty_ = true;
  }
  return ref;
}

void shard_store::apply(uint32_t ref, int64_t t, double v, wal_pos pos) {
  auto& h = heads_[ref];
  if (!(h.sealed_through < pos)) return;  // replay: already in a sealed chunk
  auto how = h.check(t, v, opts_.ooo_window_ms);
  if (how == verdict::duplicate || how == verdict::too_old || how == verdict::conflicting) return;
  if (how == verdict::append && h.must_seal_before(t))
    seal(ref, pos.sample > 0 ? wal_pos{pos.seq, pos.sample - 1} : wal_pos{pos.seq - 1, UINT32_MAX});
  if (!h.has_unsealed()) {
    h.first_seq = pos.seq;
    ++unsealed_from_[pos.seq];
  }
  if (how == verdict::out_of_order || h.open.count() == 0) index_.note_time(ref, t);
  h.insert(t, v, how);
  ++stats_.head_samples;
  if (h.open.count() >= max_open_chunk_samples) seal(ref, pos);
}

status shard_store::append(const write_batch& b) {
  if (auto why = not_canonical(b)) return error(strata_errc::bad_request, "append: " + *why);
  std::vector<batch_plan> plans(1);
  plans[0].batch = b;
  auto r = append_group(plans);
  if (!r[0]) return r[0].error();
  return status::ok();
}

result<size_t> shard_store::append_encoded(std::string_view batch_bytes) {
  return std::move(append_encoded_group({batch_bytes}).front());
}

std::vector<result<size_t>> shard_store::append_encoded_group(const std::vector<std::string_view>& batches) {
  std::vector<group_batch> group(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    group[i].encoded = true;
    group[i].bytes = batches[i];
  }
  return append_batches(group);
}

std::vector<result<size_t>> shard_store::append_batches(std::vector<group_batch>& batches) {
  std::vector<batch_plan> plans(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    auto& in = batches[i];
    auto& p = plans[i];
    if (!in.encoded) {
      p.batch = std::move(in.batch);
      p.hashes = std::move(in.hashes);
      continue;
    }
    auto b = wire::decode_batch(in.bytes);
    if (!b) {
      p.failed = b.error();
    } else if (auto why = not_canonical(*b)) {
      p.failed = error(strata_errc::bad_request, "append: " + *why);
    } else {
      p.batch = std::move(*b);
    }
  }
  return append_group(plans);
}

std::vector<result<size_t>> shard_store::append_group(std::vector<batch_plan>& plans) {
  // Check every sample against the head and against the samples accepted
  // before it in this group, keeping only what will be accepted.
  struct newest {
    int64_t t;
    uint64_t bits;
  };
  // One node per series of the group: taken from one buffer and released at
  // once (a malloc and a free per series showed in ingest profiles).
  size_t group_series = 0;
  for (const auto& p : plans) group_series += p.batch.size();
  std::pmr::monotonic_buffer_resource group_memory(group_series * 48 + 1024);
  std::pmr::unordered_map<uint32_t, newest> in_group(&group_memory);
  in_group.reserve(group_series);
  for (auto& p : plans) {
    if (p.failed) continue;
    p.refs.reserve(p.batch.size());
    for (size_t k = 0; k < p.batch.size(); ++k) {
      auto& s = p.batch[k];
      if (s.samples.empty()) {  // creates no series
        p.refs.push_back(UINT32_MAX);
        continue;
      }
      size_t series_before = index_.size();
      uint32_t ref = p.hashes.empty() ? ref_for(s.lbls) : ref_for(s.lbls, p.hashes[k]);
      if (index_.size() > series_before) ++stats_.series_created;
      p.refs.push_back(ref);
      const auto& h = heads_[ref];
      size_t kept = 0;
      for (const auto& x : s.samples) {
        auto how = h.check(x.t, x.v, opts_.ooo_window_ms);
        auto g = in_group.find(ref);
        if (g != in_group.end() && x.t <= g->second.t && how != verdict::too_old && how != verdict::conflicting) {
          if (x.t == g->second.t)
            how = g->second.bits == value_bits(x.v) ? verdict::duplicate : verdict::conflicting;
          else if (x.t < std::max(h.max_t, g->second.t) - opts_.ooo_window_ms)
            how = verdict::too_old;
        }
        if (how == verdict::too_old || how == verdict::conflicting) {
          if (how == verdict::too_old) ++stats_.rejected_too_old; else ++stats_.rejected_conflicting;
          if (p.rejected++ < max_named_rejections) {
            int64_t newest_t = std::max(h.max_t, g == in_group.end() ? h.max_t : g->second.t);
            if (!p.rejections.empty()) p.rejections += "; ";
            p.rejections += how == verdict::too_old
                                ? "out of order sample for series " + to_string(s.lbls) + ": t=" +
                                      std::to_string(x.t) + " is older than the newest sample (t=" +
                                      std::to_string(newest_t) + ") by more than the out-of-order window " +
                                      format_duration(opts_.ooo_window_ms)
                                : "duplicate sample for timestamp " + std::to_string(x.t) + " of series " +
                                      to_string(s.lbls) + " with a different value";
          }
          continue;
        }
        if (how == verdict::duplicate) {
          ++stats_.duplicates_dropped;
          continue;
        }
        if (g == in_group.end() || x.t > g->second.t) in_group[ref] = {x.t, value_bits(x.v)};
        s.samples[kept++] = x;
        ++p.accepted;
      }
      s.samples.resize(kept);
    }
    // The WAL record: the accepted samples under their series numbers.
    p.record.assign(wal_record_header_size, '\0');
    p.record.reserve(wal_record_header_size + p.accepted * 12 + p.batch.size() * 4);
    int64_t prev_t = 0;
    for (size_t k = 0; k < p.batch.size(); ++k)
      if (!p.batch[k].samples.empty()) append_wal_series(p.record, heads_[p.refs[k]].sn, p.batch[k].samples, prev_t);
  }
  std::vector<result<size_t>> out;
  out.reserve(plans.size());
  auto answer = [](const batch_plan& p) -> result<size_t> {
    if (p.failed) return *p.failed;
    if (p.rejected > 0)
      return error(strata_errc::bad_request,
                   std::to_string(p.rejected) + " of " + std::to_string(p.rejected + p.accepted) +
                       " samples rejected (" + std::to_string(p.accepted) + " written): " + p.rejections +
                       (p.rejected > max_named_rejections ? "; ..." : ""));
    return p.accepted;
  };

  std::vector<kv::op> ops;
  std::deque<std::string> keep;
  struct record {
    batch_plan* plan;
    uint64_t seq;
    size_t bytes;
  };
  std::vector<record> written;
  uint64_t seq = next_seq_;
  for (auto& p : plans) {
    if (p.failed || p.accepted == 0) continue;
    if (p.record.size() - wal_record_header_size > std::numeric_limits<uint32_t>::max()) {
      p.failed = error(strata_errc::bad_request, "append: batch of " +
                                                     std::to_string(p.record.size() - wal_record_header_size) +
                                                     " bytes does not fit one WAL record");
      continue;
    }
    const auto& key = keep.emplace_back(encode_wal_key(seq));
    finish_wal_record(p.record);
    ops.push_back({kv::op::kind::put, kv::table::wal, key, p.record});
    written.push_back({&p, seq++, p.record.size()});
  }
  if (!ops.empty()) {
    pending_ops(ops, keep);
    if (auto st = kv_->commit(ops); !st) {
      for (auto& p : plans)
        if (!p.failed && p.accepted > 0) p.failed = st;
    } else {
      pending_written();
      for (const auto& r : written) {
        wal_sizes_[r.seq] = r.bytes;
        wal_bytes_ += r.bytes;
      }
      // Series scraped together fill their open chunks together, so one
      // group may seal most series of the shard. Those seals commit every
      // opts_.seals_per_commit chunks, like maintain()'s, to bound the
      // pending rollup runs (the ingest's heap peak otherwise). While record
      // s is applied, next_seq_ = s caps the WAL trim of such a commit below
      // s: every record before it is applied, record s and later stay whole.
      bool mid_commit_failed = false;
      for (const auto& [p, s, bytes] : written) {
        next_seq_ = s;
        uint32_t i = 0;
        for (size_t k = 0; k < p->batch.size(); ++k) {
          for (const auto& x : p->batch[k].samples) apply(p->refs[k], x.t, x.v, {s, i++});
          // A failed commit changes nothing: what is pending goes with the next one.
          if (!mid_commit_failed && pending_chunks_.size() >= std::max<size_t>(opts_.seals_per_commit, 1))
            mid_commit_failed = !commit_pending();
        }
        stats_.samples_appended += p->accepted;
      }
      next_seq_ = seq;
    }
  }
  for (const auto& p : plans) out.push_back(answer(p));
  return out;
}

status shard_store::sync() { return kv_->sync(); }

store_stats shard_store::stats() const {
  store_stats s = stats_;
  s.series = index_.size();
  s.wal_records = wal_sizes_.size();
  s.wal_bytes = wal_bytes_;
  return s;
}

}  // namespace strata::persistence
