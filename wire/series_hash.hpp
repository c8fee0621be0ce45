#pragma once
// The series id: a 64-bit hash of the canonical label set.
#include <cstdint>

#include "common/series.hpp"

namespace strata::wire {

// XXH3_64bits (seed 0) over the label set encoded as, for each label in order,
//
//   name bytes, 0xFF, value bytes, 0xFF
//
// 0xFF never occurs in valid UTF-8, so for valid UTF-8 labels the encoding is
// injective: `{a="b,c"}` and `{a="b", c=""}` or `{ab="c"}` and `{a="bc"}` hash
// different bytes. The value is stored on disk and compared across nodes, so the
// encoding and seed never change. Different label sets can still collide (it is
// a 64-bit hash); users of the id must detect that.
// REQUIRES: `canonical` is sorted by name (the same set in another order gives
// another hash).
uint64_t series_hash(const labels& canonical);

}  // namespace strata::wire
