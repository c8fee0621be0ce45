#include "wire/check_series.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/utf8.hpp"
#include "wire/utf8.hpp"

namespace strata::wire {
namespace {

bool name_char(char c, bool first, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

bool legacy_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, colon)) return false;
  return true;
}

// Label strings are nearly always ASCII: eight bytes at a time, and the
// UTF-8 decoder only for a string with a byte >= 0x80.
bool utf8(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) return valid_utf8(s);
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) >= 0x80) return valid_utf8(s);
  return true;
}

bool by_name(const label& a, const label& b) { return a.name < b.name; }

// The reason for the first rule `l` breaks, or "".
std::string check_label(const label& l, const write_limits& limits) {
  if (l.name.empty()) return "a label has an empty name";
  if (limits.max_name_length && l.name.size() > limits.max_name_length)
    return "label name " + quote_for_message(l.name, 64) + " has " + std::to_string(l.name.size()) +
           " bytes, over the limit of " + std::to_string(limits.max_name_length) + " (--max-label-name-length)";
  if (limits.max_value_length && l.value.size() > limits.max_value_length)
    return "value of label " + quote_for_message(l.name, 64) + " has " + std::to_string(l.value.size()) +
           " bytes, over the limit of " + std::to_string(limits.max_value_length) + " (--max-label-value-length)";
  if (!utf8(l.name)) return "label name " + quote_for_message(l.name, 64) + " is not valid UTF-8";
  if (!utf8(l.value)) return "value of label " + quote_for_message(l.name, 64) + " is not valid UTF-8";
  if (limits.names == name_validation::legacy) {
    if (!legacy_label_name(l.name))
      return "label name " + quote_for_message(l.name, 64) +
             " does not match [a-zA-Z_][a-zA-Z0-9_]* (--name-validation=legacy)";
    if (l.name == metric_name_label && !l.value.empty() && !legacy_metric_name(l.value))
      return "metric name " + quote_for_message(l.value, 64) +
             " does not match [a-zA-Z_:][a-zA-Z0-9_:]* (--name-validation=legacy)";
  }
  return "";
}

}  // namespace

bool legacy_metric_name(std::string_view name) { return legacy_name(name, true); }
bool legacy_label_name(std::string_view name) { return legacy_name(name, false); }

std::string series_for_message(const labels& ls) {
  constexpr size_t max_len = 256;
  std::string out = "{";
  for (size_t i = 0; i < ls.size(); ++i) {
    if (out.size() > max_len) {
      out += ", ...";
      break;
    }
    if (i) out += ", ";
    auto n = quote_for_message(ls[i].name, 64);
    out.append(n, 1, n.size() - 2);
    out += '=';
    out += quote_for_message(ls[i].value, 64);
  }
  return out + "}";
}

bool is_canonical(const labels& ls) {
  for (size_t i = 0; i < ls.size(); ++i)
    if (ls[i].name.empty() || (i > 0 && !(ls[i - 1].name < ls[i].name))) return false;
  return true;
}

status check_series(labels& ls, const write_limits& limits) {
  auto fail = [&](const std::string& reason) {
    return error(strata_errc::bad_request, series_for_message(ls) + ": " + reason);
  };
  if (ls.empty()) return fail("series has no labels");
  // Senders sort their labels (remote_write requires it): a sort only when
  // they did not (std::stable_sort takes a buffer from the heap).
  if (!std::is_sorted(ls.begin(), ls.end(), by_name)) std::stable_sort(ls.begin(), ls.end(), by_name);
  for (const auto& l : ls)
    if (auto reason = check_label(l, limits); !reason.empty()) return fail(reason);
  auto dup = std::adjacent_find(ls.begin(), ls.end(), [](const label& a, const label& b) { return a.name == b.name; });
  if (dup != ls.end()) return fail("duplicate label name " + quote_for_message(dup->name, 64));
  size_t stored = static_cast<size_t>(std::count_if(ls.begin(), ls.end(), [](const label& l) { return !l.value.empty(); }));
  if (stored == 0) return fail("series has no label with a non-empty value");
  if (limits.max_labels && stored > limits.max_labels)
    return fail(std::to_string(stored) + " labels, over the limit of " + std::to_string(limits.max_labels) +
                " labels per series (--max-labels-per-series)");
  if (stored != ls.size())
    ls.erase(std::remove_if(ls.begin(), ls.end(), [](const label& l) { return l.value.empty(); }), ls.end());
  return status::ok();
}

}  // namespace strata::wire
