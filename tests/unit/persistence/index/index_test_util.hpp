#pragma once
// Helpers of the index tests: matchers and bitmaps as vectors.
#include <gtest/gtest.h>

#include <vector>

#include "persistence/index/series_index.hpp"
#include "tests/unit/persistence/test_util.hpp"

namespace strata::persistence::index::index_test {

using test_support::eq;
using test_support::neq;
using test_support::nre;
using test_support::re;

inline std::vector<series_ref> to_vector(const Roaring& r) {
  std::vector<series_ref> v(r.cardinality());
  r.toUint32Array(v.data());
  return v;
}

}  // namespace strata::persistence::index::index_test
