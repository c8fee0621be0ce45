// Rules and alerts end to end: real strata processes with rule files,
// recording results read back through the query API, reloads that keep the
// old rules on a bad file, and Debian's prometheus-alertmanager receiving
// the alerts (checked through its own API v2).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/node_fixture.hpp"

namespace strata::testing {
namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

const char* rules_yaml = R"Y(groups:
  - name: rt
    interval: 1s
    rules:
      - record: job:rt_value:sum
        expr: sum by (job) (rt_value)
      - alert: RtHigh
        expr: rt_value > 5
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }}"
)Y";

nlohmann::json get_json(uint16_t port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  if (r.status != 200) return nlohmann::json();
  return nlohmann::json::parse(r.body, nullptr, false);
}

// The first alert of /api/v1/alerts with alertname `name`, or null.
nlohmann::json find_alert(const nlohmann::json& alerts, const std::string& name) {
  if (!alerts.is_array()) return nlohmann::json();
  for (const auto& a : alerts)
    if (a["labels"].value("alertname", "") == name) return a;
  return nlohmann::json();
}

class Rules : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(); }
  void TearDown() override {
    if (n_.proc) n_.stop(SIGKILL, 5000);
    remove_dir(root_);
  }
  void start_node(std::vector<std::string> extra) {
    n_ = make_node(root_ + "/n");
    n_.extra_args = std::move(extra);
    n_.start();
  }
  void write_value(const std::string& instance, double v) {
    write_batch b{{{{"__name__", "rt_value"}, {"instance", instance}, {"job", "api"}}, {{now_ms(), v}}}};
    auto r = remote_write(n_.http_port, b);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  std::string root_;
  node n_;
};

TEST_F(Rules, RecordingRuleResultIsWrittenAndAlertFires) {
  std::string file = root_ + "/rules.yml";
  write_text(file, rules_yaml);
  start_node({"--rule-file", file});
  write_value("a", 7);
  write_value("b", 1);
  bool firing = wait_until(15000, [&] {
    auto j = get_json(n_.http_port, "/api/v1/alerts");
    auto a = find_alert(j["data"]["alerts"], "RtHigh");
    return !a.is_null() && a["state"] == "firing";
  });
  ASSERT_TRUE(firing) << read_file(n_.log);
  auto a = find_alert(get_json(n_.http_port, "/api/v1/alerts")["data"]["alerts"], "RtHigh");
  EXPECT_EQ(a["labels"]["instance"], "a");
  EXPECT_EQ(a["labels"]["severity"], "page");
  EXPECT_EQ(a["annotations"]["summary"], "a is at 7");
  EXPECT_EQ(a["value"], "7e+00");

  auto rules = get_json(n_.http_port, "/api/v1/rules");
  ASSERT_EQ(rules["data"]["groups"].size(), 1u);
  const auto& g = rules["data"]["groups"][0];
  EXPECT_EQ(g["name"], "rt");
  EXPECT_EQ(g["file"], file);
  EXPECT_EQ(g["interval"], 1);
  EXPECT_EQ(g["rules"][0]["type"], "recording");
  EXPECT_EQ(g["rules"][1]["type"], "alerting");
  EXPECT_EQ(g["rules"][1]["state"], "firing");
  bool recorded = wait_until(10000, [&] {
    auto r = query(n_.http_port, "job:rt_value:sum", now_ms());
    return r["data"]["result"].size() == 1 && r["data"]["result"][0]["value"][1] == "8";
  });
  EXPECT_TRUE(recorded);
  auto alerts_series = query(n_.http_port, "ALERTS{alertname=\"RtHigh\",alertstate=\"firing\"}", now_ms());
  EXPECT_EQ(alerts_series["data"]["result"].size(), 1u) << alerts_series.dump();
  auto only_alerts = get_json(n_.http_port, "/api/v1/rules?type=alert");
  EXPECT_EQ(only_alerts["data"]["groups"][0]["rules"].size(), 1u);
  auto by_name = get_json(n_.http_port, "/api/v1/rules?rule_name%5B%5D=RtHigh&exclude_alerts=true");
  ASSERT_EQ(by_name["data"]["groups"].size(), 1u);
  ASSERT_EQ(by_name["data"]["groups"][0]["rules"].size(), 1u);
  EXPECT_FALSE(by_name["data"]["groups"][0]["rules"][0].contains("alerts"));
  EXPECT_EQ(get_json(n_.http_port, "/api/v1/rules?rule_group%5B%5D=nope")["data"]["groups"].size(), 0u);
  auto bad_type = http_request(n_.http_port, "GET", "/api/v1/rules?type=bogus");
  EXPECT_EQ(bad_type.status, 400);
  EXPECT_NE(bad_type.body.find("not supported value"), std::string::npos) << bad_type.body;

  // The condition ends: the alert resolves and leaves /api/v1/alerts.
  write_value("a", 1);
  bool resolved = wait_until(15000, [&] {
    return find_alert(get_json(n_.http_port, "/api/v1/alerts")["data"]["alerts"], "RtHigh").is_null();
  });
  EXPECT_TRUE(resolved);
}

TEST_F(Rules, BadReloadKeepsTheOldRulesAndNamesFileAndLine) {
  std::string file = root_ + "/rules.yml";
  write_text(file, rules_yaml);
  start_node({"--rule-file", file});
  write_text(file, "groups:\n  - name: rt\n    rules:\n      - record: x\n        expr: sum(\n");
  auto r = http_request(n_.http_port, "POST", "/-/reload");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find(file + ":5:"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("could not parse expression"), std::string::npos) << r.body;
  auto rules = get_json(n_.http_port, "/api/v1/rules");
  ASSERT_EQ(rules["data"]["groups"].size(), 1u);
  EXPECT_EQ(rules["data"]["groups"][0]["rules"].size(), 2u);

  write_text(file, "groups:\n  - name: other\n    rules:\n      - record: y\n        expr: vector(1)\n");
  EXPECT_EQ(http_request(n_.http_port, "POST", "/-/reload").status, 200);
  rules = get_json(n_.http_port, "/api/v1/rules");
  ASSERT_EQ(rules["data"]["groups"].size(), 1u);
  EXPECT_EQ(rules["data"]["groups"][0]["name"], "other");
}

TEST_F(Rules, SighupReloadsRuleFiles) {
  std::string file = root_ + "/rules.yml";
  write_text(file, rules_yaml);
  start_node({"--rule-file", file});
  write_text(file, "groups:\n  - name: after_hup\n");
  n_.proc->kill(SIGHUP);
  bool reloaded = wait_until(10000, [&] {
    auto rules = get_json(n_.http_port, "/api/v1/rules");
    return rules["data"]["groups"].size() == 1 && rules["data"]["groups"][0]["name"] == "after_hup";
  });
  EXPECT_TRUE(reloaded) << read_file(n_.log);
}

TEST_F(Rules, ConfigFileRuleGlobIsExpandedAgainOnReload) {
  std::filesystem::create_directories(root_ + "/rules.d");
  write_text(root_ + "/rules.d/a.yml", "groups:\n  - name: a\n");
  write_text(root_ + "/strata.yml", "rule_files:\n  - rules.d/*.yml\n");
  start_node({"--config", root_ + "/strata.yml"});
  EXPECT_EQ(get_json(n_.http_port, "/api/v1/rules")["data"]["groups"].size(), 1u);
  write_text(root_ + "/rules.d/b.yml", "groups:\n  - name: b\n");
  ASSERT_EQ(http_request(n_.http_port, "POST", "/-/reload").status, 200);
  auto groups = get_json(n_.http_port, "/api/v1/rules")["data"]["groups"];
  ASSERT_EQ(groups.size(), 2u) << groups.dump();
  EXPECT_EQ(groups[1]["name"], "b");
  // A config file that no longer parses fails the reload; the rules stay.
  write_text(root_ + "/strata.yml", "rule_files: [\n");
  auto r = http_request(n_.http_port, "POST", "/-/reload");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("strata.yml"), std::string::npos) << r.body;
  EXPECT_EQ(get_json(n_.http_port, "/api/v1/rules")["data"]["groups"].size(), 2u);
}

TEST_F(Rules, AlertHistoryRefusesBadParametersNamingThem) {
  start_node({});
  auto r = http_request(n_.http_port, "GET", "/api/v1/alerts/history?limit=0");
  EXPECT_EQ(r.status, 400);
  auto error_of = [](const http_reply& x) { return nlohmann::json::parse(x.body).value("error", ""); };
  EXPECT_NE(error_of(r).find("\"limit\""), std::string::npos) << r.body;
  r = http_request(n_.http_port, "GET", "/api/v1/alerts/history?start=abc");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r).find("\"start\""), std::string::npos) << r.body;
  r = http_request(n_.http_port, "GET", "/api/v1/alerts/history?start=200&end=100");
  EXPECT_EQ(r.status, 400);
  auto ok = get_json(n_.http_port, "/api/v1/alerts/history");
  EXPECT_EQ(ok["status"], "success");
  EXPECT_TRUE(ok["data"]["entries"].is_array());
}

TEST_F(Rules, BadRuleFileAtStartStopsTheNode) {
  std::string file = root_ + "/bad.yml";
  write_text(file, "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        bogus: 1\n");
  node n = make_node(root_ + "/bad");
  std::vector<std::string> argv{STRATA_BINARY, "serve", "--data-dir", n.data_dir, "--http-listen",
                                "127.0.0.1:" + std::to_string(n.http_port), "--cluster-listen", n.cluster_address(),
                                "--rule-file", file};
  child_process p(argv, n.log);
  EXPECT_NE(p.wait(20000), 0);
  std::string log = read_file(n.log);
  EXPECT_NE(log.find(file + ":6: group \"a\": rule 1: field bogus not found"), std::string::npos) << log;
}

// Debian's Alertmanager as a real child process.
class Alertmanager : public Rules {
 protected:
  static constexpr const char* binary = "/usr/bin/prometheus-alertmanager";
  void SetUp() override {
    if (::access(binary, X_OK) != 0) GTEST_SKIP() << "prometheus-alertmanager is not installed (scripts/setup.sh)";
    Rules::SetUp();
    am_port_ = free_port();
    std::string cfg = root_ + "/am.yml";
    write_text(cfg, "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n");
    am_ = std::make_unique<child_process>(
        std::vector<std::string>{binary, "--config.file=" + cfg, "--storage.path=" + root_ + "/am",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(am_port_),
                                 "--cluster.listen-address="},
        root_ + "/am.log");
    bool up = wait_until(20000, [&] { return http_request(am_port_, "GET", "/-/ready").status == 200; });
    ASSERT_TRUE(up) << read_file(root_ + "/am.log");
  }
  void TearDown() override {
    if (am_) {
      am_->kill(SIGKILL);
      am_->wait(5000);
    }
    Rules::TearDown();
  }
  nlohmann::json am_alert(const std::string& name) {
    auto j = get_json(am_port_, "/api/v2/alerts");
    if (!j.is_array()) return nlohmann::json();
    for (const auto& a : j)
      if (a["labels"].value("alertname", "") == name) return a;
    return nlohmann::json();
  }
  uint16_t am_port_ = 0;
  std::unique_ptr<child_process> am_;
};

TEST_F(Alertmanager, ReceivesFiringAlertWithLabelsAnnotationsAndExternalLabels) {
  std::string file = root_ + "/rules.yml";
  write_text(file, rules_yaml);
  start_node({"--rule-file", file, "--alertmanager-url", "http://127.0.0.1:" + std::to_string(am_port_),
              "--external-label", "cluster=eu"});
  write_value("a", 9);
  bool received = wait_until(20000, [&] { return !am_alert("RtHigh").is_null(); });
  ASSERT_TRUE(received) << read_file(n_.log);
  auto a = am_alert("RtHigh");
  EXPECT_EQ(a["labels"]["instance"], "a");
  EXPECT_EQ(a["labels"]["severity"], "page");
  EXPECT_EQ(a["labels"]["cluster"], "eu");
  EXPECT_EQ(a["annotations"]["summary"], "a is at 9");
  EXPECT_EQ(a["status"]["state"], "active");
  EXPECT_NE(a["generatorURL"].get<std::string>().find("/graph?g0.expr="), std::string::npos);

  // Resolved: strata sends EndsAt = the resolve time, and Alertmanager's
  // API stops listing the alert.
  write_value("a", 1);
  bool gone = wait_until(20000, [&] { return am_alert("RtHigh").is_null(); });
  EXPECT_TRUE(gone) << get_json(am_port_, "/api/v2/alerts").dump();
}

TEST_F(Alertmanager, TwoAlertmanagersBothReceive) {
  uint16_t second_port = free_port();
  std::string cfg = root_ + "/am.yml";
  child_process second({binary, "--config.file=" + cfg, "--storage.path=" + root_ + "/am2",
                        "--web.listen-address=127.0.0.1:" + std::to_string(second_port), "--cluster.listen-address="},
                       root_ + "/am2.log");
  ASSERT_TRUE(wait_until(20000, [&] { return http_request(second_port, "GET", "/-/ready").status == 200; }));
  std::string file = root_ + "/rules.yml";
  write_text(file, rules_yaml);
  start_node({"--rule-file", file, "--alertmanager-url", "http://127.0.0.1:" + std::to_string(am_port_),
              "--alertmanager-url", "http://127.0.0.1:" + std::to_string(second_port)});
  write_value("a", 9);
  EXPECT_TRUE(wait_until(20000, [&] { return !am_alert("RtHigh").is_null(); }));
  bool second_got = wait_until(20000, [&] {
    auto j = get_json(second_port, "/api/v2/alerts");
    return j.is_array() && j.size() == 1;
  });
  EXPECT_TRUE(second_got);
  second.kill(SIGKILL);
  second.wait(5000);
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

const char* slow_rules_yaml = R"Y(groups:
  - name: slow
    interval: 1s
    rules:
      - alert: SlowBurn
        expr: rt_value > 5
        for: 1h
      - alert: FastBurn
        expr: rt_value > 5
)Y";

// Restarting a node keeps a pending alert's `for` timer and a firing alert's
// start: the alert state is read back from the node's data dir.
TEST_F(Rules, RestartKeepsPendingSinceAndFiringSince) {
  std::string file = root_ + "/rules.yml";
  write_text(file, slow_rules_yaml);
  start_node({"--rule-file", file});
  write_value("a", 9);
  nlohmann::json slow, fast;
  ASSERT_TRUE(wait_until(15000, [&] {
    auto alerts = get_json(n_.http_port, "/api/v1/alerts")["data"]["alerts"];
    slow = find_alert(alerts, "SlowBurn");
    fast = find_alert(alerts, "FastBurn");
    return !slow.is_null() && !fast.is_null() && fast["state"] == "firing";
  })) << read_file(n_.log);
  EXPECT_EQ(slow["state"], "pending");
  ASSERT_EQ(n_.stop(SIGTERM, 20000), 0);
  // Long enough that a reset timer would show a later activeAt.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  n_.start();
  nlohmann::json slow2, fast2;
  ASSERT_TRUE(wait_until(15000, [&] {
    auto alerts = get_json(n_.http_port, "/api/v1/alerts")["data"]["alerts"];
    slow2 = find_alert(alerts, "SlowBurn");
    fast2 = find_alert(alerts, "FastBurn");
    return !slow2.is_null() && !fast2.is_null();
  })) << read_file(n_.log);
  EXPECT_EQ(slow2["state"], "pending");
  EXPECT_EQ(slow2["activeAt"], slow["activeAt"]);
  EXPECT_EQ(fast2["state"], "firing");
  EXPECT_EQ(fast2["activeAt"], fast["activeAt"]);
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

// The groups a node evaluates: those /api/v1/rules shows as evaluated.
std::set<std::string> evaluated_groups(uint16_t port) {
  std::set<std::string> out;
  auto j = get_json(port, "/api/v1/rules");
  for (const auto& g : j["data"]["groups"])
    if (g["lastEvaluation"] != "0001-01-01T00:00:00Z" && g["rules"].size() == 1 &&
        g["rules"][0]["health"] == "ok")
      out.insert(g["name"].get<std::string>());
  return out;
}

// Two nodes load the same rule file: each group runs on exactly one of them,
// and the groups of a node that dies move to the other.
TEST(RulesCluster, EachGroupRunsOnOneNodeAndMovesWhenItsNodeDies) {
  std::string root = make_temp_dir();
  std::string file = root + "/rules.yml";
  std::string yaml = "groups:\n";
  for (int i = 0; i < 8; ++i)
    yaml += "  - name: g" + std::to_string(i) + "\n    interval: 1s\n    rules:\n      - record: r" + std::to_string(i) +
            "\n        expr: vector(1)\n";
  write_text(file, yaml);
  node a = make_node(root + "/a");
  node b = make_node(root + "/b", {a.cluster_address()});
  a.extra_args = b.extra_args = {"--rule-file", file};
  a.start();
  b.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a.live_members() == 2 && b.live_members() == 2; }));
  std::set<std::string> on_a, on_b;
  // Once both see both members, the groups split between them.
  ASSERT_TRUE(wait_until(20000, [&] {
    on_a = evaluated_groups(a.http_port);
    on_b = evaluated_groups(b.http_port);
    std::set<std::string> all(on_a);
    all.insert(on_b.begin(), on_b.end());
    return all.size() == 8 && !on_b.empty();
  }));
  EXPECT_FALSE(on_a.empty());
  // A group that moved to b was reset on a (not evaluated there any more).
  ASSERT_TRUE(wait_until(10000, [&] {
    on_a = evaluated_groups(a.http_port);
    on_b = evaluated_groups(b.http_port);
    for (const auto& g : on_b)
      if (on_a.count(g)) return false;
    return on_a.size() + on_b.size() == 8;
  })) << "a: " << on_a.size() << " b: " << on_b.size();
  b.stop(SIGKILL, 5000);
  EXPECT_TRUE(wait_until(20000, [&] { return evaluated_groups(a.http_port).size() == 8; }))
      << read_file(a.log);
  a.stop(SIGKILL, 5000);
  remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
