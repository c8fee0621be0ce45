#include "query/lexer.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace strata::query {
namespace {

std::vector<token> lex_all(std::string_view q) {
  lexer l(q);
  std::vector<token> out;
  for (;;) {
    out.push_back(l.next());
    if (out.back().kind == token_kind::eof || out.back().kind == token_kind::error) return out;
  }
}

std::vector<token_kind> kinds(std::string_view q) {
  std::vector<token_kind> out;
  for (const auto& t : lex_all(q)) out.push_back(t.kind);
  return out;
}

TEST(Lexer, SelectorTokensCarryTheirPositions) {
  auto toks = lex_all("up{job=\"a\"}[5m]");
  ASSERT_EQ(toks.size(), 10u);
  EXPECT_EQ(toks[0].kind, token_kind::identifier);
  EXPECT_EQ(toks[0].text, "up");
  EXPECT_EQ(toks[1].kind, token_kind::left_brace);
  EXPECT_EQ(toks[2].kind, token_kind::identifier);
  EXPECT_EQ(toks[3].kind, token_kind::eql);
  EXPECT_EQ(toks[4].kind, token_kind::string);
  EXPECT_EQ(toks[4].text, "\"a\"");
  EXPECT_EQ(toks[4].pos.start, 7u);
  EXPECT_EQ(toks[4].pos.end, 10u);
  EXPECT_EQ(toks[5].kind, token_kind::right_brace);
  EXPECT_EQ(toks[6].kind, token_kind::left_bracket);
  EXPECT_EQ(toks[7].kind, token_kind::duration);
  EXPECT_EQ(toks[7].text, "5m");
  EXPECT_EQ(toks[8].kind, token_kind::right_bracket);
  EXPECT_EQ(toks[9].kind, token_kind::eof);
}

TEST(Lexer, KeywordsAreNamesInsideBraces) {
  auto toks = lex_all("sum{by=\"x\"} offset 1m");
  EXPECT_EQ(toks[0].kind, token_kind::kw_sum);
  EXPECT_EQ(toks[2].kind, token_kind::identifier);
  EXPECT_EQ(toks[6].kind, token_kind::kw_offset);
  EXPECT_EQ(toks[7].kind, token_kind::duration);
}

TEST(Lexer, MetricIdentifiersMayContainColons) {
  auto toks = lex_all("job:rate5m:sum");
  EXPECT_EQ(toks[0].kind, token_kind::metric_identifier);
  EXPECT_EQ(toks[0].text, "job:rate5m:sum");
}

TEST(Lexer, OperatorsAndNumbers) {
  EXPECT_EQ(kinds("1 + 2.5e3 == 0x1F != Inf"),
            (std::vector<token_kind>{token_kind::number, token_kind::add, token_kind::number, token_kind::eqlc,
                                     token_kind::number, token_kind::neq, token_kind::number, token_kind::eof}));
  EXPECT_EQ(
      kinds("a <= b >= c < d > e ^ f % g / h * i - j"),
      (std::vector<token_kind>{token_kind::identifier, token_kind::lte, token_kind::identifier, token_kind::gte,
                               token_kind::identifier, token_kind::lss, token_kind::identifier, token_kind::gtr,
                               token_kind::identifier, token_kind::pow, token_kind::identifier, token_kind::mod,
                               token_kind::identifier, token_kind::div, token_kind::identifier, token_kind::mul,
                               token_kind::identifier, token_kind::sub, token_kind::identifier, token_kind::eof}));
}

TEST(Lexer, ColonIsATokenInsideBrackets) {
  EXPECT_EQ(kinds("x[5m:1m]"), (std::vector<token_kind>{token_kind::identifier, token_kind::left_bracket,
                                                        token_kind::duration, token_kind::colon, token_kind::duration,
                                                        token_kind::right_bracket, token_kind::eof}));
}

TEST(Lexer, CommentsAreSkipped) {
  EXPECT_EQ(kinds("up # the up metric\n{a=\"b\" # inside\n}"),
            (std::vector<token_kind>{token_kind::identifier, token_kind::left_brace, token_kind::identifier,
                                     token_kind::eql, token_kind::string, token_kind::right_brace, token_kind::eof}));
}

TEST(Lexer, BadNumberOrDuration) {
  auto toks = lex_all("x[5mx]");
  EXPECT_EQ(toks.back().kind, token_kind::error);
  EXPECT_EQ(toks.back().message, "bad number or duration syntax: \"5mx\"");
}

TEST(Lexer, UnterminatedString) {
  auto toks = lex_all("{a=\"b}");
  EXPECT_EQ(toks.back().kind, token_kind::error);
  EXPECT_EQ(toks.back().message, "unterminated quoted string");
  EXPECT_EQ(toks.back().pos.start, 3u);
}

TEST(Lexer, UnknownEscapeIsAnError) {
  auto toks = lex_all("{a=\"\\q\"}");
  EXPECT_EQ(toks.back().kind, token_kind::error);
  EXPECT_EQ(toks.back().message, "unknown escape sequence U+0071 'q'");
}

TEST(Lexer, InvalidUtf8InStringIsAnError) {
  auto toks = lex_all("{a=\"\xff\"}");
  EXPECT_EQ(toks.back().kind, token_kind::error);
  EXPECT_EQ(toks.back().message, "invalid UTF-8 rune");
}

TEST(Unquote, GoEscapes) {
  EXPECT_EQ(*unquote(R"("a\nb\t\\\"")"), "a\nb\t\\\"");
  EXPECT_EQ(*unquote(R"('it\'s')"), "it's");
  EXPECT_EQ(*unquote(R"("\x41\101\u00e9\U0001F600")"), "AA\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(*unquote(R"(`raw\n`)"), "raw\\n");
  EXPECT_FALSE(unquote(R"("\'")").is_ok());  // \' only in single quotes, like Go
  EXPECT_FALSE(unquote(R"('\"')").is_ok());
  EXPECT_FALSE(unquote(R"("\ud800")").is_ok());
  EXPECT_FALSE(unquote(R"("\x4")").is_ok());
}

TEST(Quote, EscapesLikeGo) {
  EXPECT_EQ(quote("a\"b\\c\n"), R"("a\"b\\c\n")");
  EXPECT_EQ(quote(std::string("\x01", 1)), R"("\x01")");
  EXPECT_EQ(quote("\xc3\xa9"), "\"\xc3\xa9\"");
}

TEST(Duration, ParsesUnitCombinations) {
  EXPECT_EQ(*parse_duration("5m"), 300000);
  EXPECT_EQ(*parse_duration("1h30m"), 5400000);
  EXPECT_EQ(*parse_duration("100ms"), 100);
  EXPECT_EQ(*parse_duration("1y2w3d4h5m6s7ms"), ((((365LL + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7);
  EXPECT_EQ(*parse_duration("0"), 0);
}

TEST(Duration, RejectsBadOrderRepeatsAndJunk) {
  for (const char* bad : {"", "5", "m", "1m1h", "1m1m", "1.5h", "5M", "-5m", "1h 30m"}) {
    auto d = parse_duration(bad);
    EXPECT_FALSE(d.is_ok()) << bad;
  }
  EXPECT_EQ(parse_duration("1m1h").error().message(), "not a valid duration string: \"1m1h\"");
  EXPECT_FALSE(parse_duration("99999999999999999y").is_ok());
}

TEST(Duration, FormatsGreedily) {
  EXPECT_EQ(format_duration(5400000), "1h30m");
  EXPECT_EQ(format_duration(7LL * 24 * 3600 * 1000), "1w");
  EXPECT_EQ(format_duration(1500), "1s500ms");
  EXPECT_EQ(format_duration(-300000), "-5m");
  EXPECT_EQ(format_duration(0), "0s");
}

}  // namespace
}  // namespace strata::query
