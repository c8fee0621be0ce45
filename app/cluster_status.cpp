#include "app/cluster_status.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <optional>

#include "cluster/membership.hpp"

namespace strata::app {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// `verb path` to host:port; the body, or an error message.
result<std::string> http_call(http::verb verb, const std::string& host, uint16_t port, const std::string& path) {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> req{verb, path, 11};
    req.prepare_payload();
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    if (res.result_int() != 200)
      return error(strata_errc::unavailable, "answered HTTP " + std::to_string(res.result_int()) + ": " + res.body());
    return res.body();
  } catch (const std::exception& e) {
    return error(strata_errc::unavailable, e.what());
  }
}

// The node's answer to `verb path`, or an error message printed (nullopt).
std::optional<std::string> ask(const std::string& node_url, http::verb verb, const std::string& path) {
  std::string rest = node_url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto hp = cluster::split_host_port(rest);
  if (!hp) {
    std::fprintf(stderr, "--node: %s (for example --node http://127.0.0.1:9201)\n", hp.error().message().c_str());
    return std::nullopt;
  }
  auto body = http_call(verb, hp->first, hp->second, path);
  if (!body) {
    std::fprintf(stderr, "node %s: %s\n", node_url.c_str(), body.error().message().c_str());
    return std::nullopt;
  }
  return *body;
}

}  // namespace

int cluster_leave(const std::string& node_url) {
  if (!ask(node_url, http::verb::post, "/api/v1/cluster/leave")) return 1;
  std::printf("%s left the cluster; stop its process now (started again with --seeds, it joins as a new member)\n",
              node_url.c_str());
  return 0;
}

int cluster_status(const std::string& node_url) {
  auto body = ask(node_url, http::verb::get, "/api/v1/status/cluster");
  if (!body) return 1;
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.contains("data")) {
    std::fprintf(stderr, "node %s: the answer is not a cluster status\n", node_url.c_str());
    return 1;
  }
  const auto& d = j["data"];
  std::map<std::string, int> shards;
  for (const auto& s : d["shards"]) ++shards[s["node"].get<std::string>()];
  std::printf("asked %s (%s): replication factor %d, %d epochs\n", node_url.c_str(),
              d["self"].get<std::string>().c_str(), d.value("replication_factor", 1), d.value("epochs", 0));
  std::printf("%-24s %-8s %-7s %-11s %-10s %-12s %s\n", "MEMBER", "STATE", "SHARDS", "PARTITIONS", "PRIMARY",
              "HINTS_BYTES", "SILENT_MS");
  for (const auto& m : d["member_states"]) {
    auto name = m["address"].get<std::string>();
    std::printf("%-24s %-8s %-7d %-11d %-10d %-12llu %lld\n", name.c_str(), m["state"].get<std::string>().c_str(),
                shards[name], m.value("partitions", 0), m.value("primary_partitions", 0),
                static_cast<unsigned long long>(m.value("hints_bytes", uint64_t{0})),
                static_cast<long long>(m.value("silent_ms", int64_t{0})));
  }
  return 0;
}

}  // namespace strata::app
