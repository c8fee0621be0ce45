// series_index: selection by matchers, label names and values.
#include <algorithm>

#include "persistence/index/series_index.hpp"

namespace strata::persistence::index {
namespace {

// Unions posting lists: bitmaps in one fastunion, inline refs in one addMany.
class union_builder {
 public:
  void add(const detail::postings& p) {
    if (const Roaring* b = p.bitmap()) {
      big_.push_back(b);
    } else {
      p.append_small(small_);
    }
  }
  Roaring build() {
    Roaring r;
    if (big_.size() == 1) {
      r = *big_[0];
    } else if (big_.size() > 1) {
      r = Roaring::fastunion(big_.size(), big_.data());
    }
    if (!small_.empty()) {
      std::sort(small_.begin(), small_.end());
      r.addMany(small_.size(), small_.data());
    }
    return r;
  }

 private:
  std::vector<const Roaring*> big_;
  std::vector<uint32_t> small_;
};

// A matcher that accepts a value v exactly when (v is one of `values`) != negated:
// equality, inequality, and the regexes that are literal alternatives
// ("a|b|c"), ".*" and ".+". Such a matcher needs postings lookups only.
struct literal_form {
  std::vector<std::string> values;
  bool negated = false;
};

// RE2 syntax characters; a regex without them is literal text and '|'.
constexpr std::string_view regex_syntax = "\\.+*?()[]{}^$";

std::optional<literal_form> literal_form_of(const matcher& m) {
  const std::string& v = m.value();
  switch (m.type()) {
    case matcher::op::eq:
      return literal_form{{v}, false};
    case matcher::op::neq:
      return literal_form{{v}, true};
    case matcher::op::re:
    case matcher::op::nre:
      break;
  }
  bool nre = m.type() == matcher::op::nre;
  if (v == ".*") return literal_form{{}, !nre};    // every value; negated: none
  if (v == ".+") return literal_form{{""}, !nre};  // every value but ""
  if (v.find_first_of(regex_syntax) != std::string::npos) return std::nullopt;
  literal_form f;
  f.negated = nre;
  size_t start = 0;
  for (;;) {
    size_t bar = v.find('|', start);
    f.values.push_back(v.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return f;
}

}  // namespace

const series_index::name_postings* series_index::postings_of(std::string_view name) const {
  auto n = syms_.find(name);
  if (!n) return nullptr;
  auto it = names_.find(*n);
  return it == names_.end() ? nullptr : &it->second;
}

Roaring series_index::with_value(const name_postings& np, const matcher& m, bool accept) const {
  union_builder u;
  for (const auto& [v, p] : np.values)
    if (m.matches(syms_.str(v)) == accept) u.add(p);
  return u.build();
}

Roaring series_index::filter(const Roaring& in, const matcher& m) const {
  auto name = syms_.find(m.name());
  std::vector<uint32_t> keep;
  for (auto it = in.begin(); it != in.end(); ++it) {
    std::optional<sym> v = name ? value_of(*it, *name) : std::nullopt;
    if (m.matches(v ? std::string_view(syms_.str(*v)) : std::string_view())) keep.push_back(*it);
  }
  return Roaring(keep.size(), keep.data());
}

Roaring series_index::select(const matchers& ms) const {
  if (ms.empty()) return live_;

  struct item {
    const matcher* m;
    const name_postings* np;  // nullptr: no series has the label
    std::optional<literal_form> lit;
  };
  std::vector<item> lit_pos, other_pos, negative;
  for (const auto& m : ms) {
    item it{&m, postings_of(m.name()), literal_form_of(m)};
    bool positive = !m.matches_empty();  // the series must have the label
    if (positive && it.np == nullptr) return Roaring();
    if (!positive && it.np == nullptr) continue;  // every series has "", which m accepts
    (positive ? (it.lit ? lit_pos : other_pos) : negative).push_back(std::move(it));
  }

  // Refs with a value in lit.values; the rest of the label's refs, if !inside.
  auto lookup = [&](const name_postings& np, const literal_form& lit, bool inside) {
    union_builder u;
    for (const auto& v : lit.values)
      if (auto s = syms_.find(v))
        if (auto p = np.values.find(*s); p != np.values.end()) u.add(p->second);
    Roaring r = u.build();
    if (inside) return r;
    Roaring rest = np.any;
    rest -= r;
    return rest;
  };

  // Equality-like positives first, smallest first.
  std::vector<Roaring> sets;
  for (const auto& it : lit_pos) {
    sets.push_back(lookup(*it.np, *it.lit, !it.lit->negated));
    if (sets.back().isEmpty()) return Roaring();
  }
  std::sort(sets.begin(), sets.end(),
            [](const Roaring& a, const Roaring& b) { return a.cardinality() < b.cardinality(); });
  std::optional<Roaring> result;
  for (auto& s : sets) {
    if (!result) {
      result = std::move(s);
    } else {
      *result &= s;
    }
    if (result->isEmpty()) return Roaring();
  }

  // Then regexes: through the label's values, or through the few series left.
  for (const auto& it : other_pos) {
    if (!result) {
      result = with_value(*it.np, *it.m, true);
    } else if (result->cardinality() <= it.np->values.size()) {
      result = filter(*result, *it.m);
    } else {
      *result &= with_value(*it.np, *it.m, true);
    }
    if (result->isEmpty()) return Roaring();
  }
  if (!result) result = live_;

  // Then what excludes: refs with a value the matcher rejects.
  for (const auto& it : negative) {
    if (it.lit && it.lit->negated) {
      *result -= lookup(*it.np, *it.lit, true);
    } else if (result->cardinality() <= it.np->values.size()) {
      result = filter(*result, *it.m);
    } else if (it.lit) {
      *result -= lookup(*it.np, *it.lit, false);
    } else {
      *result -= with_value(*it.np, *it.m, false);
    }
    if (result->isEmpty()) return Roaring();
  }
  return std::move(*result);
}

std::vector<std::string> series_index::label_names(const Roaring& refs) const {
  std::vector<std::string> out;
  for (const auto& [n, np] : names_)
    if (np.any.intersect(refs)) out.push_back(syms_.str(n));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> series_index::label_values(const std::string& name, const Roaring& refs) const {
  std::vector<std::string> out;
  auto n = syms_.find(name);
  if (!n) return out;
  auto np = names_.find(*n);
  if (np == names_.end()) return out;
  if (refs.cardinality() < np->second.values.size()) {
    // Fewer series than values: read the series' own labels.
    std::vector<sym> found;
    for (auto it = refs.begin(); it != refs.end(); ++it)
      if (live_.contains(*it))
        if (auto v = value_of(*it, *n)) found.push_back(*v);
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    for (sym v : found)
      if (!syms_.str(v).empty()) out.push_back(syms_.str(v));
  } else {
    for (const auto& [v, p] : np->second.values)
      if (!syms_.str(v).empty() && p.intersects(refs)) out.push_back(syms_.str(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strata::persistence::index
