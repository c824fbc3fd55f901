// ValidUtf8: what reaches sd-bus as an error text is always valid UTF-8.
#include "common/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace corral {
namespace {

TEST(Utf8, ValidTextIsUnchanged) {
  for (const char* text : {"", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x90\x84 corral"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(ValidUtf8(text), text);
  }
}

TEST(Utf8, OffendingBytesAreEscaped) {
  // One byte of a two-byte character: what "invalid container name: it contains '\xc3'" quoted.
  EXPECT_FALSE(IsValidUtf8("it contains '\xc3'"));
  EXPECT_EQ(ValidUtf8("it contains '\xc3'"), "it contains '\\xc3'");
  EXPECT_EQ(ValidUtf8("\xa9x"), "\\xa9x");                 // a lone continuation byte
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\\xc0\\xaf");          // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  EXPECT_EQ(ValidUtf8("\xe2\x82"), "\\xe2\\x82");          // cut short
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), "a\\x00b");
  for (int byte = 0; byte < 256; ++byte) {
    std::string text(1, static_cast<char>(byte));
    EXPECT_TRUE(IsValidUtf8(ValidUtf8(text))) << byte;
  }
}

}  // namespace
}  // namespace corral
