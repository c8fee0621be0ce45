// VictoriaMetrics' vmagent (Debian's victoria-metrics 1.79) scraping a static
// target on 127.0.0.1 and remote-writing to strata: what the target exposed
// is what strata's query API returns, series for series and bit for bit.
// vmagent 1.79 sends remote_write 1.0 (Content-Encoding: snappy,
// application/x-protobuf, X-Prometheus-Remote-Write-Version 0.1.0) without
// probing for other protocols; its own counters must show every request
// answered 2xx.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>

#include "tests/integration/node_fixture.hpp"
#include "tests/support/text_target.hpp"

namespace strata::testing {
namespace {

constexpr const char* vmagent_binary = "/usr/bin/vmagent";

// The exposition and, per series (labels without job and instance), the value.
const char* exposition =
    "# HELP vm_probe_requests_total Requests.\n"
    "# TYPE vm_probe_requests_total counter\n"
    "vm_probe_requests_total{code=\"200\",method=\"get\"} 1027\n"
    "vm_probe_requests_total{code=\"500\",method=\"get\"} 3\n"
    "# TYPE vm_probe_temperature gauge\n"
    "vm_probe_temperature{room=\"a\"} 0.1\n"
    "vm_probe_temperature{room=\"b\"} -273.15\n"
    "vm_probe_temperature{room=\"c\"} 3.141592653589793\n"
    "# TYPE vm_probe_bytes gauge\n"
    "vm_probe_bytes 1.8446744073709552e+19\n"
    "vm_probe_small 2.5e-07\n";

std::map<labels, double> expected(const std::string& instance) {
  auto with = [&](labels ls) {
    ls.push_back({"instance", instance});
    ls.push_back({"job", "vmx"});
    sort_labels(ls);
    return ls;
  };
  return {
      {with({{"__name__", "vm_probe_requests_total"}, {"code", "200"}, {"method", "get"}}), 1027},
      {with({{"__name__", "vm_probe_requests_total"}, {"code", "500"}, {"method", "get"}}), 3},
      {with({{"__name__", "vm_probe_temperature"}, {"room", "a"}}), 0.1},
      {with({{"__name__", "vm_probe_temperature"}, {"room", "b"}}), -273.15},
      {with({{"__name__", "vm_probe_temperature"}, {"room", "c"}}), 3.141592653589793},
      {with({{"__name__", "vm_probe_bytes"}}), 1.8446744073709552e+19},
      {with({{"__name__", "vm_probe_small"}}), 2.5e-07},
  };
}

// labels -> the value as strata's JSON wrote it (Prometheus formats floats
// with the shortest text that reads back to the same double).
std::map<labels, std::string> instant_text(uint16_t port, const std::string& q, int64_t t) {
  auto j = query(port, q, t);
  std::map<labels, std::string> out;
  if (j["status"] != "success") return out;
  for (const auto& s : j["data"]["result"]) {
    labels ls;
    for (const auto& [k, v] : s["metric"].items()) ls.push_back({k, v.get<std::string>()});
    sort_labels(ls);
    out[ls] = s["value"][1].get<std::string>();
  }
  return out;
}

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

TEST(Vmagent, RemoteWritesWhatItScrapedAndStrataReturnsItExactly) {
  if (access(vmagent_binary, X_OK) != 0)
    GTEST_SKIP() << vmagent_binary << " is absent (scripts/setup.sh installs victoria-metrics)";
  const std::string root = make_temp_dir();
  text_target target(free_port());
  ASSERT_TRUE(target.listening());
  target.set_body(exposition);
  node n = make_node(root + "/n");
  n.start();

  const uint16_t vm_port = free_port();
  std::ofstream(root + "/scrape.yml") << "scrape_configs:\n  - job_name: vmx\n    scrape_interval: 1s\n"
                                         "    static_configs:\n      - targets: ['"
                                      << target.address() << "']\n";
  child_process vm({vmagent_binary, "-promscrape.config=" + root + "/scrape.yml",
                    "-remoteWrite.url=http://127.0.0.1:" + std::to_string(n.http_port) + "/api/v1/write",
                    "-remoteWrite.tmpDataPath=" + root + "/vmagent-data", "-remoteWrite.flushInterval=1s",
                    "-httpListenAddr=127.0.0.1:" + std::to_string(vm_port)},
                   root + "/vmagent.log");

  const auto want = expected(target.address());
  std::map<labels, std::string> got;
  ASSERT_TRUE(wait_until(60000, [&] {
    got = instant_text(n.http_port, "{__name__=~\"vm_probe_.*\"}", now_ms());
    return got.size() >= want.size();
  })) << "strata has " << got.size() << " vm_probe series; vmagent log:\n"
      << read_file(root + "/vmagent.log");

  // The same series set, and each value bit for bit.
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [ls, v] : want) {
    auto it = got.find(ls);
    ASSERT_NE(it, got.end()) << to_string(ls) << " missing";
    EXPECT_EQ(bits(std::strtod(it->second.c_str(), nullptr)), bits(v)) << to_string(ls) << ": " << it->second;
  }
  // vmagent's own scrape report came through too.
  auto up = instant_text(n.http_port, "up{job=\"vmx\"}", now_ms());
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up.begin()->second, "1");

  // Every remote_write request vmagent made was answered 2xx: its counters
  // list requests by status code class (`status_code="2XX"`).
  auto vm_metrics = http_request(vm_port, "GET", "/metrics").body;
  std::regex req_re(R"re(vmagent_remotewrite_requests_total\{[^}]*status_code="([^"]+)"[^}]*\} (\d+))re");
  int ok = 0, other = 0;
  for (std::sregex_iterator it(vm_metrics.begin(), vm_metrics.end(), req_re), end; it != end; ++it)
    ((*it)[1].str()[0] == '2' ? ok : other) += std::stoi((*it)[2].str());
  EXPECT_GT(ok, 0) << vm_metrics.substr(0, 2000);
  EXPECT_EQ(other, 0) << vm_metrics;
  // strata counted them as remote_write and refused none.
  auto m = http_request(n.http_port, "GET", "/metrics").body;
  EXPECT_EQ(m.find("strata_write_requests_rejected_total{"), std::string::npos) << m;

  vm.kill(SIGTERM);
  vm.wait(10000);
  n.stop(SIGTERM, 10000);
  if (!HasFailure()) remove_dir(root);
}

}  // namespace
}  // namespace strata::testing
