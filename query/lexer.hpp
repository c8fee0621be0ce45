#pragma once
// The PromQL lexer: splits a query into tokens that carry their byte range in
// the input. It knows the whole PromQL token set (operators, keywords,
// numbers, durations, strings) even though the parser accepts only series
// selectors for now, so that growing the grammar never means re-lexing.
//
// Like Prometheus's lexer it is modal: inside `{...}` only label names,
// strings, matching operators and commas exist (keywords are plain
// identifiers there); inside `[...]` a colon is a token (subqueries).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace strata::query {

// Byte offsets into the query, [start, end).
struct position_range {
  size_t start = 0;
  size_t end = 0;
};

// clang-format off
enum class token_kind : uint8_t {
  eof,
  error,  // token::message says why; lexing stops there
  identifier,         // [a-zA-Z_][a-zA-Z0-9_]*
  metric_identifier,  // an identifier that contains ':'
  string,             // "...", '...' or `...`, quotes included in text
  number,             // 1, 1.5e3, 0x1f, Inf, NaN
  duration,           // 5m, 1h30m, 100ms

  left_paren, right_paren, left_brace, right_brace, left_bracket, right_bracket,
  comma, colon, at,

  // Label matching operators; `eql` is a single '='.
  eql, neq, eql_regex, neq_regex,
  // Binary comparison and arithmetic operators; `eqlc` is '=='.
  eqlc, lss, lte, gtr, gte, add, sub, mul, div, mod, pow,

  // Keywords (case-insensitive in PromQL).
  kw_and, kw_or, kw_unless, kw_atan2,
  kw_avg, kw_bottomk, kw_count, kw_count_values, kw_group, kw_limitk, kw_limit_ratio, kw_max, kw_min,
  kw_quantile, kw_stddev, kw_stdvar, kw_sum, kw_topk,
  kw_offset, kw_by, kw_without, kw_on, kw_ignoring, kw_group_left, kw_group_right, kw_bool,
  kw_start, kw_end,
};
// clang-format on

struct token {
  token_kind kind = token_kind::eof;
  position_range pos;
  std::string_view text;  // the source bytes; for error tokens, see message
  std::string message;    // error tokens only
};

bool is_keyword(token_kind k);
bool is_aggregator(token_kind k);
// Arithmetic, comparison and set operators that join two expressions.
bool is_binary_operator(token_kind k);

// How a token is named in error messages, following Prometheus: `"}"`,
// `identifier "foo"`, `string "\"a\""`, `end of input`.
std::string describe(const token& t);

class lexer {
 public:
  explicit lexer(std::string_view input) : in_(input) {}

  // The next token. After an error or eof token, returns eof forever.
  token next();

 private:
  token make(token_kind k, size_t start);
  token fail(size_t start, std::string message);
  token lex_statement();
  token lex_inside_braces();
  token lex_string(size_t start, char quote);
  token lex_raw_string(size_t start);
  token lex_number_or_duration(size_t start);
  token lex_identifier(size_t start, bool allow_colon);
  void skip_space_and_comments();

  std::string_view in_;
  size_t pos_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool done_ = false;
};

// Decodes the text of a string token (quotes included). Double- and
// single-quoted strings take Go escapes (\n, \t, \\, \", \', \x41, \101,
// \u00e9, \U0001F600); backtick strings are raw.
result<std::string> unquote(std::string_view quoted);

// Quotes a string the way Go's strconv.Quote does (used in messages and to
// print expressions back).
std::string quote(std::string_view s);

// Parses a Prometheus duration: one or more <digits><unit> with units
// y w d h m s ms, each at most once and from the largest down, or "0".
// Fails with `not a valid duration string: "..."`.
result<int64_t> parse_duration(std::string_view s);
// The inverse: 5400000 -> "1h30m", 0 -> "0s"; negative values get '-'.
std::string format_duration(int64_t ms);

}  // namespace strata::query
