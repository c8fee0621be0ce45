#include "rules/manager.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace strata::rules
