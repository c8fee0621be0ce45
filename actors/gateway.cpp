#include "actors/gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "actors/bucket_reply.hpp"
#include "actors/messages.hpp"
#include "persistence/shard_store.hpp"
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
                 std::chrono::milliseconds timeout)
    : sys_(sys), table_(table), collectors_(std::move(collectors)), timeout_(timeout) {}

gateway::~gateway() = default;

void gateway::write(write_batch batch, std::function<void(result<uint64_t>)> done) {
  if (batch.empty()) return done(uint64_t{0});  // e.g. a remote_write request carrying only metadata
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
  std::map<labels, std::vector<sample>> by_labels;
  for (auto& s : parts) {
    auto& dst = by_labels[std::move(s.lbls)];
    if (dst.empty()) dst = std::move(s.samples);
    else dst.insert(dst.end(), s.samples.begin(), s.samples.end());
  }
  std::vector<series> out;
  out.reserve(by_labels.size());
  for (auto& [ls, samples] : by_labels) {
    if (!std::is_sorted(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t < b.t; })) {
      std::stable_sort(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t < b.t; });
    }
    samples.erase(std::unique(samples.begin(), samples.end(), [](auto& a, auto& b) { return a.t == b.t; }),
                  samples.end());
    out.push_back({ls, std::move(samples)});
  }
  return out;
}

namespace {

// Fans a read out to every shard and gathers the decoded parts, failing once
// their samples pass `max_samples` (the rest of the answers are then ignored).
// `decode(bytes, &samples)` turns one shard's answer into parts of type T;
// `finish` turns the gathered parts into the answer.
template <class T, class Decode, class Finish, class... Args>
void gather_limited(caf::actor_system& sys, std::shared_ptr<const shard_view> view, std::chrono::milliseconds timeout,
                    size_t max_samples, Decode decode, Finish finish, read_done<std::vector<T>> done, Args... args) {
  struct gathered {
    std::vector<T> parts;
    size_t samples = 0;
    bool over = false;
  };
  auto acc = std::make_shared<gathered>();
  fan_out<std::string>(
      sys, view, timeout,
      [acc, max_samples, decode](std::string& bytes) {
        if (acc->over) return status::ok();  // already failed; the first error is reported
        size_t n = 0;
        auto b = decode(bytes, &n);
        if (!b) return b.error();
        acc->samples += n;
        if (acc->samples > max_samples) {
          acc->over = true;
          acc->parts = {};
          return error(strata_errc::bad_request,
                       "query processing would load too many samples into memory in query execution (limit " +
                           std::to_string(max_samples) + ")");
        }
        for (auto& s : *b) acc->parts.push_back(std::move(s));
        return status::ok();
      },
      [acc, done, view, finish](status st) {
        if (!st) return done(st, {});
        done(finish(std::move(acc->parts)), down_warnings(*view));
      },
      args...);
}

}  // namespace

void gateway::select(const matchers& ms, int64_t mint, int64_t maxt, size_t max_samples,
                     read_done<std::vector<series>> done) {
  auto decode = [](std::string_view bytes, size_t* n) {
    auto b = wire::decode_batch(bytes);
    if (b) *n = sample_count(*b);
    return b;
  };
  gather_limited<series>(sys_, table_.snapshot(), timeout_, max_samples, decode, merge_series, std::move(done),
                         select_atom::value, encode_matchers(ms), mint, maxt);
}

void gateway::select_buckets(const matchers& ms, int64_t mint, int64_t maxt, int64_t window_ms, size_t max_samples,
                             read_done<std::vector<query::bucket_series>> done) {
  auto decode = [](std::string_view bytes, size_t* n) { return decode_bucket_reply(bytes, n); };
  auto keep = [](std::vector<query::bucket_series> parts) { return parts; };
  gather_limited<query::bucket_series>(sys_, table_.snapshot(), timeout_, max_samples, decode, keep, std::move(done),
                                       buckets_atom::value, encode_matchers(ms), mint, maxt, window_ms);
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
