#pragma once
// Metric metadata: what a metric family is (its type), its HELP text and its
// unit, as remote_write 1.0 (WriteRequest.metadata), the text exposition
// formats (# TYPE, # HELP, # UNIT) and GET /api/v1/metadata carry it.
// Kept per family name by the shard that owns the name
// (actors::gateway::put_metadata).
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>

#include "common/status.hpp"
#include "common/utf8.hpp"

namespace strata {

struct metric_metadata {
  std::string family;            // the metric family name, e.g. "http_requests_total"
  std::string type = "unknown";  // one of metric_types
  std::string help;
  std::string unit;

  friend bool operator==(const metric_metadata& a, const metric_metadata& b) {
    return std::tie(a.family, a.type, a.help, a.unit) == std::tie(b.family, b.type, b.help, b.unit);
  }
  friend bool operator!=(const metric_metadata& a, const metric_metadata& b) { return !(a == b); }
  friend bool operator<(const metric_metadata& a, const metric_metadata& b) {
    return std::tie(a.family, a.type, a.help, a.unit) < std::tie(b.family, b.type, b.help, b.unit);
  }
};

// Prometheus's metric types, as /api/v1/metadata spells them; the index is
// the remote_write MetricMetadata.MetricType number and the stored type code.
inline constexpr const char* metric_types[] = {"unknown",        "counter", "gauge", "histogram",
                                               "gaugehistogram", "summary", "info",  "stateset"};
inline constexpr size_t metric_type_count = sizeof(metric_types) / sizeof(metric_types[0]);

// The code of a type name; metric_type_count when it is none of them.
inline size_t metric_type_code(std::string_view type) {
  for (size_t i = 0; i < metric_type_count; ++i)
    if (type == metric_types[i]) return i;
  return metric_type_count;
}

// Limits on one entry. The family name becomes part of a storage key
// (docs/format/keys.md), whose size is bounded.
inline constexpr size_t max_metadata_family_bytes = 500;
inline constexpr size_t max_metadata_help_bytes = 16384;
inline constexpr size_t max_metadata_unit_bytes = 256;

// ok, or bad_request naming the field and the limit it passes.
inline status check_metadata(const metric_metadata& m) {
  auto bad = [&](const std::string& what) {
    std::string name = m.family.size() > 64 ? m.family.substr(0, 64) + "..." : m.family;
    return error(strata_errc::bad_request, "metadata of \"" + name + "\": " + what);
  };
  if (m.family.empty()) return error(strata_errc::bad_request, "metadata: empty metric family name");
  if (m.family.size() > max_metadata_family_bytes)
    return bad("metric family name of " + std::to_string(m.family.size()) + " bytes, over the limit of " +
               std::to_string(max_metadata_family_bytes));
  if (!valid_utf8(m.family)) return bad("metric family name is not valid UTF-8");
  if (metric_type_code(m.type) == metric_type_count)
    return bad("unknown type \"" + m.type +
               "\" (counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown)");
  if (m.help.size() > max_metadata_help_bytes)
    return bad("help of " + std::to_string(m.help.size()) + " bytes, over the limit of " +
               std::to_string(max_metadata_help_bytes));
  if (!valid_utf8(m.help)) return bad("help is not valid UTF-8");
  if (m.unit.size() > max_metadata_unit_bytes)
    return bad("unit of " + std::to_string(m.unit.size()) + " bytes, over the limit of " +
               std::to_string(max_metadata_unit_bytes));
  if (!valid_utf8(m.unit)) return bad("unit is not valid UTF-8");
  return status::ok();
}

}  // namespace strata
