#include "actors/collector.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
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

// Which failure a write is answered with when parts fail differently: one
// the client should retry wins over a refused series (429), which wins over
// refused samples (400); two 400s are joined.
int failure_rank(const status& st) {
  if (st.is_ok()) return 0;
  if (st.code() == strata_errc::bad_request) return 1;
  if (st.code() == strata_errc::limit_exceeded) return 2;
  return 3;
}

void finish_part(const std::shared_ptr<pending_write>& w, const status& st, uint64_t samples) {
  if (failure_rank(st) > failure_rank(w->failure)) w->failure = st;
  else if (failure_rank(st) == 1 && failure_rank(w->failure) == 1)
    w->failure = error(strata_errc::bad_request, w->failure.message() + "; " + st.message());
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

std::string format_ms(int64_t ms) {
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

caf::behavior collector_behavior(self_ptr self, const shard_table* table, collector_options opts) {
  if (!opts.time) opts.time = std::make_shared<system_clock>();
  return {
    [=](write_atom, write_batch& batch) -> caf::result<uint64_t> {
      status bounds;
      if (opts.max_future_ms > 0 || opts.max_age_ms > 0) {
        uint64_t counts[2] = {0, 0};
        bounds = drop_out_of_bounds(batch, opts.time->now_ms(), opts.max_future_ms, opts.max_age_ms, counts);
        if (opts.rejected_samples) {
          if (counts[0]) opts.rejected_samples->add({"too_far_in_future"}, static_cast<double>(counts[0]));
          if (counts[1]) opts.rejected_samples->add({"too_old"}, static_cast<double>(counts[1]));
        }
        if (!bounds && batch.empty()) return to_caf_error(bounds);
      }
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
      w->failure = bounds;
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

status drop_out_of_bounds(write_batch& batch, int64_t now_ms, int64_t max_future_ms, int64_t max_age_ms,
                          uint64_t counts[2]) {
  uint64_t dropped[2] = {0, 0};
  std::string first[2];
  int64_t first_t[2] = {0, 0};
  for (auto& s : batch) {
    auto keep = std::remove_if(s.samples.begin(), s.samples.end(), [&](const sample& x) {
      int which = -1;
      if (max_future_ms > 0 && x.t > now_ms + max_future_ms) which = 0;
      else if (max_age_ms > 0 && x.t < now_ms - max_age_ms) which = 1;
      if (which < 0) return false;
      if (dropped[which]++ == 0) {
        first[which] = to_string(s.lbls);
        first_t[which] = x.t;
      }
      return true;
    });
    s.samples.erase(keep, s.samples.end());
  }
  if (counts) {
    counts[0] = dropped[0];
    counts[1] = dropped[1];
  }
  if (dropped[0] + dropped[1] == 0) return status::ok();
  batch.erase(std::remove_if(batch.begin(), batch.end(), [](const series& s) { return s.samples.empty(); }),
              batch.end());
  std::string msg;
  if (dropped[0])
    msg = std::to_string(dropped[0]) + " samples too far in the future, the first of series " + first[0] +
          " at t=" + std::to_string(first_t[0]) + ", " + format_ms(first_t[0] - now_ms) +
          " ahead of this node's clock (now=" + std::to_string(now_ms) + "), past the limit of " +
          format_ms(max_future_ms) + " (--max-sample-future)";
  if (dropped[1])
    msg += (msg.empty() ? "" : "; ") + std::to_string(dropped[1]) + " samples too old, the first of series " +
           first[1] + " at t=" + std::to_string(first_t[1]) + ", " + format_ms(now_ms - first_t[1]) +
           " behind this node's clock (now=" + std::to_string(now_ms) + "), past the limit of " +
           format_ms(max_age_ms) + " (--max-sample-age)";
  msg += "; the other samples of the request were written";
  return error(strata_errc::bad_request, std::move(msg));
}

caf::actor spawn_collector(caf::actor_system& sys, const shard_table& table, collector_options opts) {
  return sys.spawn(collector_behavior, &table, opts);
}

}  // namespace strata::actors
