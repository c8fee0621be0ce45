#include "app/config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace strata::app {

namespace {

result<std::vector<events::webhook_config>> parse_webhooks(const YAML::Node& list, const std::string& name) {
  auto at = [&](const YAML::Node& n) { return name + ":" + std::to_string(n.Mark().line + 1) + ": "; };
  if (!list.IsSequence()) return error(strata_errc::bad_request, at(list) + "webhooks must be a list");
  std::vector<events::webhook_config> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& w = list[i];
    std::string where = at(w) + "webhooks[" + std::to_string(i) + "]";
    if (!w.IsMap()) return error(strata_errc::bad_request, where + " must be a map");
    events::webhook_config c;
    bool has_url = false;
    for (const auto& kv : w) {
      auto key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      std::string field = where + "." + key;
      auto bad = [&](const std::string& why) { return error(strata_errc::bad_request, field + ": " + why); };
      try {
        if (key == "url") {
          c.url = v.as<std::string>();
          if (c.url.rfind("http://", 0) != 0 || c.url.size() == 7)
            return bad("\"" + c.url + "\" is not an http:// URL (https is not supported)");
          has_url = true;
        } else if (key == "types") {
          if (!v.IsSequence()) return bad("must be a list of event types");
          auto f = events::type_filter::parse(v.as<std::vector<std::string>>(), field);
          if (!f) return f.error();
          c.types = *f;
        } else if (key == "headers") {
          if (!v.IsMap()) return bad("must be a map of header names to values");
          for (const auto& h : v) {
            auto hn = h.first.as<std::string>(), hv = h.second.as<std::string>();
            if (hn.empty() || hn.find_first_of(": \t\r\n") != std::string::npos)
              return bad("invalid header name \"" + hn + "\"");
            if (hv.find_first_of("\r\n") != std::string::npos) return bad("the value of " + hn + " holds a line break");
            c.headers.emplace_back(hn, hv);
          }
        } else if (key == "timeout" || key == "backoff") {
          auto d = scrape::parse_duration(v.as<std::string>());
          if (!d) return bad(d.error().message());
          if (*d < 1 || *d > 600'000) return bad("must be between 1ms and 10m");
          (key == "timeout" ? c.timeout_ms : c.backoff_ms) = static_cast<int>(*d);
        } else if (key == "max_attempts") {
          int n = v.as<int>();
          if (n < 1 || n > 100) return bad("must be between 1 and 100, not " + std::to_string(n));
          c.max_attempts = n;
        } else if (key == "queue_capacity") {
          long n = v.as<long>();
          if (n < 1 || n > 1'000'000) return bad("must be between 1 and 1000000, not " + std::to_string(n));
          c.queue_capacity = static_cast<size_t>(n);
        } else {
          return bad("unknown key (url, types, headers, timeout, max_attempts, backoff, queue_capacity)");
        }
      } catch (const YAML::Exception&) {
        return bad("wrong type");
      }
    }
    if (!has_url) return error(strata_errc::bad_request, where + ": url is required");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

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
    } else if (key == "webhooks") {
      if (kv.second.IsNull()) continue;
      auto hooks = parse_webhooks(kv.second, name);
      if (!hooks) return hooks.error();
      c.webhooks = std::move(*hooks);
    } else {
      return error(strata_errc::bad_request, name + ":" + std::to_string(kv.first.Mark().line + 1) +
                                                 ": unknown key \"" + key + "\" (global, scrape_configs, webhooks)");
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
