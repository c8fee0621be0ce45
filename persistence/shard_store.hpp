#pragma once
// The storage of one shard: one LMDB environment holding the WAL, and the head
// (every series and its samples) in memory, rebuilt from the WAL at open.
// The walking skeleton of the engine: no chunks, tiers or postings yet.
//
// Durability: append() returns ok only after the batch's WAL record is
// committed (and fsynced unless store_options::sync is false). A batch is one
// record and one LMDB transaction, so after a crash it is there whole or not
// at all. Record layout: docs/format/wal.md.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/matcher.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "persistence/head.hpp"

namespace strata::persistence {

class lmdb_env;

struct store_options {
  std::string dir;                       // created if missing; one LMDB environment
  size_t initial_map_size = 1ull << 30;  // grows (doubles) on MDB_MAP_FULL
  bool sync = true;                      // fsync on every commit (false only for tests/bench)
};

struct store_stats {
  size_t series = 0;
  size_t samples = 0;
  uint64_t wal_records = 0;
};

// Owned by exactly one shard actor: not thread-safe.
class shard_store {
 public:
  // Opens (or creates) the store in o.dir and replays the WAL into memory.
  // Fails with strata_errc::storage when LMDB fails, and with
  // strata_errc::corruption naming the record's sequence number and the cause
  // when a WAL record does not decode (a committed record cannot be torn, so
  // that is real damage; nothing is skipped).
  static result<std::unique_ptr<shard_store>> open(const store_options& o);
  ~shard_store();
  shard_store(const shard_store&) = delete;
  shard_store& operator=(const shard_store&) = delete;

  // Appends the batch as one WAL record and commits it durably before returning ok.
  // REQUIRES: canonical labels (sorted, unique names). On failure nothing of the batch is visible.
  // Checked: a series whose labels are not canonical fails the call with
  // strata_errc::bad_request. LMDB failures (disk full, I/O) are
  // strata_errc::storage; a full map is grown (doubled) and the commit retried.
  // A sample whose series already has its timestamp is dropped (the first write
  // wins), so retrying a batch is idempotent. A batch without samples writes nothing.
  status append(const write_batch& b);
  // The same for a batch that arrives already encoded (wire::encode_batch, as
  // shards receive them): the bytes become the WAL payload as they are, so the
  // batch is decoded once and never re-encoded. Bytes that do not decode are
  // strata_errc::corruption and change nothing. Returns the batch's sample count.
  result<size_t> append_encoded(std::string_view batch_bytes);
  // Group commit: every batch that decodes is written in ONE transaction (one
  // fsync), each as its own WAL record. Answers per batch, in order: its sample
  // count, or why it failed. A batch that does not decode fails alone; a failed
  // commit fails every batch of the group and changes nothing.
  std::vector<result<size_t>> append_encoded_group(const std::vector<std::string_view>& batches);

  // Series that match all matchers and have at least one sample in [mint, maxt], with only
  // those samples, sorted by labels. Samples of a series sorted by time.
  std::vector<series> select(const matchers& ms, int64_t mint, int64_t maxt) const;
  // Same, labels only (for /api/v1/series).
  std::vector<labels> select_labels(const matchers& ms, int64_t mint, int64_t maxt) const;
  // Sorted distinct label names of series with samples in [mint, maxt] (matching ms when not empty).
  std::vector<std::string> label_names(const matchers& ms, int64_t mint, int64_t maxt) const;
  // Sorted distinct non-empty values of label `name`, same selection as label_names.
  std::vector<std::string> label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt) const;
  store_stats stats() const;
  // Flushes committed transactions to disk (fsync). Only needed when the store
  // was opened with sync = false (--wal-sync=interval).
  status sync();

 private:
  shard_store(std::unique_ptr<lmdb_env> env, unsigned int wal_dbi, std::string dir);
  status replay();
  struct pending {
    const write_batch* batch;
    std::string_view payload;  // bytes that decode to *batch
  };
  // Writes every member as a WAL record in one transaction, then applies them
  // to the head. REQUIRES: every batch canonical and with samples.
  status commit(const std::vector<pending>& group);

  std::unique_ptr<lmdb_env> env_;
  unsigned int wal_dbi_;  // MDB_dbi of the "wal" database
  std::string dir_;
  head head_;
  uint64_t next_seq_ = 1;
  uint64_t wal_records_ = 0;
};

}  // namespace strata::persistence
