#include "app/modules.h"

#include <gtest/gtest.h>

namespace recur::app {
namespace {

TEST(Modules, AllOrACommaListOfKnownParts) {
  struct Case {
    std::string in;
    std::string parts;  // describe() of the result
  } cases[] = {
      {"all", "api,billing-worker,delivery-worker,scheduler"},
      {"api", "api"},
      {"billing-worker", "billing-worker"},
      {"delivery-worker,api", "api,delivery-worker"},
      {"scheduler,billing-worker,billing-worker", "billing-worker,scheduler"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_modules(c.in);
    ASSERT_TRUE(parsed.ok()) << c.in;
    EXPECT_EQ(describe(*parsed), c.parts) << c.in;
  }
}

TEST(Modules, UnknownOrEmptyNamesAreRefused) {
  for (const char* bad : {"", "billing", "api,", ",api", "api,,scheduler", "API", "all,api"}) {
    auto parsed = parse_modules(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, "invalid_modules") << bad;
  }
}

}  // namespace
}  // namespace recur::app
