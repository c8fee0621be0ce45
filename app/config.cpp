#include "app/config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace strata::app {

result<node_config> parse_config(const std::string& text, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return error(strata_errc::bad_request,
                 name + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  node_config c;
  if (root.IsNull()) return c;
  if (!root.IsMap()) return error(strata_errc::bad_request, name + ":1: the config must be a map of sections");
  // global first: scrape_configs take their defaults from it.
  if (auto g = root["global"]) {
    auto parsed = scrape::parse_global(g, name);
    if (!parsed) return parsed.error();
    c.global = *parsed;
  }
  for (const auto& kv : root) {
    auto key = kv.first.Scalar();
    if (key == "global") continue;
    if (key == "scrape_configs") {
      if (kv.second.IsNull()) continue;
      auto jobs = scrape::parse_scrape_configs(kv.second, c.global, name);
      if (!jobs) return jobs.error();
      c.scrape_configs = std::move(*jobs);
    } else {
      return error(strata_errc::bad_request, name + ":" + std::to_string(kv.first.Mark().line + 1) +
                                                 ": unknown key \"" + key + "\" (global, scrape_configs)");
    }
  }
  return c;
}

result<node_config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error(strata_errc::bad_request, "--config " + path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace strata::app
