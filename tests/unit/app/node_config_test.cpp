// The config file's replication_factor, rule_files and alerting sections.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config.hpp"

namespace strata::app {
namespace {

namespace fs = std::filesystem;

struct folder {
  fs::path dir = fs::temp_directory_path() / ("node-config-" + std::to_string(::getpid()));
  folder() { fs::create_directories(dir / "rules"); }
  ~folder() { fs::remove_all(dir); }
  void touch(const std::string& name) { std::ofstream(dir / name) << "groups: []\n"; }
  result<node_config> parse(const std::string& text) { return parse_config(text, (dir / "strata.yml").string()); }
};

std::string refusal(const result<node_config>& c) {
  if (c) return "accepted";
  EXPECT_EQ(c.error().code(), strata_errc::bad_request);
  return c.error().message();
}

TEST(NodeConfig, RuleFilesAreGlobbedRelativeToTheConfigFile) {
  folder f;
  f.touch("rules/a.yml");
  f.touch("rules/b.yml");
  f.touch("top.yml");
  auto c = f.parse("rule_files:\n  - rules/*.yml\n  - " + (f.dir / "top.yml").string() + "\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->rule_files, (std::vector<std::string>{(f.dir / "rules/a.yml").string(), (f.dir / "rules/b.yml").string(),
                                                      (f.dir / "top.yml").string()}));
}

TEST(NodeConfig, RuleFileGlobMatchingNothingIsRefusedWithLine) {
  folder f;
  auto e = refusal(f.parse("rule_files:\n  - missing/*.yml\n"));
  EXPECT_NE(e.find("strata.yml:2: rule_files: \"missing/*.yml\" matches no file"), std::string::npos) << e;
}

TEST(NodeConfig, AlertmanagersInPrometheusShapeBecomeUrls) {
  folder f;
  auto c = f.parse(R"(alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:9093", "127.0.0.1:9094"]
    - scheme: http
      path_prefix: /am/
      static_configs:
        - targets: ["localhost:9095"]
)");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->alertmanager_urls, (std::vector<std::string>{"http://127.0.0.1:9093", "http://127.0.0.1:9094",
                                                             "http://localhost:9095/am"}));
}

TEST(NodeConfig, BadAlertingEntriesAreRefusedNamingLineAndField) {
  folder f;
  EXPECT_NE(refusal(f.parse("alerting:\n  alertmanagers:\n    - scheme: https\n      static_configs: [{targets: "
                            "[\"a:1\"]}]\n"))
                .find("strata.yml:3: alerting: scheme \"https\" is not supported"),
            std::string::npos);
  EXPECT_NE(refusal(f.parse("alerting:\n  alertmanagers:\n    - static_configs: [{targets: [\"nohost\"]}]\n"))
                .find("target \"nohost\" is not host:port"),
            std::string::npos);
  EXPECT_NE(refusal(f.parse("alerting:\n  alertmanager: []\n")).find("unknown key \"alertmanager\""),
            std::string::npos);
  EXPECT_NE(refusal(f.parse("alerting:\n  alertmanagers:\n    - scheme: http\n")).find("needs static_configs"),
            std::string::npos);
}

TEST(NodeConfig, ReplicationFactorIsCheckedAgainstItsRange) {
  folder f;
  auto c = f.parse("replication_factor: 3\n");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->replication_factor, 3u);
  EXPECT_EQ(f.parse("")->replication_factor, 0u);
  auto e = refusal(f.parse("replication_factor: 6\n"));
  EXPECT_NE(e.find("strata.yml:1: replication_factor:"), std::string::npos) << e;
  EXPECT_NE(refusal(f.parse("replication_factor: two\n")).find("must be a number"), std::string::npos);
}

}  // namespace
}  // namespace strata::app
