#pragma once
// Helpers of the kv tests: the backends under test and short ways to read a table.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "persistence/kv/store.hpp"
#include "tests/unit/persistence/test_util.hpp"

#define ASSERT_OK(expr)                              \
  do {                                               \
    ::strata::status st_ok_ = (expr);                \
    ASSERT_TRUE(st_ok_.is_ok()) << st_ok_.message(); \
  } while (0)
#define EXPECT_OK(expr)                              \
  do {                                               \
    ::strata::status st_ok_ = (expr);                \
    EXPECT_TRUE(st_ok_.is_ok()) << st_ok_.message(); \
  } while (0)

namespace strata::persistence::kv::kv_test {

using test_support::temp_dir;
using model_table = std::map<std::string, std::string>;  // std::string orders as unsigned bytes too

enum class backend { lmdb, memory };

inline const char* backend_name(backend b) { return b == backend::lmdb ? "Lmdb" : "Memory"; }

// LMDB starts with a 1 MiB map so that the tests also cross map growth.
inline std::unique_ptr<store> open_backend(backend b, const std::string& dir) {
  if (b == backend::memory) return make_memory_store();
  lmdb_options o;
  o.dir = dir;
  o.initial_map_size = 1 << 20;
  o.sync = false;
  auto s = open_lmdb(o);
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

// The value of `key`, or "<absent>".
inline std::string get_or(const store& s, table t, std::string_view key) {
  std::string v;
  auto st = s.get(t, key, v);
  if (st.code() == strata_errc::not_found) return "<absent>";
  EXPECT_TRUE(st.is_ok()) << st.message();
  return v;
}

inline std::vector<std::string> keys_of(const store& s, table t, std::string_view from, std::string_view to) {
  std::vector<std::string> keys;
  auto st = s.scan(t, from, to, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  EXPECT_TRUE(st.is_ok()) << st.message();
  return keys;
}

inline model_table all_of(const store& s, table t) {
  model_table m;
  auto st = s.scan(t, "", "", [&](std::string_view k, std::string_view v) {
    m.emplace(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(st.is_ok()) << st.message();
  return m;
}

// 8 bytes, big-endian: byte order is numeric order.
inline std::string be_key(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xFF);
  return k;
}

}  // namespace strata::persistence::kv::kv_test
