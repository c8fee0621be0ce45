#pragma once
// The event bus of a node: publishing stamps an event (id, time, node),
// hands it to every local consumer whose filter matches and to the
// forwarder, which carries it to the other nodes (cluster/membership.hpp);
// an event from another node is delivered to local consumers only, so it
// is never forwarded twice.
//
// Publishing never blocks: a consumer's offer() only queues (bounded). A
// consumer that cannot take an event (its queue is full) is unsubscribed and
// counted in strata_event_consumers_dropped_total{reason="slow_consumer"};
// each event lost that way, or dropped by a consumer that keeps its
// subscription (a webhook whose queue is full), counts in
// strata_events_dropped_total{reason}.
//
// The bus keeps the last `history` events it delivered (published here or
// received from other nodes, in the order they reached this node), so that a
// client that reconnects can resume after the last event it saw
// (subscribe_after, SSE's Last-Event-ID).
//
// Threads: every member function may be called from any thread; offer()
// runs on the publisher's thread, outside the bus's lock (the replay of
// subscribe_after runs under it: offer() must not call back into the bus).
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/metrics.hpp"
#include "events/event.hpp"
#include "events/filter.hpp"

namespace strata::events {

class consumer {
 public:
  enum class verdict { queued, full, closed };
  virtual ~consumer() = default;
  // Takes an event without blocking: queued, or full (the consumer is too
  // slow and is dropped), or closed (it went away; dropped without counting).
  virtual verdict offer(const event& e) = 0;
};

class bus {
 public:
  // Registers strata_events_published_total{type}, strata_events_dropped_total{reason},
  // strata_event_consumers_dropped_total{reason} and strata_event_consumers
  // in `metrics`. REQUIRES: clk and metrics outlive the bus.
  bus(std::string node, const clock& clk, metrics_registry& metrics, size_t history = 1024);

  using subscription = uint64_t;
  subscription subscribe(type_filter f, std::shared_ptr<consumer> c);

  struct resumed {
    subscription id = 0;  // 0: the replay did not fit the consumer, which is not subscribed
    bool found = false;   // last_id is in the history
    size_t replayed = 0;  // events offered before the live ones
  };
  // Offers `c` the history's events after the one with id `last_id` that
  // match `f` (every matching event of the history when last_id is not in
  // it: it is older, or from another run), then subscribes it; no event is
  // both replayed and delivered live, and none published meanwhile is missed.
  resumed subscribe_after(type_filter f, std::shared_ptr<consumer> c, const std::string& last_id);
  size_t history_size() const;
  void unsubscribe(subscription id);  // unknown ids are ignored
  size_t consumers() const;

  // Stamps id, time and node, delivers locally and forwards; returns the event as published.
  event publish(std::string type, std::string correlation_id, std::string data_json);
  // An event published on another node: delivered locally only.
  void deliver_remote(const event& e);
  // Where publish() sends every event for the other nodes (may be set late:
  // events published before reach local consumers only).
  void set_forwarder(std::function<void(const event&)> f);

  // Counts events lost by a consumer that keeps its subscription.
  void count_dropped(const std::string& reason, double n = 1);

 private:
  struct entry {
    subscription id;
    type_filter filter;
    std::shared_ptr<consumer> c;
  };
  using list = std::vector<entry>;
  void deliver(const event& e);

  std::string node_;
  const clock& clock_;
  std::string boot_;  // random, so ids differ across restarts
  std::atomic<uint64_t> seq_{0};
  counter_family& published_;
  counter_family& dropped_;
  counter_family& consumers_dropped_;
  std::shared_ptr<const std::function<void(const event&)>> forward_;  // under mu_
  mutable std::mutex mu_;
  std::shared_ptr<const list> list_ = std::make_shared<list>();  // copy on write
  subscription next_id_ = 1;
  std::shared_ptr<std::atomic<size_t>> count_ = std::make_shared<std::atomic<size_t>>(0);  // shared with the gauge
  size_t history_max_;
  std::deque<event> history_;  // under mu_, oldest first
};

}  // namespace strata::events
