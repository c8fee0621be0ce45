#include "persistence/codec/rollup.hpp"

#include <cassert>

#include "persistence/codec/detail/bits.hpp"

namespace strata::persistence::codec {
namespace {

// The increase from `prev` to `v` of a counter: a drop is a reset to 0.
double counter_step(double prev, double v) { return v < prev ? v : v - prev; }

bool same(double a, double b) { return detail::double_bits(a) == detail::double_bits(b); }

}  // namespace

void rollup_bucket::add(int64_t t, double v) {
  assert(count == 0 || t > last_t);
  if (count == 0) {
    first = v;
    first_t = t;
  } else {
    increase += counter_step(last, v);
  }
  ++count;
  sum += v;
  if (v < min) min = v;
  if (v > max) max = v;
  last = v;
  last_t = t;
  sketch.add(v);
}

void rollup_bucket::merge_later(const rollup_bucket& later) {
  if (later.count == 0) return;
  if (count == 0) {
    *this = later;
    return;
  }
  assert(later.first_t > last_t);
  increase += counter_step(last, later.first) + later.increase;
  count += later.count;
  sum += later.sum;
  if (later.min < min) min = later.min;
  if (later.max > max) max = later.max;
  last = later.last;
  last_t = later.last_t;
  sketch.merge(later.sketch);
}

void rollup_bucket::merge_series(const rollup_bucket& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  count += o.count;
  sum += o.sum;
  if (o.min < min) min = o.min;
  if (o.max > max) max = o.max;
  increase += o.increase;
  if (o.first_t < first_t) {
    first = o.first;
    first_t = o.first_t;
  }
  if (o.last_t > last_t) {
    last = o.last;
    last_t = o.last_t;
  }
  sketch.merge(o.sketch);
}

bool operator==(const rollup_bucket& a, const rollup_bucket& b) {
  return a.count == b.count && same(a.sum, b.sum) && same(a.min, b.min) && same(a.max, b.max) &&
         same(a.first, b.first) && same(a.last, b.last) && a.first_t == b.first_t && a.last_t == b.last_t &&
         same(a.increase, b.increase) && a.sketch == b.sketch;
}

int64_t window_start(int64_t t, int64_t window_ms) {
  assert(window_ms > 0);
  int64_t r = t % window_ms;
  if (r < 0) r += window_ms;
  return t - r;
}

void fold(const std::vector<sample>& in, int64_t window_ms, std::vector<std::pair<int64_t, rollup_bucket>>& out) {
  assert(window_ms > 0);
  const size_t first_new = out.size();
  for (const sample& s : in) {
    int64_t start = window_start(s.t, window_ms);
    if (out.size() == first_new || out.back().first != start) out.emplace_back(start, rollup_bucket{});
    out.back().second.add(s.t, s.v);
  }
}

}  // namespace strata::persistence::codec
