#include "rules/rule_file.hpp"

#include <gtest/gtest.h>

namespace strata::rules {
namespace {

const char* good = R"Y(groups:
  - name: api
    interval: 30s
    limit: 10
    query_offset: 1m
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          team: infra
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 2m
        labels:
          severity: "{{ if eq $labels.job \"db\" }}page{{ else }}ticket{{ end }}"
        annotations:
          summary: "{{ $labels.instance }} down ({{ $value | humanize }})"
  - name: empty
)Y";

result<std::vector<group>> parse(const std::string& text) { return parse_rule_file("r.yml", text); }

std::string err(const std::string& text) {
  auto g = parse(text);
  EXPECT_FALSE(g);
  return g ? "" : g.error().message();
}

TEST(RuleFile, GoodFileLoadsEveryField) {
  auto gs = parse(good);
  ASSERT_TRUE(gs) << gs.error().message();
  ASSERT_EQ(gs->size(), 2u);
  const group& g = (*gs)[0];
  EXPECT_EQ(g.name, "api");
  EXPECT_EQ(g.interval_ms, 30000);
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.query_offset_ms, 60000);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].record, "job:up:sum");
  EXPECT_EQ(g.rules[1].alert, "InstanceDown");
  EXPECT_EQ(g.rules[1].for_ms, 300000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 120000);
  EXPECT_EQ(g.rules[1].line, 11);
  EXPECT_EQ((*gs)[1].interval_ms, 60000);  // the default
}

TEST(RuleFile, EmptyFileHasNoGroups) {
  auto gs = parse("");
  ASSERT_TRUE(gs);
  EXPECT_TRUE(gs->empty());
}

TEST(RuleFile, BadYamlNamesFileAndLine) {
  EXPECT_EQ(err("groups:\n  - name: a\n    rules: [\n").rfind("r.yml:", 0), 0u);
}

TEST(RuleFile, UnknownFieldIsRefusedWithLine) {
  std::string e = err("groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        bogus: 1\n");
  EXPECT_NE(e.find("r.yml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("field bogus not found"), std::string::npos) << e;
}

TEST(RuleFile, BadExpressionIsRefusedWithLine) {
  std::string e = err("groups:\n  - name: a\n    rules:\n      - record: x\n        expr: sum(\n");
  EXPECT_NE(e.find("r.yml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("could not parse expression"), std::string::npos) << e;
}

TEST(RuleFile, RecordAndAlertTogetherAreRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n    rules:\n      - record: x\n        alert: y\n        expr: up\n")
                .find("only one of 'record' and 'alert'"),
            std::string::npos);
  EXPECT_NE(err("groups:\n  - name: a\n    rules:\n      - expr: up\n").find("one of 'record' or 'alert'"),
            std::string::npos);
}

TEST(RuleFile, InvalidRecordNameIsRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n    rules:\n      - record: 1x\n        expr: up\n")
                .find("invalid recording rule name: 1x"),
            std::string::npos);
}

TEST(RuleFile, ForOnRecordingRuleIsRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n        for: 1m\n")
                .find("invalid field 'for' in recording rule"),
            std::string::npos);
}

TEST(RuleFile, DuplicateGroupNameIsRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n  - name: a\n").find("r.yml:3: group \"a\": repeated"), std::string::npos);
}

TEST(RuleFile, BadDurationIsRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n    interval: 5 minutes\n").find("interval"), std::string::npos);
}

TEST(RuleFile, UnknownTemplateFunctionIsRefusedWithRule) {
  std::string e = err(
      "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n"
      "          x: \"{{ $value | nope }}\"\n");
  EXPECT_NE(e.find("r.yml:7:"), std::string::npos) << e;
  EXPECT_NE(e.find("alert A"), std::string::npos) << e;
  EXPECT_NE(e.find("function \"nope\" not defined"), std::string::npos) << e;
}

TEST(RuleFile, InvalidLabelNameIsRefused) {
  EXPECT_NE(err("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        labels:\n"
                "          \"bad-name\": x\n")
                .find("invalid label name: bad-name"),
            std::string::npos);
}

TEST(RuleFile, MissingFileIsRefused) {
  auto r = load_rule_files({"/nonexistent/rules.yml"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent/rules.yml"), std::string::npos);
}

}  // namespace
}  // namespace strata::rules
