#pragma once
// The storage seam of a shard: a small transactional key-value interface with a
// fixed set of named tables. The shard's storage engine sees the disk only
// through `store`, so tests can run it in memory (make_memory_store) or break
// the disk on purpose (faulty_store.hpp).
//
// Semantics every implementation keeps (tests/unit/persistence/kv runs one
// suite against each):
//   - Keys are byte strings compared as unsigned bytes (memcmp, then length).
//     A stored key is 1 to max_key_size bytes; values may be empty.
//   - commit() applies its ops in order, all or none.
//   - Lower bounds are inclusive, upper bounds exclusive; an empty upper bound
//     means "no upper bound", an empty lower bound "from the first key".
//
// Byte layout of the tables: docs/format/keys.md.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace strata::persistence::kv {

// The fixed set of named tables of a shard (one LMDB named database each).
enum class table : uint8_t { meta, wal, series, chunks, rollups };
inline constexpr size_t table_count = 5;
inline constexpr std::array<table, table_count> all_tables = {table::meta, table::wal, table::series, table::chunks,
                                                              table::rollups};

// "meta", "wal", ...: also the LMDB database names, so they never change.
const char* to_string(table t);

// LMDB's limit for the default 4 KiB page (MDB_MAXKEYSIZE); every store enforces it.
inline constexpr size_t max_key_size = 511;

// One change inside a commit.
// REQUIRES: the viewed bytes live until commit() returns. A temporary string
// passed to put() dies at the end of that statement: keep keys and values in
// storage that outlives the commit (a std::deque<std::string>, the batch).
struct op {
  enum class kind : uint8_t { put, erase, erase_range } k;
  table t;
  std::string_view key;
  std::string_view value;  // put: the value; erase_range: the END key, range [key, end); erase: unused

  static op put(table t, std::string_view key, std::string_view value) { return {kind::put, t, key, value}; }
  static op erase(table t, std::string_view key) { return {kind::erase, t, key, {}}; }
  // Deletes every key in [from, to); an empty `from` starts at the first key, an
  // empty `to` runs to the last.
  static op erase_range(table t, std::string_view from, std::string_view to) {
    return {kind::erase_range, t, from, to};
  }
};

struct store_stats {
  uint64_t map_size = 0;                        // bytes of address space reserved for the data file (0 in memory)
  uint64_t used_bytes = 0;                      // LMDB: pages in use * page size; memory: bytes of keys and values
  uint64_t commits = 0;                         // commit() calls that returned ok since open
  std::array<uint64_t, table_count> entries{};  // keys per table, indexed by table
};

// One per shard, owned by one thread (the shard actor): not thread-safe.
class store {
 public:
  using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

  virtual ~store() = default;

  // Applies every op atomically: after ok, all are durable (fsynced unless the
  // store was opened with sync = false); on failure none is visible. Fails with
  //   bad_request: a put's key is empty or longer than max_key_size, or an op
  //                names no table; nothing of the commit was applied;
  //   storage:     the disk or LMDB failed (disk full, I/O error, map at its
  //                maximum); the message names the directory and the cause;
  //   internal:    called from inside a scan callback of this store.
  // An erase of an absent key is not an error. An empty commit is ok.
  virtual status commit(const std::vector<op>& ops) = 0;

  // not_found if absent (an empty key or one longer than max_key_size is never
  // stored, so it is absent).
  virtual status get(table t, std::string_view key, std::string& value) const = 0;

  // Calls fn(key, value) for each entry with from <= key < to (to empty = no
  // upper bound), in key order, until fn returns false. The views are valid
  // only during the call (zero copy from LMDB's mmap). fn may call get() and
  // scan() of this store but not commit().
  virtual status scan(table t, std::string_view from, std::string_view to, const scan_fn& fn) const = 0;

  // Makes what is committed durable (for stores opened with sync = false).
  virtual status sync() = 0;

  // Rewrites the store so that it holds only live data (LMDB: a compacting
  // copy of the environment swapped in place of the data file; the file
  // shrinks to the pages in use). What is committed is unchanged; a crash at
  // any point leaves either the old or the new file whole. A no-op where
  // nothing is kept on disk. Fails with
  //   storage:  the copy, the swap or the reopen failed (the message names the
  //             directory and the step); after a failed reopen every later
  //             call fails with storage;
  //   internal: called from inside a scan callback of this store.
  virtual status compact_copy() = 0;

  // Unmaps the file pages the process has touched (LMDB: madvise
  // MADV_DONTNEED over the used part of the map), so that they stop counting
  // in its resident memory; they stay in the page cache and the next read
  // maps them again. What is stored is unchanged. Best effort: a no-op where
  // nothing is mapped, inside a scan callback, or when the kernel refuses.
  virtual void release_mapped_pages() {}

  virtual store_stats stats() const = 0;
};

// The file a compact_copy writes before it renames it over data.mdb.
inline constexpr const char* lmdb_compact_file = "data.mdb.compact";

struct lmdb_options {
  std::string dir;                     // created if missing; holds data.mdb and lock.mdb
  size_t initial_map_size = 64 << 20;  // raised by LMDB to the data size of an existing file
  size_t max_map_size = 1ull << 40;    // growth stops here: a commit that needs more fails (storage)
  bool sync = true;                    // false: MDB_NOSYNC, durability only at sync()
};

// One LMDB environment in `o.dir`, one named database per table (created if
// missing). A leftover of an interrupted compact_copy (`data.mdb.compact`)
// is removed. Fails with storage when the directory cannot be created or LMDB
// cannot open it (the message names the directory).
result<std::unique_ptr<store>> open_lmdb(const lmdb_options& o);

// std::map per table, with the semantics above; durable only as long as it lives.
std::unique_ptr<store> make_memory_store();

}  // namespace strata::persistence::kv
