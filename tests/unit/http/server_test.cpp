// http::server over real loopback sockets, with a small blocking client.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace strata::http {
namespace {

using namespace std::chrono_literals;

struct reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
};

// One blocking HTTP/1.1 connection; every read gives up after 10 s.
class client {
 public:
  explicit client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response; with_body false for answers to HEAD.
  std::optional<reply> read(bool with_body = true) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    reply r;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (!with_body || r.status < 200) return r;
    size_t len = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buf_.size() < len)
      if (!fill()) return std::nullopt;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  // Reads until `needle` has arrived; everything read so far (from the end
  // of the last response read) is in `got`. False on EOF or timeout.
  bool read_until(std::string_view needle, std::string& got) {
    while (buf_.find(needle) == std::string::npos)
      if (!fill()) {
        got = buf_;
        return false;
      }
    got = buf_;
    return true;
  }

  // True when the server closed the connection (EOF or reset) within 10 s.
  bool closed_by_peer() {
    char c;
    for (;;) {
      ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool fill() {
    char tmp[4096];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra_headers) + "\r\n";
}

std::string post_form(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

response text(std::string body, int code = 200) {
  response r;
  r.status = code;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Polls `pred` for up to 5 s.
template <class Pred>
bool eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class ServerTest : public ::testing::Test {
 protected:
  void start(server_options o = {}) {
    o.port = 0;
    srv_ = std::make_unique<server>(o, metrics_);
    routes();
    auto st = srv_->start();
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_NE(srv_->port(), 0);
  }

  // Registers the routes most tests use; tests add their own before start.
  void routes() {
    srv_->route({"GET", "POST"}, "/echo", [this](request&& req, respond_fn respond) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = req;
      }
      std::string out = req.method + " " + req.path;
      for (const auto& [k, v] : req.params) out += "|" + k + "=" + v;
      respond(text(out));
    });
    srv_->route({"GET", "HEAD"}, "/health", [](request&&, respond_fn respond) { respond(text("healthy\n")); });
    srv_->route_prefix({"GET"}, "/api/v1/label/", "/api/v1/label/:name/values",
                       [](request&& req, respond_fn respond) { respond(text("prefix " + req.path)); });
    srv_->route_prefix({"GET"}, "/api/v1/label/special/", "/api/v1/label/special/*",
                       [](request&&, respond_fn respond) { respond(text("longer prefix")); });
    for (auto& [path, h] : extra_) srv_->route({"GET", "POST"}, path, h);
  }

  std::unique_ptr<client> connect() {
    auto c = std::make_unique<client>(srv_->port());
    EXPECT_TRUE(c->connected());
    return c;
  }

  metrics_registry metrics_;
  std::unique_ptr<server> srv_;
  std::vector<std::pair<std::string, handler>> extra_;
  std::mutex mu_;
  std::optional<request> last_;
};

TEST_F(ServerTest, GetWithQueryParams) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(
      get("/echo?query=up%7Bjob%3D%22a%22%7D&time=1.5&match[]=a&match%5B%5D=b+c", "X-Custom-Header: Value\r\n")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->body, "GET /echo|query=up{job=\"a\"}|time=1.5|match[]=a|match[]=b c");
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_TRUE(last_);
  EXPECT_EQ(last_->param("query"), "up{job=\"a\"}");
  EXPECT_EQ(last_->params_named("match[]"), (std::vector<std::string>{"a", "b c"}));
  EXPECT_TRUE(last_->has_param("time"));
  EXPECT_FALSE(last_->has_param("step"));
  EXPECT_EQ(last_->param("step"), "");
  EXPECT_EQ(last_->header("x-custom-header"), "Value");
  EXPECT_EQ(last_->header("host"), "t");
  EXPECT_EQ(last_->header("absent"), "");
}

TEST_F(ServerTest, PostFormParamsFollowUrlParams) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(post_form("/echo?x=1", "query=rate(a%5B5m%5D)+&start=10")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo|x=1|query=rate(a[5m]) |start=10");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_->body, "query=rate(a%5B5m%5D)+&start=10");
}

TEST_F(ServerTest, NonFormBodiesAreNotParsed) {
  start();
  auto c = connect();
  ASSERT_TRUE(
      c->send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-protobuf\r\n"
              "Content-Encoding: snappy\r\nContent-Length: 7\r\n\r\na=b&c=d"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /echo");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(last_->body, "a=b&c=d");
  EXPECT_EQ(last_->header("content-encoding"), "snappy");
}

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/echo?n=1")));
  auto r1 = c->read();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->body, "GET /echo|n=1");
  ASSERT_TRUE(c->send(get("/echo?n=2")));
  auto r2 = c->read();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "GET /echo|n=2");
  // Pipelined: answered in order.
  ASSERT_TRUE(c->send(get("/echo?n=3") + get("/echo?n=4")));
  EXPECT_EQ(c->read()->body, "GET /echo|n=3");
  EXPECT_EQ(c->read()->body, "GET /echo|n=4");
}

TEST_F(ServerTest, Http10ClosesAfterTheResponse) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send("GET /echo HTTP/1.0\r\n\r\n"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(ServerTest, UnknownPathIs404Json) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/nope?x=1")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers["content-type"], "application/json");
  EXPECT_EQ(r->body, R"({"status":"error","errorType":"not_found","error":"unknown path /nope"})");
  // The connection stays usable.
  ASSERT_TRUE(c->send(get("/health")));
  EXPECT_EQ(c->read()->status, 200);
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send("DELETE /health HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->headers["allow"], "GET, HEAD");
  EXPECT_NE(r->body.find("method DELETE not allowed"), std::string::npos) << r->body;
}

TEST_F(ServerTest, HeadSendsHeadersOnly) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send("HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c->read(false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-length"], "8");
  ASSERT_TRUE(c->send(get("/health")));  // no stray body bytes before this answer
  auto g = c->read();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, "healthy\n");
}

TEST_F(ServerTest, PrefixRoutesLongestFirst) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/api/v1/label/job/values")));
  EXPECT_EQ(c->read()->body, "prefix /api/v1/label/job/values");
  ASSERT_TRUE(c->send(get("/api/v1/label/special/values")));
  EXPECT_EQ(c->read()->body, "longer prefix");
  ASSERT_TRUE(c->send(get("/api/v1/label%2Fjob")));  // the path is matched decoded
  EXPECT_EQ(c->read()->body, "prefix /api/v1/label/job");
}

TEST_F(ServerTest, OversizedBodyIs413NamingTheLimit) {
  server_options o;
  o.max_body_bytes = 1000;
  start(o);
  auto c = connect();
  std::string body(5000, 'x');
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
  c->send(body);  // the server may already have answered
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->body,
            R"({"status":"error","errorType":"bad_data","error":"request body exceeds the limit of 1000 bytes"})");
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c->closed_by_peer());
  // A body at the limit is fine.
  auto c2 = connect();
  ASSERT_TRUE(c2->send(post_form("/echo", std::string(1000, 'y'))));
  EXPECT_EQ(c2->read()->status, 200);
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  server_options o;
  o.max_body_bytes = 100;
  start(o);
  auto c = connect();
  std::string chunk(80, 'z');
  ASSERT_TRUE(c->send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" + chunk +
                      "\r\n50\r\n" + chunk + "\r\n0\r\n\r\n"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, ExpectContinueGets100First) {
  start();
  auto c = connect();
  ASSERT_TRUE(
      c->send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
              "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\n"));
  auto cont = c->read();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c->send("a=1"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /echo|a=1");
}

TEST_F(ServerTest, MalformedRequestIs400AndCloses) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send("GET /echo HTTP/9\r\n\r\n"));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("malformed HTTP request"), std::string::npos) << r->body;
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(ServerTest, BadUrlEscapeIs400) {
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/echo?query=%zz")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(
      r->body,
      R"({"status":"error","errorType":"bad_data","error":"error parsing form values: invalid URL escape \"%zz\""})");
}

TEST_F(ServerTest, RespondFromAnotherThreadAfterADelay) {
  std::vector<std::thread> workers;
  std::mutex wmu;
  extra_.emplace_back("/slow", [&](request&&, respond_fn respond) {
    std::lock_guard<std::mutex> lock(wmu);
    workers.emplace_back([respond] {
      std::this_thread::sleep_for(100ms);
      respond(text("late"));
      respond(text("twice"));  // ignored
    });
  });
  start();
  auto c = connect();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->send(get("/slow")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "late");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
  ASSERT_TRUE(c->send(get("/echo")));  // the connection goes on
  EXPECT_EQ(c->read()->body, "GET /echo");
  std::lock_guard<std::mutex> lock(wmu);
  for (auto& w : workers) w.join();
}

TEST_F(ServerTest, RespondAfterStopIsHarmless) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<respond_fn> kept;
  extra_.emplace_back("/hold", [&](request&&, respond_fn respond) {
    std::lock_guard<std::mutex> lock(m);
    kept = std::move(respond);
    cv.notify_all();
  });
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/hold")));
  {
    std::unique_lock<std::mutex> lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return kept.has_value(); }));
  }
  srv_->stop();
  srv_->stop();  // idempotent
  (*kept)(text("too late"));
  srv_.reset();  // the server is gone entirely
  (*kept)(text("later still"));
  kept.reset();  // dropping the last copy is harmless too
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(ServerTest, DroppedRespondFnAnswers500) {
  extra_.emplace_back("/drop", [](request&&, respond_fn) {});
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/drop")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("did not respond"), std::string::npos);
}

TEST_F(ServerTest, ThrowingHandlerAnswers500) {
  extra_.emplace_back("/throw", [](request&&, respond_fn) { throw std::runtime_error("boom"); });
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/throw")));
  auto r = c->read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("boom"), std::string::npos);
}

TEST_F(ServerTest, ExtraHeadersAndNoContent) {
  extra_.emplace_back("/busy", [](request&&, respond_fn respond) {
    response r = text("overloaded", 503);
    r.headers.emplace_back("Retry-After", "1");
    r.headers.emplace_back("X-Bad", "a\r\nInjected: 1");  // dropped, not sent
    respond(std::move(r));
  });
  extra_.emplace_back("/write", [](request&&, respond_fn respond) { respond(text("", 204)); });
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/busy")));
  auto r = c->read();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->headers["retry-after"], "1");
  EXPECT_EQ(r->headers.count("x-bad"), 0u);
  EXPECT_EQ(r->headers.count("injected"), 0u);
  ASSERT_TRUE(c->send(get("/write")));
  auto w = c->read();
  EXPECT_EQ(w->status, 204);
  ASSERT_TRUE(c->send(get("/echo")));
  EXPECT_EQ(c->read()->body, "GET /echo");
}

TEST_F(ServerTest, HundredConcurrentConnectionsOnOneIoThread) {
  constexpr size_t n = 100;
  std::mutex m;
  std::vector<respond_fn> waiting;
  // Answers only once all n requests are in: a server that served one
  // connection at a time would never get there.
  extra_.emplace_back("/gather", [&](request&& req, respond_fn respond) {
    std::vector<respond_fn> all;
    {
      std::lock_guard<std::mutex> lock(m);
      waiting.push_back(std::move(respond));
      if (waiting.size() < n) return;
      all.swap(waiting);
    }
    for (size_t i = 0; i < all.size(); ++i) all[i](text("ok " + std::string(req.param("i"))));
  });
  server_options o;
  o.threads = 1;
  start(o);
  std::vector<std::unique_ptr<client>> clients;
  for (size_t i = 0; i < n; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back()->send(get("/gather?i=" + std::to_string(i))));
  }
  for (auto& c : clients) {
    auto r = c->read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitAreClosed) {
  server_options o;
  o.max_connections = 1;
  start(o);
  auto first = connect();
  ASSERT_TRUE(first->send(get("/echo")));
  ASSERT_TRUE(first->read());
  auto second = connect();
  second->send(get("/echo"));
  EXPECT_TRUE(second->closed_by_peer());
  ASSERT_TRUE(first->send(get("/echo")));  // the first one is unaffected
  EXPECT_EQ(first->read()->status, 200);
}

TEST_F(ServerTest, MetricsUseRouteLabels) {
  start();
  auto c = connect();
  for (const char* target : {"/echo?a=1", "/echo?a=2", "/api/v1/label/job/values", "/no/such/path"}) {
    ASSERT_TRUE(c->send(get(target)));
    ASSERT_TRUE(c->read());
  }
  auto has = [&](const std::string& s) { return metrics_.render().find(s) != std::string::npos; };
  EXPECT_TRUE(eventually([&] { return has("strata_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n"); }));
  EXPECT_TRUE(has("strata_http_requests_total{route=\"/echo\",code=\"200\"} 2\n"));
  EXPECT_TRUE(has("strata_http_requests_total{route=\"/api/v1/label/:name/values\",code=\"200\"} 1\n"));
  EXPECT_TRUE(has("strata_http_request_duration_seconds_count{route=\"/echo\"} 2\n"));
  EXPECT_TRUE(has("strata_http_request_duration_seconds_bucket{route=\"/echo\",le=\"+Inf\"} 2\n"));
  EXPECT_FALSE(has("job/values\""));  // never the raw path
  EXPECT_FALSE(has("/no/such/path"));
}

TEST_F(ServerTest, InFlightCountsRequestsUntilAnswered) {
  // Held by client name: the two requests may reach the handler in either order.
  std::mutex hold_mu;
  std::map<std::string, respond_fn> held;
  extra_.emplace_back("/hold", [&](request&& req, respond_fn respond) {
    std::lock_guard<std::mutex> lock(hold_mu);
    held[std::string(req.param("who"))] = std::move(respond);
  });
  start();
  auto has = [&](const std::string& s) { return metrics_.render().find(s) != std::string::npos; };
  auto answer = [&](const std::string& who, const char* body) {
    std::lock_guard<std::mutex> lock(hold_mu);
    held.at(who)(text(body));
  };
  EXPECT_TRUE(has("strata_http_requests_in_flight 0\n"));
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a->send(get("/hold?who=a")));
  ASSERT_TRUE(b->send(get("/hold?who=b")));
  ASSERT_TRUE(eventually([&] { return has("strata_http_requests_in_flight 2\n"); })) << metrics_.render();
  // A request counts from its arrival, a moment before its handler holds it.
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(hold_mu);
    return held.count("a") && held.count("b");
  }));
  answer("a", "done");
  ASSERT_TRUE(a->read());
  EXPECT_TRUE(eventually([&] { return has("strata_http_requests_in_flight 1\n"); })) << metrics_.render();
  b.reset();  // the client goes away while its request is held
  answer("b", "late");
  EXPECT_TRUE(eventually([&] { return has("strata_http_requests_in_flight 0\n"); })) << metrics_.render();
}

TEST_F(ServerTest, RandomPathsShareOneUnmatchedRouteLabel) {
  start();
  auto c = connect();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c->send(get("/random/" + std::to_string(i * 7919) + "/x")));
    ASSERT_TRUE(c->read());
  }
  auto has = [&](const std::string& s) { return metrics_.render().find(s) != std::string::npos; };
  EXPECT_TRUE(eventually([&] { return has("strata_http_requests_total{route=\"unmatched\",code=\"404\"} 50\n"); }))
      << metrics_.render();
  EXPECT_FALSE(has("/random/"));
}

// A streamed route: the test writes through the stream it was given.
struct stream_probe {
  std::mutex mu;
  std::shared_ptr<stream> s;
  std::atomic<int> closed{0};
  handler route(size_t max_queued, std::string keepalive = "", std::chrono::milliseconds every = 15s) {
    return [this, max_queued, keepalive, every](request&&, respond_fn respond) {
      response r;
      r.content_type = "text/event-stream";
      r.stream = std::make_shared<stream_body>();
      r.stream->max_queued = max_queued;
      r.stream->keepalive = keepalive;
      r.stream->keepalive_interval = every;
      r.stream->opened = [this](std::shared_ptr<stream> st) {
        std::lock_guard<std::mutex> lock(mu);
        s = std::move(st);
      };
      r.stream->closed = [this] { ++closed; };
      respond(std::move(r));
    };
  }
  std::shared_ptr<stream> get() {
    std::lock_guard<std::mutex> lock(mu);
    return s;
  }
};

TEST_F(ServerTest, StreamedBodyIsWrittenUntilTheClientLeaves) {
  stream_probe p;
  extra_.emplace_back("/stream", p.route(16));
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/stream")));
  auto head = c->read(false);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-type"], "text/event-stream");
  EXPECT_EQ(head->headers.count("content-length"), 0u);
  EXPECT_EQ(head->headers["connection"], "close");
  ASSERT_TRUE(eventually([&] { return p.get() != nullptr; }));
  EXPECT_TRUE(p.get()->write("data: a\n\n"));
  EXPECT_TRUE(p.get()->write("data: b\n\n"));
  std::string got;
  ASSERT_TRUE(c->read_until("data: b\n\n", got));
  EXPECT_EQ(got, "data: a\n\ndata: b\n\n");
  EXPECT_EQ(p.closed.load(), 0);
  c.reset();  // the client goes away
  EXPECT_TRUE(eventually([&] { return p.closed.load() == 1; }));
  EXPECT_FALSE(p.get()->write("data: c\n\n"));
  EXPECT_EQ(p.closed.load(), 1);
}

TEST_F(ServerTest, SlowStreamReaderIsDroppedNotWaitedFor) {
  stream_probe p;
  extra_.emplace_back("/stream", p.route(4));
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/stream")));
  ASSERT_TRUE(c->read(false));
  ASSERT_TRUE(eventually([&] { return p.get() != nullptr; }));
  // The client reads nothing more: once the socket buffers are full, writes
  // queue up to the limit, and the next one closes the stream at once.
  std::string mib(1 << 20, 'x');
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = !p.get()->write(mib);
  EXPECT_TRUE(refused);
  EXPECT_TRUE(eventually([&] { return p.closed.load() == 1; }));
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(ServerTest, IdleStreamGetsKeepAlives) {
  stream_probe p;
  extra_.emplace_back("/stream", p.route(4, ": keep-alive\n\n", 20ms));
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/stream")));
  ASSERT_TRUE(c->read(false));
  std::string got;
  ASSERT_TRUE(c->read_until(": keep-alive\n\n: keep-alive\n\n", got));
  srv_->stop();  // ends the stream while `p`, which its close callback touches, is alive
}

TEST_F(ServerTest, StopEndsOpenStreams) {
  stream_probe p;
  extra_.emplace_back("/stream", p.route(4));
  start();
  auto c = connect();
  ASSERT_TRUE(c->send(get("/stream")));
  ASSERT_TRUE(c->read(false));
  ASSERT_TRUE(eventually([&] { return p.get() != nullptr; }));
  srv_->stop();
  EXPECT_EQ(p.closed.load(), 1);
  EXPECT_FALSE(p.get()->write("data: late\n\n"));
}

TEST(Server, StartFailsWhenThePortIsTaken) {
  metrics_registry m1, m2;
  server_options o;
  o.port = 0;
  server a(o, m1);
  ASSERT_TRUE(a.start().is_ok());
  o.port = a.port();
  server b(o, m2);
  auto st = b.start();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(a.port())), std::string::npos) << st.message();
}

TEST(Server, StopWithoutStartIsFine) {
  metrics_registry m;
  server s(server_options{}, m);
  s.stop();
}

}  // namespace
}  // namespace strata::http
