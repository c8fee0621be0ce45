#include "wire/utf8.hpp"
#include "common/utf8.hpp"

#include <gtest/gtest.h>

namespace strata::wire {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("k\xc3\xbc\x63he"));            // U+00FC
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));               // U+20AC
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));           // U+1F600
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));           // U+10FFFF
  EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
}

TEST(Utf8, RejectsMalformedText) {
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc3("));             // bad continuation
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(valid_utf8("\xf0\x82\x82\xac"));  // overlong
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("ok\xe2\x82"));  // truncated at the end
}

TEST(Utf8, QuoteEscapesWhatIsNotPrintable) {
  EXPECT_EQ(quote_for_message("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quote_for_message("x\xffy"), "\"x\\xffy\"");
  EXPECT_EQ(quote_for_message("k\xc3\xbc"), "\"k\xc3\xbc\"");
  EXPECT_EQ(quote_for_message(std::string(10, 'a'), 4), "\"aaaa...\"");
}

}  // namespace
}  // namespace strata::wire
