// The Beast side of http::server.
//
// Ownership and threads:
//  - core owns the io_context, the acceptor, the io threads and the registry
//    of open connections (shared_ptrs). A connection removes itself from the
//    registry when it closes; stop() closes whatever is left.
//  - A connection runs on its own strand. While a handler works on a
//    request no I/O is pending on it; the registry keeps it alive.
//  - A respond_fn holds a weak_ptr to its connection and a shared_ptr to
//    delivery_state (not to core), so it may outlive the server. Delivery
//    posts onto the connection's strand under delivery_state::mu, and stop()
//    sets `stopped` under the same mutex before it stops the io_context: a
//    respond_fn never posts into a stopped or destroyed io_context.
#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "http/params.hpp"
#include "http/prom_json.hpp"

namespace strata::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

std::string_view request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

std::string_view request::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

std::vector<std::string> request::params_named(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params)
    if (k == name) out.push_back(v);
  return out;
}

bool request::has_param(std::string_view name) const {
  for (const auto& p : params)
    if (p.first == name) return true;
  return false;
}

namespace {

constexpr uint32_t header_limit_bytes = 1 << 20;  // Go's http.DefaultMaxHeaderBytes
constexpr auto linger_time = std::chrono::seconds(2);
constexpr const char* unmatched_route = "unmatched";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The media type of a Content-Type value, lowercased, without parameters.
std::string media_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return lower(v);
}

// Header text a handler passes on must not end the header line early.
bool header_safe(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

bool is_http_error(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_version).category();
}

struct route_entry {
  std::vector<std::string> methods;
  std::string label;
  handler h;
};

struct delivery_state {
  std::mutex mu;
  bool stopped = false;
};

class connection;

// Everything behind http::server. Member order matters: io_context first,
// so that it is destroyed last (pending handlers may own connections).
struct core {
  core(server_options o, metrics_registry& m)
      : opts(std::move(o)),
        requests(m.counter("strata_http_requests_total", "HTTP requests by route and status code.", {"route", "code"})),
        durations(m.histogram("strata_http_request_duration_seconds",
                              "Time from a request read to its response written, by route.", {"route"},
                              {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
        delivery(std::make_shared<delivery_state>()),
        in_flight(std::make_shared<std::atomic<int64_t>>(0)) {
    m.gauge("strata_http_requests_in_flight", "HTTP requests read and not yet answered.",
            [n = in_flight] { return static_cast<double>(n->load(std::memory_order_relaxed)); });
  }

  net::io_context ioc;
  server_options opts;
  counter_family& requests;
  histogram_family& durations;
  std::shared_ptr<delivery_state> delivery;
  std::shared_ptr<std::atomic<int64_t>> in_flight;  // shared with the gauge, which may outlive the server

  std::map<std::string, route_entry, std::less<>> exact;
  std::vector<std::pair<std::string, route_entry>> prefixes;  // longest first once started

  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;
  bool started = false;

  std::mutex conns_mu;
  std::unordered_map<connection*, std::shared_ptr<connection>> conns;

  // The route for a path: exact match first, then the longest prefix; nullptr when none.
  const route_entry* find(std::string_view path) const {
    if (auto it = exact.find(path); it != exact.end()) return &it->second;
    for (const auto& [prefix, r] : prefixes)
      if (path.substr(0, prefix.size()) == prefix) return &r;
    return nullptr;
  }

  void record(const std::string& label, int code, std::chrono::steady_clock::time_point since) {
    requests.add({label, std::to_string(code)});
    durations.observe({label}, std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
  }

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void forget(connection* c) {
    std::lock_guard<std::mutex> lock(conns_mu);
    conns.erase(c);
  }
};

// One client connection; every member function runs on its strand, except
// close_now() (only while no io thread runs).
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket s, core& c) : stream_(std::move(s)), core_(c) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  void close_now() {
    end_request();
    closed_ = true;
    beast::error_code ec;
    stream_.socket().close(ec);
    end_stream();
  }

  // Sends the response to the request being handled.
  void send(response r) {
    if (closed_ || !awaiting_) return;
    awaiting_ = false;
    if (r.stream && !head_) return start_stream(std::move(r));
    write(std::move(r), !keep_alive_, false);
  }

  // A streamed body: writes queue here; the strand sends them in order.
  struct stream_state final : http::stream {
    std::shared_ptr<delivery_state> delivery;
    std::weak_ptr<connection> conn;
    size_t max_queued = 0;
    std::mutex mu;
    std::deque<std::string> queue;
    bool open = true;
    bool writing = false;  // a pump is scheduled or a write is in flight
    std::atomic<bool> overflow{false};

    bool write(std::string bytes) override {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!open) return false;
        if (queue.size() >= max_queued) {
          open = false;
          overflow = true;
          queue.clear();
          post([](connection& c) { c.end_stream(); });
          return false;
        }
        queue.push_back(std::move(bytes));
        if (writing) return true;
        writing = true;
      }
      post([](connection& c) { c.pump_stream(); });
      return true;
    }
    bool overflowed() const override { return overflow.load(); }
    void close() override {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!open) return;
        open = false;
      }
      post([](connection& c) { c.end_stream(); });
    }
    template <class F>
    void post(F f) {
      std::lock_guard<std::mutex> lock(delivery->mu);
      if (delivery->stopped) return;
      if (auto c = conn.lock()) net::post(c->executor(), [c, f] { f(*c); });
    }
  };

  void start_stream(response r) {
    end_request();
    core_.record(label_, r.status, started_);
    stream_.expires_never();
    body_ = std::move(r.stream);
    std::string head = "HTTP/1.1 " + std::to_string(r.status >= 100 && r.status <= 999 ? r.status : 500) + " " +
                       std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(r.status))) + "\r\n";
    if (header_safe(r.content_type)) head += "Content-Type: " + r.content_type + "\r\n";
    for (const auto& [name, value] : r.headers)
      if (!name.empty() && header_safe(name) && header_safe(value)) head += name + ": " + value + "\r\n";
    head += "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    streaming_ = std::make_shared<stream_state>();
    streaming_->delivery = core_.delivery;
    streaming_->conn = weak_from_this();
    streaming_->max_queued = std::max<size_t>(1, body_->max_queued);
    streaming_->queue.push_back(std::move(head));
    streaming_->writing = true;
    pump_stream();
    watch_stream();
    if (!body_->keepalive.empty()) {
      keepalive_.emplace(stream_.get_executor());
      arm_keepalive();
    }
    if (body_->opened) body_->opened(streaming_);
  }

  // The client sends nothing more; a read that ends means it went away.
  void watch_stream() {
    stream_.socket().async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->end_stream();
      self->watch_stream();
    });
  }

  void arm_keepalive() {
    keepalive_->expires_after(body_->keepalive_interval);
    keepalive_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->streaming_) return;
      self->streaming_->write(self->body_->keepalive);
      self->arm_keepalive();
    });
  }

  void pump_stream() {
    if (!streaming_) return;
    {
      std::lock_guard<std::mutex> lock(streaming_->mu);
      if (streaming_->queue.empty() || !streaming_->open) {
        streaming_->writing = false;
        return;
      }
      out_.clear();
      for (auto& piece : streaming_->queue) out_ += piece;
      streaming_->queue.clear();
    }
    stream_.expires_after(core_.opts.idle_timeout);
    net::async_write(stream_, net::buffer(out_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->end_stream();
      self->pump_stream();
    });
  }

  void end_stream() {
    if (!streaming_) return;
    {
      std::lock_guard<std::mutex> lock(streaming_->mu);
      streaming_->open = false;
      streaming_->queue.clear();
    }
    streaming_.reset();
    if (keepalive_) keepalive_->cancel();
    auto body = std::move(body_);
    finish();
    if (body && body->closed) body->closed();
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void read_request() {
    if (closed_) return;
    parser_.emplace();
    head_ = false;
    parser_->body_limit(core_.opts.max_body_bytes);
    parser_->header_limit(header_limit_bytes);
    label_ = unmatched_route;
    stream_.expires_after(core_.opts.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    begin_request();
    const auto& msg = parser_->get();
    if (parser_->is_done()) return dispatch();
    if (beast::iequals(msg[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, msg.version());
      bhttp::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
        if (wec) return self->finish();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(core_.opts.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->on_read_error(ec);
      self->dispatch();
    });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      begin_request();
      version_ = parser_->get().version();
      std::string_view target(parser_->get().target().data(), parser_->get().target().size());
      if (const route_entry* r = core_.find(target.substr(0, target.find('?')))) label_ = r->label;
      return fail_request(413,
                          "request body exceeds the limit of " + std::to_string(core_.opts.max_body_bytes) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
      begin_request();
      return fail_request(431, "request header exceeds the limit of " + std::to_string(header_limit_bytes) + " bytes");
    }
    if (is_http_error(ec) && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      begin_request();
      return fail_request(400, "malformed HTTP request: " + ec.message());
    }
    finish();  // closed by the peer, timed out, or stopped
  }

  // Answers with a JSON error and closes the connection.
  void fail_request(int code, std::string message) {
    response r;
    r.status = code;
    r.body = error_json("bad_data", message);
    keep_alive_ = false;
    write(std::move(r), true, true);
  }

  void dispatch() {
    auto& msg = parser_->get();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;

    request req;
    req.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    size_t q = target.find('?');
    auto path = percent_decode(target.substr(0, q), false);
    if (!path) return respond_now(400, "bad_data", path.error().message(), false);
    req.path = std::move(*path);
    if (q != std::string_view::npos) {
      auto params = parse_form(target.substr(q + 1));
      if (!params) return respond_now(400, "bad_data", "error parsing form values: " + params.error().message(), false);
      req.params = std::move(*params);
    }
    req.headers.reserve(std::distance(msg.begin(), msg.end()));
    for (const auto& f : msg)
      req.headers.emplace_back(lower({f.name_string().data(), f.name_string().size()}),
                               std::string(f.value().data(), f.value().size()));
    if (msg.method() == bhttp::verb::post &&
        media_type(req.header("content-type")) == "application/x-www-form-urlencoded") {
      auto form = parse_form(msg.body());
      if (!form) return respond_now(400, "bad_data", "error parsing form values: " + form.error().message(), false);
      for (auto& p : *form) req.params.push_back(std::move(p));
    }
    req.body = std::move(msg.body());
    parser_.reset();

    const route_entry* r = core_.find(req.path);
    if (!r) return respond_now(404, "not_found", "unknown path " + req.path, false);
    label_ = r->label;
    if (std::find(r->methods.begin(), r->methods.end(), req.method) == r->methods.end()) {
      std::string allow;
      for (const auto& m : r->methods) allow += (allow.empty() ? "" : ", ") + m;
      response res;
      res.status = 405;
      res.body =
          error_json("bad_data", "method " + req.method + " not allowed for " + req.path + "; allowed: " + allow);
      res.headers.emplace_back("Allow", allow);
      return write(std::move(res), !keep_alive_, false);
    }
    call_handler(*r, std::move(req));
  }

  void respond_now(int code, std::string_view type, const std::string& message, bool close) {
    response r;
    r.status = code;
    r.body = error_json(type, message);
    write(std::move(r), close || !keep_alive_, false);
  }

  // Completes a request once; when dropped uncompleted, answers 500.
  struct pending {
    std::shared_ptr<delivery_state> state;
    std::weak_ptr<connection> conn;
    std::atomic<bool> done{false};

    pending(std::shared_ptr<delivery_state> s, std::weak_ptr<connection> c) : state(std::move(s)), conn(std::move(c)) {}
    ~pending() {
      if (done.load()) return;
      response r;
      r.status = 500;
      r.body = error_json("internal", "the request handler did not respond");
      deliver(std::move(r));
    }
    void complete(response r) {
      if (done.exchange(true)) return;
      deliver(std::move(r));
    }
    void deliver(response r) {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->stopped) return;
      if (auto c = conn.lock()) net::post(c->executor(), [c, r = std::move(r)]() mutable { c->send(std::move(r)); });
    }
  };

  void call_handler(const route_entry& r, request&& req) {
    awaiting_ = true;
    stream_.expires_never();
    auto p = std::make_shared<pending>(core_.delivery, weak_from_this());
    respond_fn fn = [p](response res) { p->complete(std::move(res)); };
    try {
      r.h(std::move(req), std::move(fn));
    } catch (const std::exception& e) {
      response res;
      res.status = 500;
      res.body = error_json("internal", std::string("request handler failed: ") + e.what());
      p->complete(std::move(res));
    } catch (...) {
      response res;
      res.status = 500;
      res.body = error_json("internal", "request handler failed");
      p->complete(std::move(res));
    }
  }

  void write(response r, bool close, bool linger) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    int code = r.status >= 100 && r.status <= 999 ? r.status : 500;
    res->version(version_);
    res->result(static_cast<unsigned>(code));
    if (!r.content_type.empty() && code != 204 && code != 304 && header_safe(r.content_type))
      res->set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers)
      if (!name.empty() && header_safe(name) && header_safe(value)) res->insert(name, value);
    res->keep_alive(!close);
    if (code >= 200 && code != 204 && code != 304) res->body() = std::move(r.body);
    res->prepare_payload();
    if (head_) res->body().clear();  // Content-Length stays that of the GET
    stream_.expires_after(core_.opts.idle_timeout);
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, code, close, linger](beast::error_code ec, size_t) {
                         self->on_write(ec, code, close || res->need_eof(), linger);
                       });
  }

  // A request counts as in flight from its header read to its answer written
  // (or the connection closed).
  void begin_request() {
    started_ = std::chrono::steady_clock::now();
    if (!in_flight_) core_.in_flight->fetch_add(1, std::memory_order_relaxed);
    in_flight_ = true;
  }
  void end_request() {
    if (in_flight_) core_.in_flight->fetch_sub(1, std::memory_order_relaxed);
    in_flight_ = false;
  }

  void on_write(beast::error_code ec, int code, bool close, bool linger) {
    end_request();
    core_.record(label_, code, started_);
    if (ec) return finish();
    if (!close) return read_request();
    if (linger) return linger_close();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    finish();
  }

  // After an error answer the client may still be sending; reading and
  // dropping its bytes for a while keeps the kernel from resetting the
  // connection before the client has read the answer.
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_time);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->finish();
      self->drain();
    });
  }

  void finish() {
    end_request();
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    core_.forget(this);
  }

  beast::tcp_stream stream_;
  core& core_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string label_ = unmatched_route;
  std::chrono::steady_clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool awaiting_ = false;
  bool closed_ = false;
  bool in_flight_ = false;
  char scratch_[4096];
  // While a streamed body is open:
  std::shared_ptr<stream_state> streaming_;
  std::shared_ptr<stream_body> body_;
  std::optional<net::steady_timer> keepalive_;
  std::string out_;  // the bytes in flight
};

void core::do_accept() {
  acceptor->async_accept(net::make_strand(ioc),
                         [this](beast::error_code ec, tcp::socket s) { on_accept(ec, std::move(s)); });
}

void core::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {
    // Out of descriptors and the like: try again shortly instead of spinning.
    spdlog::warn("http: accept failed: {}", ec.message());
    accept_retry->expires_after(std::chrono::milliseconds(100));
    accept_retry->async_wait([this](beast::error_code wec) {
      if (!wec) do_accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::shared_ptr<connection> c;
  {
    std::lock_guard<std::mutex> lock(conns_mu);
    if (conns.size() < opts.max_connections) {
      c = std::make_shared<connection>(std::move(socket), *this);
      conns.emplace(c.get(), c);
    }
  }
  if (c)
    c->start();
  else
    socket.close(ignored);
  do_accept();
}

}  // namespace

struct server::impl : core {
  using core::core;
};

server::server(server_options o, metrics_registry& metrics) : impl_(std::make_unique<impl>(std::move(o), metrics)) {}

server::~server() { stop(); }

void server::route(std::vector<std::string> methods, std::string path, handler h) {
  std::string label = path;
  impl_->exact[std::move(path)] = route_entry{std::move(methods), std::move(label), std::move(h)};
}

void server::route_prefix(std::vector<std::string> methods, std::string prefix, std::string route_label, handler h) {
  impl_->prefixes.emplace_back(std::move(prefix),
                               route_entry{std::move(methods), std::move(route_label), std::move(h)});
}

status server::start() {
  auto& c = *impl_;
  if (c.started) return error(strata_errc::internal, "http server already started");
  std::stable_sort(c.prefixes.begin(), c.prefixes.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::string where = c.opts.host + ":" + std::to_string(c.opts.port);
  beast::error_code ec;
  tcp::endpoint ep;
  auto addr = net::ip::make_address(c.opts.host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, c.opts.port);
  } else {
    tcp::resolver resolver(c.ioc);
    auto found = resolver.resolve(c.opts.host, std::to_string(c.opts.port), ec);
    if (ec || found.empty())
      return error(strata_errc::bad_request, "cannot listen on " + where + ": cannot resolve host: " + ec.message());
    ep = found.begin()->endpoint();
  }
  c.acceptor.emplace(c.ioc);
  auto fail = [&](const char* what) {
    beast::error_code ignored;
    c.acceptor->close(ignored);
    return error(strata_errc::unavailable, "cannot listen on " + where + ": " + what + ": " + ec.message());
  };
  if (c.acceptor->open(ep.protocol(), ec); ec) return fail("open");
  if (c.acceptor->set_option(net::socket_base::reuse_address(true), ec); ec) return fail("setsockopt");
  if (c.acceptor->bind(ep, ec); ec) return fail("bind");
  if (c.acceptor->listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  c.bound_port = c.acceptor->local_endpoint(ec).port();
  c.accept_retry.emplace(c.ioc);
  c.work.emplace(c.ioc.get_executor());
  c.started = true;
  c.do_accept();
  int n = std::max(1, c.opts.threads);
  for (int i = 0; i < n; ++i)
    c.threads.emplace_back([&c] {
      for (;;) {
        try {
          c.ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: io thread caught: {}", e.what());
        }
      }
    });
  return {};
}

uint16_t server::port() const { return impl_->bound_port; }

void server::stop() {
  auto& c = *impl_;
  {
    std::lock_guard<std::mutex> lock(c.delivery->mu);
    if (c.delivery->stopped) return;
    c.delivery->stopped = true;
  }
  c.work.reset();
  c.ioc.stop();
  for (auto& t : c.threads) t.join();
  c.threads.clear();
  // No io thread runs now: closing sockets here races with nothing.
  beast::error_code ignored;
  if (c.acceptor) c.acceptor->close(ignored);
  if (c.accept_retry) c.accept_retry->cancel();
  std::unordered_map<connection*, std::shared_ptr<connection>> left;
  {
    std::lock_guard<std::mutex> lock(c.conns_mu);
    left.swap(c.conns);
  }
  for (auto& [p, conn] : left) conn->close_now();
}

}  // namespace strata::http
