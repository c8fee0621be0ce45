#pragma once
// A scrape target and the state of its scrape loop between two scrapes: the
// series it returned last time (to write stale markers for those that
// disappear), the metadata already stored. A plain class, owned by one scrape
// loop thread; it turns a fetched body into the batch to write.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/metric_metadata.hpp"
#include "common/series.hpp"
#include "scrape/config.hpp"
#include "wire/remote_write.hpp"

namespace strata::scrape {

struct target {
  std::string job;
  std::string address;  // host:port
  std::string key;      // target_key(job, address)
  std::string path;     // metrics_path and the encoded params, e.g. /metrics?module=a
  labels target_labels;  // job, instance and the static labels, canonical
  int64_t interval_ms = 60'000;
  int64_t timeout_ms = 10'000;
  bool honor_labels = false;
  bool honor_timestamps = true;
  uint64_t sample_limit = 0;
  uint64_t label_limit = 0;
  uint64_t body_size_limit = 0;
};

// One target per (job, address), in config order. A target listed twice in
// one job is kept once (the first static_configs entry's labels win).
std::vector<target> expand_targets(const std::vector<job_config>& jobs);

// What fetching the target gave.
struct fetch_result {
  bool ok = false;
  std::string error;  // when !ok: why (connection refused, timeout, HTTP 500, body over the limit)
  std::string body;
  std::string content_type;
};

class target_state {
 public:
  // Every scraped series, once the target's labels are on it, passes
  // wire::check_series with `limits` (the node's write limits; max_series is
  // not used: sample_limit bounds a scrape) or the scrape fails.
  explicit target_state(target t, wire::write_limits limits = {}) : t_(std::move(t)), limits_(limits) {}
  const target& config() const { return t_; }

  struct report {
    write_batch batch;                   // samples, stale markers and the report series
    std::vector<metric_metadata> metadata;  // families new or changed since the last scrape
    bool up = false;
    std::string error;  // why the scrape failed (fetch, parse, invalid series, sample_limit, label_limit)
    size_t samples_scraped = 0;
  };
  // A scrape that started at `start_ms` and took `duration_s`. On success:
  // the samples with the target's labels, stale markers for series of the
  // last scrape that are missing now, up 1. On failure: stale markers for
  // every series of the last scrape, up 0. Both: scrape_duration_seconds,
  // scrape_samples_scraped, scrape_samples_post_metric_relabeling.
  report on_scrape(int64_t start_ms, double duration_s, const fetch_result& f);
  // The target stopped being scraped here (it moved to another node or left
  // the config): stale markers for its series and its report series.
  write_batch on_leave(int64_t t_ms);
  // Series of the last scrape that would get a stale marker if they vanished.
  size_t tracked_series() const { return last_.size(); }

 private:
  target t_;
  wire::write_limits limits_;
  std::set<labels> last_;
  std::map<std::string, metric_metadata> stored_metadata_;
  bool reported_ = false;
};

// The labels of a scraped series once the target's are applied
// (Prometheus's rules): honor_labels keeps a scraped label that clashes with
// a target label; otherwise the scraped one is renamed exported_<name>.
labels apply_target_labels(labels scraped, const labels& target_labels, bool honor_labels);

}  // namespace strata::scrape
