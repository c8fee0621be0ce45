#pragma once
// The routing table: every live shard of the cluster in one agreed order
// (node name, then shard index), so every collector sends a series to the same
// shard. The membership actor (cluster/) replaces it when members come and go;
// collectors and queries read snapshots from any thread.
#include <caf/actor.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace strata::actors {

struct shard_ref {
  caf::actor handle;
  std::string node;  // the owning node's cluster address, e.g. "127.0.0.1:9202"
  uint32_t index = 0;
  bool local = false;
};

struct shard_view {
  std::vector<shard_ref> shards;     // sorted by (node, index)
  std::vector<std::string> members;  // live nodes, self included
  std::vector<std::string> down;     // nodes known but unreachable now
};

class shard_table {
 public:
  std::shared_ptr<const shard_view> snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }
  void replace(shard_view v) {
    auto next = std::make_shared<const shard_view>(std::move(v));
    std::lock_guard<std::mutex> lock(mu_);
    view_ = std::move(next);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const shard_view> view_ = std::make_shared<const shard_view>();
};

}  // namespace strata::actors
