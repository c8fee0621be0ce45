#pragma once
// Prometheus rule files (the YAML `groups:` format promtool checks): parsed
// and validated into groups of recording and alerting rules. Every refusal
// names the file, the line and the reason, like
//   rules.yml:7: group "api": rule 2: invalid recording rule name "1x"
// A loaded rule holds its parsed expression and compiled templates, so
// evaluation cannot fail on syntax.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"
#include "query/ast.hpp"
#include "rules/template.hpp"

namespace strata::rules {

struct rule {
  std::string record;  // exactly one of record and alert is set
  std::string alert;
  std::string expr_text;
  std::shared_ptr<const query::expr> expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  // Labels added to each result; for alerts the values are templates.
  std::vector<std::pair<std::string, text_template>> labels;
  std::vector<std::pair<std::string, text_template>> annotations;  // alerts only
  int line = 0;  // 1-based line of the rule in its file

  bool is_alert() const { return !alert.empty(); }
  const std::string& name() const { return is_alert() ? alert : record; }
};

struct group {
  std::string name;
  std::string file;
  int64_t interval_ms = 0;      // 0 in the file: the node's evaluation interval
  int64_t limit = 0;            // 0: no limit on series (recording) or alerts
  int64_t query_offset_ms = 0;  // rules evaluate at t - query_offset
  std::vector<rule> rules;
};

struct load_options {
  int64_t default_interval_ms = 60000;
};

// Parses one rule file held in memory (`file` names it in errors).
result<std::vector<group>> parse_rule_file(const std::string& file, const std::string& text,
                                           const load_options& o = {});

// Reads and parses every file; fails on the first bad file or on a group
// name used twice in one file (Prometheus's rule: names are unique per file).
result<std::vector<group>> load_rule_files(const std::vector<std::string>& paths, const load_options& o = {});

}  // namespace strata::rules
