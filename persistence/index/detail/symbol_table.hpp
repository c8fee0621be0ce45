#pragma once
// Interned label strings of one series index: every distinct name or value is
// stored once and named by a dense uint32 id. Ids are reference counted (one
// reference per use in a series); an id whose count drops to zero is freed and
// may be handed out again for another string.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/index/detail/id_table.hpp"

namespace strata::persistence::index::detail {

class symbol_table {
 public:
  using id = uint32_t;

  std::optional<id> find(std::string_view s) const;
  // The id of `s`, added if new; takes one reference.
  id intern(std::string_view s);
  // Drops one reference. REQUIRES: `i` holds one.
  void release(id i);

  // REQUIRES: `i` is live.
  const std::string& str(id i) const { return strs_[i]; }
  size_t size() const { return index_.size(); }
  // Heap bytes held (strings, counts, the hash table), approximately.
  size_t bytes() const;

 private:
  static uint64_t hash(std::string_view s);

  std::vector<std::string> strs_;  // by id; cleared when freed
  std::vector<uint32_t> refs_;     // by id
  std::vector<uint64_t> hashes_;   // by id, so that rehashing reads no string
  std::vector<id> free_;
  id_table index_;
};

}  // namespace strata::persistence::index::detail
