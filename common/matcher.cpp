#include "common/matcher.hpp"

#include <re2/re2.h>

namespace strata {

result<matcher> matcher::make(op o, std::string name, std::string value) {
  if (name.empty()) return error(strata_errc::bad_request, "matcher has an empty label name");
  matcher m;
  m.op_ = o;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (o == op::re || o == op::nre) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);  // Prometheus compiles with (?s)
    auto re = std::make_shared<const RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok())
      return error(strata_errc::bad_request,
                   "invalid regular expression in matcher " + m.name_ + "=~\"" + m.value_ + "\": " + re->error());
    m.re_ = std::move(re);
  }
  return m;
}

bool matcher::matches(std::string_view v) const {
  switch (op_) {
    case op::eq: return v == value_;
    case op::neq: return v != value_;
    case op::re: return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
    case op::nre: return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re_);
  }
  return false;
}

const char* to_string(matcher::op o) {
  switch (o) {
    case matcher::op::eq: return "=";
    case matcher::op::neq: return "!=";
    case matcher::op::re: return "=~";
    case matcher::op::nre: return "!~";
  }
  return "?";
}

std::string matcher::to_string() const {
  return name_ + strata::to_string(op_) + "\"" + value_ + "\"";
}

bool matches_all(const matchers& ms, const labels& ls) {
  for (const auto& m : ms)
    if (!m.matches(ls)) return false;
  return true;
}

}  // namespace strata
