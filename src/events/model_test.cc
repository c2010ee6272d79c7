// The API's event object: data.object and previous_attributes from before/after.
#include "events/model.h"

#include <gtest/gtest.h>

namespace recur::events {
namespace {

TEST(PreviousAttributes, HoldTheOldValueOfEachTopLevelFieldThatChanged) {
  struct Case {
    const char* name;
    Json before, after, expected;
  };
  const Case cases[] = {
      {"a created resource", nullptr, {{"id", "sub_1"}}, nullptr},
      {"a deleted resource", {{"id", "sub_1"}}, nullptr, nullptr},
      {"nothing changed", {{"a", 1}}, {{"a", 1}}, Json::object()},
      {"one field changed", {{"a", 1}, {"b", "x"}}, {{"a", 2}, {"b", "x"}}, {{"a", 1}}},
      {"a nested object changed: the whole old object", {{"p", {{"s", 1}, {"e", 2}}}}, {{"p", {{"s", 1}, {"e", 3}}}},
       {{"p", {{"s", 1}, {"e", 2}}}}},
      {"a field that appeared: null before", {{"a", 1}}, {{"a", 1}, {"b", true}}, {{"b", nullptr}}},
      {"a field that went away: its old value", {{"a", 1}, {"b", true}}, {{"a", 1}}, {{"b", true}}},
      {"null to a value", {{"a", nullptr}}, {{"a", 5}}, {{"a", nullptr}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(previous_attributes(c.before, c.after), c.expected);
  }
}

TEST(EventJson, CarriesTheResourceAfterTheChangeOrBeforeADeletion) {
  Event updated{"evt_1", "subscription.paused", "subscription", "sub_1", Actor{"api_key", "key_1", "admin"}, 0,
                {{"status", "active"}, {"version", 1}}, {{"status", "paused"}, {"version", 2}}, {{"resumes_at", nullptr}}};
  Json j = to_json(updated);
  EXPECT_EQ(j["object"], "event");
  EXPECT_EQ(j["created"], "1970-01-01T00:00:00Z");
  EXPECT_EQ(j["resource"], (Json{{"type", "subscription"}, {"id", "sub_1"}}));
  EXPECT_EQ(j["data"]["object"]["status"], "paused");
  EXPECT_EQ(j["data"]["previous_attributes"], (Json{{"status", "active"}, {"version", 1}}));
  EXPECT_EQ(j["details"], (Json{{"resumes_at", nullptr}}));
  EXPECT_FALSE(j.contains("before") || j.contains("after"));
  Event deleted{"evt_2", "subscription.deleted", "subscription", "sub_1", Actor::system(), 0, {{"id", "sub_1"}},
                nullptr, nullptr};
  Json d = to_json(deleted);
  EXPECT_EQ(d["data"]["object"]["id"], "sub_1");
  EXPECT_TRUE(d["data"]["previous_attributes"].is_null());
  EXPECT_EQ(d["details"], Json::object());
}

}  // namespace
}  // namespace recur::events
