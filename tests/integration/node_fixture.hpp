#pragma once
// Starts real `strata serve` processes on 127.0.0.1 with their own ports and
// data dirs, and talks to them over HTTP.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace strata::testing {

struct node {
  std::string data_dir;
  uint16_t http_port = 0;
  uint16_t cluster_port = 0;
  std::vector<std::string> seeds;
  std::vector<std::string> extra_args;  // appended to `strata serve ...`
  std::unique_ptr<child_process> proc;
  std::string log;

  std::string cluster_address() const { return "127.0.0.1:" + std::to_string(cluster_port); }
  void start();                       // returns when /ready answers 200 (fails the test otherwise)
  int stop(int sig, int timeout_ms);  // sends sig, waits; exit code
  // Members this node sees as up (from /api/v1/status/cluster).
  size_t live_members() const;
};

node make_node(const std::string& dir, std::vector<std::string> seeds = {});
bool wait_until(int timeout_ms, const std::function<bool()>& cond);
int64_t now_ms();  // the system clock, milliseconds since the epoch

http_reply remote_write(uint16_t port, const write_batch& b);
// GET /api/v1/query?query=...&time=..., parsed.
nlohmann::json query(uint16_t port, const std::string& q, int64_t time_ms);
// Every (labels -> samples) returned by a matrix-selector instant query.
std::map<labels, std::vector<sample>> read_matrix(const nlohmann::json& reply);

}  // namespace strata::testing
