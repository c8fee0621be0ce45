#pragma once
// The routing table: every live shard of the cluster in one agreed order
// (node name, then shard index), the live members, the replication factor,
// the placement of every partition on the live members (cluster/ring.hpp)
// and the epoch history. A series goes to its partition's owners and, on
// each owner, to shard (series hash % that node's shards). The membership
// actor (cluster/) replaces the table when members come and go; collectors
// and queries read snapshots from any thread.
#include <caf/actor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/ring.hpp"

namespace strata::actors {

struct shard_ref {
  caf::actor handle;
  std::string node;  // the owning node's cluster address, e.g. "127.0.0.1:9202"
  uint32_t index = 0;
  bool local = false;
};

struct shard_view {
  std::vector<shard_ref> shards;     // sorted by (node, index)
  std::vector<std::string> members;  // live nodes, self included, sorted
  std::vector<std::string> down;     // nodes known but unreachable now
  // Per member (same order): its aggregator (actors/aggregator.hpp), or
  // null where its shards are to be asked one by one.
  std::vector<caf::actor> aggregators;
  uint32_t rf = 1;                   // --replication-factor
  std::shared_ptr<const cluster::epoch_history> epochs;  // null: no history kept (tests)

  // Filled by place(): the owners of partition p are
  // members[owners[p * replicas + k]] for k < replicas (highest rank first),
  // and member_shards[m] are the indices in `shards` of member m's shards.
  uint32_t replicas = 0;  // min(rf, members with shards)
  std::vector<uint16_t> owners;
  std::vector<std::vector<uint32_t>> member_shards;

  // The shard (index in `shards`) of replica k of a series.
  uint32_t shard_for(uint64_t series_hash, uint32_t k) const {
    const auto& on = member_shards[owners[cluster::partition_of(series_hash) * replicas + k]];
    return on[series_hash % on.size()];
  }
};

// Computes replicas, owners and member_shards from members, shards and rf.
// Members without shards own nothing; with no members given, the nodes of
// `shards` are the members.
void place(shard_view& v);

class shard_table {
 public:
  std::shared_ptr<const shard_view> snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }
  // Places the partitions (place()), publishes the view and tells every
  // watcher (view_atom) that a new view is out.
  void replace(shard_view v);
  // Reads under way watch the table to notice at once a node they wait on
  // leaving the members (its connection closed). watch() returns the id
  // for unwatch().
  uint64_t watch(caf::actor a) const;
  void unwatch(uint64_t id) const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const shard_view> view_ = std::make_shared<const shard_view>();
  mutable std::map<uint64_t, caf::actor> watchers_;
  mutable uint64_t next_watch_ = 0;
};

}  // namespace strata::actors
