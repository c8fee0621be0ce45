#include "http/push_groups.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "wire/series_hash.hpp"

namespace strata::http {
namespace {

namespace kv = persistence::kv;

constexpr uint8_t group_version = 1;
constexpr std::string_view key_prefix = "push/";

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_i64(std::string& out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((u >> (8 * i)) & 0xff);
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out += s;
}
void put_labels(std::string& out, const labels& ls) {
  put_u32(out, static_cast<uint32_t>(ls.size()));
  for (const auto& l : ls) {
    put_str(out, l.name);
    put_str(out, l.value);
  }
}

class reader {
 public:
  reader(std::string_view b, const std::string& where) : b_(b), where_(where) {}
  bool u8(uint8_t& v) {
    if (!need(1)) return false;
    v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool u32(uint32_t& v) {
    if (!need(4)) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(b_[pos_++])} << (8 * i);
    return true;
  }
  bool i64(int64_t& v) {
    if (!need(8)) return false;
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u |= uint64_t{static_cast<uint8_t>(b_[pos_++])} << (8 * i);
    v = static_cast<int64_t>(u);
    return true;
  }
  bool str(std::string& s) {
    uint32_t n;
    if (!u32(n) || !need(n)) return false;
    s.assign(b_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool lbls(labels& ls) {
    uint32_t n;
    if (!u32(n)) return false;
    if (n > (b_.size() - pos_) / 8) return fail_at("label count " + std::to_string(n) + " larger than the record");
    ls.resize(n);
    for (auto& l : ls)
      if (!str(l.name) || !str(l.value)) return false;
    return true;
  }
  bool fail_at(std::string cause) {
    if (err_.empty()) err_ = std::move(cause);
    return false;
  }
  status error_status() const {
    return error(strata_errc::corruption, "push group record " + where_ + " at byte " + std::to_string(pos_) + ": " +
                                              (err_.empty() ? "truncated" : err_));
  }
  bool at_end() const { return pos_ == b_.size(); }

 private:
  bool need(size_t n) {
    if (b_.size() - pos_ < n) return fail_at("truncated (needs " + std::to_string(n) + " more bytes)");
    return true;
  }
  std::string_view b_;
  const std::string& where_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

std::string encode_group(const labels& key, const std::vector<group_member>& members) {
  std::string out;
  out += static_cast<char>(group_version);
  put_labels(out, key);
  put_u32(out, static_cast<uint32_t>(members.size()));
  for (const auto& m : members) {
    put_str(out, m.family);
    put_i64(out, m.last_t);
    put_labels(out, m.lbls);
  }
  return out;
}

status decode_group(std::string_view bytes, const std::string& where, labels& key, std::vector<group_member>& members) {
  reader r(bytes, where);
  uint8_t version = 0;
  if (!r.u8(version)) return r.error_status();
  if (version != group_version) {
    r.fail_at("unknown version " + std::to_string(version) + " (this build reads " + std::to_string(group_version) + ")");
    return r.error_status();
  }
  uint32_t n = 0;
  if (!r.lbls(key) || !r.u32(n)) return r.error_status();
  if (n > bytes.size() / 16) {
    r.fail_at("member count " + std::to_string(n) + " larger than the record");
    return r.error_status();
  }
  members.assign(n, {});
  for (auto& m : members)
    if (!r.str(m.family) || !r.i64(m.last_t) || !r.lbls(m.lbls)) return r.error_status();
  if (!r.at_end()) {
    r.fail_at("trailing bytes");
    return r.error_status();
  }
  return status::ok();
}

std::string push_groups::store_key(const labels& key) {
  std::string k(key_prefix);
  for (const auto& l : key) {
    k += l.name;
    k += '\xff';
    k += l.value;
    k += '\xff';
  }
  if (k.size() <= kv::max_key_size) return k;
  // Too long for a key: the hash stands in (the record holds the full key).
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(wire::series_hash(key)));
  return std::string(key_prefix) + "#" + hex;
}

result<std::unique_ptr<push_groups>> push_groups::open(std::unique_ptr<kv::store> st) {
  std::unique_ptr<push_groups> g(new push_groups(std::move(st)));
  std::string end(key_prefix);
  end.back() = static_cast<char>(end.back() + 1);
  status bad;
  auto scanned = g->store_->scan(kv::table::meta, key_prefix, end, [&](std::string_view k, std::string_view v) {
    labels key;
    std::vector<group_member> members;
    if (auto s = decode_group(v, "\"" + std::string(k.substr(key_prefix.size())) + "\"", key, members); !s) {
      bad = s;
      return false;
    }
    g->groups_[std::move(key)] = std::move(members);
    return true;
  });
  if (!scanned) return scanned;
  if (!bad) return bad;
  return g;
}

push_plan push_groups::prepare(const labels& key, push_mode m, const pushed_group& push, int64_t now_ms) const {
  push_plan plan;
  std::vector<group_member> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = groups_.find(key); it != groups_.end()) old = it->second;
  }
  std::set<labels> pushed;
  std::set<std::string> families(push.family.begin(), push.family.end());
  for (size_t i = 0; i < push.series.size(); ++i) {
    const auto& s = push.series[i];
    pushed.insert(s.lbls);
    int64_t last = s.samples.empty() ? now_ms : s.samples.front().t;
    for (const auto& smp : s.samples) last = std::max(last, smp.t);
    plan.members.push_back({s.lbls, push.family[i], last});
    plan.batch.push_back(s);
  }
  for (auto& o : old) {
    bool replaced = pushed.count(o.lbls) > 0;
    if (replaced) continue;
    bool ends = m != push_mode::add || families.count(o.family) > 0;
    if (!ends) {
      plan.members.push_back(std::move(o));
      continue;
    }
    plan.batch.push_back({o.lbls, {{std::max(now_ms, o.last_t + 1), stale_nan()}}});
    ++plan.ended;
  }
  return plan;
}

status push_groups::commit(const labels& key, std::vector<group_member> members) {
  std::string k = store_key(key);
  std::lock_guard<std::mutex> lock(mu_);
  std::string v;
  std::vector<kv::op> ops;
  if (members.empty()) {
    ops.push_back(kv::op::erase(kv::table::meta, k));
  } else {
    v = encode_group(key, members);
    ops.push_back(kv::op::put(kv::table::meta, k, v));
  }
  if (auto st = store_->commit(ops); !st) return st;
  if (members.empty()) groups_.erase(key);
  else groups_[key] = std::move(members);
  return status::ok();
}

std::vector<group_member> push_groups::members(const labels& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(key);
  return it == groups_.end() ? std::vector<group_member>{} : it->second;
}

size_t push_groups::group_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size();
}

}  // namespace strata::http
