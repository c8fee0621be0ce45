#include "actors/shard_actor.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "wire/batch.hpp"

namespace strata::actors {
namespace {

struct shard_state {
  std::unique_ptr<persistence::shard_store> store;
  static inline const char* name = "strata.shard";
};

caf::behavior shard_behavior(caf::stateful_actor<shard_state>* self,
                             std::shared_ptr<std::unique_ptr<persistence::shard_store>> opened) {
  self->state.store = std::move(*opened);
  auto* store = self->state.store.get();
  return {
    [=](append_atom, const std::string& bytes) -> caf::result<uint64_t> {
      auto n = store->append_encoded(bytes);
      if (!n) {
        spdlog::error("shard append failed: {}", n.error().message());
        return to_caf_error(n.error());
      }
      return static_cast<uint64_t>(*n);
    },
    [=](select_atom, const std::vector<std::string>& flat, int64_t mint, int64_t maxt) -> caf::result<std::string> {
      auto ms = decode_matchers(flat);
      if (!ms) return to_caf_error(ms.error());
      return wire::encode_batch(store->select(*ms, mint, maxt));
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
      return {static_cast<uint64_t>(st.series), static_cast<uint64_t>(st.samples)};
    },
  };
}

}  // namespace

result<caf::actor> spawn_shard(caf::actor_system& sys, const persistence::store_options& opts) {
  auto store = persistence::shard_store::open(opts);
  if (!store) return store.error();
  auto holder = std::make_shared<std::unique_ptr<persistence::shard_store>>(std::move(*store));
  return sys.spawn<caf::detached>(shard_behavior, std::move(holder));
}

}  // namespace strata::actors
