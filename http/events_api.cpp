#include "http/events_api.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>

#include "http/prom_json.hpp"

namespace strata::http {
namespace {

// Hands events to one SSE stream; the stream's bounded queue is the
// consumer's queue.
class stream_consumer final : public events::consumer {
 public:
  explicit stream_consumer(std::weak_ptr<stream> s) : s_(std::move(s)) {}
  verdict offer(const events::event& e) override {
    auto s = s_.lock();
    if (!s) return verdict::closed;
    if (s->write(sse_message(e))) return verdict::queued;
    return s->overflowed() ? verdict::full : verdict::closed;
  }

 private:
  std::weak_ptr<stream> s_;
};

struct events_state {
  events::bus* bus;
  events_api_options opts;
  std::shared_ptr<std::atomic<int64_t>> open = std::make_shared<std::atomic<int64_t>>(0);
  counter_family* rejected;
};

response json_error_reply(int code, const std::string& message) {
  response r;
  r.status = code;
  r.body = error_json(code == 400 ? "bad_data" : "unavailable", message);
  if (code == 503) r.headers.emplace_back("Retry-After", "5");
  return r;
}

}  // namespace

std::string sse_message(const events::event& e) {
  return "event: " + e.type + "\nid: " + e.id + "\ndata: " + events::encode_json(e) + "\n\n";
}

result<std::string> request_correlation_id(const request& req) {
  auto h = req.header("x-correlation-id");
  if (h.empty()) return events::new_correlation_id();
  if (auto st = events::check_correlation_id(h, "X-Correlation-Id"); !st) return st;
  return std::string(h);
}

void publish_collected(events::bus* b, const std::string& correlation_id, const char* protocol, uint64_t accepted,
                       uint64_t rejected) {
  if (!b) return;
  nlohmann::json data = {{"protocol", protocol}, {"accepted", accepted}, {"rejected", rejected}};
  b->publish(std::string(events::metrics_collected), correlation_id, data.dump());
}

void register_events_api(server& srv, events::bus& b, events_api_options o, metrics_registry& metrics) {
  auto st = std::make_shared<events_state>();
  st->bus = &b;
  st->opts = o;
  st->rejected = &metrics.counter("strata_event_streams_rejected_total",
                                  "Event stream requests refused with 503 because --events-max-streams were open.");
  st->rejected->add({}, 0);
  metrics.gauge("strata_event_streams", "Open event streams (GET /api/v1/events) on this node.",
                [n = st->open] { return static_cast<double>(n->load()); });
  srv.route({"GET"}, "/api/v1/events", [st](request&& req, respond_fn respond) {
    std::string spec;
    for (const auto& t : req.params_named("type")) spec += (spec.empty() ? "" : ",") + t;
    if (req.has_param("type") && spec.empty()) return respond(json_error_reply(400, "type: empty event type list"));
    auto filter = events::type_filter::parse(spec, "type");
    if (!filter) return respond(json_error_reply(400, filter.error().message()));
    if (st->open->load() >= static_cast<int64_t>(st->opts.max_streams)) {
      st->rejected->add({});
      return respond(json_error_reply(503, "too many event streams open: the limit is " +
                                               std::to_string(st->opts.max_streams) + " (--events-max-streams)"));
    }
    std::string last_id(req.header("last-event-id"));
    if (!last_id.empty())
      if (auto ok = events::check_correlation_id(last_id, "Last-Event-ID"); !ok)
        return respond(json_error_reply(400, ok.message()));
    auto sub = std::make_shared<std::atomic<events::bus::subscription>>(0);
    response r;
    r.content_type = "text/event-stream; charset=utf-8";
    r.headers.emplace_back("X-Accel-Buffering", "no");
    r.stream = std::make_shared<stream_body>();
    r.stream->max_queued = st->opts.stream_queue;
    r.stream->keepalive = ": keep-alive\n\n";
    r.stream->keepalive_interval = st->opts.keepalive;
    r.stream->opened = [st, sub, f = std::move(*filter), last_id](std::shared_ptr<stream> s) {
      ++*st->open;
      s->write(": subscribed\n\n");
      auto c = std::make_shared<stream_consumer>(s);
      if (last_id.empty()) return sub->store(st->bus->subscribe(f, c));
      auto r = st->bus->subscribe_after(f, c, last_id);
      sub->store(r.id);
      if (r.id == 0) return;  // the replay overflowed the stream's queue: it is closed
      s->write(r.found ? ": resumed after " + last_id + ": " + std::to_string(r.replayed) + " events replayed\n\n"
                       : ": " + last_id + " is not in this node's history of its last " +
                             std::to_string(st->bus->history_size()) + " events: " + std::to_string(r.replayed) +
                             " replayed, earlier ones may be missing\n\n");
    };
    r.stream->closed = [st, sub] {
      st->bus->unsubscribe(sub->load());
      --*st->open;
    };
    respond(std::move(r));
  });
}

}  // namespace strata::http
