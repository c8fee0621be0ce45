#include "query/parser.hpp"

#include <deque>
#include <utility>

namespace strata::query {
namespace {

constexpr std::string_view only_selectors = "only series selectors are supported for now";

class parser {
 public:
  explicit parser(std::string_view q) : in_(q), lex_(q) {}

  result<expr> parse_query() {
    if (peek().kind == token_kind::eof) return fail(peek().pos, "no expression found in input");
    auto e = parse_expr();
    if (!e) return e;
    const token& t = peek();
    if (t.kind != token_kind::eof) return fail_unexpected(t, "");
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
    if (is_binary_operator(t.kind) && context.empty())
      return fail_unsupported(t.pos, "binary operator " + quote(t.text));
    std::string msg = "unexpected " + describe(t);
    if (!context.empty()) msg += " in " + std::string(context);
    if (!expected.empty()) msg += ", expected " + std::string(expected);
    return fail(t.pos, msg);
  }

  status fail_unsupported(position_range p, const std::string& what) {
    return fail(p, what + " is not supported yet: " + std::string(only_selectors));
  }

  // expr := unary_expr (binary_operator unary_expr)*   -- operators later
  result<expr> parse_expr() {
    auto e = parse_unary();
    if (!e) return e;
    const token& t = peek();
    if (is_binary_operator(t.kind)) return fail_unsupported(t.pos, "binary operator " + quote(t.text));
    return e;
  }

  // unary_expr := ('+' | '-') unary_expr | postfix_expr
  result<expr> parse_unary() {
    const token& t = peek();
    if (t.kind == token_kind::add || t.kind == token_kind::sub)
      return fail_unsupported(t.pos, "unary operator " + quote(t.text));
    auto e = parse_primary();
    if (!e) return e;
    return parse_postfix(std::move(*e));
  }

  // postfix_expr := primary ('[' duration ']' | 'offset' ['+'|'-'] duration | '@' ...)*
  result<expr> parse_postfix(expr e) {
    bool offset_set = false;
    for (;;) {
      const token& t = peek();
      if (t.kind == token_kind::left_bracket) {
        position_range open = t.pos;
        if (offset_set) return fail(open, "no offset modifiers allowed before range");
        auto* vs = std::get_if<vector_selector>(&e.node);
        if (!vs) return fail(open, "ranges only allowed for vector selectors");
        take();
        const token& d = peek();
        if (d.kind != token_kind::duration) return fail_unexpected(d, "range", "duration");
        auto range = duration_of(take());
        if (!range) return range.error();
        if (*range <= 0) return fail(open, "duration must be greater than 0");
        if (at(token_kind::colon)) return fail_unsupported(open, "subquery");
        const token& close = peek();
        if (close.kind != token_kind::right_bracket) return fail_unexpected(close, "range", "\"]\"");
        matrix_selector ms;
        ms.vs = std::move(*vs);
        ms.range_ms = *range;
        ms.pos = {ms.vs.pos.start, close.pos.end};
        take();
        e.node = std::move(ms);
      } else if (t.kind == token_kind::kw_offset) {
        position_range kw = t.pos;
        if (offset_set) return fail(kw, "offset may not be set multiple times");
        take();
        bool negative = false;
        if (at(token_kind::sub) || at(token_kind::add)) negative = take().kind == token_kind::sub;
        const token& d = peek();
        if (d.kind != token_kind::duration) return fail_unexpected(d, "offset", "duration");
        auto off = duration_of(take());
        if (!off) return off.error();
        vector_selector& vs = std::holds_alternative<matrix_selector>(e.node) ? std::get<matrix_selector>(e.node).vs
                                                                              : std::get<vector_selector>(e.node);
        vs.offset_ms = negative ? -*off : *off;
        offset_set = true;
      } else if (t.kind == token_kind::at) {
        return fail_unsupported(t.pos, "the @ modifier");
      } else {
        return e;
      }
    }
  }

  // primary := vector_selector | (later) number | string | '(' expr ')' |
  //            function_call | aggregation
  result<expr> parse_primary() {
    const token& t = peek();
    switch (t.kind) {
      case token_kind::left_brace: {
        auto vs = parse_vector_selector();
        if (!vs) return vs.error();
        return expr{std::move(*vs)};
      }
      case token_kind::number: return fail_unsupported(t.pos, "number literal " + quote(t.text));
      case token_kind::string: return fail_unsupported(t.pos, "string literal " + std::string(t.text));
      case token_kind::duration: return fail_unsupported(t.pos, "duration literal " + quote(t.text));
      case token_kind::left_paren: return fail_unsupported(t.pos, "parenthesized expression");
      case token_kind::identifier:
      case token_kind::metric_identifier: break;
      default:
        if (!is_keyword(t.kind)) return fail_unexpected(t, "");
    }
    // A name: a function call, an aggregation or a metric name.
    token_kind after = peek(1).kind;
    if (after == token_kind::left_paren) {
      if (is_aggregator(t.kind)) return fail_unsupported(t.pos, "aggregation " + quote(t.text));
      return fail_unsupported(t.pos, "function call " + quote(t.text));
    }
    if (is_aggregator(t.kind) && (after == token_kind::kw_by || after == token_kind::kw_without))
      return fail_unsupported(t.pos, "aggregation " + quote(t.text));
    auto vs = parse_vector_selector();
    if (!vs) return vs.error();
    return expr{std::move(*vs)};
  }

  // vector_selector := name ['{' matchers '}'] | '{' matchers '}'
  result<vector_selector> parse_vector_selector() {
    vector_selector vs;
    vs.pos = peek().pos;
    if (!at(token_kind::left_brace)) vs.name = std::string(take().text);
    if (at(token_kind::left_brace)) {
      take();
      if (auto st = parse_matchers(vs); !st) return st;
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
    for (const auto& m : vs.label_matchers)
      if (!m.matches_empty()) return vs;
    return fail(vs.pos, "vector selector must contain at least one non-empty matcher");
  }

  // After '{': (matcher (',' matcher)* [','])? '}'
  // matcher := (identifier | string) match_op string | string (a metric name)
  status parse_matchers(vector_selector& vs) {
    std::string braced_name;  // a lone quoted metric name inside the braces
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

  result<int64_t> duration_of(const token& t) {
    auto d = parse_duration(t.text);
    if (!d) return fail(t.pos, d.error().message());
    return d;
  }

  std::string_view in_;
  lexer lex_;
  std::deque<token> buf_;
};

}  // namespace

result<expr> parse(std::string_view query) { return parser(query).parse_query(); }

}  // namespace strata::query
