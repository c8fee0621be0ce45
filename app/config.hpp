#pragma once
// The node's YAML config file (`strata serve --config PATH`): the sections a
// node reads at start. Unknown top-level keys are refused, so a typo never
// passes silently. Each section is parsed by its module (scrape/config.hpp);
// this file only dispatches.
#include <string>
#include <vector>

#include "common/status.hpp"
#include "scrape/config.hpp"

namespace strata::app {

struct node_config {
  scrape::global_config global;
  std::vector<scrape::job_config> scrape_configs;
};

// Parses config text; `name` is the file name used in errors
// (`<name>:<line>: <reason>`, bad_request).
result<node_config> parse_config(const std::string& text, const std::string& name);
// Reads and parses the file at `path`; an unreadable file is an error naming it.
result<node_config> load_config(const std::string& path);

}  // namespace strata::app
