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
  constexpr size_t bitmap_bytes = sizeof(bits_);
  std::string gaps(1, '\x01');
  uint32_t prev = 0;
  for (uint32_t p : list()) {
    for (uint32_t gap = p - prev; gaps.size() < bitmap_bytes;) {
      gaps += static_cast<char>((gap & 0x7f) | (gap > 0x7f ? 0x80 : 0));
      if ((gap >>= 7) == 0) break;
    }
    prev = p;
  }
  if (gaps.size() < bitmap_bytes) return gaps;
  std::string out(bitmap_bytes, '\0');
  for (size_t i = 0; i < bits_.size(); ++i)
    for (size_t b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<char>((bits_[i] >> (8 * b)) & 0xFF);
  return out;
}

partition_set partition_set::decode(std::string_view bytes) {
  if (bytes.empty()) return all();
  partition_set s;
  if (bytes.size() != sizeof(bits_)) {
    // Gaps: a damaged list stops at the first partition out of range.
    uint64_t p = 0;
    for (size_t i = 1; i < bytes.size();) {
      uint64_t gap = 0;
      for (int shift = 0; i < bytes.size() && shift < 35; shift += 7) {
        auto c = static_cast<uint8_t>(bytes[i++]);
        gap |= static_cast<uint64_t>(c & 0x7f) << shift;
        if (!(c & 0x80)) break;
      }
      p += gap;
      if (p >= cluster::partitions) break;
      s.add(static_cast<uint32_t>(p));
    }
    return s;
  }
  for (size_t i = 0; i < s.bits_.size(); ++i)
    for (size_t b = 0; b < 8; ++b)
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
  // Every node named by a relevant epoch gets a number; the loop over the
  // partitions then works on numbers only.
  std::vector<std::string> names;
  std::map<std::string, uint32_t> id_of;
  auto id = [&](const std::string& n) {
    auto [it, fresh] = id_of.try_emplace(n, static_cast<uint32_t>(names.size()));
    if (fresh) names.push_back(n);
    return it->second;
  };
  struct relevant {
    const cluster::epoch* e;
    std::vector<uint32_t> ids;    // of e->members
    std::vector<uint8_t> stayed;  // per member: also a member of the next epoch (or e is the current one)
    bool placed;                  // v.owners ranks e's owners (e's members are v's)
  };
  // place() already ranked the owners among the live members when all of
  // them hold shards: an epoch of exactly those members reuses it.
  bool view_placed = v.replicas == std::min<size_t>(v.rf, v.members.size()) &&
                     v.owners.size() == static_cast<size_t>(cluster::partitions) * v.replicas &&
                     v.member_shards.size() == v.members.size() &&
                     std::all_of(v.member_shards.begin(), v.member_shards.end(),
                                 [](const auto& s) { return !s.empty(); });
  std::vector<relevant> rel;
  auto add_epoch = [&](const cluster::epoch* e, const cluster::epoch* next) {
    relevant r{e, {}, {}, view_placed && e->members == v.members && e->rf == v.rf};
    for (const auto& m : e->members) {
      r.ids.push_back(id(m));
      r.stayed.push_back(!next || std::binary_search(next->members.begin(), next->members.end(), m));
    }
    rel.push_back(std::move(r));
  };
  cluster::epoch fallback{0, v.rf, v.members};
  if (v.epochs && !v.epochs->epochs().empty()) {
    const auto& es = v.epochs->epochs();
    for (size_t i = 0; i < es.size(); ++i) {
      int64_t start = i == 0 ? INT64_MIN : es[i].start_ms;
      int64_t end = i + 1 < es.size() ? es[i + 1].start_ms : INT64_MAX;
      bool early = w.max_age_ms > 0 && start != INT64_MIN && start - w.max_age_ms > maxt;
      bool late = w.max_future_ms > 0 && end != INT64_MAX && sat_add(end, w.max_future_ms) < mint;
      if (early || late) continue;
      // Fewer members than a write quorum: every write was refused before
      // anything was sent (a node alone for a moment at start or after a
      // freeze, with rf >= 2), so the epoch holds no samples.
      if (es[i].members.size() < cluster::write_quorum(es[i].rf)) continue;
      add_epoch(&es[i], i + 1 < es.size() ? &es[i + 1] : nullptr);
    }
    if (rel.empty()) add_epoch(&fallback, nullptr);
  } else {
    add_epoch(&fallback, nullptr);
  }
  std::vector<uint8_t> live(names.size(), 0), local(names.size(), 0);
  for (size_t m = 0; m < v.members.size(); ++m) {
    auto it = id_of.find(v.members[m]);
    if (it != id_of.end() && m < v.member_shards.size() && !v.member_shards[m].empty() && !exclude.count(v.members[m]))
      live[it->second] = 1;
  }
  for (const auto& s : v.shards) {
    auto it = id_of.find(s.node);
    if (s.local && it != id_of.end()) local[it->second] = 1;
  }

  read_plan out;
  out.spread.assign(cluster::partitions, 0);
  std::vector<partition_set> by_id(names.size());
  std::vector<uint8_t> missing(names.size(), 0);
  std::vector<uint32_t> chosen;                    // ids
  std::vector<std::vector<uint32_t>> os(rel.size());  // per relevant epoch: positions in e->members
  std::vector<uint32_t> cover(names.size(), 0);     // per id: epochs in which it is a live owner
  for (uint32_t p = 0; p < cluster::partitions; ++p) {
    if (!only.has(p)) continue;
    chosen.clear();
    bool lost = false;
    for (size_t i = 0; i < rel.size(); ++i) {
      const auto& r = rel[i];
      os[i].clear();
      if (r.placed) {
        for (uint32_t k = 0; k < v.replicas; ++k) os[i].push_back(v.owners[p * v.replicas + k]);
      } else {
        for (const auto& o : cluster::owners(r.e->members, p, r.e->rf))
          os[i].push_back(static_cast<uint32_t>(std::lower_bound(r.e->members.begin(), r.e->members.end(), o) -
                                                r.e->members.begin()));
      }
      for (uint32_t m : os[i])
        if (live[r.ids[m]]) ++cover[r.ids[m]];
    }
    // Oldest first, so that a member that stayed through the older epochs
    // is then reused for the newer ones; among equals the owner of the most
    // epochs, so that a partition is read from as few nodes as possible.
    for (size_t i = 0; i < rel.size(); ++i) {
      const auto& r = rel[i];
      int64_t best = -1;
      uint32_t pick = 0;
      for (uint32_t m : os[i]) {
        uint32_t n = r.ids[m];
        if (!live[n]) continue;
        bool reused = std::find(chosen.begin(), chosen.end(), n) != chosen.end();
        int64_t score = (r.stayed[m] ? int64_t{1} << 40 : 0) + (reused ? int64_t{1} << 39 : 0) +
                        int64_t{cover[n]} * 2 + local[n];
        if (score > best) best = score, pick = n;
      }
      if (best < 0) {
        lost = true;
        for (uint32_t m : os[i]) missing[r.ids[m]] = 1;
        continue;
      }
      if (std::find(chosen.begin(), chosen.end(), pick) == chosen.end()) chosen.push_back(pick);
    }
    for (size_t i = 0; i < rel.size(); ++i)
      for (uint32_t m : os[i]) cover[rel[i].ids[m]] = 0;
    if (lost) {
      out.unowned.add(p);
      ++out.unowned_count;
    }
    out.spread[p] = static_cast<uint8_t>(chosen.size());
    for (uint32_t n : chosen) by_id[n].add(p);
  }
  for (size_t n = 0; n < names.size(); ++n) {
    if (!by_id[n].empty()) out.by_node.emplace(names[n], by_id[n]);
    if (missing[n]) out.missing_nodes.insert(names[n]);
  }
  return out;
}

}  // namespace strata::actors
