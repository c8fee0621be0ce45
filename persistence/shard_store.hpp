#pragma once
// The storage engine of one shard (docs/design/storage.md): a WAL with group
// commit, a Gorilla head, sealed chunks, 1m/5m/1h rollup tiers with quantile
// sketches, per-tier retention, all in one kv::store (LMDB in production).
//
// Durability: append*() return ok only after the batch's WAL record is
// committed (and fsynced unless store_options::sync is false). A batch is one
// record, so after a crash it is there whole or not at all; records, chunks,
// rollups and the WAL trim that go together share one commit.
//
// Owned by exactly one shard actor: not thread-safe.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/matcher.hpp"
#include "common/metric_metadata.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "persistence/codec/rollup.hpp"
#include "persistence/head.hpp"
#include "persistence/index/series_index.hpp"
#include "persistence/keys.hpp"
#include "persistence/kv/store.hpp"
#include "persistence/packed_group.hpp"
#include "persistence/rollup_group.hpp"

namespace strata::persistence {

// Rollup buckets of one tier that a commit wrote (folded when raw samples
// sealed into chunks): how many series and windows, and the window starts.
struct rollup_written {
  tier t = tier::m1;
  size_t series = 0;
  size_t windows = 0;  // buckets written (series x windows)
  int64_t first_window_ms = 0, last_window_ms = 0;
};

struct store_options {
  std::string dir;        // LMDB environment (created if missing); ignored when `kv` is given
  bool sync = true;       // fsync on every commit (false for --wal-sync=interval)
  int64_t ooo_window_ms = hour_ms;  // out-of-order samples accepted this far behind a series' newest
  retention_options retention;
  size_t wal_max_bytes = 64 << 20;  // past this, the series holding the oldest WAL records are sealed
  // maintain() and flush() commit after every this many series they seal, so
  // that one commit's chunks, rollup runs and LMDB dirty pages stay bounded
  // whatever the number of series.
  size_t seals_per_commit = 256;
  // Background compaction (maintain): this often, maintain() looks for the
  // oldest closed block (it ended more than ooo_window_ms and a minute before
  // the newest sample and the clock) with loose chunks or rollup records, and
  // then rewrites one metric name of it per call, as compact() would. 0: only
  // compact() compacts.
  int64_t compact_every_ms = 0;
  // Tests and tools may hand in their own store (memory, fault-injecting).
  std::shared_ptr<kv::store> kv;
  // Runs after each commit that wrote rollup buckets, on the thread that
  // committed (the shard's); must not block. Empty: nothing.
  std::function<void(const std::vector<rollup_written>&)> on_rollups;
};

struct store_stats {
  size_t series = 0;           // live series in the index
  size_t head_samples = 0;     // samples not yet sealed
  uint64_t wal_records = 0;    // records in the WAL (not yet trimmed)
  uint64_t wal_bytes = 0;
  uint64_t chunks_written = 0;   // since open
  uint64_t rollups_written = 0;  // rollup records written since open
  uint64_t samples_appended = 0; // since open (not counting replay)
  uint64_t series_created = 0;   // by appends since open (not counting replay)
  uint64_t rejected_too_old = 0, rejected_conflicting = 0, duplicates_dropped = 0;
  uint64_t blocks_deleted = 0;   // by retention, all tiers
  uint64_t names_compacted = 0;  // metric names of closed blocks rewritten by maintain()
};

// One series and its rollup buckets of one tier (select_buckets).
struct bucket_series {
  labels lbls;
  std::vector<std::pair<int64_t, codec::rollup_bucket>> buckets;  // by window start
};

struct compact_stats {
  uint64_t chunks_before = 0, chunks_after = 0;    // raw: loose chunks and group parts read, parts written
  uint64_t rollups_before = 0, rollups_after = 0;  // rollup tiers: loose records and group parts read, parts written
};

// One shard's part of /api/v1/status/tsdb (shard_store_metadata.cpp). It is
// complete (every label pair with its series count, not a top-n), so the
// answers of many shards merge exactly: counts add, distinct pairs and values
// are a union, and the top-n is taken only after the merge.
struct tsdb_summary {
  uint64_t series = 0;  // live series in the index
  uint64_t chunks = 0;  // stored chunks (all tiers) plus open head chunks
  int64_t min_t = std::numeric_limits<int64_t>::max();  // oldest raw sample; max() when none
  int64_t max_t = std::numeric_limits<int64_t>::min();  // newest sample; min() when none
  struct pair {
    std::string name, value;
    uint64_t series = 0;
  };
  std::vector<pair> pairs;  // sorted by (name, value); values are never empty
};

class shard_store {
 public:
  // Opens (or creates) the store and replays the WAL into the head.
  // strata_errc::storage when the kv store fails; strata_errc::corruption
  // naming the table, key and cause when a record does not decode (committed
  // data cannot be torn, so that is real damage; nothing is skipped).
  static result<std::unique_ptr<shard_store>> open(const store_options& o);
  ~shard_store();
  shard_store(const shard_store&) = delete;
  shard_store& operator=(const shard_store&) = delete;

  // Appends the batch as one WAL record, committed before returning.
  // REQUIRES: canonical labels (checked: bad_request otherwise).
  // Samples are checked against the head first: too old (beyond the
  // out-of-order window) and conflicting duplicates are rejected, the rest
  // is written and ok is returned only if nothing was rejected; otherwise
  // bad_request names each rejected series (up to a few) and the counts.
  // Exact duplicates are dropped silently (a retried batch changes nothing).
  status append(const write_batch& b);
  // The same for a batch encoded with wire::encode_batch (as shards receive
  // them).
  result<size_t> append_encoded(std::string_view batch_bytes);
  // Group commit: every batch in ONE commit. Answers per batch, in order: the
  // count of accepted samples, or why it failed. A batch that does not decode
  // fails alone; a failed commit fails every batch and changes nothing.
  std::vector<result<size_t>> append_encoded_group(const std::vector<std::string_view>& batches);
  // One batch of a mixed group commit (append_batches): encoded bytes as
  // remote collectors and hinted handoff send them (`encoded`: decoded and
  // checked here), or a batch in memory from this node's collector, each
  // series with its wire::series_hash. Either way the WAL record holds the
  // accepted samples under their series numbers.
  // REQUIRES for a batch in memory: canonical labels (the collector checked
  // them) and hashes.size() == batch.size().
  struct group_batch {
    bool encoded = false;
    std::string_view bytes;
    write_batch batch;
    std::vector<uint64_t> hashes;
  };
  // Group commit of both kinds, with append_encoded_group's answers.
  std::vector<result<size_t>> append_batches(std::vector<group_batch>& batches);

  // Series matching all matchers with raw samples in [mint, maxt], only those
  // samples, sorted by labels; samples sorted by time, one per timestamp.
  std::vector<series> select(const matchers& ms, int64_t mint, int64_t maxt) const;
  // select's series one at a time, in the same order (by labels), so that a
  // caller folding them never holds them all; fn returns an error to stop,
  // which is returned. The series are read in runs (consecutive in label
  // order), each run in the parts' order: a name's packed part is
  // decompressed at most once per run instead of once per series. A run holds
  // about each_run_samples samples (sized from the series read so far; the
  // first run is 64 series).
  static constexpr size_t each_run_samples = size_t{1} << 21;
  status select_each(const matchers& ms, int64_t mint, int64_t maxt,
                     const std::function<status(series&)>& fn) const;
  // The rollup buckets of tier `t` (not raw) whose window starts in [mint, maxt].
  std::vector<bucket_series> select_buckets(const matchers& ms, int64_t mint, int64_t maxt, tier t) const;
  // Label queries bound time by block: a series counts when it has data in a
  // 2-hour block that overlaps [mint, maxt].
  std::vector<labels> select_labels(const matchers& ms, int64_t mint, int64_t maxt) const;
  std::vector<std::string> label_names(const matchers& ms, int64_t mint, int64_t maxt) const;
  std::vector<std::string> label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt) const;
  index::series_index::cardinality cardinality(size_t top_n) const;
  tsdb_summary summarize() const;

  // Metric metadata (shard_store_metadata.cpp): one entry per family name,
  // the latest written, kept in the meta table under "metadata/" + family
  // (docs/format/keys.md). Writes, in one commit, only the entries that differ
  // from what is stored (within `md`, a later entry of a family wins) and
  // answers how many it wrote. REQUIRES: check_metadata() passed for each.
  result<size_t> put_metadata(const std::vector<metric_metadata>& md);
  // Every stored entry in family order, or only `family`'s when not empty.
  // corruption names the key when a stored value does not decode.
  result<std::vector<metric_metadata>> list_metadata(const std::string& family) const;
  store_stats stats() const;
  // Whether a live series has exactly these labels. REQUIRES: canonical labels.
  bool has_series(const labels& canonical) const;
  const store_options& options() const { return opts_; }

  // Seals every series' head and writes everything pending; the WAL is then
  // empty. (POST /api/v1/admin/flush)
  status flush();
  // flush(), then rewrites every raw block so that each series has one packed
  // chunk per block (a few where one would not fit an LMDB leaf page; fewer
  // keys, better compression), then rewrites the kv store
  // to its live data (kv::store::compact_copy: the file shrinks).
  // (POST /api/v1/admin/compact)
  result<compact_stats> compact();
  // Housekeeping, called periodically with the wall clock: writes chunks
  // sealed since the last commit, seals series that hold the WAL back past
  // wal_max_bytes, applies retention relative to `now_ms`, compacts one
  // metric name of a closed block (store_options::compact_every_ms), and
  // unmaps the file pages it touched (kv::store::release_mapped_pages).
  status maintain(int64_t now_ms);
  // Flushes committed transactions to disk (for sync = false).
  status sync();

 private:
  explicit shard_store(store_options o);
  status load();
  status replay();

  struct batch_plan;  // shard_store.cpp
  std::vector<result<size_t>> append_group(std::vector<batch_plan>& plans);
  uint32_t ref_for(const labels& ls);  // creates series (and their pending 'L' record)
  uint32_t ref_for(const labels& ls, uint64_t hash);
  void apply(uint32_t ref, int64_t t, double v, wal_pos pos);

  // shard_store_seal.cpp
  void seal(uint32_t ref, wal_pos through);
  void put_chunk(uint32_t sn, std::vector<sample> samples);
  // Folds sealed samples into the rollup tiers. `after_all`: every sample is
  // newer than all the series sealed before, so its windows go to new pieces
  // that nothing is read for; else (and every max_rollup_pieces seals) the
  // block's record is read, merged and written whole.
  void fold_rollups(head_series& h, const std::vector<sample>& samples, bool after_all);
  // The pending piece of (tr, block, sn) starting at first_t; new and empty, but for a second seal at that time.
  bucket_run& take_piece(tier tr, int64_t block, uint32_t sn, int64_t first_t);
  // The pending whole record of (tr, block, sn), read and merged from what is stored and pending when new.
  bucket_run& take_whole(tier tr, int64_t block, uint32_t sn);
  wal_pos last_committed() const { return {next_seq_ - 1, UINT32_MAX}; }
  uint64_t wal_trim_point() const;
  void pending_ops(std::vector<kv::op>& ops, std::deque<std::string>& keep) const;
  void pending_written();
  status commit_pending();
  // Seals the series with unsealed samples for which `which` holds,
  // committing every opts_.seals_per_commit of them, and commits the rest.
  status seal_and_commit(const std::function<bool(const head_series&)>& which);
  status apply_retention(int64_t now_ms);

  // shard_store_read.cpp
  Roaring candidates(const matchers& ms, int64_t mint, int64_t maxt) const;
  // What one selection learns about the store as it reads its series one
  // after the other, valid for that call only (nothing writes in between),
  // per block it reads: the packed part read last, found again without a
  // seek while the series numbers stay in its run, and whether the block
  // holds loose chunks; and how many samples the series read last had.
  struct unpacked_group;
  struct read_memo {
    struct block_memo {
      int64_t block = 0;
      bool loose = true;  // has loose chunks
      uint64_t hash = 0;
      uint32_t first_sn = 0, last_sn = 0;    // the part's members
      const unpacked_group* part = nullptr;  // in group_cache_; null: none
    };
    std::vector<block_memo> blocks;
    // The series of one name are read one after the other and usually hold
    // as many samples each: reserved up front, a series' bodies append
    // without moving what the ones before them decoded.
    size_t last_count = 0;
    block_memo* at(int64_t b) {
      for (auto& m : blocks)
        if (m.block == b) return &m;
      return nullptr;
    }
  };
  void read_raw(uint32_t sn, int64_t mint, int64_t maxt, std::vector<sample>& out, read_memo* memo = nullptr) const;
  // The samples of series `ref` in [mint, maxt], sealed and in its head,
  // sorted, one per timestamp.
  void read_series(uint32_t ref, int64_t mint, int64_t maxt, std::vector<sample>& out,
                   read_memo* memo = nullptr) const;
  // The hash of the series' metric name: which packed groups may hold it.
  uint64_t group_hash_of(uint32_t sn) const;
  // Whether series a comes before b by metric name (its group hash), then
  // series number: the order of the packed parts and rollup group parts, in
  // which a selection reads each part once.
  bool parts_before(uint32_t a, uint32_t b) const;
  std::vector<uint32_t> in_parts_order(const Roaring& refs) const;
  void read_group(uint32_t sn, uint64_t hash, int64_t block, int64_t mint, int64_t maxt, std::vector<sample>& out,
                  read_memo* memo) const;
  // Whether raw block b has loose chunks, stored or pending.
  bool has_loose_chunks(int64_t b) const;
  // The blocks with a key in [first(min), to) of `table`, ascending, one seek
  // per block: first(b) is the first key of block b's range, block_of reads a
  // key's block (nullopt ends the list: not a key of this range).
  using block_of_fn = std::function<std::optional<int64_t>(std::string_view)>;
  result<std::vector<int64_t>> blocks_with_keys(kv::table table, int64_t span,
                                                const std::function<std::string(int64_t)>& first,
                                                const std::string& to, const block_of_fn& block_of) const;
  // blocks_with_keys over the loose data keys (chunks, rollup records) of tier t below `to`.
  result<std::vector<int64_t>> data_blocks(tier t, const std::string& to) const;
  status compact_block(int64_t block, compact_stats& cs);
  // The metric names (group hashes) with loose chunks (raw) or rollup records
  // in block b of tier t, each with its series numbers, ascending.
  using loose_names = std::map<uint64_t, std::vector<uint32_t>>;
  result<loose_names> loose_names_of(tier t, int64_t block, compact_stats& cs) const;
  // maintain()'s part of compaction: one name of the oldest closed block.
  status compact_closed(int64_t now_ms);
  struct compact_item {
    tier t;
    int64_t block;
    uint64_t hash;
    std::vector<uint32_t> sns;
  };
  std::deque<compact_item> compact_queue_;  // names of the block being compacted in the background
  int64_t next_compact_scan_ms_ = 0;
  // Merges one metric name's parts and loose chunks of a block into new parts, one commit.
  status compact_name(int64_t block, uint64_t hash, const std::vector<uint32_t>& loose_sns, compact_stats& cs);
  // Calls fn(key of the first segment, its decoded key, the part's bytes) for
  // every packed group part in [from, to) of the chunks table, its segments
  // joined (a part missing a segment comes as empty bytes: damaged), until fn
  // returns false. corruption names a key that is not a group key.
  using group_fn = std::function<bool(std::string_view, const decoded_group_key&, std::string_view)>;
  status scan_groups(const std::string& from, const std::string& to, const group_fn& fn) const;

  // shard_store_rollups.cpp
  // What the rollups table holds for series sn in block (t, b) besides its
  // group section: the whole record, if one was written, and the pieces
  // appended after it, in key order.
  struct stored_rollup {
    std::optional<bucket_run> whole;
    std::vector<std::string> piece_keys;
    std::vector<bucket_run> pieces;
  };
  result<stored_rollup> stored_rollup_of(tier t, int64_t block, uint32_t sn) const;
  // The buckets of series sn in block (t, b): its whole record (pending,
  // stored, else its section of its name's rollup group), then the pieces
  // appended after it (stored unless the whole record is pending, which was
  // folded from them; then pending ones). The keys of the stored pieces
  // merged go to `stored_pieces` when given.
  result<bucket_run> read_rollup(tier t, int64_t block, uint32_t sn,
                                 std::vector<std::string>* stored_pieces = nullptr) const;
  result<bucket_run> read_rollup_group(tier t, int64_t block, uint32_t sn) const;
  status compact_rollups(compact_stats& cs);
  status compact_rollup_block(tier t, int64_t block, compact_stats& cs);
  // Merges one metric name's rollup group parts and loose records of a block into new parts, one commit.
  status compact_rollup_name(tier t, int64_t block, uint64_t hash, const std::vector<uint32_t>& loose_sns,
                             compact_stats& cs);
  // As scan_groups, for the rollup groups in [from, to) of the rollups table.
  using rollup_group_fn = std::function<bool(const decoded_rollup_group_key&, std::string_view)>;
  status scan_rollup_groups(const std::string& from, const std::string& to, const rollup_group_fn& fn) const;

  // The first and last block start each tier has data in (stored or pending),
  // so reads over open-ended ranges visit only blocks that exist.
  struct block_span_seen {
    int64_t lo = std::numeric_limits<int64_t>::max();
    int64_t hi = std::numeric_limits<int64_t>::min();
    void note(int64_t b) {
      lo = std::min(lo, b);
      hi = std::max(hi, b);
    }
  };
  block_span_seen seen_[4];  // by tier
  void note_block(tier t, int64_t block) { seen_[static_cast<int>(t)].note(block); }

  store_options opts_;
  std::shared_ptr<kv::store> kv_;
  index::series_index index_;
  std::vector<head_series> heads_;   // by index ref
  std::vector<uint32_t> ref_of_sn_;  // by series number; UINT32_MAX once removed
  mutable std::vector<uint64_t> name_hash_of_sn_;  // group_hash_of's answers by series number; 0: not computed
  uint64_t next_seq_ = 1;            // the next WAL record
  uint64_t wal_first_ = 1;           // the oldest record not trimmed
  std::map<uint64_t, uint64_t> wal_sizes_;        // seq -> record bytes, untrimmed records
  uint64_t wal_bytes_ = 0;
  std::map<uint64_t, uint32_t> unsealed_from_;    // first_seq -> series holding it
  // Written by the next commit; reads look here too.
  std::map<std::string, std::string> pending_chunks_;
  std::map<std::string, std::vector<std::pair<int64_t, codec::rollup_bucket>>> pending_rollups_;
  std::vector<std::string> pending_erase_rollups_;  // pieces folded into a pending whole record
  std::map<std::string, std::string> pending_series_records_;
  std::vector<std::string> pending_erase_series_;
  uint32_t next_sn_ = 0;
  bool next_sn_dirty_ = false;
  store_stats stats_;
  // Rollups folded since the last commit, by tier (m1, m5, h1): reported by pending_written().
  struct rollup_tally {
    std::set<uint32_t> series;
    size_t windows = 0;
    int64_t first = std::numeric_limits<int64_t>::max(), last = std::numeric_limits<int64_t>::min();
  };
  rollup_tally tally_[3];
  // The packed group parts decompressed last, newest first (a selection
  // reads the series of one name one after the other, each over its blocks:
  // mostly from the same few parts).
  struct unpacked_group {
    std::string key;
    uint32_t checksum = 0;  // as stored: a part rewritten under the same key is another entry
    group_directory dir;
    std::string stream;
  };
  static constexpr size_t group_cache_size = 8;
  mutable std::deque<unpacked_group> group_cache_;
  // The rollup group parts decompressed last, newest first; parts change only
  // by compaction and retention, which empty it. An entry answers for the
  // series of its name from first_sn to last_sn: those its part holds, and
  // those below its first entry that a seek found no earlier part for.
  struct unpacked_rollup_group {
    tier t;
    int64_t block;
    uint64_t hash;
    uint32_t first_sn, last_sn;
    rollup_group_directory dir;
    std::string stream;
  };
  static constexpr size_t rollup_cache_size = 8;
  mutable std::deque<unpacked_rollup_group> rollup_cache_;
  // The first packed group part in [from, to) of the chunks table if it is
  // cached, found by its first key and stored checksum without joining its
  // segments; nullptr when it is not cached, damaged or absent.
  const unpacked_group* cached_group(const std::string& from, const std::string& to) const;
};

}  // namespace strata::persistence
