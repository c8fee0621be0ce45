// The LMDB store: one environment per shard directory, one named database per
// table, default (memcmp) key order.
//
// Threading: owned by one thread. MDB_NOTLS is not set, so read transactions
// live in the calling thread's reader slot; one read transaction is kept reset
// between calls and renewed by get/scan/stats (cheaper than begin/abort), and
// nested reads (a get from inside a scan callback) share it.
//
// Map growth: LMDB cannot grow the map by itself. A commit that hits
// MDB_MAP_FULL is aborted, the map doubled (up to max_map_size) while no
// transaction is open, and the whole commit retried.
//
// Compacting copy: LMDB never shrinks its data file; pages freed by deletes
// (the trimmed WAL) are reused but stay on disk. compact_copy() writes every
// entry, in key order, into a new environment in data.mdb.compact (full
// pages, no free ones; see rebuild_into), syncs it, closes the environment,
// renames the copy over data.mdb, fsyncs the directory and reopens. The rename is the commit point:
// before it the old file is whole, after it the new one (already on disk).
// A copy left by a crash before the rename is removed at open.
//
// Why not MDB_WRITEMAP: LMDB then extends the data file to the whole map size
// and writes through the mmap, so a full disk surfaces as SIGBUS in the middle
// of a put instead of an error from mdb_txn_commit; that breaks the contract
// of commit(), whatever it gains in speed.
// Why not MDB_NORDAHEAD: it helps random reads of a data file larger than RAM;
// the shard reads mostly in key order (scans), where readahead helps.
#include <fcntl.h>
#include <lmdb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "persistence/kv/detail/check.hpp"
#include "persistence/kv/store.hpp"

namespace strata::persistence::kv {
namespace {

status lmdb_failure(const std::string& dir, const std::string& what, int rc) {
  return error(strata_errc::storage, "lmdb " + what + " in " + dir + ": " + mdb_strerror(rc));
}

MDB_val to_val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view to_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

status os_failure(const std::string& dir, const std::string& what, int err) {
  return error(strata_errc::storage, "lmdb " + what + " in " + dir + ": " + std::strerror(err));
}

// A new environment on o.dir with `map_size`, its tables not yet open.
status open_env(const lmdb_options& o, size_t map_size, MDB_env*& env) {
  env = nullptr;
  MDB_env* e = nullptr;
  if (int rc = mdb_env_create(&e); rc != 0) return lmdb_failure(o.dir, "env_create", rc);
  int rc = mdb_env_set_maxdbs(e, table_count);
  const char* what = "env_set_maxdbs";
  if (rc == 0) {
    rc = mdb_env_set_mapsize(e, map_size);
    what = "env_set_mapsize";
  }
  if (rc == 0) {
    rc = mdb_env_open(e, o.dir.c_str(), o.sync ? 0 : MDB_NOSYNC, 0644);
    what = "env_open";
  }
  if (rc != 0) {
    mdb_env_close(e);
    return lmdb_failure(o.dir, what, rc);
  }
  env = e;
  return status::ok();
}

struct cursor_closer {
  MDB_cursor* c = nullptr;
  ~cursor_closer() {
    if (c) mdb_cursor_close(c);
  }
};

class lmdb_store final : public store {
 public:
  lmdb_store(MDB_env* env, const lmdb_options& o) : env_(env), opts_(o) {}
  ~lmdb_store() override { close_env(); }
  lmdb_store(const lmdb_store&) = delete;
  lmdb_store& operator=(const lmdb_store&) = delete;

  status open_tables() {
    for (;;) {
      MDB_txn* txn = nullptr;
      if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return fail("begin transaction", rc);
      int rc = 0;
      for (table t : all_tables) {
        rc = mdb_dbi_open(txn, to_string(t), MDB_CREATE, &dbi_[static_cast<size_t>(t)]);
        if (rc != 0) break;
      }
      if (rc != 0) {
        mdb_txn_abort(txn);
      } else {
        rc = mdb_txn_commit(txn);  // frees txn either way
      }
      if (rc == 0) return status::ok();
      if (rc != MDB_MAP_FULL) return fail("open tables", rc);
      if (auto st = grow(); !st) return st;
    }
  }

  status commit(const std::vector<op>& ops) override {
    if (read_depth_ > 0) return detail::commit_in_scan();
    if (!env_) return closed();
    for (size_t i = 0; i < ops.size(); ++i)
      if (!detail::valid_table(ops[i].t)) return detail::bad_table(i);
    if (ops.empty()) {
      ++commits_;
      return status::ok();
    }
    for (;;) {
      MDB_txn* txn = nullptr;
      if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return fail("begin transaction", rc);
      failure f = apply(txn, ops);
      if (f.rc != 0) {
        mdb_txn_abort(txn);
      } else {
        f = {mdb_txn_commit(txn), ops.size(), "commit"};  // frees txn either way
      }
      if (f.rc == 0) {
        ++commits_;
        return status::ok();
      }
      if (f.rc == MDB_MAP_FULL) {
        if (auto st = grow(); !st) return st;
        continue;
      }
      if (f.rc == MDB_BAD_VALSIZE && f.index < ops.size() && !detail::storable_key(ops[f.index].key))
        return detail::bad_key(f.index, ops[f.index].t, ops[f.index].key);
      if (f.rc == MDB_TXN_FULL)
        return error(strata_errc::storage, "lmdb commit in " + opts_.dir + ": " + std::to_string(ops.size()) +
                                               " ops dirty more pages than one transaction can hold (" +
                                               mdb_strerror(f.rc) + ")");
      return fail(f.what, f.rc);
    }
  }

  status get(table t, std::string_view key, std::string& value) const override {
    if (!detail::valid_table(t)) return detail::bad_table(0);
    if (!detail::storable_key(key)) return detail::not_found(t);
    if (!env_) return closed();
    read_scope rs(*this);
    if (!rs.st) return rs.st;
    MDB_val k = to_val(key), v;
    int rc = mdb_get(read_txn_, dbi_[static_cast<size_t>(t)], &k, &v);
    if (rc == MDB_NOTFOUND) return detail::not_found(t);
    if (rc != 0) return fail(std::string("get in table ") + to_string(t), rc);
    value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return status::ok();
  }

  status scan(table t, std::string_view from, std::string_view to, const scan_fn& fn) const override {
    if (!detail::valid_table(t)) return detail::bad_table(0);
    if (detail::empty_range(from, to)) return status::ok();
    if (!env_) return closed();
    read_scope rs(*this);
    if (!rs.st) return rs.st;
    cursor_closer cur;
    if (int rc = mdb_cursor_open(read_txn_, dbi_[static_cast<size_t>(t)], &cur.c); rc != 0)
      return fail(std::string("open cursor on table ") + to_string(t), rc);
    MDB_val k = to_val(from), v;
    int rc = mdb_cursor_get(cur.c, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
      std::string_view key = to_view(k);
      if (!to.empty() && detail::compare_keys(key, to) >= 0) return status::ok();
      if (!fn(key, to_view(v))) return status::ok();
    }
    if (rc != MDB_NOTFOUND) return fail(std::string("scan of table ") + to_string(t), rc);
    return status::ok();
  }

  status sync() override {
    if (!env_) return closed();
    if (int rc = mdb_env_sync(env_, 1); rc != 0) return fail("sync", rc);
    return status::ok();
  }

  status compact_copy() override {
    if (read_depth_ > 0) return detail::compact_in_scan();
    if (!env_) return closed();
    if (read_txn_) {  // the copy takes this thread's reader slot
      mdb_txn_abort(read_txn_);
      read_txn_ = nullptr;
    }
    const std::string data = opts_.dir + "/data.mdb", copy = opts_.dir + "/" + lmdb_compact_file;
    MDB_envinfo info;
    size_t map_size = mdb_env_info(env_, &info) == 0 ? info.me_mapsize : opts_.initial_map_size;
    status st = rebuild_into(copy, map_size);
    ::unlink((copy + "-lock").c_str());
    if (!st) {
      ::unlink(copy.c_str());
      return st;
    }
    close_env();
    if (::rename(copy.c_str(), data.c_str()) != 0) {
      st = os_failure(opts_.dir, "compact_copy: rename " + copy + " over data.mdb", errno);
      ::unlink(copy.c_str());
    } else if (int dfd = ::open(opts_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      if (::fsync(dfd) != 0) st = os_failure(opts_.dir, "compact_copy: fsync of the directory", errno);
      ::close(dfd);
    } else {
      st = os_failure(opts_.dir, "compact_copy: open the directory", errno);
    }
    // Reopen whatever data.mdb now is (the old file if the rename failed).
    if (auto r = open_env(opts_, map_size, env_); !r) return r;
    if (auto r = open_tables(); !r) {
      close_env();
      return r;
    }
    return st;
  }

  void release_mapped_pages() override {
    if (!env_ || read_depth_ > 0) return;
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &st) != 0) return;
    // LMDB does not say where it mapped the file (me_mapaddr is only set for
    // MDB_FIXEDMAP), and a map resize moves it: find it in /proc/self/maps.
    // Pages past the last one in use were never mapped in. The map is shared
    // and read-only (no MDB_WRITEMAP): dropping it loses nothing.
    std::error_code ec;
    const auto file = std::filesystem::canonical(opts_.dir + "/data.mdb", ec).string();
    if (ec) return;
    std::ifstream maps("/proc/self/maps");
    const size_t used = (static_cast<size_t>(info.me_last_pgno) + 1) * st.ms_psize;
    for (std::string line; std::getline(maps, line);) {
      if (line.size() <= file.size() || line.compare(line.size() - file.size(), file.size(), file) != 0) continue;
      uintptr_t lo = 0, hi = 0;
      if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2 || hi <= lo) continue;
      ::madvise(reinterpret_cast<void*>(lo), std::min<size_t>(hi - lo, used), MADV_DONTNEED);
    }
  }

  store_stats stats() const override {
    store_stats s;
    if (!env_) return s;
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &st) == 0) {
      s.map_size = info.me_mapsize;
      s.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    }
    s.commits = commits_;
    read_scope rs(*this);
    if (!rs.st) return s;
    for (size_t i = 0; i < table_count; ++i)
      if (mdb_stat(read_txn_, dbi_[i], &st) == 0) s.entries[i] = st.ms_entries;
    return s;
  }

 private:
  // Where a commit stopped: the LMDB code, the op (ops.size() for the commit
  // itself) and what was done.
  struct failure {
    int rc = 0;
    size_t index = 0;
    std::string what;
  };

  // Renews the kept read transaction for the outermost reader, resets it when
  // that reader is done. `st` says whether the transaction is usable.
  class read_scope {
   public:
    explicit read_scope(const lmdb_store& s) : s_(s) {
      if (s_.read_depth_++ > 0) return;
      int rc = s_.read_txn_ ? mdb_txn_renew(s_.read_txn_) : mdb_txn_begin(s_.env_, nullptr, MDB_RDONLY, &s_.read_txn_);
      if (rc != 0) {
        if (s_.read_txn_) mdb_txn_abort(s_.read_txn_);
        s_.read_txn_ = nullptr;
        st = s_.fail("begin read transaction", rc);
      }
    }
    ~read_scope() {
      if (--s_.read_depth_ == 0 && s_.read_txn_) mdb_txn_reset(s_.read_txn_);
    }
    read_scope(const read_scope&) = delete;
    read_scope& operator=(const read_scope&) = delete;
    status st;

   private:
    const lmdb_store& s_;
  };

  failure apply(MDB_txn* txn, const std::vector<op>& ops) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const op& o = ops[i];
      MDB_dbi dbi = dbi_[static_cast<size_t>(o.t)];
      switch (o.k) {
        case op::kind::put: {
          MDB_val k = to_val(o.key), v = to_val(o.value);
          if (int rc = mdb_put(txn, dbi, &k, &v, 0); rc != 0)
            return {rc, i, std::string("put in table ") + to_string(o.t)};
          break;
        }
        case op::kind::erase: {
          if (!detail::storable_key(o.key)) break;  // never stored
          MDB_val k = to_val(o.key);
          if (int rc = mdb_del(txn, dbi, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND)
            return {rc, i, std::string("erase in table ") + to_string(o.t)};
          break;
        }
        case op::kind::erase_range:
          if (int rc = erase_range(txn, dbi, o.key, o.value); rc != 0)
            return {rc, i, std::string("erase_range in table ") + to_string(o.t)};
          break;
      }
    }
    return {};
  }

  // Deletes [from, to) with one cursor: a seek, then one step per deleted key.
  // After mdb_cursor_del the cursor already stands on the next key, and the
  // following MDB_NEXT returns that key rather than skipping it.
  static int erase_range(MDB_txn* txn, MDB_dbi dbi, std::string_view from, std::string_view to) {
    if (detail::empty_range(from, to)) return 0;
    cursor_closer cur;
    if (int rc = mdb_cursor_open(txn, dbi, &cur.c); rc != 0) return rc;
    MDB_val k = to_val(from), v;
    int rc = mdb_cursor_get(cur.c, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
      if (!to.empty() && detail::compare_keys(to_view(k), to) >= 0) break;
      if ((rc = mdb_cursor_del(cur.c, 0)) != 0) return rc;
      rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
  }

  // Doubles the map, capped at max_map_size. REQUIRES: no transaction open.
  status grow() {
    MDB_envinfo info;
    if (int rc = mdb_env_info(env_, &info); rc != 0) return fail("env_info", rc);
    size_t cur = info.me_mapsize;
    if (cur >= opts_.max_map_size)
      return error(strata_errc::storage, "lmdb commit in " + opts_.dir + ": map full at its maximum of " +
                                             std::to_string(cur) + " bytes (max_map_size " +
                                             std::to_string(opts_.max_map_size) + ")");
    size_t next = cur > opts_.max_map_size / 2 ? opts_.max_map_size : cur * 2;
    if (int rc = mdb_env_set_mapsize(env_, next); rc != 0)
      return fail("grow map from " + std::to_string(cur) + " to " + std::to_string(next) + " bytes", rc);
    return status::ok();
  }

  status fail(const std::string& what, int rc) const { return lmdb_failure(opts_.dir, what, rc); }

  // Writes every table, in key order with MDB_APPEND, into a new environment
  // in the file `copy` and syncs it. Why not mdb_env_copy2(MDB_CP_COMPACT): it
  // copies the live pages as they are, and after inserts in no particular
  // order with splits in the middle of pages those are half empty; a split
  // on append leaves the full page as it is, so these come out full.
  status rebuild_into(const std::string& copy, size_t map_size) {
    struct env_closer {
      MDB_env* e = nullptr;
      ~env_closer() {
        if (e) mdb_env_close(e);
      }
    } out;
    struct txn_aborter {
      MDB_txn* t = nullptr;
      ~txn_aborter() {
        if (t) mdb_txn_abort(t);
      }
    } read, write;
    if (int rc = mdb_env_create(&out.e); rc != 0) return fail("compact_copy: env_create", rc);
    if (int rc = mdb_env_set_maxdbs(out.e, table_count); rc != 0) return fail("compact_copy: env_set_maxdbs", rc);
    if (int rc = mdb_env_set_mapsize(out.e, map_size); rc != 0) return fail("compact_copy: env_set_mapsize", rc);
    if (int rc = mdb_env_open(out.e, copy.c_str(), MDB_NOSUBDIR | MDB_NOSYNC, 0644); rc != 0)
      return fail("compact_copy: open " + copy, rc);
    if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read.t); rc != 0)
      return fail("compact_copy: begin read transaction", rc);
    constexpr size_t entries_per_txn = 20000;  // keeps each write transaction's dirty pages bounded
    for (table t : all_tables) {
      cursor_closer cur;
      if (int rc = mdb_cursor_open(read.t, dbi_[static_cast<size_t>(t)], &cur.c); rc != 0)
        return fail(std::string("compact_copy: cursor on table ") + to_string(t), rc);
      MDB_val k, v;
      int rc = mdb_cursor_get(cur.c, &k, &v, MDB_FIRST);
      size_t in_txn = entries_per_txn;
      MDB_dbi out_dbi = 0;
      for (;; rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
        if (in_txn == entries_per_txn || rc != 0) {
          if (write.t) {
            int crc = mdb_txn_commit(write.t);
            write.t = nullptr;
            if (crc != 0) return fail("compact_copy: commit of the copy", crc);
          }
          if (rc != 0) break;
          if (int brc = mdb_txn_begin(out.e, nullptr, 0, &write.t); brc != 0)
            return fail("compact_copy: begin write transaction", brc);
          if (int orc = mdb_dbi_open(write.t, to_string(t), MDB_CREATE, &out_dbi); orc != 0)
            return fail(std::string("compact_copy: open table ") + to_string(t), orc);
          in_txn = 0;
        }
        if (int prc = mdb_put(write.t, out_dbi, &k, &v, MDB_APPEND); prc != 0)
          return fail(std::string("compact_copy: put in table ") + to_string(t), prc);
        ++in_txn;
      }
      if (rc != MDB_NOTFOUND) return fail(std::string("compact_copy: scan of table ") + to_string(t), rc);
    }
    if (int rc = mdb_env_sync(out.e, 1); rc != 0) return fail("compact_copy: sync " + copy, rc);
    return status::ok();
  }
  status closed() const {
    return error(strata_errc::storage, "lmdb store " + opts_.dir + " is closed: reopening after compact_copy failed");
  }
  void close_env() {
    if (read_txn_) mdb_txn_abort(read_txn_);
    read_txn_ = nullptr;
    if (env_) mdb_env_close(env_);
    env_ = nullptr;
  }

  MDB_env* env_;
  lmdb_options opts_;
  std::array<MDB_dbi, table_count> dbi_{};
  uint64_t commits_ = 0;
  mutable MDB_txn* read_txn_ = nullptr;  // kept reset while read_depth_ == 0
  mutable int read_depth_ = 0;           // nesting of read_scope
};

}  // namespace

result<std::unique_ptr<store>> open_lmdb(const lmdb_options& o) {
  if (o.initial_map_size == 0 || o.initial_map_size > o.max_map_size)
    return error(strata_errc::bad_request, "lmdb store " + o.dir + ": initial_map_size " +
                                               std::to_string(o.initial_map_size) + " must be in 1..max_map_size (" +
                                               std::to_string(o.max_map_size) + ")");
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return error(strata_errc::storage, "cannot create directory " + o.dir + ": " + ec.message());

  // A compacting copy that never reached its rename: data.mdb is the live file.
  std::filesystem::remove(std::filesystem::path(o.dir) / (std::string(lmdb_compact_file) + "-lock"), ec);
  std::filesystem::remove(std::filesystem::path(o.dir) / lmdb_compact_file, ec);
  if (ec) return error(strata_errc::storage, "cannot remove " + o.dir + "/" + lmdb_compact_file + ": " + ec.message());

  MDB_env* env = nullptr;
  if (auto st = open_env(o, o.initial_map_size, env); !st) return st;
  auto s = std::make_unique<lmdb_store>(env, o);  // closes env on every error path below
  if (auto st = s->open_tables(); !st) return st;
  return std::unique_ptr<store>(std::move(s));
}

}  // namespace strata::persistence::kv
