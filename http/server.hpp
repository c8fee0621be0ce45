#pragma once
// The HTTP/1.1 server of a node (Boost.Beast underneath, kept out of this
// header): keep-alive, TCP_NODELAY, every connection served by a small pool
// of io threads (no thread per connection), handlers that answer
// asynchronously from any thread.
//
// Threads: route() before start(); handlers run on an io thread and must
// not block it (hand slow work elsewhere and call respond_fn later).
// Requests on one connection are answered in order: the next request is read
// only after the previous response was written.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.hpp"
#include "common/status.hpp"

namespace strata::http {

struct request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without query string
  // URL query params, then form body params for POST
  // application/x-www-form-urlencoded (percent-decoded, '+' as space).
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;                                          // as received; Content-Encoding is left to the handler

  std::string_view header(std::string_view lower_name) const;          // "" if absent
  std::string_view param(std::string_view name) const;                 // first value or ""
  std::vector<std::string> params_named(std::string_view name) const;  // e.g. match[]
  bool has_param(std::string_view name) const;
};

// The body of a streamed response (Server-Sent Events), written piece by
// piece for as long as the client stays. write() never blocks: it queues,
// and the connection's io thread sends what is queued.
class stream {
 public:
  virtual ~stream() = default;
  // Queues bytes for the client, from any thread. False when the stream is
  // closed, or when max_queued writes are waiting already: the stream is
  // then closed (a client that reads too slowly is dropped, not waited for).
  virtual bool write(std::string bytes) = 0;
  // Ends the stream and closes the connection (from any thread).
  virtual void close() = 0;
  // True once a write was refused because max_queued writes were waiting.
  virtual bool overflowed() const = 0;
};

struct stream_body {
  // Runs on an io thread once the head is queued; the callee keeps the
  // stream to write to it.
  std::function<void(std::shared_ptr<stream>)> opened;
  // Runs exactly once when the stream ends, whatever ended it: the client
  // went away, was too slow, close(), the server stopped.
  std::function<void()> closed;
  size_t max_queued = 256;  // writes waiting for the socket
  std::string keepalive;    // written every keepalive_interval; empty: none
  std::chrono::milliseconds keepalive_interval{15000};
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Retry-After
  // When set, `body` is ignored: the head goes out without a length
  // (Connection: close), then whatever is written to the stream, until it
  // closes; the connection serves no further request.
  std::shared_ptr<stream_body> stream;
};

// Completes a request exactly once, from any thread; later calls are
// ignored. Calling it after the server stopped is harmless. If every copy is
// destroyed without a call, the client gets a 500.
using respond_fn = std::function<void(response)>;
using handler = std::function<void(request&&, respond_fn)>;

struct server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 9201;  // 0 = pick a free port
  int threads = 2;
  size_t max_body_bytes = 32 << 20;  // larger bodies get 413 naming the limit
  // Beyond this many open connections a new one is accepted and closed at
  // once (the client sees the connection reset or closed, before any
  // request is read).
  size_t max_connections = 10000;
  std::chrono::seconds idle_timeout{60};  // also bounds reading one request and writing one response
};

class server {
 public:
  // Registers strata_http_requests_total{route,code},
  // strata_http_request_duration_seconds{route} and
  // strata_http_requests_in_flight in `metrics` (one server per registry).
  // Requests that match no route are labelled route="unmatched". REQUIRES: metrics outlives the server.
  server(server_options o, metrics_registry& metrics);
  ~server();  // stops
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Exact path match; the path is also the route label in metrics.
  // methods like {"GET","POST"}. REQUIRES: not started yet.
  void route(std::vector<std::string> methods, std::string path, handler h);
  // Prefix match (e.g. "/api/v1/label/"), tried after exact routes, longest
  // prefix first; route_label (e.g. "/api/v1/label/:name/values") is the
  // metrics label. REQUIRES: not started yet.
  void route_prefix(std::vector<std::string> methods, std::string prefix, std::string route_label, handler h);

  // Binds and listens and starts the io threads; the error names host:port.
  // REQUIRES: called once.
  status start();
  uint16_t port() const;  // the bound port (after start)
  // Closes the listener and every connection and joins the io threads.
  // Idempotent. Pending respond_fns become no-ops.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace strata::http
