// FieldReader: every problem reported at once, unknown fields refused, types enforced.
#include "platform/json.h"

#include <gtest/gtest.h>

namespace recur {
namespace {

std::vector<std::string> fields_of(const Status& s) {
  std::vector<std::string> out;
  for (const auto& f : s.error().fields) out.push_back(f.field + ":" + f.code);
  return out;
}

TEST(FieldReader, ReportsEveryInvalidFieldAndUnknownOnes) {
  Json body = Json::parse(R"({"name": 5, "quantity": 0, "currency": "xyz", "extra": true})");
  FieldReader f(body);
  f.text("name", true);
  f.integer("quantity", true, 1, 10);
  f.currency("currency", true);
  f.email("email", true);
  auto st = f.finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "validation_failed");
  EXPECT_EQ(fields_of(st), (std::vector<std::string>{"name:invalid_type", "quantity:out_of_range",
                                                     "currency:invalid_currency", "email:required",
                                                     "extra:unknown_field"}));
}

TEST(FieldReader, NestedReadersPrefixTheirFields) {
  Json body = Json::parse(R"({"address": {"city": 1}})");
  FieldReader f(body);
  const Json* address = f.object("address", true);
  ASSERT_NE(address, nullptr);
  FieldReader nested(*address, "address");
  nested.text("city", true);
  nested.text("line1", true);
  f.absorb(nested);
  auto st = f.finish();
  EXPECT_EQ(fields_of(st), (std::vector<std::string>{"address.city:invalid_type", "address.line1:required"}));
}

TEST(FieldReader, AcceptsValidInputAndNormalisesCurrency) {
  Json body = Json::parse(R"({"currency": "EUR", "at": "2026-01-31T00:00:00Z", "on": true, "metadata": {"a": "b"}})");
  FieldReader f(body);
  EXPECT_EQ(f.currency("currency", true), "eur");
  EXPECT_EQ(f.timestamp("at", true), parse_rfc3339("2026-01-31T00:00:00Z"));
  EXPECT_EQ(f.boolean("on", true), true);
  EXPECT_TRUE(f.metadata("metadata").has_value());
  EXPECT_TRUE(f.finish().ok());
}

TEST(FieldReader, RefusesHugeIntegersAndNonStringMetadata) {
  Json body = Json::parse(R"({"n": 18446744073709551615, "metadata": {"a": 1}})");
  FieldReader f(body);
  EXPECT_FALSE(f.integer("n", true, 0, 100).has_value());
  EXPECT_FALSE(f.metadata("metadata").has_value());
  EXPECT_EQ(f.finish().error().fields.size(), 2u);
}

TEST(FieldReader, ACountThatMayBeNoneIsNullNeverZero) {
  Json body = Json::parse(R"({"none": null, "zero": 0, "seven": 7, "big": 61, "text": "3"})");
  FieldReader f(body);
  EXPECT_EQ(f.count_or_null("none", 60, "no reminder"), 0);  // null: none, read as 0 inside
  EXPECT_EQ(f.count_or_null("zero", 60, "no reminder"), std::nullopt);
  EXPECT_EQ(f.count_or_null("seven", 60, "no reminder"), 7);
  EXPECT_EQ(f.count_or_null("big", 60, "no reminder"), std::nullopt);
  EXPECT_EQ(f.count_or_null("text", 60, "no reminder"), std::nullopt);
  EXPECT_EQ(f.count_or_null("absent", 60, "no reminder"), std::nullopt);
  auto st = f.finish();
  EXPECT_EQ(fields_of(st),
            (std::vector<std::string>{"zero:out_of_range", "big:out_of_range", "text:invalid_type"}));
  EXPECT_EQ(st.error().fields[0].message, "zero must be between 1 and 60, or null for no reminder");
}

TEST(ParseJsonObject, EmptyBodyIsAnEmptyObjectArraysAndGarbageAreNot) {
  EXPECT_TRUE(parse_json_object("  ")->empty());
  EXPECT_EQ(parse_json_object("[1]").error().code, "invalid_json");
  EXPECT_EQ(parse_json_object("{\"a\":").error().code, "invalid_json");
}

// Deeper bodies are refused before they are parsed: walking them recursed once per level
// (a 200 KB body of brackets overflowed the stack).
TEST(ParseJsonObject, RefusesNestingDeeperThanTheLimit) {
  auto nested = [](int depth, char open, char close) {
    return "{\"a\":" + std::string(depth - 1, open) + std::string(depth - 1, close) + "}";
  };
  EXPECT_TRUE(parse_json_object(nested(kMaxJsonDepth, '[', ']')).ok());
  EXPECT_EQ(parse_json_object(nested(kMaxJsonDepth + 1, '[', ']')).error().code, "invalid_json");
  EXPECT_EQ(parse_json_object(nested(100000, '[', ']')).error().code, "invalid_json");
  std::string objects = "{";
  for (int i = 1; i <= kMaxJsonDepth; ++i) objects += "\"k\":{";
  objects += std::string(kMaxJsonDepth + 1, '}');
  EXPECT_EQ(parse_json_object(objects).error().code, "invalid_json");
  // Brackets inside strings, escaped quotes included, are text.
  std::string text = "{\"a\":\"\\\"" + std::string(1000, '[') + "\"}";
  EXPECT_TRUE(parse_json_object(text).ok());
}

TEST(IfMatch, AcceptsStrongWeakAndBareVersions) {
  EXPECT_EQ(parse_if_match("\"3\""), 3);
  EXPECT_EQ(parse_if_match("W/\"4\""), 4);
  EXPECT_EQ(parse_if_match("5"), 5);
  EXPECT_FALSE(parse_if_match("\"abc\"").has_value());
  EXPECT_FALSE(parse_if_match("0").has_value());
}

TEST(TimeInput, BodiesAndQueriesShareOneRuleBefore3000) {
  struct Case {
    const char* text;
    const char* code;  // "" when accepted
  } cases[] = {
      {"2026-01-31T00:00:00Z", ""},
      {"2026-01-31", ""},
      {"2999-12-31T23:59:59Z", ""},
      {"3000-01-01T00:00:00Z", "out_of_range"},
      {"3000-01-01", "out_of_range"},
      {"9999-01-01", "out_of_range"},
      {"2999-12-31T23:00:00-01:00", "out_of_range"},  // 3000-01-01T00:00:00Z
      {"junk", "invalid_timestamp"},
      {"", "invalid_timestamp"},
  };
  for (const auto& c : cases) {
    auto t = parse_time_input("date", c.text);
    EXPECT_EQ(t.ok() ? std::string() : t.error().fields.at(0).code, c.code) << c.text;
    // A body field gets the same answer.
    Json body = {{"at", c.text}};
    FieldReader f(body);
    auto read = f.timestamp("at", true);
    auto errors = f.take_errors();
    EXPECT_EQ(errors.empty() ? std::string() : errors.at(0).code, c.code) << c.text;
    EXPECT_EQ(read.has_value(), t.ok()) << c.text;
  }
}

}  // namespace
}  // namespace recur
