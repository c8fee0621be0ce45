// series_index: adding, finding and removing series, and time blocks.
// Selection is in series_select.cpp, cardinality in series_stats.cpp, the
// record bytes in series_record.cpp.
#include "persistence/index/series_index.hpp"

#include <algorithm>
#include <cassert>

namespace strata::persistence::index {

series_index::series_index(hash_fn h, int64_t block_ms) : hash_(h), block_ms_(block_ms) { assert(block_ms > 0); }

bool series_index::same_labels(series_ref r, const labels& ls) const {
  const series_rec& s = series_[r];
  if (s.count != ls.size()) return false;
  const sym* p = pairs_.data() + s.offset;
  for (const auto& l : ls) {
    if (syms_.str(p[0]) != l.name || syms_.str(p[1]) != l.value) return false;
    p += 2;
  }
  return true;
}

std::optional<series_index::sym> series_index::value_of(series_ref r, sym name) const {
  const series_rec& s = series_[r];
  const sym* p = pairs_.data() + s.offset;
  for (uint32_t i = 0; i < s.count; ++i, p += 2)
    if (p[0] == name) return p[1];
  return std::nullopt;
}

std::optional<series_ref> series_index::find(const labels& canonical) const {
  uint64_t id = hash_(canonical);
  return by_id_.find(id, [&](uint32_t r) { return series_[r].id == id && same_labels(r, canonical); });
}

std::pair<series_ref, bool> series_index::get_or_add(const labels& canonical) {
  return get_or_add(canonical, hash_(canonical));
}

std::pair<series_ref, bool> series_index::get_or_add(const labels& canonical, uint64_t id) {
  assert(id == hash_(canonical));
  if (auto r = by_id_.find(id, [&](uint32_t x) { return series_[x].id == id && same_labels(x, canonical); }))
    return {*r, false};

#ifndef NDEBUG
  for (size_t i = 0; i < canonical.size(); ++i)
    assert(!canonical[i].name.empty() && (i == 0 || canonical[i - 1].name < canonical[i].name));
#endif
  auto r = static_cast<series_ref>(series_.size());
  series_rec rec;
  rec.id = id;
  rec.offset = static_cast<uint32_t>(pairs_.size());
  rec.count = static_cast<uint32_t>(canonical.size());
  for (const auto& l : canonical) {
    sym n = syms_.intern(l.name);
    sym v = syms_.intern(l.value);
    pairs_.push_back(n);
    pairs_.push_back(v);
    name_postings& np = names_[n];
    np.any.add(r);
    np.values[v].add(r);
  }
  series_.push_back(rec);
  live_.add(r);
  ++live_count_;
  by_id_.insert(id, r, [this](uint32_t x) { return series_[x].id; });
  return {r, true};
}

labels series_index::labels_of(series_ref r) const {
  labels ls;
  if (!live_.contains(r)) return ls;
  const series_rec& s = series_[r];
  ls.reserve(s.count);
  const sym* p = pairs_.data() + s.offset;
  for (uint32_t i = 0; i < s.count; ++i, p += 2) ls.push_back({syms_.str(p[0]), syms_.str(p[1])});
  return ls;
}

bool series_index::labels_less(series_ref a, series_ref b) const {
  // A removed or unknown ref has no labels (labels_of), which sort first.
  if (!live_.contains(a) || !live_.contains(b)) return !live_.contains(a) && live_.contains(b) && series_[b].count;
  const series_rec& x = series_[a];
  const series_rec& y = series_[b];
  const sym* p = pairs_.data() + x.offset;
  const sym* q = pairs_.data() + y.offset;
  for (uint32_t i = 0; i < std::min(x.count, y.count); ++i, p += 2, q += 2) {
    for (int k = 0; k < 2; ++k)  // as label's operator<: the name, then the value
      if (p[k] != q[k]) return syms_.str(p[k]) < syms_.str(q[k]);
  }
  return x.count < y.count;
}

std::string_view series_index::label_value(series_ref r, std::string_view name) const {
  if (!live_.contains(r)) return {};
  const series_rec& s = series_[r];
  const sym* p = pairs_.data() + s.offset;
  for (uint32_t i = 0; i < s.count; ++i, p += 2)
    if (syms_.str(p[0]) == name) return syms_.str(p[1]);
  return {};
}

uint64_t series_index::id_of(series_ref r) const { return live_.contains(r) ? series_[r].id : 0; }

void series_index::remove(series_ref r) {
  if (!live_.contains(r)) return;
  series_rec& s = series_[r];
  const sym* p = pairs_.data() + s.offset;
  for (uint32_t i = 0; i < s.count; ++i, p += 2) {
    auto n = names_.find(p[0]);
    auto v = n->second.values.find(p[1]);
    v->second.remove(r);
    if (v->second.empty()) n->second.values.erase(v);
    n->second.any.remove(r);
    if (n->second.any.isEmpty()) names_.erase(n);
    syms_.release(p[0]);
    syms_.release(p[1]);
  }
  // A ref is in no block newer than its max_block.
  if (s.max_block != no_block)
    for (auto it = blocks_.begin(); it != blocks_.end() && it->first <= s.max_block; ++it) it->second.remove(r);
  by_id_.erase(s.id, r);
  live_.remove(r);
  --live_count_;
  dead_pairs_words_ += 2 * static_cast<size_t>(s.count);
  s = series_rec{};
  if (dead_pairs_words_ > 4096 && dead_pairs_words_ * 2 > pairs_.size()) compact_pairs();
}

// Rewrites pairs_ without the words of removed series, in ref order.
void series_index::compact_pairs() {
  std::vector<sym> out;
  out.reserve(pairs_.size() - dead_pairs_words_);
  for (auto it = live_.begin(); it != live_.end(); ++it) {
    series_rec& s = series_[*it];
    auto first = pairs_.begin() + s.offset;
    s.offset = static_cast<uint32_t>(out.size());
    out.insert(out.end(), first, first + 2 * s.count);
  }
  pairs_.swap(out);
  dead_pairs_words_ = 0;
}

int64_t series_index::block_of(int64_t t) const {
  int64_t b = t / block_ms_;
  return (t % block_ms_ != 0 && t < 0) ? b - 1 : b;  // floor, also for times before 1970
}

void series_index::note_time(series_ref r, int64_t t_ms) {
  series_rec& s = series_[r];
  int64_t b = block_of(t_ms);
  // The common case, a sample in the series' newest block, touches no bitmap.
  if (b == s.max_block && b != no_block) return;
  if (!live_.contains(r)) return;  // a removed series has no block, so it never takes the path above
  if (s.max_block == no_block || b > s.max_block) s.max_block = b;
  if (last_block_ == nullptr || last_block_key_ != b) {
    last_block_ = &blocks_[b];
    last_block_key_ = b;
  }
  last_block_->add(r);
}

Roaring series_index::active_between(int64_t mint, int64_t maxt) const {
  if (mint > maxt) return Roaring();
  std::vector<const Roaring*> parts;
  for (auto it = blocks_.lower_bound(block_of(mint)); it != blocks_.end() && it->first <= block_of(maxt); ++it)
    parts.push_back(&it->second);
  if (parts.empty()) return Roaring();
  if (parts.size() == 1) return *parts[0];
  return Roaring::fastunion(parts.size(), parts.data());
}

std::vector<series_ref> series_index::drop_blocks_before(int64_t t_ms) {
  // Block b holds times in [b * block_ms, (b + 1) * block_ms): all of them are
  // before t exactly when b < floor(t / block_ms).
  int64_t cutoff = block_of(t_ms);
  auto end = blocks_.lower_bound(cutoff);
  if (end == blocks_.begin()) return {};
  std::vector<const Roaring*> parts;
  for (auto it = blocks_.begin(); it != end; ++it) parts.push_back(&it->second);
  Roaring dropped = Roaring::fastunion(parts.size(), parts.data());
  blocks_.erase(blocks_.begin(), end);
  last_block_ = nullptr;

  std::vector<series_ref> gone;
  for (auto it = dropped.begin(); it != dropped.end(); ++it) {
    series_rec& s = series_[*it];
    // A series is in no block newer than its max_block, so none is left.
    if (live_.contains(*it) && s.max_block < cutoff) {
      s.max_block = no_block;
      gone.push_back(*it);
    }
  }
  return gone;
}

size_t series_index::memory_bytes() const {
  size_t n = syms_.bytes() + series_.capacity() * sizeof(series_rec) + pairs_.capacity() * sizeof(sym) +
             by_id_.bytes() + live_.getSizeInBytes(false);
  // unordered_map: a node (next pointer, key, value) and a bucket pointer per entry.
  for (const auto& [name, np] : names_) {
    n += sizeof(void*) * 2 + sizeof(name_postings) + np.any.getSizeInBytes(false);
    n += np.values.bucket_count() * sizeof(void*);
    for (const auto& [value, p] : np.values) n += sizeof(void*) + sizeof(sym) + sizeof(detail::postings) + p.bytes();
  }
  n += names_.bucket_count() * sizeof(void*);
  for (const auto& [b, refs] : blocks_) n += 48 + refs.getSizeInBytes(false);  // a map node and the bitmap
  return n;
}

void series_index::optimize() {
  live_.runOptimize();
  live_.shrinkToFit();
  for (auto& [name, np] : names_) {
    np.any.runOptimize();
    np.any.shrinkToFit();
    for (auto& [value, p] : np.values) p.optimize();
  }
  for (auto& [b, refs] : blocks_) {
    refs.runOptimize();
    refs.shrinkToFit();
  }
}

}  // namespace strata::persistence::index
