#include "scrape/fetch.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>

namespace strata::scrape {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// The state of one fetch, driven by a private io_context on the caller's
// thread; the deadline closes the socket, which cancels whatever is pending.
struct session {
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bhttp::request<bhttp::empty_body> req;
  bhttp::response_parser<bhttp::string_body> parser;
  fetch_result out;

  void too_large(const fetch_options& o) {
    out.ok = false;
    out.error = "body over the limit of " + std::to_string(o.max_body_bytes) + " bytes (body_size_limit)";
    beast::error_code ignored;
    stream.socket().close(ignored);
  }
  void finish() {
    auto& res = parser.get();
    if (res.result_int() != 200) {
      out.ok = false;
      out.error = "HTTP status " + std::to_string(res.result_int());
      return;
    }
    auto enc = res.find(bhttp::field::content_encoding);
    if (enc != res.end() && enc->value() != "identity") {
      out.ok = false;
      out.error = "unsupported Content-Encoding " + std::string(enc->value());
      return;
    }
    out.ok = true;
    out.content_type = std::string(res[bhttp::field::content_type]);
    out.body = std::move(res.body());
  }
  void fail(const std::string& what, beast::error_code ec) {
    out.ok = false;
    out.error = ec == beast::error::timeout ? what + ": timeout" : what + ": " + ec.message();
  }
};

}  // namespace

fetch_result fetch(const std::string& address, const std::string& path, const fetch_options& o) {
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  session s;
  s.req = {bhttp::verb::get, path, 11};
  s.req.set(bhttp::field::host, address);
  s.req.set(bhttp::field::user_agent, "strata");
  s.req.set(bhttp::field::accept,
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
  char timeout[32];
  std::snprintf(timeout, sizeof timeout, "%g", static_cast<double>(o.timeout_ms) / 1000.0);
  s.req.set("X-Prometheus-Scrape-Timeout-Seconds", timeout);
  s.parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // counted in read_body
  s.parser.header_limit(64 * 1024);

  // Beast's body_limit is not applied to responses in every Boost version:
  // count the body here, read by read, so memory stays bounded.
  std::function<void()> read_body = [&] {
    if (s.parser.is_done()) return s.finish();
    bhttp::async_read_some(s.stream, s.buffer, s.parser, [&](beast::error_code ec, size_t) {
      if (ec) return s.fail("read response", ec);
      if (s.parser.get().body().size() > o.max_body_bytes) return s.too_large(o);
      read_body();
    });
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  s.stream.expires_at(deadline);
  s.resolver.async_resolve(host, port, [&](beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return s.fail("resolve " + host, ec);
    s.stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return s.fail("connect " + address, ec);
      bhttp::async_write(s.stream, s.req, [&](beast::error_code ec, size_t) {
        if (ec) return s.fail("send request", ec);
        bhttp::async_read_header(s.stream, s.buffer, s.parser, [&](beast::error_code ec, size_t) {
          if (ec) return s.fail("read response", ec);
          if (s.parser.content_length() && *s.parser.content_length() > o.max_body_bytes) return s.too_large(o);
          read_body();
        });
      });
    });
  });
  // The resolver has no deadline of its own: bound the whole run.
  s.ioc.run_until(deadline + std::chrono::milliseconds(50));
  if (!s.ioc.stopped()) {
    s.resolver.cancel();
    beast::error_code ignored;
    s.stream.socket().close(ignored);
    s.ioc.restart();
    s.ioc.run_for(std::chrono::milliseconds(100));
    s.out.ok = false;
    s.out.error = "timeout after " + std::to_string(o.timeout_ms) + "ms (scrape_timeout)";
  }
  if (!s.out.ok && s.out.error.empty()) s.out.error = "no response";
  if (!s.out.ok) s.out.body.clear();
  return s.out;
}

}  // namespace strata::scrape
