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
