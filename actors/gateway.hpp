#pragma once
// The front door to the actors for code that is not an actor (the HTTP
// threads). Every call returns at once and calls `done` exactly once, on an
// actor thread, when the work is finished. Keeps CAF out of http/'s includes.
#include <caf/fwd.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "actors/read_plan.hpp"
#include "actors/shard_table.hpp"
#include "common/matcher.hpp"
#include "common/metric_metadata.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "query/engine.hpp"
#include "query/series_source.hpp"

namespace strata::persistence {
struct tsdb_summary;  // persistence/shard_store.hpp
}
namespace strata::query {
struct partial_table;  // query/plan.hpp
}

namespace strata::actors {

// GET /api/v1/status/tsdb, merged over every shard of the cluster. Each list
// holds at most `limit` (name, value) entries, larger values first, equal
// values by name.
struct tsdb_status {
  uint64_t num_series = 0;
  uint64_t num_label_pairs = 0;  // distinct name=value pairs
  uint64_t chunk_count = 0;
  int64_t min_time = std::numeric_limits<int64_t>::max();  // max() when there is no sample
  int64_t max_time = std::numeric_limits<int64_t>::min();  // min() when there is no sample
  using stats = std::vector<std::pair<std::string, uint64_t>>;
  stats series_by_metric;  // series per metric name
  stats values_by_label;   // distinct values per label name
  stats bytes_by_label;    // per label name: the bytes of its values, each counted once per series
  stats series_by_pair;    // series per "name=value"
};

// Reads fan out to every live shard; `warnings` name nodes whose series are
// missing from the answer because they are down.
template <class T>
using read_done = std::function<void(result<T>, std::vector<std::string> warnings)>;

// How a query read treats a partition that has no live replica for some
// epoch of its range (read_plan.hpp): with partial_response a warning names
// the partitions and nodes; without, the read fails (unavailable).
struct read_options {
  bool partial_response = true;
};

// What a query read received from other nodes' shards (local shards are
// not counted): answer bytes, series, raw samples (and rollup buckets) and
// partial aggregates (one per group per step).
struct read_stats {
  uint64_t remote_bytes = 0;
  uint64_t remote_series = 0;
  uint64_t remote_samples = 0;
  uint64_t remote_partials = 0;
  void add(const read_stats& o) {
    remote_bytes += o.remote_bytes, remote_series += o.remote_series;
    remote_samples += o.remote_samples, remote_partials += o.remote_partials;
  }
};

template <class T>
using query_done = std::function<void(result<T>, std::vector<std::string> warnings, read_stats)>;

// A pushable expression (query/plan.hpp: a decomposable aggregation or a
// series-local expression) for the shards to compute:
// its PromQL, the query's grid, the engine options it needs, and the
// selections of its operand (query::selections over the same grid).
struct pushdown_request {
  std::string text;
  int64_t start = 0, end = 0, step = 0;  // an instant query: start == end, step 0
  query::eval_options opts;
  std::vector<query::selection> selections;
};

class gateway {
 public:
  // REQUIRES: sys and table outlive the gateway; collectors is not empty.
  // `window` bounds the sample times a write may carry (read_plan.hpp).
  gateway(caf::actor_system& sys, const shard_table& table, std::vector<caf::actor> collectors,
          std::chrono::milliseconds timeout, write_window window = {});
  ~gateway();

  // Acknowledges (with the number of samples) only after every shard
  // concerned has committed its part. Refuses (overloaded, nothing written)
  // a batch that would take the samples of writes in flight past the limit
  // (limit_writes_in_flight); a batch alone in flight always goes.
  void write(write_batch batch, std::function<void(result<uint64_t>)> done);
  // 0: no limit. Set before the first write.
  void limit_writes_in_flight(uint64_t max_samples) { max_in_flight_ = max_samples; }
  uint64_t samples_in_flight() const { return in_flight_->load(std::memory_order_relaxed); }
  // Told of acknowledged writes (the rules' prompt evaluation): `watch` sees
  // each batch on the writing thread before it is sent and returns the names
  // it cares about (usually none); `written` gets them once the write is
  // acknowledged. Neither may block. Set before the first write.
  using watch_fn = std::function<std::vector<std::string>(const write_batch&)>;
  void set_write_watch(watch_fn watch, std::function<void(std::vector<std::string>)> written);
  // Fails (bad_request) as soon as the shards' answers hold more than
  // `max_samples` samples, and drops what it gathered: one query cannot take
  // unbounded memory.
  //
  // Each sample is read from exactly one replica: every partition is asked
  // of the nodes plan_read() picks (one live owner per epoch that can hold
  // the range's samples), each for that partition only; a node that fails
  // or times out has its partitions asked again of the next live owners.
  void select(const matchers& ms, int64_t mint, int64_t maxt, size_t max_samples, read_options ro,
              query_done<std::vector<series>> done);
  // Rollup buckets of width window_ms (series_source::select_buckets),
  // planned like select(), concatenated (the query engine joins a series
  // that two nodes answer). The same sample limit, buckets counting as samples.
  void select_buckets(const matchers& ms, int64_t mint, int64_t maxt, int64_t window_ms, int64_t edge_step,
                      size_t max_samples, read_options ro, query_done<std::vector<query::bucket_series>> done);
  // The partials of a pushed-down aggregation at each step of its grid,
  // over the whole cluster, each series counted once. A partition whose
  // range one node holds alone (or whose other planned nodes hold none of
  // its selected series) is aggregated by that node's shards; the rest
  // (a series split between nodes by an epoch change, or the partitions of
  // a node that failed) are read raw, each sample once, and aggregated
  // here. One table per shard (and one for the raw partitions), still to
  // be merged (query::merge_partial_tables).
  void aggregate(pushdown_request req, read_options ro, query_done<std::vector<query::partial_table>> done);
  void select_labels(const matchers& ms, int64_t mint, int64_t maxt, read_done<std::vector<labels>> done);
  void label_names(const matchers& ms, int64_t mint, int64_t maxt, read_done<std::vector<std::string>> done);
  void label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt,
                    read_done<std::vector<std::string>> done);
  // Runs a storage admin operation ("flush" or "compact") on every live shard
  // of the cluster; answers the chunks before and after, summed (0 for flush).
  void admin(const std::string& op, read_done<std::pair<uint64_t, uint64_t>> done);

  // Cardinality statistics of every live shard, merged exactly (merge_tsdb).
  // REQUIRES: limit > 0.
  void tsdb(size_t limit, read_done<tsdb_status> done);

  // Stores metric metadata durably, each entry in the shard that owns its
  // family name (metadata_shard), one entry per family (the latest). For
  // remote_write and the scrape and push paths. Answers how many entries
  // changed what was stored; bad_request, and nothing stored, when an entry
  // fails check_metadata (the message names it).
  void put_metadata(std::vector<metric_metadata> md, std::function<void(result<size_t>)> done);
  // The stored metadata of every live shard (only `family`'s when not
  // empty), sorted, each distinct entry once.
  void metadata(const std::string& family, read_done<std::vector<metric_metadata>> done);

 private:
  caf::actor_system& sys_;
  const shard_table& table_;
  std::vector<caf::actor> collectors_;
  std::atomic<size_t> next_collector_{0};
  std::chrono::milliseconds timeout_;
  watch_fn watch_;
  std::function<void(std::vector<std::string>)> written_;
  write_window window_;
  uint64_t max_in_flight_ = 0;
  // Samples of writes not yet answered (shared with their callbacks).
  std::shared_ptr<std::atomic<uint64_t>> in_flight_ = std::make_shared<std::atomic<uint64_t>>(0);
};

// Merges per-shard answers: series with equal labels are joined, samples
// sorted by time, a timestamp kept once (so a series that moved between
// shards is returned once, exactly).
// REQUIRES: each part's samples in time order, each timestamp once (as
// shard_store::select answers them); a series of one part is kept as it is.
std::vector<series> merge_series(std::vector<series> parts);

// Merges shards' complete summaries and keeps the top `limit` of each list.
// Exact: every shard reports every label pair with its series count, so
// counts add, distinct pairs (and thus distinct values per name) are a union,
// and nothing is cut before the merge. The one inexactness is a series held by
// two shards at once (while the shard table changes), counted twice, as
// numSeries counts it.
tsdb_status merge_tsdb(const std::vector<persistence::tsdb_summary>& parts, size_t limit);

// The index, in a table of `shard_count` shards, of the shard that owns a
// metric family's metadata: the series hash of {__name__=family}, modulo the
// count, as writes are routed. REQUIRES: shard_count > 0.
size_t metadata_shard(const std::string& family, size_t shard_count);

}  // namespace strata::actors
