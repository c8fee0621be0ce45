#include "actors/read_plan.hpp"

#include <algorithm>

namespace strata::actors {

bool partition_set::empty() const {
  return std::all_of(bits_.begin(), bits_.end(), [](uint64_t b) { return b == 0; });
}

uint32_t partition_set::size() const {
  uint32_t n = 0;
  for (uint64_t b : bits_) n += static_cast<uint32_t>(__builtin_popcountll(b));
  return n;
}

std::vector<uint32_t> partition_set::list() const {
  std::vector<uint32_t> out;
  for (uint32_t p = 0; p < cluster::partitions; ++p)
    if (has(p)) out.push_back(p);
  return out;
}

std::string partition_set::encode() const {
  std::string out(bits_.size() * 8, '\0');
  for (size_t i = 0; i < bits_.size(); ++i)
    for (size_t b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((bits_[i] >> (8 * b)) & 0xFF);
  return out;
}

partition_set partition_set::decode(std::string_view bytes) {
  if (bytes.empty()) return all();
  partition_set s;
  for (size_t i = 0; i < s.bits_.size() && i * 8 < bytes.size(); ++i)
    for (size_t b = 0; b < 8 && i * 8 + b < bytes.size(); ++b)
      s.bits_[i] |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i * 8 + b])) << (8 * b);
  return s;
}

partition_set partition_set::all() {
  partition_set s;
  s.bits_.fill(~uint64_t{0});
  return s;
}

namespace {

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

}  // namespace

read_plan plan_read(const shard_view& v, int64_t mint, int64_t maxt, const write_window& w,
                    const std::set<std::string>& exclude, const partition_set& only) {
  // The epochs whose writes can hold samples of [mint, maxt], each with
  // whether each member stayed into the next epoch.
  struct relevant {
    const cluster::epoch* e;
    std::set<std::string> next;  // members of the following epoch (empty: the current one)
    bool last;
  };
  std::vector<relevant> rel;
  cluster::epoch fallback{0, v.rf, v.members};
  if (v.epochs && !v.epochs->epochs().empty()) {
    const auto& es = v.epochs->epochs();
    for (size_t i = 0; i < es.size(); ++i) {
      int64_t start = i == 0 ? INT64_MIN : es[i].start_ms;
      int64_t end = i + 1 < es.size() ? es[i + 1].start_ms : INT64_MAX;
      bool early = w.max_age_ms > 0 && start != INT64_MIN && start - w.max_age_ms > maxt;
      bool late = w.max_future_ms > 0 && end != INT64_MAX && sat_add(end, w.max_future_ms) < mint;
      if (early || late) continue;
      relevant r{&es[i], {}, i + 1 == es.size()};
      if (!r.last) r.next.insert(es[i + 1].members.begin(), es[i + 1].members.end());
      rel.push_back(std::move(r));
    }
  } else {
    rel.push_back({&fallback, {}, true});
  }
  std::set<std::string> live;
  for (size_t m = 0; m < v.members.size(); ++m)
    if (m < v.member_shards.size() && !v.member_shards[m].empty() && !exclude.count(v.members[m]))
      live.insert(v.members[m]);

  std::set<std::string> local;  // this node: its replicas cost no network
  for (const auto& s : v.shards)
    if (s.local) local.insert(s.node);

  read_plan out;
  out.spread.assign(cluster::partitions, 0);
  std::vector<std::string> chosen;
  for (uint32_t p = 0; p < cluster::partitions; ++p) {
    if (!only.has(p)) continue;
    chosen.clear();
    bool lost = false;
    // Oldest first, so that a member that stayed through the older epochs
    // is then reused for the newer ones.
    for (auto it = rel.begin(); it != rel.end(); ++it) {
      auto os = cluster::owners(it->e->members, p, it->e->rf);
      const std::string* pick = nullptr;
      int best = -1;
      for (const auto& o : os) {
        if (!live.count(o)) continue;
        bool stayed = it->last || it->next.count(o) > 0;
        bool reused = std::find(chosen.begin(), chosen.end(), o) != chosen.end();
        int score = (stayed ? 4 : 0) + (reused ? 2 : 0) + (local.count(o) ? 1 : 0);
        if (score > best) best = score, pick = &o;
      }
      if (!pick) {
        lost = true;
        for (const auto& o : os) out.missing_nodes.insert(o);
        continue;
      }
      if (std::find(chosen.begin(), chosen.end(), *pick) == chosen.end()) chosen.push_back(*pick);
    }
    if (lost) {
      out.unowned.add(p);
      ++out.unowned_count;
    }
    out.spread[p] = static_cast<uint8_t>(chosen.size());
    for (const auto& n : chosen) out.by_node[n].add(p);
  }
  return out;
}

}  // namespace strata::actors
