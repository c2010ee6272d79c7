// Table 3-7 of the Unicode Standard, edge by edge.
#include "platform/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace recur {
namespace {

struct Case {
  std::string bytes;
  bool well_formed;
  const char* why;
};

TEST(Utf8, WellFormedIsExactlyTable3_7) {
  const Case cases[] = {
      {"", true, "empty"},
      {"plain ascii", true, "ASCII"},
      {std::string("\x00", 1), true, "U+0000 is well-formed (refused separately)"},
      {"\x7f", true, "U+007F"},
      {"\xc2\x80", true, "U+0080, first two-byte"},
      {"\xdf\xbf", true, "U+07FF, last two-byte"},
      {"\xe0\xa0\x80", true, "U+0800, first three-byte"},
      {"\xed\x9f\xbf", true, "U+D7FF, just below the surrogates"},
      {"\xee\x80\x80", true, "U+E000, just above the surrogates"},
      {"\xef\xbf\xbf", true, "U+FFFF"},
      {"\xf0\x90\x80\x80", true, "U+10000, first four-byte"},
      {"\xf4\x8f\xbf\xbf", true, "U+10FFFF, the last code point"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true, "mixed"},
      {"\x80", false, "a lone continuation byte"},
      {"\xbf", false, "a lone continuation byte"},
      {"\xc0\x80", false, "overlong U+0000 (C0)"},
      {"\xc1\xbf", false, "overlong U+007F (C1)"},
      {"\xe0\x80\x80", false, "overlong U+0000 in three bytes"},
      {"\xe0\x9f\xbf", false, "overlong U+07FF in three bytes"},
      {"\xed\xa0\x80", false, "U+D800, a surrogate"},
      {"\xed\xbf\xbf", false, "U+DFFF, a surrogate"},
      {"\xf0\x80\x80\x80", false, "overlong U+0000 in four bytes"},
      {"\xf0\x8f\xbf\xbf", false, "overlong U+FFFF in four bytes"},
      {"\xf4\x90\x80\x80", false, "U+110000, beyond Unicode"},
      {"\xf5\x80\x80\x80", false, "F5 never starts a sequence"},
      {"\xff", false, "FF"},
      {"\xfe\xff", false, "a byte-order mark in UTF-16 is not UTF-8"},
      {"\xc3", false, "truncated two-byte"},
      {"\xe2\x82", false, "truncated three-byte"},
      {"\xf0\x9f\x98", false, "truncated four-byte"},
      {"\xc3\x28", false, "a second byte that is not a continuation"},
      {"\xe2\x28\xa1", false, "a second byte that is not a continuation"},
      {"\xe2\x82\x28", false, "a third byte that is not a continuation"},
      {"\xf0\x9f\x98\x28", false, "a fourth byte that is not a continuation"},
      {"ok\xc0\x80ok", false, "an overlong form between ASCII"},
  };
  for (const auto& c : cases) EXPECT_EQ(is_well_formed_utf8(c.bytes), c.well_formed) << c.why;
}

TEST(Utf8, AcceptableTextRefusesNulAndIllFormedBytes) {
  EXPECT_TRUE(is_acceptable_text("cus_01HZX"));
  EXPECT_TRUE(is_acceptable_text("\xc3\xa9"));
  EXPECT_FALSE(is_acceptable_text(std::string("SKU\0junk", 8)));
  EXPECT_FALSE(is_acceptable_text(std::string("\0", 1)));
  EXPECT_FALSE(is_acceptable_text("\xff\xfe"));
}

}  // namespace
}  // namespace recur
