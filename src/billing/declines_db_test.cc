// Retries that read the decline, against a real database (SQLite or PostgreSQL, per
// RECUR_TEST_ENGINE): a hard decline stops charging the card, a new card is charged at once,
// the final action waits for the window's end; insufficient funds waits for the customer's
// morning and payday (docs/billing-rules.md).
#include <gtest/gtest.h>

#include "testing/fixtures.h"

namespace recur::billing {
namespace {
using subscriptions::Status;
using testing::at;
using testing::TestApp;

class DeclinesTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  Billing& billing() { return t.app->billing(); }

  struct Subscriber {
    subscriptions::Subscription sub;
    std::string payment_method;
  };
  // A customer (in `time_zone`, if any) paying with `token`, subscribed monthly.
  Subscriber subscriber(const std::string& token, std::optional<std::string> time_zone = std::nullopt) {
    auto plan = testing::make_plan(t, 2999, Interval::kMonth);
    auto customer = testing::make_customer(t, "d" + std::to_string(++customers_) + "@example.com");
    if (time_zone) {
      customers::CustomerPatch patch;
      patch.time_zone = time_zone;
      auto updated = t.app->customers().update(customer.id, patch, customer.version, t.actor);
      EXPECT_TRUE(updated.ok()) << (updated.ok() ? "" : updated.error().message);
    }
    auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), token, false}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    return {testing::subscribe(t, customer.id, plan.id), pm.ok() ? pm->id : ""};
  }
  void run_at(const char* when) {
    t.clock->set(at(when));
    auto r = billing().runs.run("test");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  }
  Invoice first_invoice(const std::string& sub) {
    auto page = billing().service.list_invoices({sub, std::nullopt, std::nullopt, {}, {.limit = 100}});
    EXPECT_TRUE(page.ok());
    return page->items.back();
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) { return testing::count(t, sql, std::move(params)); }
  std::int64_t sandbox_charges(const std::string& invoice) {
    return count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1", {invoice + ":%"});
  }
  Payment last_payment(const std::string& invoice) {
    auto page = billing().service.list_payments({invoice, std::nullopt, {}, {.limit = 100}});
    EXPECT_TRUE(page.ok() && !page->items.empty());
    return page->items.front();  // newest first
  }
  void set_mode(DunningMode mode) {
    DunningPatch patch;
    patch.mode = mode;
    auto s = billing().service.update_dunning(patch, 1, t.actor);
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  TestApp t;
  int customers_ = 0;
};

TEST_F(DeclinesTest, HardDeclineStopsRetryingTheCardAndTheFinalActionWaitsForTheWindowsEnd) {
  auto s = subscriber("pm_card_visa_chargeDeclinedStolenCard");
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = first_invoice(s.sub.id);
  Payment pay = last_payment(inv.id);
  EXPECT_EQ(pay.decline_code, "stolen_card");
  EXPECT_EQ(pay.decline_type, "hard");
  EXPECT_EQ(pay.failure_code, "card_declined");
  EXPECT_EQ(inv.hard_declined_payment_method, s.payment_method);
  ASSERT_TRUE(inv.next_attempt_at);
  EXPECT_EQ(format_rfc3339(*inv.next_attempt_at), "2026-02-07T10:00:00Z");  // the last retry day (7)
  EXPECT_EQ(t.app->subscriptions().get(s.sub.id)->status, Status::kPastDue);
  // The customer is asked for a new card (the message with the update link).
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed' AND resource_id = $1", {inv.id}),
            1);
  // The scheduled days pass without a charge of the card.
  for (const char* when : {"2026-02-01T10:00:00Z", "2026-02-03T10:00:00Z", "2026-02-05T10:00:00Z"}) run_at(when);
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  EXPECT_EQ(first_invoice(s.sub.id).status, InvoiceStatus::kOpen);
  // A customer-initiated retry with the same default card charges nothing either.
  auto report = billing().collector.retry_customer(s.sub.customer);
  EXPECT_EQ(report.attempted, 0);
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  // The window's end: the final action (cancel by default), without asking the gateway.
  run_at("2026-02-07T10:00:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  Invoice closed = first_invoice(s.sub.id);
  EXPECT_EQ(closed.status, InvoiceStatus::kUncollectible);
  EXPECT_FALSE(closed.next_attempt_at);
  EXPECT_EQ(t.app->subscriptions().get(s.sub.id)->status, Status::kCanceled);
}

TEST_F(DeclinesTest, ANewDefaultCardAfterAHardDeclineIsChargedAtOnce) {
  auto s = subscriber("pm_card_chargeDeclinedExpiredCard");
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = first_invoice(s.sub.id);
  EXPECT_EQ(last_payment(inv.id).decline_type, "hard");
  t.clock->set(at("2026-02-02T08:00:00Z"));
  auto pm = t.app->customers().attach_payment_method(s.sub.customer, {std::string("sandbox"), "pm_card_visa", true},
                                                     t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  Invoice paid = first_invoice(s.sub.id);
  EXPECT_EQ(paid.status, InvoiceStatus::kPaid);
  EXPECT_EQ(last_payment(inv.id).payment_method, pm->id);
  EXPECT_EQ(sandbox_charges(inv.id), 2);
  EXPECT_EQ(t.app->subscriptions().get(s.sub.id)->status, Status::kActive);
}

TEST_F(DeclinesTest, UnexplainedDeclinesTurnHardTheThirdTimeInARow) {
  auto s = subscriber("pm_card_chargeDeclined");  // card_declined: generic_decline
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = first_invoice(s.sub.id);
  EXPECT_EQ(last_payment(inv.id).decline_code, "generic_decline");
  EXPECT_EQ(last_payment(inv.id).decline_type, "soft");
  run_at("2026-02-01T10:00:00Z");
  EXPECT_EQ(last_payment(inv.id).decline_type, "soft");
  EXPECT_EQ(format_rfc3339(*first_invoice(s.sub.id).next_attempt_at), "2026-02-03T10:00:00Z");
  run_at("2026-02-03T10:00:00Z");
  EXPECT_EQ(last_payment(inv.id).decline_type, "hard");
  Invoice after = first_invoice(s.sub.id);
  EXPECT_EQ(after.hard_declined_payment_method, s.payment_method);
  EXPECT_EQ(format_rfc3339(*after.next_attempt_at), "2026-02-07T10:00:00Z");
  run_at("2026-02-05T10:00:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 3);
}

TEST_F(DeclinesTest, InsufficientFundsIsRetriedOnTheCustomersPaydayMorning) {
  // 05:00 in New York on 31 January; 1 February (a payday) is the scheduled day: 09:00 EST.
  auto s = subscriber("pm_card_chargeDeclinedInsufficientFunds", "America/New_York");
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = first_invoice(s.sub.id);
  EXPECT_EQ(last_payment(inv.id).decline_type, "soft");
  ASSERT_TRUE(inv.next_attempt_at);
  EXPECT_EQ(format_rfc3339(*inv.next_attempt_at), "2026-02-01T14:00:00Z");
  run_at("2026-02-01T13:59:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  run_at("2026-02-01T14:00:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 2);
  // The next scheduled day (3 February) at 09:00 in New York: no payday before the window ends.
  EXPECT_EQ(format_rfc3339(*first_invoice(s.sub.id).next_attempt_at), "2026-02-03T14:00:00Z");
}

TEST_F(DeclinesTest, FixedModeKeepsTheScheduleWhateverTheDecline) {
  set_mode(DunningMode::kFixed);
  auto s = subscriber("pm_card_visa_chargeDeclinedLostCard", "Europe/Berlin");
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = first_invoice(s.sub.id);
  EXPECT_EQ(last_payment(inv.id).decline_type, "hard");  // shown, not acted on
  EXPECT_EQ(inv.hard_declined_payment_method, "");
  EXPECT_EQ(format_rfc3339(*inv.next_attempt_at), "2026-02-01T10:00:00Z");
  run_at("2026-02-01T10:00:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 2);
}

TEST_F(DeclinesTest, ACustomersTimeZoneIsKept) {
  auto customer = testing::make_customer(t, "tz@example.com");
  customers::CustomerPatch patch;
  patch.time_zone = std::optional<std::string>("Europe/Berlin");
  auto ok = t.app->customers().update(customer.id, patch, customer.version, t.actor);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->time_zone, "Europe/Berlin");
  EXPECT_EQ(t.app->customers().get(customer.id)->time_zone, "Europe/Berlin");
}

}  // namespace
}  // namespace recur::billing
