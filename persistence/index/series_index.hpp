#pragma once
// The in-memory index of one shard's series: label sets by dense ref, postings
// (which series have a label pair) for matcher selection, and coarse time
// bounds (which series have samples in which time block). Rebuilt at open from
// the `series` table: the storage engine calls get_or_add for every record.
// Owned by the shard's storage engine (one thread); not thread-safe.
//
// Memory: every label string is interned once (a symbol table), a series is a
// run of (name, value) symbol ids in one shared array, and each label pair has
// a posting list (inline for up to three series, else a CRoaring bitmap).
//
// Invariants: a live ref's labels are canonical and differ from every other
// live ref's; two label sets with the same hash are two refs, never merged.
// Refs are dense and never reused, also after remove().
#include <cstdint>
#include <map>
#include <optional>
#include <roaring/roaring.hh>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/matcher.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "persistence/index/detail/id_table.hpp"
#include "persistence/index/detail/postings.hpp"
#include "persistence/index/detail/symbol_table.hpp"
#include "wire/series_hash.hpp"

namespace strata::persistence::index {

using series_ref = uint32_t;  // dense per shard, never reused

class series_index {
 public:
  using hash_fn = uint64_t (*)(const labels&);
  static constexpr int64_t default_block_ms = 2 * 3600 * 1000;

  // `h` is wire::series_hash except in tests that force collisions.
  // REQUIRES: block_ms > 0.
  explicit series_index(hash_fn h = &wire::series_hash, int64_t block_ms = default_block_ms);
  series_index(const series_index&) = delete;
  series_index& operator=(const series_index&) = delete;
  // A moved-from index may only be destroyed or assigned to.
  series_index(series_index&&) = default;
  series_index& operator=(series_index&&) = default;

  // (ref, created). REQUIRES: `canonical` is canonical (common/series.hpp) and
  // fewer than 2^32 - 2 refs were made.
  std::pair<series_ref, bool> get_or_add(const labels& canonical);
  // The same with the hash already known (the collector computed it to route
  // the series). REQUIRES: id == the index's hash function of `canonical`.
  std::pair<series_ref, bool> get_or_add(const labels& canonical, uint64_t id);
  std::optional<series_ref> find(const labels& canonical) const;
  // The labels of a live ref; empty for a removed or unknown ref.
  labels labels_of(series_ref r) const;
  // labels_of(a) < labels_of(b), without copying them: an interned string
  // equal to the other's is the same symbol, so most label pairs compare as
  // integers.
  bool labels_less(series_ref a, series_ref b) const;
  // The value of label `name` of a live ref, without copying its labels;
  // empty when it has none or the ref is removed or unknown.
  std::string_view label_value(series_ref r, std::string_view name) const;
  // The hash of the labels (the series id) of a live ref; 0 for a removed or unknown ref.
  uint64_t id_of(series_ref r) const;
  bool contains(series_ref r) const { return live_.contains(r); }
  size_t size() const { return live_count_; }
  // Every live ref.
  const Roaring& all() const { return live_; }

  // Refs of series matching all matchers, Prometheus semantics: a label the
  // series lacks has the value "" (so `=""` and `!~".+"` also select series
  // without it), `!=`/`!~` exclude, regexes are fully anchored
  // (common/matcher.hpp matches one value). Equality postings are intersected
  // first, smallest first; regexes then go through the values of their label
  // or, when fewer series are left than the label has values, through those
  // series' own labels. No matchers: every live ref.
  Roaring select(const matchers& ms) const;

  // Time bounds, coarse: a series is active in block floor(t / block_ms) of
  // each sample time t the engine notes. A removed ref is ignored.
  void note_time(series_ref r, int64_t t_ms);
  // Union of the blocks that overlap [mint, maxt] (both inclusive).
  Roaring active_between(int64_t mint, int64_t maxt) const;
  // Retention: forgets the blocks that end at or before t (every time in them
  // is < t) and returns, sorted, the live refs that are no longer active in
  // any block. The engine then deletes their records and calls remove().
  std::vector<series_ref> drop_blocks_before(int64_t t_ms);
  int64_t block_ms() const { return block_ms_; }

  // Forgets a ref: its labels, postings and blocks. Removing a removed or
  // unknown ref does nothing. The ref is not handed out again.
  void remove(series_ref r);

  // Label names of the given refs (sorted, unique).
  std::vector<std::string> label_names(const Roaring& refs) const;
  // Non-empty values of `name` among the given refs (sorted, unique).
  std::vector<std::string> label_values(const std::string& name, const Roaring& refs) const;

  // Cardinality like Prometheus's /api/v1/status/tsdb, each list top-n by
  // count (ties by name): series per metric name; per label name the number
  // of distinct values; series per label pair ("name=value"); and per label
  // name the bytes of its values as Prometheus counts them (the length of
  // each value times its series).
  struct cardinality {
    size_t series = 0;
    std::vector<std::pair<std::string, uint64_t>> series_by_metric, values_by_label, series_by_label_pair,
        bytes_by_label;
  };
  cardinality stats(size_t top_n) const;

  // Heap bytes held by the index, estimated from container sizes (malloc's
  // own overhead is not counted).
  size_t memory_bytes() const;
  // Compacts bitmaps (run containers, no spare capacity); worth a call after
  // the rebuild at open and after large removals.
  void optimize();

  // The value of the `series` table for a label set (docs/format/keys.md):
  // version 1, XXH3-64 checksum, label count and length-prefixed strings.
  static std::string encode_series(const labels& ls);
  // corruption on bad bytes (the message says which check failed and where);
  // the labels must be canonical.
  static result<labels> decode_series(std::string_view in);

 private:
  using sym = detail::symbol_table::id;

  struct series_rec {
    uint64_t id = 0;               // hash of the labels
    int64_t max_block = no_block;  // newest block noted
    uint32_t offset = 0;           // first (name, value) pair in pairs_
    uint32_t count = 0;            // labels
  };
  static constexpr int64_t no_block = INT64_MIN;

  // Postings of one label name.
  struct name_postings {
    Roaring any;                                       // every ref with the name
    std::unordered_map<sym, detail::postings> values;  // by value symbol
  };

  bool same_labels(series_ref r, const labels& ls) const;
  // The value symbol of `name` in r's labels, if r has it.
  std::optional<sym> value_of(series_ref r, sym name) const;
  const name_postings* postings_of(std::string_view name) const;
  // Refs whose value of m's label is accepted (accept = true) or rejected by
  // m, among the refs that have the label.
  Roaring with_value(const name_postings& np, const matcher& m, bool accept) const;
  // Keeps the refs of `in` whose labels satisfy m (reads each series' labels).
  Roaring filter(const Roaring& in, const matcher& m) const;
  void compact_pairs();
  int64_t block_of(int64_t t) const;

  hash_fn hash_;
  int64_t block_ms_;
  detail::symbol_table syms_;
  std::vector<series_rec> series_;  // by ref, removed ones included
  std::vector<sym> pairs_;          // name, value, name, value, ... of every series
  size_t dead_pairs_words_ = 0;     // words of pairs_ owned by removed series
  detail::id_table by_id_;          // live refs by series id
  Roaring live_;
  size_t live_count_ = 0;
  std::unordered_map<sym, name_postings> names_;  // by name symbol
  std::map<int64_t, Roaring> blocks_;             // refs active per block
  Roaring* last_block_ = nullptr;                 // blocks_[last_block_key_], if set
  int64_t last_block_key_ = 0;
};

}  // namespace strata::persistence::index
