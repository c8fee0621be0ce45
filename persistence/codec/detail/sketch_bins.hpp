#pragma once
// The bins of a quantile_sketch without count, min and max: the form rollup
// records store (docs/format/rollup.md, "sketches"), where count is the sum of
// the bins and min and max are the record's. Internal to strata_codec.
#include <cstdint>
#include <string>

#include "persistence/codec/detail/bits.hpp"
#include "persistence/codec/sketch.hpp"

namespace strata::persistence::codec::detail {

struct sketch_bins {
  // `prev_first_key` is the first key of the previous non-empty sketch of the
  // record (0 at its start); both functions update it.
  static void encode(const quantile_sketch& s, std::string& out, int32_t& prev_first_key);
  // Reads one sketch into `s` (replacing it). Returns "" on success, else the cause.
  static std::string decode(byte_reader& in, int32_t& prev_first_key, double min, double max, quantile_sketch& s);
  // decode() after the bin count `n` was read. A sketch of no bins needs min
  // +Inf and max -Inf; otherwise min and max must bound the bins.
  static std::string read(byte_reader& in, uint64_t n, int32_t& prev_first_key, double min, double max,
                          quantile_sketch& s);
};

}  // namespace strata::persistence::codec::detail
