// The E.164 rule that customers' phones and SMS recipients are held to.
#include "platform/phone.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

TEST(Phone, E164IsAPlusThenEightToFifteenDigitsNotStartingWithZero) {
  const std::pair<const char*, bool> cases[] = {
      {"+14155550123", true},
      {"+442071838750", true},
      {"+12345678", true},            // 8 digits
      {"+123456789012345", true},     // 15 digits
      {"+1234567", false},            // 7 digits
      {"+1234567890123456", false},   // 16 digits
      {"14155550123", false},         // no plus
      {"0014155550123", false},       // an international prefix instead of the plus
      {"+04155550123", false},        // no country code starts with 0
      {"+1415555012a", false},
      {"+1 415 555 0123", false},     // no grouping
      {"+1-415-555-0123", false},
      {"+1(415)5550123", false},
      {"++14155550123", false},
      {"+14155550123 ", false},       // no blanks around
      {"+", false},
      {"", false},
      {"+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7\xd9\xa8", false},  // Arabic-Indic digits
  };
  for (const auto& [phone, valid] : cases) EXPECT_EQ(is_e164(phone), valid) << phone;
}

}  // namespace
}  // namespace recur
