#include "app/config.hpp"

#include <yaml-cpp/yaml.h>

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/ring.hpp"

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

std::string line_of(const std::string& name, const YAML::Node& n) {
  return name + ":" + std::to_string(n.Mark().line + 1) + ": ";
}

// A pattern relative to the config file's folder; each must match a file.
result<std::vector<std::string>> parse_rule_files(const YAML::Node& list, const std::string& name) {
  auto bad = [&](const YAML::Node& n, const std::string& why) {
    return error(strata_errc::bad_request, line_of(name, n) + "rule_files: " + why);
  };
  if (!list.IsSequence()) return bad(list, "must be a list of file paths or globs");
  std::vector<std::string> out;
  auto base = std::filesystem::path(name).parent_path();
  for (const auto& item : list) {
    if (!item.IsScalar() || item.Scalar().empty()) return bad(item, "each entry must be a file path or glob");
    std::filesystem::path p = item.Scalar();
    if (p.is_relative()) p = base / p;
    glob_t g{};
    int rc = ::glob(p.c_str(), 0, nullptr, &g);
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    if (rc != 0) return bad(item, "\"" + item.Scalar() + "\" matches no file (looked for " + p.string() + ")");
  }
  return out;
}

result<std::vector<std::string>> parse_alerting(const YAML::Node& node, const std::string& name) {
  auto bad = [&](const YAML::Node& n, const std::string& why) {
    return error(strata_errc::bad_request, line_of(name, n) + "alerting: " + why);
  };
  if (!node.IsMap()) return bad(node, "must be a map with an alertmanagers list");
  std::vector<std::string> out;
  for (const auto& kv : node) {
    if (kv.first.Scalar() != "alertmanagers") return bad(kv.first, "unknown key \"" + kv.first.Scalar() + "\" (alertmanagers)");
    if (!kv.second.IsSequence()) return bad(kv.second, "alertmanagers must be a list");
    for (const auto& am : kv.second) {
      if (!am.IsMap()) return bad(am, "each alertmanager must be a map (scheme, path_prefix, static_configs)");
      std::string scheme = "http", prefix;
      std::vector<std::string> targets;
      for (const auto& f : am) {
        auto key = f.first.Scalar();
        if (key == "scheme") {
          scheme = f.second.Scalar();
          if (scheme != "http") return bad(f.second, "scheme \"" + scheme + "\" is not supported (http)");
        } else if (key == "path_prefix") {
          prefix = f.second.Scalar();
          if (!prefix.empty() && prefix.front() != '/') prefix = "/" + prefix;
          while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
        } else if (key == "static_configs") {
          if (!f.second.IsSequence()) return bad(f.second, "static_configs must be a list");
          for (const auto& sc : f.second) {
            auto t = sc["targets"];
            if (!sc.IsMap() || !t || !t.IsSequence()) return bad(sc, "each static_config needs a targets list");
            for (const auto& target : t) {
              const std::string& hp = target.Scalar();
              auto colon = hp.rfind(':');
              bool ok = colon != std::string::npos && colon > 0 && colon + 1 < hp.size() && hp.size() - colon <= 6 &&
                        hp.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
                        std::stoul(hp.substr(colon + 1)) <= 65535;
              if (!ok) return bad(target, "target \"" + hp + "\" is not host:port (for example 127.0.0.1:9093)");
              targets.push_back(target.Scalar());
            }
          }
        } else {
          return bad(f.first, "unknown key \"" + key + "\" (scheme, path_prefix, static_configs)");
        }
      }
      if (targets.empty()) return bad(am, "an alertmanager needs static_configs with targets");
      for (const auto& t : targets) out.push_back(scheme + "://" + t + prefix);
    }
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
    } else if (key == "replication_factor") {
      long rf = 0;
      try {
        rf = kv.second.as<long>();
      } catch (const YAML::Exception&) {
        return error(strata_errc::bad_request, line_of(name, kv.second) + "replication_factor must be a number");
      }
      if (auto st = cluster::check_replication_factor(rf); !st)
        return error(strata_errc::bad_request, line_of(name, kv.second) + "replication_factor: " + st.message());
      c.replication_factor = static_cast<unsigned>(rf);
    } else if (key == "rule_files") {
      if (kv.second.IsNull()) continue;
      auto files = parse_rule_files(kv.second, name);
      if (!files) return files.error();
      c.rule_files = std::move(*files);
    } else if (key == "alerting") {
      if (kv.second.IsNull()) continue;
      auto urls = parse_alerting(kv.second, name);
      if (!urls) return urls.error();
      c.alertmanager_urls = std::move(*urls);
    } else {
      return error(strata_errc::bad_request,
                   line_of(name, kv.first) + "unknown key \"" + key +
                       "\" (global, scrape_configs, webhooks, replication_factor, rule_files, alerting)");
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
