#include "persistence/index/detail/symbol_table.hpp"

#include <xxhash.h>

namespace strata::persistence::index::detail {

uint64_t symbol_table::hash(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

std::optional<symbol_table::id> symbol_table::find(std::string_view s) const {
  uint64_t h = hash(s);
  return index_.find(h, [&](id i) { return hashes_[i] == h && strs_[i] == s; });
}

symbol_table::id symbol_table::intern(std::string_view s) {
  uint64_t h = hash(s);
  if (auto i = index_.find(h, [&](id x) { return hashes_[x] == h && strs_[x] == s; })) {
    ++refs_[*i];
    return *i;
  }
  id i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
    strs_[i].assign(s);
    refs_[i] = 1;
    hashes_[i] = h;
  } else {
    i = static_cast<id>(strs_.size());
    strs_.emplace_back(s);
    refs_.push_back(1);
    hashes_.push_back(h);
  }
  index_.insert(h, i, [this](id x) { return hashes_[x]; });
  return i;
}

void symbol_table::release(id i) {
  if (--refs_[i] > 0) return;
  index_.erase(hashes_[i], i);
  std::string().swap(strs_[i]);
  free_.push_back(i);
}

size_t symbol_table::bytes() const {
  size_t n = strs_.capacity() * sizeof(std::string) + refs_.capacity() * sizeof(uint32_t) +
             hashes_.capacity() * sizeof(uint64_t) + free_.capacity() * sizeof(id) + index_.bytes();
  for (const auto& s : strs_)
    if (s.capacity() > 15) n += s.capacity() + 1;  // past the small-string buffer
  return n;
}

}  // namespace strata::persistence::index::detail
