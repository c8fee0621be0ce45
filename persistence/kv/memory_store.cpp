// The in-memory store: one std::map per table, for tests and for engines that
// need no durability. Same semantics as the LMDB store (store.hpp).
#include <map>

#include "persistence/kv/detail/check.hpp"
#include "persistence/kv/store.hpp"

namespace strata::persistence::kv {
namespace {

class memory_store final : public store {
 public:
  status commit(const std::vector<op>& ops) override {
    if (scan_depth_ > 0) return detail::commit_in_scan();
    // Every op is checked before the first is applied, and applying cannot
    // fail: that is what makes the commit atomic here.
    for (size_t i = 0; i < ops.size(); ++i) {
      const op& o = ops[i];
      if (!detail::valid_table(o.t)) return detail::bad_table(i);
      if (o.k == op::kind::put && !detail::storable_key(o.key)) return detail::bad_key(i, o.t, o.key);
    }
    for (const op& o : ops) apply(o);
    ++commits_;
    return status::ok();
  }

  status get(table t, std::string_view key, std::string& value) const override {
    if (!detail::valid_table(t)) return detail::bad_table(0);
    const map& m = tables_[static_cast<size_t>(t)];
    auto it = m.find(key);
    if (it == m.end()) return detail::not_found(t);
    value = it->second;
    return status::ok();
  }

  status scan(table t, std::string_view from, std::string_view to, const scan_fn& fn) const override {
    if (!detail::valid_table(t)) return detail::bad_table(0);
    if (detail::empty_range(from, to)) return status::ok();
    const map& m = tables_[static_cast<size_t>(t)];
    depth_guard guard{scan_depth_};
    for (auto it = m.lower_bound(from); it != m.end(); ++it) {
      if (!to.empty() && detail::compare_keys(it->first, to) >= 0) break;
      if (!fn(it->first, it->second)) break;
    }
    return status::ok();
  }

  status sync() override { return status::ok(); }

  status compact_copy() override {
    if (scan_depth_ > 0) return detail::compact_in_scan();
    return status::ok();
  }

  store_stats stats() const override {
    store_stats s;
    s.used_bytes = bytes_;
    s.commits = commits_;
    for (size_t i = 0; i < table_count; ++i) s.entries[i] = tables_[i].size();
    return s;
  }

 private:
  // std::less<> compares std::string with char_traits<char>::compare, which
  // orders as unsigned bytes: the memcmp order of store.hpp.
  using map = std::map<std::string, std::string, std::less<>>;

  struct depth_guard {
    int& depth;
    explicit depth_guard(int& d) : depth(d) { ++depth; }
    ~depth_guard() { --depth; }
  };

  void apply(const op& o) {
    map& m = tables_[static_cast<size_t>(o.t)];
    switch (o.k) {
      case op::kind::put: {
        auto it = m.find(o.key);
        if (it == m.end()) {
          m.emplace(std::string(o.key), std::string(o.value));
          bytes_ += o.key.size() + o.value.size();
        } else {
          bytes_ = bytes_ - it->second.size() + o.value.size();
          it->second.assign(o.value);
        }
        return;
      }
      case op::kind::erase: {
        auto it = m.find(o.key);
        if (it == m.end()) return;
        bytes_ -= it->first.size() + it->second.size();
        m.erase(it);
        return;
      }
      case op::kind::erase_range: {
        if (detail::empty_range(o.key, o.value)) return;
        auto first = m.lower_bound(o.key);
        auto last = o.value.empty() ? m.end() : m.lower_bound(o.value);
        for (auto it = first; it != last; ++it) bytes_ -= it->first.size() + it->second.size();
        m.erase(first, last);
        return;
      }
    }
  }

  std::array<map, table_count> tables_;
  uint64_t bytes_ = 0;
  uint64_t commits_ = 0;
  mutable int scan_depth_ = 0;  // > 0 while a scan callback runs
};

}  // namespace

std::unique_ptr<store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace strata::persistence::kv
