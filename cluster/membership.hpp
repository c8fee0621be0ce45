#pragma once
// Cluster membership, walking-skeleton form: the node actor of every node is
// published on its cluster port. A node joins its seeds; a join answers with
// the joiner's view of the cluster (its own shards and the addresses of every
// member), so every node ends up connected to every other (full mesh). Peers
// are monitored; a lost peer is retried every `retry_interval` until it is back.
// Every change opens an epoch of the partition ring (cluster/ring.hpp),
// persists the history, sends it to every peer (which merge it) and rewrites
// the shard_table that collectors and queries read.
// Heartbeats: every heartbeat_interval each member gets (hb, address); the
// time a peer was last heard shows its state (member_health).
// Events: the node actor takes (evpublish, json) from its own node and sends
// (evremote, json) once to every live peer; a peer hands it to on_event and
// never forwards it again.
// Replicated state (the rules' alert store): publish_state sends a blob to
// every live peer, send_state to one; a peer hands it to on_state. on_peer_up
// tells the owner of that state which peer came up (to send it everything).
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/shard_table.hpp"
#include "cluster/health.hpp"
#include "common/status.hpp"

namespace strata::cluster {

struct node_options {
  std::string host = "127.0.0.1";  // cluster listen host
  uint16_t port = 9202;            // cluster listen port (0 picks one)
  std::vector<std::string> seeds;  // host:port of nodes to join
  std::chrono::milliseconds retry_interval{1000};
  std::chrono::milliseconds join_timeout{5000};
  // Where the addresses of every peer ever met are kept, so that a restarted
  // node rejoins them at once, seeds or not. Empty: not kept.
  std::string peers_file;
  // Gets every event another node's actor forwards (evremote: the event's
  // JSON); runs on the node actor, must not block. Empty: dropped.
  std::function<void(const std::string&)> on_event;
  // Get replicated state from peers and the address of each peer that comes
  // up; both run on the node actor and must not block. Empty: dropped.
  std::function<void(const std::string&)> on_state;
  std::function<void(const std::string&)> on_peer_up;
  // Replicas of every partition (--replication-factor, 1 to 5).
  uint32_t replication_factor = 1;
  // Where the epoch history is kept (docs/format/epochs.md). Empty: not kept.
  std::string epochs_file;
  // Every member gets a heartbeat this often; `health` records when each
  // peer was last heard and who left (null: not recorded).
  std::chrono::milliseconds heartbeat_interval{500};
  std::shared_ptr<member_health> health;
  // Nodes talk over TLS (caf::openssl): publish and connect through the
  // OpenSSL middleman. REQUIRES the system loaded caf::openssl::manager.
  bool tls = false;
  // Merges this node's shards' partials (actors/aggregator.hpp); peers learn
  // it at join. Null: peers ask this node's shards one by one.
  caf::actor aggregator;
};

struct started_node {
  caf::actor actor;
  std::string address;  // host:port as other nodes know this one
  // Becomes true once the first attempt to reach every known peer has ended
  // (joined or failed), so readiness can wait for the node's first view.
  std::shared_ptr<std::atomic<bool>> first_round_done;
};

// Publishes the node actor on opts.host:opts.port and starts joining seeds.
// REQUIRES: the middleman is loaded; `table` outlives the node actor.
result<started_node> start_node(caf::actor_system& sys, actors::shard_table& table,
                                std::vector<caf::actor> local_shards, const node_options& opts);

// The node actor alone, not published (start_node publishes it): what
// start_node runs, and what tests drive with CAF's testing scheduler.
started_node spawn_node(caf::actor_system& sys, actors::shard_table& table, std::vector<caf::actor> local_shards,
                        std::string address, const node_options& opts);

// Sends `blob` to every live peer's on_state (publish_state), or to the one
// at `peer` (send_state; dropped when it is not a live member).
void publish_state(const caf::actor& node, std::string blob);
void send_state(const caf::actor& node, std::string peer, std::string blob);

// Graceful leave: the node tells every peer it leaves (they drop it from
// their members and peer files at once, open an epoch without it, and show
// it as `left`), forgets its peers and stops joining. The process should be
// stopped next; started again with --seeds, it joins as a new member.
void leave(const caf::actor& node);

// "host:port" -> (host, port); error names the text.
result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address);

}  // namespace strata::cluster
