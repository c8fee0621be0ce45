#include "actors/shard_actor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "actors/bucket_reply.hpp"
#include "actors/messages.hpp"
#include "actors/read_plan.hpp"
#include "cluster/ring.hpp"
#include "query/parser.hpp"
#include "query/plan.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

// Group commit: appends are queued, and one flush (a message to self, so it
// runs after every append already in the mailbox) commits them all in one
// transaction. Appends that arrive while a commit runs share the next one.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;

// An append waiting for the next group commit: the encoded bytes of a remote
// collector or of hinted handoff, or the series of this node's collector.
struct queued_append {
  bool encoded = false;
  std::string bytes;
  write_batch batch;
  std::vector<uint64_t> hashes;
  caf::response_promise promise;
};

struct shard_state {
  std::unique_ptr<persistence::shard_store> store;
  std::vector<queued_append> queued;
  bool flush_scheduled = false;
  static inline const char* name = "strata.shard";
};

// Series of one append refused by the active-series limit.
struct limit_refusal {
  size_t series = 0;
  size_t samples = 0;
  std::string first;  // labels of the first refused series
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Applies the active-series limit to a group before it is committed: the
// series that would be created past it are taken out of `group` (a batch in
// memory in place, encoded bytes are decoded and re-encoded without them).
// Cheap while the node is far from the limit: a batch creates at most one
// series per entry, and an encoded series takes at least 8 bytes, so a group
// of B bytes creates at most B / 8 series.
std::vector<limit_refusal> apply_series_limit(const persistence::shard_store& store, const series_limit& limit,
                                              std::vector<queued_append>& group) {
  std::vector<limit_refusal> out(group.size());
  if (limit.max == 0) return out;
  int64_t active = limit.active.load(std::memory_order_relaxed);
  size_t most = 0;
  for (const auto& q : group) most += q.encoded ? q.bytes.size() / 8 : q.batch.size();
  if (active + static_cast<int64_t>(most) <= static_cast<int64_t>(limit.max)) return out;
  int64_t budget = static_cast<int64_t>(limit.max) - active;
  std::unordered_set<uint64_t> admitted;  // new series let in by this group, by hash
  for (size_t i = 0; i < group.size(); ++i) {
    auto& q = group[i];
    write_batch decoded;
    if (q.encoded) {
      auto b = wire::decode_batch(q.bytes);
      if (!b) continue;  // the store reports it
      decoded = std::move(*b);
    }
    write_batch& batch = q.encoded ? decoded : q.batch;
    size_t kept = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
      auto& s = batch[k];
      uint64_t h = q.encoded ? wire::series_hash(s.lbls) : q.hashes[k];
      bool keep = s.samples.empty() || admitted.count(h) || store.has_series(s.lbls);
      if (!keep && budget > 0) {
        --budget;
        admitted.insert(h);
        keep = true;
      }
      if (!keep) {
        auto& r = out[i];
        if (r.series++ == 0) r.first = to_string(s.lbls);
        r.samples += s.samples.size();
        continue;
      }
      if (kept != k) {
        batch[kept] = std::move(s);
        if (!q.encoded) q.hashes[kept] = h;
      }
      ++kept;
    }
    if (out[i].series == 0) continue;
    batch.resize(kept);
    if (q.encoded) q.bytes = wire::encode_batch(batch);
    else q.hashes.resize(kept);
  }
  return out;
}

// Keeps the series of `parts` only.
template <class T>
void keep_partitions(std::vector<T>& v, const partition_set& parts) {
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const T& s) { return !parts.has(cluster::partition_of(wire::series_hash(s.lbls))); }),
          v.end());
}

// One shard's series of some partitions, for evaluating a pushed-down
// aggregation where the data lies (raw samples only).
class store_source final : public query::series_source {
 public:
  store_source(const persistence::shard_store& store, partition_set parts)
      : store_(store), parts_(parts), all_(parts.size() == cluster::partitions) {}
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    auto out = store_.select(ms, mint, maxt);
    if (!all_) keep_partitions(out, parts_);
    return out;
  }
  std::optional<status> select_each(const matchers& ms, int64_t mint, int64_t maxt,
                                    const std::function<status(series&)>& fn) override {
    return store_.select_each(ms, mint, maxt, [&](series& s) {
      if (!all_ && !parts_.has(cluster::partition_of(wire::series_hash(s.lbls)))) return status::ok();
      return fn(s);
    });
  }
  result<std::vector<query::bucket_series>> select_buckets(const matchers& ms, int64_t mint, int64_t maxt,
                                                           int64_t window_ms, int64_t edge_step) override {
    return local_buckets(store_, ms, mint, maxt, window_ms, edge_step, parts_);
  }

 private:
  const persistence::shard_store& store_;
  partition_set parts_;
  bool all_;
};

caf::error limit_error(const limit_refusal& r, size_t max, const status& rest) {
  std::string msg = "series " + r.first + (r.series > 1 ? " and " + std::to_string(r.series - 1) + " more" : "") +
                    " not created (" + std::to_string(r.samples) +
                    " samples refused): this node holds its limit of " + std::to_string(max) +
                    " active series (--max-active-series); samples of existing series were written";
  if (!rest) msg += "; " + rest.message();
  return to_caf_error(error(strata_errc::limit_exceeded, std::move(msg)));
}

caf::behavior shard_behavior(caf::stateful_actor<shard_state>* self,
                             std::shared_ptr<std::unique_ptr<persistence::shard_store>> opened,
                             std::chrono::milliseconds sync_interval, std::chrono::milliseconds maintain_interval,
                             std::shared_ptr<shard_gauges> gauges, std::shared_ptr<series_limit> limit) {
  self->state.store = std::move(*opened);
  auto* store = self->state.store.get();
  auto counted_series = std::make_shared<int64_t>(0);  // this shard's part of limit->active
  auto update_gauges = [store, gauges, limit, counted_series] {
    auto st = store->stats();
    if (limit) {
      limit->active.fetch_add(static_cast<int64_t>(st.series) - *counted_series, std::memory_order_relaxed);
      *counted_series = static_cast<int64_t>(st.series);
    }
    if (!gauges) return;
    uint64_t old_too_old = gauges->rejected_too_old.load(std::memory_order_relaxed);
    uint64_t old_conflicting = gauges->rejected_conflicting.load(std::memory_order_relaxed);
    if (gauges->rejected_samples) {
      if (st.rejected_too_old > old_too_old)
        gauges->rejected_samples->add({"out_of_order"}, static_cast<double>(st.rejected_too_old - old_too_old));
      if (st.rejected_conflicting > old_conflicting)
        gauges->rejected_samples->add({"duplicate_timestamp"},
                                      static_cast<double>(st.rejected_conflicting - old_conflicting));
    }
    gauges->series_created.store(st.series_created, std::memory_order_relaxed);
    gauges->series.store(st.series, std::memory_order_relaxed);
    gauges->samples.store(st.head_samples, std::memory_order_relaxed);
    gauges->wal_bytes.store(st.wal_bytes, std::memory_order_relaxed);
    gauges->chunks_written.store(st.chunks_written, std::memory_order_relaxed);
    gauges->rejected_too_old.store(st.rejected_too_old, std::memory_order_relaxed);
    gauges->rejected_conflicting.store(st.rejected_conflicting, std::memory_order_relaxed);
    gauges->blocks_deleted.store(st.blocks_deleted, std::memory_order_relaxed);
  };
  update_gauges();
  // A read's series of the named partitions (all when `parts` is empty).
  auto select_parts = [store](const std::vector<std::string>& flat, int64_t mint, int64_t maxt,
                              const std::string& parts) -> result<write_batch> {
    auto ms = decode_matchers(flat);
    if (!ms) return ms.error();
    auto out = store->select(*ms, mint, maxt);
    if (!parts.empty()) keep_partitions(out, partition_set::decode(parts));
    return out;
  };
  // Queues an append for the next group commit and answers it from there.
  auto enqueue = [self](queued_append q) -> caf::response_promise {
    auto& st = self->state;
    st.queued.push_back(std::move(q));
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->send(self, flush_atom::value);
    }
    return st.queued.back().promise;
  };
  return {
    [=](append_atom, std::string& bytes) -> caf::result<uint64_t> {
      return enqueue({true, std::move(bytes), {}, {}, self->make_response_promise()});
    },
    [=](lappend_atom, write_batch& batch, std::vector<uint64_t>& hashes) -> caf::result<uint64_t> {
      if (hashes.size() != batch.size())
        return to_caf_error(error(strata_errc::internal, "append of " + std::to_string(batch.size()) +
                                                             " series with " + std::to_string(hashes.size()) +
                                                             " hashes"));
      return enqueue({false, {}, std::move(batch), std::move(hashes), self->make_response_promise()});
    },
    [=](flush_atom) {
      auto& st = self->state;
      auto group = std::move(st.queued);
      st.queued.clear();
      st.flush_scheduled = false;
      auto refused = limit ? apply_series_limit(*store, *limit, group) : std::vector<limit_refusal>(group.size());
      std::vector<persistence::shard_store::group_batch> batches(group.size());
      for (size_t i = 0; i < group.size(); ++i) {
        batches[i].encoded = group[i].encoded;
        batches[i].bytes = group[i].bytes;
        batches[i].batch = std::move(group[i].batch);
        batches[i].hashes = std::move(group[i].hashes);
      }
      auto t0 = std::chrono::steady_clock::now();
      auto results = store->append_batches(batches);
      double commit_seconds = seconds_since(t0);
      bool committed = std::any_of(results.begin(), results.end(), [](const auto& r) { return r && *r > 0; });
      if (gauges && gauges->fsync_seconds && store->options().sync && committed)
        gauges->fsync_seconds->observe({}, commit_seconds);
      update_gauges();
      for (size_t i = 0; i < group.size(); ++i) {
        bool store_failed = !results[i] && results[i].error().code() != strata_errc::bad_request;
        if (refused[i].series > 0 && gauges && gauges->rejected_samples)
          gauges->rejected_samples->add({"series_limit"}, static_cast<double>(refused[i].samples));
        if (refused[i].series > 0 && !store_failed) {
          group[i].promise.deliver(
              limit_error(refused[i], limit->max, results[i] ? status::ok() : status(results[i].error())));
        } else if (results[i]) {
          group[i].promise.deliver(static_cast<uint64_t>(*results[i]));
        } else {
          spdlog::error("shard append failed: {}", results[i].error().message());
          group[i].promise.deliver(to_caf_error(results[i].error()));
        }
      }
    },
    [=](sync_atom) {
      auto t0 = std::chrono::steady_clock::now();
      if (auto st = store->sync(); !st) spdlog::error("shard sync failed: {}", st.message());
      else if (gauges && gauges->fsync_seconds) gauges->fsync_seconds->observe({}, seconds_since(t0));
      self->delayed_send(self, sync_interval, sync_atom::value);
    },
    [=](select_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt,
        const std::string& parts) -> caf::result<std::string> {
      auto out = select_parts(flat, mint, maxt, parts);
      if (!out) return to_caf_error(out.error());
      return wire::encode_batch(*out);
    },
    [=](lselect_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt,
        const std::string& parts) -> caf::result<write_batch> {
      auto out = select_parts(flat, mint, maxt, parts);
      if (!out) return to_caf_error(out.error());
      return std::move(*out);
    },
    [=](buckets_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt, int64_t window_ms,
        int64_t edge_step, const std::string& parts) -> caf::result<std::string> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      auto r = answer_buckets(*store, *ms, mint, maxt, window_ms, edge_step, partition_set::decode(parts));
      if (!r) return to_caf_error(r.error());
      return std::move(*r);
    },
    [=](lbuckets_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt, int64_t window_ms,
        int64_t edge_step, const std::string& parts) -> caf::result<std::vector<query::bucket_series>> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      auto r = local_buckets(*store, *ms, mint, maxt, window_ms, edge_step, partition_set::decode(parts));
      if (!r) return to_caf_error(r.error());
      return std::move(*r);
    },
    [=](holds_atom, const std::vector<std::string>& flat, const std::string& parts) -> caf::result<std::string> {
      auto sels = decode_selections(flat);
      if (!sels) return to_caf_error(sels.error());
      auto want = partition_set::decode(parts);
      partition_set held;
      for (const auto& [ms, span] : *sels)
        for (const auto& ls : store->select_labels(ms, span.first, span.second)) {
          uint32_t p = cluster::partition_of(wire::series_hash(ls));
          if (want.has(p)) held.add(p);
        }
      return held.encode();
    },
    [=](partial_atom, const std::string& text, int64_t start, int64_t end, int64_t step, const std::string& opts,
        const std::string& parts) -> caf::result<std::string> {
      auto e = query::parse(text);
      if (!e) return to_caf_error(e.error());
      if (!query::is_pushable(*e))
        return to_caf_error(error(strata_errc::bad_request, "not an expression a shard evaluates: " + text));
      auto o = decode_eval_options(opts);
      if (!o) return to_caf_error(o.error());
      store_source src(*store, partition_set::decode(parts));
      auto r = query::eval_partial_range(*e, src, start, end, step, *o);
      if (!r) return to_caf_error(r.error());
      int64_t k = 0;
      for (const auto& entries : r->steps)
        if (!entries.empty()) k = entries.front().second.k;
      return encode_partials(*r, query::partial_op(*e), k);
    },
    [=](series_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt) -> caf::result<std::string> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      write_batch out;
      for (auto& ls : store->select_labels(*ms, mint, maxt)) out.push_back({std::move(ls), {}});
      return wire::encode_batch(out);
    },
    [=](names_atom, const std::vector<std::string>& flat, int64_t mint,
        int64_t maxt) -> caf::result<std::vector<std::string>> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      return store->label_names(*ms, mint, maxt);
    },
    [=](values_atom, const std::string& name, const std::vector<std::string>& flat, int64_t mint,
        int64_t maxt) -> caf::result<std::vector<std::string>> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      return store->label_values(name, *ms, mint, maxt);
    },
    [=](stats_atom) -> caf::result<uint64_t, uint64_t> {
      auto st = store->stats();
      return {static_cast<uint64_t>(st.series), static_cast<uint64_t>(st.head_samples)};
    },
    [=](tsdb_atom) -> caf::result<std::string> { return encode_tsdb_summary(store->summarize()); },
    [=](mdput_atom, const std::vector<std::string>& flat) -> caf::result<uint64_t> {
      auto md = decode_metadata(flat);
      if (!md) return to_caf_error(md.error());
      auto n = store->put_metadata(*md);
      if (!n) return to_caf_error(n.error());
      return static_cast<uint64_t>(*n);
    },
    [=](mdlist_atom, const std::string& family) -> caf::result<std::vector<std::string>> {
      auto md = store->list_metadata(family);
      if (!md) return to_caf_error(md.error());
      return encode_metadata(*md);
    },
    [=](maintain_atom) {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
      if (auto st = store->maintain(now); !st) spdlog::error("shard maintenance failed: {}", st.message());
      update_gauges();
      self->delayed_send(self, maintain_interval, maintain_atom::value);
    },
    [=](admin_atom, const std::string& op) -> caf::result<std::string> {
      if (op == "flush") {
        if (auto st = store->flush(); !st) return to_caf_error(st);
        update_gauges();
        return std::string("0 0");
      }
      if (op == "compact") {
        auto r = store->compact();
        if (!r) return to_caf_error(r.error());
        update_gauges();
        return std::to_string(r->chunks_before) + " " + std::to_string(r->chunks_after);
      }
      return to_caf_error(error(strata_errc::bad_request, "unknown admin operation \"" + op + "\""));
    },
  };
}

}  // namespace

result<caf::actor> spawn_shard(caf::actor_system& sys, const persistence::store_options& opts,
                               std::chrono::milliseconds sync_interval, std::shared_ptr<shard_gauges> gauges,
                               std::chrono::milliseconds maintain_interval, std::shared_ptr<series_limit> limit) {
  auto store = persistence::shard_store::open(opts);
  if (!store) return store.error();
  auto holder = std::make_shared<std::unique_ptr<persistence::shard_store>>(std::move(*store));
  auto shard = sys.spawn<caf::detached>(shard_behavior, std::move(holder), sync_interval, maintain_interval,
                                        std::move(gauges), std::move(limit));
  if (sync_interval.count() > 0) caf::anon_send(shard, sync_atom::value);
  if (maintain_interval.count() > 0) caf::anon_send(shard, maintain_atom::value);
  return shard;
}

}  // namespace strata::actors
