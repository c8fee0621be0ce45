#pragma once
// The front door to the actors for code that is not an actor (the HTTP
// threads). Every call returns at once and calls `done` exactly once, on an
// actor thread, when the work is finished. Keeps CAF out of http/'s includes.
#include <caf/fwd.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "actors/shard_table.hpp"
#include "common/matcher.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "query/series_source.hpp"

namespace strata::actors {

// Reads fan out to every live shard; `warnings` name nodes whose series are
// missing from the answer because they are down.
template <class T>
using read_done = std::function<void(result<T>, std::vector<std::string> warnings)>;

class gateway {
 public:
  // REQUIRES: sys and table outlive the gateway; collectors is not empty.
  gateway(caf::actor_system& sys, const shard_table& table, std::vector<caf::actor> collectors,
          std::chrono::milliseconds timeout);
  ~gateway();

  // Acknowledges (with the number of samples) only after every shard
  // concerned has committed its part.
  void write(write_batch batch, std::function<void(result<uint64_t>)> done);
  // Fails (bad_request) as soon as the shards' answers hold more than
  // `max_samples` samples, and drops what it gathered: one query cannot take
  // unbounded memory.
  void select(const matchers& ms, int64_t mint, int64_t maxt, size_t max_samples,
              read_done<std::vector<series>> done);
  // Rollup buckets of width window_ms (series_source::select_buckets) from
  // every live shard, concatenated (the query engine joins a series that
  // two shards answer). The same sample limit, buckets counting as samples.
  void select_buckets(const matchers& ms, int64_t mint, int64_t maxt, int64_t window_ms, size_t max_samples,
                      read_done<std::vector<query::bucket_series>> done);
  void select_labels(const matchers& ms, int64_t mint, int64_t maxt, read_done<std::vector<labels>> done);
  void label_names(const matchers& ms, int64_t mint, int64_t maxt, read_done<std::vector<std::string>> done);
  void label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt,
                    read_done<std::vector<std::string>> done);
  // Runs a storage admin operation ("flush" or "compact") on every live shard
  // of the cluster; answers the chunks before and after, summed (0 for flush).
  void admin(const std::string& op, read_done<std::pair<uint64_t, uint64_t>> done);

 private:
  caf::actor_system& sys_;
  const shard_table& table_;
  std::vector<caf::actor> collectors_;
  std::atomic<size_t> next_collector_{0};
  std::chrono::milliseconds timeout_;
};

// Merges per-shard answers: series with equal labels are joined, samples
// sorted by time, a timestamp kept once (so a series that moved between
// shards is returned once, exactly).
std::vector<series> merge_series(std::vector<series> parts);

}  // namespace strata::actors
