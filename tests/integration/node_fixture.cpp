#include "tests/integration/node_fixture.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "wire/remote_write.hpp"

namespace strata::testing {

node make_node(const std::string& dir, std::vector<std::string> seeds) {
  node n;
  n.data_dir = dir;
  n.http_port = free_port();
  n.cluster_port = free_port();
  n.seeds = std::move(seeds);
  n.log = dir + ".log";
  return n;
}

bool wait_until(int timeout_ms, const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

void node::start() {
  std::vector<std::string> argv{STRATA_BINARY, "serve", "--data-dir", data_dir, "--http-listen",
                                "127.0.0.1:" + std::to_string(http_port), "--cluster-listen", cluster_address(),
                                "--shards", "2", "--log-level", "info"};
  for (const auto& s : seeds) {
    argv.push_back("--seeds");
    argv.push_back(s);
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  proc = std::make_unique<child_process>(argv, log);
  bool up = wait_until(20000, [&] { return http_request(http_port, "GET", "/ready").status == 200; });
  ASSERT_TRUE(up) << "node did not become ready; its log:\n" << read_file(log);
}

int node::stop(int sig, int timeout_ms) {
  if (!proc) return -1;
  proc->kill(sig);
  int code = proc->wait(timeout_ms);
  proc.reset();
  return code;
}

size_t node::live_members() const {
  auto r = http_request(http_port, "GET", "/api/v1/status/cluster");
  if (r.status != 200) return 0;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return 0;
  return j["data"]["members"].size();
}

http_reply remote_write(uint16_t port, const write_batch& b) {
  return http_request(port, "POST", "/api/v1/write", wire::encode_remote_write(b),
                      {{"Content-Encoding", "snappy"},
                       {"Content-Type", "application/x-protobuf"},
                       {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
}

nlohmann::json query(uint16_t port, const std::string& q, int64_t time_ms) {
  char t[64];
  std::snprintf(t, sizeof t, "%.3f", static_cast<double>(time_ms) / 1000.0);
  auto r = http_request(port, "GET", "/api/v1/query?query=" + url_encode(q) + "&time=" + t);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return {{"status", "unparsable"}, {"http", r.status}, {"body", r.body}};
  j["http"] = r.status;
  return j;
}

std::map<labels, std::vector<sample>> read_matrix(const nlohmann::json& reply) {
  std::map<labels, std::vector<sample>> out;
  for (const auto& s : reply["data"]["result"]) {
    labels ls;
    for (const auto& [k, v] : s["metric"].items()) ls.push_back({k, v.get<std::string>()});
    sort_labels(ls);
    auto& samples = out[ls];
    for (const auto& p : s["values"]) {
      double t = p[0].get<double>();
      samples.push_back({static_cast<int64_t>(std::llround(t * 1000)), std::strtod(p[1].get<std::string>().c_str(), nullptr)});
    }
  }
  return out;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace strata::testing
