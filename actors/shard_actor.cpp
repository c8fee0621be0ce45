#include "actors/shard_actor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/bucket_reply.hpp"
#include "actors/messages.hpp"
#include "wire/batch.hpp"

namespace strata::actors {
namespace {

// Group commit: appends are queued, and one flush (a message to self, so it
// runs after every append already in the mailbox) commits them all in one
// transaction. Appends that arrive while a commit runs share the next one.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;

struct queued_append {
  std::string bytes;
  caf::response_promise promise;
};

struct shard_state {
  std::unique_ptr<persistence::shard_store> store;
  std::vector<queued_append> queued;
  bool flush_scheduled = false;
  static inline const char* name = "strata.shard";
};

caf::behavior shard_behavior(caf::stateful_actor<shard_state>* self,
                             std::shared_ptr<std::unique_ptr<persistence::shard_store>> opened,
                             std::chrono::milliseconds sync_interval, std::chrono::milliseconds maintain_interval,
                             std::shared_ptr<shard_gauges> gauges) {
  self->state.store = std::move(*opened);
  auto* store = self->state.store.get();
  auto update_gauges = [store, gauges] {
    if (!gauges) return;
    auto st = store->stats();
    gauges->series.store(st.series, std::memory_order_relaxed);
    gauges->samples.store(st.head_samples, std::memory_order_relaxed);
    gauges->wal_bytes.store(st.wal_bytes, std::memory_order_relaxed);
    gauges->chunks_written.store(st.chunks_written, std::memory_order_relaxed);
    gauges->rejected_too_old.store(st.rejected_too_old, std::memory_order_relaxed);
    gauges->rejected_conflicting.store(st.rejected_conflicting, std::memory_order_relaxed);
    gauges->blocks_deleted.store(st.blocks_deleted, std::memory_order_relaxed);
  };
  update_gauges();
  return {
    [=](append_atom, std::string& bytes) -> caf::result<uint64_t> {
      auto& st = self->state;
      st.queued.push_back({std::move(bytes), self->make_response_promise()});
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return st.queued.back().promise;
    },
    [=](flush_atom) {
      auto& st = self->state;
      auto group = std::move(st.queued);
      st.queued.clear();
      st.flush_scheduled = false;
      std::vector<std::string_view> views;
      views.reserve(group.size());
      for (const auto& q : group) views.emplace_back(q.bytes);
      auto results = store->append_encoded_group(views);
      update_gauges();
      for (size_t i = 0; i < group.size(); ++i) {
        if (results[i]) {
          group[i].promise.deliver(static_cast<uint64_t>(*results[i]));
        } else {
          spdlog::error("shard append failed: {}", results[i].error().message());
          group[i].promise.deliver(to_caf_error(results[i].error()));
        }
      }
    },
    [=](sync_atom) {
      if (auto st = store->sync(); !st) spdlog::error("shard sync failed: {}", st.message());
      self->delayed_send(self, sync_interval, sync_atom::value);
    },
    [=](select_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt) -> caf::result<std::string> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      return wire::encode_batch(store->select(*ms, mint, maxt));
    },
    [=](buckets_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt,
        int64_t window_ms) -> caf::result<std::string> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      auto r = answer_buckets(*store, *ms, mint, maxt, window_ms);
      if (!r) return to_caf_error(r.error());
      return std::move(*r);
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
                               std::chrono::milliseconds maintain_interval) {
  auto store = persistence::shard_store::open(opts);
  if (!store) return store.error();
  auto holder = std::make_shared<std::unique_ptr<persistence::shard_store>>(std::move(*store));
  auto shard = sys.spawn<caf::detached>(shard_behavior, std::move(holder), sync_interval, maintain_interval,
                                        std::move(gauges));
  if (sync_interval.count() > 0) caf::anon_send(shard, sync_atom::value);
  if (maintain_interval.count() > 0) caf::anon_send(shard, maintain_atom::value);
  return shard;
}

}  // namespace strata::actors
