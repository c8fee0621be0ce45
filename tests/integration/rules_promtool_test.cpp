// strata's rule-file loader against `promtool check rules`: every file
// promtool accepts loads, and every file it refuses is refused. (Debian 12's
// promtool is 2.42, which predates `query_offset`; the unit tests cover it.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "rules/rule_file.hpp"
#include "tests/support/process.hpp"

namespace strata::testing {
namespace {

struct sample_file {
  const char* name;
  const char* text;
};

const sample_file good_files[] = {
    {"node", R"Y(groups:
  - name: node
    interval: 30s
    rules:
      - record: instance:node_cpu:rate5m
        expr: sum without (cpu, mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))
      - alert: HostHighCpu
        expr: instance:node_cpu:rate5m > 0.9
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High CPU on {{ $labels.instance }}"
          description: "CPU at {{ $value | humanizePercentage }} ({{ printf \"%.2f\" $value }})"
)Y"},
    {"limits", R"Y(groups:
  - name: limited
    limit: 100
    rules:
      - alert: Down
        expr: up == 0
        annotations:
          runbook: "{{ if eq $labels.job \"db\" }}db{{ else }}generic{{ end }} for {{ $externalLabels.cluster }}"
)Y"},
    {"empty", "groups: []\n"},
};

const sample_file bad_files[] = {
    {"bad_expr", "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: sum(\n"},
    {"both", "groups:\n  - name: a\n    rules:\n      - record: x\n        alert: y\n        expr: up\n"},
    {"record_name", "groups:\n  - name: a\n    rules:\n      - record: 1bad\n        expr: up\n"},
    {"dup_group", "groups:\n  - name: a\n  - name: a\n"},
    {"unknown_field", "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        bogus: 1\n"},
    {"for_on_record", "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        for: 1m\n"},
    {"bad_template", "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
                     "          x: \"{{ $value | nosuchfunc }}\"\n"},
    {"no_name", "groups:\n  - rules: []\n"},
};

class RulesPromtool : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool is not installed (scripts/setup.sh)";
    dir_ = make_temp_dir();
  }
  void TearDown() override {
    if (!dir_.empty()) remove_dir(dir_);
  }
  std::string put(const sample_file& f) {
    std::string path = dir_ + "/" + f.name + ".yml";
    std::ofstream(path) << f.text;
    return path;
  }
  int promtool_check(const std::string& path) {
    child_process p({"/usr/bin/promtool", "check", "rules", path}, path + ".log");
    return p.wait(30000);
  }
  std::string dir_;
};

TEST_F(RulesPromtool, FilesPromtoolAcceptsLoad) {
  for (const auto& f : good_files) {
    std::string path = put(f);
    ASSERT_EQ(promtool_check(path), 0) << f.name << ": " << read_file(path + ".log");
    auto loaded = rules::load_rule_files({path});
    EXPECT_TRUE(loaded) << f.name << ": " << loaded.error().message();
  }
}

TEST_F(RulesPromtool, FilesPromtoolRefusesAreRefused) {
  for (const auto& f : bad_files) {
    std::string path = put(f);
    EXPECT_NE(promtool_check(path), 0) << f.name << " passed promtool";
    auto loaded = rules::load_rule_files({path});
    ASSERT_FALSE(loaded) << f.name << " loaded";
    EXPECT_EQ(loaded.error().message().rfind(path + ":", 0), 0u) << loaded.error().message();
  }
}

}  // namespace
}  // namespace strata::testing
