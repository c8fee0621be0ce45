#pragma once
// Delivery of events to a webhook (docs/api/events.md, "Webhooks"): each
// event whose type the webhook wants is POSTed as its JSON (encode_json),
// in publishing order, by one sender thread per webhook. A failed POST is
// retried up to max_attempts times in all, waiting backoff_ms, then twice
// that, and so on; an event that fails every attempt is dropped and counted
// (webhook_failed). The queue is bounded: an event that finds it full is
// dropped and counted (webhook_queue_full), the webhook stays subscribed,
// and the publisher never waits.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "events/bus.hpp"

namespace strata::events {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct webhook_config {
  std::string url;           // http://host:port/path
  type_filter types;         // default: every type
  header_list headers;       // added to every POST
  int timeout_ms = 5000;     // of one attempt
  int max_attempts = 3;      // >= 1
  int backoff_ms = 500;      // before the second attempt; doubled after each failure
  size_t queue_capacity = 1000;
};

// One HTTP POST of a JSON body; ok on a 2xx answer.
using post_fn = std::function<status(const std::string& url, const std::string& body, const header_list& headers,
                                     int timeout_ms)>;

class webhook final : public consumer {
 public:
  // Starts the sender thread. REQUIRES: b outlives the webhook.
  webhook(webhook_config c, post_fn post, bus& b);
  ~webhook() override;  // stops (events still queued are not sent)
  webhook(const webhook&) = delete;
  webhook& operator=(const webhook&) = delete;

  verdict offer(const event& e) override;
  void stop();

  const webhook_config& config() const { return cfg_; }
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed_attempts() const { return failed_attempts_.load(); }

 private:
  void run();

  webhook_config cfg_;
  post_fn post_;
  bus& bus_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // encoded events
  bool stop_ = false;
  std::atomic<uint64_t> delivered_{0}, failed_attempts_{0};
  std::thread thread_;
};

}  // namespace strata::events
