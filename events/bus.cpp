#include "events/bus.hpp"

namespace strata::events {

bus::bus(std::string node, const clock& clk, metrics_registry& metrics, size_t history)
    : node_(std::move(node)),
      clock_(clk),
      boot_(new_correlation_id().substr(0, 8)),
      published_(metrics.counter("strata_events_published_total", "Events published on this node, by type.",
                                 {"type"})),
      dropped_(metrics.counter("strata_events_dropped_total",
                               "Events a consumer of this node did not get, by reason: slow_consumer (an event "
                               "stream too slow to keep up, cut off), webhook_queue_full, webhook_failed (every "
                               "attempt failed).",
                               {"reason"})),
      consumers_dropped_(metrics.counter("strata_event_consumers_dropped_total",
                                         "Event consumers cut off because they could not keep up, by reason.",
                                         {"reason"})),
      history_max_(history) {
  for (auto t : known_types()) published_.add({std::string(t)}, 0);
  for (const char* r : {"slow_consumer", "webhook_queue_full", "webhook_failed"}) dropped_.add({r}, 0);
  consumers_dropped_.add({"slow_consumer"}, 0);
  metrics.gauge("strata_event_consumers", "Event stream and webhook consumers subscribed on this node.",
                [n = count_] { return static_cast<double>(n->load()); });
}

bus::subscription bus::subscribe(type_filter f, std::shared_ptr<consumer> c) {
  std::lock_guard<std::mutex> lock(mu_);
  auto next = std::make_shared<list>(*list_);
  subscription id = next_id_++;
  next->push_back({id, std::move(f), std::move(c)});
  list_ = std::move(next);
  count_->store(list_->size());
  return id;
}

bus::resumed bus::subscribe_after(type_filter f, std::shared_ptr<consumer> c, const std::string& last_id) {
  std::lock_guard<std::mutex> lock(mu_);
  resumed r;
  auto from = history_.begin();
  for (auto it = history_.rbegin(); it != history_.rend(); ++it)
    if (it->id == last_id) {
      from = it.base();
      r.found = true;
      break;
    }
  for (auto it = from; it != history_.end(); ++it) {
    if (!f.matches(it->type)) continue;
    auto v = c->offer(*it);
    if (v == consumer::verdict::full) {
      dropped_.add({"slow_consumer"});
      consumers_dropped_.add({"slow_consumer"});
    }
    if (v != consumer::verdict::queued) return r;
    ++r.replayed;
  }
  auto next = std::make_shared<list>(*list_);
  r.id = next_id_++;
  next->push_back({r.id, std::move(f), std::move(c)});
  list_ = std::move(next);
  count_->store(list_->size());
  return r;
}

size_t bus::history_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return history_.size();
}

void bus::unsubscribe(subscription id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto next = std::make_shared<list>();
  for (const auto& e : *list_)
    if (e.id != id) next->push_back(e);
  list_ = std::move(next);
  count_->store(list_->size());
}

size_t bus::consumers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_->size();
}

event bus::publish(std::string type, std::string correlation_id, std::string data_json) {
  event e;
  e.type = std::move(type);
  e.id = boot_ + "-" + std::to_string(seq_.fetch_add(1, std::memory_order_relaxed) + 1);
  e.time_ms = clock_.now_ms();
  e.correlation_id = correlation_id.empty() ? new_correlation_id() : std::move(correlation_id);
  e.node = node_;
  e.data = data_json.empty() ? "{}" : std::move(data_json);
  published_.add({e.type});
  deliver(e);
  std::shared_ptr<const std::function<void(const event&)>> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f = forward_;
  }
  if (f && *f) (*f)(e);
  return e;
}

void bus::set_forwarder(std::function<void(const event&)> f) {
  auto p = std::make_shared<const std::function<void(const event&)>>(std::move(f));
  std::lock_guard<std::mutex> lock(mu_);
  forward_ = std::move(p);
}

void bus::deliver_remote(const event& e) { deliver(e); }

void bus::count_dropped(const std::string& reason, double n) { dropped_.add({reason}, n); }

void bus::deliver(const event& e) {
  std::shared_ptr<const list> l;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (history_max_ > 0) {
      if (history_.size() >= history_max_) history_.pop_front();
      history_.push_back(e);
    }
    l = list_;
  }
  for (const auto& s : *l) {
    if (!s.filter.matches(e.type)) continue;
    auto v = s.c->offer(e);
    if (v == consumer::verdict::queued) continue;
    if (v == consumer::verdict::full) {
      dropped_.add({"slow_consumer"});
      consumers_dropped_.add({"slow_consumer"});
    }
    unsubscribe(s.id);
  }
}

}  // namespace strata::events
