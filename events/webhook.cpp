#include "events/webhook.hpp"

#include <spdlog/spdlog.h>

namespace strata::events {

webhook::webhook(webhook_config c, post_fn post, bus& b) : cfg_(std::move(c)), post_(std::move(post)), bus_(b) {
  if (cfg_.max_attempts < 1) cfg_.max_attempts = 1;
  thread_ = std::thread([this] { run(); });
}

webhook::~webhook() { stop(); }

void webhook::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

consumer::verdict webhook::offer(const event& e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return verdict::closed;
    if (queue_.size() >= cfg_.queue_capacity) {
      bus_.count_dropped("webhook_queue_full");
      return verdict::queued;  // the event is lost, the webhook stays
    }
    queue_.push_back(encode_json(e));
  }
  cv_.notify_one();
  return verdict::queued;
}

void webhook::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    int wait_ms = cfg_.backoff_ms;
    for (int attempt = 1;; ++attempt) {
      lock.unlock();
      status st = post_(cfg_.url, body, cfg_.headers, cfg_.timeout_ms);
      lock.lock();
      if (st) {
        ++delivered_;
        break;
      }
      ++failed_attempts_;
      if (attempt >= cfg_.max_attempts) {
        spdlog::warn("events: webhook {} failed {} times, event dropped: {}", cfg_.url, attempt, st.message());
        bus_.count_dropped("webhook_failed");
        break;
      }
      if (cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_; })) return;
      wait_ms *= 2;
    }
  }
}

}  // namespace strata::events
