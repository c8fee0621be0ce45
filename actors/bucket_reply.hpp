#pragma once
// Rollup bucket selections between a shard and the query path
// (docs/design/query.md, "Rollup tiers"): the shard's answer to a
// buckets_atom request, its bytes, and the query engine's view of them.
//
// Reply layout: u32 little-endian length of a wire batch (wire/batch.hpp:
// one series per matching series, with its labels and raw samples), the batch, then per series of the batch, in order, u32
// little-endian length and one rollup record (docs/format/rollup.md) of its
// buckets; a record of 0 buckets when it has only raw samples.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/read_plan.hpp"
#include "common/matcher.hpp"
#include "common/status.hpp"
#include "persistence/shard_store.hpp"
#include "query/series_source.hpp"

namespace strata::actors {

// The shard's answer to select_buckets(ms, mint, maxt, window_ms,
// edge_step), as query::bucket_series describes it: per matching series its
// buckets of the tier of that width with starts in [mint, maxt], and raw
// samples in [mint, maxt + window_ms] newer than those buckets, or in place
// of a bucket at a window's edge (edge_step, series_source.hpp) whose first
// sample lies on its start (while all its samples are raw). Only
// series of `parts`. bad_request when no rollup tier has that width.
result<std::string> answer_buckets(const persistence::shard_store& store, const matchers& ms, int64_t mint,
                                   int64_t maxt, int64_t window_ms, int64_t edge_step,
                                   const partition_set& parts = partition_set::all());

// What answer_buckets answers, as the query engine reads it, without the
// bytes between (a shard evaluating a pushed-down expression).
result<std::vector<query::bucket_series>> local_buckets(const persistence::shard_store& store, const matchers& ms,
                                                       int64_t mint, int64_t maxt, int64_t window_ms,
                                                       int64_t edge_step,
                                                       const partition_set& parts = partition_set::all());

// Decodes answer_buckets' bytes; buckets carry the storage's sketch.
// corruption with the cause on damaged bytes; *samples gets the buckets and
// raw samples counted.
result<std::vector<query::bucket_series>> decode_bucket_reply(std::string_view bytes, size_t* samples);

}  // namespace strata::actors
