#pragma once
// An open-addressing hash table of uint32 ids whose keys live elsewhere (a
// symbol's bytes, a series' labels): 4 bytes per slot, linear probing,
// tombstones on erase. The owner hashes keys and decides equality; several
// ids may share one hash (series whose label sets collide).
//
// Why not std::unordered_map<key, id>: a node per entry (about 40 bytes plus
// the key) where this needs 4 to 8 bytes per entry; at a million series per
// shard that difference is tens of megabytes.
#include <cstdint>
#include <optional>
#include <vector>

namespace strata::persistence::index::detail {

class id_table {
 public:
  // The first stored id with that hash for which eq(id) is true.
  template <class Eq>
  std::optional<uint32_t> find(uint64_t hash, Eq eq) const {
    if (slots_.empty()) return std::nullopt;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(hash) & mask;; i = (i + 1) & mask) {
      uint32_t s = slots_[i];
      if (s == empty) return std::nullopt;
      if (s != tombstone && eq(s - offset)) return s - offset;
    }
  }

  // REQUIRES: id is not stored; hash_of(x) is the hash of every stored x.
  template <class HashOf>
  void insert(uint64_t hash, uint32_t id, HashOf hash_of) {
    if ((used_ + 1) * 10 > slots_.size() * 7) rehash(hash_of);
    size_t mask = slots_.size() - 1;
    size_t i = mix(hash) & mask;
    while (slots_[i] != empty && slots_[i] != tombstone) i = (i + 1) & mask;
    if (slots_[i] == empty) ++used_;
    slots_[i] = id + offset;
    ++size_;
  }

  // Removes `id`, stored under `hash`. Returns false when it is not there.
  bool erase(uint64_t hash, uint32_t id) {
    if (slots_.empty()) return false;
    size_t mask = slots_.size() - 1;
    for (size_t i = mix(hash) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == empty) return false;
      if (slots_[i] == id + offset) {
        slots_[i] = tombstone;
        --size_;
        return true;
      }
    }
  }

  size_t size() const { return size_; }
  size_t bytes() const { return slots_.capacity() * sizeof(uint32_t); }

 private:
  static constexpr uint32_t empty = 0;
  static constexpr uint32_t tombstone = 1;
  static constexpr uint32_t offset = 2;  // a slot holds id + 2

  // Spreads hashes that are not uniform (a test's constant hash is, in turn,
  // handled by probing).
  static size_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }

  // Room for twice the live ids (at least 16 slots), tombstones dropped.
  template <class HashOf>
  void rehash(HashOf hash_of) {
    size_t cap = 16;
    while (cap < (size_ + 1) * 2) cap *= 2;
    std::vector<uint32_t> old(cap, empty);
    old.swap(slots_);
    size_t mask = cap - 1;
    for (uint32_t s : old) {
      if (s == empty || s == tombstone) continue;
      size_t i = mix(hash_of(s - offset)) & mask;
      while (slots_[i] != empty) i = (i + 1) & mask;
      slots_[i] = s;
    }
    used_ = size_;
  }

  std::vector<uint32_t> slots_;  // size 0 or a power of two
  size_t size_ = 0;              // stored ids
  size_t used_ = 0;              // slots not empty (ids and tombstones)
};

}  // namespace strata::persistence::index::detail
