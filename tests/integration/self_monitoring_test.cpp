// /metrics of a real node after writes, queries and stray requests: naming
// conventions, bounded route labels, and `promtool check metrics`.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

// One family of the text format: HELP, TYPE and its samples.
struct family {
  std::string help, type;
  bool has_help = false, has_type = false;
  std::vector<std::string> sample_names;
  std::vector<std::map<std::string, std::string>> sample_labels;
};

struct exposition {
  std::map<std::string, family> families;
  std::vector<std::string> errors;  // lines that do not parse
};

// The family a sample belongs to: histogram samples carry a suffix.
std::string family_of(const std::string& sample, const std::map<std::string, family>& fams) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      auto base = sample.substr(0, sample.size() - s.size());
      auto it = fams.find(base);
      if (it != fams.end() && (it->second.type == "histogram" || it->second.type == "summary")) return base;
    }
  }
  return sample;
}

exposition parse(const std::string& text) {
  exposition out;
  static const std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      auto name = rest.substr(0, sp);
      auto val = sp == std::string::npos ? "" : rest.substr(sp + 1);
      auto& f = out.families[name];
      if (line[2] == 'H') {
        f.help = val;
        f.has_help = true;
      } else {
        f.type = val;
        f.has_type = true;
      }
      continue;
    }
    if (line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, sample_re)) {
      out.errors.push_back(line);
      continue;
    }
    std::map<std::string, std::string> labels;
    std::string ls = m[3];
    for (auto it = std::sregex_iterator(ls.begin(), ls.end(), label_re); it != std::sregex_iterator(); ++it)
      labels[(*it)[1]] = (*it)[2];
    auto& f = out.families[family_of(m[1], out.families)];
    f.sample_names.push_back(m[1]);
    f.sample_labels.push_back(std::move(labels));
  }
  return out;
}

bool snake_case(const std::string& s) { return std::regex_match(s, std::regex("[a-z_][a-z0-9_]*")); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  return "";
}

class SelfMonitoring : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = make_temp_dir();
    node_ = new node(make_node(root_ + "/n"));
    node_->start();
    int64_t t = now_ms() / 1000 * 1000;
    write_batch b{{{{"__name__", "sm_up"}, {"job", "a"}}, {{t - 60000, 1}, {t, 1}}},
                  {{{"__name__", "sm_up"}, {"job", "b"}}, {{t, 0}}}};
    ASSERT_EQ(remote_write(node_->http_port, b).status, 204);
    // One refused sample (too far in the future) so a reason is counted.
    write_batch future{{{{"__name__", "sm_up"}, {"job", "a"}}, {{t + 3'600'000, 1}}}};
    ASSERT_EQ(remote_write(node_->http_port, future).status, 400);
    ASSERT_EQ(query(node_->http_port, "sum(sm_up)", t)["status"], "success");
    for (int i = 0; i < 40; ++i)
      http_request(node_->http_port, "GET", "/stray/" + std::to_string(i * 104729) + "?x=" + std::to_string(i));
    auto r = http_request(node_->http_port, "GET", "/metrics");
    ASSERT_EQ(r.status, 200);
    text_ = r.body;
  }
  static void TearDownTestSuite() {
    if (node_) node_->stop(SIGKILL, 5000);
    delete node_;
    node_ = nullptr;
    remove_dir(root_);
  }
  static inline std::string root_, text_;
  static inline node* node_ = nullptr;
};

TEST_F(SelfMonitoring, EveryLineParsesAndEveryFamilyHasHelpAndType) {
  auto e = parse(text_);
  EXPECT_TRUE(e.errors.empty()) << e.errors.front();
  EXPECT_GT(e.families.size(), 20u);
  for (const auto& [name, f] : e.families) {
    EXPECT_TRUE(f.has_help && !f.help.empty()) << name << " has no HELP";
    EXPECT_TRUE(f.has_type) << name << " has no TYPE";
  }
}

TEST_F(SelfMonitoring, NamesFollowPrometheusConventions) {
  for (const auto& [name, f] : parse(text_).families) {
    EXPECT_TRUE(snake_case(name)) << name;
    if (f.type == "counter") EXPECT_TRUE(ends_with(name, "_total")) << "counter " << name;
    else EXPECT_FALSE(ends_with(name, "_total")) << f.type << " " << name;
    if (name.find("duration") != std::string::npos || name.find("latency") != std::string::npos) {
      EXPECT_TRUE(ends_with(name, "_seconds")) << name;
    }
    for (const auto& ls : f.sample_labels)
      for (const auto& [label, value] : ls) EXPECT_TRUE(snake_case(label)) << name << " label " << label;
  }
}

TEST_F(SelfMonitoring, ExpectedFamiliesAreThere) {
  auto fams = parse(text_).families;
  for (const char* name :
       {"strata_http_requests_total", "strata_http_request_duration_seconds", "strata_http_requests_in_flight",
        "strata_samples_ingested_total", "strata_series_created_total", "strata_rejected_samples_total",
        "strata_write_requests_rejected_total", "strata_head_series", "strata_wal_fsync_duration_seconds",
        "strata_storage_bytes", "strata_build_info", "strata_active_series_limit", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds"})
    EXPECT_TRUE(fams.count(name)) << name << " missing from:\n" << text_;
  EXPECT_NE(text_.find("strata_samples_ingested_total{protocol=\"remote_write\"} 3\n"), std::string::npos) << text_;
  EXPECT_NE(text_.find("strata_series_created_total 2\n"), std::string::npos) << text_;
  EXPECT_NE(text_.find("strata_rejected_samples_total{reason=\"too_far_in_future\"} 1\n"), std::string::npos)
      << text_;
  EXPECT_NE(text_.find("strata_build_info{version=\""), std::string::npos) << text_;
  // --wal-sync=always: every group commit is an fsync.
  EXPECT_EQ(text_.find("strata_wal_fsync_duration_seconds_count 0\n"), std::string::npos) << text_;
  EXPECT_NE(text_.find("strata_wal_fsync_duration_seconds_count"), std::string::npos) << text_;
}

TEST_F(SelfMonitoring, StrayPathsShareOneUnmatchedRoute) {
  auto fams = parse(text_).families;
  std::set<std::string> routes;
  for (const auto& ls : fams["strata_http_requests_total"].sample_labels) routes.insert(ls.at("route"));
  EXPECT_TRUE(routes.count("unmatched"));
  for (const auto& r : routes) EXPECT_TRUE(r == "unmatched" || r.rfind("/", 0) == 0) << r;
  EXPECT_EQ(text_.find("/stray/"), std::string::npos);
  EXPECT_NE(text_.find("strata_http_requests_total{route=\"unmatched\",code=\"404\"} 40\n"), std::string::npos)
      << text_;
}

TEST_F(SelfMonitoring, PromtoolCheckMetricsHasNoComplaint) {
  auto promtool = find_in_path("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool not found on PATH (Debian package: prometheus)";
  std::string in = root_ + "/metrics.txt", log = root_ + "/promtool.out";
  std::ofstream(in) << text_;
  child_process p({"/bin/sh", "-c", "'" + promtool + "' check metrics < '" + in + "'"}, log);
  int code = p.wait(30000);
  auto out = read_file(log);
  EXPECT_EQ(code, 0) << out;
  EXPECT_TRUE(out.empty()) << out;
}

TEST(SelfMonitoringIntervalSync, PeriodicFsyncsAreTimed) {
  auto root = make_temp_dir();
  auto n = make_node(root + "/n");
  n.extra_args = {"--wal-sync", "interval", "--wal-sync-interval-ms", "50"};
  n.start();
  auto fsyncs = [&] {
    auto body = http_request(n.http_port, "GET", "/metrics").body;
    auto at = body.find("strata_wal_fsync_duration_seconds_count ");
    return at == std::string::npos ? -1.0 : std::stod(body.substr(at + 40));
  };
  EXPECT_TRUE(wait_until(10000, [&] { return fsyncs() > 0; })) << fsyncs();
  n.stop(SIGKILL, 5000);
  remove_dir(root);
}

// strata_build_info names the allocator; with jemalloc, the settings compiled
// into the binary (app/allocator.cpp) are in effect: its background purge
// threads run.
TEST_F(SelfMonitoring, BuildInfoNamesTheAllocatorAndJemallocPurgesInTheBackground) {
  bool jemalloc = text_.find("allocator=\"jemalloc ") != std::string::npos;
  EXPECT_TRUE(jemalloc || text_.find("allocator=\"glibc\"") != std::string::npos) << text_;
  if (!jemalloc) GTEST_SKIP() << "built with glibc malloc (-DSTRATA_JEMALLOC=OFF or a sanitizer)";
  bool purger = false;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(node_->proc->pid()) + "/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    purger = purger || name == "jemalloc_bg_thd";
  }
  EXPECT_TRUE(purger) << "no jemalloc_bg_thd thread: malloc_conf was not applied";
}

}  // namespace

}  // namespace strata::testing
