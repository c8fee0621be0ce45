#pragma once
// JSON metric events (docs/api.md, "JSON events"): a `metrics.push` event in,
// a `metrics.collected` event out. Independent of HTTP.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "wire/metadata.hpp"
#include "wire/remote_write.hpp"

namespace strata::wire {

struct json_rejection {
  size_t index = 0;  // position in data.metrics
  std::string name;  // as sent ("" when it was not a string)
  std::string reason;
};

struct json_push {
  std::string correlation_id;  // echoed; "" when absent
  std::string service;
  write_batch series;          // every accepted metric, `service` label added
  metadata_list metadata;      // one per accepted metric (family, type)
  size_t accepted = 0;         // metrics accepted (a histogram counts once)
  std::vector<json_rejection> rejected;
};

// Decodes a `metrics.push` event. A metric without its own "timestamp" takes
// data.timestamp, or `now_ms` when that is absent too. Fails (bad_request,
// naming the field) when the body is not JSON, `type` is not "metrics.push",
// `data`, `data.service` or `data.metrics` is missing or of the wrong kind,
// a timestamp is neither RFC 3339 nor integer milliseconds, or the metrics
// pass limits.max_series. A bad metric does not fail the event: it is listed
// in `rejected` with its index, name and reason, and the others are kept.
result<json_push> decode_json_push(std::string_view body, int64_t now_ms, const write_limits& limits);

// The `metrics.collected` reply for `p` (accepted count and rejections).
std::string encode_collected(const json_push& p);

// RFC 3339 (`2024-05-01T12:00:00Z`, fractional seconds, `+02:00` offsets) to
// milliseconds since the epoch; false when `s` is not one.
bool parse_rfc3339_ms(std::string_view s, int64_t& out);

}  // namespace strata::wire
