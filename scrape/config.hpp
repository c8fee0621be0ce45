#pragma once
// The `scrape_configs` section of the node config: Prometheus's field names
// and defaults, parsed from YAML and checked once at start (docs/operations.md,
// "Scrape configuration").
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace YAML {
class Node;
}

namespace strata::scrape {

struct static_config {
  std::vector<std::string> targets;  // host:port
  labels target_labels;              // `labels:`, canonical
};

struct job_config {
  std::string job_name;
  int64_t interval_ms = 60'000;
  int64_t timeout_ms = 10'000;
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::map<std::string, std::vector<std::string>> params;  // URL query parameters
  bool honor_labels = false;
  bool honor_timestamps = true;
  uint64_t sample_limit = 0;  // 0: no limit
  uint64_t label_limit = 0;   // 0: no limit
  uint64_t body_size_limit = 0;  // bytes; 0: the node's default (max_scrape_body_bytes)
  std::vector<static_config> static_configs;
};

// Defaults for every job, from `global:` (scrape_interval, scrape_timeout).
struct global_config {
  int64_t interval_ms = 60'000;
  int64_t timeout_ms = 10'000;
};

// Parses the `scrape_configs` sequence. Errors are bad_request values
// `<file>:<line>: <reason>` naming the key and the rule it breaks: unknown
// keys, wrong types, bad durations, scrape_timeout above scrape_interval, a
// scheme other than http, a bad target or label, a repeated job_name.
result<std::vector<job_config>> parse_scrape_configs(const YAML::Node& node, const global_config& global,
                                                     const std::string& file);
// Parses `global:` (only scrape_interval and scrape_timeout are taken; other
// Prometheus global keys are refused).
result<global_config> parse_global(const YAML::Node& node, const std::string& file);

// A Prometheus duration (`1h30m`, `15s`, `250ms`, units y w d h m s ms) in
// milliseconds; bad_request naming the text otherwise.
result<int64_t> parse_duration(const std::string& text);

}  // namespace strata::scrape
