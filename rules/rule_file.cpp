#include "rules/rule_file.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "query/lexer.hpp"
#include "query/parser.hpp"

namespace strata::rules {
namespace {

bool valid_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Parsing state: the file name for messages.
struct ctx {
  const std::string& file;
  status fail(const YAML::Node& n, const std::string& why) const {
    int line = n.IsDefined() ? n.Mark().line + 1 : 0;
    return error(strata_errc::bad_request, file + ":" + std::to_string(line) + ": " + why);
  }
};

status check_keys(const ctx& c, const YAML::Node& map, const std::set<std::string>& allowed, const std::string& what,
                  const std::string& where = "") {
  for (const auto& kv : map) {
    std::string k = kv.first.Scalar();
    if (!allowed.count(k))
      return c.fail(kv.first, (where.empty() ? "" : where + ": ") + "field " + k + " not found in type " + what);
  }
  return {};
}

result<int64_t> duration_field(const ctx& c, const YAML::Node& n, const std::string& where, const char* key) {
  if (!n.IsScalar()) return c.fail(n, where + ": " + key + " must be a duration such as 5m");
  auto d = query::parse_duration(n.Scalar());
  if (!d) return c.fail(n, where + ": " + key + ": " + d.error().message());
  if (*d < 0) return c.fail(n, where + ": " + key + " must not be negative");
  return *d;
}

result<std::vector<std::pair<std::string, text_template>>> string_map(const ctx& c, const YAML::Node& n,
                                                                      const std::string& where, const char* key,
                                                                      bool templates) {
  std::vector<std::pair<std::string, text_template>> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) return c.fail(n, where + ": " + key + " must be a map of strings");
  std::set<std::string> seen;
  for (const auto& kv : n) {
    std::string name = kv.first.Scalar();
    if (!valid_label_name(name))
      return c.fail(kv.first, where + ": invalid " + (std::string(key) == "labels" ? "label" : "annotation") +
                                  " name: " + name);
    if (!seen.insert(name).second) return c.fail(kv.first, where + ": " + key + ": duplicate key " + name);
    if (!kv.second.IsScalar() && !kv.second.IsNull())
      return c.fail(kv.second, where + ": " + key + "." + name + " must be a string");
    std::string v = kv.second.IsNull() ? std::string() : kv.second.Scalar();
    if (!templates) {
      out.emplace_back(name, text_template::literal(v));
      continue;
    }
    auto compiled = text_template::compile(v);
    if (!compiled) return c.fail(kv.second, where + ": " + key + "." + name + ": template: " + compiled.error().message());
    out.emplace_back(name, std::move(*compiled));
  }
  return out;
}

result<rule> parse_rule(const ctx& c, const YAML::Node& n, const std::string& where) {
  if (!n.IsMap()) return c.fail(n, where + ": a rule must be a map");
  if (auto st = check_keys(c, n, {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"},
                           "rulefmt.Rule", where);
      !st)
    return st;
  rule r;
  r.line = n.Mark().line + 1;
  bool has_record = n["record"].IsDefined(), has_alert = n["alert"].IsDefined();
  if (has_record && has_alert) return c.fail(n, where + ": only one of 'record' and 'alert' must be set");
  if (!has_record && !has_alert) return c.fail(n, where + ": one of 'record' or 'alert' must be set");
  if (has_record) {
    r.record = n["record"].IsScalar() ? n["record"].Scalar() : "";
    if (!valid_metric_name(r.record))
      return c.fail(n["record"], where + ": invalid recording rule name: " + r.record);
  } else {
    r.alert = n["alert"].IsScalar() ? n["alert"].Scalar() : "";
    if (r.alert.empty()) return c.fail(n["alert"], where + ": alert name must not be empty");
  }
  std::string rw = where + " (" + (has_record ? "record " + r.record : "alert " + r.alert) + ")";
  if (!n["expr"].IsDefined() || !n["expr"].IsScalar() || n["expr"].Scalar().empty())
    return c.fail(n, rw + ": field 'expr' must be set in rule");
  r.expr_text = n["expr"].Scalar();
  auto e = query::parse(r.expr_text);
  if (!e) return c.fail(n["expr"], rw + ": could not parse expression: " + e.error().message());
  r.expr = std::make_shared<const query::expr>(std::move(*e));
  if (has_record) {
    for (const char* k : {"for", "keep_firing_for", "annotations"})
      if (n[k].IsDefined()) return c.fail(n[k], rw + ": invalid field '" + k + "' in recording rule");
  }
  if (n["for"].IsDefined()) {
    auto d = duration_field(c, n["for"], rw, "for");
    if (!d) return d.error();
    r.for_ms = *d;
  }
  if (n["keep_firing_for"].IsDefined()) {
    auto d = duration_field(c, n["keep_firing_for"], rw, "keep_firing_for");
    if (!d) return d.error();
    r.keep_firing_for_ms = *d;
  }
  if (n["labels"].IsDefined()) {
    auto l = string_map(c, n["labels"], rw, "labels", has_alert);
    if (!l) return l.error();
    for (const auto& [name, t] : *l)
      if (name == "__name__") return c.fail(n["labels"], rw + ": invalid label name: __name__");
    r.labels = std::move(*l);
  }
  if (n["annotations"].IsDefined()) {
    auto a = string_map(c, n["annotations"], rw, "annotations", true);
    if (!a) return a.error();
    r.annotations = std::move(*a);
  }
  return r;
}

}  // namespace

result<std::vector<group>> parse_rule_file(const std::string& file, const std::string& text, const load_options& o) {
  ctx c{file};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return error(strata_errc::bad_request,
                 file + ":" + std::to_string(e.mark.line + 1) + ": yaml: " + e.msg);
  }
  std::vector<group> out;
  if (root.IsNull()) return out;  // an empty file has no groups
  if (!root.IsMap()) return c.fail(root, "a rule file must be a map with a 'groups' list");
  if (auto st = check_keys(c, root, {"groups"}, "rulefmt.RuleGroups"); !st) return st;
  const YAML::Node groups = root["groups"];
  if (!groups.IsDefined() || groups.IsNull()) return out;
  if (!groups.IsSequence()) return c.fail(groups, "'groups' must be a list");
  std::set<std::string> names;
  for (const auto& gn : groups) {
    if (!gn.IsMap()) return c.fail(gn, "a group must be a map");
    if (auto st = check_keys(c, gn, {"name", "interval", "limit", "query_offset", "rules", "labels"},
                             "rulefmt.RuleGroup");
        !st)
      return st;
    group g;
    g.file = file;
    g.interval_ms = o.default_interval_ms;
    if (!gn["name"].IsDefined() || !gn["name"].IsScalar() || gn["name"].Scalar().empty())
      return c.fail(gn, "Groupname must not be empty");
    g.name = gn["name"].Scalar();
    std::string where = "group \"" + g.name + "\"";
    if (!names.insert(g.name).second) return c.fail(gn["name"], where + ": repeated in the same file");
    if (gn["labels"].IsDefined())
      return c.fail(gn["labels"], where + ": group labels are not supported yet; put them on the rules");
    if (gn["interval"].IsDefined()) {
      auto d = duration_field(c, gn["interval"], where, "interval");
      if (!d) return d.error();
      if (*d == 0) return c.fail(gn["interval"], where + ": interval must be above 0");
      g.interval_ms = *d;
    }
    if (gn["query_offset"].IsDefined()) {
      auto d = duration_field(c, gn["query_offset"], where, "query_offset");
      if (!d) return d.error();
      g.query_offset_ms = *d;
    }
    if (gn["limit"].IsDefined()) {
      const auto& l = gn["limit"];
      try {
        g.limit = l.as<int64_t>();
      } catch (const YAML::Exception&) {
        return c.fail(l, where + ": limit must be an integer, not \"" + (l.IsScalar() ? l.Scalar() : "") + "\"");
      }
      if (g.limit < 0) return c.fail(l, where + ": limit must not be negative");
    }
    const YAML::Node rs = gn["rules"];
    if (rs.IsDefined() && !rs.IsNull()) {
      if (!rs.IsSequence()) return c.fail(rs, where + ": 'rules' must be a list");
      size_t i = 0;
      for (const auto& rn : rs) {
        ++i;
        auto r = parse_rule(c, rn, where + ": rule " + std::to_string(i));
        if (!r) return r.error();
        g.rules.push_back(std::move(*r));
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

result<std::vector<group>> load_rule_files(const std::vector<std::string>& paths, const load_options& o) {
  std::vector<group> out;
  for (const auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return error(strata_errc::bad_request, p + ": cannot read rule file");
    std::stringstream ss;
    ss << in.rdbuf();
    auto gs = parse_rule_file(p, ss.str(), o);
    if (!gs) return gs.error();
    for (auto& g : *gs) out.push_back(std::move(g));
  }
  return out;
}

}  // namespace strata::rules
