#include "query/lexer.hpp"

#include "common/utf8.hpp"

#include <array>
#include <cstdio>
#include <limits>
#include <utility>

namespace strata::query {
namespace {

bool is_alpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

struct keyword_entry {
  std::string_view word;
  token_kind kind;
};

constexpr std::array<keyword_entry, 28> keywords{{
    {"and", token_kind::kw_and},
    {"or", token_kind::kw_or},
    {"unless", token_kind::kw_unless},
    {"atan2", token_kind::kw_atan2},
    {"avg", token_kind::kw_avg},
    {"bottomk", token_kind::kw_bottomk},
    {"count", token_kind::kw_count},
    {"count_values", token_kind::kw_count_values},
    {"group", token_kind::kw_group},
    {"limitk", token_kind::kw_limitk},
    {"limit_ratio", token_kind::kw_limit_ratio},
    {"max", token_kind::kw_max},
    {"min", token_kind::kw_min},
    {"quantile", token_kind::kw_quantile},
    {"stddev", token_kind::kw_stddev},
    {"stdvar", token_kind::kw_stdvar},
    {"sum", token_kind::kw_sum},
    {"topk", token_kind::kw_topk},
    {"offset", token_kind::kw_offset},
    {"by", token_kind::kw_by},
    {"without", token_kind::kw_without},
    {"on", token_kind::kw_on},
    {"ignoring", token_kind::kw_ignoring},
    {"group_left", token_kind::kw_group_left},
    {"group_right", token_kind::kw_group_right},
    {"bool", token_kind::kw_bool},
    {"start", token_kind::kw_start},
    {"end", token_kind::kw_end},
}};

// The code point at s[i] for messages; U+FFFD for invalid bytes.
uint32_t rune_at(std::string_view s, size_t i) {
  uint32_t cp = 0xFFFD;
  if (i < s.size() && decode_utf8(s, i, cp) == 0) cp = 0xFFFD;
  return cp;
}

// Appends `cp` as Go's %q does inside `quote_char` quotes: the C escapes,
// \xNN for other control characters, the rune itself otherwise.
void append_escaped(std::string& out, uint32_t cp, char quote_char) {
  switch (cp) {
    case '\a': out += "\\a"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\v': out += "\\v"; return;
    case '\\': out += "\\\\"; return;
    default: break;
  }
  if (cp == static_cast<uint32_t>(quote_char)) {
    out += '\\';
    out += quote_char;
  } else if (cp < 0x20 || cp == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
    out += buf;
  } else {
    append_utf8(out, cp);
  }
}

// A rune spelled like Go's %q: 'a', '\n', '\x00', 'é'.
std::string quote_rune(uint32_t cp) {
  std::string out = "'";
  append_escaped(out, cp, '\'');
  out += '\'';
  return out;
}

// A rune spelled like Go's %#U: U+0071 'q'.
std::string describe_rune(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  std::string out = buf;
  if (cp >= 0x20 && cp != 0x7F) {
    out += " '";
    append_utf8(out, cp);
    out += '\'';
  }
  return out;
}

const char* operator_text(token_kind k) {
  switch (k) {
    case token_kind::left_paren: return "(";
    case token_kind::right_paren: return ")";
    case token_kind::left_brace: return "{";
    case token_kind::right_brace: return "}";
    case token_kind::left_bracket: return "[";
    case token_kind::right_bracket: return "]";
    case token_kind::comma: return ",";
    case token_kind::colon: return ":";
    case token_kind::at: return "@";
    case token_kind::eql: return "=";
    case token_kind::neq: return "!=";
    case token_kind::eql_regex: return "=~";
    case token_kind::neq_regex: return "!~";
    case token_kind::eqlc: return "==";
    case token_kind::lss: return "<";
    case token_kind::lte: return "<=";
    case token_kind::gtr: return ">";
    case token_kind::gte: return ">=";
    case token_kind::add: return "+";
    case token_kind::sub: return "-";
    case token_kind::mul: return "*";
    case token_kind::div: return "/";
    case token_kind::mod: return "%";
    case token_kind::pow: return "^";
    default: return nullptr;
  }
}

// Scans a Go escape sequence starting after the backslash at s[i]. On
// success advances i past it and, when `out` is given, appends the decoded
// bytes. On failure returns the message.
std::string scan_escape(std::string_view s, size_t& i, char quote, std::string* out) {
  if (i >= s.size()) return "escape sequence not terminated";
  char c = s[i];
  auto simple = [&](char decoded) {
    if (out) *out += decoded;
    ++i;
    return std::string();
  };
  switch (c) {
    case 'a': return simple('\a');
    case 'b': return simple('\b');
    case 'f': return simple('\f');
    case 'n': return simple('\n');
    case 'r': return simple('\r');
    case 't': return simple('\t');
    case 'v': return simple('\v');
    case '\\': return simple('\\');
    default: break;
  }
  if (c == quote && quote != '`') return simple(c);
  int digits;
  uint32_t base, max;
  size_t first = i;
  if (c >= '0' && c <= '7') {
    digits = 3, base = 8, max = 255;
  } else if (c == 'x') {
    digits = 2, base = 16, max = 255, first = i + 1;
  } else if (c == 'u') {
    digits = 4, base = 16, max = 0x10FFFF, first = i + 1;
  } else if (c == 'U') {
    digits = 8, base = 16, max = 0x10FFFF, first = i + 1;
  } else {
    return "unknown escape sequence " + describe_rune(rune_at(s, i));
  }
  uint32_t x = 0;
  size_t j = first;
  for (int n = 0; n < digits; ++n, ++j) {
    if (j >= s.size()) return "escape sequence not terminated";
    char d = s[j];
    uint32_t v = is_hex(d) ? static_cast<uint32_t>(hex_value(d)) : 99;
    if (v >= base) {
      if (d == quote) return "escape sequence not terminated";
      return "illegal character " + describe_rune(rune_at(s, j)) + " in escape sequence";
    }
    x = x * base + v;
  }
  if (x > max || (x >= 0xD800 && x < 0xE000)) return "escape sequence is an invalid Unicode code point";
  if (out) {
    if (c == 'x' || (c >= '0' && c <= '7'))
      *out += static_cast<char>(x);  // a raw byte, like Go
    else
      append_utf8(*out, x);
  }
  i = j;
  return {};
}

}  // namespace

bool is_keyword(token_kind k) { return k >= token_kind::kw_and; }

bool is_aggregator(token_kind k) { return k >= token_kind::kw_avg && k <= token_kind::kw_topk; }

bool is_binary_operator(token_kind k) {
  return (k >= token_kind::eqlc && k <= token_kind::pow) || (k >= token_kind::kw_and && k <= token_kind::kw_atan2);
}

std::string describe(const token& t) {
  if (t.kind == token_kind::eof) return "end of input";
  if (t.kind == token_kind::error) return t.message;
  if (const char* op = operator_text(t.kind)) return quote(op);
  std::string what;
  switch (t.kind) {
    case token_kind::identifier: what = "identifier"; break;
    case token_kind::metric_identifier: what = "metric identifier"; break;
    case token_kind::string: what = "string"; break;
    case token_kind::number: what = "number"; break;
    case token_kind::duration: what = "duration"; break;
    default:
      if (is_aggregator(t.kind))
        what = "aggregation";
      else if (is_binary_operator(t.kind))
        what = "operator";
      else
        what = "keyword";
  }
  return what + " " + quote(t.text);
}

token lexer::make(token_kind k, size_t start) {
  token t;
  t.kind = k;
  t.pos = {start, pos_};
  t.text = in_.substr(start, pos_ - start);
  return t;
}

token lexer::fail(size_t start, std::string message) {
  done_ = true;
  token t;
  t.kind = token_kind::error;
  t.pos = {start, pos_ > start ? pos_ : start + 1};
  t.text = in_.substr(start, t.pos.end - start);
  t.message = std::move(message);
  return t;
}

void lexer::skip_space_and_comments() {
  while (pos_ < in_.size()) {
    if (is_space(in_[pos_])) {
      ++pos_;
    } else if (in_[pos_] == '#') {
      while (pos_ < in_.size() && in_[pos_] != '\n' && in_[pos_] != '\r') ++pos_;
    } else {
      return;
    }
  }
}

token lexer::next() {
  if (done_) {
    token t;
    t.pos = {in_.size(), in_.size()};
    return t;
  }
  skip_space_and_comments();
  if (pos_ >= in_.size()) {
    if (brace_open_) return fail(pos_, "unexpected end of input inside braces");
    if (bracket_open_) return fail(pos_, "unexpected end of input inside brackets");
    done_ = true;
    return make(token_kind::eof, pos_);
  }
  return brace_open_ ? lex_inside_braces() : lex_statement();
}

token lexer::lex_inside_braces() {
  size_t start = pos_;
  char c = in_[pos_];
  if (is_alpha(c)) return lex_identifier(start, false);
  ++pos_;
  switch (c) {
    case ',': return make(token_kind::comma, start);
    case '"':
    case '\'': return lex_string(start, c);
    case '`': return lex_raw_string(start);
    case '=':
      if (pos_ < in_.size() && in_[pos_] == '~') {
        ++pos_;
        return make(token_kind::eql_regex, start);
      }
      return make(token_kind::eql, start);
    case '!': {
      if (pos_ < in_.size() && in_[pos_] == '~') {
        ++pos_;
        return make(token_kind::neq_regex, start);
      }
      if (pos_ < in_.size() && in_[pos_] == '=') {
        ++pos_;
        return make(token_kind::neq, start);
      }
      std::string next = pos_ < in_.size() ? quote_rune(rune_at(in_, pos_)) : "end of input";
      return fail(start, "unexpected character after '!' inside braces: " + next);
    }
    case '{': return fail(start, "unexpected left brace '{'");
    case '}': brace_open_ = false; return make(token_kind::right_brace, start);
    default: return fail(start, "unexpected character inside braces: " + quote_rune(rune_at(in_, start)));
  }
}

token lexer::lex_statement() {
  size_t start = pos_;
  char c = in_[pos_];
  if (is_digit(c) || (c == '.' && pos_ + 1 < in_.size() && is_digit(in_[pos_ + 1])))
    return lex_number_or_duration(start);
  if (is_alpha(c) || (c == ':' && !bracket_open_)) return lex_identifier(start, true);
  auto next_is = [&](char n) {
    if (pos_ < in_.size() && in_[pos_] == n) {
      ++pos_;
      return true;
    }
    return false;
  };
  ++pos_;
  switch (c) {
    case ',': return make(token_kind::comma, start);
    case '(': return make(token_kind::left_paren, start);
    case ')': return make(token_kind::right_paren, start);
    case '{': brace_open_ = true; return make(token_kind::left_brace, start);
    case '}': return fail(start, "unexpected right brace '}'");
    case '[':
      if (bracket_open_) return fail(start, "unexpected left bracket '['");
      bracket_open_ = true;
      return make(token_kind::left_bracket, start);
    case ']':
      if (!bracket_open_) return fail(start, "unexpected right bracket ']'");
      bracket_open_ = false;
      return make(token_kind::right_bracket, start);
    case ':': return make(token_kind::colon, start);
    case '@': return make(token_kind::at, start);
    case '+': return make(token_kind::add, start);
    case '-': return make(token_kind::sub, start);
    case '*': return make(token_kind::mul, start);
    case '/': return make(token_kind::div, start);
    case '%': return make(token_kind::mod, start);
    case '^': return make(token_kind::pow, start);
    case '=':
      if (next_is('=')) return make(token_kind::eqlc, start);
      if (pos_ < in_.size() && in_[pos_] == '~') return fail(start, "unexpected character after '=': '~'");
      return make(token_kind::eql, start);
    case '!':
      if (next_is('=')) return make(token_kind::neq, start);
      return fail(start, "unexpected character after '!': " +
                             (pos_ < in_.size() ? quote_rune(rune_at(in_, pos_)) : std::string("end of input")));
    case '<': return make(next_is('=') ? token_kind::lte : token_kind::lss, start);
    case '>': return make(next_is('=') ? token_kind::gte : token_kind::gtr, start);
    case '"':
    case '\'': return lex_string(start, c);
    case '`': return lex_raw_string(start);
    default: return fail(start, "unexpected character: " + quote_rune(rune_at(in_, start)));
  }
}

token lexer::lex_string(size_t start, char quote) {
  while (pos_ < in_.size()) {
    char c = in_[pos_];
    if (c == quote) {
      ++pos_;
      return make(token_kind::string, start);
    }
    if (c == '\n') break;
    if (c == '\\') {
      ++pos_;
      std::string err = scan_escape(in_, pos_, quote, nullptr);
      if (!err.empty()) return fail(start, err);
      continue;
    }
    uint32_t cp;
    size_t n = decode_utf8(in_, pos_, cp);
    if (n == 0) return fail(start, "invalid UTF-8 rune");
    pos_ += n;
  }
  return fail(start, "unterminated quoted string");
}

token lexer::lex_raw_string(size_t start) {
  while (pos_ < in_.size()) {
    if (in_[pos_] == '`') {
      ++pos_;
      return make(token_kind::string, start);
    }
    uint32_t cp;
    size_t n = decode_utf8(in_, pos_, cp);
    if (n == 0) return fail(start, "invalid UTF-8 rune");
    pos_ += n;
  }
  return fail(start, "unterminated raw string");
}

token lexer::lex_number_or_duration(size_t start) {
  // A duration is one or more <digits><unit>; try it first, since "5m"
  // starts like a number.
  size_t p = start;
  bool duration = false;
  while (p < in_.size() && is_digit(in_[p])) {
    size_t q = p;
    while (q < in_.size() && is_digit(in_[q])) ++q;
    if (q >= in_.size()) break;
    size_t unit = 0;
    if (in_[q] == 'm' && q + 1 < in_.size() && in_[q + 1] == 's')
      unit = 2;
    else if (std::string_view("smhdwy").find(in_[q]) != std::string_view::npos)
      unit = 1;
    if (unit == 0) break;
    p = q + unit;
    duration = true;
  }
  if (duration && (p >= in_.size() || !is_alnum(in_[p]))) {
    pos_ = p;
    return make(token_kind::duration, start);
  }

  p = start;
  bool hex = false;
  if (in_.substr(p, 2) == "0x" || in_.substr(p, 2) == "0X") {
    hex = true;
    p += 2;
  }
  auto run = [&](bool hexdigits) {
    while (p < in_.size() && (hexdigits ? is_hex(in_[p]) : is_digit(in_[p]))) ++p;
  };
  run(hex);
  if (!hex && p < in_.size() && in_[p] == '.') {
    ++p;
    run(false);
  }
  if (!hex && p < in_.size() && (in_[p] == 'e' || in_[p] == 'E')) {
    ++p;
    if (p < in_.size() && (in_[p] == '+' || in_[p] == '-')) ++p;
    run(false);
  }
  if (p < in_.size() && (is_alnum(in_[p]) || in_[p] == '.')) {
    while (p < in_.size() && (is_alnum(in_[p]) || in_[p] == '.')) ++p;
    pos_ = p;
    return fail(start, "bad number or duration syntax: " + quote(in_.substr(start, p - start)));
  }
  pos_ = p;
  return make(token_kind::number, start);
}

token lexer::lex_identifier(size_t start, bool allow_colon) {
  while (pos_ < in_.size() && (is_alnum(in_[pos_]) || (allow_colon && in_[pos_] == ':'))) ++pos_;
  std::string_view word = in_.substr(start, pos_ - start);
  if (!allow_colon) return make(token_kind::identifier, start);  // keywords are names inside braces
  for (const auto& kw : keywords)
    if (iequals(word, kw.word)) return make(kw.kind, start);
  if (iequals(word, "inf") || iequals(word, "nan")) return make(token_kind::number, start);
  return make(word.find(':') == std::string_view::npos ? token_kind::identifier : token_kind::metric_identifier, start);
}

result<std::string> unquote(std::string_view q) {
  if (q.size() < 2 || q.front() != q.back() || (q.front() != '"' && q.front() != '\'' && q.front() != '`'))
    return error(strata_errc::bad_request, "invalid string literal " + quote(q));
  char quote_char = q.front();
  std::string_view body = q.substr(1, q.size() - 2);
  if (quote_char == '`') return std::string(body);
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c == '\\') {
      ++i;
      std::string err = scan_escape(body, i, quote_char, &out);
      if (!err.empty()) return error(strata_errc::bad_request, err);
      continue;
    }
    if (c == quote_char || c == '\n') return error(strata_errc::bad_request, "invalid string literal " + quote(q));
    out += c;
    ++i;
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = decode_utf8(s, i, cp);
    if (n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    append_escaped(out, cp, '"');
    i += n;
  }
  out += '"';
  return out;
}

namespace {

struct unit_entry {
  std::string_view name;
  int64_t ms;
};
// Largest first: the order units must appear in.
constexpr std::array<unit_entry, 7> units{{
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

}  // namespace

result<int64_t> parse_duration(std::string_view s) {
  auto bad = [&] { return error(strata_errc::bad_request, "not a valid duration string: " + quote(s)); };
  if (s == "0") return int64_t{0};
  if (s.empty()) return bad();
  int64_t total = 0;
  size_t next_unit = 0;  // units before this one were used or skipped
  size_t i = 0;
  while (i < s.size()) {
    if (!is_digit(s[i])) return bad();
    int64_t n = 0;
    while (i < s.size() && is_digit(s[i])) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad();
      n = n * 10 + (s[i] - '0');
      ++i;
    }
    size_t len = 0;
    if (s.substr(i, 2) == "ms")
      len = 2;
    else if (i < s.size() && std::string_view("ywdhms").find(s[i]) != std::string_view::npos)
      len = 1;
    if (len == 0) return bad();
    std::string_view u = s.substr(i, len);
    i += len;
    size_t k = next_unit;
    while (k < units.size() && units[k].name != u) ++k;
    if (k == units.size()) return bad();  // out of order or repeated
    next_unit = k + 1;
    int64_t part;
    if (__builtin_mul_overflow(n, units[k].ms, &part) || __builtin_add_overflow(total, part, &total))
      return error(strata_errc::bad_request, "duration out of range: " + quote(s));
  }
  return total;
}

std::string format_duration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t left;
  if (ms < 0) {
    out = "-";
    left = 0 - static_cast<uint64_t>(ms);
  } else {
    left = static_cast<uint64_t>(ms);
  }
  for (const auto& u : units) {
    uint64_t n = left / static_cast<uint64_t>(u.ms);
    if (n == 0) continue;
    left -= n * static_cast<uint64_t>(u.ms);
    out += std::to_string(n);
    out += u.name;
  }
  return out;
}

}  // namespace strata::query
