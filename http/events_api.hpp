#pragma once
// The event stream over HTTP (docs/api/events.md): GET /api/v1/events as
// Server-Sent Events, and the helpers write handlers use to publish
// metrics.collected.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/metrics.hpp"
#include "common/status.hpp"
#include "events/bus.hpp"
#include "http/server.hpp"

namespace strata::http {

struct events_api_options {
  size_t max_streams = 256;   // open streams on this node; beyond: 503 with Retry-After
  size_t stream_queue = 1024;  // events waiting for one slow client before it is dropped
  std::chrono::milliseconds keepalive{15000};
};

// GET /api/v1/events?type=a,b (several `type` parameters add up; none: every
// type): one SSE message per event (`event:` type, `id:`, `data:` the event
// JSON), a `: keep-alive` comment when idle. Registers
// strata_event_streams and strata_event_streams_rejected_total.
// REQUIRES: b and metrics outlive the server.
void register_events_api(server& srv, events::bus& b, events_api_options o, metrics_registry& metrics);

// One Server-Sent Events message for `e`.
std::string sse_message(const events::event& e);

// The correlation id of a write: the X-Correlation-Id header when sent (an
// invalid one is bad_request naming the header), else a fresh one.
result<std::string> request_correlation_id(const request& req);

// Publishes metrics.collected ({"protocol","accepted","rejected"}); nothing when b is null.
void publish_collected(events::bus* b, const std::string& correlation_id, const char* protocol, uint64_t accepted,
                       uint64_t rejected);

}  // namespace strata::http
