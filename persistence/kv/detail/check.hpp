#pragma once
// Checks and messages shared by the store implementations, so that each
// rejects the same ops with the same words.
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "persistence/kv/store.hpp"

namespace strata::persistence::kv::detail {

inline bool valid_table(table t) { return static_cast<size_t>(t) < table_count; }

// A key that can be stored: 1 to max_key_size bytes.
inline bool storable_key(std::string_view key) { return !key.empty() && key.size() <= max_key_size; }

// Unsigned byte order, then length: the order of LMDB's default comparator.
inline int compare_keys(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

// True when [from, to) is empty: `to` is set and not above `from`.
inline bool empty_range(std::string_view from, std::string_view to) {
  return !to.empty() && compare_keys(from, to) >= 0;
}

inline status bad_table(size_t op_index) {
  return error(strata_errc::bad_request, "op " + std::to_string(op_index) + " names no table");
}

inline status bad_key(size_t op_index, table t, std::string_view key) {
  return error(strata_errc::bad_request, "op " + std::to_string(op_index) + ": put of a " + std::to_string(key.size()) +
                                             "-byte key in table " + to_string(t) + ": keys are 1 to " +
                                             std::to_string(max_key_size) + " bytes");
}

inline status not_found(table t) {
  return error(strata_errc::not_found, std::string("no such key in table ") + to_string(t));
}

inline status commit_in_scan() {
  return error(strata_errc::internal, "commit called from inside a scan of the same store");
}

inline status compact_in_scan() {
  return error(strata_errc::internal, "compact_copy called from inside a scan of the same store");
}

}  // namespace strata::persistence::kv::detail
