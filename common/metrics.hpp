#pragma once
// A small metrics registry rendered in the Prometheus text format 0.0.4.
// Thread-safe: HTTP threads and actors update it concurrently. Label values
// must come from bounded sets (routes, codes), never from raw input.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace strata {

class counter_family {
 public:
  counter_family(std::string name, std::string help, std::vector<std::string> label_names);
  void add(const std::vector<std::string>& label_values, double delta = 1);
  double get(const std::vector<std::string>& label_values) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, double> values_;
};

class histogram_family {
 public:
  histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                   std::vector<double> upper_bounds);
  void observe(const std::vector<std::string>& label_values, double v);
  void render(std::string& out) const;

 private:
  struct cell {
    std::vector<uint64_t> buckets;  // cumulative at render time, not here
    uint64_t count = 0;
    double sum = 0;
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, cell> cells_;
};

// A value read when /metrics is rendered: a gauge, or a counter kept
// elsewhere (process_cpu_seconds_total).
struct gauge_fn {
  std::string name, help;
  std::function<double()> read;
  const char* type = "gauge";
  std::vector<std::pair<std::string, std::string>> labels;  // constant labels (info metrics)
};

class metrics_registry {
 public:
  counter_family& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  histogram_family& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                              std::vector<double> upper_bounds);
  void gauge(std::string name, std::string help, std::function<double()> read);
  void counter_fn(std::string name, std::string help, std::function<double()> read);
  // A gauge fixed at 1 whose labels carry the facts (strata_build_info).
  void info(std::string name, std::string help, std::vector<std::pair<std::string, std::string>> labels);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<counter_family>> counters_;
  std::vector<std::unique_ptr<histogram_family>> histograms_;
  std::vector<gauge_fn> gauges_;
};

// Resident set size of this process in bytes (from /proc/self/statm).
double process_resident_bytes();
// The standard process_* metrics of Prometheus client libraries, from /proc:
// user + system CPU seconds, open file descriptors, start time (unix seconds),
// virtual memory bytes.
double process_cpu_seconds();
double process_open_fds();
double process_start_time_seconds();
double process_virtual_bytes();
// The soft limit on open file descriptors (RLIMIT_NOFILE).
double process_max_fds();
// Formats a float the way Prometheus does in text and JSON (+Inf, -Inf, NaN, shortest round-trip).
std::string format_value(double v);

}  // namespace strata
