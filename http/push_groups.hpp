#pragma once
// The Pushgateway-style groups of a node: which series each grouping key
// (`{job="x", instance="y"}`) holds, so that a PUT or DELETE can end the
// series a group no longer has with a stale marker. Kept in memory and, on
// every change, in a kv::store (its own small LMDB environment under the data
// dir), so membership survives a restart. Byte layout: docs/format/push_groups.md.
//
// Threading: every method may be called from any thread (one mutex).
// Concurrent pushes to one group are applied in the order they commit.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "persistence/kv/store.hpp"

namespace strata::http {

struct group_member {
  labels lbls;         // canonical, grouping key included
  std::string family;  // metric family it was pushed in
  int64_t last_t = 0;  // newest timestamp written for it (a stale marker goes after it)
};

// A push after the grouping key was applied: series[i] belongs to family[i].
struct pushed_group {
  write_batch series;
  std::vector<std::string> family;
};

enum class push_mode : uint8_t {
  replace,  // PUT: the group becomes exactly the pushed series
  add,      // POST: the pushed families are replaced, other families stay
  remove,   // DELETE: the group ends
};

// What a push writes and what the group holds once that write succeeded.
struct push_plan {
  write_batch batch;                  // the pushed samples plus one stale marker per ended series
  std::vector<group_member> members;  // empty: the group is removed
  size_t ended = 0;                   // series given a stale marker
};

// Encodes and decodes one group record (grouping key + members).
std::string encode_group(const labels& key, const std::vector<group_member>& members);
// corruption naming `where` and the byte offset when the bytes do not decode.
status decode_group(std::string_view bytes, const std::string& where, labels& key, std::vector<group_member>& members);

class push_groups {
 public:
  // Loads every group from `st` (table meta, keys "push/..."); fails with the
  // store's error or corruption naming the key.
  static result<std::unique_ptr<push_groups>> open(std::unique_ptr<persistence::kv::store> st);

  // The write and membership for a push to group `key` at time `now_ms`.
  // Changes nothing. REQUIRES: push is empty for push_mode::remove. Stale markers are written at max(now_ms, last_t + 1).
  push_plan prepare(const labels& key, push_mode m, const pushed_group& push, int64_t now_ms) const;
  // Makes `members` the group's membership (removes the group when empty),
  // durably. On failure the old membership stays.
  status commit(const labels& key, std::vector<group_member> members);

  std::vector<group_member> members(const labels& key) const;
  size_t group_count() const;

 private:
  explicit push_groups(std::unique_ptr<persistence::kv::store> st) : store_(std::move(st)) {}
  static std::string store_key(const labels& key);

  mutable std::mutex mu_;
  std::unique_ptr<persistence::kv::store> store_;
  std::map<labels, std::vector<group_member>> groups_;
};

}  // namespace strata::http
