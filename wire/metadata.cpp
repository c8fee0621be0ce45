#include "wire/metadata.hpp"

namespace strata::wire {

const char* to_string(metric_type t) {
  switch (t) {
    case metric_type::unknown: return "unknown";
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    case metric_type::gaugehistogram: return "gaugehistogram";
    case metric_type::summary: return "summary";
    case metric_type::info: return "info";
    case metric_type::stateset: return "stateset";
  }
  return "unknown";
}

bool parse_metric_type(std::string_view s, metric_type& out) {
  static constexpr metric_type all[] = {metric_type::unknown,   metric_type::counter,        metric_type::gauge,
                                        metric_type::histogram, metric_type::gaugehistogram, metric_type::summary,
                                        metric_type::info,      metric_type::stateset};
  if (s == "untyped") {
    out = metric_type::unknown;
    return true;
  }
  for (auto t : all)
    if (s == to_string(t)) {
      out = t;
      return true;
    }
  return false;
}

}  // namespace strata::wire
