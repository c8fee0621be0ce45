#include "http/push_groups.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "http/grouping_key.hpp"
#include "persistence/kv/faulty_store.hpp"

namespace strata::http {
namespace {

namespace kv = persistence::kv;

bool is_stale(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b == 0x7ff0000000000002ULL;
}

const labels key{{"instance", "i1"}, {"job", "batch"}};

series s(const std::string& name, int64_t t, double v) {
  return {{{"__name__", name}, {"instance", "i1"}, {"job", "batch"}}, {{t, v}}};
}

pushed_group push(std::vector<std::pair<series, std::string>> xs) {
  pushed_group g;
  for (auto& [ser, fam] : xs) {
    g.series.push_back(ser);
    g.family.push_back(fam);
  }
  return g;
}

std::unique_ptr<push_groups> open_memory() {
  auto g = push_groups::open(kv::make_memory_store());
  EXPECT_TRUE(g);
  return std::move(*g);
}

TEST(PushGroups, PutEndsSeriesNotPushedAgainWithAStaleMarker) {
  auto g = open_memory();
  auto p1 = g->prepare(key, push_mode::replace, push({{s("a", 1000, 1), "a"}, {s("b", 1000, 2), "b"}}), 1000);
  EXPECT_EQ(p1.ended, 0u);
  EXPECT_EQ(p1.batch.size(), 2u);
  ASSERT_TRUE(g->commit(key, p1.members));

  auto p2 = g->prepare(key, push_mode::replace, push({{s("a", 2000, 5), "a"}}), 2000);
  EXPECT_EQ(p2.ended, 1u);
  ASSERT_EQ(p2.batch.size(), 2u);
  EXPECT_EQ(label_value(p2.batch[1].lbls, "__name__"), "b");
  EXPECT_TRUE(is_stale(p2.batch[1].samples[0].v));
  EXPECT_EQ(p2.batch[1].samples[0].t, 2000);
  ASSERT_EQ(p2.members.size(), 1u);
}

TEST(PushGroups, PostReplacesOnlyThePushedFamilies) {
  auto g = open_memory();
  auto p1 = g->prepare(key, push_mode::replace,
                       push({{s("a", 1000, 1), "a"}, {s("h_bucket", 1000, 1), "h"}, {s("h_sum", 1000, 1), "h"}}), 1000);
  ASSERT_TRUE(g->commit(key, p1.members));
  // POST family h with only h_sum: h_bucket ends, a stays.
  auto p2 = g->prepare(key, push_mode::add, push({{s("h_sum", 2000, 3), "h"}}), 2000);
  EXPECT_EQ(p2.ended, 1u);
  EXPECT_EQ(label_value(p2.batch.back().lbls, "__name__"), "h_bucket");
  EXPECT_EQ(p2.members.size(), 2u);
}

TEST(PushGroups, DeleteEndsEverySeriesAndRemovesTheGroup) {
  auto g = open_memory();
  auto p1 = g->prepare(key, push_mode::replace, push({{s("a", 1000, 1), "a"}, {s("b", 1000, 2), "b"}}), 1000);
  ASSERT_TRUE(g->commit(key, p1.members));
  auto p2 = g->prepare(key, push_mode::remove, {}, 3000);
  EXPECT_EQ(p2.ended, 2u);
  EXPECT_TRUE(p2.members.empty());
  for (const auto& x : p2.batch) EXPECT_TRUE(is_stale(x.samples[0].v));
  ASSERT_TRUE(g->commit(key, p2.members));
  EXPECT_EQ(g->group_count(), 0u);
}

TEST(PushGroups, StaleMarkerGoesAfterTheNewestPushedTimestamp) {
  auto g = open_memory();
  auto p1 = g->prepare(key, push_mode::replace, push({{s("a", 9000, 1), "a"}}), 1000);  // pushed with a future timestamp
  ASSERT_TRUE(g->commit(key, p1.members));
  auto p2 = g->prepare(key, push_mode::remove, {}, 2000);
  ASSERT_EQ(p2.batch.size(), 1u);
  EXPECT_EQ(p2.batch[0].samples[0].t, 9001);
}

TEST(PushGroups, MembershipSurvivesReopeningTheLmdbEnvironment) {
  std::string dir = std::filesystem::temp_directory_path() / ("push_groups_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  kv::lmdb_options o;
  o.dir = dir;
  {
    auto st = kv::open_lmdb(o);
    ASSERT_TRUE(st);
    auto g = push_groups::open(std::move(*st));
    ASSERT_TRUE(g);
    auto p = (*g)->prepare(key, push_mode::replace, push({{s("a", 1000, 1), "a"}}), 1000);
    ASSERT_TRUE((*g)->commit(key, p.members));
  }
  auto st = kv::open_lmdb(o);
  ASSERT_TRUE(st);
  auto g = push_groups::open(std::move(*st));
  ASSERT_TRUE(g);
  auto m = (*g)->members(key);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].family, "a");
  EXPECT_EQ(m[0].last_t, 1000);
  EXPECT_EQ(label_value(m[0].lbls, "__name__"), "a");
  std::filesystem::remove_all(dir);
}

TEST(PushGroups, FailedCommitKeepsTheOldMembership) {
  auto inner = kv::make_memory_store();
  auto faulty = std::make_unique<kv::faulty_store>(std::move(inner));
  auto* f = faulty.get();
  auto g = push_groups::open(std::move(faulty));
  ASSERT_TRUE(g);
  auto p = (*g)->prepare(key, push_mode::replace, push({{s("a", 1000, 1), "a"}}), 1000);
  ASSERT_TRUE((*g)->commit(key, p.members));
  f->set_disk_full(true);
  auto st = (*g)->commit(key, {});
  EXPECT_FALSE(st);
  EXPECT_EQ(st.code(), strata_errc::storage);
  EXPECT_EQ((*g)->members(key).size(), 1u);
}

TEST(PushGroupRecord, RoundTrips) {
  std::vector<group_member> m{{{{"__name__", "x"}, {"job", "j"}}, "x", -5}, {{{"__name__", "y"}}, "fam", 1 << 30}};
  std::string b = encode_group(key, m);
  labels k;
  std::vector<group_member> back;
  ASSERT_TRUE(decode_group(b, "k", k, back));
  EXPECT_EQ(k, key);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].family, "fam");
  EXPECT_EQ(back[0].last_t, -5);
  EXPECT_EQ(back[1].lbls, m[1].lbls);
}

TEST(PushGroupRecord, EveryTruncationIsCorruptionNamingTheOffset) {
  std::string b = encode_group(key, {{{{"__name__", "x"}}, "x", 7}});
  for (size_t n = 0; n < b.size(); ++n) {
    labels k;
    std::vector<group_member> m;
    auto st = decode_group(std::string_view(b).substr(0, n), "\"g\"", k, m);
    ASSERT_FALSE(st) << n;
    EXPECT_EQ(st.code(), strata_errc::corruption);
    EXPECT_NE(st.message().find("push group record \"g\" at byte"), std::string::npos) << st.message();
  }
}

TEST(PushGroupRecord, UnknownVersionAndTrailingBytesAreCorruption) {
  std::string b = encode_group(key, {});
  labels k;
  std::vector<group_member> m;
  std::string v2 = b;
  v2[0] = 2;
  auto st = decode_group(v2, "g", k, m);
  EXPECT_NE(st.message().find("unknown version 2"), std::string::npos) << st.message();
  st = decode_group(b + "x", "g", k, m);
  EXPECT_NE(st.message().find("trailing bytes"), std::string::npos) << st.message();
}

TEST(GroupingKey, JobAndLabelsAreParsedAndSorted) {
  auto k = parse_grouping_key("/metrics/job/batch/zone/eu/instance/i1");
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(to_string(*k), R"({instance="i1", job="batch", zone="eu"})");
}

TEST(GroupingKey, Base64ValuesMayHoldSlashesAndBeEmpty) {
  // "a/b" -> YS9i ; "" -> "="
  auto k = parse_grouping_key("/metrics/job@base64/YS9i/path@base64/=/x@base64/Pz5-w7w_");
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(label_value(*k, "job"), "a/b");
  EXPECT_EQ(label_value(*k, "path"), "");
  EXPECT_EQ(label_value(*k, "x"), "?>~\xc3\xbc?");  // URL-safe digits - and _
}

TEST(GroupingKey, BadPathsNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"/metrics/job/", "the job in the push path is empty"},
      {"/metrics/job/j/instance", "label instance in the push path has no value"},
      {"/metrics/job/j/instance/", "value of label instance in the push path is empty"},
      {"/metrics/job/j/a/1/", "push path ends with '/' after label a"},
      {"/metrics/job/j/1a/x", "invalid label name \"1a\""},
      {"/metrics/job/j/__x/x", "invalid label name \"__x\""},
      {"/metrics/job/j/job/k", "label job appears twice"},
      {"/metrics/job/j/a@base64/!!", "value of label a in the push path is not valid URL-safe base64"},
      {"/metrics/job/j/a/\xff", "value of label a in the push path is not valid UTF-8"},
  };
  for (const auto& [path, expect] : cases) {
    auto k = parse_grouping_key(path);
    ASSERT_FALSE(k) << path;
    EXPECT_EQ(k.error().code(), strata_errc::bad_request);
    EXPECT_NE(k.error().message().find(expect), std::string::npos) << path << " -> " << k.error().message();
  }
}

}  // namespace
}  // namespace strata::http
