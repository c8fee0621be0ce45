#include "common/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace strata {
namespace {

void escape_into(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void labels_into(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                 const char* extra_name = nullptr, const std::string* extra_value = nullptr) {
  if (names.empty() && !extra_name) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    escape_into(out, i < values.size() ? values[i] : std::string{});
    out += '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += *extra_value;
    out += '"';
  }
  out += '}';
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that
  // round-trip, in plain notation unless the exponent is < -4 or >= 21.
  char buf[48];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  int exp = std::atoi(std::strchr(buf, 'e') + 1);
  if (exp < -4 || exp >= 21) return buf;
  int decimals = std::max(0, prec - 1 - exp);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

counter_family::counter_family(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void counter_family::add(const std::vector<std::string>& lv, double delta) {
  std::lock_guard<std::mutex> lock(mu_);
  values_[lv] += delta;
}

double counter_family::get(const std::vector<std::string>& lv) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(lv);
  return it == values_.end() ? 0 : it->second;
}

void counter_family::render(std::string& out) const {
  header(out, name_, help_, "counter");
  std::lock_guard<std::mutex> lock(mu_);
  if (values_.empty() && label_names_.empty()) out += name_ + " 0\n";
  for (const auto& [lv, v] : values_) {
    out += name_;
    labels_into(out, label_names_, lv);
    out += ' ' + format_value(v) + '\n';
  }
}

histogram_family::histogram_family(std::string name, std::string help, std::vector<std::string> label_names,
                                   std::vector<double> upper_bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      bounds_(std::move(upper_bounds)) {
  if (label_names_.empty()) cells_[{}].buckets.resize(bounds_.size());  // shown with zeros before any observation
}

void histogram_family::observe(const std::vector<std::string>& lv, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& c = cells_[lv];
  if (c.buckets.empty()) c.buckets.resize(bounds_.size());
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (v <= bounds_[i]) { ++c.buckets[i]; break; }
  ++c.count;
  c.sum += v;
}

void histogram_family::render(std::string& out) const {
  header(out, name_, help_, "histogram");
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [lv, c] : cells_) {
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cum += c.buckets[i];
      std::string le = format_value(bounds_[i]);
      out += name_ + "_bucket";
      labels_into(out, label_names_, lv, "le", &le);
      out += ' ' + std::to_string(cum) + '\n';
    }
    std::string inf = "+Inf";
    out += name_ + "_bucket";
    labels_into(out, label_names_, lv, "le", &inf);
    out += ' ' + std::to_string(c.count) + '\n';
    out += name_ + "_sum";
    labels_into(out, label_names_, lv);
    out += ' ' + format_value(c.sum) + '\n';
    out += name_ + "_count";
    labels_into(out, label_names_, lv);
    out += ' ' + std::to_string(c.count) + '\n';
  }
}

counter_family& metrics_registry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_.push_back(std::make_unique<counter_family>(std::move(name), std::move(help), std::move(label_names)));
  return *counters_.back();
}

histogram_family& metrics_registry::histogram(std::string name, std::string help, std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  histograms_.push_back(std::make_unique<histogram_family>(std::move(name), std::move(help), std::move(label_names),
                                                           std::move(upper_bounds)));
  return *histograms_.back();
}

void metrics_registry::gauge(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read), "gauge", {}});
}

void metrics_registry::counter_fn(std::string name, std::string help, std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read), "counter", {}});
}

void metrics_registry::info(std::string name, std::string help,
                            std::vector<std::pair<std::string, std::string>> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), [] { return 1.0; }, "gauge", std::move(labels)});
}

std::string metrics_registry::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& c : counters_) c->render(out);
  for (const auto& h : histograms_) h->render(out);
  for (const auto& g : gauges_) {
    header(out, g.name, g.help, g.type);
    out += g.name;
    if (!g.labels.empty()) {
      std::vector<std::string> names, values;
      for (const auto& [n, v] : g.labels) {
        names.push_back(n);
        values.push_back(v);
      }
      labels_into(out, names, values);
    }
    out += ' ' + format_value(g.read()) + '\n';
  }
  return out;
}

double process_resident_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(in >> pages_total >> pages_resident)) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

namespace {

// Fields of /proc/self/stat after the command name; field 3 (state) is [0].
std::vector<std::string> self_stat() {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  std::vector<std::string> out;
  if (close == std::string::npos) return out;
  std::istringstream rest(all.substr(close + 1));
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

}  // namespace

double process_cpu_seconds() {
  auto f = self_stat();
  if (f.size() < 13) return 0;  // utime is field 14, stime 15
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double process_open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  return n;
}

double process_start_time_seconds() {
  auto f = self_stat();
  if (f.size() < 20) return 0;  // starttime is field 22: clock ticks after boot
  std::ifstream in("/proc/stat");
  double boot = 0;
  for (std::string key; in >> key;) {
    if (key == "btime") {
      in >> boot;
      break;
    }
  }
  return boot + std::stod(f[19]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double process_max_fds() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity() : static_cast<double>(rl.rlim_cur);
}

double process_virtual_bytes() {
  auto f = self_stat();
  return f.size() < 21 ? 0 : std::stod(f[20]);  // vsize is field 23
}

}  // namespace strata
