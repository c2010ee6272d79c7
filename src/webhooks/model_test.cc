// Webhooks' pure rules: Standard Webhooks signatures, event matching, retries, URLs.
#include "webhooks/model.h"

#include <gtest/gtest.h>

#include "platform/base64.h"
#include "platform/digest.h"

namespace recur::webhooks {
namespace {

// The Standard Webhooks specification's published test vector (also in its reference
// libraries' tests): reproducing it says off-the-shelf verifiers accept our signatures.
TEST(Sign, ReproducesTheStandardWebhooksTestVector) {
  EXPECT_EQ(sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                 R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(Sign, CoversTheIdTheTimestampAndTheBody) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string base = sign(secret, "evt_1", 100, "{}");
  EXPECT_NE(sign(secret, "evt_2", 100, "{}"), base);
  EXPECT_NE(sign(secret, "evt_1", 101, "{}"), base);
  EXPECT_NE(sign(secret, "evt_1", 100, "{ }"), base);
  EXPECT_NE(sign(secret_from_bytes(std::string(24, 'k')), "evt_1", 100, "{}"), base);
}

TEST(SignatureHeader, SignsWithEverySecretSpaceSeparated) {
  const std::string a = secret_from_bytes(std::string(24, 'a')), b = secret_from_bytes(std::string(24, 'b'));
  EXPECT_EQ(signature_header({a}, "evt_1", 7, "{}"), sign(a, "evt_1", 7, "{}"));
  EXPECT_EQ(signature_header({a, b}, "evt_1", 7, "{}"), sign(a, "evt_1", 7, "{}") + " " + sign(b, "evt_1", 7, "{}"));
}

TEST(Secret, IsWhsecAndTheBase64OfItsRandomBytes) {
  const std::string bytes(kSecretBytes, '\x01');
  const std::string secret = secret_from_bytes(bytes);
  EXPECT_EQ(secret, "whsec_" + base64(bytes));
  EXPECT_EQ(secret_key(secret), bytes);
  EXPECT_FALSE(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
  EXPECT_FALSE(secret_key("whsec_"));
  EXPECT_FALSE(secret_key("whsec_!!!"));
}

TEST(Matches, ExactTypesResourceWildcardsAndStar) {
  struct Case {
    std::vector<std::string> enabled;
    const char* type;
    bool expected;
  };
  const Case cases[] = {
      {{"invoice.paid"}, "invoice.paid", true},
      {{"invoice.paid"}, "invoice.voided", false},
      {{"invoice.*"}, "invoice.voided", true},
      {{"invoice.*"}, "invoice_item.created", false},
      {{"invoice.*"}, "subscription.created", false},
      {{"*"}, "subscription.created", true},
      {{"customer.created", "subscription.*"}, "subscription.paused", true},
      {{}, "invoice.paid", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(matches(c.enabled, c.type), c.expected);
  }
}

TEST(IsDelivered, OnlyA2xxAnswer) {
  EXPECT_TRUE(is_delivered(200));
  EXPECT_TRUE(is_delivered(204));
  EXPECT_TRUE(is_delivered(299));
  EXPECT_FALSE(is_delivered(0));  // no answer
  EXPECT_FALSE(is_delivered(199));
  EXPECT_FALSE(is_delivered(302));
  EXPECT_FALSE(is_delivered(410));
  EXPECT_FALSE(is_delivered(500));
}

TEST(RetryDelay, FollowsTheScheduleThenGivesUpAfterEightAttempts) {
  const std::optional<Timestamp> expected[] = {5, 300, 1800, 7200, 18000, 36000, 36000, std::nullopt};
  for (int attempts = 1; attempts <= 8; ++attempts) {
    SCOPED_TRACE(attempts);
    EXPECT_EQ(retry_delay(attempts), expected[attempts - 1]);
  }
  EXPECT_EQ(retry_delay(9), std::nullopt);
  EXPECT_EQ(retry_delay(0), std::nullopt);
}

TEST(IsWebhookUrl, AcceptsOnlyHttpAndHttpsWithAHost) {
  struct Case {
    const char* url;
    bool expected;
  };
  const Case cases[] = {
      {"https://shop.example.com/hooks", true},
      {"http://127.0.0.1:8080/h?x=1", true},
      {"https://example.com", true},
      {"ftp://example.com/", false},
      {"example.com/hooks", false},
      {"https://", false},
      {"https:///path", false},
      {"https://user:pw@example.com/", false},
      {"https://exa mple.com/", false},
      {"javascript:alert(1)", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    EXPECT_EQ(is_webhook_url(c.url), c.expected);
  }
}

TEST(UrlHost, IsTheHostWithoutPortOrBrackets) {
  EXPECT_EQ(url_host("https://shop.example.com/hooks"), "shop.example.com");
  EXPECT_EQ(url_host("http://127.0.0.1:8080/h?x=1"), "127.0.0.1");
  EXPECT_EQ(url_host("http://[::1]:8080/"), "::1");
  EXPECT_EQ(url_host("https://example.com?x"), "example.com");
}

TEST(IsPrivateAddress, RefusesLoopbackLinkLocalPrivateAndMappedAddresses) {
  struct Case {
    const char* ip;
    bool expected;
  };
  const Case cases[] = {
      {"127.0.0.1", true},       {"127.255.0.9", true},    {"10.1.2.3", true},        {"172.16.0.1", true},
      {"172.31.255.255", true},  {"172.32.0.1", false},    {"192.168.1.1", true},     {"169.254.169.254", true},
      {"100.64.0.1", true},      {"100.128.0.1", false},   {"0.0.0.0", true},         {"93.184.216.34", false},
      {"8.8.8.8", false},        {"::1", true},            {"::", true},              {"fe80::1", true},
      {"fd12:3456::1", true},    {"::ffff:127.0.0.1", true}, {"::ffff:8.8.8.8", false}, {"2606:4700::1111", false},
      {"not-an-ip", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ip);
    EXPECT_EQ(is_private_address(c.ip), c.expected);
  }
}

TEST(ApplyAttempt, SucceedsOn2xxRetriesFromTheFailureAndFailsAfterTheEighth) {
  Delivery d;
  d.attempts = 1;
  apply_attempt(d, Attempt{0, 1000, 500, 12, std::nullopt});
  EXPECT_EQ(d.status, "pending");
  EXPECT_EQ(d.next_attempt_at, 1005);
  EXPECT_EQ(d.last_status_code, 500);
  ASSERT_EQ(d.history.size(), 1u);
  EXPECT_EQ(d.history[0].number, 1);

  d.attempts = 2;
  apply_attempt(d, Attempt{0, 1010, std::nullopt, 15000, "timeout"});
  EXPECT_EQ(d.next_attempt_at, 1310);  // 5 min from this failure, not from the first
  EXPECT_EQ(d.last_status_code, std::nullopt);
  EXPECT_EQ(d.last_error, "timeout");

  d.attempts = 8;
  apply_attempt(d, Attempt{0, 2000, 302, 3, std::nullopt});
  EXPECT_EQ(d.status, "failed");
  EXPECT_EQ(d.next_attempt_at, std::nullopt);

  Delivery ok;
  ok.attempts = 3;
  apply_attempt(ok, Attempt{0, 50, 204, 1, std::nullopt});
  EXPECT_EQ(ok.status, "succeeded");
  EXPECT_EQ(ok.next_attempt_at, std::nullopt);
}

TEST(SigningSecrets, TheRotatedOutSecretSignsUntilItExpires) {
  Endpoint e;
  e.secret = "whsec_new";
  EXPECT_EQ(signing_secrets(e, 100), std::vector<std::string>{"whsec_new"});
  e.previous_secret = "whsec_old";
  e.previous_secret_expires_at = 200;
  EXPECT_EQ(signing_secrets(e, 199), (std::vector<std::string>{"whsec_new", "whsec_old"}));
  EXPECT_EQ(signing_secrets(e, 200), std::vector<std::string>{"whsec_new"});
}

TEST(HealthAfter, FailuresForFiveDaysDisableTheEndpointAndASuccessClearsThem) {
  constexpr Timestamp t = 1'800'000'000;
  struct Row {
    std::optional<Timestamp> failing_since;
    bool delivered;
    Timestamp at;
    Health want;
  };
  const Row rows[] = {
      {std::nullopt, true, t, Health::kUnchanged},
      {std::nullopt, false, t, Health::kStartsFailing},
      {t, true, t + 10, Health::kRecovered},
      {t, false, t + 10, Health::kUnchanged},
      {t, false, t + kDisableAfterFailingSeconds - 1, Health::kUnchanged},
      {t, false, t + kDisableAfterFailingSeconds, Health::kDisable},
      {t, true, t + kDisableAfterFailingSeconds + 5, Health::kRecovered},
  };
  for (const auto& r : rows)
    EXPECT_EQ(health_after(r.failing_since, r.delivered, r.at), r.want)
        << "failing_since " << r.failing_since.value_or(0) << " delivered " << r.delivered << " at " << r.at;
}

TEST(Wants, ASupplierEndpointGetsOnlyItsOwnSuppliersSentPurchaseOrders) {
  Endpoint merchant;
  merchant.enabled_events = {"*"};
  Endpoint supplier;
  supplier.enabled_events = {"purchase_order.sent"};
  supplier.supplier_id = "sup_a";
  EXPECT_TRUE(wants(merchant, "purchase_order.sent", std::string("sup_a")));
  EXPECT_TRUE(wants(merchant, "purchase_order.sent", std::nullopt));
  EXPECT_TRUE(wants(merchant, "customer.created", std::nullopt));
  EXPECT_TRUE(wants(supplier, "purchase_order.sent", std::string("sup_a")));
  EXPECT_FALSE(wants(supplier, "purchase_order.sent", std::string("sup_b")));
  EXPECT_FALSE(wants(supplier, "purchase_order.sent", std::nullopt));
  EXPECT_FALSE(wants(supplier, "purchase_order.received", std::string("sup_a")));
  EXPECT_FALSE(wants(supplier, "supplier.updated", std::string("sup_a")));
}

}  // namespace
}  // namespace recur::webhooks
