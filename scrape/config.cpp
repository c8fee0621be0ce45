#include "scrape/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "common/utf8.hpp"

namespace strata::scrape {
namespace {

// A YAML error: `<file>:<line>: <reason>` (lines counted from 1).
struct where {
  const std::string& file;
  status at(const YAML::Node& n, const std::string& reason) const {
    int line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
    return error(strata_errc::bad_request, file + ":" + std::to_string(line) + ": " + reason);
  }
};

bool valid_label_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

result<std::string> scalar(const where& w, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return w.at(n, key + " must be a string");
  return n.Scalar();
}

result<int64_t> duration(const where& w, const YAML::Node& n, const std::string& key) {
  auto s = scalar(w, n, key);
  if (!s) return s.error();
  auto d = parse_duration(*s);
  if (!d) return w.at(n, key + ": " + d.error().message());
  if (*d <= 0) return w.at(n, key + " must be above 0s");
  return *d;
}

result<uint64_t> count(const where& w, const YAML::Node& n, const std::string& key) {
  auto s = scalar(w, n, key);
  if (!s) return s.error();
  if (s->empty() || s->size() > 18 || !std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; }))
    return w.at(n, key + " \"" + *s + "\" is not a whole number from 0 to 10^18");
  return static_cast<uint64_t>(std::stoull(*s));
}

result<bool> boolean(const where& w, const YAML::Node& n, const std::string& key) {
  auto s = scalar(w, n, key);
  if (!s) return s.error();
  if (*s == "true") return true;
  if (*s == "false") return false;
  return w.at(n, key + " must be true or false, not \"" + *s + "\"");
}

status check_target(const where& w, const YAML::Node& n, const std::string& t) {
  auto colon = t.rfind(':');
  if (t.empty() || colon == std::string::npos || colon == 0 || colon + 1 == t.size())
    return w.at(n, "target \"" + t + "\" must be host:port");
  auto port = t.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(port) == 0 || std::stoul(port) > 65535)
    return w.at(n, "target \"" + t + "\": port must be 1 to 65535");
  if (t.find('/') != std::string::npos) return w.at(n, "target \"" + t + "\" must be host:port, without a path");
  return status::ok();
}

result<static_config> parse_static(const where& w, const YAML::Node& n) {
  if (!n.IsMap()) return w.at(n, "a static_configs entry must be a map with targets and labels");
  static_config sc;
  for (const auto& kv : n) {
    auto key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "targets") {
      if (!v.IsSequence()) return w.at(v, "targets must be a list of host:port");
      for (const auto& t : v) {
        auto s = scalar(w, t, "targets entry");
        if (!s) return s.error();
        if (auto st = check_target(w, t, *s); !st) return st;
        sc.targets.push_back(*s);
      }
    } else if (key == "labels") {
      if (!v.IsMap()) return w.at(v, "labels must be a map of label name to value");
      for (const auto& l : v) {
        auto name = l.first.Scalar();
        if (!valid_label_name(name)) return w.at(l.first, "label name \"" + name + "\" is not [a-zA-Z_][a-zA-Z0-9_]*");
        if (name.rfind("__", 0) == 0) return w.at(l.first, "label name \"" + name + "\": names starting with __ are reserved");
        auto value = scalar(w, l.second, "label " + name);
        if (!value) return value.error();
        if (!valid_utf8(*value)) return w.at(l.second, "label " + name + ": value is not valid UTF-8");
        sc.target_labels.push_back({name, *value});
      }
      sort_labels(sc.target_labels);
    } else {
      return w.at(kv.first, "unknown key \"" + key + "\" in static_configs (targets, labels)");
    }
  }
  return sc;
}

}  // namespace

result<int64_t> parse_duration(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return error(strata_errc::bad_request, "bad duration \"" + text + "\": " + why + " (e.g. 15s, 1m30s, 250ms)");
  };
  if (text.empty()) return bad("empty");
  struct unit {
    const char* name;
    int64_t ms;
  };
  static const unit units[] = {{"ms", 1},          {"y", 365LL * 86'400'000}, {"w", 7LL * 86'400'000},
                               {"d", 86'400'000},  {"h", 3'600'000},          {"m", 60'000},
                               {"s", 1000}};
  int64_t total = 0;
  size_t i = 0;
  int last_unit = -1;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start || i - start > 12) return bad("expected a number");
    int64_t n = std::stoll(text.substr(start, i - start));
    int found = -1;
    for (int u = 0; u < 7; ++u) {
      size_t len = std::char_traits<char>::length(units[u].name);
      if (text.compare(i, len, units[u].name) == 0) {
        found = u;
        i += len;
        break;
      }
    }
    if (found < 0) return bad("expected a unit (y, w, d, h, m, s, ms)");
    // Units must go from large to small, each once (Prometheus's rule); "ms" sorts last.
    int rank = found == 0 ? 7 : found;
    if (rank <= last_unit) return bad("units must go from largest to smallest, each once");
    last_unit = rank;
    total += n * units[found].ms;
  }
  return total;
}

result<global_config> parse_global(const YAML::Node& node, const std::string& file) {
  where w{file};
  global_config g;
  if (!node.IsMap()) return w.at(node, "global must be a map");
  for (const auto& kv : node) {
    auto key = kv.first.Scalar();
    if (key == "scrape_interval") {
      auto d = duration(w, kv.second, key);
      if (!d) return d.error();
      g.interval_ms = *d;
    } else if (key == "scrape_timeout") {
      auto d = duration(w, kv.second, key);
      if (!d) return d.error();
      g.timeout_ms = *d;
    } else {
      return w.at(kv.first, "unknown key \"" + key + "\" in global (scrape_interval, scrape_timeout)");
    }
  }
  if (g.timeout_ms > g.interval_ms) {
    return w.at(node, "global scrape_timeout (" + std::to_string(g.timeout_ms) +
                          "ms) is above scrape_interval (" + std::to_string(g.interval_ms) + "ms)");
  }
  return g;
}

result<std::vector<job_config>> parse_scrape_configs(const YAML::Node& node, const global_config& global,
                                                     const std::string& file) {
  where w{file};
  if (!node.IsSequence()) return w.at(node, "scrape_configs must be a list of jobs");
  std::vector<job_config> jobs;
  std::set<std::string> names;
  for (const auto& jn : node) {
    if (!jn.IsMap()) return w.at(jn, "a scrape_configs entry must be a map");
    job_config j;
    j.interval_ms = global.interval_ms;
    j.timeout_ms = std::min(global.timeout_ms, global.interval_ms);
    bool timeout_set = false;
    for (const auto& kv : jn) {
      auto key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "job_name") {
        auto s = scalar(w, v, key);
        if (!s) return s.error();
        if (s->empty()) return w.at(v, "job_name must not be empty");
        if (!valid_utf8(*s)) return w.at(v, "job_name is not valid UTF-8");
        j.job_name = *s;
      } else if (key == "scrape_interval") {
        auto d = duration(w, v, key);
        if (!d) return d.error();
        j.interval_ms = *d;
      } else if (key == "scrape_timeout") {
        auto d = duration(w, v, key);
        if (!d) return d.error();
        j.timeout_ms = *d;
        timeout_set = true;
      } else if (key == "metrics_path") {
        auto s = scalar(w, v, key);
        if (!s) return s.error();
        if (s->empty() || (*s)[0] != '/' || s->find_first_of("?# \r\n") != std::string::npos)
          return w.at(v, "metrics_path \"" + *s + "\" must start with / and hold no ?, #, space or newline");
        j.metrics_path = *s;
      } else if (key == "scheme") {
        auto s = scalar(w, v, key);
        if (!s) return s.error();
        if (*s != "http") return w.at(v, "scheme \"" + *s + "\" is not supported (http only)");
        j.scheme = *s;
      } else if (key == "params") {
        if (!v.IsMap()) return w.at(v, "params must be a map of name to a list of values");
        for (const auto& p : v) {
          if (!p.second.IsSequence()) return w.at(p.second, "params " + p.first.Scalar() + " must be a list of values");
          for (const auto& pv : p.second) {
            auto s = scalar(w, pv, "params " + p.first.Scalar());
            if (!s) return s.error();
            j.params[p.first.Scalar()].push_back(*s);
          }
        }
      } else if (key == "honor_labels") {
        auto b = boolean(w, v, key);
        if (!b) return b.error();
        j.honor_labels = *b;
      } else if (key == "honor_timestamps") {
        auto b = boolean(w, v, key);
        if (!b) return b.error();
        j.honor_timestamps = *b;
      } else if (key == "sample_limit") {
        auto n = count(w, v, key);
        if (!n) return n.error();
        j.sample_limit = *n;
      } else if (key == "label_limit") {
        auto n = count(w, v, key);
        if (!n) return n.error();
        j.label_limit = *n;
      } else if (key == "body_size_limit") {
        auto n = count(w, v, key);
        if (!n) return n.error();
        j.body_size_limit = *n;
      } else if (key == "static_configs") {
        if (!v.IsSequence()) return w.at(v, "static_configs must be a list");
        for (const auto& sn : v) {
          auto sc = parse_static(w, sn);
          if (!sc) return sc.error();
          j.static_configs.push_back(std::move(*sc));
        }
      } else {
        return w.at(kv.first, "unknown key \"" + key +
                                  "\" in scrape_configs (job_name, scrape_interval, scrape_timeout, metrics_path, "
                                  "scheme, params, honor_labels, honor_timestamps, sample_limit, label_limit, "
                                  "body_size_limit, static_configs)");
      }
    }
    if (j.job_name.empty()) return w.at(jn, "job_name is missing");
    if (!names.insert(j.job_name).second) return w.at(jn, "job_name \"" + j.job_name + "\" is used twice");
    if (!timeout_set) j.timeout_ms = std::min(j.timeout_ms, j.interval_ms);
    if (j.timeout_ms > j.interval_ms)
      return w.at(jn, "job " + j.job_name + ": scrape_timeout (" + std::to_string(j.timeout_ms) +
                          "ms) is above scrape_interval (" + std::to_string(j.interval_ms) + "ms)");
    jobs.push_back(std::move(j));
  }
  return jobs;
}

}  // namespace strata::scrape
