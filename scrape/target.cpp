#include "scrape/target.hpp"

#include <cstring>

#include "scrape/ownership.hpp"
#include "wire/check_series.hpp"
#include "wire/text_format.hpp"

namespace strata::scrape {

namespace {

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

void set_label(labels& ls, const std::string& name, const std::string& value) {
  for (auto& l : ls)
    if (l.name == name) {
      l.value = value;
      return;
    }
  ls.push_back({name, value});
}

labels with_name(const labels& base, const std::string& name) {
  labels ls = base;
  ls.push_back({std::string(metric_name_label), name});
  sort_labels(ls);
  return ls;
}

}  // namespace

std::vector<target> expand_targets(const std::vector<job_config>& jobs) {
  std::vector<target> out;
  for (const auto& j : jobs) {
    std::string path = j.metrics_path;
    char sep = path.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [name, values] : j.params)
      for (const auto& v : values) {
        path += sep + url_encode(name) + "=" + url_encode(v);
        sep = '&';
      }
    std::set<std::string> seen;
    for (const auto& sc : j.static_configs)
      for (const auto& addr : sc.targets) {
        if (!seen.insert(addr).second) continue;
        target t;
        t.job = j.job_name;
        t.address = addr;
        t.key = target_key(j.job_name, addr);
        t.path = path;
        t.target_labels = sc.target_labels;
        set_label(t.target_labels, "job", j.job_name);
        // `instance` defaults to the address unless the static labels set it.
        bool has_instance = false;
        for (const auto& l : sc.target_labels) has_instance |= l.name == "instance";
        if (!has_instance) set_label(t.target_labels, "instance", addr);
        sort_labels(t.target_labels);
        t.interval_ms = j.interval_ms;
        t.timeout_ms = j.timeout_ms;
        t.honor_labels = j.honor_labels;
        t.honor_timestamps = j.honor_timestamps;
        t.sample_limit = j.sample_limit;
        t.label_limit = j.label_limit;
        t.body_size_limit = j.body_size_limit;
        out.push_back(std::move(t));
      }
  }
  return out;
}

labels apply_target_labels(labels scraped, const labels& target_labels, bool honor_labels) {
  for (const auto& tl : target_labels) {
    auto it = scraped.begin();
    while (it != scraped.end() && it->name != tl.name) ++it;
    bool clash = it != scraped.end() && !it->value.empty();
    if (honor_labels && clash) continue;
    if (clash) {
      std::string renamed = "exported_" + tl.name;
      for (;;) {
        bool taken = false;
        for (const auto& l : scraped) taken |= l.name == renamed;
        if (!taken) break;
        renamed = "exported_" + renamed;
      }
      std::string value = it->value;
      it->value = tl.value;
      scraped.push_back({renamed, value});
    } else if (it != scraped.end()) {
      it->value = tl.value;
    } else {
      scraped.push_back(tl);
    }
  }
  labels out;
  out.reserve(scraped.size());
  for (auto& l : scraped)
    if (!l.value.empty()) out.push_back(std::move(l));
  sort_labels(out);
  return out;
}

target_state::report target_state::on_scrape(int64_t start_ms, double duration_s, const fetch_result& f) {
  report r;
  std::set<labels> current;
  write_batch samples;
  size_t scraped = 0;
  std::string err = f.ok ? "" : f.error;
  if (f.ok) {
    wire::text_options o;
    o.default_timestamp_ms = start_ms;
    o.limits = limits_;
    o.limits.max_series = 0;  // sample_limit below; the body size bounds memory
    o.limits.max_labels = 0;  // counted once the target's labels are on
    auto parsed = wire::parse_text(f.body, wire::text_format_for(f.content_type), o);
    if (!parsed) {
      err = "parse: " + parsed.error().message();
    } else {
      for (const auto& s : parsed->series) scraped += s.samples.size();
      if (t_.sample_limit && scraped > t_.sample_limit) {
        err = "sample_limit exceeded: " + std::to_string(scraped) + " samples, limit " +
              std::to_string(t_.sample_limit);
      }
      for (auto& s : parsed->series) {
        if (!err.empty()) break;
        series out;
        out.lbls = apply_target_labels(std::move(s.lbls), t_.target_labels, t_.honor_labels);
        if (auto st = wire::check_series(out.lbls, limits_); !st) {
          err = "invalid series: " + st.message();
          break;
        }
        if (t_.label_limit && out.lbls.size() > t_.label_limit) {
          err = "label_limit exceeded: " + to_string(out.lbls) + " has " + std::to_string(out.lbls.size()) +
                " labels, limit " + std::to_string(t_.label_limit);
          break;
        }
        bool explicit_ts = false;
        for (auto smp : s.samples) {
          if (smp.t != start_ms) explicit_ts = true;
          if (!t_.honor_timestamps) smp.t = start_ms;
          out.samples.push_back(smp);
        }
        // Series with their own timestamps get no stale markers (as in Prometheus).
        if (!explicit_ts || !t_.honor_timestamps) current.insert(out.lbls);
        samples.push_back(std::move(out));
      }
      if (err.empty()) {
        for (const auto& m : parsed->metadata) {
          if (m.type == wire::metric_type::unknown && m.help.empty() && m.unit.empty()) continue;
          metric_metadata md{m.family, wire::to_string(m.type), m.help, m.unit};
          auto it = stored_metadata_.find(md.family);
          if (it != stored_metadata_.end() && it->second == md) continue;
          if (!check_metadata(md)) continue;
          stored_metadata_[md.family] = md;
          r.metadata.push_back(std::move(md));
        }
      }
    }
  }
  r.up = err.empty();
  r.error = err;
  r.samples_scraped = scraped;
  if (r.up) {
    r.batch = std::move(samples);
  } else {
    current.clear();
  }
  for (const auto& ls : last_)
    if (!current.count(ls)) r.batch.push_back({ls, {{start_ms, stale_nan()}}});
  last_ = std::move(current);

  auto report_series = [&](const char* name, double v) {
    r.batch.push_back({with_name(t_.target_labels, name), {{start_ms, v}}});
  };
  report_series("up", r.up ? 1 : 0);
  report_series("scrape_duration_seconds", duration_s);
  report_series("scrape_samples_scraped", static_cast<double>(scraped));
  report_series("scrape_samples_post_metric_relabeling", r.up ? static_cast<double>(scraped) : 0);
  reported_ = true;
  return r;
}

write_batch target_state::on_leave(int64_t t_ms) {
  write_batch b;
  for (const auto& ls : last_) b.push_back({ls, {{t_ms, stale_nan()}}});
  last_.clear();
  if (reported_) {
    for (const char* name : {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                             "scrape_samples_post_metric_relabeling"})
      b.push_back({with_name(t_.target_labels, name), {{t_ms, stale_nan()}}});
  }
  reported_ = false;
  stored_metadata_.clear();
  return b;
}

}  // namespace strata::scrape
