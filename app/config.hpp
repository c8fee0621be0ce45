#pragma once
// The node's YAML config file (`strata serve --config PATH`): the sections a
// node reads at start. Unknown top-level keys are refused, so a typo never
// passes silently. Each section is parsed by its module (scrape/config.hpp);
// this file only dispatches.
#include <string>
#include <vector>

#include "common/status.hpp"
#include "events/webhook.hpp"
#include "scrape/config.hpp"

namespace strata::app {

struct node_config {
  scrape::global_config global;
  std::vector<scrape::job_config> scrape_configs;
  // `webhooks:` list: url (http://), types (list; default every type),
  // headers (map), timeout (duration, default 5s), max_attempts (default 3),
  // backoff (duration, default 500ms), queue_capacity (default 1000).
  std::vector<events::webhook_config> webhooks;
  // `replication_factor:` (1-5); 0 when absent. --replication-factor wins.
  unsigned replication_factor = 0;
  // `rule_files:` (paths or globs, relative to the config file's folder),
  // expanded when the file is read; each glob must match a file.
  std::vector<std::string> rule_files;
  // `alerting: alertmanagers:` in Prometheus's shape: a list of
  // {scheme (http), path_prefix, static_configs: [{targets: [host:port]}]};
  // the base URL of each target. Added to --alertmanager-url.
  std::vector<std::string> alertmanager_urls;
};

// Parses config text; `name` is the file name used in errors
// (`<name>:<line>: <reason>`, bad_request).
result<node_config> parse_config(const std::string& text, const std::string& name);
// Reads and parses the file at `path`; an unreadable file is an error naming it.
result<node_config> load_config(const std::string& path);

}  // namespace strata::app
