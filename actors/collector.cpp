#include "actors/collector.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <bitset>
#include <deque>
#include <unordered_map>

#include "actors/messages.hpp"
#include "cluster/ring.hpp"
#include "wire/batch.hpp"
#include "wire/check_series.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

// One client write, split into one part per shard. Every series goes to the
// `replicas` owners of its partition; the write is answered once each
// partition it touches has `need` replicas committed (or can no longer get
// them). Parts still outstanding then finish in the background.
struct pending_write {
  caf::response_promise promise;
  uint64_t samples = 0;  // of the whole write, answered on success
  uint32_t need = 1;
  uint32_t replicas = 1;
  struct votes {
    uint8_t ok = 0, failed = 0;
  };
  std::vector<votes> partitions;  // by partition (cluster::partitions of them)
  size_t undecided = 0;  // partitions neither at quorum nor past hope
  bool lost = false;     // some partition cannot reach its quorum
  bool answered = false;
  status failure;  // the worst failure of a replica, if any
  status bounds;   // samples dropped before routing (answered as a partial write)
};

// A shard's part of a write: to a shard of this node the series themselves
// and their hashes, to a remote shard Cap'n Proto bytes.
struct part {
  shard_ref dest;
  std::string bytes;
  write_batch batch;
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> partitions;  // sorted, unique
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

// A replica that failed for a reason that may pass (the node is down, slow
// or restarting) gets the part later through hinted handoff.
bool worth_a_hint(const status& st) {
  return st.code() == strata_errc::unavailable || st.code() == strata_errc::timeout ||
         st.code() == strata_errc::overloaded;
}

void finish_part(const std::shared_ptr<pending_write>& w, const std::vector<uint32_t>& partitions, const status& st) {
  if (!st.is_ok()) {
    if (failure_rank(st) > failure_rank(w->failure)) w->failure = st;
    else if (failure_rank(st) == 1 && failure_rank(w->failure) == 1 && w->failure.message() != st.message())
      w->failure = error(strata_errc::bad_request, w->failure.message() + "; " + st.message());
  }
  bool lost = false;
  for (uint32_t p : partitions) {
    auto& v = w->partitions[p];  // p is one this write touches
    bool was_decided = v.ok >= w->need || v.failed > w->replicas - w->need;
    if (st.is_ok()) ++v.ok;
    else ++v.failed;
    bool decided = v.ok >= w->need || v.failed > w->replicas - w->need;
    if (decided && !was_decided) --w->undecided;
    lost = lost || (v.failed > w->replicas - w->need && v.ok < w->need);
  }
  if (lost) w->lost = true;
  if (w->answered || w->undecided > 0) return;
  w->answered = true;
  if (w->lost) w->promise.deliver(to_caf_error(w->failure));
  else if (!w->bounds.is_ok()) w->promise.deliver(to_caf_error(w->bounds));
  else w->promise.deliver(w->samples);
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
  auto partitions = std::make_shared<std::vector<uint32_t>>(std::move(p.partitions));
  // A remote part is kept until answered, for hinted handoff.
  auto kept = !dest.local && opts.hints ? std::make_shared<std::string>(p.bytes) : nullptr;
  auto committed = [=](uint64_t) {
    if (!dest.local) release_credit(self, dest.node, opts);
    finish_part(w, *partitions, status::ok());
  };
  auto failed = [=](caf::error& e) {
    if (!dest.local) release_credit(self, dest.node, opts);
    auto st = from_caf_error(e, "shard " + std::to_string(dest.index) + " on " + dest.node);
    if (kept && worth_a_hint(st)) self->send(opts.hints, hint_atom::value, dest.node, dest.index, std::move(*kept));
    finish_part(w, *partitions, st);
  };
  if (dest.local)
    self->request(dest.handle, opts.shard_timeout, lappend_atom::value, std::move(p.batch), std::move(p.hashes))
        .then(committed, failed);
  else
    self->request(dest.handle, opts.shard_timeout, append_atom::value, std::move(p.bytes)).then(committed, failed);
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
      if (view->replicas == 0) return to_caf_error(error(strata_errc::unavailable, "no shard is available"));
      uint32_t need = cluster::write_quorum(view->rf);
      if (view->replicas < need)
        return to_caf_error(error(strata_errc::unavailable,
                                  "a write needs " + std::to_string(need) + " of " + std::to_string(view->rf) +
                                      " replicas (--replication-factor " + std::to_string(view->rf) + ") but only " +
                                      std::to_string(view->replicas) + " nodes are up"));
      auto w = std::make_shared<pending_write>();
      w->bounds = bounds;
      w->need = need;
      w->replicas = view->replicas;
      // The one check of canonical labels on the way to the shards: those of
      // this node take the series as they are.
      for (size_t k = 0; k < batch.size(); ++k)
        if (!wire::is_canonical(batch[k].lbls))
          return to_caf_error(error(strata_errc::bad_request,
                                    "series " + std::to_string(k) + " " + to_string(batch[k].lbls) +
                                        ": labels are not sorted by name, a name repeats or is empty"));
      std::vector<write_batch> parts(shards.size());
      std::vector<std::vector<uint64_t>> part_hashes(shards.size());
      // Which partitions each part touches, as bits (a sort of every
      // series' partition showed in ingest profiles).
      std::vector<std::bitset<cluster::partitions>> part_partitions(shards.size());
      std::bitset<cluster::partitions> touched;
      w->partitions.resize(cluster::partitions);
      for (auto& s : batch) {
        uint64_t h = wire::series_hash(s.lbls);
        uint32_t p = cluster::partition_of(h);
        w->samples += s.samples.size();
        if (!touched[p]) {
          touched[p] = true;
          ++w->undecided;
        }
        for (uint32_t k = 0; k < view->replicas; ++k) {
          uint32_t i = view->shard_for(h, k);
          part_partitions[i][p] = true;
          if (shards[i].local) part_hashes[i].push_back(h);
          if (k + 1 < view->replicas) parts[i].push_back(s);
          else parts[i].push_back(std::move(s));
        }
      }
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
      // Answer an empty write here: once a promise is made, a returned value is lost.
      if (w->undecided == 0) return uint64_t{0};
      w->promise = self->make_response_promise();
      for (size_t i = 0; i < shards.size(); ++i) {
        if (parts[i].empty()) continue;
        std::vector<uint32_t> ps;
        for (uint32_t p = 0; p < cluster::partitions; ++p)
          if (part_partitions[i][p]) ps.push_back(p);
        part out{shards[i], {}, {}, {}, std::move(ps), w};
        if (shards[i].local) {
          out.batch = std::move(parts[i]);
          out.hashes = std::move(part_hashes[i]);
        } else {
          out.bytes = wire::encode_batch(parts[i]);
        }
        send_part(self, std::move(out), opts);
      }
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
