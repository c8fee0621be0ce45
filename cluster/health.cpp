#include "cluster/health.hpp"

#include <algorithm>

namespace strata::cluster {

void member_health::heard(const std::string& peer, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.last_heard_ms[peer] = now_ms;
}

void member_health::left(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.left.insert(peer);
  s_.last_heard_ms.erase(peer);
}

void member_health::joined(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.left.erase(peer);
}

member_health::snapshot_t member_health::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_;
}

std::vector<member_status> member_states(const std::vector<std::string>& members, const std::vector<std::string>& down,
                                         const std::string& self, bool self_ready,
                                         const member_health::snapshot_t& health, int64_t now_ms,
                                         int64_t suspect_after_ms) {
  std::map<std::string, member_status> out;
  for (const auto& a : health.left) out[a] = {a, "left", 0};
  for (const auto& a : down) out[a] = {a, "down", 0};
  for (const auto& a : members) {
    member_status s{a, "up", 0};
    if (a == self) {
      if (!self_ready) s.state = "joining";
    } else if (auto it = health.last_heard_ms.find(a); it != health.last_heard_ms.end()) {
      s.silent_ms = std::max<int64_t>(0, now_ms - it->second);
      if (s.silent_ms > suspect_after_ms) s.state = "suspect";
    }
    out[a] = s;
  }
  std::vector<member_status> v;
  for (auto& [a, s] : out) v.push_back(std::move(s));
  return v;
}

}  // namespace strata::cluster
