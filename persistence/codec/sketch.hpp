#pragma once
// A mergeable quantile sketch with 1% relative error (DDSketch's logarithmic
// mapping). Encoding: docs/format/sketch.md.
//
// A positive finite v falls in bin i = ceil(ln v / ln gamma), gamma =
// (1 + a) / (1 - a), a = relative_accuracy; bin i holds (gamma^(i-1), gamma^i]
// and answers 2 gamma^i / (gamma + 1), within a of every value in it. A
// negative v uses the bin of -v in a second store; 0 (either sign), +Inf and
// -Inf have counts of their own. NaN is ignored.
//
// Bins are sparse: only bins that hold values exist, so a sketch of a handful
// of values is a handful of bins. Each store keeps at most max_bins_per_store
// consecutive bin indexes: when a store spans more, its lowest-magnitude bins
// collapse into the lowest bin kept (index = highest - max_bins_per_store + 1),
// so values more than gamma^4095 (about 10^35) times smaller than the largest
// of their sign read too large in magnitude. The kept range depends only on the largest
// index ever added, so collapsing commutes with adding and merging.
//
// Not thread-safe. Copyable and movable.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace strata::persistence::codec {

namespace detail {
struct sketch_bins;
}

class quantile_sketch {
 public:
  static constexpr double relative_accuracy = 0.01;
  static constexpr size_t max_bins_per_store = 4096;
  static constexpr uint8_t format_version = 1;

  void add(double v);
  // Afterwards *this equals a sketch fed this one's values and o's.
  void merge(const quantile_sketch& o);

  // The value of rank max(1, ceil(q * count())) among the values in ascending
  // order (nearest rank), within relative_accuracy, clamped to [min(), max()].
  // NaN when empty or q is NaN; -Inf for q < 0, +Inf for q > 1 (Prometheus);
  // q = 0 and q = 1 answer min() and max() exactly.
  double quantile(double q) const;

  // Values added, NaN not counted.
  uint64_t count() const { return count_; }
  // Exact; +Inf and -Inf (the identities of min and max) while empty.
  double min() const { return min_; }
  double max() const { return max_; }
  // Bins in use: the bins of both stores plus one per non-empty zero, +Inf
  // and -Inf count.
  size_t bins() const { return bins_.size(); }

  // Appends the encoding (docs/format/sketch.md) to out.
  void encode(std::string& out) const;
  // Decodes exactly one encoding that fills `in`. strata_errc::corruption
  // with the cause on anything else; never reads outside `in`.
  static result<quantile_sketch> decode(std::string_view in);

  // Bitwise on min and max, bin for bin.
  friend bool operator==(const quantile_sketch& a, const quantile_sketch& b);
  friend bool operator!=(const quantile_sketch& a, const quantile_sketch& b) { return !(a == b); }

 private:
  friend struct detail::sketch_bins;  // the bins-only form inside rollup records

  // Keys order every value: -Inf, negatives (larger magnitude first), zero,
  // positives, +Inf. A positive finite value with bin index i has key
  // index_offset + i, a negative one -(index_offset + i).
  static constexpr int32_t index_offset = 1 << 17;
  static constexpr int32_t inf_key = 1 << 18;

  struct bin {
    int32_t key;
    uint64_t count;
  };

  static int32_t key_of(double v);
  static double value_of(int32_t key);
  static bool valid_key(int64_t key);
  // Collapses a store that spans more than max_bins_per_store indexes.
  void collapse_positive();
  void collapse_negative();

  // Sorted by key, every count > 0. Why not DDSketch's dense array per store:
  // most sketches are 1-minute buckets of a few values, and a dense array
  // spans every index between them (4 values from 1 to 1000 would be 350 bins).
  std::vector<bin> bins_;
  uint64_t count_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace strata::persistence::codec
