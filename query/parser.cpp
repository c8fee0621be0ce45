#include "query/parser.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <limits>
#include <utility>

#include "query/function_table.hpp"

namespace strata::query {
namespace {

bool is_comparison(token_kind k) {
  return k == token_kind::eqlc || k == token_kind::neq || k == token_kind::lss || k == token_kind::lte ||
         k == token_kind::gtr || k == token_kind::gte;
}

bool is_set_operator(token_kind k) {
  return k == token_kind::kw_and || k == token_kind::kw_or || k == token_kind::kw_unless;
}

// Binding strength of a binary operator; 0 for tokens that are none.
int precedence(token_kind k) {
  switch (k) {
    case token_kind::kw_or: return 1;
    case token_kind::kw_and:
    case token_kind::kw_unless: return 2;
    case token_kind::eqlc:
    case token_kind::neq:
    case token_kind::lss:
    case token_kind::lte:
    case token_kind::gtr:
    case token_kind::gte: return 3;
    case token_kind::add:
    case token_kind::sub: return 4;
    case token_kind::mul:
    case token_kind::div:
    case token_kind::mod:
    case token_kind::kw_atan2: return 5;
    case token_kind::pow: return 6;
    default: return 0;
  }
}

constexpr int pow_precedence = 6;

bool takes_param(token_kind agg) {
  return agg == token_kind::kw_topk || agg == token_kind::kw_bottomk || agg == token_kind::kw_quantile ||
         agg == token_kind::kw_count_values || agg == token_kind::kw_limitk || agg == token_kind::kw_limit_ratio;
}

// Go's strconv.ParseInt(s, 0, 64) then ParseFloat, as Prometheus reads a number literal.
bool parse_number(std::string_view s, double& out) {
  std::string str(s);
  if (str.size() == 3 || str.size() == 4) {
    std::string low;
    for (char c : str) low += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (low == "inf" || low == "+inf") return out = std::numeric_limits<double>::infinity(), true;
    if (low == "nan") return out = std::numeric_limits<double>::quiet_NaN(), true;
  }
  bool integer = str.find_first_of(".eEpP") == std::string::npos || str.rfind("0x", 0) == 0 || str.rfind("0X", 0) == 0;
  if (integer) {
    int base = 10;
    const char* digits = str.c_str();
    if (str.size() > 1 && str[0] == '0') {
      if (str[1] == 'x' || str[1] == 'X') base = 16, digits += 2;
      else if (str[1] == 'o' || str[1] == 'O') base = 8, digits += 2;
      else if (str[1] == 'b' || str[1] == 'B') base = 2, digits += 2;
      else base = 8, digits += 1;
    }
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(digits, &end, base);
    if (errno == 0 && end && *end == '\0' && end != digits) return out = static_cast<double>(v), true;
  }
  errno = 0;
  char* end = nullptr;
  out = std::strtod(str.c_str(), &end);
  return end && *end == '\0' && !str.empty();
}

class parser {
 public:
  explicit parser(std::string_view q) : in_(q), lex_(q) {}

  result<expr> parse_query() {
    if (peek().kind == token_kind::eof) return fail(peek().pos, "no expression found in input");
    auto e = parse_binary(1);
    if (!e) return e;
    const token& t = peek();
    if (t.kind != token_kind::eof) return fail_unexpected(t, "");
    if (auto st = check(*e); !st) return st;
    return e;
  }

 private:
  const token& peek(size_t k = 0) {
    while (buf_.size() <= k) buf_.push_back(lex_.next());
    return buf_[k];
  }

  token take() {
    peek();
    token t = std::move(buf_.front());
    buf_.pop_front();
    return t;
  }

  bool at(token_kind k) { return peek().kind == k; }

  status fail(position_range p, std::string_view msg) {
    size_t pos = p.start <= in_.size() ? p.start : in_.size();
    size_t line = 1;
    size_t last_break = std::string_view::npos;
    for (size_t i = 0; i < pos; ++i)
      if (in_[i] == '\n') ++line, last_break = i;
    size_t col = last_break == std::string_view::npos ? pos + 1 : pos - last_break;
    return error(strata_errc::bad_request,
                 std::to_string(line) + ":" + std::to_string(col) + ": parse error: " + std::string(msg));
  }

  // "unexpected <token> in <context>, expected <what>"; lexer errors are
  // reported as they are.
  status fail_unexpected(const token& t, std::string_view context, std::string_view expected = {}) {
    if (t.kind == token_kind::error) return fail(t.pos, t.message);
    std::string msg = "unexpected " + describe(t);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    return fail(t.pos, msg);
  }

  // binary := unary (op modifiers binary)*, by precedence climbing.
  result<expr> parse_binary(int min_prec) {
    auto lhs = parse_unary();
    if (!lhs) return lhs;
    for (;;) {
      token_kind k = peek().kind;
      int prec = precedence(k);
      if (prec == 0 || prec < min_prec) return lhs;
      take();
      binary_expr b;
      b.op = k;
      if (at(token_kind::kw_bool)) {
        take();
        b.return_bool = true;
      }
      if (at(token_kind::kw_on) || at(token_kind::kw_ignoring)) {
        b.has_matching = true;
        b.matching.on = take().kind == token_kind::kw_on;
        auto ls = parse_label_list("grouping opts");
        if (!ls) return ls.error();
        b.matching.labels = std::move(*ls);
        if (at(token_kind::kw_group_left) || at(token_kind::kw_group_right)) {
          b.matching.card =
              take().kind == token_kind::kw_group_left ? cardinality::many_to_one : cardinality::one_to_many;
          if (at(token_kind::left_paren)) {
            auto inc = parse_label_list("grouping opts");
            if (!inc) return inc.error();
            b.matching.include = std::move(*inc);
          }
        }
      } else if (at(token_kind::kw_group_left) || at(token_kind::kw_group_right)) {
        return fail_unexpected(peek(), "binary expression", "\"on\" or \"ignoring\"");
      }
      for (;;) {
        const token& f = peek();
        if (f.kind != token_kind::identifier || peek(1).kind != token_kind::left_paren ||
            (f.text != "fill" && f.text != "fill_left" && f.text != "fill_right"))
          break;
        std::string which(f.text);
        take();
        take();
        bool negative = false;
        if (at(token_kind::sub) || at(token_kind::add)) negative = take().kind == token_kind::sub;
        double v = 0;
        if (!at(token_kind::number) || !parse_number(peek().text, v)) return fail_unexpected(peek(), "fill", "number");
        take();
        if (!at(token_kind::right_paren)) return fail_unexpected(peek(), "fill", "\")\"");
        take();
        if (negative) v = -v;
        if (which != "fill_right") b.matching.fill_left = true, b.matching.fill_left_value = v;
        if (which != "fill_left") b.matching.fill_right = true, b.matching.fill_right_value = v;
      }
      if (is_set_operator(k) && b.matching.card == cardinality::one_to_one) b.matching.card = cardinality::many_to_many;
      // '^' is right-associative, everything else left-associative.
      auto rhs = parse_binary(k == token_kind::pow ? prec : prec + 1);
      if (!rhs) return rhs;
      b.pos = {position_of(*lhs).start, position_of(*rhs).end};
      b.lhs = std::make_unique<expr>(std::move(*lhs));
      b.rhs = std::make_unique<expr>(std::move(*rhs));
      lhs = expr{std::move(b)};
    }
  }

  // unary := ('+' | '-') binary-at-'^'-level | postfix. A sign binds looser
  // than '^' (-2^2 is -4) and tighter than everything else.
  result<expr> parse_unary() {
    if (at(token_kind::add) || at(token_kind::sub)) {
      token op = take();
      auto operand = parse_binary(pow_precedence);
      if (!operand) return operand;
      if (auto* num = std::get_if<number_literal>(&operand->node)) {
        if (op.kind == token_kind::sub) num->value = -num->value;
        num->pos.start = op.pos.start;
        return operand;
      }
      unary_expr u;
      u.op = op.kind;
      u.pos = {op.pos.start, position_of(*operand).end};
      u.operand = std::make_unique<expr>(std::move(*operand));
      return expr{std::move(u)};
    }
    auto e = parse_primary();
    if (!e) return e;
    return parse_postfix(std::move(*e));
  }

  static bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  }

  static duration_ptr dur_literal(double seconds) {
    auto d = std::make_shared<duration_expr>();
    d->seconds = seconds;
    return d;
  }

  static bool is_constant(const duration_expr& d) {
    using k = duration_expr::kind;
    if (d.k == k::step || d.k == k::range) return false;
    if (d.a && !is_constant(*d.a)) return false;
    if (d.b && !is_constant(*d.b)) return false;
    return true;
  }

  // dur := dur_unary (op dur_unary)* with PromQL's arithmetic precedence.
  result<duration_ptr> parse_dur(int min_prec, std::string_view context) {
    auto lhs = parse_dur_unary(context, false);
    if (!lhs) return lhs;
    for (;;) {
      token_kind k = peek().kind;
      int prec = precedence(k);
      if (prec < 4 || prec < min_prec) return lhs;
      take();
      auto rhs = parse_dur(k == token_kind::pow ? prec : prec + 1, context);
      if (!rhs) return rhs;
      auto d = std::make_shared<duration_expr>();
      d->k = duration_expr::kind::binary;
      d->op = k;
      d->a = std::move(*lhs);
      d->b = std::move(*rhs);
      lhs = duration_ptr(d);
    }
  }

  // A sign binds looser than '^' inside brackets; after `offset` the sign
  // takes one primary only (`x offset -2 ^ 2` is `(x offset -2) ^ 2`).
  result<duration_ptr> parse_dur_unary(std::string_view context, bool primary_only) {
    if (at(token_kind::add) || at(token_kind::sub)) {
      bool neg = take().kind == token_kind::sub;
      auto operand = primary_only ? parse_dur_primary(context) : parse_dur(pow_precedence, context);
      if (!operand || !neg) return operand;
      auto d = std::make_shared<duration_expr>();
      d->k = duration_expr::kind::negate;
      d->a = std::move(*operand);
      return duration_ptr(d);
    }
    return parse_dur_primary(context);
  }

  result<duration_ptr> parse_dur_primary(std::string_view context) {
    const token& t = peek();
    if (t.kind == token_kind::duration) {
      auto v = parse_duration(t.text);
      if (!v) return fail(t.pos, v.error().message());
      take();
      return dur_literal(static_cast<double>(*v) / 1000.0);
    }
    if (t.kind == token_kind::number) {
      double secs = 0;
      if (!parse_number(t.text, secs)) return fail(t.pos, "invalid duration " + quote(t.text));
      take();
      return dur_literal(secs);
    }
    if (t.kind == token_kind::left_paren) {
      take();
      auto inner = parse_dur(1, context);
      if (!inner) return inner;
      if (!at(token_kind::right_paren)) return fail_unexpected(peek(), context, "\")\"");
      take();
      return inner;
    }
    if (t.kind == token_kind::identifier && peek(1).kind == token_kind::left_paren) {
      std::string_view name = t.text;
      auto d = std::make_shared<duration_expr>();
      if (iequal(name, "step")) d->k = duration_expr::kind::step;
      else if (iequal(name, "range")) d->k = duration_expr::kind::range;
      else if (iequal(name, "min_of")) d->k = duration_expr::kind::min_of;
      else if (iequal(name, "max_of")) d->k = duration_expr::kind::max_of;
      else return fail_unexpected(t, context, "duration");
      take();
      take();
      if (d->k == duration_expr::kind::min_of || d->k == duration_expr::kind::max_of) {
        auto a = parse_dur(1, context);
        if (!a) return a;
        if (!at(token_kind::comma)) return fail_unexpected(peek(), context, "\",\"");
        take();
        auto b = parse_dur(1, context);
        if (!b) return b;
        d->a = std::move(*a);
        d->b = std::move(*b);
      }
      if (!at(token_kind::right_paren)) return fail_unexpected(peek(), context, "\")\"");
      take();
      return duration_ptr(d);
    }
    return fail_unexpected(t, context, "duration");
  }

  // A duration in brackets or after offset: its value in ms when constant,
  // else the expression to evaluate with the query's step and range.
  struct duration_value {
    int64_t ms = 0;
    duration_ptr expr;
  };

  result<duration_value> parse_duration_value(std::string_view context, bool primary_only) {
    auto d = primary_only ? parse_dur_unary(context, true) : parse_dur(1, context);
    if (!d) return d.error();
    duration_value v;
    if (is_constant(**d)) {
      double secs = eval_duration(**d, 0, 0);
      if (!std::isfinite(secs) || std::fabs(secs) > 9.2e15) return fail(peek().pos, "invalid duration");
      v.ms = static_cast<int64_t>(std::llround(secs * 1000));
    } else {
      v.expr = std::move(*d);
    }
    return v;
  }

  time_modifiers* modifiers_of(expr& e) {
    if (auto* vs = std::get_if<vector_selector>(&e.node)) return &vs->mods;
    if (auto* ms = std::get_if<matrix_selector>(&e.node)) return &ms->vs.mods;
    if (auto* sq = std::get_if<subquery_expr>(&e.node)) return &sq->mods;
    return nullptr;
  }

  // postfix := primary ('[' range (':' [step])? ']' | 'offset' dur | '@' ts)*
  result<expr> parse_postfix(expr e) {
    bool offset_set = false, at_set = false;
    for (;;) {
      const token& t = peek();
      if (t.kind == token_kind::left_bracket) {
        position_range open = t.pos;
        take();
        auto range = parse_duration_value("range", false);
        if (!range) return range.error();
        if (at(token_kind::colon)) {
          take();
          duration_value step;
          if (!at(token_kind::right_bracket)) {
            auto s = parse_duration_value("subquery", false);
            if (!s) return s.error();
            step = *s;
            if (!step.expr && step.ms <= 0) return fail(open, "step must be greater than 0");
          }
          if (!at(token_kind::right_bracket)) return fail_unexpected(peek(), "subquery", "\"]\"");
          if (!range->expr && range->ms <= 0) return fail(open, "duration must be greater than 0");
          subquery_expr sq;
          sq.pos = {position_of(e).start, take().pos.end};
          sq.range_ms = range->ms;
          sq.range_expr = range->expr;
          sq.step_ms = step.ms;
          sq.step_expr = step.expr;
          sq.inner = std::make_unique<expr>(std::move(e));
          e = expr{std::move(sq)};
          offset_set = at_set = false;
          continue;
        }
        if (!at(token_kind::right_bracket)) return fail_unexpected(peek(), "range", "\"]\"");
        auto* vs = std::get_if<vector_selector>(&e.node);
        if (!vs) return fail(open, "ranges only allowed for vector selectors");
        if (offset_set || at_set) return fail(open, "no offset modifiers allowed before range");
        if (!range->expr && range->ms <= 0) return fail(open, "duration must be greater than 0");
        matrix_selector ms;
        ms.vs = std::move(*vs);
        ms.range_ms = range->ms;
        ms.range_expr = range->expr;
        ms.pos = {ms.vs.pos.start, take().pos.end};
        e.node = std::move(ms);
      } else if (t.kind == token_kind::kw_offset) {
        position_range kw = t.pos;
        time_modifiers* mods = modifiers_of(e);
        if (!mods)
          return fail(kw,
                      "offset modifier must be preceded by an instant vector selector or range vector selector or a "
                      "subquery");
        if (offset_set) return fail(kw, "offset may not be set multiple times");
        take();
        auto off = parse_duration_value("offset", true);
        if (!off) return off.error();
        mods->offset_ms = off->ms;
        mods->offset_expr = off->expr;
        offset_set = true;
      } else if (t.kind == token_kind::identifier && (t.text == "anchored" || t.text == "smoothed")) {
        vector_selector* vs = std::get_if<vector_selector>(&e.node);
        if (auto* ms = std::get_if<matrix_selector>(&e.node)) vs = &ms->vs;
        if (!vs || vs->mode != range_mode::plain) return fail_unexpected(t, "");
        vs->mode = t.text == "anchored" ? range_mode::anchored : range_mode::smoothed;
        take();
      } else if (t.kind == token_kind::at) {
        position_range kw = t.pos;
        time_modifiers* mods = modifiers_of(e);
        if (!mods)
          return fail(kw,
                      "@ modifier must be preceded by an instant vector selector or range vector selector or a "
                      "subquery");
        if (at_set) return fail(kw, "@ <timestamp> may not be set multiple times");
        take();
        if (at(token_kind::kw_start) || at(token_kind::kw_end)) {
          token which = take();
          if (!at(token_kind::left_paren)) return fail_unexpected(peek(), "@", "\"(\"");
          take();
          if (!at(token_kind::right_paren)) return fail_unexpected(peek(), "@", "\")\"");
          take();
          mods->at = which.kind == token_kind::kw_start ? at_kind::start : at_kind::end;
        } else {
          bool negative = false;
          if (at(token_kind::sub) || at(token_kind::add)) negative = take().kind == token_kind::sub;
          const token& n = peek();
          double secs = 0;
          if (n.kind == token_kind::duration) {
            auto d = parse_duration(n.text);
            if (!d) return fail(n.pos, d.error().message());
            secs = static_cast<double>(*d) / 1000.0;
          } else if (n.kind != token_kind::number || !parse_number(n.text, secs)) {
            return fail_unexpected(n, "@", "timestamp");
          }
          if (negative) secs = -secs;
          if (!std::isfinite(secs) || std::fabs(secs * 1000) > 9.2e18)
            return fail(n.pos, "timestamp out of bounds for @ modifier: " + format_number(secs));
          take();
          mods->at = at_kind::timestamp;
          mods->at_ms = static_cast<int64_t>(std::llround(secs * 1000));
        }
        at_set = true;
      } else {
        return e;
      }
    }
  }

  // primary := number | string | '(' expr ')' | call | aggregation | selector
  result<expr> parse_primary() {
    const token& t = peek();
    switch (t.kind) {
      case token_kind::left_brace: {
        auto vs = parse_vector_selector();
        if (!vs) return vs.error();
        return expr{std::move(*vs)};
      }
      case token_kind::number: {
        number_literal n;
        if (!parse_number(t.text, n.value)) return fail(t.pos, "invalid number " + quote(t.text));
        n.pos = take().pos;
        return expr{n};
      }
      case token_kind::duration: {
        auto d = parse_duration(t.text);
        if (!d) return fail(t.pos, d.error().message());
        number_literal n;
        n.value = static_cast<double>(*d) / 1000.0;
        n.duration = true;
        n.pos = take().pos;
        return expr{n};
      }
      case token_kind::string: {
        auto s = unquote(t.text);
        if (!s) return fail(t.pos, s.error().message());
        string_literal sl{std::move(*s), take().pos};
        return expr{std::move(sl)};
      }
      case token_kind::left_paren: {
        size_t start = take().pos.start;
        auto inner = parse_binary(1);
        if (!inner) return inner;
        if (!at(token_kind::right_paren)) return fail_unexpected(peek(), "paren expression", "\")\"");
        paren_expr p;
        p.pos = {start, take().pos.end};
        p.inner = std::make_unique<expr>(std::move(*inner));
        return expr{std::move(p)};
      }
      case token_kind::identifier:
      case token_kind::metric_identifier: break;
      case token_kind::eof: return fail_unexpected(t, "");
      default:
        if (!is_keyword(t.kind)) return fail_unexpected(t, "");
    }
    token_kind after = peek(1).kind;
    if (is_aggregator(t.kind) &&
        (after == token_kind::left_paren || after == token_kind::kw_by || after == token_kind::kw_without))
      return parse_aggregation();
    if (after == token_kind::left_paren &&
        (t.kind == token_kind::identifier || t.kind == token_kind::kw_start || t.kind == token_kind::kw_end))
      return parse_call();
    if (is_aggregator(t.kind)) return fail_unexpected(peek(1), "aggregation", "\"(\"");
    auto vs = parse_vector_selector();
    if (!vs) return vs.error();
    return expr{std::move(*vs)};
  }

  result<expr> parse_call() {
    token name = take();
    const function_signature* sig = find_function(name.text);
    if (!sig) return fail(name.pos, "unknown function with name " + quote(name.text));
    take();  // '('
    call_expr c;
    c.func = std::string(name.text);
    while (!at(token_kind::right_paren)) {
      // info()'s second argument selects info series by data labels alone,
      // so its matchers may all match the empty string.
      allow_empty_selector_ = c.func == "info" && c.args.size() == 1;
      auto arg = parse_binary(1);
      allow_empty_selector_ = false;
      if (!arg) return arg;
      c.args.push_back(std::make_unique<expr>(std::move(*arg)));
      if (at(token_kind::comma)) {
        take();
      } else if (!at(token_kind::right_paren)) {
        return fail_unexpected(peek(), "argument list", "\",\" or \")\"");
      }
    }
    c.pos = {name.pos.start, take().pos.end};
    return expr{std::move(c)};
  }

  // '(' [label (',' label)* [',']] ')'
  result<std::vector<std::string>> parse_label_list(std::string_view context) {
    if (!at(token_kind::left_paren)) return fail_unexpected(peek(), context, "\"(\"");
    take();
    std::vector<std::string> out;
    for (;;) {
      const token& t = peek();
      if (t.kind == token_kind::right_paren) {
        take();
        return out;
      }
      if (t.kind == token_kind::identifier || (is_keyword(t.kind) && t.kind != token_kind::kw_atan2)) {
        out.emplace_back(t.text);
      } else if (t.kind == token_kind::string) {
        auto s = unquote(t.text);
        if (!s) return fail(t.pos, s.error().message());
        out.push_back(std::move(*s));
      } else {
        return fail_unexpected(t, context, "label");
      }
      take();
      if (at(token_kind::comma)) take();
      else if (!at(token_kind::right_paren)) return fail_unexpected(peek(), context, "\",\" or \")\"");
    }
  }

  // agg := op [grouping] '(' [param ','] expr ')' [grouping]
  result<expr> parse_aggregation() {
    token op = take();
    aggregate_expr a;
    a.op = op.kind;
    auto grouping = [&]() -> status {
      a.without = take().kind == token_kind::kw_without;
      auto ls = parse_label_list("grouping opts");
      if (!ls) return ls.error();
      a.grouping = std::move(*ls);
      a.grouping_written = true;
      return {};
    };
    if (at(token_kind::kw_by) || at(token_kind::kw_without))
      if (auto st = grouping(); !st) return st;
    if (!at(token_kind::left_paren)) return fail_unexpected(peek(), "aggregation", "\"(\"");
    take();
    std::vector<expr> args;
    while (!at(token_kind::right_paren)) {
      auto arg = parse_binary(1);
      if (!arg) return arg;
      args.push_back(std::move(*arg));
      if (at(token_kind::comma)) take();
      else if (!at(token_kind::right_paren)) return fail_unexpected(peek(), "aggregation", "\",\" or \")\"");
    }
    position_range close = take().pos;
    a.pos = {op.pos.start, close.end};
    if (!a.grouping_written && (at(token_kind::kw_by) || at(token_kind::kw_without))) {
      if (auto st = grouping(); !st) return st;
    }
    size_t want = takes_param(op.kind) ? 2 : 1;
    if (args.size() != want)
      return fail(a.pos, "wrong number of arguments for aggregate expression provided, expected " +
                             std::to_string(want) + ", got " + std::to_string(args.size()));
    if (want == 2) a.param = std::make_unique<expr>(std::move(args[0]));
    a.operand = std::make_unique<expr>(std::move(args.back()));
    return expr{std::move(a)};
  }

  // vector_selector := name ['{' matchers '}'] | '{' matchers '}'
  result<vector_selector> parse_vector_selector() {
    vector_selector vs;
    vs.pos = peek().pos;
    if (!at(token_kind::left_brace)) vs.name = std::string(take().text);
    std::string braced_name;  // a lone quoted metric name inside the braces
    if (at(token_kind::left_brace)) {
      take();
      if (auto st = parse_matchers(vs, braced_name); !st) return st;
    }
    if (!vs.name.empty()) {
      for (const auto& m : vs.label_matchers)
        if (m.name() == metric_name_label)
          return fail(vs.pos, "metric name must not be set twice: " + quote(vs.name) + " or " + quote(m.value()));
      auto name = matcher::make(matcher::op::eq, std::string(metric_name_label), vs.name);
      if (!name) return fail(vs.pos, name.error().message());
      vs.label_matchers.insert(vs.label_matchers.begin(), std::move(*name));
      return vs;
    }
    vs.name = braced_name;
    for (const auto& m : vs.label_matchers)
      if (!m.matches_empty()) return vs;
    if (allow_empty_selector_) return vs;
    return fail(vs.pos, "vector selector must contain at least one non-empty matcher");
  }

  // After '{': (matcher (',' matcher)* [','])? '}'
  // matcher := (identifier | string) match_op string | string (a metric name)
  status parse_matchers(vector_selector& vs, std::string& braced_name) {
    for (;;) {
      const token& t = peek();
      if (t.kind == token_kind::right_brace) {
        vs.pos.end = take().pos.end;
        return {};
      }
      position_range mpos = t.pos;
      std::string name;
      if (t.kind == token_kind::identifier) {
        name = std::string(t.text);
      } else if (t.kind == token_kind::string) {
        auto s = unquote(t.text);
        if (!s) return fail(t.pos, s.error().message());
        name = std::move(*s);
      } else {
        return fail_unexpected(t, "label matching", "identifier or \"}\"");
      }
      bool quoted = t.kind == token_kind::string;
      take();

      const token& op_tok = peek();
      if (quoted && (op_tok.kind == token_kind::comma || op_tok.kind == token_kind::right_brace)) {
        // Prometheus 3: {"metric.name"} names the metric.
        if (!vs.name.empty() || !braced_name.empty())
          return fail(mpos, "metric name must not be set twice: " + quote(vs.name.empty() ? braced_name : vs.name) +
                                " or " + quote(name));
        braced_name = name;
        auto m = matcher::make(matcher::op::eq, std::string(metric_name_label), name);
        if (!m) return fail(mpos, m.error().message());
        vs.label_matchers.push_back(std::move(*m));
      } else {
        matcher::op op;
        switch (op_tok.kind) {
          case token_kind::eql: op = matcher::op::eq; break;
          case token_kind::neq: op = matcher::op::neq; break;
          case token_kind::eql_regex: op = matcher::op::re; break;
          case token_kind::neq_regex: op = matcher::op::nre; break;
          default: return fail_unexpected(op_tok, "label matching", "label matching operator");
        }
        take();
        const token& v = peek();
        if (v.kind != token_kind::string) return fail_unexpected(v, "label matching", "string");
        auto value = unquote(v.text);
        if (!value) return fail(v.pos, value.error().message());
        mpos.end = take().pos.end;
        auto m = matcher::make(op, std::move(name), std::move(*value));
        if (!m) return fail(mpos, m.error().message());
        vs.label_matchers.push_back(std::move(*m));
      }

      const token& sep = peek();
      if (sep.kind == token_kind::comma) {
        take();
      } else if (sep.kind != token_kind::right_brace) {
        return fail_unexpected(sep, "label matching", "\",\" or \"}\"");
      }
    }
  }

  // Prometheus's type checks, run once the whole tree is parsed (so that
  // syntax errors anywhere win over type errors).
  status check(const expr& e) {
    return std::visit([this](const auto& n) { return check_node(n); }, e.node);
  }

  status check_node(const vector_selector&) { return {}; }
  status check_node(const matrix_selector&) { return {}; }
  status check_node(const number_literal&) { return {}; }
  status check_node(const string_literal&) { return {}; }
  status check_node(const paren_expr& n) { return check(*n.inner); }

  status check_node(const subquery_expr& n) {
    if (auto st = check(*n.inner); !st) return st;
    value_type t = type_of(*n.inner);
    if (t != value_type::vector)
      return fail(n.pos, std::string("subquery is only allowed on instant vector, got ") + document_type(t) +
                             " instead");
    return {};
  }

  status check_node(const unary_expr& n) {
    if (auto st = check(*n.operand); !st) return st;
    value_type t = type_of(*n.operand);
    if (t != value_type::scalar && t != value_type::vector)
      return fail(n.pos, std::string("unary expression only allowed on expressions of type scalar or instant "
                                     "vector, got \"") +
                             document_type(t) + "\"");
    return {};
  }

  status check_node(const binary_expr& n) {
    if (auto st = check(*n.lhs); !st) return st;
    if (auto st = check(*n.rhs); !st) return st;
    value_type lt = type_of(*n.lhs), rt = type_of(*n.rhs);
    auto ok = [](value_type t) { return t == value_type::scalar || t == value_type::vector; };
    if (n.return_bool && !is_comparison(n.op))
      return fail(n.pos, "bool modifier can only be used on comparison operators");
    if (is_comparison(n.op) && lt == value_type::scalar && rt == value_type::scalar && !n.return_bool)
      return fail(n.pos, "comparisons between scalars must use BOOL modifier");
    if (is_set_operator(n.op) && (lt == value_type::scalar || rt == value_type::scalar))
      return fail(n.pos, "set operator " + quote(operator_text(n.op)) + " not allowed in binary scalar expression");
    if (!ok(lt) || !ok(rt)) return fail(n.pos, "binary expression must contain only scalar and instant vector types");
    bool grouped = n.matching.card == cardinality::many_to_one || n.matching.card == cardinality::one_to_many;
    if ((n.has_matching || grouped) && (lt != value_type::vector || rt != value_type::vector))
      return fail(n.pos, "vector matching only allowed between instant vectors");
    if (is_set_operator(n.op) && grouped)
      return fail(n.pos, "no grouping allowed for " + quote(operator_text(n.op)) + " operation");
    if (n.matching.on)
      for (const auto& l : n.matching.include)
        for (const auto& m : n.matching.labels)
          if (l == m) return fail(n.pos, "label " + quote(l) + " must not occur in ON and GROUP clause at once");
    return {};
  }

  status check_node(const call_expr& n) {
    for (const auto& a : n.args)
      if (auto st = check(*a); !st) return st;
    const function_signature* sig = find_function(n.func);
    size_t nargs = n.args.size(), fixed = sig->arg_types.size();
    if (sig->variadic == 0) {
      if (nargs != fixed)
        return fail(n.pos, "expected " + std::to_string(fixed) + " argument(s) in call to " + quote(n.func) +
                               ", got " + std::to_string(nargs));
    } else {
      size_t min = fixed - 1;
      if (nargs < min)
        return fail(n.pos, "expected at least " + std::to_string(min) + " argument(s) in call to " + quote(n.func) +
                               ", got " + std::to_string(nargs));
      if (sig->variadic > 0 && nargs > min + static_cast<size_t>(sig->variadic))
        return fail(n.pos, "expected at most " + std::to_string(min + sig->variadic) + " argument(s) in call to " +
                               quote(n.func) + ", got " + std::to_string(nargs));
    }
    for (size_t i = 0; i < nargs; ++i) {
      value_type want = sig->arg_types[std::min(i, fixed - 1)];
      value_type got = type_of(*n.args[i]);
      if (got != want)
        return fail(position_of(*n.args[i]), std::string("expected type ") + document_type(want) +
                                                 " in call to function " + quote(n.func) + ", got " +
                                                 document_type(got));
    }
    return {};
  }

  status check_node(const aggregate_expr& n) {
    if (auto st = check(*n.operand); !st) return st;
    if (n.param)
      if (auto st = check(*n.param); !st) return st;
    value_type t = type_of(*n.operand);
    if (t != value_type::vector)
      return fail(position_of(*n.operand),
                  std::string("expected type instant vector in aggregation expression, got ") + document_type(t));
    if (n.param) {
      value_type want = n.op == token_kind::kw_count_values ? value_type::string : value_type::scalar;
      value_type got = type_of(*n.param);
      if (got != want)
        return fail(position_of(*n.param), std::string("expected type ") + document_type(want) +
                                               " in aggregation parameter, got " + document_type(got));
    }
    return {};
  }

  std::string_view in_;
  lexer lex_;
  std::deque<token> buf_;
  bool allow_empty_selector_ = false;
};

}  // namespace

result<expr> parse(std::string_view query) { return parser(query).parse_query(); }

}  // namespace strata::query
