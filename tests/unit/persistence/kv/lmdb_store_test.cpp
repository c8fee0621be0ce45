// What only the LMDB store has: files, reopening, map growth, disk failures.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/resource.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>

#include "kv_test_util.hpp"

namespace strata::persistence::kv {
namespace {

using namespace kv_test;

std::unique_ptr<store> open_or_fail(const lmdb_options& o) {
  auto s = open_lmdb(o);
  EXPECT_TRUE(s.is_ok()) << s.error().message();
  return s ? std::move(*s) : nullptr;
}

lmdb_options small(const std::string& dir, bool sync = true) {
  lmdb_options o;
  o.dir = dir;
  o.initial_map_size = 1 << 20;
  o.sync = sync;
  return o;
}

TEST(LmdbStore, ReopenKeepsCommittedData) {
  temp_dir dir;
  {
    auto s = open_or_fail(small(dir.path()));
    ASSERT_NE(s, nullptr);
    ASSERT_OK(s->commit({op::put(table::series, "s1", "labels"), op::put(table::wal, be_key(1), "rec")}));
    ASSERT_OK(s->commit({op::erase(table::wal, be_key(1)), op::put(table::wal, be_key(2), "rec2")}));
  }
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(all_of(*s, table::series), (model_table{{"s1", "labels"}}));
  EXPECT_EQ(all_of(*s, table::wal), (model_table{{be_key(2), "rec2"}}));
  EXPECT_EQ(s->stats().commits, 0u);  // counted since open
}

TEST(LmdbStore, WithoutSyncDataIsKeptAfterSyncAndReopen) {
  temp_dir dir;
  {
    auto s = open_or_fail(small(dir.path(), false));
    ASSERT_NE(s, nullptr);
    ASSERT_OK(s->commit({op::put(table::meta, "k", "v")}));
    ASSERT_OK(s->sync());
  }
  auto s = open_or_fail(small(dir.path(), false));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(get_or(*s, table::meta, "k"), "v");
}

TEST(LmdbStore, EveryTableIsANamedDatabase) {
  temp_dir dir;
  {
    auto s = open_or_fail(small(dir.path()));
    ASSERT_NE(s, nullptr);
    std::vector<op> ops;
    for (table t : all_tables) ops.push_back(op::put(t, "key", to_string(t)));
    ASSERT_OK(s->commit(ops));
  }
  // Read with plain LMDB calls, as docs/format/keys.md describes the file.
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 8), 0);
  ASSERT_EQ(mdb_env_open(env, dir.path().c_str(), MDB_RDONLY, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), 0);
  for (const char* name : {"meta", "wal", "series", "chunks", "rollups"}) {
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0) << name;
    MDB_val k{3, const_cast<char*>("key")}, v;
    ASSERT_EQ(mdb_get(txn, dbi, &k, &v), 0) << name;
    EXPECT_EQ(std::string(static_cast<const char*>(v.mv_data), v.mv_size), name);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

TEST(LmdbStore, MapGrowsPastItsInitialSizeTransparently) {
  temp_dir dir;
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->stats().map_size, 1u << 20);
  // 50 MiB in 50 commits of 1 MiB, then one commit of 8 MiB that needs several
  // doublings in a row.
  std::string value(16 << 10, 'v');
  for (uint32_t c = 0; c < 50; ++c) {
    std::vector<op> ops;
    std::vector<std::string> keys;
    keys.reserve(64);
    for (uint32_t i = 0; i < 64; ++i) keys.push_back(be_key(c * 64 + i));
    for (auto& k : keys) ops.push_back(op::put(table::chunks, k, value));
    ASSERT_OK(s->commit(ops));
  }
  std::string big(8 << 20, 'b');
  ASSERT_OK(s->commit({op::put(table::rollups, "big", big)}));
  auto st = s->stats();
  EXPECT_GE(st.map_size, 58ull << 20);
  EXPECT_GE(st.used_bytes, 58ull << 20);
  EXPECT_EQ(st.entries[static_cast<size_t>(table::chunks)], 3200u);
  EXPECT_EQ(st.commits, 51u);
  s.reset();

  // Reopened with the small initial size: LMDB takes the size of the data.
  s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  size_t n = 0;
  ASSERT_OK(s->scan(table::chunks, "", "", [&](std::string_view k, std::string_view v) {
    EXPECT_EQ(k, be_key(n));
    EXPECT_EQ(v, value);
    ++n;
    return true;
  }));
  EXPECT_EQ(n, 3200u);
  EXPECT_EQ(get_or(*s, table::rollups, "big"), big);
  ASSERT_OK(s->commit({op::put(table::rollups, "big2", big)}));  // grows again after reopen
}

TEST(LmdbStore, MapAtItsMaximumIsStorageErrorAndTheStoreStaysUsable) {
  temp_dir dir;
  auto o = small(dir.path());
  o.max_map_size = 3 << 20;  // 1 MiB, then 2, then 3 (capped), then no more
  auto s = open_or_fail(o);
  ASSERT_NE(s, nullptr);
  ASSERT_OK(s->commit({op::put(table::chunks, "small", "1")}));
  std::string big(4 << 20, 'b');
  auto st = s->commit({op::put(table::chunks, "a", "2"), op::put(table::chunks, "big", big)});
  EXPECT_EQ(st.code(), strata_errc::storage);
  EXPECT_NE(st.message().find(dir.path()), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("map full at its maximum of 3145728 bytes"), std::string::npos) << st.message();
  EXPECT_EQ(all_of(*s, table::chunks), (model_table{{"small", "1"}}));
  ASSERT_OK(s->commit({op::put(table::chunks, "after", std::string(1 << 20, 'a'))}));  // fits in 3 MiB
  EXPECT_EQ(s->stats().map_size, 3u << 20);
}

TEST(LmdbStore, OpenCreatesMissingDirectories) {
  temp_dir dir;
  auto s = open_or_fail(small(dir.path() + "/a/b/shard-0"));
  ASSERT_NE(s, nullptr);
  ASSERT_OK(s->commit({op::put(table::meta, "k", "v")}));
  EXPECT_TRUE(std::ifstream(dir.path() + "/a/b/shard-0/data.mdb").good());
}

TEST(LmdbStore, OpenWhereAFileIsIsStorageErrorNamingThePath) {
  temp_dir dir;
  std::string path = dir.path() + "/file";
  std::ofstream(path) << "x";
  auto s = open_lmdb(small(path + "/shard"));
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().code(), strata_errc::storage);
  EXPECT_NE(s.error().message().find(path), std::string::npos) << s.error().message();
}

TEST(LmdbStore, InitialMapAboveTheMaximumIsBadRequest) {
  temp_dir dir;
  auto o = small(dir.path());
  o.max_map_size = 1 << 19;
  auto s = open_lmdb(o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.error().code(), strata_errc::bad_request);
}

TEST(LmdbStore, LargeValuesRoundTripThroughScan) {
  temp_dir dir;
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  std::string v1(100000, '\0'), v2(5000, 'x');
  for (size_t i = 0; i < v1.size(); ++i) v1[i] = static_cast<char>(i * 7);
  ASSERT_OK(s->commit({op::put(table::chunks, "1", v1), op::put(table::chunks, "2", v2)}));
  EXPECT_EQ(all_of(*s, table::chunks), (model_table{{"1", v1}, {"2", v2}}));
}

// Resident kilobytes of this process's mappings of `file` (/proc/self/smaps).
size_t mapped_kb(const std::string& file) {
  std::ifstream smaps("/proc/self/smaps");
  size_t kb = 0;
  bool ours = false;
  for (std::string line; std::getline(smaps, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') != std::string::npos &&
        line.find(' ') > line.find('-'))
      ours = line.size() >= file.size() && line.compare(line.size() - file.size(), file.size(), file) == 0;
    else if (ours && line.rfind("Rss:", 0) == 0)
      kb += std::stoul(line.substr(4));
  }
  return kb;
}

TEST(LmdbStore, ReleasingMappedPagesDropsThemFromTheRssAndKeepsTheData) {
  temp_dir dir;
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  std::deque<std::string> keep;
  std::vector<op> ops;
  for (int i = 0; i < 2000; ++i)  // ~8 MB, one 4 KiB value each
    ops.push_back(op::put(table::chunks, keep.emplace_back(be_key(i)), keep.emplace_back(4000, static_cast<char>(i))));
  ASSERT_OK(s->commit(ops));
  const auto file = std::filesystem::canonical(dir.path() + "/data.mdb").string();
  auto read_all = [&] {  // touches every byte of every value
    size_t bytes = 0;
    EXPECT_OK(s->scan(table::chunks, "", "", [&](std::string_view, std::string_view v) {
      for (char c : v) bytes += c == v.front();
      return true;
    }));
    return bytes;
  };
  EXPECT_EQ(read_all(), 2000u * 4000);
  const size_t before = mapped_kb(file);
  EXPECT_GT(before, 7000u);  // every page was read through the map
  s->release_mapped_pages();
  EXPECT_LT(mapped_kb(file), 100u);
  EXPECT_EQ(all_of(*s, table::chunks).size(), 2000u);
  for (int i : {0, 999, 1999}) {
    std::string v;
    ASSERT_OK(s->get(table::chunks, be_key(i), v));
    EXPECT_EQ(v, std::string(4000, static_cast<char>(i)));
  }
}

// In a child process whose file size limit is just above the data file: the
// commit's page writes fail (EFBIG, or EIO for a short write) as on a full
// disk. That must be a storage error naming the directory, not a crash, and
// once there is room again the same store commits.
void commit_past_the_file_size_limit(const std::string& dir) {
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    std::exit(1);
  };
  auto r = open_lmdb(small(dir));
  if (!r) fail("open: " + r.error().message());
  store& s = **r;
  if (auto st = s.commit({op::put(table::chunks, "before", "1")}); !st) fail("first commit: " + st.message());
  std::ifstream f(dir + "/data.mdb", std::ios::ate | std::ios::binary);
  auto size = static_cast<rlim_t>(f.tellg());
  signal(SIGXFSZ, SIG_IGN);
  rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit lim = old;
  lim.rlim_cur = size + 8192;
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0) fail("setrlimit");
  auto st = s.commit({op::put(table::chunks, "big", std::string(4 << 20, 'b'))});
  if (st.code() != strata_errc::storage) fail("commit past the limit: " + st.message());
  if (st.message().find(dir) == std::string::npos) fail("message does not name the directory: " + st.message());
  std::string v;
  if (s.get(table::chunks, "big", v).code() != strata_errc::not_found) fail("the failed commit is visible");
  setrlimit(RLIMIT_FSIZE, &old);
  if (auto st2 = s.commit({op::put(table::chunks, "after", "2")}); !st2) fail("commit after: " + st2.message());
  if (!s.get(table::chunks, "before", v) || v != "1") fail("lost the first commit");
  std::fprintf(stderr, "commit failed as expected: %s\n", st.message().c_str());
  std::exit(0);
}

TEST(LmdbStore, CommitThatCannotWriteIsStorageErrorAndTheStoreStaysUsable) {
  temp_dir dir;
  EXPECT_EXIT(commit_past_the_file_size_limit(dir.path()), ::testing::ExitedWithCode(0), "commit failed as expected");
}

uint64_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// A store whose data file has grown by values since erased: most of its pages are free.
void fill_then_erase_most(store& s, model_table& kept) {
  for (int round = 0; round < 4; ++round) {
    std::vector<op> ops;
    std::deque<std::string> keep;
    for (int i = 0; i < 200; ++i) {
      const auto& k = keep.emplace_back(be_key(round * 1000 + i));
      ops.push_back(op::put(table::wal, k, keep.emplace_back(std::string(3000 + i, static_cast<char>('a' + round)))));
    }
    ASSERT_OK(s.commit(ops));
  }
  ASSERT_OK(s.commit({op::erase_range(table::wal, be_key(0), be_key(3150))}));
  std::vector<op> ops;
  std::deque<std::string> keep;
  for (int i = 0; i < 300; ++i) {
    const auto& k = keep.emplace_back("s" + std::to_string(i));
    ops.push_back(op::put(table::series, k, keep.emplace_back(std::string(i % 40, 'v'))));
  }
  ASSERT_OK(s.commit(ops));
  for (table t : all_tables)
    for (auto& [k, v] : all_of(s, t)) kept[std::string(to_string(t)) + "/" + k] = v;
}

model_table everything(const store& s) {
  model_table m;
  for (table t : all_tables)
    for (auto& [k, v] : all_of(s, t)) m[std::string(to_string(t)) + "/" + k] = v;
  return m;
}

TEST(LmdbStore, CompactCopyKeepsEveryEntryAndShrinksTheFile) {
  temp_dir dir;
  const std::string data = dir.path() + "/data.mdb";
  model_table kept;
  {
    auto s = open_or_fail(small(dir.path()));
    ASSERT_NE(s, nullptr);
    fill_then_erase_most(*s, kept);
    ASSERT_EQ(kept.size(), 50u + 300u);
    const uint64_t before = file_size(data);
    ASSERT_OK(s->compact_copy());
    const uint64_t after = file_size(data);
    EXPECT_LT(after * 4, before) << "before " << before << " after " << after;
    EXPECT_EQ(everything(*s), kept);
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + lmdb_compact_file));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/" + lmdb_compact_file + "-lock"));
    // Still a working store: commits, and a second copy of the copy.
    ASSERT_OK(s->commit({op::put(table::meta, "after", "1")}));
    kept["meta/after"] = "1";
    ASSERT_OK(s->compact_copy());
    EXPECT_EQ(everything(*s), kept);
  }
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(everything(*s), kept);
}

TEST(LmdbStore, CompactCopyOfAnEmptyStoreWorks) {
  temp_dir dir;
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  ASSERT_OK(s->compact_copy());
  EXPECT_EQ(everything(*s), model_table{});
  ASSERT_OK(s->commit({op::put(table::chunks, "k", "v")}));
  EXPECT_EQ(get_or(*s, table::chunks, "k"), "v");
}

// A crash after the copy was written but before its rename leaves the copy
// beside the intact data file: open ignores and removes it.
TEST(LmdbStore, LeftoverCompactCopyIsRemovedAtOpenAndTheDataFileWins) {
  temp_dir dir;
  model_table kept;
  {
    auto s = open_or_fail(small(dir.path()));
    ASSERT_NE(s, nullptr);
    fill_then_erase_most(*s, kept);
  }
  const std::string leftover = dir.path() + "/" + lmdb_compact_file;
  {
    std::ofstream f(leftover, std::ios::binary);
    f << std::string(10000, 'x');  // a torn copy
    std::ofstream l(leftover + "-lock", std::ios::binary);
    l << std::string(100, 'l');
  }
  auto s = open_or_fail(small(dir.path()));
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_FALSE(std::filesystem::exists(leftover + "-lock"));
  EXPECT_EQ(everything(*s), kept);
}

// In a child process whose file size limit is below what the copy needs: the
// copy fails, the store says so naming the directory, the old data file is
// untouched and the store stays usable.
void compact_copy_past_the_file_size_limit(const std::string& dir) {
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "%s\n", why.c_str());
    std::exit(1);
  };
  auto r = open_lmdb(small(dir));
  if (!r) fail("open: " + r.error().message());
  store& s = **r;
  std::deque<std::string> keep;
  std::vector<op> ops;
  for (int i = 0; i < 100; ++i)
    ops.push_back(op::put(table::chunks, keep.emplace_back(be_key(i)), keep.emplace_back(std::string(5000, 'c'))));
  if (auto st = s.commit(ops); !st) fail("commit: " + st.message());
  signal(SIGXFSZ, SIG_IGN);
  rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit lim = old;
  lim.rlim_cur = 64 << 10;  // the live data is ~600 KB
  if (setrlimit(RLIMIT_FSIZE, &lim) != 0) fail("setrlimit");
  auto st = s.compact_copy();
  setrlimit(RLIMIT_FSIZE, &old);
  if (st.code() != strata_errc::storage) fail("compact_copy past the limit: " + st.message());
  if (st.message().find(dir) == std::string::npos) fail("message does not name the directory: " + st.message());
  if (std::filesystem::exists(dir + "/" + lmdb_compact_file) ||
      std::filesystem::exists(dir + "/" + lmdb_compact_file + "-lock"))
    fail("the failed copy was left behind");
  std::string v;
  if (!s.get(table::chunks, be_key(99), v) || v != std::string(5000, 'c')) fail("lost data");
  if (auto st2 = s.commit({op::put(table::chunks, "after", "2")}); !st2) fail("commit after: " + st2.message());
  if (auto st3 = s.compact_copy(); !st3) fail("compact_copy with room: " + st3.message());
  if (!s.get(table::chunks, "after", v) || v != "2") fail("lost the later commit");
  std::fprintf(stderr, "compact_copy failed as expected: %s\n", st.message().c_str());
  std::exit(0);
}

TEST(LmdbStore, CompactCopyThatCannotWriteIsStorageErrorAndTheDataFileStays) {
  temp_dir dir;
  EXPECT_EXIT(compact_copy_past_the_file_size_limit(dir.path()), ::testing::ExitedWithCode(0),
              "compact_copy failed as expected");
}

}  // namespace
}  // namespace strata::persistence::kv
