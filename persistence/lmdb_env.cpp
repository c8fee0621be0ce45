#include "persistence/lmdb_env.hpp"

#include <filesystem>
#include <system_error>

namespace strata::persistence {

status lmdb_error(const std::string& what, int rc) {
  return error(strata_errc::storage, "lmdb " + what + ": " + mdb_strerror(rc));
}

result<std::unique_ptr<lmdb_env>> lmdb_env::open(const options& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) return error(strata_errc::storage, "cannot create directory " + o.dir + ": " + ec.message());

  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error("env_create", rc);
  std::unique_ptr<lmdb_env> owner(new lmdb_env(env));  // closes env on every error path below
  if (int rc = mdb_env_set_maxdbs(env, o.max_dbs); rc != 0) return lmdb_error("env_set_maxdbs", rc);
  if (int rc = mdb_env_set_mapsize(env, o.map_size); rc != 0) return lmdb_error("env_set_mapsize", rc);
  unsigned flags = o.sync ? 0 : MDB_NOSYNC;
  if (int rc = mdb_env_open(env, o.dir.c_str(), flags, 0644); rc != 0) return lmdb_error("env_open " + o.dir, rc);
  return owner;
}

lmdb_env::~lmdb_env() {
  if (env_) mdb_env_close(env_);
}

size_t lmdb_env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

status lmdb_env::grow() {
  size_t next = map_size() * 2;
  if (int rc = mdb_env_set_mapsize(env_, next); rc != 0)
    return lmdb_error("env_set_mapsize " + std::to_string(next), rc);
  return status::ok();
}

result<MDB_dbi> lmdb_env::open_db(const char* name) {
  for (;;) {
    auto txn = lmdb_txn::begin(*this, 0);
    if (!txn) return txn.error();
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn->get(), name, MDB_CREATE, &dbi);
    if (rc == 0) rc = txn->commit();
    if (rc == MDB_MAP_FULL) {
      txn->abort();
      if (auto st = grow(); !st) return st;
      continue;
    }
    if (rc != 0) return lmdb_error(std::string("dbi_open ") + name, rc);
    return dbi;
  }
}

result<lmdb_txn> lmdb_txn::begin(const lmdb_env& env, unsigned flags) {
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(env.get(), nullptr, flags, &t);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map; adopt its size (single-owner stores never see this).
    mdb_env_set_mapsize(env.get(), 0);
    rc = mdb_txn_begin(env.get(), nullptr, flags, &t);
  }
  if (rc != 0) return lmdb_error("txn_begin", rc);
  return lmdb_txn(t);
}

int lmdb_txn::commit() {
  MDB_txn* t = txn_;
  txn_ = nullptr;
  return mdb_txn_commit(t);
}

void lmdb_txn::abort() {
  if (txn_) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

}  // namespace strata::persistence
