#include "actors/collector.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <deque>
#include <unordered_map>

#include "actors/messages.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

// One client write, split into parts; answered when the last part is acked.
struct pending_write {
  caf::response_promise promise;
  size_t outstanding = 0;
  uint64_t samples = 0;
  status failure;  // the first failure, if any
};

struct part {
  shard_ref dest;
  std::string bytes;
  std::shared_ptr<pending_write> write;
};

struct node_credit {
  size_t in_flight = 0;
  std::deque<part> queued;
};

struct collector_state {
  std::unordered_map<std::string, node_credit> nodes;  // remote nodes only
  static inline const char* name = "strata.collector";
};

using self_ptr = caf::stateful_actor<collector_state>*;

void finish_part(const std::shared_ptr<pending_write>& w, const status& st, uint64_t samples) {
  if (!st && w->failure.is_ok()) w->failure = st;
  w->samples += samples;
  if (--w->outstanding > 0) return;
  if (w->failure.is_ok()) w->promise.deliver(w->samples);
  else w->promise.deliver(to_caf_error(w->failure));
}

void send_part(self_ptr self, part p, const collector_options& opts);

void release_credit(self_ptr self, const std::string& node, const collector_options& opts) {
  auto& c = self->state.nodes[node];
  --c.in_flight;
  if (!c.queued.empty()) {
    part next = std::move(c.queued.front());
    c.queued.pop_front();
    send_part(self, std::move(next), opts);
  }
}

void send_part(self_ptr self, part p, const collector_options& opts) {
  if (!p.dest.local) {
    auto& c = self->state.nodes[p.dest.node];
    if (c.in_flight >= opts.window) {
      c.queued.push_back(std::move(p));
      return;
    }
    ++c.in_flight;
  }
  auto dest = p.dest;
  auto w = p.write;
  self->request(dest.handle, opts.shard_timeout, append_atom::value, std::move(p.bytes))
      .then(
          [=](uint64_t n) {
            if (!dest.local) release_credit(self, dest.node, opts);
            finish_part(w, status::ok(), n);
          },
          [=](caf::error& e) {
            if (!dest.local) release_credit(self, dest.node, opts);
            finish_part(w, from_caf_error(e, "shard " + std::to_string(dest.index) + " on " + dest.node), 0);
          });
}

caf::behavior collector_behavior(self_ptr self, const shard_table* table, collector_options opts) {
  return {
    [=](write_atom, write_batch& batch) -> caf::result<uint64_t> {
      auto view = table->snapshot();
      const auto& shards = view->shards;
      if (shards.empty()) return to_caf_error(error(strata_errc::unavailable, "no shard is available"));
      std::vector<write_batch> parts(shards.size());
      for (auto& s : batch) parts[wire::series_hash(s.lbls) % shards.size()].push_back(std::move(s));
      // Admission: refuse the whole write before sending anything.
      std::unordered_map<std::string, size_t> wanted;
      for (size_t i = 0; i < shards.size(); ++i)
        if (!parts[i].empty() && !shards[i].local) ++wanted[shards[i].node];
      for (const auto& [node, n] : wanted) {
        const auto& c = self->state.nodes[node];
        if (c.in_flight + c.queued.size() + n > opts.window + opts.max_queued)
          return to_caf_error(error(strata_errc::overloaded,
                                    "too many unacknowledged batches towards node " + node + " (limit " +
                                        std::to_string(opts.window + opts.max_queued) + ")"));
      }
      auto w = std::make_shared<pending_write>();
      for (const auto& p : parts) w->outstanding += p.empty() ? 0 : 1;
      // Answer an empty write here: once a promise is made, a returned value is lost.
      if (w->outstanding == 0) return uint64_t{0};
      w->promise = self->make_response_promise();
      for (size_t i = 0; i < shards.size(); ++i)
        if (!parts[i].empty()) send_part(self, part{shards[i], wire::encode_batch(parts[i]), w}, opts);
      return w->promise;
    },
  };
}

}  // namespace

caf::actor spawn_collector(caf::actor_system& sys, const shard_table& table, collector_options opts) {
  return sys.spawn(collector_behavior, &table, opts);
}

}  // namespace strata::actors
