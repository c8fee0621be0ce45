#include "rules/manager.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <chrono>
#include <thread>

namespace strata::rules {
namespace {

struct files {
  std::string dir;
  files() {
    dir = (std::filesystem::temp_directory_path() / ("rules-manager-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(dir);
  }
  ~files() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = dir + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

struct setup {
  files f;
  manual_clock clk{1'000'000};
  int evaluations = 0;
  std::vector<std::string> members{"self:1"};
  std::unique_ptr<manager> m;
  explicit setup(const std::string& yaml) {
    manager_options o;
    o.rule_files = {f.write("r.yml", yaml)};
    m = std::make_unique<manager>(
        o, clk,
        [this](const query::expr&, int64_t t) -> result<query::query_result> {
          ++evaluations;
          query::query_result r;
          r.value = query::scalar_result{t, 1};
          return r;
        },
        [](write_batch) { return status::ok(); }, [this] { return std::make_pair(members, std::string("self:1")); });
  }
  size_t groups() const {
    size_t n = 0;
    m->visit([&](const std::vector<manager::group_view>& v) { n = v.size(); });
    return n;
  }
};

TEST(Manager, BadReloadKeepsTheOldRules) {
  setup s("groups:\n- name: a\n  rules:\n  - record: x\n    expr: vector(1)\n");
  ASSERT_TRUE(s.m->reload());
  EXPECT_EQ(s.groups(), 1u);
  s.f.write("r.yml", "groups:\n- name: a\n  rules:\n  - record: x\n    expr: vector(\n");
  auto st = s.m->reload();
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("r.yml:5:"), std::string::npos) << st.message();
  EXPECT_EQ(s.groups(), 1u);
  EXPECT_EQ(s.m->reloads_failed(), 1u);
  s.m->evaluate_all(s.clk.now_ms());
  EXPECT_EQ(s.evaluations, 1);
}

TEST(Manager, OnlyGroupsThisNodeOwnsAreEvaluated) {
  std::string yaml = "groups:\n";
  for (int i = 0; i < 20; ++i)
    yaml += "- name: g" + std::to_string(i) + "\n  rules:\n  - record: x\n    expr: vector(1)\n";
  setup s(yaml);
  ASSERT_TRUE(s.m->reload());
  s.members = {"self:1", "other:1"};
  s.m->evaluate_all(s.clk.now_ms());
  int owned = 0;
  for (int i = 0; i < 20; ++i) owned += owner_of("g" + std::to_string(i), s.members) == "self:1";
  EXPECT_EQ(s.evaluations, owned);
  EXPECT_GT(owned, 0);
  EXPECT_LT(owned, 20);
  // The other node dies: this one takes every group.
  s.members = {"self:1"};
  s.evaluations = 0;
  s.m->evaluate_all(s.clk.now_ms());
  EXPECT_EQ(s.evaluations, 20);
}

// A write acknowledged by a node that does not own the group of an alerting
// rule selecting its metric: the owner evaluates the group at once (its next
// scheduled evaluation is an hour away), and nobody else does.
TEST(Manager, PromptEvaluationReachesTheGroupsOwnerOnAnotherNode) {
  files f;
  std::vector<std::string> members{"a:1", "b:1"};
  std::string name;
  for (int i = 0; name.empty(); ++i)
    if (owner_of("g" + std::to_string(i), members) == "b:1") name = "g" + std::to_string(i);
  std::string file = f.write("p.yml", "groups:\n- name: " + name +
                                          "\n  interval: 1h\n  rules:\n  - alert: Big\n    expr: watched_x > 10\n");
  manual_clock clk{1'000'000};  // the hour's first evaluation is later than now, whatever the group's offset
  std::atomic<int> evaluations[2] = {0, 0};
  std::unique_ptr<manager> m[2];
  for (int i = 0; i < 2; ++i) {
    manager_options o;
    o.rule_files = {file};
    o.sync_timeout_ms = 0;
    o.publish = [](std::string) {};
    o.send_to = [&m, i](const std::string& peer, std::string blob) {
      if (peer == (i == 0 ? std::string("b:1") : std::string("a:1"))) m[1 - i]->receive(std::move(blob));
    };
    std::string self = members[i];
    m[i] = std::make_unique<manager>(
        o, clk,
        [&evaluations, i](const query::expr&, int64_t t) -> result<query::query_result> {
          ++evaluations[i];
          query::query_result r;
          r.value = query::vector{};
          (void)t;
          return r;
        },
        [](write_batch) { return status::ok(); }, [members, self] { return std::make_pair(members, self); });
    ASSERT_TRUE(m[i]->reload());
  }
  for (auto& x : m) x->start();
  write_batch b{{{{"__name__", "watched_x"}, {"i", "1"}}, {{1'000'000, 42}}}};
  ASSERT_EQ(m[0]->watched_names(b), std::vector<std::string>{"watched_x"});
  m[0]->written({"watched_x"});
  EXPECT_TRUE([&] {
    for (int k = 0; k < 2000 && evaluations[1] == 0; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return evaluations[1] > 0;
  }()) << "the owner did not evaluate the group";
  EXPECT_EQ(evaluations[0], 0);  // the node that took the write does not own the group
  for (auto& x : m) x->stop();
}

}  // namespace
}  // namespace strata::rules
