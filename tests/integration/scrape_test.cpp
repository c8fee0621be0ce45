// strata scraping real HTTP targets on 127.0.0.1: a target served by the
// test (series disappear, the target goes down), Debian's node_exporter
// scraped by strata and by Prometheus (remote_write into strata), and two
// nodes that share the targets by ring ownership.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

#include "tests/integration/node_fixture.hpp"
#include "tests/support/text_target.hpp"

namespace strata::testing {
namespace {

std::string write_config(const std::string& dir, const std::string& text) {
  std::string path = dir + "/strata.yml";
  std::ofstream(path) << text;
  return path;
}

std::string scrape_config(const std::string& job, const std::string& target, const std::string& interval = "1s") {
  return "scrape_configs:\n  - job_name: " + job + "\n    scrape_interval: " + interval +
         "\n    scrape_timeout: " + interval + "\n    static_configs:\n      - targets: ['" + target +
         "']\n        labels:\n          env: test\n";
}

// The instant vector of `q` at `t`: labels -> value.
std::map<labels, double> instant(uint16_t port, const std::string& q, int64_t t = 0) {
  auto j = query(port, q, t ? t : now_ms());
  std::map<labels, double> out;
  if (j["status"] != "success") return out;
  for (const auto& s : j["data"]["result"]) {
    labels ls;
    for (const auto& [k, v] : s["metric"].items()) ls.push_back({k, v.get<std::string>()});
    sort_labels(ls);
    out[ls] = std::strtod(s["value"][1].get<std::string>().c_str(), nullptr);
  }
  return out;
}

double single(uint16_t port, const std::string& q) {
  auto v = instant(port, q);
  return v.size() == 1 ? v.begin()->second : -1;
}

// A value from a node's /metrics: the first line that starts with `prefix`.
double metric_value(uint16_t port, const std::string& prefix) {
  auto r = http_request(port, "GET", "/metrics");
  size_t pos = 0;
  while ((pos = r.body.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || r.body[pos - 1] == '\n') {
      auto end = r.body.find('\n', pos);
      auto line = r.body.substr(pos, end - pos);
      return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
    ++pos;
  }
  return 0;
}

class Scrape : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(); }
  void TearDown() override {
    for (auto* n : {&a_, &b_}) n->stop(SIGKILL, 5000);
    if (!HasFailure()) remove_dir(root_);
  }
  std::string root_;
  node a_, b_;
};

TEST_F(Scrape, DisappearedSeriesAndDownTargetGoStale) {
  text_target target(19711);
  target.set_body("# HELP it_a An a.\n# TYPE it_a gauge\nit_a 1\nit_b{k=\"v\"} 2\n");
  a_ = make_node(root_ + "/a");
  a_.extra_args = {"--config", write_config(root_, scrape_config("it", target.address()))};
  a_.start();

  ASSERT_TRUE(wait_until(15000, [&] { return single(a_.http_port, "up{job=\"it\"}") == 1; })) << read_file(a_.log);
  ASSERT_TRUE(wait_until(5000, [&] { return single(a_.http_port, "it_b") == 2; }));
  auto a = instant(a_.http_port, "it_a");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(to_string(a.begin()->first),
            R"({__name__="it_a", env="test", instance="127.0.0.1:19711", job="it"})");
  EXPECT_EQ(single(a_.http_port, "scrape_samples_scraped{job=\"it\"}"), 2);
  EXPECT_GE(single(a_.http_port, "scrape_duration_seconds{job=\"it\"}"), 0);

  auto md = nlohmann::json::parse(http_request(a_.http_port, "GET", "/api/v1/metadata?metric=it_a").body);
  ASSERT_EQ(md["data"]["it_a"].size(), 1u) << md.dump();
  EXPECT_EQ(md["data"]["it_a"][0]["type"], "gauge");
  EXPECT_EQ(md["data"]["it_a"][0]["help"], "An a.");

  // it_b disappears: a stale marker ends it at once (not 5 minutes later).
  target.set_body("it_a 3\n");
  ASSERT_TRUE(wait_until(10000, [&] { return instant(a_.http_port, "it_b").empty(); }));
  EXPECT_EQ(single(a_.http_port, "it_a"), 3);
  // Its samples before the marker are still there.
  EXPECT_FALSE(read_matrix(query(a_.http_port, "it_b[1m]", now_ms())).empty());

  // The target goes down: up 0, every series ends.
  target.stop();
  ASSERT_TRUE(wait_until(10000, [&] { return single(a_.http_port, "up{job=\"it\"}") == 0; }));
  EXPECT_TRUE(instant(a_.http_port, "it_a").empty());
  EXPECT_GT(metric_value(a_.http_port, "strata_scrapes_total{result=\"success\"}"), 0);
  EXPECT_GT(metric_value(a_.http_port, "strata_scrapes_total{result=\"fetch_error\"}"), 0);
  EXPECT_GT(metric_value(a_.http_port, "strata_scrape_duration_seconds_count"), 0);
  EXPECT_EQ(metric_value(a_.http_port, "strata_scrape_targets_owned"), 1);
}

TEST_F(Scrape, BadConfigIsRefusedAtStartWithFileAndLine) {
  auto path = write_config(root_, "scrape_configs:\n  - job_name: x\n    scrape_interval: soon\n");
  child_process p({STRATA_BINARY, "serve", "--data-dir", root_ + "/d", "--http-listen", "127.0.0.1:0",
                   "--cluster-listen", "127.0.0.1:0", "--config", path},
                  root_ + "/bad.log");
  EXPECT_EQ(p.wait(20000), 1);
  auto log = read_file(root_ + "/bad.log");
  EXPECT_NE(log.find(path + ":3: scrape_interval: bad duration \"soon\""), std::string::npos) << log;
}

TEST_F(Scrape, TargetIsScrapedByOneNodeAndMovesWhenItDies) {
  text_target target(19712);
  target.set_body("it_moving 1\n");
  auto cfg = write_config(root_, scrape_config("moving", target.address()));
  a_ = make_node(root_ + "/a");
  b_ = make_node(root_ + "/b", {a_.cluster_address()});
  a_.extra_args = b_.extra_args = {"--config", cfg, "--connection-timeout-ms", "1500"};
  a_.start();
  b_.start();
  ASSERT_TRUE(wait_until(20000, [&] { return a_.live_members() == 2 && b_.live_members() == 2; }));

  // Exactly one owner, and only it scrapes.
  auto owned = [&](node& n) { return metric_value(n.http_port, "strata_scrape_targets_owned"); };
  auto scrapes = [&](node& n) { return metric_value(n.http_port, "strata_scrapes_total{result=\"success\"}"); };
  ASSERT_TRUE(wait_until(10000, [&] { return owned(a_) + owned(b_) == 1 && scrapes(a_) + scrapes(b_) >= 2; }));
  node& owner = owned(a_) == 1 ? a_ : b_;
  node& other = &owner == &a_ ? b_ : a_;
  double other_before = scrapes(other);
  int requests_before = target.requests();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(scrapes(other), other_before);
  EXPECT_EQ(owned(other), 0);
  // One scrape a second: two nodes scraping would double it.
  EXPECT_LE(target.requests() - requests_before, 4);

  // The owner dies; the survivor takes the target over at its next slot.
  EXPECT_EQ(owner.stop(SIGKILL, 5000), 128 + SIGKILL);
  const int64_t killed = now_ms();
  ASSERT_TRUE(wait_until(15000, [&] { return owned(other) == 1 && scrapes(other) > other_before; }))
      << read_file(other.log);
  ASSERT_TRUE(wait_until(5000, [&] {
    auto t = instant(other.http_port, "timestamp(up{job=\"moving\"})");
    return t.size() == 1 && t.begin()->second * 1000 > static_cast<double>(killed);
  }));
  EXPECT_EQ(single(other.http_port, "up{job=\"moving\"}"), 1);
}

// Debian's prometheus-node-exporter on 127.0.0.1:19721, few collectors so
// that its values hold still while the test compares them.
struct node_exporter {
  std::unique_ptr<child_process> proc;
  static constexpr const char* binary = "/usr/bin/prometheus-node-exporter";
  static constexpr uint16_t port = 19721;
  bool start(const std::string& dir) {
    proc = std::make_unique<child_process>(
        std::vector<std::string>{binary, "--web.listen-address=127.0.0.1:19721", "--collector.disable-defaults",
                                 "--collector.meminfo", "--collector.cpu", "--collector.uname"},
        dir + "/node_exporter.log");
    return wait_until(10000, [] { return http_request(port, "GET", "/metrics").status == 200; });
  }
};

// The value of `name{...}` lines in an exposition, by their whole label text.
std::map<std::string, double> exposition_values(const std::string& body, const std::string& name) {
  std::map<std::string, double> out;
  std::regex line("^" + name + R"((\{[^}]*\})? (\S+))");
  std::istringstream in(body);
  std::string l;
  while (std::getline(in, l)) {
    std::smatch m;
    if (std::regex_search(l, m, line)) out[m[1].str()] = std::strtod(m[2].str().c_str(), nullptr);
  }
  return out;
}

TEST_F(Scrape, NodeExporterIsScrapedAndMatchesItsSource) {
  if (access(node_exporter::binary, X_OK) != 0)
    GTEST_SKIP() << node_exporter::binary << " is absent (scripts/setup.sh installs prometheus-node-exporter)";
  node_exporter ne;
  ASSERT_TRUE(ne.start(root_)) << read_file(root_ + "/node_exporter.log");
  a_ = make_node(root_ + "/a");
  a_.extra_args = {"--config", write_config(root_, scrape_config("node", "127.0.0.1:19721"))};
  a_.start();
  ASSERT_TRUE(wait_until(15000, [&] { return single(a_.http_port, "up{job=\"node\"}") == 1; })) << read_file(a_.log);

  auto source = http_request(node_exporter::port, "GET", "/metrics").body;
  // Constant values are equal; every CPU series of the source is in strata.
  auto mem = exposition_values(source, "node_memory_MemTotal_bytes");
  ASSERT_EQ(mem.size(), 1u);
  EXPECT_EQ(single(a_.http_port, "node_memory_MemTotal_bytes{job=\"node\"}"), mem.begin()->second);
  auto cpu = exposition_values(source, "node_cpu_seconds_total");
  ASSERT_FALSE(cpu.empty());
  EXPECT_EQ(instant(a_.http_port, "node_cpu_seconds_total{job=\"node\"}").size(), cpu.size());
  auto uname = instant(a_.http_port, "node_uname_info");
  ASSERT_EQ(uname.size(), 1u);
  EXPECT_NE(source.find("nodename=\"" + std::string(label_value(uname.begin()->first, "nodename")) + "\""),
            std::string::npos);
  // HELP and TYPE became metadata.
  auto md = nlohmann::json::parse(http_request(a_.http_port, "GET", "/api/v1/metadata?metric=node_cpu_seconds_total").body);
  ASSERT_EQ(md["data"]["node_cpu_seconds_total"].size(), 1u) << md.dump();
  EXPECT_EQ(md["data"]["node_cpu_seconds_total"][0]["type"], "counter");
}

TEST_F(Scrape, PrometheusRemoteWritesNodeExporterIntoStrata) {
  if (access(node_exporter::binary, X_OK) != 0)
    GTEST_SKIP() << node_exporter::binary << " is absent (scripts/setup.sh installs prometheus-node-exporter)";
  if (access("/usr/bin/prometheus", X_OK) != 0) GTEST_SKIP() << "/usr/bin/prometheus is absent (package prometheus)";
  node_exporter ne;
  ASSERT_TRUE(ne.start(root_)) << read_file(root_ + "/node_exporter.log");
  a_ = make_node(root_ + "/a");
  a_.start();
  const uint16_t prom_port = 19722;
  std::ofstream(root_ + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n"
         "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:19721']\n"
         "remote_write:\n  - url: http://127.0.0.1:" << a_.http_port << "/api/v1/write\n"
         "    queue_config:\n      batch_send_deadline: 1s\n";
  child_process prom({"/usr/bin/prometheus", "--config.file=" + root_ + "/prometheus.yml",
                      "--storage.tsdb.path=" + root_ + "/prom-data", "--web.listen-address=127.0.0.1:19722"},
                     root_ + "/prometheus.log");
  ASSERT_TRUE(wait_until(30000, [&] { return single(a_.http_port, "up{job=\"node\"}") == 1; }))
      << read_file(root_ + "/prometheus.log");
  // Both hold the same values: a constant gauge and every CPU series.
  ASSERT_TRUE(wait_until(10000, [&] {
    auto s = instant(a_.http_port, "node_memory_MemTotal_bytes");
    auto p = instant(prom_port, "node_memory_MemTotal_bytes");
    return !s.empty() && s == p;
  }));
  ASSERT_TRUE(wait_until(10000, [&] {
    auto s = instant(a_.http_port, "count(node_cpu_seconds_total)");
    auto p = instant(prom_port, "count(node_cpu_seconds_total)");
    return !s.empty() && s == p;
  }));
  // The samples Prometheus stored in a window are in strata, same times and values.
  const int64_t t = now_ms();
  std::map<labels, std::vector<sample>> p, s;
  EXPECT_TRUE(wait_until(10000, [&] {
    p = read_matrix(query(prom_port, "node_memory_MemTotal_bytes[5s]", t));
    s = read_matrix(query(a_.http_port, "node_memory_MemTotal_bytes[5s]", t));
    return !p.empty() && s == p;
  }));
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(s, p);
  prom.kill(SIGTERM);
  prom.wait(10000);
}

}  // namespace
}  // namespace strata::testing
