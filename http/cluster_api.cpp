#include "http/cluster_api.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "actors/hints.hpp"

namespace strata::http {
namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

response json_response(std::string body, int code = 200) {
  response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

std::string cluster_json(const api_context& c, const cluster_api_options& o) {
  auto v = c.table.snapshot();
  nlohmann::json j;
  j["status"] = "success";
  auto& d = j["data"];
  d["self"] = c.self_address;
  d["members"] = v->members;
  d["down"] = v->down;
  d["replication_factor"] = v->rf;
  d["epochs"] = v->epochs ? v->epochs->epochs().size() : 0;
  // Partitions each live member holds now: as the first replica, and in all.
  std::map<std::string, std::pair<uint32_t, uint32_t>> parts;
  if (v->replicas > 0)
    for (size_t p = 0; p * v->replicas < v->owners.size(); ++p)
      for (uint32_t k = 0; k < v->replicas; ++k) {
        auto& [primary, all] = parts[v->members[v->owners[p * v->replicas + k]]];
        primary += k == 0;
        ++all;
      }
  cluster::member_health::snapshot_t health;
  if (o.health) health = o.health->snapshot();
  auto& states = d["member_states"] = nlohmann::json::array();
  for (const auto& m : cluster::member_states(v->members, v->down, c.self_address, c.ready.load(), health, wall_ms(),
                                              o.suspect_after_ms)) {
    nlohmann::json s = {{"address", m.address}, {"state", m.state}, {"silent_ms", m.silent_ms}};
    auto it = parts.find(m.address);
    s["primary_partitions"] = it == parts.end() ? 0 : it->second.first;
    s["partitions"] = it == parts.end() ? 0 : it->second.second;
    // Lag: the hinted-handoff bytes this node still holds for it.
    s["hints_bytes"] = o.hints_dir.empty() || m.address == c.self_address
                           ? 0
                           : actors::hints_pending_bytes(o.hints_dir, m.address);
    states.push_back(std::move(s));
  }
  auto& shards = d["shards"] = nlohmann::json::array();
  for (const auto& s : v->shards) shards.push_back({{"node", s.node}, {"index", s.index}, {"local", s.local}});
  return j.dump();
}

}  // namespace

void register_cluster_api(server& srv, const api_context& ctx, cluster_api_options o) {
  const api_context* c = &ctx;
  auto opts = std::make_shared<const cluster_api_options>(std::move(o));
  srv.route({"GET"}, "/api/v1/status/cluster",
            [c, opts](request&&, respond_fn r) { r(json_response(cluster_json(*c, *opts))); });
  srv.route({"POST"}, "/api/v1/cluster/leave", [opts](request&&, respond_fn r) {
    if (!opts->leave)
      return r(json_response(R"({"status":"error","errorType":"unavailable","error":"leave is not available"})", 503));
    opts->leave();
    r(json_response(R"({"status":"success","data":{"left":true}})"));
  });
}

}  // namespace strata::http
