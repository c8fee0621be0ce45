#include "rules/alert_store.hpp"

#include <xxhash.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace strata::rules {
namespace kv = persistence::kv;

namespace {

// Keys: "alert/" + 16 hex digits of XXH64(group) + "/" + 16 hex digits of
// XXH64(rule, labels): fixed length, grouped by group for a prefix scan.
std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string group_prefix(const std::string& group) { return "alert/" + hex(XXH64(group.data(), group.size(), 0)) + "/"; }

std::string key_of(const std::string& group, const std::string& rule, const labels& lbls) {
  std::string id = rule;
  for (const auto& l : lbls) id += '\xff' + l.name + '\xfe' + l.value;
  return group_prefix(group) + hex(XXH64(id.data(), id.size(), 0));
}

nlohmann::json labels_json(const labels& ls) {
  auto a = nlohmann::json::array();
  for (const auto& l : ls) a.push_back({l.name, l.value});
  return a;
}

labels labels_from(const nlohmann::json& j) {
  labels out;
  for (const auto& p : j) out.push_back({p.at(0).get<std::string>(), p.at(1).get<std::string>()});
  return out;
}

}  // namespace

alert_store::alert_store(std::unique_ptr<kv::store> st) : store_(std::move(st)) {}

result<std::unique_ptr<alert_store>> alert_store::open(const std::string& dir) {
  kv::lmdb_options o;
  o.dir = dir;
  o.initial_map_size = 8 << 20;
  o.max_map_size = 1ull << 30;
  auto st = kv::open_lmdb(o);
  if (!st) return st.error();
  return std::make_unique<alert_store>(std::move(*st));
}

status alert_store::put(const std::string& group, const std::string& rule, const alert& a) {
  nlohmann::json j;
  j["v"] = 1;
  j["group"] = group;
  j["rule"] = rule;
  j["labels"] = labels_json(a.lbls);
  j["annotations"] = labels_json(a.annotations);
  j["state"] = static_cast<int>(a.state);
  j["value"] = a.value;
  j["active_at"] = a.active_at;
  j["fired_at"] = a.fired_at;
  j["resolved_at"] = a.resolved_at;
  j["keep_firing_since"] = a.keep_firing_since;
  std::string key = key_of(group, rule, a.lbls), value = j.dump();
  return store_->commit({kv::op::put(kv::table::meta, key, value)});
}

status alert_store::erase(const std::string& group, const std::string& rule, const labels& lbls) {
  std::string key = key_of(group, rule, lbls);
  return store_->commit({kv::op::erase(kv::table::meta, key)});
}

result<std::vector<stored_alert>> alert_store::load(const std::string& group) const {
  std::vector<stored_alert> out;
  std::string prefix = group_prefix(group), end = prefix;
  end.back() = static_cast<char>('/' + 1);
  status bad;
  auto st = store_->scan(kv::table::meta, prefix, end, [&](std::string_view k, std::string_view v) {
    auto j = nlohmann::json::parse(v, nullptr, false);
    try {
      if (j.is_discarded() || j.value("v", 0) != 1) throw std::runtime_error("not a version 1 record");
      stored_alert s;
      s.group = j.at("group").get<std::string>();
      s.rule = j.at("rule").get<std::string>();
      s.a.lbls = labels_from(j.at("labels"));
      s.a.annotations = labels_from(j.at("annotations"));
      int state = j.at("state").get<int>();
      if (state < 0 || state > 2) throw std::runtime_error("state " + std::to_string(state) + " out of range");
      s.a.state = static_cast<alert_state>(state);
      s.a.value = j.at("value").is_number() ? j.at("value").get<double>() : 0;
      s.a.active_at = j.at("active_at").get<int64_t>();
      s.a.fired_at = j.at("fired_at").get<int64_t>();
      s.a.resolved_at = j.at("resolved_at").get<int64_t>();
      s.a.keep_firing_since = j.at("keep_firing_since").get<int64_t>();
      if (s.group == group) out.push_back(std::move(s));  // a hash collision with another group is skipped
    } catch (const std::exception& e) {
      bad = error(strata_errc::corruption, "alert state record " + std::string(k) + ": " + e.what());
      return false;
    }
    return true;
  });
  if (!st) return st;
  if (!bad) return bad;
  return out;
}

}  // namespace strata::rules
