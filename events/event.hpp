#pragma once
// One event of the cluster-wide event stream (docs/api/events.md): what
// happened (`type`), an id unique in the cluster, when, the correlation id
// that ties it to the request or alert behind it, the node it happened on,
// and a JSON object of fields that depend on the type.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace strata::events {

inline constexpr std::string_view metrics_collected = "metrics.collected";
inline constexpr std::string_view metrics_aggregated = "metrics.aggregated";
inline constexpr std::string_view alert_triggered = "alert.triggered";
inline constexpr std::string_view alert_resolved = "alert.resolved";

// Every type a consumer may ask for (a new type is added here).
const std::vector<std::string_view>& known_types();

struct event {
  std::string type;
  std::string id;          // "<boot id>-<sequence>" of the publishing node
  int64_t time_ms = 0;     // when it was published, ms since the epoch
  std::string correlation_id;
  std::string node;        // cluster address of the publishing node
  std::string data = "{}";  // a JSON object (text)
};

// {"type","id","time" (RFC 3339, ms, UTC),"time_ms","correlation_id","node","data"}
// on one line.
std::string encode_json(const event& e);
// The inverse of encode_json; bad_request naming the field when `text` is not one.
result<event> decode_json(std::string_view text);

// A fresh random correlation id: 32 lowercase hex digits.
std::string new_correlation_id();
// A correlation id a client sent (X-Correlation-Id, JSON correlation_id):
// ok when 1 to 128 printable ASCII characters; else bad_request naming `what`.
status check_correlation_id(std::string_view id, std::string_view what);

}  // namespace strata::events
