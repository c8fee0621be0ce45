#pragma once
// The parts of a packed or rollup group are stored in segments of at most
// ~2,000 bytes under consecutive keys (docs/format/keys.md): this joins
// them back.
#include <string>
#include <string_view>
#include <type_traits>

#include "common/status.hpp"
#include "persistence/kv/store.hpp"

namespace strata::persistence {

// Calls fn(key of its first segment, its decoded key, its bytes) for every
// part in [from, to) of `table`, its segments joined (a part missing a
// segment comes as empty bytes: damaged), until fn returns false. `decode`
// turns a key into a result<Key> (with a `segment` field); `same_part` says
// whether two decoded keys belong to one part. A key that does not decode
// stops the scan with a corruption error naming `where`.
template <class Decode, class SamePart, class Fn>
status join_segments(const kv::store& kv, kv::table table, const std::string& from, const std::string& to,
                     const std::string& where, Decode decode, SamePart same_part, Fn fn) {
  std::string first, bytes;
  std::decay_t<decltype(*decode(std::string_view()))> at{};
  bool open = false, whole = true, go = true;
  status bad = status::ok();
  auto st = kv.scan(table, from, to, [&](std::string_view k, std::string_view v) {
    auto key = decode(k);
    if (!key) {
      bad = error(strata_errc::corruption, where + ": " + key.error().message());
      return false;
    }
    if (open && !same_part(*key, at)) {
      go = fn(std::string_view(first), at, whole ? std::string_view(bytes) : std::string_view());
      open = false;
      if (!go) return false;
    }
    if (!open) {
      first = k;
      at = *key;
      bytes.clear();
      open = true;
      whole = key->segment == 0;
    } else {
      whole = whole && key->segment == at.segment + 1;
      at.segment = key->segment;
    }
    bytes += v;
    return true;
  });
  if (!st) return st;
  if (!bad) return bad;
  if (open && go) fn(std::string_view(first), at, whole ? std::string_view(bytes) : std::string_view());
  return status::ok();
}

}  // namespace strata::persistence
