// The portal's pages from the API's JSON: every value escaped, every form a POST with its
// CSRF field, the boxes and their actions shown as the subscription allows.
#include "portal/pages.h"

#include <gtest/gtest.h>

namespace recur::portal {
namespace {

int occurrences(const std::string& text, const std::string& part) {
  int n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(Escape, EveryCharacterThatEndsTextOrAnAttribute) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {{"Ada", "Ada"},
               {"<img src=x>", "&lt;img src=x&gt;"},
               {"a\"b'c", "a&quot;b&#39;c"},
               {"Tom & Jerry", "Tom &amp; Jerry"},
               {"", ""}};
  for (const auto& c : cases) EXPECT_EQ(escape(c.in), c.want) << c.in;
}

TEST(Pages, AHostileNameIsShownAsText) {
  Json customer{{"id", "cus_1"}, {"name", "<script>alert(1)</script>"}};
  auto page = home_page(customer, Json::array(), Json::array(), Json::object(), "t");
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
}

Json subscription(const std::string& status) {
  return Json{{"id", "sub_1"}, {"status", status}, {"plan", "plan_1"}, {"cancel_at_period_end", false},
              {"delivery", nullptr}, {"version", 3}};
}
Json plan() {
  return Json{{"id", "plan_1"}, {"name", "Coffee"}, {"interval", "month"}, {"interval_count", 1},
              {"items", Json::array({{{"product", "prod_1"}, {"quantity", 2}}})}};
}
Json box(const std::string& start, bool skipped, bool open) {
  Json b{{"period", {{"start", start}, {"end", "2026-05-01T00:00:00Z"}}}, {"skipped", skipped}, {"selection", nullptr}};
  if (open)
    b["selection"] = {{"open", true}, {"cutoff_at", "2026-03-28T00:00:00Z"}, {"chosen", false},
                      {"items", Json::array({{{"product", "prod_2"}, {"quantity", 1}}})}, {"options", Json::array()}};
  return b;
}

TEST(Pages, EveryFormOfTheSubscriptionPagePostsItsCsrfToken) {
  Json boxes = Json::array({box("2026-04-01T00:00:00Z", false, true), box("2026-05-01T00:00:00Z", true, false)});
  auto page = subscription_page(subscription("active"), plan(), boxes, Json::array(), "tok123");
  const int forms = occurrences(page, "<form ");
  EXPECT_GE(forms, 5);  // skip, pause, next date, frequency, add-on
  EXPECT_EQ(occurrences(page, "method=\"post\""), forms);
  EXPECT_EQ(occurrences(page, "name=\"csrf\" value=\"tok123\""), forms);
  // The next delivery is the first box not skipped; a skipped box offers no skip.
  EXPECT_NE(page.find("<dd id=\"next-date\">2026-04-01</dd>"), std::string::npos);
  EXPECT_EQ(occurrences(page, "class=\"skip\""), 1);
  EXPECT_NE(page.find("class=\"box skipped\""), std::string::npos);
  // A box whose choice is open links to its choice; its contents are the choice's.
  EXPECT_NE(page.find("href=\"/portal/subscriptions/sub_1/boxes/2026-04-01T00:00:00Z\""), std::string::npos);
  EXPECT_NE(page.find("data-product=\"prod_2\" data-quantity=\"1\""), std::string::npos);
  EXPECT_NE(page.find("id=\"cancel\""), std::string::npos);
}

TEST(Pages, ACanceledSubscriptionOffersNoChange) {
  auto page = subscription_page(subscription("canceled"), plan(), Json::array({box("2026-04-01T00:00:00Z", false, false)}),
                                Json::array(), "t");
  EXPECT_EQ(page.find("<form "), std::string::npos);
  EXPECT_EQ(page.find("id=\"cancel\""), std::string::npos);
}

TEST(Pages, APausedSubscriptionOffersResumeNotPause) {
  auto page = subscription_page(subscription("paused"), plan(), Json::array(), Json::array(), "t");
  EXPECT_NE(page.find("id=\"resume\""), std::string::npos);
  EXPECT_EQ(page.find("id=\"pause\""), std::string::npos);
}

TEST(Pages, OffersCarryTheirIdsAndTheCancelFormDeclinesThemAll) {
  Json offers = Json::array({{{"id", "ro_1"}, {"description", "20% off <3 months>"}}, {{"id", "ro_2"}, {"description", "Pause"}}});
  auto page = offers_page(subscription("active"), "too_expensive", offers, "t");
  EXPECT_NE(page.find("data-offer=\"ro_1\""), std::string::npos);
  EXPECT_NE(page.find("action=\"/portal/subscriptions/sub_1/offers/ro_2/accept\""), std::string::npos);
  EXPECT_NE(page.find("20% off &lt;3 months&gt;"), std::string::npos);
  EXPECT_NE(page.find("name=\"offers\" value=\"ro_1,ro_2\""), std::string::npos);
  EXPECT_NE(page.find("name=\"reason\" value=\"too_expensive\""), std::string::npos);
}

TEST(Pages, TheSignInPagesCarryNoCsrfAndTheConfirmCarriesTheToken) {
  EXPECT_EQ(sign_in_page().find("csrf"), std::string::npos);
  EXPECT_NE(confirm_page("ab\"c").find("name=\"token\" value=\"ab&quot;c\""), std::string::npos);
  EXPECT_NE(sign_in_sent_page().find("id=\"notice\""), std::string::npos);
}

}  // namespace
}  // namespace recur::portal
