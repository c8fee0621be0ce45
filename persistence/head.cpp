#include "persistence/head.hpp"

#include <algorithm>

#include "wire/series_hash.hpp"

namespace strata::persistence {
namespace {

bool by_time(const sample& s, int64_t t) { return s.t < t; }

bool has_sample_in(const std::vector<sample>& ss, int64_t mint, int64_t maxt) {
  auto it = std::lower_bound(ss.begin(), ss.end(), mint, by_time);
  return it != ss.end() && it->t <= maxt;
}

// Lower is tried first: cheap and selective matchers leave a series early.
int cost(const matcher& m) {
  bool eq = m.type() == matcher::op::eq || m.type() == matcher::op::neq;
  bool name = m.name() == metric_name_label;
  if (eq) return name ? 0 : 1;
  return name ? 2 : 3;
}

std::vector<const matcher*> by_cost(const matchers& ms) {
  std::vector<const matcher*> out;
  out.reserve(ms.size());
  for (const auto& m : ms) out.push_back(&m);
  std::stable_sort(out.begin(), out.end(), [](const matcher* a, const matcher* b) { return cost(*a) < cost(*b); });
  return out;
}

bool labels_less(const labels& a, const labels& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

head::head(hash_fn hash) : hash_(hash) {}
head::head() : head(&wire::series_hash) {}

head::entry& head::find_or_add(const labels& ls) {
  auto& bucket = buckets_[hash_(ls)];
  for (auto& e : bucket)
    if (e.lbls == ls) return e;
  ++series_count_;
  return bucket.emplace_back(entry{ls, {}});
}

void head::add_samples(entry& e, const std::vector<sample>& in) {
  auto& ss = e.samples;
  for (const auto& s : in) {
    if (ss.empty() || s.t > ss.back().t) {
      ss.push_back(s);
    } else {
      auto it = std::lower_bound(ss.begin(), ss.end(), s.t, by_time);
      if (it->t == s.t) continue;  // first write of a timestamp wins
      ss.insert(it, s);
    }
    ++sample_count_;
  }
}

void head::append(const write_batch& b) {
  for (const auto& s : b) {
    if (s.samples.empty()) continue;
    add_samples(find_or_add(s.lbls), s.samples);
  }
}

std::vector<const head::entry*> head::matching(const matchers& ms, int64_t mint, int64_t maxt, bool sorted) const {
  std::vector<const entry*> out;
  if (mint > maxt) return out;
  auto order = by_cost(ms);
  // A linear scan over every series: acceptable for the head of this stage;
  // postings (label pair -> series ids) replace it later.
  for (const auto& [hash, bucket] : buckets_) {
    for (const auto& e : bucket) {
      bool ok = std::all_of(order.begin(), order.end(), [&](const matcher* m) { return m->matches(e.lbls); });
      if (ok && has_sample_in(e.samples, mint, maxt)) out.push_back(&e);
    }
  }
  if (sorted)
    std::sort(out.begin(), out.end(), [](const entry* a, const entry* b) { return labels_less(a->lbls, b->lbls); });
  return out;
}

std::vector<series> head::select(const matchers& ms, int64_t mint, int64_t maxt) const {
  std::vector<series> out;
  for (const entry* e : matching(ms, mint, maxt, true)) {
    auto first = std::lower_bound(e->samples.begin(), e->samples.end(), mint, by_time);
    auto last = std::upper_bound(first, e->samples.end(), maxt, [](int64_t t, const sample& s) { return t < s.t; });
    out.push_back({e->lbls, std::vector<sample>(first, last)});
  }
  return out;
}

std::vector<labels> head::select_labels(const matchers& ms, int64_t mint, int64_t maxt) const {
  std::vector<labels> out;
  for (const entry* e : matching(ms, mint, maxt, true)) out.push_back(e->lbls);
  return out;
}

std::vector<std::string> head::label_names(const matchers& ms, int64_t mint, int64_t maxt) const {
  std::vector<std::string> out;
  for (const entry* e : matching(ms, mint, maxt, false))
    for (const auto& l : e->lbls) out.push_back(l.name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> head::label_values(const std::string& name, const matchers& ms, int64_t mint,
                                            int64_t maxt) const {
  std::vector<std::string> out;
  for (const entry* e : matching(ms, mint, maxt, false)) {
    auto v = label_value(e->lbls, name);
    if (!v.empty()) out.emplace_back(v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace strata::persistence
