#include "query/ast.hpp"

#include "query/function_table.hpp"

#include <charconv>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <type_traits>


namespace strata::query {
namespace {

bool is_legacy_name(std::string_view s, bool allow_colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string label_name_string(std::string_view n) { return is_legacy_name(n, false) ? std::string(n) : quote(n); }

std::string selector_string(const vector_selector& vs) {
  std::string out;
  bool name_outside = !vs.name.empty() && is_legacy_name(vs.name, true);
  std::string inner;
  if (name_outside) out = vs.name;
  for (const auto& m : vs.label_matchers) {
    if (!vs.name.empty() && m.name() == metric_name_label && m.type() == matcher::op::eq && m.value() == vs.name) {
      if (name_outside) continue;
      if (!inner.empty()) inner += ", ";
      inner += quote(vs.name);
      continue;
    }
    if (!inner.empty()) inner += ", ";
    inner += label_name_string(m.name());
    inner += to_string(m.type());
    inner += quote(m.value());
  }
  if (!inner.empty() || !name_outside) out += "{" + inner + "}";
  return out;
}

std::string dur_string(int64_t ms, const duration_ptr& e) {
  if (e) return to_string(*e);
  return format_duration(ms);
}

std::string modifiers_string(const time_modifiers& m) {
  std::string out;
  switch (m.at) {
    case at_kind::none: break;
    case at_kind::start: out += " @ start()"; break;
    case at_kind::end: out += " @ end()"; break;
    case at_kind::timestamp: {
      char buf[64];
      std::snprintf(buf, sizeof buf, " @ %.3f", static_cast<double>(m.at_ms) / 1000.0);
      out += buf;
      break;
    }
  }
  if (m.offset_expr) return out + " offset " + to_string(*m.offset_expr);
  if (m.offset_ms > 0) out += " offset " + format_duration(m.offset_ms);
  if (m.offset_ms < 0) out += " offset -" + format_duration(-m.offset_ms);
  return out;
}

const char* mode_string(range_mode m) {
  switch (m) {
    case range_mode::plain: return "";
    case range_mode::anchored: return " anchored";
    case range_mode::smoothed: return " smoothed";
  }
  return "";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ", ";
    out += label_name_string(s);
  }
  return out;
}

}  // namespace

double eval_duration(const duration_expr& d, double step_s, double range_s) {
  using k = duration_expr::kind;
  switch (d.k) {
    case k::literal: return d.seconds;
    case k::step: return step_s;
    case k::range: return range_s;
    case k::negate: return -eval_duration(*d.a, step_s, range_s);
    case k::min_of: return std::min(eval_duration(*d.a, step_s, range_s), eval_duration(*d.b, step_s, range_s));
    case k::max_of: return std::max(eval_duration(*d.a, step_s, range_s), eval_duration(*d.b, step_s, range_s));
    case k::binary: {
      double x = eval_duration(*d.a, step_s, range_s), y = eval_duration(*d.b, step_s, range_s);
      switch (d.op) {
        case token_kind::add: return x + y;
        case token_kind::sub: return x - y;
        case token_kind::mul: return x * y;
        case token_kind::div: return x / y;
        case token_kind::mod: return std::fmod(x, y);
        case token_kind::pow: return std::pow(x, y);
        default: return 0;
      }
    }
  }
  return 0;
}

int64_t eval_duration_ms(const duration_expr& d, int64_t step_ms, int64_t range_ms) {
  double s = eval_duration(d, static_cast<double>(step_ms) / 1000.0, static_cast<double>(range_ms) / 1000.0);
  if (!std::isfinite(s)) return 0;
  return static_cast<int64_t>(std::llround(s * 1000));
}

std::string to_string(const duration_expr& d) {
  using k = duration_expr::kind;
  switch (d.k) {
    case k::literal: {
      auto ms = static_cast<int64_t>(std::llround(d.seconds * 1000));
      if (static_cast<double>(ms) == d.seconds * 1000 && ms > 0) return format_duration(ms);
      return format_number(d.seconds);
    }
    case k::step: return "step()";
    case k::range: return "range()";
    case k::negate: return "-" + to_string(*d.a);
    case k::min_of: return "min_of(" + to_string(*d.a) + ", " + to_string(*d.b) + ")";
    case k::max_of: return "max_of(" + to_string(*d.a) + ", " + to_string(*d.b) + ")";
    case k::binary:
      return "(" + to_string(*d.a) + " " + std::string(operator_text(d.op)) + " " + to_string(*d.b) + ")";
  }
  return "";
}

const char* document_type(value_type t) {
  switch (t) {
    case value_type::scalar: return "scalar";
    case value_type::vector: return "instant vector";
    case value_type::matrix: return "range vector";
    case value_type::string: return "string";
  }
  return "unknown";
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string_view operator_text(token_kind op) {
  switch (op) {
    case token_kind::add: return "+";
    case token_kind::sub: return "-";
    case token_kind::mul: return "*";
    case token_kind::div: return "/";
    case token_kind::mod: return "%";
    case token_kind::pow: return "^";
    case token_kind::eqlc: return "==";
    case token_kind::neq: return "!=";
    case token_kind::lss: return "<";
    case token_kind::lte: return "<=";
    case token_kind::gtr: return ">";
    case token_kind::gte: return ">=";
    case token_kind::kw_and: return "and";
    case token_kind::kw_or: return "or";
    case token_kind::kw_unless: return "unless";
    case token_kind::kw_atan2: return "atan2";
    default: return "?";
  }
}

std::string_view aggregator_text(token_kind op) {
  switch (op) {
    case token_kind::kw_avg: return "avg";
    case token_kind::kw_bottomk: return "bottomk";
    case token_kind::kw_count: return "count";
    case token_kind::kw_count_values: return "count_values";
    case token_kind::kw_group: return "group";
    case token_kind::kw_limitk: return "limitk";
    case token_kind::kw_limit_ratio: return "limit_ratio";
    case token_kind::kw_max: return "max";
    case token_kind::kw_min: return "min";
    case token_kind::kw_quantile: return "quantile";
    case token_kind::kw_stddev: return "stddev";
    case token_kind::kw_stdvar: return "stdvar";
    case token_kind::kw_sum: return "sum";
    case token_kind::kw_topk: return "topk";
    default: return "?";
  }
}

const expr& unwrap_parens(const expr& e) {
  const expr* p = &e;
  while (const auto* pe = std::get_if<paren_expr>(&p->node)) p = pe->inner.get();
  return *p;
}

value_type type_of(const expr& e) {
  return std::visit(
      [](const auto& n) -> value_type {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, vector_selector>) return value_type::vector;
        else if constexpr (std::is_same_v<T, matrix_selector> || std::is_same_v<T, subquery_expr>)
          return value_type::matrix;
        else if constexpr (std::is_same_v<T, number_literal>) return value_type::scalar;
        else if constexpr (std::is_same_v<T, string_literal>) return value_type::string;
        else if constexpr (std::is_same_v<T, paren_expr>) return type_of(*n.inner);
        else if constexpr (std::is_same_v<T, unary_expr>) return type_of(*n.operand);
        else if constexpr (std::is_same_v<T, binary_expr>) {
          return type_of(*n.lhs) == value_type::scalar && type_of(*n.rhs) == value_type::scalar ? value_type::scalar
                                                                                                : value_type::vector;
        } else if constexpr (std::is_same_v<T, call_expr>) {
          const function_signature* sig = find_function(n.func);
          return sig ? sig->return_type : value_type::vector;
        } else {
          return value_type::vector;
        }
      },
      e.node);
}

position_range position_of(const expr& e) {
  return std::visit([](const auto& n) { return n.pos; }, e.node);
}

std::string to_string(const expr& e) {
  return std::visit(
      [](const auto& n) -> std::string {
        using T = std::decay_t<decltype(n)>;
        if constexpr (std::is_same_v<T, vector_selector>) {
          return selector_string(n) + modifiers_string(n.mods) + mode_string(n.mode);
        } else if constexpr (std::is_same_v<T, matrix_selector>) {
          return selector_string(n.vs) + "[" + dur_string(n.range_ms, n.range_expr) + "]" +
                 modifiers_string(n.vs.mods) + mode_string(n.vs.mode);
        } else if constexpr (std::is_same_v<T, number_literal>) {
          if (n.duration && std::isfinite(n.value) && n.value != 0) {
            auto ms = static_cast<int64_t>(std::llround(n.value * 1000));
            return ms < 0 ? "-" + format_duration(-ms) : format_duration(ms);
          }
          return format_number(n.value);
        } else if constexpr (std::is_same_v<T, string_literal>) {
          return quote(n.value);
        } else if constexpr (std::is_same_v<T, subquery_expr>) {
          std::string step = n.step_expr ? to_string(*n.step_expr) : n.step_ms ? format_duration(n.step_ms) : "";
          return to_string(*n.inner) + "[" + dur_string(n.range_ms, n.range_expr) + ":" + step + "]" +
                 modifiers_string(n.mods);
        } else if constexpr (std::is_same_v<T, paren_expr>) {
          return "(" + to_string(*n.inner) + ")";
        } else if constexpr (std::is_same_v<T, unary_expr>) {
          return std::string(operator_text(n.op)) + to_string(*n.operand);
        } else if constexpr (std::is_same_v<T, binary_expr>) {
          std::string out = to_string(*n.lhs) + " " + std::string(operator_text(n.op));
          if (n.return_bool) out += " bool";
          const auto& m = n.matching;
          if (n.has_matching && (m.on || !m.labels.empty())) {
            out += m.on ? " on (" : " ignoring (";
            out += join(m.labels) + ")";
            if (m.card == cardinality::many_to_one) out += " group_left (" + join(m.include) + ")";
            if (m.card == cardinality::one_to_many) out += " group_right (" + join(m.include) + ")";
          }
          if (m.fill_left && m.fill_right && (m.fill_left_value == m.fill_right_value ||
                                              (std::isnan(m.fill_left_value) && std::isnan(m.fill_right_value)))) {
            out += " fill (" + format_number(m.fill_left_value) + ")";
          } else {
            if (m.fill_left) out += " fill_left (" + format_number(m.fill_left_value) + ")";
            if (m.fill_right) out += " fill_right (" + format_number(m.fill_right_value) + ")";
          }
          return out + " " + to_string(*n.rhs);
        } else if constexpr (std::is_same_v<T, call_expr>) {
          std::string out = n.func + "(";
          for (size_t i = 0; i < n.args.size(); ++i) {
            if (i) out += ", ";
            out += to_string(*n.args[i]);
          }
          return out + ")";
        } else {
          std::string out(aggregator_text(n.op));
          if (n.without) out += " without (" + join(n.grouping) + ") ";
          else if (!n.grouping.empty()) out += " by (" + join(n.grouping) + ") ";
          out += "(";
          if (n.param) out += to_string(*n.param) + ", ";
          return out + to_string(*n.operand) + ")";
        }
      },
      e.node);
}

result<matchers> vector_selector_matchers(const expr& e) {
  if (const auto* vs = std::get_if<vector_selector>(&e.node)) {
    if (vs->mods.offset_ms != 0 || vs->mods.at != at_kind::none)
      return error(strata_errc::bad_request, "expected a series selector, got a modifier: " + to_string(e));
    return vs->label_matchers;
  }
  return error(strata_errc::bad_request,
               std::string("expected a series selector, got a ") + document_type(type_of(e)) + ": " + to_string(e));
}

}  // namespace strata::query
