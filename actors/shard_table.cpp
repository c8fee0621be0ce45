#include "actors/shard_table.hpp"

#include <caf/send.hpp>

#include <algorithm>

#include "actors/messages.hpp"

namespace strata::actors {

void place(shard_view& v) {
  if (v.members.empty()) {
    for (const auto& s : v.shards) v.members.push_back(s.node);
    std::sort(v.members.begin(), v.members.end());
    v.members.erase(std::unique(v.members.begin(), v.members.end()), v.members.end());
  }
  v.member_shards.assign(v.members.size(), {});
  for (uint32_t i = 0; i < v.shards.size(); ++i) {
    auto it = std::lower_bound(v.members.begin(), v.members.end(), v.shards[i].node);
    if (it != v.members.end() && *it == v.shards[i].node) v.member_shards[static_cast<size_t>(it - v.members.begin())].push_back(i);
  }
  std::vector<std::string> holders;  // members with shards
  std::vector<uint16_t> index_of;    // holders[i] is members[index_of[i]]
  for (size_t m = 0; m < v.members.size(); ++m)
    if (!v.member_shards[m].empty()) {
      holders.push_back(v.members[m]);
      index_of.push_back(static_cast<uint16_t>(m));
    }
  v.replicas = static_cast<uint32_t>(std::min<size_t>(v.rf, holders.size()));
  v.owners.assign(static_cast<size_t>(cluster::partitions) * v.replicas, 0);
  for (uint32_t p = 0; p < cluster::partitions && v.replicas > 0; ++p) {
    auto os = cluster::owners(holders, p, v.replicas);
    for (uint32_t k = 0; k < v.replicas; ++k) {
      auto it = std::lower_bound(holders.begin(), holders.end(), os[k]);
      v.owners[p * v.replicas + k] = index_of[static_cast<size_t>(it - holders.begin())];
    }
  }
}

void shard_table::replace(shard_view v) {
  place(v);
  auto next = std::make_shared<const shard_view>(std::move(v));
  std::vector<caf::actor> told;
  {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = std::move(next);
    for (const auto& [id, a] : watchers_) told.push_back(a);
  }
  for (const auto& a : told) caf::anon_send(a, view_atom::value);
}

uint64_t shard_table::watch(caf::actor a) const {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.emplace(next_watch_, std::move(a));
  return next_watch_++;
}

void shard_table::unwatch(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(id);
}

}  // namespace strata::actors
