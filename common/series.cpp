#include "common/series.hpp"

#include <algorithm>
#include <cstring>

namespace strata {

bool operator==(const sample& a, const sample& b) {
  return a.t == b.t && std::memcmp(&a.v, &b.v, sizeof a.v) == 0;
}

void sort_labels(labels& ls) { std::sort(ls.begin(), ls.end()); }

std::string_view label_value(const labels& ls, std::string_view name) {
  for (const auto& l : ls)
    if (l.name == name) return l.value;
  return {};
}

std::string to_string(const labels& ls) {
  std::string out = "{";
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i) out += ", ";
    out += ls[i].name;
    out += "=\"";
    for (char c : ls[i].value) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') { out += "\\n"; continue; }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

size_t sample_count(const write_batch& b) {
  size_t n = 0;
  for (const auto& s : b) n += s.samples.size();
  return n;
}

}  // namespace strata
