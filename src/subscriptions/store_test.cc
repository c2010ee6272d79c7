// The store's pure helpers: reading one field of a stored document without building it.
#include "subscriptions/store.h"

#include <gtest/gtest.h>

namespace recur::subscriptions {
namespace {

TEST(StoredQuantityTest, ReadsTheTopLevelQuantityAndNoNestedOne) {
  // Keys are stored in order: a pending change's own quantity comes before the subscription's.
  EXPECT_EQ(stored_quantity(R"({"add_ons":[{"quantity":9}],"pending_plan_change":{"plan":"p","quantity":5},)"
                            R"("plan":"q","quantity":2,"status":"active"})"),
            2);
  EXPECT_EQ(stored_quantity(R"({"metadata":{"quantity":4},"quantity":3})"), 3);
  EXPECT_EQ(stored_quantity(R"({"quantity":12})"), 12);
}

TEST(StoredQuantityTest, IsOneWhenTheDocumentHasNoneOrIsNotJson) {
  EXPECT_EQ(stored_quantity(R"({"plan":"p","pending_plan_change":{"quantity":5}})"), 1);
  EXPECT_EQ(stored_quantity("not json"), 1);
  EXPECT_EQ(stored_quantity(R"({"quantity":)"), 1);
  EXPECT_EQ(stored_quantity(""), 1);
}

}  // namespace
}  // namespace recur::subscriptions
