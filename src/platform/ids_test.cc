// Ids: prefixed, fixed length, and sortable by creation time even within one second.
#include "platform/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace recur {
namespace {

TEST(IdGenerator, IdsAreOrderedByCreationWithinAndAcrossSeconds) {
  SimulatedClock clock(1'800'000'000);
  IdGenerator ids(clock);
  std::string previous = ids.next("sub");
  EXPECT_EQ(previous.rfind("sub_", 0), 0u);
  EXPECT_EQ(previous.size(), 4u + 26u);
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 == 0) clock.advance(1);
    std::string id = ids.next("sub");
    EXPECT_LT(previous, id);
    previous = id;
  }
}

TEST(IdGenerator, IdsAreUnique) {
  SimulatedClock clock(1'800'000'000);
  IdGenerator ids(clock);
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(seen.insert(ids.next("cus")).second);
}

TEST(RandomToken, IsUrlSafeAndLongEnough) {
  std::string token = random_token(24);
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  EXPECT_NE(token, random_token(24));
}

}  // namespace
}  // namespace recur

namespace recur {
namespace {

TEST(NoObjectMessage, SaysWhenTheIdIsAnotherKindsAndWhatWasWanted) {
  struct Case {
    const char* noun;
    const char* prefix;
    const char* id;
    const char* expected;
  };
  const Case cases[] = {
      {"customer", "cus", "cus_1", "no customer with id 'cus_1'"},
      {"customer", "cus", "plan_1", "no customer with id 'plan_1': that is a plan's id; a customer's id starts with cus_"},
      {"invoice", "in", "sub_1",
       "no invoice with id 'sub_1': that is a subscription's id; an invoice's id starts with in_"},
      {"plan", "plan", "INV-000001", "no plan with id 'INV-000001'"},  // no prefix: nothing to say
      {"product", "prod", "zzz_1", "no product with id 'zzz_1'"},      // an unknown prefix
      {"customer", "cus", "", "no customer with id ''"},
      {"invoice", "in", "key_1", "no invoice with id 'key_1': that is an API key's id; an invoice's id starts with in_"},
  };
  for (const auto& c : cases) EXPECT_EQ(no_object_message(c.noun, c.prefix, c.id), c.expected) << c.id;
}

}  // namespace
}  // namespace recur
