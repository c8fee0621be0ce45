// The behaviour every store keeps (persistence/kv/store.hpp), run against LMDB
// (a fresh directory per test) and the in-memory store.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>

#include "kv_test_util.hpp"
#include "persistence/kv/faulty_store.hpp"

namespace strata::persistence::kv {
namespace {

using namespace kv_test;

class StoreTest : public ::testing::TestWithParam<backend> {
 protected:
  void SetUp() override {
    s_ = open_backend(GetParam(), dir_.path());
    ASSERT_NE(s_, nullptr);
  }

  store& s() { return *s_; }

  temp_dir dir_;
  std::unique_ptr<store> s_;
};

TEST_P(StoreTest, GetOfAbsentKeyIsNotFound) {
  std::string v = "untouched";
  EXPECT_EQ(s().get(table::meta, "nope", v).code(), strata_errc::not_found);
  EXPECT_EQ(v, "untouched");
  EXPECT_EQ(s().get(table::meta, "", v).code(), strata_errc::not_found);
  EXPECT_EQ(s().get(table::meta, std::string(600, 'k'), v).code(), strata_errc::not_found);
}

TEST_P(StoreTest, PutThenGetReturnsTheBytes) {
  std::string binary("a\0b\xff", 4);
  ASSERT_OK(s().commit({op::put(table::series, "k1", "v1"), op::put(table::series, binary, binary),
                        op::put(table::series, "empty", "")}));
  EXPECT_EQ(get_or(s(), table::series, "k1"), "v1");
  EXPECT_EQ(get_or(s(), table::series, binary), binary);
  std::string v = "x";
  ASSERT_OK(s().get(table::series, "empty", v));
  EXPECT_EQ(v, "");
}

TEST_P(StoreTest, PutOverwrites) {
  ASSERT_OK(s().commit({op::put(table::meta, "k", "first")}));
  ASSERT_OK(s().commit({op::put(table::meta, "k", "second, longer")}));
  EXPECT_EQ(get_or(s(), table::meta, "k"), "second, longer");
  EXPECT_EQ(s().stats().entries[static_cast<size_t>(table::meta)], 1u);
}

TEST_P(StoreTest, TablesAreSeparate) {
  std::vector<op> ops;
  for (table t : all_tables) ops.push_back(op::put(t, "same", to_string(t)));
  ASSERT_OK(s().commit(ops));
  for (table t : all_tables) EXPECT_EQ(get_or(s(), t, "same"), to_string(t));
  ASSERT_OK(s().commit({op::erase(table::wal, "same")}));
  EXPECT_EQ(get_or(s(), table::wal, "same"), "<absent>");
  EXPECT_EQ(get_or(s(), table::chunks, "same"), "chunks");
}

TEST_P(StoreTest, EraseRemovesTheKeyAndAnAbsentKeyIsNoError) {
  ASSERT_OK(s().commit({op::put(table::chunks, "a", "1"), op::put(table::chunks, "b", "2")}));
  ASSERT_OK(s().commit({op::erase(table::chunks, "a"), op::erase(table::chunks, "never"), op::erase(table::chunks, ""),
                        op::erase(table::chunks, std::string(600, 'x'))}));
  EXPECT_EQ(all_of(s(), table::chunks), (model_table{{"b", "2"}}));
}

TEST_P(StoreTest, ScanOrderIsUnsignedBytesThenLength) {
  std::vector<std::string> keys = {
      std::string("\x00", 1), "\x01", "a", std::string("a\x00", 2), "ab", "\x7f", "\x80", "\xff", "\xff\xff"};
  std::vector<op> ops;
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) ops.push_back(op::put(table::wal, *it, "v"));
  ASSERT_OK(s().commit(ops));
  EXPECT_EQ(keys_of(s(), table::wal, "", ""), keys);
}

TEST_P(StoreTest, ScanBoundsAreHalfOpen) {
  ASSERT_OK(s().commit({op::put(table::series, "b", "1"), op::put(table::series, "c", "2"),
                        op::put(table::series, "d", "3"), op::put(table::series, "e", "4")}));
  using v = std::vector<std::string>;
  EXPECT_EQ(keys_of(s(), table::series, "c", "e"), (v{"c", "d"}));               // from inclusive, to exclusive
  EXPECT_EQ(keys_of(s(), table::series, "bb", "dd"), (v{"c", "d"}));             // bounds between keys
  EXPECT_EQ(keys_of(s(), table::series, "c", ""), (v{"c", "d", "e"}));           // empty to: no upper bound
  EXPECT_EQ(keys_of(s(), table::series, "", "c"), (v{"b"}));                     // empty from: the first key
  EXPECT_EQ(keys_of(s(), table::series, "d", "d"), (v{}));                       // empty range
  EXPECT_EQ(keys_of(s(), table::series, "e", "b"), (v{}));                       // reversed range
  EXPECT_EQ(keys_of(s(), table::series, "f", ""), (v{}));                        // past the last key
  EXPECT_EQ(keys_of(s(), table::series, std::string(600, 'c'), "e"), (v{"d"}));  // a bound may be long
  EXPECT_EQ(keys_of(s(), table::meta, "", ""), (v{}));                           // empty table
}

TEST_P(StoreTest, ScanStopsWhenTheCallbackReturnsFalse) {
  ASSERT_OK(
      s().commit({op::put(table::meta, "a", "1"), op::put(table::meta, "b", "2"), op::put(table::meta, "c", "3")}));
  std::vector<std::string> seen;
  ASSERT_OK(s().scan(table::meta, "", "", [&](std::string_view k, std::string_view v) {
    seen.emplace_back(std::string(k) + "=" + std::string(v));
    return k != "b";
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", "b=2"}));
}

TEST_P(StoreTest, ScanCallbackMayReadTheStoreButNotCommit) {
  ASSERT_OK(
      s().commit({op::put(table::meta, "a", "1"), op::put(table::meta, "b", "2"), op::put(table::wal, "w", "x")}));
  int calls = 0;
  ASSERT_OK(s().scan(table::meta, "", "", [&](std::string_view k, std::string_view) {
    ++calls;
    EXPECT_EQ(get_or(s(), table::wal, "w"), "x");
    EXPECT_EQ(keys_of(s(), table::meta, "", ""), (std::vector<std::string>{"a", "b"}));
    auto st = s().commit({op::put(table::meta, std::string(k) + "x", "no")});
    EXPECT_EQ(st.code(), strata_errc::internal) << st.message();
    return true;
  }));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(all_of(s(), table::meta), (model_table{{"a", "1"}, {"b", "2"}}));
  ASSERT_OK(s().commit({op::put(table::meta, "c", "3")}));  // and commits work again afterwards
}

TEST_P(StoreTest, EraseRangeDeletesTheHalfOpenRange) {
  std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g", "h"};
  std::vector<op> ops;
  for (auto& k : keys) ops.push_back(op::put(table::rollups, k, "v"));
  ASSERT_OK(s().commit(ops));
  using v = std::vector<std::string>;
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "b", "d")}));
  EXPECT_EQ(keys_of(s(), table::rollups, "", ""), (v{"a", "d", "e", "f", "g", "h"}));
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "ee", "")}));  // empty end: to the last key
  EXPECT_EQ(keys_of(s(), table::rollups, "", ""), (v{"a", "d", "e"}));
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "e", "a")}));  // reversed: nothing
  EXPECT_EQ(keys_of(s(), table::rollups, "", ""), (v{"a", "d", "e"}));
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "", "e")}));  // empty start: from the first key
  EXPECT_EQ(keys_of(s(), table::rollups, "", ""), (v{"e"}));
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "", "")}));
  EXPECT_EQ(keys_of(s(), table::rollups, "", ""), (v{}));
  ASSERT_OK(s().commit({op::erase_range(table::rollups, "", "")}));  // of an empty table
}

TEST_P(StoreTest, EraseRangeOverManyPagesLeavesExactlyTheRest) {
  // 20,000 keys of 8 bytes span hundreds of LMDB pages, so the cursor crosses
  // page boundaries and the tree rebalances while it deletes.
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < 20000; ++i) keys.push_back(be_key(i * 2));
  std::vector<op> ops;
  std::string value(40, 'v');
  for (auto& k : keys) ops.push_back(op::put(table::chunks, k, value));
  ASSERT_OK(s().commit(ops));
  ASSERT_OK(s().commit({op::erase_range(table::chunks, be_key(1001), be_key(30001))}));
  std::vector<std::string> want;
  for (uint32_t i = 0; i < 20000; ++i)
    if (i * 2 < 1001 || i * 2 >= 30001) want.push_back(be_key(i * 2));
  EXPECT_EQ(keys_of(s(), table::chunks, "", ""), want);
  ASSERT_OK(s().commit({op::erase_range(table::chunks, be_key(30001), "")}));  // the whole tail
  want.resize(501);
  EXPECT_EQ(keys_of(s(), table::chunks, "", ""), want);
  EXPECT_EQ(s().stats().entries[static_cast<size_t>(table::chunks)], 501u);
}

TEST_P(StoreTest, OpsOfACommitApplyInOrder) {
  ASSERT_OK(s().commit({op::put(table::meta, "k", "1"), op::erase(table::meta, "k"), op::put(table::meta, "k", "2"),
                        op::put(table::meta, "m", "x"), op::erase_range(table::meta, "l", "n"),
                        op::put(table::meta, "m2", "y")}));
  EXPECT_EQ(all_of(s(), table::meta), (model_table{{"k", "2"}, {"m2", "y"}}));
}

TEST_P(StoreTest, EmptyKeyIsBadRequestAndTheCommitChangesNothing) {
  ASSERT_OK(s().commit({op::put(table::meta, "keep", "1")}));
  auto st = s().commit({op::put(table::meta, "a", "1"), op::erase(table::meta, "keep"), op::put(table::meta, "", "x")});
  EXPECT_EQ(st.code(), strata_errc::bad_request) << st.message();
  EXPECT_NE(st.message().find("op 2"), std::string::npos) << st.message();
  EXPECT_EQ(all_of(s(), table::meta), (model_table{{"keep", "1"}}));
}

// On LMDB this is LMDB's own refusal (MDB_BAD_VALSIZE) after earlier puts
// already went into the transaction: the abort must take them back.
TEST_P(StoreTest, KeyOver511BytesIsBadRequestAndTheCommitChangesNothing) {
  std::string longest(max_key_size, 'k'), too_long(max_key_size + 1, 'k');
  ASSERT_OK(s().commit({op::put(table::series, longest, "fits")}));
  EXPECT_EQ(get_or(s(), table::series, longest), "fits");
  std::vector<std::string> before;
  for (int i = 0; i < 100; ++i) before.push_back("before-" + std::to_string(i));
  std::vector<op> ops;
  for (auto& k : before) ops.push_back(op::put(table::series, k, "v"));
  ops.push_back(op::erase(table::series, longest));
  ops.push_back(op::put(table::series, too_long, "no"));
  ops.push_back(op::put(table::series, "after", "v"));
  auto st = s().commit(ops);
  EXPECT_EQ(st.code(), strata_errc::bad_request) << st.message();
  EXPECT_NE(st.message().find("512-byte key in table series"), std::string::npos) << st.message();
  EXPECT_EQ(all_of(s(), table::series), (model_table{{longest, "fits"}}));
  EXPECT_EQ(s().stats().commits, 1u);
}

TEST_P(StoreTest, OpOnNoTableIsBadRequest) {
  auto bogus = static_cast<table>(9);
  EXPECT_EQ(s().commit({op::put(table::meta, "a", "1"), op::put(bogus, "k", "v")}).code(), strata_errc::bad_request);
  EXPECT_EQ(all_of(s(), table::meta), model_table{});
  std::string v;
  EXPECT_EQ(s().get(bogus, "k", v).code(), strata_errc::bad_request);
  EXPECT_EQ(s().scan(bogus, "", "", [](auto, auto) { return true; }).code(), strata_errc::bad_request);
}

TEST_P(StoreTest, StatsCountEntriesPerTableAndCommits) {
  ASSERT_OK(
      s().commit({op::put(table::meta, "a", "1"), op::put(table::series, "b", "2"), op::put(table::series, "c", "3")}));
  ASSERT_OK(s().commit({}));
  EXPECT_EQ(s().commit({op::put(table::meta, "", "")}).code(), strata_errc::bad_request);
  auto st = s().stats();
  EXPECT_EQ(st.commits, 2u);
  EXPECT_EQ(st.entries[static_cast<size_t>(table::meta)], 1u);
  EXPECT_EQ(st.entries[static_cast<size_t>(table::series)], 2u);
  EXPECT_EQ(st.entries[static_cast<size_t>(table::wal)], 0u);
  EXPECT_GT(st.used_bytes, 0u);
  ASSERT_OK(s().sync());
}

// Random commits of puts, erases and range erases (and now and then a commit
// with a bad key that must change nothing), checked after every commit
// against a std::map model.
TEST_P(StoreTest, RandomCommitsMatchAModel) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    temp_dir dir;
    auto st = open_backend(GetParam(), dir.path());
    std::mt19937_64 rng(seed);
    std::array<model_table, table_count> model;
    auto key = [&] {
      // Short keys over few letters, so that ops hit each other; some long ones.
      std::string k(1 + rng() % 4, 'a');
      for (auto& c : k) c = static_cast<char>("ab\x00\x7f\x80\xff"[rng() % 6]);
      if (rng() % 20 == 0) k += std::string(100 + rng() % 300, 'z');
      return k;
    };
    for (int c = 0; c < 150; ++c) {
      std::deque<std::string> bytes;  // keeps the viewed bytes alive and in place
      std::vector<op> ops;
      auto next = model;
      bool bad = rng() % 15 == 0;
      size_t n = 1 + rng() % 60;
      for (size_t i = 0; i < n; ++i) {
        auto t = static_cast<table>(rng() % table_count);
        auto& m = next[static_cast<size_t>(t)];
        auto r = rng() % 10;
        const std::string& k = bytes.emplace_back(key());
        if (r < 6) {
          const std::string& v = bytes.emplace_back(std::string(rng() % 3 == 0 ? rng() % 3000 : rng() % 20, 'v'));
          ops.push_back(op::put(t, k, v));
          m[k] = v;
        } else if (r < 9) {
          ops.push_back(op::erase(t, k));
          m.erase(k);
        } else {
          const std::string& e = bytes.emplace_back(rng() % 4 == 0 ? std::string() : key());
          ops.push_back(op::erase_range(t, k, e));
          for (auto it = m.lower_bound(k); it != m.end() && (e.empty() || it->first < e);) it = m.erase(it);
        }
      }
      if (bad) ops.insert(ops.begin() + rng() % (ops.size() + 1), op::put(table::wal, "", "bad"));
      auto result = st->commit(ops);
      if (bad) {
        ASSERT_EQ(result.code(), strata_errc::bad_request) << result.message();
      } else {
        ASSERT_OK(result);
        model = next;
      }
      for (table t : all_tables) ASSERT_EQ(all_of(*st, t), model[static_cast<size_t>(t)]) << "commit " << c;
    }
  }
}

// faulty_store over each backend.

TEST_P(StoreTest, InjectedCommitFailureChangesNothingInTheWrappedStore) {
  faulty_store f(std::move(s_));
  ASSERT_OK(f.commit({op::put(table::meta, "a", "1")}));
  f.fail_next_commits(2, strata_errc::timeout, "slow disk");
  for (int i = 0; i < 2; ++i) {
    auto st = f.commit({op::put(table::meta, "b", "2"), op::erase(table::meta, "a")});
    EXPECT_EQ(st.code(), strata_errc::timeout);
    EXPECT_EQ(st.message(), "slow disk");
  }
  EXPECT_EQ(all_of(f.inner(), table::meta), (model_table{{"a", "1"}}));
  ASSERT_OK(f.commit({op::put(table::meta, "b", "2")}));
  EXPECT_EQ(all_of(f, table::meta), (model_table{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(f.commit_calls(), 4u);
  EXPECT_EQ(f.failed_commits(), 2u);
  EXPECT_EQ(f.stats().commits, 2u);
}

TEST_P(StoreTest, InjectedFailureCanWaitForLaterCommits) {
  faulty_store f(std::move(s_));
  f.fail_next_commits(1, strata_errc::storage, "third fails", 2);
  EXPECT_OK(f.commit({op::put(table::wal, "1", "")}));
  EXPECT_OK(f.commit({op::put(table::wal, "2", "")}));
  EXPECT_EQ(f.commit({op::put(table::wal, "3", "")}).code(), strata_errc::storage);
  EXPECT_OK(f.commit({op::put(table::wal, "4", "")}));
  EXPECT_EQ(keys_of(f, table::wal, "", ""), (std::vector<std::string>{"1", "2", "4"}));
}

TEST_P(StoreTest, DiskFullIsStorageUntilClearedAndTheStoreStaysUsable) {
  faulty_store f(std::move(s_));
  ASSERT_OK(f.commit({op::put(table::chunks, "before", "1")}));
  f.set_disk_full(true);
  for (int i = 0; i < 3; ++i) {
    auto st = f.commit({op::put(table::chunks, "during", "2")});
    EXPECT_EQ(st.code(), strata_errc::storage);
    EXPECT_NE(st.message().find("no space left on device"), std::string::npos) << st.message();
  }
  EXPECT_EQ(f.sync().code(), strata_errc::storage);
  EXPECT_EQ(get_or(f, table::chunks, "before"), "1");  // reads still work
  f.set_disk_full(false);
  ASSERT_OK(f.commit({op::put(table::chunks, "after", "3")}));
  ASSERT_OK(f.sync());
  EXPECT_EQ(all_of(f, table::chunks), (model_table{{"after", "3"}, {"before", "1"}}));
  EXPECT_EQ(f.failed_commits(), 3u);
}

TEST_P(StoreTest, InjectedReadFailuresAndClear) {
  faulty_store f(std::move(s_));
  ASSERT_OK(f.commit({op::put(table::series, "k", "v")}));
  f.fail_next_reads(2, strata_errc::corruption, "bad page");
  std::string v;
  EXPECT_EQ(f.get(table::series, "k", v).code(), strata_errc::corruption);
  EXPECT_EQ(f.scan(table::series, "", "", [](auto, auto) { return true; }).code(), strata_errc::corruption);
  EXPECT_OK(f.get(table::series, "k", v));
  EXPECT_EQ(f.failed_reads(), 2u);

  f.fail_next_commits(5);
  f.fail_next_reads(5);
  f.set_disk_full(true);
  f.set_commit_delay(std::chrono::microseconds(100));
  f.clear();
  EXPECT_OK(f.commit({op::put(table::series, "k2", "v2")}));
  EXPECT_OK(f.get(table::series, "k2", v));
  EXPECT_EQ(v, "v2");
}

TEST_P(StoreTest, CompactCopyKeepsEveryEntryAndIsRefusedInsideAScan) {
  ASSERT_OK(s().commit({op::put(table::series, "a", "1"), op::put(table::chunks, "b", std::string(9000, 'x')),
                        op::put(table::wal, "c", "3")}));
  ASSERT_OK(s().commit({op::erase(table::wal, "c")}));
  ASSERT_OK(s().compact_copy());
  EXPECT_EQ(all_of(s(), table::series), (model_table{{"a", "1"}}));
  EXPECT_EQ(all_of(s(), table::chunks), (model_table{{"b", std::string(9000, 'x')}}));
  EXPECT_EQ(all_of(s(), table::wal), model_table{});
  status inside;
  ASSERT_OK(s().scan(table::series, "", "", [&](std::string_view, std::string_view) {
    inside = s().compact_copy();
    return true;
  }));
  EXPECT_EQ(inside.code(), strata_errc::internal);
  ASSERT_OK(s().commit({op::put(table::meta, "m", "4")}));
  EXPECT_EQ(get_or(s(), table::meta, "m"), "4");
}

TEST_P(StoreTest, FaultyStoreDelegatesCompactCopyAndFailsItWhileTheDiskIsFull) {
  faulty_store f(std::move(s_));
  ASSERT_OK(f.commit({op::put(table::series, "k", "v")}));
  f.set_disk_full(true);
  EXPECT_EQ(f.compact_copy().code(), strata_errc::storage);
  f.set_disk_full(false);
  ASSERT_OK(f.compact_copy());
  EXPECT_EQ(get_or(f, table::series, "k"), "v");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(backend::lmdb, backend::memory),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

}  // namespace
}  // namespace strata::persistence::kv
