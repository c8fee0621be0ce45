#include "query/ast.hpp"

#include <type_traits>

namespace strata::query {
namespace {

std::string selector_string(const vector_selector& vs) {
  std::string out = vs.name;
  std::string inner;
  for (const auto& m : vs.label_matchers) {
    if (!vs.name.empty() && m.name() == metric_name_label && m.type() == matcher::op::eq && m.value() == vs.name)
      continue;  // the name written before the braces
    if (!inner.empty()) inner += ", ";
    inner += m.name();
    inner += to_string(m.type());
    inner += quote(m.value());
  }
  if (!inner.empty() || vs.name.empty()) out += "{" + inner + "}";
  return out;
}

std::string offset_string(const vector_selector& vs) {
  if (vs.offset_ms == 0) return {};
  return " offset " + format_duration(vs.offset_ms);
}

}  // namespace

const char* document_type(value_type t) {
  switch (t) {
    case value_type::scalar: return "scalar";
    case value_type::vector: return "instant vector";
    case value_type::matrix: return "range vector";
    case value_type::string: return "string";
  }
  return "unknown";
}

value_type type_of(const expr& e) {
  return std::holds_alternative<matrix_selector>(e.node) ? value_type::matrix : value_type::vector;
}

std::string to_string(const expr& e) {
  return std::visit(
      [](const auto& n) -> std::string {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, vector_selector>) {
          return selector_string(n) + offset_string(n);
        } else {
          return selector_string(n.vs) + "[" + format_duration(n.range_ms) + "]" + offset_string(n.vs);
        }
      },
      e.node);
}

const matchers& selector_matchers(const expr& e) {
  if (const auto* m = std::get_if<matrix_selector>(&e.node)) return m->vs.label_matchers;
  return std::get<vector_selector>(e.node).label_matchers;
}

result<matchers> vector_selector_matchers(const expr& e) {
  if (const auto* vs = std::get_if<vector_selector>(&e.node)) {
    if (vs->offset_ms != 0)
      return error(strata_errc::bad_request, "expected a series selector, got an offset modifier: " + to_string(e));
    return vs->label_matchers;
  }
  return error(strata_errc::bad_request,
               std::string("expected a series selector, got a ") + document_type(type_of(e)) + ": " + to_string(e));
}

}  // namespace strata::query
