#include "scrape/manager.hpp"

#include <spdlog/spdlog.h>

#include <future>

#include "scrape/fetch.hpp"
#include "scrape/ownership.hpp"

namespace strata::scrape {

namespace {

// The result label of strata_scrapes_total: a bounded set.
const char* result_of(const target_state::report& r) {
  if (r.up) return "success";
  if (r.error.rfind("parse:", 0) == 0) return "parse_error";
  if (r.error.rfind("sample_limit", 0) == 0) return "sample_limit";
  if (r.error.rfind("label_limit", 0) == 0) return "label_limit";
  if (r.error.rfind("invalid series", 0) == 0) return "invalid_series";
  if (r.error.find("timeout") != std::string::npos) return "timeout";
  return "fetch_error";
}

}  // namespace

manager::manager(manager_options o, actors::gateway& gw, const actors::shard_table& table, const clock& clk,
                 metrics_registry& metrics)
    : opts_(std::move(o)),
      gw_(gw),
      table_(table),
      clk_(clk),
      scrapes_(metrics.counter("strata_scrapes_total",
                               "Scrapes of targets owned by this node, by result (success, timeout, fetch_error, "
                               "parse_error, invalid_series, sample_limit, label_limit).",
                               {"result"})),
      duration_(metrics.histogram("strata_scrape_duration_seconds", "Duration of scrapes run by this node.", {},
                                  {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      write_errors_(metrics.counter("strata_scrape_write_errors_total",
                                    "Scrape results (samples, stale markers or metadata) that could not be written.")),
      targets_(expand_targets(opts_.jobs)) {
  metrics.gauge("strata_scrape_targets", "Targets in the scrape config (all nodes scrape from one list).",
                [this] { return static_cast<double>(targets_.size()); });
  metrics.gauge("strata_scrape_targets_owned", "Targets this node scrapes now (ring ownership).",
                [this] { return static_cast<double>(owned_.load()); });
}

manager::~manager() { stop(); }

void manager::start() {
  for (size_t i = 0; i < targets_.size(); ++i) threads_.emplace_back([this, i] { run(i); });
  if (!targets_.empty()) spdlog::info("scraping: {} targets configured", targets_.size());
}

void manager::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool manager::sleep_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [this] { return stopping_; });
  return !stopping_;
}

void manager::write(write_batch b, std::vector<metric_metadata> md, const std::string& job) {
  // Bounded waits: a write that cannot finish in a few seconds is counted and
  // dropped, the loop goes on (the next scrape carries fresh samples).
  const auto bound = std::chrono::seconds(30);
  if (!b.empty()) {
    auto done = std::make_shared<std::promise<result<uint64_t>>>();
    auto fut = done->get_future();
    gw_.write(std::move(b), [done](result<uint64_t> r) { done->set_value(std::move(r)); });
    if (fut.wait_for(bound) != std::future_status::ready) {
      write_errors_.add({});
      spdlog::warn("scrape job {}: write did not finish in 30 s", job);
    } else if (auto r = fut.get(); !r) {
      write_errors_.add({});
      spdlog::warn("scrape job {}: write failed: {}", job, r.error().message());
    }
  }
  if (!md.empty()) {
    auto done = std::make_shared<std::promise<result<size_t>>>();
    auto fut = done->get_future();
    gw_.put_metadata(std::move(md), [done](result<size_t> r) { done->set_value(std::move(r)); });
    if (fut.wait_for(bound) != std::future_status::ready || !fut.get()) write_errors_.add({});
  }
}

void manager::run(size_t i) {
  using steady = std::chrono::steady_clock;
  target_state st(targets_[i], opts_.write_limits);
  const target& t = st.config();
  const auto interval = std::chrono::milliseconds(t.interval_ms);
  // The first slot: this target's offset within the interval, counted on the
  // wall clock so that every node puts the target at the same place.
  int64_t now = clk_.now_ms();
  int64_t offset = scrape_offset_ms(t.key, t.interval_ms);
  int64_t wait_ms = ((offset - now % t.interval_ms) % t.interval_ms + t.interval_ms) % t.interval_ms;
  auto next = steady::now() + std::chrono::milliseconds(wait_ms);
  bool active = false;
  fetch_options fo;
  fo.timeout_ms = t.timeout_ms;
  fo.max_body_bytes = t.body_size_limit ? t.body_size_limit : opts_.max_body_bytes;
  while (sleep_until(next)) {
    next += interval;
    while (next <= steady::now()) next += interval;  // a slow write skips slots, never bunches them
    auto view = table_.snapshot();
    bool mine = owner_of(view->members, t.key) == opts_.self;
    if (!mine) {
      if (active) {
        active = false;
        --owned_;
        spdlog::info("scrape target {} ({}) moved to {}", t.address, t.job, owner_of(view->members, t.key));
        write(st.on_leave(clk_.now_ms()), {}, t.job);
      }
      continue;
    }
    if (!active) {
      active = true;
      ++owned_;
      spdlog::info("scraping target {} ({}) every {} ms", t.address, t.job, t.interval_ms);
    }
    int64_t start_ms = clk_.now_ms();
    auto t0 = steady::now();
    fetch_result f = fetch(t.address, t.path, fo);
    double seconds = std::chrono::duration<double>(steady::now() - t0).count();
    auto rep = st.on_scrape(start_ms, seconds, f);
    scrapes_.add({result_of(rep)});
    duration_.observe({}, seconds);
    if (!rep.up) spdlog::debug("scrape of {} ({}) failed: {}", t.address, t.job, rep.error);
    write(std::move(rep.batch), std::move(rep.metadata), t.job);
  }
  if (active) --owned_;
}

}  // namespace strata::scrape
