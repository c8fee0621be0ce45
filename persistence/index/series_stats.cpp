// series_index: cardinality statistics (Prometheus /api/v1/status/tsdb).
#include <algorithm>

#include "persistence/index/series_index.hpp"

namespace strata::persistence::index {
namespace {

using stat = std::pair<std::string, uint64_t>;

// Larger counts first; equal counts by name.
bool before(const stat& a, const stat& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; }

void keep_top(std::vector<stat>& v, size_t n) {
  if (v.size() > n) {
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), before);
    v.resize(n);
  } else {
    std::sort(v.begin(), v.end(), before);
  }
}

}  // namespace

series_index::cardinality series_index::stats(size_t top_n) const {
  cardinality c;
  c.series = live_count_;
  if (top_n == 0) return c;

  auto metric = syms_.find(metric_name_label);
  // Label pairs can number in the millions: a bounded heap of (count, name,
  // value) symbols keeps the top n, and only those become strings.
  struct pair_count {
    uint64_t count;
    sym name, value;
  };
  auto text = [&](const pair_count& p) { return syms_.str(p.name) + "=" + syms_.str(p.value); };
  auto better = [&](const pair_count& a, const pair_count& b) {
    return a.count != b.count ? a.count > b.count : text(a) < text(b);
  };
  std::vector<pair_count> heap;  // worst of the kept pairs on top
  for (const auto& [n, np] : names_) {
    const std::string& name = syms_.str(n);
    c.values_by_label.emplace_back(name, np.values.size());
    uint64_t bytes = 0;
    for (const auto& [v, p] : np.values) {
      uint64_t count = p.cardinality();
      bytes += syms_.str(v).size() * count;
      if (metric && n == *metric) c.series_by_metric.emplace_back(syms_.str(v), count);
      pair_count pc{count, n, v};
      if (heap.size() < top_n) {
        heap.push_back(pc);
        std::push_heap(heap.begin(), heap.end(), better);
      } else if (better(pc, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = pc;
        std::push_heap(heap.begin(), heap.end(), better);
      }
    }
    c.bytes_by_label.emplace_back(name, bytes);
  }
  for (const auto& pc : heap) c.series_by_label_pair.emplace_back(text(pc), pc.count);
  keep_top(c.series_by_metric, top_n);
  keep_top(c.values_by_label, top_n);
  keep_top(c.series_by_label_pair, top_n);
  keep_top(c.bytes_by_label, top_n);
  return c;
}

}  // namespace strata::persistence::index
