#pragma once
// Metric metadata (HELP, TYPE, UNIT) as the ingest decoders return it: text
// exposition, remote_write 2.0, JSON events. Kept apart from the samples; the
// decoders never need it to decode a sample.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::wire {

// The OpenMetrics 1.0 types; Prometheus text 0.0.4 `untyped` is `unknown`.
enum class metric_type : uint8_t { unknown, counter, gauge, histogram, gaugehistogram, summary, info, stateset };

// "unknown", "counter", ... (OpenMetrics spelling).
const char* to_string(metric_type t);
// Parses the OpenMetrics spelling, plus 0.0.4's "untyped" (= unknown).
// Returns false for anything else.
bool parse_metric_type(std::string_view s, metric_type& out);

struct metric_metadata {
  std::string family;  // family name: `http_requests` for http_requests_total in OpenMetrics
  metric_type type = metric_type::unknown;
  std::string help;    // unescaped
  std::string unit;    // "" when none
  friend bool operator==(const metric_metadata& a, const metric_metadata& b) {
    return a.family == b.family && a.type == b.type && a.help == b.help && a.unit == b.unit;
  }
};

using metadata_list = std::vector<metric_metadata>;

}  // namespace strata::wire
