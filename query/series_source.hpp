#pragma once
// How the query engine sees storage. A shard implements it over its local
// LMDB environment; the query actor implements it over what the shards of a
// cluster returned.
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "common/matcher.hpp"
#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::query {

// A mergeable quantile summary of the values of a rollup bucket (the
// storage's 1% relative-error sketch, docs/format/sketch.md). The engine
// only merges and asks; the source supplies the implementation.
class value_sketch {
 public:
  virtual ~value_sketch() = default;
  virtual std::unique_ptr<value_sketch> clone() const = 0;
  // Afterwards *this summarises its values and o's.
  // REQUIRES: o comes from the same source (the same dynamic type).
  virtual void merge(const value_sketch& o) = 0;
  virtual void add(double v) = 0;
  // Nearest rank within the sketch's accuracy, Prometheus's answers for q
  // outside [0, 1] and NaN (-Inf, +Inf, NaN); NaN when empty.
  virtual double quantile(double q) const = 0;
};

// One rollup bucket: the summary of a series' samples in the window
// [start, start + window) (docs/format/rollup.md: count, sum, min and max
// ignoring NaN, first/last, the reset-aware increase without
// extrapolation, a sketch of the values).
struct bucket {
  int64_t start = 0;
  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double first = std::numeric_limits<double>::quiet_NaN();
  double last = std::numeric_limits<double>::quiet_NaN();
  int64_t first_t = 0;
  int64_t last_t = 0;
  double increase = 0;
  std::shared_ptr<const value_sketch> sketch;
};

// A series as a rollup tier answers it: buckets by start, and raw samples
// (oldest first) where buckets cannot stand in for them: those not rolled
// up yet (newer than the buckets' last sample, e.g. a shard's head), and
// those of a bucket whose first sample lies exactly on its start (the
// window edge rule needs to know that sample alone; the bucket is then left
// out). Without raw samples left there (retention), the bucket is sent.
struct bucket_series {
  labels lbls;
  std::vector<bucket> buckets;
  std::vector<sample> samples;
};

class series_source {
 public:
  virtual ~series_source() = default;

  // Every series matching all of `ms`, with its samples in [mint, maxt]
  // (both inclusive), oldest first. Series without samples in the range may
  // be left out. The engine tolerates a series returned more than once
  // (e.g. by two shards): their samples are merged.
  virtual result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) = 0;

  // select's series one at a time, for an evaluation that never needs them
  // all at once: `fn` gets every matching series once (equal label sets
  // merged), in label order, samples oldest first, and returns an error to
  // stop, which is then returned. nullopt (the default): this source cannot
  // read series one by one, and the engine calls select.
  virtual std::optional<status> select_each(const matchers& ms, int64_t mint, int64_t maxt,
                                            const std::function<status(series&)>& fn) {
    (void)ms, (void)mint, (void)maxt, (void)fn;
    return std::nullopt;
  }

  // Every series matching all of `ms`, with its buckets of width
  // `window_ms` (a rollup tier) whose window starts in [mint, maxt] and its
  // raw samples in [mint, maxt + window_ms] as bucket_series describes (the
  // end is inclusive: a sample on the end of the last window belongs to it).
  // mint and maxt are multiples of window_ms. Series may come more than
  // once (two shards); the engine merges them. Every bucket has a sketch.
  // edge_step says which bucket starts may be an edge of the query's
  // windows (a window (e - range, e] leaves out a sample on its start
  // e - range and takes one on e, a bucket has it the other way): -1 any,
  // k > 0 mint + j * k. A bucket at an edge that begins with a sample on its
  // start comes as its raw samples where they are all still kept; other
  // buckets come whole.
  // The default has no rollups: strata_errc::not_found, and the engine reads
  // raw samples instead.
  virtual result<std::vector<bucket_series>> select_buckets(const matchers& ms, int64_t mint, int64_t maxt,
                                                            int64_t window_ms, int64_t edge_step) {
    (void)ms, (void)mint, (void)maxt, (void)window_ms, (void)edge_step;
    return error(strata_errc::not_found, "this source holds no rollup buckets");
  }
};

}  // namespace strata::query
