#include "persistence/head.hpp"

#include <algorithm>
#include <cstring>

namespace strata::persistence {

uint64_t value_bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

void sort_unique(std::vector<sample>& s) {
  auto by_t = [](const sample& a, const sample& b) { return a.t < b.t; };
  if (!std::is_sorted(s.begin(), s.end(), by_t)) std::stable_sort(s.begin(), s.end(), by_t);
  s.erase(std::unique(s.begin(), s.end(), [](const sample& a, const sample& b) { return a.t == b.t; }), s.end());
}

verdict head_series::check(int64_t t, double v, int64_t ooo_window_ms) const {
  if (t > max_t) return verdict::append;
  if (t == max_t) return max_v_bits == value_bits(v) ? verdict::duplicate : verdict::conflicting;
  if (t < max_t - ooo_window_ms) return verdict::too_old;
  auto it = std::lower_bound(ooo.begin(), ooo.end(), t, [](const sample& s, int64_t x) { return s.t < x; });
  if (it != ooo.end() && it->t == t)
    return value_bits(it->v) == value_bits(v) ? verdict::duplicate : verdict::conflicting;
  if (open.count() > 0 && t >= open.min_t()) {
    for (auto i = open.iterator(); i.next();) {
      if (i.t() == t) return value_bits(i.v()) == value_bits(v) ? verdict::duplicate : verdict::conflicting;
      if (i.t() > t) break;
    }
  }
  return verdict::out_of_order;
}

bool head_series::must_seal_before(int64_t t) const {
  if (open.count() == 0) return false;
  return open.count() >= max_open_chunk_samples || block_start(tier::raw, t) != block_start(tier::raw, open.min_t());
}

void head_series::insert(int64_t t, double v, verdict how) {
  if (how == verdict::append) {
    open.append(t, v);
    max_t = t;
    max_v_bits = value_bits(v);
    return;
  }
  auto it = std::lower_bound(ooo.begin(), ooo.end(), t, [](const sample& s, int64_t x) { return s.t < x; });
  ooo.insert(it, sample{t, v});
}

void head_series::collect(int64_t mint, int64_t maxt, std::vector<sample>& out) const {
  if (open.count() > 0 && open.max_t() >= mint && open.min_t() <= maxt)
    for (auto i = open.iterator(); i.next();)
      if (i.t() >= mint && i.t() <= maxt) out.push_back({i.t(), i.v()});
  for (const auto& s : ooo)
    if (s.t >= mint && s.t <= maxt) out.push_back(s);
}

std::vector<sample> head_series::take() {
  std::vector<sample> out;
  out.reserve(unsealed_count());
  for (auto i = open.iterator(); i.next();) out.push_back({i.t(), i.v()});
  if (!ooo.empty()) {
    size_t mid = out.size();
    out.insert(out.end(), ooo.begin(), ooo.end());
    std::inplace_merge(out.begin(), out.begin() + mid, out.end(),
                       [](const sample& a, const sample& b) { return a.t < b.t; });
  }
  open.reset();
  ooo.clear();
  ooo.shrink_to_fit();
  first_seq = 0;
  return out;
}

}  // namespace strata::persistence
