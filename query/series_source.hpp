#pragma once
// How the query engine sees storage. A shard implements it over its local
// LMDB environment; the query actor implements it over what the shards of a
// cluster returned.
#include <cstdint>
#include <vector>

#include "common/matcher.hpp"
#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::query {

class series_source {
 public:
  virtual ~series_source() = default;

  // Every series matching all of `ms`, with its samples in [mint, maxt]
  // (both inclusive), oldest first. Series without samples in the range may
  // be left out. The engine tolerates a series returned more than once
  // (e.g. by two shards): their samples are merged.
  virtual result<std::vector<series>> select(const matchers& ms, int64_t mint, int64_t maxt) = 0;
};

}  // namespace strata::query
