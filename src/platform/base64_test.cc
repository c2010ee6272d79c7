// Base64: RFC 4648's test vectors (section 10), both alphabets, and decoding.
#include "platform/base64.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [raw, encoded] : vectors) {
    EXPECT_EQ(base64(raw), encoded);
    EXPECT_EQ(base64_decode(encoded), raw);
  }
}

TEST(Base64, UrlSafeHasNoPaddingAndNoPlusOrSlash) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64(bytes), "+/+/");
  EXPECT_EQ(base64url(bytes), "-_-_");
  EXPECT_EQ(base64url("f"), "Zg");
}

TEST(Base64, DecodingRefusesWhatIsNotBase64AndSkipsWhatItIsTold) {
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
  EXPECT_FALSE(base64_decode("Zm9v\r\nYmFy").has_value());
  EXPECT_EQ(base64_decode("Zm9v\r\nYmFy", "\r\n"), "foobar");
}

}  // namespace
}  // namespace recur
