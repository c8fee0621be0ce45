#pragma once
// The in-memory head of a shard: every series and all its samples. Rebuilt from
// the WAL at open. Owned by one shard_store; not thread-safe.
//
// Invariants: each entry's labels are canonical and distinct from every other
// entry's; its samples are sorted by time with unique timestamps. Entries are
// found by series hash; two label sets with the same hash are two entries in the
// same bucket, never merged.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/matcher.hpp"
#include "common/series.hpp"

namespace strata::persistence {

class head {
 public:
  using hash_fn = uint64_t (*)(const labels&);
  // `hash` is wire::series_hash except in tests that force collisions.
  explicit head(hash_fn hash);
  head();

  // Adds the samples of `b`. A sample whose timestamp the series already has is
  // dropped: the first write of a timestamp wins, so a retried batch changes
  // nothing. Older timestamps are inserted in order.
  // REQUIRES: every series of `b` has canonical labels.
  void append(const write_batch& b);

  // The shard_store queries (see there). All of them scan every series: there
  // are no postings yet. Matchers are tried cheapest first (equality on
  // __name__, then other equalities, then regexes) to leave a series early.
  std::vector<series> select(const matchers& ms, int64_t mint, int64_t maxt) const;
  std::vector<labels> select_labels(const matchers& ms, int64_t mint, int64_t maxt) const;
  std::vector<std::string> label_names(const matchers& ms, int64_t mint, int64_t maxt) const;
  std::vector<std::string> label_values(const std::string& name, const matchers& ms, int64_t mint, int64_t maxt) const;

  size_t series_count() const { return series_count_; }
  size_t sample_count() const { return sample_count_; }

 private:
  struct entry {
    labels lbls;
    std::vector<sample> samples;
  };

  entry& find_or_add(const labels& ls);
  void add_samples(entry& e, const std::vector<sample>& in);
  // Entries that match `ms` and have a sample in [mint, maxt]; sorted by labels
  // when `sorted`.
  std::vector<const entry*> matching(const matchers& ms, int64_t mint, int64_t maxt, bool sorted) const;

  hash_fn hash_;
  std::unordered_map<uint64_t, std::vector<entry>> buckets_;
  size_t series_count_ = 0;
  size_t sample_count_ = 0;
};

}  // namespace strata::persistence
