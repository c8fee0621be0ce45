#pragma once
// The scrape driver of a node: one loop thread per configured target. Each
// loop wakes at its slot of the interval, asks the ring who owns the target
// (owner_of over the live members of the shard table) and scrapes it only
// when this node does; a target that moves away gets its stale markers
// written here. Writes and metadata go through actors::gateway like any
// other write.
//
// Threads: start() and stop() from one thread (serve's); the loops own their
// target_state. Why a thread per target and not an event loop: a scrape is a
// blocking fetch bounded by scrape_timeout, and configs name tens to
// hundreds of targets, not tens of thousands.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/gateway.hpp"
#include "actors/shard_table.hpp"
#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "scrape/config.hpp"
#include "scrape/target.hpp"

namespace strata::scrape {

struct manager_options {
  std::vector<job_config> jobs;
  std::string self;                      // this node's cluster address, as in shard_view::members
  uint64_t max_body_bytes = 32u << 20;   // for jobs without body_size_limit
  wire::write_limits write_limits;       // the node's: every scraped series passes wire::check_series
};

class manager {
 public:
  // REQUIRES: gw, table, clk and metrics outlive the manager.
  manager(manager_options o, actors::gateway& gw, const actors::shard_table& table, const clock& clk,
          metrics_registry& metrics);
  ~manager();
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  void start();
  // Ends every loop (a scrape in flight finishes within its timeout) and
  // joins the threads. Writes no stale markers: another node takes over.
  void stop();
  size_t targets() const { return targets_.size(); }
  size_t owned() const { return owned_.load(); }

 private:
  void run(size_t i);
  // Waits until `deadline` or stop(); false when stopping.
  bool sleep_until(std::chrono::steady_clock::time_point deadline);
  void write(write_batch b, std::vector<metric_metadata> md, const std::string& job);

  manager_options opts_;
  actors::gateway& gw_;
  const actors::shard_table& table_;
  const clock& clk_;
  counter_family& scrapes_;
  histogram_family& duration_;
  counter_family& write_errors_;
  std::vector<target> targets_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> owned_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace strata::scrape
