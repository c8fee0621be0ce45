#pragma once
// Rollup buckets: the summary of the samples of one series in one time window
// (1m, 5m, 1h), so that queries over months read buckets instead of samples.
// Record layout: docs/format/rollup.md.
//
// Value semantics follow Prometheus's *_over_time functions on the bucket's
// samples: count counts every sample, sum adds them all (a NaN makes it NaN),
// min and max ignore NaN (+Inf / -Inf while no number was seen), first/last
// are kept bit for bit, and the sketch ignores NaN.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "persistence/codec/sketch.hpp"

namespace strata::persistence::codec {

struct rollup_bucket {
  uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double first = std::numeric_limits<double>::quiet_NaN();
  double last = std::numeric_limits<double>::quiet_NaN();
  int64_t first_t = 0;
  int64_t last_t = 0;
  // Counter increase inside the bucket, reset-aware like Prometheus's
  // increase() without its extrapolation: each step adds v - previous, or v
  // when v < previous (a reset: the counter restarted from 0).
  double increase = 0;
  quantile_sketch sketch;

  // REQUIRES: t > last_t when count > 0. The caller drops stale markers.
  void add(int64_t t, double v);
  // Appends `later`, a bucket of the same series that starts after this one
  // ends (later.first_t > last_t when both hold samples); the increase also
  // gains the step from last to later.first. Either side may be empty.
  void merge_later(const rollup_bucket& later);
  // Adds a bucket of another series over the same window (cross-series
  // aggregation): count, sum, min, max, increase and the sketch add up; first
  // is the one with the earlier first_t and last the one with the later last_t
  // (this bucket's on ties).
  void merge_series(const rollup_bucket& o);

  // Field for field; doubles compared bitwise.
  friend bool operator==(const rollup_bucket& a, const rollup_bucket& b);
  friend bool operator!=(const rollup_bucket& a, const rollup_bucket& b) { return !(a == b); }
};

inline constexpr uint8_t rollup_format_version = 2;  // what encode_buckets writes
inline constexpr uint8_t rollup_format_v1 = 1;       // still read

// The start of the window of length window_ms that holds t:
// t - (t mod window_ms), rounding towards -infinity for negative t.
// REQUIRES: window_ms > 0
int64_t window_start(int64_t t, int64_t window_ms);

// Folds samples (one series, oldest first, strictly rising timestamps) into
// buckets of windows [start, start + window_ms) and appends one per window
// that holds samples to out, in order. Buckets already in out are untouched.
// REQUIRES: window_ms > 0
void fold(const std::vector<sample>& in, int64_t window_ms, std::vector<std::pair<int64_t, rollup_bucket>>& out);

// A run of buckets of one series (sorted by window start, starts distinct) as
// one record: version, columns (starts, counts, times, decimal-coded values,
// sketches), zstd-compressed when smaller, and a checksum. The record of each
// (tier, block, series). Version 2 (rollup_record.cpp).
std::string encode_buckets(int64_t window_ms, const std::vector<std::pair<int64_t, rollup_bucket>>& b);
// The same run as a version 1 record (XOR-coded values, no compression), the
// format of older stores; decode_buckets reads both.
std::string encode_buckets_v1(int64_t window_ms, const std::vector<std::pair<int64_t, rollup_bucket>>& b);
// The same run as a section of a rollup group (docs/format/rollup.md,
// "Rollup group"): a version 2 record without zstd and without its checksum
// (the group's frame and checksum cover it).
std::string encode_bucket_section(int64_t window_ms, const std::vector<std::pair<int64_t, rollup_bucket>>& b);
result<std::vector<std::pair<int64_t, rollup_bucket>>> decode_bucket_section(std::string_view section,
                                                                             int64_t* window_ms = nullptr);
// The buckets of a record, bit for bit, and its window in *window_ms when
// given. strata_errc::corruption with the cause on any damage; never reads
// outside `in`.
result<std::vector<std::pair<int64_t, rollup_bucket>>> decode_buckets(std::string_view in,
                                                                      int64_t* window_ms = nullptr);

}  // namespace strata::persistence::codec
