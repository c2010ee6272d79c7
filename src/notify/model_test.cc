// Template rendering, the retry rule and recipient checks.
#include "notify/model.h"

#include <gtest/gtest.h>

namespace recur::notify {
namespace {

Json receipt_data() {
  return {{"customer_name", "Ada"}, {"amount", "$24.00"}, {"description", "Coffee box"}, {"date", "2026-02-01"},
          {"invoice_id", "in_1"}};
}

TEST(Render, ReplacesVariablesAndAllowsSpacesInsideBraces) {
  auto r = render("Hi {{name}}, {{ name }}!", {{"name", "Ada"}}, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "Hi Ada, Ada!");
}

TEST(Render, EscapesHtmlInTheHtmlPartOnly) {
  Json data = {{"name", "<b>Tom & \"Jerry\" 'x'</b>"}};
  EXPECT_EQ(*render("<p>{{name}}</p>", data, true), "<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot; &#39;x&#39;&lt;/b&gt;</p>");
  EXPECT_EQ(*render("{{name}}", data, false), "<b>Tom & \"Jerry\" 'x'</b>");
}

TEST(Render, MissingVariableIsRefusedNamingEveryOneNotRenderedBlank) {
  auto r = render("{{a}} {{b}} {{a}} {{c}}", {{"b", "x"}}, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "template_data_missing");
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  ASSERT_EQ(r.error().fields.size(), 2u);
  EXPECT_EQ(r.error().fields[0].field, "data.a");
  EXPECT_EQ(r.error().fields[1].field, "data.c");
}

TEST(Render, NumbersRenderButNullBooleansAndObjectsCountAsMissing) {
  EXPECT_EQ(*render("{{n}} left", {{"n", 3}}, false), "3 left");
  EXPECT_FALSE(render("{{n}}", {{"n", nullptr}}, false).ok());
  EXPECT_FALSE(render("{{n}}", {{"n", true}}, false).ok());
  EXPECT_FALSE(render("{{n}}", {{"n", Json::object()}}, false).ok());
}

TEST(Render, UnclosedBracesOrBadNamesAreRefused) {
  EXPECT_FALSE(render("Hi {{name", {{"name", "Ada"}}, false).ok());
  EXPECT_FALSE(render("Hi {{na-me}}", {{"na-me", "Ada"}}, false).ok());
  EXPECT_FALSE(render("Hi {{}}", Json::object(), false).ok());
}

TEST(Backoff, OneFiveThirtyMinutesThenTwoAndTwelveHoursThenGiveUp) {
  EXPECT_EQ(retry_delay(1), 60);
  EXPECT_EQ(retry_delay(2), 300);
  EXPECT_EQ(retry_delay(3), 1800);
  EXPECT_EQ(retry_delay(4), 7200);
  EXPECT_EQ(retry_delay(5), 43200);
  EXPECT_EQ(retry_delay(kMaxAttempts), std::nullopt);
  EXPECT_EQ(retry_delay(0), std::nullopt);
}

TEST(Templates, EveryBuiltInRendersOnBothChannelsFromItsRequiredKeysAlone) {
  std::vector<std::string> names;
  for (const auto& t : templates()) {
    names.emplace_back(t.name);
    for (auto channel : {Channel::kEmail, Channel::kSms}) {
      Json data = Json::object();
      for (const auto& key : required_keys(t, channel)) data[key] = "v_" + key;
      auto r = render_template(t, channel, data, "https://pay.example/update");
      ASSERT_TRUE(r.ok()) << t.name << ": " << r.error().message;
      EXPECT_EQ(r->text.find("{{"), std::string::npos) << t.name;
      EXPECT_EQ(r->html.has_value(), channel == Channel::kEmail);
      // Dropping any one key is refused.
      for (const auto& key : required_keys(t, channel)) {
        Json less = data;
        less.erase(key);
        EXPECT_FALSE(render_template(t, channel, less, "https://pay.example/update").ok()) << t.name << " " << key;
      }
    }
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"receipt", "payment_failed", "payment_action_required", "invoice_issued",
                                      "renewal_reminder", "portal_sign_in", "gift_received", "gift_ending",
                                      "gift_ending_purchaser", "card_expiring", "backorder_delay", "backorder_filled",
                                      "shipment_shipped", "billing_failure_rate", "dispute_opened", "inventory_low",
                                      "purchase_order", "replenishment_needed", "webhook_endpoint_disabled"}));
}

TEST(Templates, AGiftsClaimCodeIsASecretOfItsMessage) {
  Json data = Json::object();
  for (const auto& key : required_keys(*find_template("gift_received"), Channel::kEmail)) data[key] = "v_" + key;
  data["claim_code"] = "ABCD-EFGH-JKMN-PQRS";
  data["claim_url"] = "https://shop.example/gift?code=ABCD-EFGH-JKMN-PQRS";
  auto r = render_template(*find_template("gift_received"), Channel::kEmail, data, "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->text.find("ABCD-EFGH-JKMN-PQRS"), std::string::npos);
  EXPECT_EQ(r->secrets, std::vector<std::string>{"ABCD-EFGH-JKMN-PQRS"});  // scrubbed once sent
}

TEST(Templates, RequiredKeysOfReceiptAndPaymentFailed) {
  EXPECT_EQ(required_keys(*find_template("receipt"), Channel::kEmail),
            (std::vector<std::string>{"amount", "description", "customer_name", "date", "invoice_id"}));
  EXPECT_EQ(required_keys(*find_template("payment_failed"), Channel::kEmail),
            (std::vector<std::string>{"amount", "customer_name", "description", "invoice_id", "update_payment_token",
                                      "retry_note"}));
  // The text has no link, so it needs no token.
  EXPECT_EQ(required_keys(*find_template("payment_failed"), Channel::kSms),
            (std::vector<std::string>{"amount", "description", "retry_note_short"}));
  // An authentication's e-mail links to the page that confirms it; its text does not.
  EXPECT_EQ(required_keys(*find_template("payment_action_required"), Channel::kEmail),
            (std::vector<std::string>{"amount", "customer_name", "description", "invoice_id", "update_payment_token"}));
  EXPECT_EQ(required_keys(*find_template("payment_action_required"), Channel::kSms),
            (std::vector<std::string>{"amount", "description"}));
}

TEST(Templates, OptedInCustomersAreTextedAFailedPaymentABackorderDelayAndAShippedBoxOnly) {
  std::vector<std::string> texted;
  for (const auto& t : templates())
    if (also_by_sms(t.name)) texted.emplace_back(t.name);
  EXPECT_EQ(texted, (std::vector<std::string>{"payment_failed", "payment_action_required", "backorder_delay",
                                              "shipment_shipped"}));
  EXPECT_FALSE(also_by_sms("no_such_template"));
}

// What a customer's phone shows: the three texts with the data their senders pass (billing's
// PaymentMessages, inventory's ShipmentNotices), in one SMS segment (160 characters), with
// no name, e-mail address or link.
TEST(Templates, TheTextsCustomersGetAreShortAndCarryNoNameAddressOrLink) {
  Json customer = {{"customer_name", "Ada Lovelace"}, {"invoice_id", "in_01m8a2c4e6g8j0k2m4n6p8r0s2"},
                   {"date", "2026-02-28"}, {"shipment_id", "shp_01m8a2c4e6g8j0k2m4n6p8r0s2"}};
  struct Case {
    const char* name;
    Json data;
    const char* text;
  } cases[] = {
      {"payment_failed", {{"amount", "24.00 USD"}, {"description", "Invoice INV-000042"}, {"retry_note_short", "We will retry;"}},
       "Your payment of 24.00 USD for Invoice INV-000042 failed. We will retry; the e-mail we sent has a link to "
       "update your payment method."},
      {"backorder_delay", {{"product_name", "Ethiopian beans"}, {"expected_date", "2026-03-12"}},
       "Ethiopian beans is on backorder; we expect to ship your box 2026-03-12."},
      {"shipment_shipped", {{"product_name", "Ethiopian beans"}, {"tracking_number", "1Z999AA10123456784"}},
       "Your box shp_01m8a2c4e6g8j0k2m4n6p8r0s2 has shipped. Tracking: 1Z999AA10123456784"},
  };
  for (const auto& c : cases) {
    Json data = customer;
    data.update(c.data);
    auto r = render_template(*find_template(c.name), Channel::kSms, data, "");  // no payment base needed
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.error().message;
    EXPECT_EQ(r->text, c.text) << c.name;
    EXPECT_LE(r->text.size(), 160u) << c.name;
    EXPECT_EQ(r->text.find("Ada"), std::string::npos) << c.name;
    EXPECT_EQ(r->text.find("http"), std::string::npos) << c.name;
    EXPECT_TRUE(r->secrets.empty()) << c.name;
    EXPECT_EQ(r->subject, std::nullopt) << c.name;
    EXPECT_EQ(r->html, std::nullopt) << c.name;
  }
}

TEST(Templates, PaymentLinkIsBaseUrlPlusEncodedTokenAndIsASecret) {
  Json data = receipt_data();
  data["update_payment_token"] = "tok en/1";
  data["retry_note"] = "We will try the payment again automatically.";
  auto r = render_template(*find_template("payment_failed"), Channel::kEmail, data, "https://pay.example/u?x=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->text.find("https://pay.example/u?x=1&token=tok%20en%2F1"), std::string::npos) << r->text;
  EXPECT_NE(r->html->find("href=\"https://pay.example/u?x=1&amp;token=tok%20en%2F1\""), std::string::npos) << *r->html;
  EXPECT_EQ(r->secrets, (std::vector<std::string>{"tok%20en%2F1", "tok en/1"}));
  EXPECT_EQ(update_payment_link("https://p.example/update", "abc"), "https://p.example/update?token=abc");
  // Recur's hosted page: the token rides in the fragment, never sent to a server.
  EXPECT_EQ(update_payment_link("https://recur.example/i#", "abc"), "https://recur.example/i#abc");
  EXPECT_EQ(update_payment_link("https://recur.example/i#", "a b"), "https://recur.example/i#a%20b");
}

TEST(Templates, PaymentLinkWithoutABaseUrlIsRefused) {
  Json data = receipt_data();
  data["update_payment_token"] = "t";
  data["retry_note"] = "We will try the payment again automatically.";
  auto r = render_template(*find_template("payment_failed"), Channel::kEmail, data, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "update_payment_url_unset");
}

TEST(Templates, SubjectCannotCarryLineBreaksIntoMailHeaders) {
  Json data = receipt_data();
  data["description"] = "Box\r\nBcc: evil@example.com";
  auto r = render_template(*find_template("receipt"), Channel::kEmail, data, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject->find('\n'), std::string::npos);
  EXPECT_EQ(r->subject->find('\r'), std::string::npos);
}

TEST(Notification, ApiViewRedactsSecretsAndScrubbingRemovesThemFromTheRecord) {
  Notification n;
  n.id = "ntf_1";
  n.text = "link: https://p.example/?token=s3cret";
  n.html = "<a href=\"https://p.example/?token=s3cret\">x</a>";
  n.secrets = {"s3cret"};
  Json api = to_json(n);
  EXPECT_EQ(api["text"], "link: https://p.example/?token=[redacted]");
  EXPECT_FALSE(api.contains("secrets"));
  EXPECT_EQ(notification_from_doc(to_doc(n)).text, n.text);  // the stored document keeps it to send
  scrub_secrets(n);
  EXPECT_EQ(n.text, "link: https://p.example/?token=[redacted]");
  EXPECT_TRUE(n.secrets.empty());
}

TEST(Notification, AttachmentsAreKeptByReferenceInTheRecordAndShownByTheApi) {
  Notification n;
  n.id = "ntf_1";
  n.attachments = {{"invoice_pdf", "in_1"}};
  Json api = to_json(n);
  EXPECT_EQ(api["attachments"], Json::parse(R"([{"kind":"invoice_pdf","id":"in_1"}])"));
  EXPECT_EQ(notification_from_doc(to_doc(n)).attachments, n.attachments);
  n.attachments.clear();
  EXPECT_EQ(to_json(n)["attachments"], Json::array());
}

TEST(Recipients, EmailAddressesHaveOneAtAndNoBlanksOrHeaderSyntax) {
  EXPECT_TRUE(is_email_address("ada@example.com"));
  EXPECT_FALSE(is_email_address("ada@example.com\r\nBcc: x@y"));
  EXPECT_FALSE(is_email_address("Ada <ada@example.com>"));
  EXPECT_FALSE(is_email_address("ada"));
  EXPECT_FALSE(is_email_address("a@b@c"));
}

TEST(Masking, RecipientsKeepTheirFirstLettersAndTopLevelDomainOrTheLastTwoDigits) {
  struct Case {
    const char* in;
    const char* out;
  } emails[] = {
      {"jane.doe@example.com", "j***@e***.com"},
      {"a@b.co.uk", "a***@b***.uk"},
      {"ops@localhost", "o***@l***"},
      {"\xc3\xa9lise@\xc3\xa9" "cole.fr", "***@***.fr"},  // half a character would be worse than none
      {"not-an-address", "***"},
      {"@example.com", "***"},
      {"", "***"},
  };
  for (const auto& c : emails) EXPECT_EQ(mask_email(c.in), c.out) << c.in;
  EXPECT_EQ(mask_phone("+14155550123"), "***23");
  EXPECT_EQ(mask_phone("+44 20 7946 0958"), "***58");
  EXPECT_EQ(mask_phone("123"), "***");  // too short to show any of it
  EXPECT_EQ(mask_phone(""), "***");
}

}  // namespace
}  // namespace recur::notify
