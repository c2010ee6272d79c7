// page_request and the comma lists of enum_list and expand[]: what a query string may hold.
#include "platform/http/rest.h"

#include <gtest/gtest.h>

namespace recur::http {
namespace {

Request with_query(std::initializer_list<std::pair<const std::string, std::string>> query) {
  Request r;
  r.method = "GET";
  r.path = "/v1/things";
  r.query = std::multimap<std::string, std::string>(query);
  return r;
}

TEST(PageRequest, ReadsLimitAndCursorAndRefusesWhatIsNotAllowed) {
  struct Case {
    const char* name;
    Request request;
    const char* field;  // "" when accepted
    const char* code;
  };
  const std::vector<Case> cases = {
      {"defaults", with_query({}), "", ""},
      {"limit and cursor", with_query({{"limit", "3"}, {"starting_after", "sub_1"}}), "", ""},
      {"an allowed filter", with_query({{"status", "open"}}), "", ""},
      {"limit out of range", with_query({{"limit", "101"}}), "limit", "out_of_range"},
      {"limit not a number", with_query({{"limit", "3x"}}), "limit", "out_of_range"},
      {"empty cursor", with_query({{"starting_after", ""}}), "starting_after", "invalid_value"},
      {"unknown parameter", with_query({{"stauts", "open"}}), "stauts", "unknown_parameter"},
      {"a filter twice", with_query({{"status", "open"}, {"status", "paid"}}), "status", "repeated_parameter"},
      {"the same value twice", with_query({{"limit", "2"}, {"limit", "2"}}), "limit", "repeated_parameter"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto page = page_request(c.request, {"status"});
    if (!*c.field) {
      ASSERT_TRUE(page.ok()) << page.error().message;
      continue;
    }
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.error().kind, ErrorKind::kInvalid);
    ASSERT_EQ(page.error().fields.size(), 1u);  // one error per parameter, even when repeated
    EXPECT_EQ(page.error().fields[0].field, c.field);
    EXPECT_EQ(page.error().fields[0].code, c.code);
  }
  auto read = page_request(with_query({{"limit", "3"}, {"starting_after", "sub_1"}}));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->limit, 3);
  EXPECT_EQ(read->starting_after, "sub_1");
  EXPECT_EQ(page_request(with_query({})).value().limit, 10);
}

TEST(BooleanParam, TakesTrueOrFalseOrNothingAndRefusesAnythingElseNamingBoth) {
  EXPECT_EQ(boolean_param(with_query({}), "paid").value(), std::nullopt);
  EXPECT_EQ(boolean_param(with_query({{"paid", "true"}}), "paid").value(), std::optional<bool>(true));
  EXPECT_EQ(boolean_param(with_query({{"paid", "false"}}), "paid").value(), std::optional<bool>(false));
  for (const char* wrong : {"1", "TRUE", "yes", ""}) {
    SCOPED_TRACE(wrong);
    auto refused = boolean_param(with_query({{"paid", wrong}}), "paid");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(refused.error().code, "validation_failed");
    ASSERT_EQ(refused.error().fields.size(), 1u);
    EXPECT_EQ(refused.error().fields[0].field, "paid");
    EXPECT_EQ(refused.error().fields[0].code, "invalid_value");
    EXPECT_EQ(refused.error().fields[0].message, "paid takes true or false");
  }
}

TEST(AddListedValues, AddsEachAllowedValueOnceInOrderAndStopsAtTheFirstOther) {
  const std::vector<std::string_view> allowed = {"open", "paid", "void"};
  std::vector<std::string> values;
  EXPECT_EQ(add_listed_values("paid,open,paid", allowed, values), std::nullopt);
  EXPECT_EQ(values, (std::vector<std::string>{"paid", "open"}));
  // A second list (expand[] given twice) adds to the first, still without repeats.
  EXPECT_EQ(add_listed_values("void,open", allowed, values), std::nullopt);
  EXPECT_EQ(values, (std::vector<std::string>{"paid", "open", "void"}));

  std::vector<std::string> partial;
  EXPECT_EQ(add_listed_values("open,bogus,paid", allowed, partial), "bogus");
  EXPECT_EQ(partial, (std::vector<std::string>{"open"}));
  std::vector<std::string> none;
  EXPECT_EQ(add_listed_values("open,", allowed, none), "") << "an empty value is not allowed either";
  EXPECT_EQ(allowed_values_text(allowed), "open, paid, void");
  EXPECT_EQ(allowed_values_text({}), "");
}

TEST(EnumList, ListsTheAllowedValuesWhenOneIsNot) {
  auto none = enum_list(with_query({}), "status", {"open", "paid"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto read = enum_list(with_query({{"status", "paid,open,paid"}}), "status", {"open", "paid"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, (std::vector<std::string>{"paid", "open"}));
  auto refused = enum_list(with_query({{"status", "open,bogus"}}), "status", {"open", "paid"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "'bogus' is not a valid status; status takes one or more of open, paid, comma-separated");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].field, "status");
  EXPECT_EQ(refused.error().fields[0].code, "invalid_value");
  EXPECT_EQ(refused.error().fields[0].message, "status takes one or more of open, paid, comma-separated");
}

}  // namespace
}  // namespace recur::http
