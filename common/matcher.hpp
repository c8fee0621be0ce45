#pragma once
// A label matcher with Prometheus semantics: regexes are RE2 (linear time),
// fully anchored; an absent label matches as the empty string.
// (RE2 is the one dependency of common/ besides std and spdlog: matchers are
// shared by query/, persistence/ and the wire between nodes.)
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/series.hpp"
#include "common/status.hpp"

namespace re2 { class RE2; }

namespace strata {

class matcher {
 public:
  enum class op : uint8_t { eq = 0, neq = 1, re = 2, nre = 3 };

  // Fails (bad_request) on an invalid regex or an empty name.
  static result<matcher> make(op o, std::string name, std::string value);

  op type() const { return op_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  bool matches(std::string_view v) const;
  bool matches(const labels& ls) const { return matches(label_value(ls, name_)); }
  // True when the matcher accepts the empty string (so it also selects
  // series that lack the label).
  bool matches_empty() const { return matches(std::string_view{}); }
  std::string to_string() const;  // name="value", name=~"re", ...

 private:
  op op_ = op::eq;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;  // immutable, shared between copies
};

using matchers = std::vector<matcher>;

bool matches_all(const matchers& ms, const labels& ls);
const char* to_string(matcher::op o);

}  // namespace strata
