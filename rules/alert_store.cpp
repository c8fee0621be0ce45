#include "rules/alert_store.hpp"

#include <xxhash.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace strata::rules {
namespace kv = persistence::kv;

namespace {

// Keys: "alert/" + 16 hex digits of XXH64(group) + "/" + 16 hex digits of
// XXH64(rule, labels): fixed length, grouped by group for a prefix scan.
// History: "hist/" + 16 hex digits of the time (ms) + "/" + 16 hex digits
// of XXH64(group, rule, labels, state): in time order, for range deletes.
constexpr size_t alert_key_size = 6 + 16 + 1 + 16;
constexpr size_t hist_key_size = 5 + 16 + 1 + 16;

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t hash(const std::string& s) { return XXH64(s.data(), s.size(), 0); }

std::string group_prefix(const std::string& group) { return "alert/" + hex(hash(group)) + "/"; }

std::string identity(const std::string& rule, const labels& lbls) {
  std::string id = rule;
  for (const auto& l : lbls) id += '\xff' + l.name + '\xfe' + l.value;
  return id;
}

std::string key_of(const std::string& group, const std::string& rule, const labels& lbls) {
  return group_prefix(group) + hex(hash(identity(rule, lbls)));
}

std::string hist_time(int64_t ms) { return "hist/" + hex(static_cast<uint64_t>(std::max<int64_t>(ms, 0))); }

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

alert_state state_from(const nlohmann::json& j) {
  int state = j.get<int>();
  if (state < 0 || state > 2) throw std::runtime_error("state " + std::to_string(state) + " out of range");
  return static_cast<alert_state>(state);
}

double value_from(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : 0; }  // NaN is stored as null

// Throws on a record this store would not write.
stored_alert decode_alert(const nlohmann::json& j) {
  if (j.is_discarded() || j.value("v", 0) != 1) throw std::runtime_error("not a version 1 record");
  stored_alert s;
  s.group = j.at("group").get<std::string>();
  s.rule = j.at("rule").get<std::string>();
  s.a.lbls = labels_from(j.at("labels"));
  s.a.annotations = labels_from(j.at("annotations"));
  s.a.state = state_from(j.at("state"));
  s.a.value = value_from(j.at("value"));
  s.a.active_at = j.at("active_at").get<int64_t>();
  s.a.fired_at = j.at("fired_at").get<int64_t>();
  s.a.resolved_at = j.at("resolved_at").get<int64_t>();
  s.a.keep_firing_since = j.at("keep_firing_since").get<int64_t>();
  return s;
}

history_entry decode_history(const nlohmann::json& j) {
  if (j.is_discarded() || j.value("v", 0) != 1) throw std::runtime_error("not a version 1 history entry");
  history_entry h;
  h.at = j.at("at").get<int64_t>();
  h.group = j.at("group").get<std::string>();
  h.rule = j.at("rule").get<std::string>();
  h.state = state_from(j.at("state"));
  h.lbls = labels_from(j.at("labels"));
  h.annotations = labels_from(j.at("annotations"));
  h.value = value_from(j.at("value"));
  return h;
}

// (updated_at, deleted) of an alert record or tombstone; throws when it is neither.
std::pair<int64_t, bool> version_of(const nlohmann::json& j) {
  if (j.is_discarded() || j.value("v", 0) != 1) throw std::runtime_error("not a version 1 record");
  int64_t at = j.value("updated_at", int64_t{0});  // records written before replication have none
  j.at("group").get<std::string>();
  bool deleted = j.value("deleted", false);
  if (!deleted) decode_alert(j);
  return {at, deleted};
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

status alert_store::write(std::string key, std::string value) {
  if (auto st = store_->commit({kv::op::put(kv::table::meta, key, value)}); !st) return st;
  changes_.emplace_back(std::move(key), std::move(value));
  return {};
}

status alert_store::put(const std::string& group, const std::string& rule, const alert& a, int64_t at) {
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
  j["updated_at"] = at;
  return write(key_of(group, rule, a.lbls), j.dump());
}

status alert_store::erase(const std::string& group, const std::string& rule, const labels& lbls, int64_t at) {
  nlohmann::json j = {{"v", 1}, {"group", group}, {"deleted", true}, {"updated_at", at}};
  return write(key_of(group, rule, lbls), j.dump());
}

status alert_store::add_history(const history_entry& h) {
  nlohmann::json j;
  j["v"] = 1;
  j["at"] = h.at;
  j["group"] = h.group;
  j["rule"] = h.rule;
  j["state"] = static_cast<int>(h.state);
  j["labels"] = labels_json(h.lbls);
  j["annotations"] = labels_json(h.annotations);
  j["value"] = h.value;
  std::string id = h.group + '\xfd' + identity(h.rule, h.lbls) + '\xfd' + std::to_string(static_cast<int>(h.state));
  return write(hist_time(h.at) + "/" + hex(hash(id)), j.dump());
}

result<std::vector<stored_alert>> alert_store::load(const std::string& group) const {
  std::vector<stored_alert> out;
  std::string prefix = group_prefix(group), end = prefix;
  end.back() = static_cast<char>('/' + 1);
  status bad;
  auto st = store_->scan(kv::table::meta, prefix, end, [&](std::string_view k, std::string_view v) {
    try {
      auto j = nlohmann::json::parse(v, nullptr, false);
      if (version_of(j).second) return true;  // a tombstone
      auto s = decode_alert(j);
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

result<std::vector<history_entry>> alert_store::history(int64_t start, int64_t end, size_t limit,
                                                        const std::string& rule) const {
  std::vector<history_entry> out;
  status bad;
  auto st = store_->scan(kv::table::meta, hist_time(start), hist_time(end) + "0",
                         [&](std::string_view k, std::string_view v) {
                           try {
                             auto h = decode_history(nlohmann::json::parse(v, nullptr, false));
                             if (h.at < start || h.at > end) return true;
                             if (rule.empty() || h.rule == rule) out.push_back(std::move(h));
                           } catch (const std::exception& e) {
                             bad = error(strata_errc::corruption, "alert history entry " + std::string(k) + ": " + e.what());
                             return false;
                           }
                           return out.size() < limit;
                         });
  if (!st) return st;
  if (!bad) return bad;
  return out;
}

result<std::vector<kv_pair>> alert_store::dump() const {
  std::vector<kv_pair> out;
  auto take = [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  };
  if (auto st = store_->scan(kv::table::meta, "alert/", "alert0", take); !st) return st;
  if (auto st = store_->scan(kv::table::meta, "hist/", "hist0", take); !st) return st;
  return out;
}

result<bool> alert_store::apply(const kv_pair& p) {
  const auto& [key, value] = p;
  auto refuse = [&](const std::string& why) {
    return error(strata_errc::bad_request, "alert state from a peer, key \"" + key + "\": " + why);
  };
  auto j = nlohmann::json::parse(value, nullptr, false);
  try {
    if (key.rfind("hist/", 0) == 0 && key.size() == hist_key_size) {
      decode_history(j);
      bool found = false;
      auto st = store_->scan(kv::table::meta, key, key + '\0', [&](std::string_view, std::string_view) {
        found = true;
        return false;
      });
      if (!st) return st;
      if (found) return false;
    } else if (key.rfind("alert/", 0) == 0 && key.size() == alert_key_size) {
      auto incoming = version_of(j);
      std::string existing;
      auto st = store_->scan(kv::table::meta, key, key + '\0', [&](std::string_view, std::string_view v) {
        existing = v;
        return false;
      });
      if (!st) return st;
      if (!existing.empty()) {
        auto mine = version_of(nlohmann::json::parse(existing, nullptr, false));
        if (std::make_pair(incoming.first, value) <= std::make_pair(mine.first, existing)) return false;
      }
    } else {
      return refuse("not an alert record or history key");
    }
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
  if (auto st = store_->commit({kv::op::put(kv::table::meta, key, value)}); !st) return st;
  return true;
}

status alert_store::prune(int64_t before) {
  std::vector<std::string> old;
  auto st = store_->scan(kv::table::meta, "alert/", "alert0", [&](std::string_view k, std::string_view v) {
    try {
      auto [at, deleted] = version_of(nlohmann::json::parse(v, nullptr, false));
      if (deleted && at < before) old.emplace_back(k);
    } catch (const std::exception&) {
      // left for load() to report
    }
    return true;
  });
  if (!st) return st;
  std::string hist_end = hist_time(before);
  std::vector<kv::op> ops{kv::op::erase_range(kv::table::meta, "hist/", hist_end)};
  for (const auto& k : old) ops.push_back(kv::op::erase(kv::table::meta, k));
  return store_->commit(ops);
}

std::string encode_pairs(const std::vector<kv_pair>& pairs) {
  auto a = nlohmann::json::array();
  for (const auto& [k, v] : pairs) a.push_back({k, v});
  return a.dump();
}

result<std::vector<kv_pair>> decode_pairs(const std::string& blob) {
  auto j = nlohmann::json::parse(blob, nullptr, false);
  if (!j.is_array()) return error(strata_errc::bad_request, "alert state from a peer is not a JSON array");
  std::vector<kv_pair> out;
  for (const auto& p : j) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
      return error(strata_errc::bad_request, "alert state from a peer: an entry is not [key, value]");
    out.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
  }
  return out;
}

}  // namespace strata::rules
