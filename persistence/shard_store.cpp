#include "persistence/shard_store.hpp"

#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "persistence/lmdb_env.hpp"
#include "persistence/wal_record.hpp"
#include "wire/batch.hpp"

namespace strata::persistence {
namespace {

constexpr const char* wal_db_name = "wal";
// Doublings tried for one commit before giving up (from 64 KiB that is far
// beyond any disk).
constexpr int max_map_growths = 40;

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
               "wal record " + std::to_string(seq) + " (key " + key + " in database \"wal\" of " + dir + "): " + cause);
}

}  // namespace

shard_store::shard_store(std::unique_ptr<lmdb_env> env, unsigned int wal_dbi, std::string dir)
    : env_(std::move(env)), wal_dbi_(wal_dbi), dir_(std::move(dir)) {}

shard_store::~shard_store() = default;

result<std::unique_ptr<shard_store>> shard_store::open(const store_options& o) {
  auto env = lmdb_env::open({o.dir, o.initial_map_size, o.sync});
  if (!env) return env.error();
  auto dbi = (*env)->open_db(wal_db_name);
  if (!dbi) return dbi.error();
  std::unique_ptr<shard_store> s(new shard_store(std::move(*env), *dbi, o.dir));
  if (auto st = s->replay(); !st) return st;
  return s;
}

status shard_store::replay() {
  auto txn = lmdb_txn::begin(*env_, MDB_RDONLY);
  if (!txn) return txn.error();
  MDB_cursor* cur = nullptr;
  if (int rc = mdb_cursor_open(txn->get(), wal_dbi_, &cur); rc != 0) return lmdb_error("cursor_open wal", rc);
  struct closer {
    MDB_cursor* c;
    ~closer() { mdb_cursor_close(c); }
  } close_cursor{cur};

  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (key.size() != wal_key_size)
      return error(strata_errc::corruption, "wal key of " + std::to_string(key.size()) + " bytes after record " +
                                                std::to_string(next_seq_ - 1) + " in " + dir_ +
                                                " is not an 8-byte sequence number");
    uint64_t seq = decode_wal_key(key);
    auto payload = decode_wal_record({static_cast<const char*>(v.mv_data), v.mv_size});
    if (!payload) return wal_corruption(dir_, seq, payload.error().message());
    auto batch = wire::decode_batch(*payload);
    if (!batch) return wal_corruption(dir_, seq, batch.error().message());
    if (auto why = not_canonical(*batch)) return wal_corruption(dir_, seq, *why);
    head_.append(*batch);
    ++wal_records_;
    next_seq_ = seq + 1;
  }
  if (rc != MDB_NOTFOUND) return lmdb_error("cursor_get wal", rc);
  return status::ok();
}

status shard_store::append(const write_batch& b) {
  if (auto why = not_canonical(b)) return error(strata_errc::bad_request, "append: " + *why);
  if (sample_count(b) == 0) return status::ok();
  std::string payload = wire::encode_batch(b);
  std::vector<pending> group{{&b, payload}};
  return commit(group);
}

result<size_t> shard_store::append_encoded(std::string_view batch_bytes) {
  return std::move(append_encoded_group({batch_bytes}).front());
}

std::vector<result<size_t>> shard_store::append_encoded_group(const std::vector<std::string_view>& batches) {
  std::vector<result<size_t>> out;
  std::vector<write_batch> decoded;
  decoded.reserve(batches.size());  // pointers into it stay valid
  std::vector<pending> group;
  std::vector<size_t> slot;  // out index of each group member
  for (auto bytes : batches) {
    auto b = wire::decode_batch(bytes);
    if (!b) {
      out.emplace_back(b.error());
      continue;
    }
    size_t n = sample_count(*b);
    if (auto why = not_canonical(*b)) {
      out.emplace_back(error(strata_errc::bad_request, "append: " + *why));
      continue;
    }
    out.emplace_back(n);
    if (n == 0) continue;
    decoded.push_back(std::move(*b));
    group.push_back({&decoded.back(), bytes});
    slot.push_back(out.size() - 1);
  }
  if (group.empty()) return out;
  if (auto st = commit(group); !st)
    for (auto i : slot) out[i] = st;
  return out;
}

status shard_store::commit(const std::vector<pending>& group) {
  std::vector<std::string> records;
  records.reserve(group.size());
  for (const auto& p : group) {
    if (p.payload.size() > std::numeric_limits<uint32_t>::max())
      return error(strata_errc::bad_request,
                   "append: batch of " + std::to_string(p.payload.size()) + " bytes does not fit one WAL record");
    records.push_back(encode_wal_record(p.payload));
  }

  for (int growths = 0;; ++growths) {
    auto txn = lmdb_txn::begin(*env_, 0);
    if (!txn) return txn.error();
    int rc = 0;
    for (size_t i = 0; i < records.size() && rc == 0; ++i) {
      auto key = encode_wal_key(next_seq_ + i);
      MDB_val k{key.size(), key.data()};
      MDB_val v{records[i].size(), records[i].data()};
      rc = mdb_put(txn->get(), wal_dbi_, &k, &v, MDB_APPEND);
    }
    if (rc == 0) rc = txn->commit();
    if (rc == 0) break;
    txn->abort();  // after MDB_MAP_FULL the txn is unusable; a no-op after a failed commit
    if (rc != MDB_MAP_FULL) return lmdb_error("commit of wal record " + std::to_string(next_seq_), rc);
    if (growths == max_map_growths)
      return error(strata_errc::storage, "lmdb map still full after " + std::to_string(growths) + " doublings, at " +
                                             std::to_string(env_->map_size()) + " bytes");
    if (auto st = env_->grow(); !st) return st;
  }

  for (const auto& p : group) head_.append(*p.batch);
  next_seq_ += records.size();
  wal_records_ += records.size();
  return status::ok();
}

std::vector<series> shard_store::select(const matchers& ms, int64_t mint, int64_t maxt) const {
  return head_.select(ms, mint, maxt);
}

std::vector<labels> shard_store::select_labels(const matchers& ms, int64_t mint, int64_t maxt) const {
  return head_.select_labels(ms, mint, maxt);
}

std::vector<std::string> shard_store::label_names(const matchers& ms, int64_t mint, int64_t maxt) const {
  return head_.label_names(ms, mint, maxt);
}

std::vector<std::string> shard_store::label_values(const std::string& name, const matchers& ms, int64_t mint,
                                                   int64_t maxt) const {
  return head_.label_values(name, ms, mint, maxt);
}

store_stats shard_store::stats() const { return {head_.series_count(), head_.sample_count(), wal_records_}; }

status shard_store::sync() {
  if (int rc = mdb_env_sync(env_->get(), 1); rc != 0) return lmdb_error("sync", rc);
  return status::ok();
}

}  // namespace strata::persistence
