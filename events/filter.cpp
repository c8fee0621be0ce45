#include "events/filter.hpp"

#include <algorithm>

#include "events/event.hpp"

namespace strata::events {

namespace {

std::string known_list() {
  std::string out;
  for (auto t : known_types()) out += (out.empty() ? "" : ", ") + std::string(t);
  return out;
}

}  // namespace

result<type_filter> type_filter::parse(std::string_view spec, std::string_view field) {
  std::vector<std::string> names;
  while (!spec.empty()) {
    auto comma = spec.find(',');
    names.emplace_back(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (comma != std::string_view::npos && spec.empty()) names.emplace_back();
  }
  return parse(names, field);
}

result<type_filter> type_filter::parse(const std::vector<std::string>& names, std::string_view field) {
  type_filter f;
  const auto& known = known_types();
  for (const auto& raw : names) {
    std::string_view n = raw;
    while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    while (!n.empty() && n.back() == ' ') n.remove_suffix(1);
    if (n.empty())
      return error(strata_errc::bad_request, std::string(field) + ": empty event type in the list");
    if (n.size() >= 2 && n.substr(n.size() - 2) == ".*") {
      std::string prefix(n.substr(0, n.size() - 1));
      bool any = std::any_of(known.begin(), known.end(), [&](std::string_view t) { return t.rfind(prefix, 0) == 0; });
      if (!any)
        return error(strata_errc::bad_request, std::string(field) + ": \"" + std::string(n) +
                                                   "\" matches no event type (known: " + known_list() + ")");
      f.prefixes_.push_back(std::move(prefix));
    } else {
      if (std::find(known.begin(), known.end(), n) == known.end())
        return error(strata_errc::bad_request, std::string(field) + ": unknown event type \"" + std::string(n) +
                                                   "\" (known: " + known_list() + ")");
      f.exact_.emplace_back(n);
    }
  }
  return f;
}

bool type_filter::matches(std::string_view type) const {
  if (all()) return true;
  if (std::find(exact_.begin(), exact_.end(), type) != exact_.end()) return true;
  return std::any_of(prefixes_.begin(), prefixes_.end(), [&](const std::string& p) { return type.rfind(p, 0) == 0; });
}

}  // namespace strata::events
