#pragma once
// Thin RAII over one LMDB environment (internal to persistence/). Owned by one
// shard_store, used from one thread at a time.
#include <lmdb.h>

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.hpp"

namespace strata::persistence {

// strata_errc::storage with "lmdb <what>: <mdb_strerror(rc)>".
status lmdb_error(const std::string& what, int rc);

class lmdb_env {
 public:
  struct options {
    std::string dir;  // a directory (MDB_NOSUBDIR off); created if missing
    size_t map_size = 1ull << 30;
    bool sync = true;  // false: MDB_NOSYNC
    unsigned max_dbs = 8;
  };

  static result<std::unique_ptr<lmdb_env>> open(const options& o);
  ~lmdb_env();
  lmdb_env(const lmdb_env&) = delete;
  lmdb_env& operator=(const lmdb_env&) = delete;

  MDB_env* get() const { return env_; }
  // The map size in use (LMDB may have raised the configured one to the data size).
  size_t map_size() const;
  // Doubles the map size. REQUIRES: no transaction of this environment is open.
  status grow();
  // Opens (creating it if needed) the named database, in its own write txn.
  result<MDB_dbi> open_db(const char* name);

 private:
  explicit lmdb_env(MDB_env* env) : env_(env) {}
  MDB_env* env_;
};

// A transaction that is aborted when it goes out of scope uncommitted.
class lmdb_txn {
 public:
  static result<lmdb_txn> begin(const lmdb_env& env, unsigned flags);  // 0 or MDB_RDONLY
  lmdb_txn(lmdb_txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  lmdb_txn& operator=(lmdb_txn&&) = delete;
  lmdb_txn(const lmdb_txn&) = delete;
  ~lmdb_txn() { abort(); }

  MDB_txn* get() const { return txn_; }
  // Returns the mdb_txn_commit code. The handle is gone afterwards either way.
  int commit();
  void abort();

 private:
  explicit lmdb_txn(MDB_txn* t) : txn_(t) {}
  MDB_txn* txn_;
};

}  // namespace strata::persistence
