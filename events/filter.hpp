#pragma once
// Which event types a consumer wants: the `type` parameter of
// GET /api/v1/events and the `types` of a webhook.
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace strata::events {

class type_filter {
 public:
  type_filter() = default;  // every type

  // A comma-separated list of types (alert.triggered,alert.resolved) or
  // prefixes ending in ".*" (metrics.*); empty means every type. A name
  // that matches no known type is bad_request naming `field` and the known types.
  static result<type_filter> parse(std::string_view spec, std::string_view field = "type");
  static result<type_filter> parse(const std::vector<std::string>& names, std::string_view field);

  bool matches(std::string_view type) const;
  bool all() const { return exact_.empty() && prefixes_.empty(); }

 private:
  std::vector<std::string> exact_;
  std::vector<std::string> prefixes_;  // "metrics." for "metrics.*"
};

}  // namespace strata::events
