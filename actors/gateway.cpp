#include "actors/gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "actors/bucket_reply.hpp"
#include "actors/messages.hpp"
#include "persistence/shard_store.hpp"
#include "query/parser.hpp"
#include "query/plan.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

// Nodes that are down make a read partial only where a partition has no
// live replica in some epoch (with --replication-factor 2 or more, one node
// down usually leaves every partition a live replica, and the read is whole).
std::vector<std::string> down_warnings(const shard_view& view) {
  std::vector<std::string> w;
  if (view.down.empty()) return w;
  uint32_t lost = view.epochs ? view.epochs->unowned_partitions(view.members, INT64_MIN, INT64_MAX) : cluster::partitions;
  if (lost == 0) return w;
  for (const auto& n : view.down)
    w.push_back("node " + n + " is down and " + std::to_string(lost) + " of " + std::to_string(cluster::partitions) +
                " partitions have no live replica: their series may be missing from this result");
  return w;
}

// Sends the same request to every shard of `view`; on_reply runs once per
// answer (on one actor thread, in turn), on_done once at the end with the
// first failure or ok.
template <class Reply, class... Args>
void fan_out(caf::actor_system& sys, std::shared_ptr<const shard_view> view, std::chrono::milliseconds timeout,
             std::function<status(Reply&)> on_reply, std::function<void(status)> on_done, Args... args) {
  if (view->shards.empty()) {
    on_done(error(strata_errc::unavailable, "no shard is available"));
    return;
  }
  sys.spawn([=](caf::event_based_actor* self) {
    auto left = std::make_shared<size_t>(view->shards.size());
    auto failure = std::make_shared<status>();
    auto one_done = [=](status st) {
      if (!st && failure->is_ok()) *failure = std::move(st);
      if (--*left == 0) on_done(*failure);
    };
    for (const auto& shard : view->shards) {
      std::string where = "shard " + std::to_string(shard.index) + " on node " + shard.node;
      self->request(shard.handle, timeout, args...)
          .then([=](Reply& r) { one_done(on_reply(r)); },
                [=](caf::error& e) { one_done(from_caf_error(e, where + " did not answer")); });
    }
  });
}

std::vector<std::string> sorted_union(std::vector<std::vector<std::string>> parts) {
  std::set<std::string> all;
  for (auto& p : parts)
    for (auto& s : p) all.insert(std::move(s));
  return {all.begin(), all.end()};
}

// Fans a string-list request out (through `send`) and answers the sorted union.
template <class Send>
void read_strings(std::shared_ptr<const shard_view> view, std::chrono::milliseconds timeout,
                  read_done<std::vector<std::string>> done, const Send& send) {
  auto acc = std::make_shared<std::vector<std::vector<std::string>>>();
  send(
      view, timeout,
      [acc](std::vector<std::string>& r) {
        acc->push_back(std::move(r));
        return status::ok();
      },
      [acc, done, view](status st) {
        if (!st) return done(st, {});
        done(sorted_union(std::move(*acc)), down_warnings(*view));
      });
}

}  // namespace

gateway::gateway(caf::actor_system& sys, const shard_table& table, std::vector<caf::actor> collectors,
                 std::chrono::milliseconds timeout, write_window window)
    : sys_(sys), table_(table), collectors_(std::move(collectors)), timeout_(timeout), window_(window) {}

gateway::~gateway() = default;

void gateway::write(write_batch batch, std::function<void(result<uint64_t>)> done) {
  if (batch.empty()) return done(uint64_t{0});  // e.g. a remote_write request carrying only metadata
  uint64_t n = sample_count(batch);
  uint64_t cur = in_flight_->load();
  do {
    if (max_in_flight_ > 0 && cur > 0 && cur + n > max_in_flight_)
      return done(error(strata_errc::overloaded, "too many samples being written (" + std::to_string(cur) +
                                                     " in flight, this write " + std::to_string(n) + ", limit " +
                                                     std::to_string(max_in_flight_) +
                                                     " (--max-samples-in-flight)): retry later"));
  } while (!in_flight_->compare_exchange_weak(cur, cur + n));
  done = [in_flight = in_flight_, n, done = std::move(done)](result<uint64_t> r) mutable {
    in_flight->fetch_sub(n);
    done(std::move(r));
  };
  if (watch_)
    if (auto names = watch_(batch); !names.empty())
      done = [done = std::move(done), written = written_, names = std::move(names)](result<uint64_t> r) mutable {
        if (r) written(std::move(names));
        done(std::move(r));
      };
  auto collector = collectors_[next_collector_++ % collectors_.size()];
  auto timeout = timeout_;
  sys_.spawn([=, batch = std::move(batch)](caf::event_based_actor* self) mutable {
    self->request(collector, timeout, write_atom::value, std::move(batch))
        .then([=](uint64_t n) { done(n); }, [=](caf::error& e) { done(from_caf_error(e, "write")); });
  });
}

void gateway::set_write_watch(watch_fn watch, std::function<void(std::vector<std::string>)> written) {
  watch_ = std::move(watch);
  written_ = std::move(written);
}

std::vector<series> merge_series(std::vector<series> parts) {
  // Each shard answers its series sorted by labels, one after the other: the
  // runs are merged (as a stable sort would order them: equal labels stay in
  // the order their parts came), with a few label comparisons per series
  // instead of a sort's log2(n).
  auto before = [](const series& a, const series& b) { return a.lbls < b.lbls; };
  std::vector<size_t> runs{0};
  for (size_t i = 1; i < parts.size(); ++i)
    if (before(parts[i], parts[i - 1])) runs.push_back(i);
  runs.push_back(parts.size());
  while (runs.size() > 2) {
    std::vector<size_t> merged{0};
    for (size_t j = 0; j + 1 < runs.size(); j += 2) {
      size_t end = j + 2 < runs.size() ? runs[j + 2] : runs[j + 1];
      if (j + 2 < runs.size())
        std::inplace_merge(parts.begin() + static_cast<std::ptrdiff_t>(runs[j]),
                           parts.begin() + static_cast<std::ptrdiff_t>(runs[j + 1]),
                           parts.begin() + static_cast<std::ptrdiff_t>(end), before);
      merged.push_back(end);
    }
    runs = std::move(merged);
  }
  std::vector<series> out;
  out.reserve(parts.size());
  // A shard answers each series in time order with each timestamp once
  // (shard_store::select): only series joined from several parts are sorted.
  std::vector<size_t> joined;
  for (auto& s : parts) {
    if (out.empty() || out.back().lbls != s.lbls) {
      out.push_back(std::move(s));
      continue;
    }
    if (joined.empty() || joined.back() != out.size() - 1) joined.push_back(out.size() - 1);
    auto& dst = out.back().samples;
    if (dst.empty()) dst = std::move(s.samples);
    else dst.insert(dst.end(), s.samples.begin(), s.samples.end());
  }
  for (size_t i : joined) {
    auto& samples = out[i].samples;
    if (!std::is_sorted(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t < b.t; })) {
      std::stable_sort(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t < b.t; });
    }
    samples.erase(std::unique(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t == b.t; }),
                  samples.end());
  }
  return out;
}

namespace {

// The warning or failure for partitions that had no live replica in some
// epoch of a query read's range.
status unowned_status(const partition_set& unowned, const std::set<std::string>& missing, bool partial_ok,
                      std::vector<std::string>& warnings) {
  uint32_t n = unowned.size();
  if (n == 0) return status::ok();
  std::string nodes;
  for (const auto& m : missing) nodes += (nodes.empty() ? "" : ", ") + m;
  auto list = unowned.list();
  std::string first;
  for (size_t i = 0; i < list.size() && i < 8; ++i) first += (i ? "," : "") + std::to_string(list[i]);
  if (list.size() > 8) first += ",...";
  std::string msg = std::to_string(n) + " of " + std::to_string(cluster::partitions) + " partitions (" + first +
                    ") have no live replica for some of the queried time range (owners not live: " + nodes + ")";
  if (!partial_ok) return error(strata_errc::unavailable, msg + "; partial_response=false refuses a partial answer");
  warnings.push_back(msg + ": their series may be missing from this result");
  return status::ok();
}

// What an actor waits for from other nodes, per node: the calls that give it
// up. A read actor watches the shard table (shard_table::watch); when a node
// leaves the members (its connection closed: killed, or frozen past
// --connection-timeout-ms) its calls run at once, so the read goes on without
// it instead of waiting for --request-timeout-ms.
using departures = std::map<std::string, std::vector<std::function<void()>>>;

// Runs (and forgets) the calls of every node that is not a member now.
void give_up_departed(departures& waiting, const shard_table& table) {
  auto now = table.snapshot();
  std::vector<std::function<void()>> calls;  // run after the walk: they may change `waiting`
  for (auto it = waiting.begin(); it != waiting.end();) {
    if (std::binary_search(now->members.begin(), now->members.end(), it->first)) {
      ++it;
      continue;
    }
    for (auto& call : it->second) calls.push_back(std::move(call));
    it = waiting.erase(it);
  }
  for (auto& call : calls) call();
}

// Registers `self` with the table until it terminates; the actor must
// handle view_atom (await_departures).
void watch_table(caf::event_based_actor* self, const shard_table& table) {
  auto id = table.watch(caf::actor_cast<caf::actor>(self));
  self->attach_functor([t = &table, id] { t->unwatch(id); });
}

// The behavior of a read actor that waits on other nodes: gives up the nodes
// already gone from the table (the view it planned with may be stale), then
// each one as it leaves. Empty (the actor ends) once *finished. `keep` owns
// what `waiting` and `finished` point into.
template <class Keep>
caf::behavior await_departures(const shard_table* table, departures* waiting, const bool* finished, Keep keep) {
  if (*finished) return {};
  give_up_departed(*waiting, *table);
  if (*finished) return {};
  return {[table, waiting, keep](view_atom) { give_up_departed(*waiting, *table); }};
}

// One query read over planned partitions, run by one actor: every shard of
// each planned node is asked (make(parts) builds the request), answers go
// to on_reply(node, bytes, remote), and a node that fails has its
// partitions planned again without it (when `retry`), else they are
// reported to on_done as failed for the caller to deal with.
struct planned_read {
  caf::event_based_actor* self = nullptr;
  const shard_table* table = nullptr;  // watched for nodes leaving the members
  std::shared_ptr<const shard_view> view;
  write_window window;
  int64_t mint = 0, maxt = 0;
  std::chrono::milliseconds timeout{0};
  bool retry = true;
  std::function<caf::message(const std::string& parts)> make;
  std::function<status(const std::string& node, std::string& bytes, bool remote)> on_reply;
  // The request to a shard on this node, answered with the series
  // themselves (lselect_atom) or the rollup buckets (lbuckets_atom), and
  // what takes them (one of the two).
  std::function<caf::message(const std::string& parts)> make_local;
  std::function<status(write_batch& got)> on_local;
  std::function<status(std::vector<query::bucket_series>& got)> on_local_buckets;
  std::function<void(status, planned_read&)> on_done;

  std::set<std::string> failed;     // nodes that failed this read
  partition_set failed_parts;       // their partitions (retry == false)
  // Per remote node: fails its requests still waiting (departures).
  departures abandon;
  partition_set unowned;
  std::set<std::string> missing;
  size_t outstanding = 0;
  status failure;
  bool finished = false;
};

void finish_one(const std::shared_ptr<planned_read>& st) {
  if (--st->outstanding > 0 || st->finished) return;
  st->finished = true;
  st->on_done(st->failure, *st);
  st->self->quit();  // answers still on their way are dropped
}

void launch(const std::shared_ptr<planned_read>& st, const partition_set& only) {
  auto plan = plan_read(*st->view, st->mint, st->maxt, st->window, st->failed, only);
  for (uint32_t p : plan.unowned.list()) st->unowned.add(p);
  st->missing.insert(plan.missing_nodes.begin(), plan.missing_nodes.end());
  ++st->outstanding;  // held while sending
  for (const auto& planned : plan.by_node) {
    std::string node = planned.first;
    partition_set parts = planned.second;
    auto m = static_cast<size_t>(
        std::lower_bound(st->view->members.begin(), st->view->members.end(), node) - st->view->members.begin());
    const auto& shards = st->view->member_shards[m];
    auto node_failed = std::make_shared<bool>(false);
    // Each request settles once: by its answer, or when its node is abandoned.
    auto settled = std::make_shared<std::vector<bool>>(shards.size(), false);
    auto fail_node = [=] {
      if (*node_failed) return;
      *node_failed = true;
      st->failed.insert(node);
      if (st->retry) launch(st, parts);
      else
        for (uint32_t p : parts.list()) st->failed_parts.add(p);
    };
    // Every partition: no filter for the shards to apply.
    std::string bytes = parts.size() == cluster::partitions ? std::string() : parts.encode();
    for (size_t k = 0; k < shards.size(); ++k) {
      const auto& shard = st->view->shards[shards[k]];
      std::string where = "shard " + std::to_string(shard.index) + " on node " + shard.node;
      ++st->outstanding;
      bool remote = !shard.local;
      // Runs `take` on the answer unless the request settled already.
      auto settle = [=](auto take) {
        if ((*settled)[k]) return;
        (*settled)[k] = true;
        if (!*node_failed && st->failure.is_ok())
          if (auto s = take(); !s) st->failure = s;
        finish_one(st);
      };
      auto failed = [=](caf::error& e) {
        if ((*settled)[k]) return;
        (*settled)[k] = true;
        auto s = from_caf_error(e, where + " did not answer");
        bool passing = s.code() == strata_errc::unavailable || s.code() == strata_errc::timeout ||
                       s.code() == strata_errc::overloaded;
        if (!passing) {
          if (st->failure.is_ok()) st->failure = s;
        } else {
          fail_node();
        }
        finish_one(st);
      };
      if (!remote && st->make_local && st->on_local_buckets) {
        st->self->request(shard.handle, st->timeout, st->make_local(bytes))
            .then([=](std::vector<query::bucket_series>& got) { settle([&] { return st->on_local_buckets(got); }); },
                  failed);
        continue;
      }
      if (!remote && st->make_local) {
        st->self->request(shard.handle, st->timeout, st->make_local(bytes))
            .then([=](write_batch& got) { settle([&] { return st->on_local(got); }); }, failed);
        continue;
      }
      st->self->request(shard.handle, st->timeout, st->make(bytes))
          .then([=](std::string& r) { settle([&] { return st->on_reply(node, r, remote); }); }, failed);
    }
    if (!st->view->shards[shards.front()].local)
      st->abandon[node].push_back([=] {
        if (st->finished) return;
        fail_node();
        for (size_t k = 0; k < settled->size(); ++k)
          if (!(*settled)[k]) {
            (*settled)[k] = true;
            finish_one(st);
          }
      });
  }
  finish_one(st);
}

// What a rollup answer counts against max_samples: its buckets and raw
// samples, as decode_bucket_reply counts them.
size_t bucket_count(const std::vector<query::bucket_series>& got) {
  size_t n = 0;
  for (const auto& s : got) n += s.buckets.size() + s.samples.size();
  return n;
}

// Runs `st` on an actor of its own that lives until the read is finished.
void start_read(caf::actor_system& sys, const shard_table& table, std::shared_ptr<planned_read> st,
                partition_set only) {
  if (st->view->shards.empty()) {
    st->failure = error(strata_errc::unavailable, "no shard is available");
    st->on_done(st->failure, *st);
    return;
  }
  st->table = &table;
  sys.spawn([st, only](caf::event_based_actor* self) -> caf::behavior {
    st->self = self;
    watch_table(self, *st->table);
    launch(st, only);
    return await_departures(st->table, &st->abandon, &st->finished, st);
  });
}

// A planned read that gathers decoded parts, failing once their samples
// pass `max_samples` (what it gathered is then dropped). `make_local`
// (may be empty) asks a shard on this node for its series or buckets
// without encoding.
template <class T, class Decode, class Finish>
void gather_planned(caf::actor_system& sys, const shard_table& table, write_window window,
                    std::chrono::milliseconds timeout, int64_t mint, int64_t maxt, size_t max_samples,
                    read_options ro, partition_set only, std::function<caf::message(const std::string&)> make,
                    std::function<caf::message(const std::string&)> make_local, Decode decode, Finish finish,
                    query_done<std::vector<T>> done) {
  struct gathered {
    std::vector<T> parts;
    size_t samples = 0;
    read_stats stats;
  };
  auto acc = std::make_shared<gathered>();
  auto st = std::make_shared<planned_read>();
  st->view = table.snapshot();
  st->window = window;
  st->mint = mint;
  st->maxt = maxt;
  st->timeout = timeout;
  st->make = std::move(make);
  auto count = [acc, max_samples](size_t n) -> status {
    acc->samples += n;
    if (acc->samples <= max_samples) return status::ok();
    acc->parts = {};
    return error(strata_errc::bad_request,
                 "query processing would load too many samples into memory in query execution (limit " +
                     std::to_string(max_samples) + ")");
  };
  if constexpr (std::is_same_v<T, series>) {
    st->make_local = std::move(make_local);
    st->on_local = [acc, count](write_batch& got) -> status {
      if (auto s = count(sample_count(got)); !s) return s;
      for (auto& s : got) acc->parts.push_back(std::move(s));
      return status::ok();
    };
  } else {
    st->make_local = std::move(make_local);
    st->on_local_buckets = [acc, count](std::vector<T>& got) -> status {
      if (auto s = count(bucket_count(got)); !s) return s;
      for (auto& s : got) acc->parts.push_back(std::move(s));
      return status::ok();
    };
  }
  st->on_reply = [acc, count, decode](const std::string&, std::string& bytes, bool remote) -> status {
    size_t n = 0;
    auto b = decode(bytes, &n);
    if (!b) return b.error();
    if (auto s = count(n); !s) return s;
    if (remote) {
      acc->stats.remote_bytes += bytes.size();
      acc->stats.remote_series += b->size();
      acc->stats.remote_samples += n;
    }
    for (auto& s : *b) acc->parts.push_back(std::move(s));
    return status::ok();
  };
  st->on_done = [acc, done, finish, ro](status s, planned_read& r) {
    if (!s) return done(s, {}, acc->stats);
    std::vector<std::string> warnings;
    if (auto u = unowned_status(r.unowned, r.missing, ro.partial_response, warnings); !u)
      return done(u, {}, acc->stats);
    done(finish(std::move(acc->parts)), std::move(warnings), acc->stats);
  };
  start_read(sys, table, std::move(st), only);
}

result<std::vector<series>> decode_series(std::string_view bytes, size_t* n) {
  auto b = wire::decode_batch(bytes);
  if (b) *n = sample_count(*b);
  return b;
}

}  // namespace

void gateway::select(const matchers& ms, int64_t mint, int64_t maxt, size_t max_samples, read_options ro,
                     query_done<std::vector<series>> done) {
  auto flat = encode_matchers(ms);
  gather_planned<series>(
      sys_, table_, window_, timeout_, mint, maxt, max_samples, ro, partition_set::all(),
      [flat, mint, maxt](const std::string& parts) { return caf::make_message(select_atom::value, flat, mint, maxt, parts); },
      [flat, mint, maxt](const std::string& parts) { return caf::make_message(lselect_atom::value, flat, mint, maxt, parts); },
      decode_series, merge_series, std::move(done));
}

void gateway::select_buckets(const matchers& ms, int64_t mint, int64_t maxt, int64_t window_ms, int64_t edge_step,
                             size_t max_samples, read_options ro,
                             query_done<std::vector<query::bucket_series>> done) {
  auto flat = encode_matchers(ms);
  auto decode = [](std::string_view bytes, size_t* n) { return decode_bucket_reply(bytes, n); };
  auto keep = [](std::vector<query::bucket_series> parts) { return parts; };
  // Rollup buckets reach back a whole window past maxt (answer_buckets).
  gather_planned<query::bucket_series>(
      sys_, table_, window_, timeout_, mint, maxt + window_ms, max_samples, ro, partition_set::all(),
      [flat, mint, maxt, window_ms, edge_step](const std::string& parts) {
        return caf::make_message(buckets_atom::value, flat, mint, maxt, window_ms, edge_step, parts);
      },
      [flat, mint, maxt, window_ms, edge_step](const std::string& parts) {
        return caf::make_message(lbuckets_atom::value, flat, mint, maxt, window_ms, edge_step, parts);
      },
      decode, keep, std::move(done));
}

namespace {

// The series of a few selections, fetched ahead, for evaluating partials
// of the partitions read raw.
class fetched_source final : public query::series_source {
 public:
  void add(const query::selection& sel, std::vector<series> data) { data_.push_back({sel, std::move(data)}); }
  void add_buckets(const query::selection& sel, std::vector<query::bucket_series> data) {
    buckets_.push_back({sel, std::move(data)});
  }
  // Only what was fetched for exactly this selection: the engine asks for
  // the selections it was planned with.
  result<std::vector<query::bucket_series>> select_buckets(const matchers& ms, int64_t mint, int64_t maxt,
                                                           int64_t window_ms, int64_t edge_step) override {
    for (const auto& [sel, data] : buckets_)
      if (sel.mint == mint && sel.maxt == maxt && sel.window_ms == window_ms && sel.edge_step == edge_step &&
          same(sel.label_matchers, ms))
        return data;
    return error(strata_errc::internal, "rollup buckets were not fetched for this selection");
  }
  result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) override {
    for (const auto& [sel, data] : data_)
      if (sel.mint == mint && sel.maxt == maxt && same(sel.label_matchers, ms)) return data;
    std::vector<series> out;
    for (const auto& [sel, data] : data_)
      for (const auto& s : data) {
        if (!matches_all(ms, s.lbls)) continue;
        series cut{s.lbls, {}};
        for (const auto& x : s.samples)
          if (x.t >= mint && x.t <= maxt) cut.samples.push_back(x);
        if (!cut.samples.empty()) out.push_back(std::move(cut));
      }
    return out;
  }

 private:
  static bool same(const matchers& a, const matchers& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].to_string() != b[i].to_string()) return false;
    return true;
  }
  std::vector<std::pair<query::selection, std::vector<series>>> data_;
  std::vector<std::pair<query::selection, std::vector<query::bucket_series>>> buckets_;
};

// The last time a selection reads: rollup buckets reach back a whole
// window past maxt (answer_buckets).
int64_t read_end(const query::selection& sel) { return sel.maxt + std::max<int64_t>(sel.window_ms, 0); }

bool passing_failure(const status& s) {
  return s.code() == strata_errc::unavailable || s.code() == strata_errc::timeout ||
         s.code() == strata_errc::overloaded;
}

// Sends `msg` to `node`'s aggregator (one combined answer), or where it has
// none to every shard of it; each(bytes, remote) per answer, then
// done(ok or the first failure) once.
// A remote node that leaves the members before it answered fails at once
// (`waiting`, see departures).
void ask_node(caf::event_based_actor* self, const shard_view& v, const std::string& node, const caf::message& msg,
              std::chrono::milliseconds timeout, std::function<status(std::string&, bool)> each,
              std::function<void(status)> done, departures& waiting) {
  auto m = static_cast<size_t>(std::lower_bound(v.members.begin(), v.members.end(), node) - v.members.begin());
  if (m >= v.members.size() || v.members[m] != node || v.member_shards[m].empty())
    return done(error(strata_errc::unavailable, "node " + node + " has no shard"));
  bool remote = !v.shards[v.member_shards[m].front()].local;
  auto settled = std::make_shared<bool>(false);
  auto settle = [settled, done](status s) {
    if (*settled) return;
    *settled = true;
    done(std::move(s));
  };
  if (remote)
    waiting[node].push_back(
        [=] { settle(error(strata_errc::unavailable, "node " + node + " left the members before it answered")); });
  if (m < v.aggregators.size() && v.aggregators[m]) {
    self->request(v.aggregators[m], timeout, msg)
        .then(
            [=](std::string& r) {
              if (!*settled) settle(each(r, remote));
            },
            [=](caf::error& e) { settle(from_caf_error(e, "the aggregator of node " + node + " did not answer")); });
    return;
  }
  auto left = std::make_shared<size_t>(v.member_shards[m].size());
  auto failure = std::make_shared<status>();
  for (uint32_t i : v.member_shards[m]) {
    const auto& shard = v.shards[i];
    std::string where = "shard " + std::to_string(shard.index) + " on node " + shard.node;
    self->request(shard.handle, timeout, msg)
        .then(
            [=](std::string& r) {
              if (failure->is_ok() && !*settled)
                if (auto s = each(r, remote); !s) *failure = s;
              if (--*left == 0) settle(*failure);
            },
            [=](caf::error& e) {
              if (failure->is_ok()) *failure = from_caf_error(e, where + " did not answer");
              if (--*left == 0) settle(*failure);
            });
  }
}

using step_partials = query::partial_table;

struct aggregation {
  pushdown_request req;
  read_options ro;
  std::shared_ptr<const shard_view> view;
  int64_t mint = INT64_MAX, maxt = INT64_MIN;
  std::map<std::string, partition_set> sole;  // node -> partitions it aggregates alone
  partition_set raw;                          // partitions read raw and aggregated here
  std::set<std::string> failed;
  std::vector<step_partials> sources;
  read_stats stats;
  std::vector<std::string> warnings;
  status failure;
  query_done<std::vector<step_partials>> done;
};

}  // namespace

void gateway::aggregate(pushdown_request req, read_options ro, query_done<std::vector<step_partials>> done) {
  auto a = std::make_shared<aggregation>();
  a->view = table_.snapshot();
  if (a->view->shards.empty()) return done(error(strata_errc::unavailable, "no shard is available"), {}, {});
  for (const auto& sel : req.selections) {
    a->mint = std::min(a->mint, sel.mint);
    a->maxt = std::max(a->maxt, read_end(sel));
  }
  if (req.selections.empty()) a->mint = a->maxt = req.start;
  a->req = std::move(req);
  a->ro = ro;
  a->done = std::move(done);
  auto plan = plan_read(*a->view, a->mint, a->maxt, window_, {}, partition_set::all());
  if (auto u = unowned_status(plan.unowned, plan.missing_nodes, ro.partial_response, a->warnings); !u)
    return a->done(u, {}, {});
  // Partitions one node answers alone are aggregated there; those of several
  // nodes are probed first: only a node holding some of their series counts.
  std::map<std::string, partition_set> split;
  for (const auto& [node, parts] : plan.by_node)
    for (uint32_t p : parts.list()) (plan.spread[p] == 1 ? a->sole[node] : split[node]).add(p);
  auto timeout = timeout_;
  auto* sys = &sys_;
  auto window = window_;
  const shard_table* table = &table_;
  sys_.spawn([a, split, timeout, sys, window, table](caf::event_based_actor* self) -> caf::behavior {
    watch_table(self, *table);
    auto waiting = std::make_shared<departures>();
    // Phase 3: the raw partitions, read once each, aggregated here (by
    // actors of their own: this one is done).
    auto read_raw = [a, timeout, sys, window, table]() {
      if (!a->failure.is_ok()) return a->done(a->failure, {}, a->stats);
      if (a->raw.empty()) return a->done(std::move(a->sources), std::move(a->warnings), a->stats);
      struct raw_acc {
        std::mutex mu;
        fetched_source src;
        size_t left;
        status failure;
        std::set<std::string> warnings;
        read_stats stats;
      };
      auto acc = std::make_shared<raw_acc>();
      acc->left = a->req.selections.size();
      auto view = a->view;
      auto one_done = [a, acc]() {
        if (!acc->failure.is_ok()) return a->done(acc->failure, {}, a->stats);
        a->stats.add(acc->stats);
        a->warnings.insert(a->warnings.end(), acc->warnings.begin(), acc->warnings.end());
        auto o = a->req.opts;
        o.precomputed = nullptr;
        auto r = query::parse(a->req.text);
        if (!r) return a->done(r.error(), {}, a->stats);
        auto local = query::eval_partial_range(*r, acc->src, a->req.start, a->req.end, a->req.step, o);
        if (!local) return a->done(local.error(), {}, a->stats);
        a->sources.push_back(std::move(*local));
        a->done(std::move(a->sources), std::move(a->warnings), a->stats);
      };
      for (const auto& sel : a->req.selections) {
        auto st = std::make_shared<planned_read>();
        st->view = view;
        st->window = window;
        st->mint = sel.mint;
        st->maxt = read_end(sel);
        st->timeout = timeout;
        st->failed = a->failed;
        auto flat = encode_matchers(sel.label_matchers);
        int64_t mint = sel.mint, maxt = sel.maxt, window_ms = sel.window_ms, edge_step = sel.edge_step;
        st->make = [flat, mint, maxt, window_ms, edge_step](const std::string& parts) {
          return window_ms > 0 ? caf::make_message(buckets_atom::value, flat, mint, maxt, window_ms, edge_step, parts)
                               : caf::make_message(select_atom::value, flat, mint, maxt, parts);
        };
        auto got = std::make_shared<std::vector<series>>();
        auto got_buckets = std::make_shared<std::vector<query::bucket_series>>();
        auto stats = std::make_shared<read_stats>();
        st->on_reply = [got, got_buckets, window_ms, stats](const std::string&, std::string& bytes,
                                                            bool remote) -> status {
          size_t n = 0, count = 0;
          if (window_ms > 0) {
            auto b = decode_bucket_reply(bytes, &n);
            if (!b) return b.error();
            count = b->size();
            for (auto& s : *b) got_buckets->push_back(std::move(s));
          } else {
            auto b = decode_series(bytes, &n);
            if (!b) return b.error();
            count = b->size();
            for (auto& s : *b) got->push_back(std::move(s));
          }
          if (remote) stats->remote_bytes += bytes.size(), stats->remote_series += count, stats->remote_samples += n;
          return status::ok();
        };
        if (window_ms == 0) {
          st->make_local = [flat, mint, maxt](const std::string& parts) {
            return caf::make_message(lselect_atom::value, flat, mint, maxt, parts);
          };
          st->on_local = [got](write_batch& b) {
            for (auto& s : b) got->push_back(std::move(s));
            return status::ok();
          };
        } else {
          st->make_local = [flat, mint, maxt, window_ms, edge_step](const std::string& parts) {
            return caf::make_message(lbuckets_atom::value, flat, mint, maxt, window_ms, edge_step, parts);
          };
          st->on_local_buckets = [got_buckets](std::vector<query::bucket_series>& b) {
            for (auto& s : b) got_buckets->push_back(std::move(s));
            return status::ok();
          };
        }
        st->on_done = [a, acc, sel, got, got_buckets, stats, one_done](status s, planned_read& r) {
          std::unique_lock<std::mutex> lock(acc->mu);
          std::vector<std::string> w;
          if (s) s = unowned_status(r.unowned, r.missing, a->ro.partial_response, w);
          if (!s && acc->failure.is_ok()) acc->failure = s;
          acc->warnings.insert(w.begin(), w.end());
          acc->stats.add(*stats);
          if (sel.window_ms > 0) acc->src.add_buckets(sel, std::move(*got_buckets));
          else acc->src.add(sel, merge_series(std::move(*got)));
          if (--acc->left > 0) return;
          lock.unlock();
          one_done();
        };
        start_read(*sys, *table, st, a->raw);
      }
      if (acc->left == 0) one_done();
    };
    auto finished = std::make_shared<bool>(false);
    auto finish = [self, finished, read_raw]() {
      *finished = true;
      self->quit();
      read_raw();
    };
    // Phase 2: every node aggregates its own partitions.
    auto push = [a, self, timeout, finish, waiting]() {
      auto left = std::make_shared<size_t>(a->sole.size() + 1);
      auto one = [left, finish]() {
        if (--*left == 0) finish();
      };
      for (const auto& entry : a->sole) {
        std::string node = entry.first;
        partition_set parts = entry.second;
        if (parts.empty()) {
          one();
          continue;
        }
        auto got = std::make_shared<std::vector<step_partials>>();
        auto stats = std::make_shared<read_stats>();
        auto msg = caf::make_message(partial_atom::value, a->req.text, a->req.start, a->req.end, a->req.step,
                                     encode_eval_options(a->req.opts),
                                     parts.size() == cluster::partitions ? std::string() : parts.encode());
        ask_node(
            self, *a->view, node, msg, timeout,
            [got, stats](std::string& bytes, bool remote) -> status {
              auto d = decode_partials(bytes);
              if (!d) return d.error();
              if (remote) {
                stats->remote_bytes += bytes.size();
                for (const auto& step : d->steps) stats->remote_partials += step.size();
              }
              got->push_back(std::move(*d));
              return status::ok();
            },
            [a, node, parts, got, stats, one](status s) {
              if (s) {
                for (auto& g : *got) a->sources.push_back(std::move(g));
                a->stats.add(*stats);
              } else if (passing_failure(s)) {
                // Its partials are dropped whole; its partitions are read raw from the next replicas.
                a->failed.insert(node);
                for (uint32_t p : parts.list()) a->raw.add(p);
              } else if (a->failure.is_ok()) {
                a->failure = s;
              }
              one();
            },
            *waiting);
      }
      one();
    };
    auto behave = [waiting, table, finished]() {
      return await_departures(table, waiting.get(), finished.get(), std::make_pair(waiting, finished));
    };
    // Phase 1: which nodes hold series of the partitions several nodes answer.
    if (split.empty()) {
      push();
      return behave();
    }
    auto holders = std::make_shared<std::vector<uint8_t>>(cluster::partitions, 0);
    auto held_by = std::make_shared<std::vector<std::string>>(cluster::partitions);
    auto left = std::make_shared<size_t>(split.size());
    std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>> sels;
    for (const auto& sel : a->req.selections) sels.push_back({sel.label_matchers, {sel.mint, read_end(sel)}});
    auto flat = encode_selections(sels);
    auto all_split = std::make_shared<partition_set>();
    for (const auto& [node, parts] : split)
      for (uint32_t p : parts.list()) all_split->add(p);
    for (const auto& entry : split) {
      std::string node = entry.first;
      auto held = std::make_shared<partition_set>();
      ask_node(
          self, *a->view, node, caf::make_message(holds_atom::value, flat, entry.second.encode()), timeout,
          [held, a](std::string& bytes, bool remote) -> status {
            if (remote) a->stats.remote_bytes += bytes.size();
            for (uint32_t p : partition_set::decode(bytes).list()) held->add(p);
            return status::ok();
          },
          [a, node, held, holders, held_by, left, all_split, push](status s) {
            if (!s) {
              if (passing_failure(s)) a->failed.insert(node);
              else if (a->failure.is_ok()) a->failure = s;
            } else {
              for (uint32_t p : held->list()) {
                ++(*holders)[p];
                (*held_by)[p] = node;
              }
            }
            if (--*left > 0) return;
            // A node that could not answer the probe is left out: what it
            // was to answer is read raw from the other replicas.
            bool probe_failed = !a->failed.empty();
            for (const auto& n : a->failed) {
              for (uint32_t p : a->sole[n].list()) a->raw.add(p);
              a->sole.erase(n);
            }
            for (uint32_t p : all_split->list()) {
              if (probe_failed || (*holders)[p] > 1) a->raw.add(p);
              else if ((*holders)[p] == 1) a->sole[(*held_by)[p]].add(p);
            }
            push();
          },
          *waiting);
    }
    return behave();
  });
}

void gateway::select_labels(const matchers& ms, int64_t mint, int64_t maxt, read_done<std::vector<labels>> done) {
  auto view = table_.snapshot();
  auto acc = std::make_shared<std::set<labels>>();
  fan_out<std::string>(
      sys_, view, timeout_,
      [acc](std::string& bytes) {
        auto b = wire::decode_batch(bytes);
        if (!b) return b.error();
        for (auto& s : *b) acc->insert(std::move(s.lbls));
        return status::ok();
      },
      [acc, done, view](status st) {
        if (!st) return done(st, {});
        done(std::vector<labels>(acc->begin(), acc->end()), down_warnings(*view));
      },
      series_atom::value, encode_matchers(ms), mint, maxt);
}

void gateway::label_names(const matchers& ms, int64_t mint, int64_t maxt,
                          read_done<std::vector<std::string>> done) {
  auto flat = encode_matchers(ms);
  read_strings(table_.snapshot(), timeout_, std::move(done), [&](auto view, auto timeout, auto each, auto fin) {
    fan_out<std::vector<std::string>>(sys_, view, timeout, each, fin, names_atom::value, flat, mint, maxt);
  });
}

void gateway::label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt,
                           read_done<std::vector<std::string>> done) {
  auto flat = encode_matchers(ms);
  read_strings(table_.snapshot(), timeout_, std::move(done), [&](auto view, auto timeout, auto each, auto fin) {
    fan_out<std::vector<std::string>>(sys_, view, timeout, each, fin, values_atom::value, name, flat, mint, maxt);
  });
}

void gateway::admin(const std::string& op, read_done<std::pair<uint64_t, uint64_t>> done) {
  auto view = table_.snapshot();
  auto total = std::make_shared<std::pair<uint64_t, uint64_t>>(0, 0);
  // Compaction reads and rewrites whole blocks: give it far longer than a request.
  auto timeout = op == "compact" ? std::max(timeout_, std::chrono::milliseconds(3'600'000)) : timeout_;
  fan_out<std::string>(
      sys_, view, timeout,
      [total](std::string& r) {
        unsigned long long before = 0, after = 0;
        if (std::sscanf(r.c_str(), "%llu %llu", &before, &after) == 2) {
          total->first += before;
          total->second += after;
        }
        return status::ok();
      },
      [total, done, view](status st) {
        if (!st) return done(st, {});
        done(*total, down_warnings(*view));
      },
      admin_atom::value, op);
}

namespace {

void keep_top(tsdb_status::stats& v, size_t n) {
  auto before = [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; };
  if (v.size() > n) {
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), before);
    v.resize(n);
  } else {
    std::sort(v.begin(), v.end(), before);
  }
}

}  // namespace

tsdb_status merge_tsdb(const std::vector<persistence::tsdb_summary>& parts, size_t limit) {
  tsdb_status out;
  std::map<std::pair<std::string_view, std::string_view>, uint64_t> pairs;
  for (const auto& p : parts) {
    out.num_series += p.series;
    out.chunk_count += p.chunks;
    out.min_time = std::min(out.min_time, p.min_t);
    out.max_time = std::max(out.max_time, p.max_t);
    for (const auto& lp : p.pairs) pairs[{lp.name, lp.value}] += lp.series;
  }
  out.num_label_pairs = pairs.size();
  // `pairs` is sorted by name: one run per label name.
  for (auto it = pairs.begin(); it != pairs.end();) {
    std::string_view name = it->first.first;
    uint64_t values = 0, bytes = 0;
    for (; it != pairs.end() && it->first.first == name; ++it) {
      ++values;
      bytes += it->first.second.size() * it->second;
      if (name == metric_name_label) out.series_by_metric.emplace_back(std::string(it->first.second), it->second);
      out.series_by_pair.emplace_back(std::string(name) + "=" + std::string(it->first.second), it->second);
    }
    out.values_by_label.emplace_back(std::string(name), values);
    out.bytes_by_label.emplace_back(std::string(name), bytes);
  }
  keep_top(out.series_by_metric, limit);
  keep_top(out.values_by_label, limit);
  keep_top(out.bytes_by_label, limit);
  keep_top(out.series_by_pair, limit);
  return out;
}

size_t metadata_shard(const std::string& family, size_t shard_count) {
  return wire::series_hash(labels{{std::string(metric_name_label), family}}) % shard_count;
}

void gateway::tsdb(size_t limit, read_done<tsdb_status> done) {
  auto view = table_.snapshot();
  auto parts = std::make_shared<std::vector<persistence::tsdb_summary>>();
  fan_out<std::string>(
      sys_, view, timeout_,
      [parts](std::string& bytes) {
        auto s = decode_tsdb_summary(bytes);
        if (!s) return s.error();
        parts->push_back(std::move(*s));
        return status::ok();
      },
      [parts, limit, done, view](status st) {
        if (!st) return done(st, {});
        done(merge_tsdb(*parts, limit), down_warnings(*view));
      },
      tsdb_atom::value);
}

void gateway::put_metadata(std::vector<metric_metadata> md, std::function<void(result<size_t>)> done) {
  for (size_t i = 0; i < md.size(); ++i)
    if (auto st = check_metadata(md[i]); !st) return done(error(st.code(), "metadata[" + std::to_string(i) + "]: " + st.message()));
  if (md.empty()) return done(size_t{0});
  auto view = table_.snapshot();
  if (view->shards.empty()) return done(error(strata_errc::unavailable, "no shard is available"));
  std::map<size_t, std::vector<metric_metadata>> by_shard;
  for (auto& m : md) {
    size_t i = metadata_shard(m.family, view->shards.size());
    by_shard[i].push_back(std::move(m));
  }
  auto timeout = timeout_;
  sys_.spawn([=](caf::event_based_actor* self) {
    auto left = std::make_shared<size_t>(by_shard.size());
    auto written = std::make_shared<size_t>(0);
    auto failure = std::make_shared<status>();
    auto one_done = [=](status st, uint64_t n) {
      if (!st && failure->is_ok()) *failure = std::move(st);
      *written += n;
      if (--*left > 0) return;
      if (!failure->is_ok()) return done(*failure);
      done(*written);
    };
    for (const auto& [i, part] : by_shard) {
      const auto& shard = view->shards[i];
      std::string where = "shard " + std::to_string(shard.index) + " on node " + shard.node;
      self->request(shard.handle, timeout, mdput_atom::value, encode_metadata(part))
          .then([=](uint64_t n) { one_done(status::ok(), n); },
                [=](caf::error& e) { one_done(from_caf_error(e, where + " did not answer"), 0); });
    }
  });
}

void gateway::metadata(const std::string& family, read_done<std::vector<metric_metadata>> done) {
  auto view = table_.snapshot();
  auto all = std::make_shared<std::set<metric_metadata>>();
  fan_out<std::vector<std::string>>(
      sys_, view, timeout_,
      [all](std::vector<std::string>& flat) {
        auto md = decode_metadata(flat);
        if (!md) return md.error();
        for (auto& m : *md) all->insert(std::move(m));
        return status::ok();
      },
      [all, done, view](status st) {
        if (!st) return done(st, {});
        done(std::vector<metric_metadata>(all->begin(), all->end()), down_warnings(*view));
      },
      mdlist_atom::value, family);
}

}  // namespace strata::actors
