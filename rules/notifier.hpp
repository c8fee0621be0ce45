#pragma once
// Sends alerts to Alertmanagers through their API v2 (POST
// <url>/api/v2/alerts, a JSON list of alerts), as Prometheus's notifier
// does: a bounded queue (the oldest alerts are dropped when it is full),
// batches of at most 64 alerts, every batch to every Alertmanager, external
// labels added to each alert's labels where absent.
//
// Threading: send() may be called from any thread; one sender thread owned
// by the notifier does the HTTP.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "rules/alert_state.hpp"

namespace strata::rules {

// One alert as Alertmanager receives it.
struct am_alert {
  labels lbls;
  labels annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string generator_url;
};

// The Alertmanager view of an alert of the state machine: StartsAt is when
// it fired, EndsAt when it resolved or, while firing, valid_until.
am_alert to_am_alert(const alert& a, const labels& external, const std::string& generator_url);

// The JSON body of POST /api/v2/alerts.
std::string alerts_json(const std::vector<am_alert>& alerts);

// RFC 3339 with milliseconds in UTC: 2026-01-02T03:04:05.678Z.
std::string rfc3339(int64_t ms);

// A blocking HTTP/1.1 POST of a JSON body to http://host:port/path, with
// `headers` added; ok on a 2xx answer, else unavailable with the status line
// or the socket error. REQUIRES: no header name or value holds CR or LF.
status http_post_json(const std::string& url, const std::string& body, int timeout_ms,
                      const std::vector<std::pair<std::string, std::string>>& headers = {});

// The API v2 endpoint of an Alertmanager given by its base URL
// (http://host:9093 or http://host:9093/prefix).
std::string alerts_endpoint(const std::string& base_url);

class notifier {
 public:
  using post_fn = std::function<status(const std::string& url, const std::string& body)>;
  static constexpr size_t max_batch = 64;

  // Every URL is a base URL (alerts_endpoint). post defaults to http_post_json.
  notifier(std::vector<std::string> urls, size_t queue_capacity = 10000, post_fn post = {});
  ~notifier();
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  void send(std::vector<am_alert> alerts);
  // Waits until the queue is empty and no batch is in flight (tests).
  void drain();

  uint64_t sent() const { return sent_.load(); }
  uint64_t errors() const { return errors_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  const std::vector<std::string>& urls() const { return urls_; }

 private:
  void run();

  std::vector<std::string> urls_;
  size_t capacity_;
  post_fn post_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<am_alert> queue_;
  bool stop_ = false;
  bool busy_ = false;
  std::atomic<uint64_t> sent_{0}, errors_{0}, dropped_{0};
  std::thread thread_;
};

}  // namespace strata::rules
