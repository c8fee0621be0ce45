#include "cluster/membership.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <chrono>

#include "actors/messages.hpp"
#include "cluster/ring.hpp"

namespace strata::cluster {
namespace {

using actors::epochs_atom;
using actors::join_atom;
using actors::tick_atom;
using stpublish_atom = caf::atom_constant<caf::atom("stpublish")>;  // (blob) from this node: to every peer
using stsend_atom = caf::atom_constant<caf::atom("stsend")>;        // (peer, blob) from this node: to one peer
using stremote_atom = caf::atom_constant<caf::atom("stremote")>;    // (blob) from a peer: to on_state
using hb_atom = caf::atom_constant<caf::atom("hb")>;                // (address) from a peer; () to self: send them
using leave_atom = caf::atom_constant<caf::atom("leave")>;          // () from this node: leave the cluster
using left_atom = caf::atom_constant<caf::atom("left")>;            // (address) from a peer that leaves

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct member {
  caf::actor node;
  std::vector<caf::actor> shards;
  caf::actor aggregator;
};

struct node_state {
  std::string self_address;
  std::vector<caf::actor> local_shards;
  caf::actor aggregator;                  // of this node's shards (actors/aggregator.hpp)
  std::map<std::string, member> members;  // live peers, by address
  std::set<std::string> known;            // every address ever heard of (seeds, peers)
  std::set<std::string> connecting;
  std::string peers_file;
  uint32_t rf = 1;
  epoch_history epochs;
  std::string epochs_file;
  std::shared_ptr<std::atomic<bool>> first_round_done;
  bool first_round_started = false;
  bool epoch_opened = false;  // publish_view ran after the first round
  std::function<void(const std::string&)> on_peer_up;
  std::shared_ptr<member_health> health;
  bool leaving = false;  // left the cluster: joins nobody
  static inline const char* name = "strata.node";
};

using self_ptr = caf::stateful_actor<node_state>*;

void save_epochs(const node_state& st) {
  if (st.epochs_file.empty()) return;
  if (auto r = st.epochs.save(st.epochs_file); !r) spdlog::warn("cluster: {}", r.message());
}

void publish_view(self_ptr self, actors::shard_table& table) {
  auto& st = self->state;
  actors::shard_view view;
  view.members.push_back(st.self_address);
  for (const auto& [addr, m] : st.members) view.members.push_back(addr);
  std::sort(view.members.begin(), view.members.end());
  for (const auto& addr : view.members)
    view.aggregators.push_back(addr == st.self_address ? st.aggregator : st.members.at(addr).aggregator);
  for (const auto& addr : st.known)
    if (addr != st.self_address && !st.members.count(addr)) view.down.push_back(addr);
  for (uint32_t i = 0; i < st.local_shards.size(); ++i)
    view.shards.push_back({st.local_shards[i], st.self_address, i, true});
  for (const auto& [addr, m] : st.members)
    for (uint32_t i = 0; i < m.shards.size(); ++i) view.shards.push_back({m.shards[i], addr, i, false});
  std::sort(view.shards.begin(), view.shards.end(),
            [](const auto& a, const auto& b) { return a.node != b.node ? a.node < b.node : a.index < b.index; });
  view.rf = st.rf;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  // A node opens epochs once its first round of joins has ended: the members
  // it saw alone while starting never held data (it is not ready before).
  if (st.first_round_done->load() && st.epochs.advance(view.members, st.rf, now)) {
    save_epochs(st);
    for (const auto& [addr, m] : st.members) self->send(m.node, epochs_atom::value, st.epochs.encode());
  }
  view.epochs = std::make_shared<const epoch_history>(st.epochs);
  table.replace(std::move(view));
}

// Rewrites the peers file (write to a temporary, then rename: never torn).
void save_peers(const node_state& st) {
  if (st.peers_file.empty()) return;
  std::string tmp = st.peers_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& a : st.known) out << a << '\n';
    if (!out) {
      spdlog::warn("cluster: cannot write {}", tmp);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, st.peers_file, ec);
  if (ec) spdlog::warn("cluster: cannot replace {}: {}", st.peers_file, ec.message());
}

std::vector<std::string> load_peers(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (split_host_port(line)) out.push_back(line);
  return out;
}

void check_first_round(self_ptr self) {
  auto& st = self->state;
  if (st.first_round_started && st.connecting.empty()) st.first_round_done->store(true);
}

void add_member(self_ptr self, actors::shard_table& table, const std::string& addr, caf::actor node,
                std::vector<caf::actor> shards, caf::actor aggregator) {
  auto& st = self->state;
  if (addr == st.self_address || !node) return;
  auto it = st.members.find(addr);
  if (it != st.members.end() && it->second.node == node) return;
  self->monitor(node);
  st.members[addr] = member{node, std::move(shards), std::move(aggregator)};
  if (st.health) {
    st.health->joined(addr);
    st.health->heard(addr, wall_ms());
  }
  self->send(node, epochs_atom::value, st.epochs.encode());
  if (st.known.insert(addr).second) save_peers(st);
  spdlog::info("cluster: member {} is up ({} members)", addr, st.members.size() + 1);
  publish_view(self, table);
  if (st.on_peer_up) st.on_peer_up(addr);
}

void try_connect(self_ptr self, actors::shard_table& table, const std::string& addr, const node_options& opts) {
  auto hp = split_host_port(addr);
  if (!hp) return;
  self->state.connecting.insert(addr);
  auto& sys = self->home_system();
  auto mm = opts.tls ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  self->request(mm, opts.join_timeout, caf::connect_atom::value, hp->first, hp->second)
      .then(
          [=, &table](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto peer = caf::actor_cast<caf::actor>(ptr);
            if (!peer) {
              self->state.connecting.erase(addr);
              check_first_round(self);
              return;
            }
            self->request(peer, opts.join_timeout, join_atom::value, self->state.self_address,
                          self->state.local_shards, self->state.aggregator)
                .then(
                    [=, &table](std::string& peer_addr, std::vector<caf::actor>& shards, caf::actor& aggregator,
                                std::vector<std::string>& peer_members) {
                      self->state.connecting.erase(addr);
                      add_member(self, table, peer_addr, peer, std::move(shards), std::move(aggregator));
                      for (auto& a : peer_members)
                        if (a != self->state.self_address && self->state.known.insert(a).second) {
                          save_peers(self->state);
                          try_connect(self, table, a, opts);
                        }
                      check_first_round(self);
                    },
                    [=](caf::error& e) {
                      self->state.connecting.erase(addr);
                      spdlog::debug("cluster: join of {} failed: {}", addr, caf::to_string(e));
                      check_first_round(self);
                    });
          },
          [=](caf::error& e) {
            self->state.connecting.erase(addr);
            spdlog::debug("cluster: cannot reach {}: {}", addr, caf::to_string(e));
            check_first_round(self);
          });
}

caf::behavior node_behavior(self_ptr self, actors::shard_table* table, std::vector<caf::actor> local_shards,
                            std::string self_address, node_options opts,
                            std::shared_ptr<std::atomic<bool>> first_round_done) {
  auto& st = self->state;
  st.self_address = std::move(self_address);
  st.local_shards = std::move(local_shards);
  st.aggregator = opts.aggregator;
  st.peers_file = opts.peers_file;
  st.first_round_done = std::move(first_round_done);
  st.rf = opts.replication_factor;
  st.epochs_file = opts.epochs_file;
  st.on_peer_up = opts.on_peer_up;
  st.health = opts.health;
  if (!st.epochs_file.empty()) {
    if (auto h = epoch_history::load(st.epochs_file)) st.epochs = std::move(*h);
    else spdlog::warn("cluster: {}; starting a new epoch history", h.error().message());
  }
  for (const auto& s : opts.seeds)
    if (s != st.self_address) st.known.insert(s);
  for (const auto& s : load_peers(opts.peers_file))
    if (s != st.self_address) st.known.insert(s);
  publish_view(self, *table);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& members = self->state.members;
    for (auto it = members.begin(); it != members.end(); ++it) {
      if (it->second.node.address() == dm.source) {
        spdlog::warn("cluster: member {} is down ({})", it->first, caf::to_string(dm.reason));
        members.erase(it);
        publish_view(self, *table);
        return;
      }
    }
  });
  self->send(self, tick_atom::value);
  self->send(self, hb_atom::value);
  return {
    [=](join_atom, std::string& addr, std::vector<caf::actor>& shards, caf::actor& aggregator)
        -> caf::result<std::string, std::vector<caf::actor>, caf::actor, std::vector<std::string>> {
      // The sender is null when its connection closed before the join was
      // handled (e.g. a node resuming from a freeze, its peers' links timed
      // out): nothing to monitor, the peer joins again on its next tick.
      auto peer = caf::actor_cast<caf::actor>(self->current_sender());
      if (!peer) return actors::to_caf_error(error(strata_errc::unavailable, "join from " + addr + ": its connection closed"));
      std::vector<std::string> addrs;
      for (const auto& [a, m] : self->state.members) addrs.push_back(a);
      add_member(self, *table, addr, peer, std::move(shards), std::move(aggregator));
      return {self->state.self_address, self->state.local_shards, self->state.aggregator, std::move(addrs)};
    },
    [=](actors::evpublish_atom, const std::string& json) {
      for (const auto& [addr, m] : self->state.members) self->send(m.node, actors::evremote_atom::value, json);
    },
    [=](actors::evremote_atom, const std::string& json) {
      if (opts.on_event) opts.on_event(json);
    },
    [=](hb_atom) {
      for (const auto& [addr, m] : self->state.members) self->send(m.node, hb_atom::value, self->state.self_address);
      self->delayed_send(self, opts.heartbeat_interval, hb_atom::value);
    },
    [=](hb_atom, const std::string& addr) {
      if (self->state.health && self->state.members.count(addr)) self->state.health->heard(addr, wall_ms());
    },
    [=](leave_atom) {
      auto& st = self->state;
      spdlog::warn("cluster: leaving the cluster ({} peers told)", st.members.size());
      for (const auto& [addr, m] : st.members) {
        self->demonitor(m.node);
        self->send(m.node, left_atom::value, st.self_address);
      }
      st.leaving = true;
      st.members.clear();
      st.known.clear();
      save_peers(st);
      publish_view(self, *table);
    },
    [=](left_atom, const std::string& addr) {
      auto& st = self->state;
      if (auto it = st.members.find(addr); it != st.members.end()) {
        self->demonitor(it->second.node);
        st.members.erase(it);
      }
      st.known.erase(addr);
      save_peers(st);
      if (st.health) st.health->left(addr);
      spdlog::info("cluster: member {} left the cluster ({} members)", addr, st.members.size() + 1);
      publish_view(self, *table);
    },
    [=](stpublish_atom, const std::string& blob) {
      for (const auto& [addr, m] : self->state.members) self->send(m.node, stremote_atom::value, blob);
    },
    [=](stsend_atom, const std::string& peer, const std::string& blob) {
      if (auto it = self->state.members.find(peer); it != self->state.members.end())
        self->send(it->second.node, stremote_atom::value, blob);
    },
    [=](stremote_atom, const std::string& blob) {
      if (opts.on_state) opts.on_state(blob);
    },
    [=](epochs_atom, const std::string& bytes) {
      auto heard = epoch_history::decode(bytes);
      if (!heard) {
        spdlog::warn("cluster: an epoch history from a peer: {}", heard.error().message());
        return;
      }
      if (self->state.epochs.merge(*heard)) {
        save_epochs(self->state);
        publish_view(self, *table);
      }
    },
    [=](tick_atom) {
      if (self->state.leaving) return;
      for (const auto& addr : self->state.known)
        if (!self->state.members.count(addr) && !self->state.connecting.count(addr))
          try_connect(self, *table, addr, opts);
      if (!self->state.first_round_started) {
        self->state.first_round_started = true;
        check_first_round(self);
      }
      if (!self->state.epoch_opened && self->state.first_round_done->load()) {
        self->state.epoch_opened = true;
        publish_view(self, *table);
      }
      self->delayed_send(self, opts.retry_interval, tick_atom::value);
    },
  };
}

}  // namespace

void leave(const caf::actor& node) { caf::anon_send(node, leave_atom::value); }

void publish_state(const caf::actor& node, std::string blob) {
  caf::anon_send(node, stpublish_atom::value, std::move(blob));
}

void send_state(const caf::actor& node, std::string peer, std::string blob) {
  caf::anon_send(node, stsend_atom::value, std::move(peer), std::move(blob));
}

result<std::pair<std::string, uint16_t>> split_host_port(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return error(strata_errc::bad_request, "'" + address + "' is not host:port (for example 127.0.0.1:9202)");
  int port = 0;
  for (size_t i = colon + 1; i < address.size(); ++i) {
    if (address[i] < '0' || address[i] > '9' || port > 65535)
      return error(strata_errc::bad_request, "'" + address + "' has an invalid port (0-65535)");
    port = port * 10 + (address[i] - '0');
  }
  if (port > 65535) return error(strata_errc::bad_request, "'" + address + "' has an invalid port (0-65535)");
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(port));
}

result<started_node> start_node(caf::actor_system& sys, actors::shard_table& table,
                                std::vector<caf::actor> local_shards, const node_options& opts) {
  if (opts.port == 0)
    return error(strata_errc::bad_request, "--cluster-listen needs an explicit port: peers know a node by host:port");
  auto started = spawn_node(sys, table, std::move(local_shards), opts.host + ":" + std::to_string(opts.port), opts);
  auto node = started.actor;
  auto port = opts.tls ? caf::openssl::publish(node, opts.port, opts.host.c_str(), true)
                       : sys.middleman().publish(node, opts.port, opts.host.c_str(), true);
  if (!port) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    return error(strata_errc::unavailable, "cannot listen for cluster peers on " + opts.host + ":" +
                                               std::to_string(opts.port) + ": " + sys.render(port.error()));
  }
  started.address = opts.host + ":" + std::to_string(*port);
  return started;
}

started_node spawn_node(caf::actor_system& sys, actors::shard_table& table, std::vector<caf::actor> local_shards,
                        std::string address, const node_options& opts) {
  auto first_round_done = std::make_shared<std::atomic<bool>>(false);
  auto node = sys.spawn(node_behavior, &table, std::move(local_shards), address, opts, first_round_done);
  return started_node{node, std::move(address), first_round_done};
}

}  // namespace strata::cluster
