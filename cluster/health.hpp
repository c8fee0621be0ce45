#pragma once
// Member states as users see them (GET /api/v1/status/cluster, `strata
// cluster status`): the membership actor records when it last heard each
// peer (heartbeats) and who left; member_states() classifies every node it
// knows. Plain logic, no actor system; member_health is thread-safe (the
// actor writes, HTTP threads read).
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace strata::cluster {

class member_health {
 public:
  struct snapshot_t {
    std::map<std::string, int64_t> last_heard_ms;  // by peer address
    std::set<std::string> left;                    // peers that left gracefully
  };
  void heard(const std::string& peer, int64_t now_ms);
  void left(const std::string& peer);    // also forgets when it was heard
  void joined(const std::string& peer);  // a peer that left and came back
  snapshot_t snapshot() const;

 private:
  mutable std::mutex mu_;
  snapshot_t s_;
};

struct member_status {
  std::string address;
  // joining: this node, before its first round of joins ended;
  // up: live, heard from within suspect_after_ms (this node: ready);
  // suspect: live (connected) but silent for longer;
  // down: known, not connected; left: left the cluster gracefully.
  std::string state;
  int64_t silent_ms = 0;  // since last heard (0 for this node and for never heard)
};

// Every node this one knows, sorted by address: `members` (live, self
// included), `down`, and the health record's `left`.
std::vector<member_status> member_states(const std::vector<std::string>& members, const std::vector<std::string>& down,
                                         const std::string& self, bool self_ready,
                                         const member_health::snapshot_t& health, int64_t now_ms,
                                         int64_t suspect_after_ms);

}  // namespace strata::cluster
