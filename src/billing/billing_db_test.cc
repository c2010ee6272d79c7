// Billing against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): invoices
// once per period, charges once per invoice under gateway faults and concurrent workers,
// dunning on its schedule.
#include <gtest/gtest.h>

#include <thread>

#include "events/store.h"
#include "gateways/paypal.h"
#include "gateways/signature.h"
#include "testing/fixtures.h"

namespace recur::billing {
namespace {
using subscriptions::Status;
using testing::at;
using testing::TestApp;
using gateways::kSandboxWebhookSecret;
using gateways::SandboxGateway;
using gateways::sign_timestamped;

class BillingTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  Billing& billing() { return t.app->billing(); }
  SandboxGateway& sandbox() { return *dynamic_cast<SandboxGateway*>(t.app->gateways().find("sandbox")); }

  // A customer paying with `token`, subscribed to a monthly plan of `amount`.
  subscriptions::Subscription subscriber(const std::string& token, std::int64_t amount = 2999) {
    auto plan = testing::make_plan(t, amount, Interval::kMonth);
    auto customer = testing::make_customer(t, "c" + std::to_string(++customers_) + "@example.com");
    auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), token, false}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    return testing::subscribe(t, customer.id, plan.id);
  }
  BillingRun run_at(const char* when) {
    t.clock->set(at(when));
    auto r = billing().runs.run("test");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : BillingRun{};
  }
  std::vector<Invoice> invoices(const std::string& sub) {
    auto page = billing().service.list_invoices({sub,  std::nullopt, std::nullopt, {}, {.limit = 100}});
    EXPECT_TRUE(page.ok());
    return page->items;  // newest first
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows->at(0).int64(0);
  }
  std::int64_t sandbox_charges(const std::string& invoice) {
    return count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1", {invoice + ":%"});
  }
  subscriptions::Subscription sub_now(const std::string& id) { return *t.app->subscriptions().get(id); }
  // The first event of `type` about `resource`.
  events::Event event_of(const std::string& resource, const std::string& type) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto page = events::list_for_resource(**tx, resource, {.limit = 100});
    EXPECT_TRUE(page.ok());
    for (auto& e : page->items)
      if (e.type == type) return e;
    ADD_FAILURE() << "no " << type << " about " << resource;
    return {};
  }

  TestApp t;
  int customers_ = 0;
};

TEST_F(BillingTest, ChargeOutcomesRecordTheInvoiceAndThePaymentBeforeAndAfterTheChange) {
  auto paying = subscriber("pm_card_visa");
  auto failing = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  Invoice paid = invoices(paying.id).at(0);
  auto invoice_paid = event_of(paid.id, "invoice.paid");
  EXPECT_EQ(invoice_paid.after, to_json(paid));
  EXPECT_EQ(events::previous_attributes(invoice_paid.before, invoice_paid.after)["status"], "open");
  std::string pay_id = invoice_paid.details.at("payment");
  auto succeeded = event_of(pay_id, "payment.succeeded");
  EXPECT_EQ(succeeded.after, to_json(*billing().service.get_payment(pay_id)));
  EXPECT_EQ(succeeded.before["status"], "pending");

  Invoice open = invoices(failing.id).at(0);
  auto failed = event_of(open.id, "invoice.payment_failed");
  EXPECT_EQ(failed.after, to_json(open));
  EXPECT_TRUE(failed.before["first_failed_at"].is_null());
  EXPECT_FALSE(failed.after["first_failed_at"].is_null());
  EXPECT_EQ(failed.after["status"], "open");
}

TEST_F(BillingTest, EveryPeriodIsInvoicedOnceWithGaplessNumbersAndChargedOnce) {
  auto sub = subscriber("pm_card_visa");
  for (const char* month : {"2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z",
                            "2026-05-31T10:00:00Z"}) {
    run_at(month);
    run_at(month);  // a second run at the same moment finds nothing to do
  }
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 5u);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Invoice& inv = list[list.size() - 1 - i];
    EXPECT_EQ(inv.number, "INV-00000" + std::to_string(i + 1));
    EXPECT_EQ(inv.status, InvoiceStatus::kPaid);
    EXPECT_EQ(inv.amount_paid, 2999);
    EXPECT_EQ(sandbox_charges(inv.id), 1) << inv.id;
    // A receipt per charge, queued with the payment's outcome.
    EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'receipt' AND resource_id = $1", {inv.id}), 1);
  }
  EXPECT_EQ(format_rfc3339(list[0].period.start), "2026-05-31T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"), 5);
}

TEST_F(BillingTest, InvoiceShowsTheGrossChargeAndTheDiscountSeparately) {
  auto sub = subscriber("pm_card_visa", 2000);
  // A retention discount: 25 % off the next period.
  auto offer = t.app->retention().create_offer(
      {"too_expensive", subscriptions::OfferType::kDiscount, "25% off", 25, 1, 0, std::nullopt, Json::object()}, t.actor);
  ASSERT_TRUE(offer.ok()) << offer.error().message;
  ASSERT_TRUE(t.app->subscriptions().present_offers(sub.id, "too_expensive", t.actor).ok());
  ASSERT_TRUE(t.app->subscriptions().accept_offer(sub.id, offer->id, t.actor).ok());
  run_at("2026-02-28T10:00:00Z");
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].subtotal, 2000);
  EXPECT_EQ(list[0].discount, 500);
  EXPECT_EQ(list[0].total, 1500);
  EXPECT_EQ(list[0].amount_paid, 1500);
}

TEST_F(BillingTest, DeclinedCardGoesPastDueRetriesOnTheScheduleThenCancels) {
  // The fixed schedule: in smart mode a generic decline turns hard the third time in a row
  // (declines_db_test.cc).
  ASSERT_TRUE(billing().service.update_dunning({std::nullopt, std::nullopt, DunningMode::kFixed}, 1, t.actor).ok());
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  EXPECT_EQ(sub_now(sub.id).status, Status::kPastDue);
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.attempt_count, 1);
  EXPECT_EQ(*inv.next_attempt_at, at("2026-02-01T10:00:00Z"));  // retry after 1 day
  // Retries after 1, 3, 5 and 7 days from the first failure; nothing in between.
  for (const char* day : {"2026-02-01T10:00:00Z", "2026-02-02T10:00:00Z", "2026-02-03T10:00:00Z",
                          "2026-02-05T10:00:00Z"})
    run_at(day);
  inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.attempt_count, 4);
  EXPECT_EQ(*inv.next_attempt_at, at("2026-02-07T10:00:00Z"));
  EXPECT_EQ(sub_now(sub.id).status, Status::kPastDue);
  run_at("2026-02-07T10:00:00Z");
  run_at("2026-02-07T10:00:00Z");  // the same moment again: nothing new
  EXPECT_EQ(invoices(sub.id).at(0).attempt_count, 5);
  inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kUncollectible);
  EXPECT_FALSE(inv.next_attempt_at.has_value());
  auto ended = sub_now(sub.id);
  EXPECT_EQ(ended.status, Status::kCanceled);
  EXPECT_EQ(ended.cancellation->reason, "payment_failed");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'failed'", {inv.id}), 5);
}

TEST_F(BillingTest, FinalActionPauseKeepsTheInvoiceOpenAndPausesTheSubscription) {
  auto settings = billing().service.update_dunning({std::vector<std::int64_t>{2}, FinalAction::kPause}, 1, t.actor);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  auto sub = subscriber("pm_card_chargeDeclinedInsufficientFunds");
  run_at("2026-01-31T10:00:00Z");
  run_at("2026-02-02T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv.attempt_count, 2);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);
  auto payments = billing().service.list_payments({inv.id,  std::nullopt, {}, {.limit = 10}});
  EXPECT_EQ(payments->items.at(0).failure_code, "insufficient_funds");
}

TEST_F(BillingTest, FinalActionUnpaidKeepsInvoicingWithoutChargingUntilANewCardPaysEveryInvoiceOnce) {
  ASSERT_TRUE(billing().service.update_dunning({std::vector<std::int64_t>{2}, FinalAction::kUnpaid}, 1, t.actor).ok());
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");  // the first charge fails: past_due
  EXPECT_EQ(sub_now(sub.id).status, Status::kPastDue);
  run_at("2026-02-02T10:00:00Z");  // the only retry fails: unpaid
  EXPECT_EQ(sub_now(sub.id).status, Status::kUnpaid);
  auto first = invoices(sub.id).at(0);
  EXPECT_EQ(first.status, InvoiceStatus::kOpen);  // not uncollectible
  EXPECT_EQ(first.attempt_count, 2);
  EXPECT_FALSE(first.next_attempt_at.has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'subscription.unpaid' AND resource_id = $1", {sub.id}), 1);
  run_at("2026-02-20T10:00:00Z");  // no more automatic retries
  EXPECT_EQ(invoices(sub.id).at(0).attempt_count, 2);

  // It keeps renewing: the new period is invoiced (finalized, open) but not charged.
  run_at("2026-02-28T10:00:00Z");
  run_at("2026-03-03T10:00:00Z");
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 2u);
  const Invoice second = list[0];
  EXPECT_EQ(second.status, InvoiceStatus::kOpen);
  EXPECT_FALSE(second.number.empty());
  EXPECT_EQ(second.attempt_count, 0);
  EXPECT_FALSE(second.next_attempt_at.has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {second.id}), 0);
  EXPECT_EQ(sub_now(sub.id).status, Status::kUnpaid);
  auto period_is_paid = [&](std::int64_t seq) {
    auto payment = db::transact(t.app->database(), [&](db::Tx& tx) { return period_payment(tx, sub.id, seq); },
                                db::TxMode::kReadOnly);
    EXPECT_TRUE(payment.ok());
    return payment.ok() && payment->paid;
  };
  EXPECT_FALSE(period_is_paid(2));  // inventory holds this period's box
  auto second_period = db::transact(t.app->database(), [&](db::Tx& tx) { return period_payment(tx, sub.id, 2); },
                                    db::TxMode::kReadOnly);
  ASSERT_TRUE(second_period.ok());
  EXPECT_EQ(second_period->invoice, second.id);

  // A new default card pays both, oldest first, each once; the subscription is active again.
  t.clock->set(at("2026-03-04T10:00:00Z"));
  auto pm = t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  list = invoices(sub.id);
  for (const auto& inv : list) {
    EXPECT_EQ(inv.status, InvoiceStatus::kPaid) << inv.id;
    EXPECT_EQ(inv.amount_paid, 2999);
    EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'succeeded'", {inv.id}), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1 AND status = 'succeeded'",
                    {inv.id + ":%"}),
              1);
  }
  auto paid = billing().service.list_payments({std::nullopt,  sub.customer, {"succeeded"}, {.limit = 10}});
  ASSERT_EQ(paid->items.size(), 2u);
  EXPECT_EQ(paid->items[1].invoice, first.id);  // newest first: the older invoice was charged first
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
  EXPECT_TRUE(period_is_paid(2));
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'subscription.payment_recovered' AND resource_id = $1",
                  {sub.id}),
            1);
  run_at("2026-03-04T10:00:00Z");  // nothing left to charge
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"), 2);
}

TEST_F(BillingTest, AnUnpaidSubscriptionCanStillBeCanceled) {
  ASSERT_TRUE(billing().service.update_dunning({std::vector<std::int64_t>{1}, FinalAction::kUnpaid}, 1, t.actor).ok());
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  run_at("2026-02-01T10:00:00Z");
  ASSERT_EQ(sub_now(sub.id).status, Status::kUnpaid);
  auto canceled = t.app->subscriptions().cancel(sub.id, {false, "payment_failed", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok()) << canceled.error().message;
  EXPECT_EQ(canceled->status, Status::kCanceled);
}

TEST_F(BillingTest, ANewDefaultPaymentMethodPaysTheOverdueInvoiceAtOnce) {
  auto sub = subscriber("pm_card_chargeCustomerFail");
  run_at("2026-01-31T10:00:00Z");
  ASSERT_EQ(sub_now(sub.id).status, Status::kPastDue);
  t.clock->set(at("2026-01-31T12:00:00Z"));
  auto pm = t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kPaid);
  EXPECT_EQ(*inv.paid_at, at("2026-01-31T12:00:00Z"));
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
}

TEST_F(BillingTest, ACustomerWithoutPaymentMethodFailsWithoutAGatewayCall) {
  auto plan = testing::make_plan(t, 1000, Interval::kMonth);
  auto customer = testing::make_customer(t);
  auto sub = testing::subscribe(t, customer.id, plan.id);
  run_at("2026-01-31T10:00:00Z");
  auto payments = billing().service.list_payments({std::nullopt,  customer.id, {}, {.limit = 10}});
  ASSERT_EQ(payments->items.size(), 1u);
  EXPECT_EQ(payments->items[0].failure_code, "no_payment_method");
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 0);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPastDue);
}

TEST_F(BillingTest, TimeoutAfterTheChargeIsResolvedWithTheSameKeyAndChargesOnce) {
  sandbox().set_faults({0, 1.0, 0, 7});  // every call charges, then the answer is lost
  auto sub = subscriber("pm_card_visa");
  auto first = run_at("2026-01-31T10:00:00Z");
  EXPECT_EQ(first.payments.unknown, 1);
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'pending'", {inv.id}), 1);
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  sandbox().set_faults({});
  run_at("2026-01-31T10:05:00Z");  // unknown_retry_seconds later: ask again, same key
  inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kPaid);
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {inv.id}), 1);
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
  // Written pending, changed by the lost answer and by the settling one.
  auto pay = billing().service.list_payments({inv.id, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(pay.ok());
  EXPECT_EQ(pay->items.at(0).version, 3);
  EXPECT_FALSE(pay->items.at(0).gateway_reference.empty());
}

TEST_F(BillingTest, ServerErrorsAndLostRequestsNeverChargeTwiceOrSkipAnInvoice) {
  // A third of calls fail one way or another, deterministically (seeded).
  sandbox().set_faults({0.1, 0.15, 0.1, 42});
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 12; ++i) subs.push_back(subscriber("pm_card_visa", 1000 + i));
  Timestamp now = at("2026-01-31T10:00:00Z");
  for (int step = 0; step < 200; ++step, now += 300) {
    t.clock->set(now);
    ASSERT_TRUE(billing().runs.run("test").ok());
    if (count("SELECT COUNT(*) FROM invoices WHERE status <> 'paid'") == 0) break;
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE status <> 'paid'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices"), 12);
  // One successful charge per invoice at the gateway, for the invoice's amount.
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'"), 12);
  EXPECT_EQ(count("SELECT SUM(amount) FROM sandbox_charges WHERE status = 'succeeded'"), 12 * 1000 + 66);
}

TEST_F(BillingTest, ConcurrentWorkersChargeEachInvoiceExactlyOnce) {
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 30; ++i) subs.push_back(subscriber("pm_card_visa", 500));
  auto second = testing::reopen(t, *t.clock);
  std::thread a([&] { EXPECT_TRUE(billing().runs.collect_due().ok()); });
  std::thread b([&] { EXPECT_TRUE(second->billing().runs.collect_due().ok()); });
  a.join();
  b.join();
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE status = 'paid'"), 30);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 30);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 30);
}

TEST_F(BillingTest, PeriodsRestartedInTheSameSecondAreEachInvoiced) {
  auto sub = subscriber("pm_card_visa", 2400);
  auto weekly = testing::make_plan(t, 700, Interval::kWeek, 1, 0, "Weekly");
  // A cadence change at the very second the first period began restarts the period there.
  auto changed = t.app->subscriptions().change_plan(sub.id, {weekly.id, std::nullopt, subscriptions::Proration::kCreate,
                                                             subscriptions::Effective::kNow},
                                                    std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].period.start, list[1].period.start);
  // The whole unused month (2400) is credited against the week (700); the 1700 the
  // invoice cannot absorb is carried to the next one.
  ASSERT_EQ(list[0].lines.size(), 3u);
  EXPECT_EQ(list[0].lines[1].amount, -2400);
  EXPECT_EQ(list[0].lines[2].amount, 1700);
  EXPECT_EQ(list[0].total, 0);
  EXPECT_EQ(list[0].status, InvoiceStatus::kPaid);
  EXPECT_EQ(count("SELECT SUM(amount) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), -1700);
  run_at("2026-02-07T10:00:00Z");  // the next week: 700 - 1700 credit -> nothing to pay, 1000 carried on
  EXPECT_EQ(invoices(sub.id).at(0).total, 0);
  EXPECT_EQ(count("SELECT SUM(amount) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), -1000);
}

TEST_F(BillingTest, AlwaysInvoiceBillsWhatAChangeOwesAtOnceAndTheRunChargesIt) {
  auto sub = subscriber("pm_card_visa", 3000);  // monthly from Jan 31: the period ends Feb 28 (28 days)
  run_at("2026-01-31T10:00:00Z");
  auto large = testing::make_plan(t, 6000, Interval::kMonth, 1, 0, "Large");
  t.clock->set(at("2026-02-14T10:00:00Z"));  // half of the period left
  subscriptions::ChangePlanInput change{large.id, std::nullopt, subscriptions::Proration::kAlwaysInvoice,
                                        subscriptions::Effective::kNow};
  auto preview = t.app->subscriptions().preview_change(sub.id, change);
  ASSERT_TRUE(preview.ok()) << preview.error().message;
  auto changed = t.app->subscriptions().change_plan(sub.id, change, std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 2u);
  const Invoice& now = list[0];
  EXPECT_EQ(now.billing_reason, "subscription_update");
  ASSERT_EQ(now.lines.size(), 2u);  // the unused half credited, the new plan's half charged
  EXPECT_EQ(now.lines[0].amount, -1500);
  EXPECT_EQ(now.lines[1].amount, 3000);
  EXPECT_EQ(now.total, 1500);
  EXPECT_EQ(now.status, InvoiceStatus::kOpen);
  EXPECT_EQ(now.next_attempt_at, at("2026-02-14T10:00:00Z"));
  EXPECT_EQ(now.period.start, at("2026-02-14T10:00:00Z"));
  EXPECT_EQ(now.period.end, at("2026-02-28T10:00:00Z"));
  EXPECT_EQ(count("SELECT COUNT(*) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), 0);
  // The preview showed this very invoice.
  EXPECT_EQ(preview->invoice.at("total"), 1500);
  EXPECT_EQ(preview->invoice.at("lines").size(), 2u);
  run_at("2026-02-14T10:00:00Z");
  EXPECT_EQ(invoices(sub.id).at(0).status, InvoiceStatus::kPaid);
  EXPECT_EQ(invoices(sub.id).at(0).amount_paid, 1500);
  EXPECT_EQ(sandbox_charges(now.id), 1);
  // The next period owes the new plan alone: nothing of the change is billed twice.
  run_at("2026-02-28T10:00:00Z");
  list = invoices(sub.id);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].lines.size(), 1u);
  EXPECT_EQ(list[0].total, 6000);
  // The subscription's latest invoice is the newest, not the one of the highest period.
  auto latest = billing().service.latest_invoice(sub.id);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->id, list[0].id);
}

TEST_F(BillingTest, AlwaysInvoiceLeavesANetCreditForTheNextInvoice) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto small = testing::make_plan(t, 1000, Interval::kMonth, 1, 0, "Small");
  t.clock->set(at("2026-02-14T10:00:00Z"));
  auto changed = t.app->subscriptions().change_plan(
      sub.id, {small.id, std::nullopt, subscriptions::Proration::kAlwaysInvoice, subscriptions::Effective::kNow},
      std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(invoices(sub.id).size(), 1u);  // nothing is owed now: no invoice
  EXPECT_EQ(count("SELECT SUM(amount) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), -1000);
  run_at("2026-02-28T10:00:00Z");
  auto next = invoices(sub.id).at(0);
  EXPECT_EQ(next.total, 0);  // 1000 for the period less the 1000 credit
}

TEST_F(BillingTest, PartialRefundsNeverExceedWhatWasPaidAndEachGetsACreditNote) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  ASSERT_EQ(inv.status, InvoiceStatus::kPaid);
  auto first = billing().refunds.refund({inv.id, 1000, "requested_by_customer"}, t.actor);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, PaymentStatus::kSucceeded);
  auto note = billing().service.get_credit_note(first->credit_note);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->number, "CN-000001");
  EXPECT_EQ(note->amount, 1000);
  auto too_much = billing().refunds.refund({inv.id, 2001, "requested_by_customer"}, t.actor);
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.error().code, "amount_too_large");
  auto rest = billing().refunds.refund({inv.id, std::nullopt, "duplicate"}, t.actor);  // the remaining 2000
  ASSERT_TRUE(rest.ok()) << rest.error().message;
  EXPECT_EQ(rest->amount, 2000);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_refunded, 3000);
  EXPECT_EQ(count("SELECT refunded FROM sandbox_charges WHERE idempotency_key LIKE $1", {inv.id + ":%"}), 3000);
  EXPECT_FALSE(billing().refunds.refund({inv.id, 1, "requested_by_customer"}, t.actor).ok());
}

TEST_F(BillingTest, ARefundWhoseAnswerIsLostIsSettledLaterWithTheSameKey) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  sandbox().set_faults({0, 1.0, 0, 3});  // the refund happens, the answer is lost
  auto pending =
      billing().refunds.refund({inv.id, 500, "requested_by_customer", "", Json{{"ticket", "T-1"}}}, t.actor);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(pending->status, PaymentStatus::kPending);
  EXPECT_EQ(pending->version, 2);  // written pending, then the lost answer's failure code
  sandbox().set_faults({});
  run_at("2026-01-31T10:06:00Z");
  auto settled = billing().service.get_refund(pending->id);
  EXPECT_EQ(settled->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(settled->version, 3);
  EXPECT_EQ(settled->gateway, "sandbox");
  EXPECT_EQ(settled->metadata, (Json{{"ticket", "T-1"}}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_refunds"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM credit_notes"), 1);
}

TEST_F(BillingTest, ACreditNoteComesOffTheNextInvoice) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  auto note = billing().refunds.credit(
      {inv.id, 700, "product_unsatisfactory", "box arrived damaged", Json{{"ticket", "T-2"}}}, t.actor);
  ASSERT_TRUE(note.ok()) << note.error().message;
  EXPECT_EQ(note->type, "credit");
  auto stored = billing().service.get_credit_note(note->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->metadata, (Json{{"ticket", "T-2"}}));
  EXPECT_EQ(stored->version, 1);
  run_at("2026-02-28T10:00:00Z");
  auto next = invoices(sub.id).at(0);
  EXPECT_EQ(next.total, 2300);
  EXPECT_EQ(next.amount_paid, 2300);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_credited, 700);
}

TEST_F(BillingTest, ARenewalReminderIsQueuedOnceThePlansLeadTimeBeforeTheRenewal) {
  auto sub = subscriber("pm_card_visa");  // renews 2026-02-28T10:00Z; plans remind 3 days before
  auto reminders = [&] {
    return count("SELECT COUNT(*) FROM notifications WHERE template = 'renewal_reminder' AND resource_id = $1", {sub.id});
  };
  run_at("2026-02-25T09:59:59Z");
  EXPECT_EQ(reminders(), 0);
  // The next thing due is the reminder, so the test clock would stop there.
  EXPECT_EQ(*billing().runs.next_due_at(), at("2026-02-25T10:00:00Z"));
  run_at("2026-02-25T10:00:00Z");
  EXPECT_EQ(reminders(), 1);
  run_at("2026-02-26T10:00:00Z");
  EXPECT_EQ(reminders(), 1);
  // A subscription ending at its period end gets no renewal reminder.
  auto leaving = subscriber("pm_card_visa");
  ASSERT_TRUE(t.app->subscriptions().cancel(leaving.id, {true, "moving", std::nullopt}, std::nullopt, t.actor).ok());
  run_at("2026-03-29T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'renewal_reminder' AND resource_id = $1",
                  {leaving.id}),
            0);
  EXPECT_EQ(reminders(), 2);  // the first subscription's next renewal (Mar 31)
}

TEST_F(BillingTest, APrepaidBoxIsNotRemindedOfButTheChargeForAllItsBoxesIs) {
  auto plan = testing::make_plan(t, 2999, Interval::kMonth);
  std::string customer = testing::make_customer_with(t, "prepaid@example.com", "pm_card_visa");
  subscriptions::CreateInput in{customer, plan.id};
  in.prepaid_deliveries = 2;
  auto sub = t.app->subscriptions().create(in, t.actor);  // charged for Jan 31 and Feb 28
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  auto reminders = [&] {
    auto page = t.app->notifications().list(
        {.template_name = std::string("renewal_reminder"), .resource = sub->id, .page = {.limit = 10}});
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<notify::Notification>{};
  };
  run_at("2026-02-26T10:00:00Z");  // Feb 28 is the second box, paid for: nothing to remind of
  EXPECT_TRUE(reminders().empty());
  run_at("2026-03-29T10:00:00Z");  // Mar 31 charges for two boxes again
  auto sent = reminders();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].text.find(format_amount(2 * 2999, "usd")), std::string::npos) << sent[0].text;
}

TEST_F(BillingTest, ACardExpiringThisMonthIsNoticedOnce) {
  auto sub = subscriber("pm_card_expiring");
  run_at("2026-01-31T10:00:00Z");
  run_at("2026-01-31T11:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM reminders WHERE kind = 'card_expiring'"), 1);
  // The customer is told: one message, to them, about their default card.
  auto methods = t.app->customers().payment_methods(sub.customer);
  ASSERT_TRUE(methods.ok() && methods->default_id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'card_expiring' AND resource_id = $1"
                  " AND customer_id = $2",
                  {*methods->default_id, sub.customer}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'card_expiring'"), 1);
}

// A node whose card-expiring messages cannot be queued (no update-payment URL: the
// template's link cannot be built, refused before any SQL).
std::unique_ptr<app::App> node_without_payment_link(const testing::TestApp& base) {
  struct Borrowed final : Clock {
    explicit Borrowed(Clock& c) : inner(c) {}
    Timestamp now() const override { return inner.now(); }
    Clock& inner;
  };
  app::Options options{base.db_url, 4, "", ""};
  options.master_key_file = base.master_key_file;
  options.update_payment_url = "";
  auto node = app::App::open(options, std::make_unique<Borrowed>(*base.clock));
  if (!node.ok()) throw std::runtime_error(node.error().message);
  return std::move(*node);
}

TEST_F(BillingTest, ARemindersMessageThatCannotBeQueuedLeavesItUnsentAndIsCountedThenSentByTheNextRun) {
  auto sub = subscriber("pm_card_expiring");
  auto pm = t.app->customers().payment_methods(sub.customer)->default_id.value();
  auto failing = node_without_payment_link(t);
  auto run = failing->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->payments.reminders_queued, 0);
  EXPECT_EQ(run->payments.reminders_failed, 1);
  // Not marked sent: the claim rolled back with the refused message.
  EXPECT_EQ(count("SELECT COUNT(*) FROM reminders WHERE kind = 'card_expiring'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'card_expiring'"), 0);
  // The run's record says so.
  auto runs = billing().service.list_runs({.limit = 1});
  ASSERT_TRUE(runs.ok() && !runs->items.empty());
  EXPECT_EQ(runs->items[0].id, run->id);
  EXPECT_EQ(runs->items[0].payments.reminders_failed, 1);
  // A node that can queue it sends it, once.
  t.clock->set(at("2026-01-31T11:00:00Z"));
  auto next = billing().runs.run("test");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->payments.reminders_queued, 1);
  EXPECT_EQ(next->payments.reminders_failed, 0);
  run_at("2026-01-31T12:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'card_expiring' AND resource_id = $1", {pm}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM reminders WHERE kind = 'card_expiring'"), 1);
}

// --- canceling now (decision 0010) -------------------------------------------------------

TEST_F(BillingTest, CancelingNowBeforeTheFirstChargeVoidsTheInvoiceAndNoRunChargesIt) {
  auto sub = subscriber("pm_card_visa", 3570);
  auto first = invoices(sub.id).at(0);
  ASSERT_EQ(first.status, InvoiceStatus::kOpen);  // made at signup, charged by the next run
  t.clock->set(at("2026-01-31T10:00:30Z"));
  auto canceled = t.app->subscriptions().cancel(sub.id, {false, "other", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok()) << canceled.error().message;
  Invoice voided = *billing().service.get_invoice(first.id);
  EXPECT_EQ(voided.status, InvoiceStatus::kVoid);
  EXPECT_FALSE(voided.next_attempt_at.has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.voided' AND resource_id = $1", {first.id}), 1);
  run_at("2026-01-31T10:01:00Z");
  run_at("2026-02-28T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 0);
  EXPECT_EQ(invoices(sub.id).size(), 1u);
  // Its box is not shipped either.
  EXPECT_EQ(count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1 AND status <> 'canceled'", {sub.id}), 0);
}

TEST_F(BillingTest, CancelingNowWhilePastDueVoidsEveryOpenInvoiceAndEndsDunning) {
  ASSERT_TRUE(billing().service.update_dunning({std::vector<std::int64_t>{20, 40}, std::nullopt}, 1, t.actor).ok());
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");  // fails: past_due, retry in 20 days
  run_at("2026-02-28T10:00:00Z");  // renews while past_due: a second invoice, failing too
  ASSERT_EQ(sub_now(sub.id).status, Status::kPastDue);
  auto open = invoices(sub.id);
  ASSERT_EQ(open.size(), 2u);
  std::int64_t payments_before = count("SELECT COUNT(*) FROM payments");
  t.clock->set(at("2026-03-01T09:00:00Z"));
  auto canceled = t.app->subscriptions().cancel(sub.id, {false, "too_expensive", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok()) << canceled.error().message;
  for (const auto& inv : invoices(sub.id)) {
    EXPECT_EQ(inv.status, InvoiceStatus::kVoid) << inv.id;
    EXPECT_FALSE(inv.next_attempt_at.has_value());
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.voided' AND resource_id = $1", {inv.id}), 1);
  }
  // The retries that were due never happen; a new card charges nothing.
  run_at("2026-03-12T10:00:00Z");
  run_at("2026-03-20T10:00:00Z");
  run_at("2026-04-20T10:00:00Z");
  ASSERT_TRUE(
      t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor).ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), payments_before);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'"), 0);
}

TEST_F(BillingTest, DunningThatCancelsVoidsTheSubscriptionsLaterInvoicesToo) {
  ASSERT_TRUE(billing().service.update_dunning({std::vector<std::int64_t>{30}, FinalAction::kCancel}, 1, t.actor).ok());
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");  // fails; the one retry on 03-02
  run_at("2026-02-28T10:00:00Z");  // renews while past_due: the second invoice fails too (retry 03-30)
  ASSERT_EQ(invoices(sub.id).size(), 2u);
  run_at("2026-03-02T10:00:00Z");  // the first invoice's last retry fails: canceled
  ASSERT_EQ(sub_now(sub.id).status, Status::kCanceled);
  auto list = invoices(sub.id);  // newest first
  EXPECT_EQ(list[1].status, InvoiceStatus::kUncollectible);  // the one dunning gave up on
  EXPECT_EQ(list[0].status, InvoiceStatus::kVoid);           // the later one ends with the subscription
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.voided' AND resource_id = $1", {list[0].id}), 1);
  std::int64_t payments_before = count("SELECT COUNT(*) FROM payments");
  run_at("2026-03-30T10:00:00Z");  // its retry never happens
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), payments_before);
}

TEST_F(BillingTest, ACanceledSubscriptionsChargeInFlightThatSucceededIsPaidThenRefundedOnce) {
  sandbox().set_faults({0, 1.0, 0, 7});  // the charge is made, its answer lost
  auto sub = subscriber("pm_card_visa", 3570);
  run_at("2026-01-31T10:00:00Z");
  sandbox().set_faults({});
  auto inv = invoices(sub.id).at(0);
  ASSERT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'pending'", {inv.id}), 1);
  t.clock->set(at("2026-01-31T10:01:00Z"));
  ASSERT_TRUE(t.app->subscriptions().cancel(sub.id, {false, "other", std::nullopt}, std::nullopt, t.actor).ok());
  // Not voided under a charge the gateway may have made: marked, and asked about again.
  Invoice waiting = *billing().service.get_invoice(inv.id);
  EXPECT_EQ(waiting.status, InvoiceStatus::kOpen);
  EXPECT_TRUE(waiting.collection_ended);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.collection_ended' AND resource_id = $1", {inv.id}),
            1);
  run_at("2026-01-31T10:05:00Z");  // same key: the first answer, no second charge
  Invoice paid = *billing().service.get_invoice(inv.id);
  EXPECT_EQ(paid.status, InvoiceStatus::kPaid);
  EXPECT_EQ(paid.amount_paid, 3570);
  EXPECT_EQ(paid.amount_refunded, 3570);  // reserved for the refund at once
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds WHERE invoice_id = $1 AND status = 'pending'", {inv.id}), 1);
  EXPECT_EQ(sub_now(sub.id).status, Status::kCanceled);  // a payment does not bring it back
  run_at("2026-01-31T10:10:00Z");  // the run asks the gateway for the refund
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds WHERE invoice_id = $1 AND status = 'succeeded'", {inv.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_refunds"), 1);
  EXPECT_EQ(count("SELECT refunded FROM sandbox_charges WHERE idempotency_key LIKE $1", {inv.id + ":%"}), 3570);
  EXPECT_EQ(count("SELECT COUNT(*) FROM credit_notes WHERE invoice_id = $1", {inv.id}), 1);
  run_at("2026-02-28T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_refunds"), 1);
}

TEST_F(BillingTest, ACanceledSubscriptionsChargeInFlightThatFailedVoidsTheInvoiceWithoutDunning) {
  sandbox().set_faults({0, 1.0, 0, 7});
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  sandbox().set_faults({});
  auto inv = invoices(sub.id).at(0);
  t.clock->set(at("2026-01-31T10:01:00Z"));
  ASSERT_TRUE(t.app->subscriptions().cancel(sub.id, {false, "other", std::nullopt}, std::nullopt, t.actor).ok());
  run_at("2026-01-31T10:05:00Z");
  Invoice voided = *billing().service.get_invoice(inv.id);
  EXPECT_EQ(voided.status, InvoiceStatus::kVoid);
  EXPECT_FALSE(voided.next_attempt_at.has_value());
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'failed'", {inv.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.payment_failed' AND resource_id = $1", {inv.id}), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.voided' AND resource_id = $1", {inv.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed'"), 0);
  run_at("2026-02-01T10:00:00Z");  // the dunning retry that would have come
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
}

TEST_F(BillingTest, ACadenceChangeBillsTheNewPeriodWithItsDiscountAndCarriesTheRestOfTheCredit) {
  auto sub = subscriber("pm_card_visa", 4500);
  run_at("2026-01-31T10:00:00Z");
  // 20 % off the next three billed periods.
  auto offer = t.app->retention().create_offer(
      {"too_expensive", subscriptions::OfferType::kDiscount, "20% off", 20, 3, 0, std::nullopt, Json::object()}, t.actor);
  ASSERT_TRUE(offer.ok()) << offer.error().message;
  ASSERT_TRUE(t.app->subscriptions().present_offers(sub.id, "too_expensive", t.actor).ok());
  ASSERT_TRUE(t.app->subscriptions().accept_offer(sub.id, offer->id, t.actor).ok());
  run_at("2026-02-28T10:00:00Z");  // [02-28, 03-31): 3600 paid (cycle 1)
  ASSERT_EQ(invoices(sub.id).at(0).amount_paid, 3600);
  // Weekly at 2026-03-03T10:00: 28 of 31 days unused -> 3600 × 28/31 = 3251.6 -> credit 3252.
  auto weekly = testing::make_plan(t, 2200, Interval::kWeek, 1, 0, "Weekly");
  t.clock->set(at("2026-03-03T10:00:00Z"));
  auto changed = t.app->subscriptions().change_plan(sub.id, {weekly.id, std::nullopt, subscriptions::Proration::kCreate,
                                                             subscriptions::Effective::kNow},
                                                    std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  Invoice week = invoices(sub.id).at(0);
  ASSERT_EQ(week.lines.size(), 3u);
  EXPECT_EQ(week.lines[0].amount, 2200);
  EXPECT_EQ(week.lines[1].amount, -3252);
  EXPECT_EQ(week.discount, 440);  // cycle 2: the new period is discounted like any other
  EXPECT_EQ(week.lines[2].amount, 1492);  // 3252 - (2200 - 440) carried
  EXPECT_EQ(week.total, 0);
  EXPECT_EQ(count("SELECT SUM(amount) FROM pending_invoice_items WHERE subscription_id = $1", {sub.id}), -1492);
  // The next week (cycle 3): 1760 - 1492 = 268.
  run_at("2026-03-10T10:00:00Z");
  Invoice next = invoices(sub.id).at(0);
  EXPECT_EQ(next.discount, 440);
  EXPECT_EQ(next.total, 268);
  EXPECT_EQ(next.amount_paid, 268);
  // The discount is used up: full price after.
  run_at("2026-03-17T10:00:00Z");
  EXPECT_EQ(invoices(sub.id).at(0).total, 2200);
  EXPECT_FALSE(sub_now(sub.id).discount.has_value());
}

TEST_F(BillingTest, RunsWithSeveralWorkersRenewAndChargeEachSubscriptionExactlyOnce) {
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 40; ++i) subs.push_back(subscriber("pm_card_visa", 700));
  // Two nodes at the renewal: one with 4 workers (1 on SQLite), one with 1, at once.
  t.clock->set(at("2026-02-28T10:00:00Z"));
  BillingOptions options;
  options.workers = 4;
  options.batch = 7;  // several claims per worker
  auto multi = testing::reopen(t, *t.clock, 6, options);
  std::thread a([&] { EXPECT_TRUE(multi->billing().runs.run("test").ok()); });
  std::thread b([&] { EXPECT_TRUE(billing().runs.run("test").ok()); });
  a.join();
  b.join();
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE status = 'paid'"), 80);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices"), 80);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT number) FROM invoices"), 80);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE number = 'INV-000080'"), 1);  // gapless
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 80);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 80);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'subscription.renewed'"), 40);
  for (const auto& s : subs) EXPECT_EQ(invoices(s.id).size(), 2u) << s.id;
}

// Decision 0033: a run renews and charges in batches, one transaction each.
TEST_F(BillingTest, ABatchRenewsInOneTransactionAndNumbersItsInvoicesAtCommitWithoutGaps) {
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 12; ++i) subs.push_back(subscriber("pm_card_visa", 500 + i));
  run_at("2026-01-31T10:00:00Z");
  BillingOptions options;
  options.batch = 5;  // 12 renewals: batches of 5, 5 and 2
  auto node = testing::reopen(t, *t.clock, 4, options);
  t.clock->set(at("2026-02-28T10:00:00Z"));
  auto run = node->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->subscriptions_advanced, 12);
  EXPECT_EQ(run->lifecycle_failures, 0);
  EXPECT_EQ(run->payments.succeeded, 12);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE number IS NULL"), 0);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT number) FROM invoices"), 24);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE number = 'INV-000024'"), 1);  // gapless
  for (const auto& s : subs) {
    auto list = invoices(s.id);
    ASSERT_EQ(list.size(), 2u) << s.id;
    const Invoice& renewal = list[0];
    EXPECT_EQ(renewal.status, InvoiceStatus::kPaid);
    EXPECT_EQ(sandbox_charges(renewal.id), 1);
    // Its invoice.finalized, recorded at the batch's commit, shows it numbered and open.
    auto finalized = event_of(renewal.id, "invoice.finalized");
    EXPECT_EQ(finalized.after.at("number"), renewal.number);
    EXPECT_EQ(finalized.after.at("status"), "open");
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.finalized' AND resource_id = $1", {renewal.id}),
              1);
  }
}

TEST_F(BillingTest, ABatchWithABadRowIsDoneAgainOneByOneAndTheRowCostsOnlyItself) {
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 6; ++i) subs.push_back(subscriber("pm_card_visa", 900));
  run_at("2026-01-31T10:00:00Z");
  {
    // The third one's renewal invoice (period 2) exists already: its renewal fails.
    auto tx = t.app->database().begin(db::TxMode::kReadWrite);
    ASSERT_TRUE(tx.ok());
    auto put = (*tx)->exec(
        "INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, created_at, version, doc)"
        " VALUES ('in_in_the_way', NULL, $1, $2, 2, 'void', 0, 1, '{}')",
        {subs[2].id, subs[2].customer});
    ASSERT_TRUE(put.ok()) << put.error().message;
    ASSERT_TRUE((*tx)->commit().ok());
  }
  BillingOptions options;
  options.batch = 50;  // all six in one batch
  auto node = testing::reopen(t, *t.clock, 4, options);
  t.clock->set(at("2026-02-28T10:00:00Z"));
  auto run = node->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->subscriptions_advanced, 5);
  EXPECT_EQ(run->lifecycle_failures, 1);
  EXPECT_EQ(run->payments.succeeded, 5);
  for (std::size_t i = 0; i < subs.size(); ++i) {
    if (i == 2) {
      // Not renewed: still due, its renewal for the next run.
      EXPECT_EQ(
          count("SELECT COUNT(*) FROM events WHERE type = 'subscription.renewed' AND resource_id = $1", {subs[i].id}),
          0);
      EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions WHERE id = $1 AND next_action_at <= $2",
                      {subs[i].id, at("2026-02-28T10:00:00Z")}),
                1);
      continue;
    }
    EXPECT_EQ(invoices(subs[i].id).size(), 2u) << subs[i].id;
    EXPECT_EQ(invoices(subs[i].id).at(0).status, InvoiceStatus::kPaid);
  }
  // Numbers stay gapless: the batch that failed gave its numbers back.
  EXPECT_EQ(count("SELECT COUNT(DISTINCT number) FROM invoices WHERE number IS NOT NULL"), 11);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE number = 'INV-000011'"), 1);
}

TEST_F(BillingTest, ARenewalCaughtUpByAPlanChangeIsNotMistakenForTheChangesInvoice) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto yearly = testing::make_plan(t, 30000, Interval::kYear, 1, 0, "Yearly");
  // The Feb 28 renewal is due and not run: the change renews first, then starts a yearly
  // period at once (a new cadence), each with its invoice, in one transaction.
  t.clock->set(at("2026-03-01T10:00:00Z"));
  subscriptions::ChangePlanInput change{yearly.id, std::nullopt, subscriptions::Proration::kCreate,
                                        subscriptions::Effective::kNow};
  auto changed = t.app->subscriptions().change_plan(sub.id, change, std::nullopt, t.actor);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  auto list = invoices(sub.id);  // newest first
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].number, "INV-000003");
  EXPECT_EQ(list[1].number, "INV-000002");
  EXPECT_EQ(list[1].period.start, at("2026-02-28T10:00:00Z"));  // the renewal
  EXPECT_EQ(list[0].period.start, at("2026-03-01T10:00:00Z"));  // the change's new period
  auto event = event_of(sub.id, "subscription.plan_changed");
  EXPECT_EQ(event.details.at("invoice"), list[0].id);
}

TEST_F(BillingTest, AnInvoiceIssuedAndVoidedInOneTransactionIsFinalizedFirst) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  // The Feb 28 renewal is due and not run: canceling now renews first, then voids its invoice.
  t.clock->set(at("2026-03-01T10:00:00Z"));
  auto canceled = t.app->subscriptions().cancel(sub.id, {false, "other", std::nullopt}, std::nullopt, t.actor);
  ASSERT_TRUE(canceled.ok()) << canceled.error().message;
  auto list = invoices(sub.id);
  ASSERT_EQ(list.size(), 2u);
  const Invoice& renewal = list[0];
  EXPECT_EQ(renewal.status, InvoiceStatus::kVoid);
  EXPECT_EQ(renewal.number, "INV-000002");
  auto finalized = event_of(renewal.id, "invoice.finalized");
  auto voided = event_of(renewal.id, "invoice.voided");
  EXPECT_EQ(finalized.after.at("number"), "INV-000002");
  EXPECT_EQ(voided.before.at("number"), "INV-000002");
  EXPECT_LT(finalized.id, voided.id);  // ids are time-ordered: finalized, then voided
}

TEST_F(BillingTest, AGatewayTimeoutInsideABatchLeavesOnlyThatInvoicePending) {
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 10; ++i) subs.push_back(subscriber("pm_card_visa", 1200));
  BillingOptions options;
  options.batch = 50;  // the ten charges in one batch
  auto node = testing::reopen(t, *t.clock, 4, options);
  auto& gateway = *dynamic_cast<SandboxGateway*>(node->gateways().find("sandbox"));
  gateway.set_faults({0, 0.3, 0, 11});  // some charges are made and their answers lost (seeded)
  t.clock->set(at("2026-01-31T10:00:00Z"));
  auto run = node->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  const std::int64_t pending = count("SELECT COUNT(*) FROM payments WHERE status = 'pending'");
  ASSERT_GT(pending, 0) << "the seed lost no answer: the test proves nothing";
  ASSERT_LT(pending, 10);
  EXPECT_EQ(run->payments.unknown, pending);
  EXPECT_EQ(run->payments.succeeded, 10 - pending);
  for (const auto& s : subs) {
    const Invoice inv = invoices(s.id).at(0);
    const std::int64_t waits =
        count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'pending'", {inv.id});
    // Lost: still open with its payment pending; answered: paid. Charged once either way.
    EXPECT_EQ(inv.status, waits ? InvoiceStatus::kOpen : InvoiceStatus::kPaid) << inv.id;
    EXPECT_EQ(sandbox_charges(inv.id), 1) << inv.id;
  }
  gateway.set_faults({});
  t.clock->set(at("2026-01-31T10:05:00Z"));  // asked again with the same keys
  ASSERT_TRUE(node->billing().runs.run("test").ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE status = 'paid'"), 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 10);
}

TEST_F(BillingTest, ASlowGatewayCutsABatchShortAndItsRestIsChargedInTheSameRun) {
  for (int i = 0; i < 8; ++i) subscriber("pm_card_visa", 1200);
  BillingOptions options;
  options.batch = 50;                 // the eight charges claimed in one batch
  options.attempt_lease_seconds = 1;  // asked for half a second: about three of them
  auto node = testing::reopen(t, *t.clock, 4, options);
  auto& gateway = *dynamic_cast<SandboxGateway*>(node->gateways().find("sandbox"));
  gateway.set_faults({0, 0, 0, 1, 200});  // every charge takes 200 ms
  t.clock->set(at("2026-01-31T10:00:00Z"));
  auto run = node->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  // The claims not asked were given back, not held for the lease: claimed again and charged
  // in this run, each once.
  EXPECT_EQ(run->payments.succeeded, 8);
  EXPECT_EQ(run->payments.unknown, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE status = 'paid'"), 8);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"), 8);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 8);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges"), 8);
}

TEST_F(BillingTest, AJumpInTheFailureRateAlertsTheOperatorsByEmail) {
  for (int i = 0; i < 10; ++i) subscriber("pm_card_visa");
  auto calm = run_at("2026-01-31T10:00:00Z");
  EXPECT_EQ(calm.payments.succeeded, 10);
  EXPECT_FALSE(calm.failure_rate_alert);
  // Ten more whose cards all decline: 100 % failed against 0 % in the runs before.
  for (int i = 0; i < 10; ++i) subscriber("pm_card_chargeDeclined");
  BillingOptions options;
  options.ops_email = "ops@example.com";
  auto node = testing::reopen(t, *t.clock, 4, options);
  t.clock->set(at("2026-01-31T11:00:00Z"));
  auto bad = node->billing().runs.run("test");
  ASSERT_TRUE(bad.ok()) << bad.error().message;
  EXPECT_EQ(bad->payments.failed, 10);
  EXPECT_TRUE(bad->failure_rate_alert);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'billing.failure_rate_high' AND resource_id = $1", {bad->id}), 1);
  auto page = node->notifications().list({});
  ASSERT_TRUE(page.ok());
  int alerts = 0;
  for (const auto& n : page->items) {
    if (n.template_name != "billing_failure_rate") continue;
    ++alerts;
    EXPECT_EQ(n.to, "ops@example.com");
    EXPECT_EQ(n.resource, bad->id);
    EXPECT_NE(n.text.find("100 %"), std::string::npos) << n.text;
  }
  EXPECT_EQ(alerts, 1);
  // The next run's retries fail as usual now: no second alert.
  t.clock->set(at("2026-02-01T11:00:00Z"));
  auto again = node->billing().runs.run("test");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->payments.failed, 10);
  EXPECT_FALSE(again->failure_rate_alert);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'billing_failure_rate'"), 1);
}

TEST_F(BillingTest, TaxFollowsTheCountryTheBoxShipsTo) {
  auto rates = parse_tax_rates(Json{{"de", 1900}, {"US", 825}});
  ASSERT_TRUE(rates.ok()) << rates.error().message;
  auto saved = billing().service.update_tax(*rates, 1, t.actor);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  EXPECT_EQ(saved->rates_bp.at("DE"), 1900);
  auto plan = testing::make_plan(t, 1000, Interval::kMonth);
  customers::Address berlin{"Unter den Linden 1", std::nullopt, "Berlin", "10117", std::nullopt, "DE"};
  auto customer = t.app->customers().create({"de@example.com", "Emmy", std::nullopt, berlin, Json::object()}, t.actor);
  ASSERT_TRUE(customer.ok());
  ASSERT_TRUE(t.app->customers().attach_payment_method(customer->id, {std::nullopt, "pm_card_visa", false}, t.actor).ok());
  auto sub = testing::subscribe(t, customer->id, plan.id);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.subtotal, 1000);
  EXPECT_EQ(inv.tax, 190);
  EXPECT_EQ(inv.total, 1190);
  EXPECT_EQ(inv.amount_paid, 1190);
  // A country without a rate, or no address, pays none; a bad table is refused whole.
  auto other = subscriber("pm_card_visa", 1000);
  EXPECT_EQ(invoices(other.id).at(0).tax, 0);
  EXPECT_FALSE(parse_tax_rates(Json{{"DEU", 1900}}).ok());
  EXPECT_FALSE(parse_tax_rates(Json{{"FR", 10001}}).ok());
  EXPECT_FALSE(billing().service.update_tax({}, 1, t.actor).ok());  // stale version
}

TEST_F(BillingTest, DunningSettingsRefuseABadScheduleAndAStaleVersion) {
  auto bad = billing().service.update_dunning({std::vector<std::int64_t>{3, 2}, std::nullopt}, 1, t.actor);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  auto good = billing().service.update_dunning({std::vector<std::int64_t>{2, 4}, FinalAction::kUnpaid}, 1, t.actor);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->version, 2);
  auto stale = billing().service.update_dunning({std::nullopt, FinalAction::kCancel}, 1, t.actor);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(billing().service.dunning()->final_action, FinalAction::kUnpaid);
}

TEST_F(BillingTest, VoidingAnOpenInvoiceStopsItsRetries) {
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  auto voided = billing().service.void_invoice(inv.id, t.actor);
  ASSERT_TRUE(voided.ok()) << voided.error().message;
  EXPECT_EQ(voided->status, InvoiceStatus::kVoid);
  run_at("2026-02-01T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {inv.id}), 1);
  auto again = billing().service.void_invoice(inv.id, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "invoice_not_voidable");
}

// --- gateway webhooks ------------------------------------------------------------------

// The sandbox's webhooks (Stripe Event objects, signed like Stripe's) delivered to a node
// that accepts them, as a test-mode server does.
class WebhookTest : public BillingTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    BillingOptions options;
    options.sandbox_webhooks = true;
    node = testing::reopen(t, *t.clock, 8, options);
  }
  Result<WebhookReceipt> deliver(const Json& event, std::string_view secret = kSandboxWebhookSecret) {
    std::string body = event.dump();
    return node->billing().webhooks.receive_webhook(
        "sandbox", {{"sandbox-signature", sign_timestamped(secret, t.clock->now(), body)}}, body);
  }
  std::string outcome(const Json& event) {
    auto r = deliver(event);
    if (!r.ok()) return "error: " + r.error().message;
    return r->duplicate ? "duplicate" : r->outcome;
  }
  std::string text(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok() && !rows->empty());
    return rows.ok() && !rows->empty() ? rows->at(0).text(0) : "";
  }
  Payment only_payment(const std::string& invoice) {
    auto page = billing().service.list_payments({invoice,  std::nullopt, {}, {.limit = 10}});
    EXPECT_EQ(page->items.size(), 1u);
    return page->items.at(0);
  }
  // A pending charge of `token` whose answer the sandbox lost; faults are off again after.
  std::pair<Invoice, Payment> lost_answer(const std::string& token) {
    sandbox().set_faults({0, 1.0, 0, 7});
    auto sub = subscriber(token);
    run_at("2026-01-31T10:00:00Z");
    sandbox().set_faults({});
    Invoice inv = invoices(sub.id).at(0);
    Payment pay = only_payment(inv.id);
    EXPECT_EQ(pay.status, PaymentStatus::kPending);
    return {inv, pay};
  }
  // A payment_intent event as Stripe (and the sandbox) sends it, about `pay`'s charge.
  Json intent_event(const std::string& id, const std::string& type, const Payment& pay, bool with_payment = true) {
    std::string charge = text("SELECT charge_id FROM sandbox_charges WHERE idempotency_key = $1", {pay.idempotency_key});
    Json metadata = {{"invoice", pay.invoice}};
    if (with_payment) metadata["payment"] = pay.id;
    bool ok = type == "payment_intent.succeeded";
    Json intent = {{"id", charge},
                   {"object", "payment_intent"},
                   {"amount", pay.amount},
                   {"currency", pay.currency},
                   {"created", t.clock->now()},
                   {"status", ok ? "succeeded" : "requires_payment_method"},
                   {"metadata", metadata},
                   {"last_payment_error", ok ? Json(nullptr) : Json{{"type", "card_error"}, {"code", "card_declined"}}}};
    return {{"id", id}, {"object", "event"}, {"type", type}, {"data", {{"object", intent}}}};
  }
  std::int64_t notifications(const std::string& templ, const std::string& invoice) {
    return count("SELECT COUNT(*) FROM notifications WHERE template = $1 AND resource_id = $2", {templ, invoice});
  }

  std::unique_ptr<app::App> node;
};

TEST_F(WebhookTest, ATimedOutChargeIsSettledByItsSignedWebhookOnceWithOneReceipt) {
  auto [inv, pay] = lost_answer("pm_card_visa");
  t.clock->set(at("2026-01-31T10:01:00Z"));
  Json event = intent_event("evt_ok_1", "payment_intent.succeeded", pay);
  auto first = deliver(event);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->duplicate);
  EXPECT_EQ(first->outcome, "settled");
  Invoice paid = *billing().service.get_invoice(inv.id);
  EXPECT_EQ(paid.status, InvoiceStatus::kPaid);
  EXPECT_EQ(paid.amount_paid, pay.amount);
  EXPECT_EQ(*paid.paid_at, at("2026-01-31T10:01:00Z"));
  Payment settled = *billing().service.get_payment(pay.id);
  EXPECT_EQ(settled.status, PaymentStatus::kSucceeded);
  EXPECT_EQ(settled.gateway_reference, event["data"]["object"]["id"].get<std::string>());
  EXPECT_EQ(notifications("receipt", inv.id), 1);
  // Redelivered: recorded once, nothing changes.
  auto again = deliver(event);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  // The run that would have asked again finds nothing to do and charges nothing more.
  run_at("2026-01-31T10:05:00Z");
  EXPECT_EQ(sandbox_charges(inv.id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {inv.id}), 1);
  EXPECT_EQ(notifications("receipt", inv.id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.paid' AND resource_id = $1", {inv.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gateway_events WHERE gateway = 'sandbox' AND event_id = 'evt_ok_1'"
                  " AND outcome = 'settled' AND resource_id = $1",
                  {pay.id}),
            1);
}

TEST_F(WebhookTest, TheSameEventsDeliveredConcurrentlySettleThePaymentOnce) {
  auto [inv, pay] = lost_answer("pm_card_visa");
  // Two deliveries of one event, and two of another event about the same charge that only
  // names the invoice (as Square's do).
  Json by_payment = intent_event("evt_a", "payment_intent.succeeded", pay);
  Json by_invoice = intent_event("evt_b", "payment_intent.succeeded", pay, false);
  auto outcomes = testing::race(4, [&](int i) { return outcome(i % 2 == 0 ? by_payment : by_invoice); });
  auto tally = testing::tally(outcomes);
  EXPECT_EQ(tally["settled"], 1) << ::testing::PrintToString(outcomes);
  EXPECT_EQ(tally["already_settled"], 1) << ::testing::PrintToString(outcomes);
  EXPECT_EQ(tally["duplicate"], 2) << ::testing::PrintToString(outcomes);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_paid, pay.amount);
  EXPECT_EQ(notifications("receipt", inv.id), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'payment.succeeded' AND resource_id = $1", {pay.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gateway_events"), 2);
}

TEST_F(WebhookTest, AWebhookForAnAlreadySettledPaymentChangesNothing) {
  auto sub = subscriber("pm_card_visa");
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = invoices(sub.id).at(0);
  Payment pay = only_payment(inv.id);
  ASSERT_EQ(pay.status, PaymentStatus::kSucceeded);
  std::int64_t events_before = count("SELECT COUNT(*) FROM events");
  // A late (or forged-by-mistake) failure for a charge Recur recorded as paid.
  auto r = deliver(intent_event("evt_late", "payment_intent.payment_failed", pay));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->outcome, "already_settled");
  EXPECT_EQ(billing().service.get_invoice(inv.id)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(billing().service.get_payment(pay.id)->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
  EXPECT_EQ(notifications("payment_failed", inv.id), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), events_before);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gateway_events WHERE outcome = 'already_settled'"), 1);
  // An event Recur does not act on is recorded and ignored; one about no known charge too.
  EXPECT_EQ(outcome({{"id", "evt_other"}, {"type", "customer.updated"}, {"data", {{"object", {{"id", "cus_1"}}}}}}),
            "ignored");
  Json stranger = intent_event("evt_stranger", "payment_intent.succeeded", pay, false);
  stranger["data"]["object"]["id"] = "pi_unknown";
  stranger["data"]["object"]["metadata"] = Json::object();
  EXPECT_EQ(outcome(stranger), "unmatched");
  EXPECT_EQ(count("SELECT COUNT(*) FROM events"), events_before);
}

TEST_F(WebhookTest, AFailedPaymentEventEntersDunningOnce) {
  auto [inv, pay] = lost_answer("pm_card_chargeDeclined");
  EXPECT_NE(sub_now(inv.subscription).status, Status::kPastDue);  // not while the answer is unknown
  Json failed = intent_event("evt_fail", "payment_intent.payment_failed", pay);
  EXPECT_EQ(outcome(failed), "settled");
  EXPECT_EQ(outcome(failed), "duplicate");
  Json redelivered_as_new = intent_event("evt_fail_2", "payment_intent.payment_failed", pay);
  EXPECT_EQ(outcome(redelivered_as_new), "already_settled");
  Invoice open = *billing().service.get_invoice(inv.id);
  EXPECT_EQ(open.status, InvoiceStatus::kOpen);
  EXPECT_EQ(open.attempt_count, 1);
  EXPECT_EQ(*open.next_attempt_at, at("2026-02-01T10:00:00Z"));  // the dunning schedule's first retry
  EXPECT_EQ(billing().service.get_payment(pay.id)->failure_code, "card_declined");
  EXPECT_EQ(sub_now(inv.subscription).status, Status::kPastDue);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.payment_failed' AND resource_id = $1", {inv.id}), 1);
  // (The payment_failed e-mail needs an update-payment URL, which the test app has none of.)
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'payment.failed' AND resource_id = $1", {pay.id}), 1);
  // The next run keeps to the schedule: no new attempt before the retry is due.
  run_at("2026-01-31T10:05:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {inv.id}), 1);
}

TEST_F(WebhookTest, ABadOrStaleSignatureOrATestOnlyGatewayChangesNothing) {
  auto [inv, pay] = lost_answer("pm_card_visa");
  Json event = intent_event("evt_forged", "payment_intent.succeeded", pay);
  auto forged = deliver(event, "whsec_guess");
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().kind, ErrorKind::kUnauthorized);
  EXPECT_EQ(forged.error().code, "invalid_signature");
  std::string body = event.dump();
  auto stale = node->billing().webhooks.receive_webhook(
      "sandbox", {{"sandbox-signature", sign_timestamped(kSandboxWebhookSecret, t.clock->now() - 301, body)}}, body);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::kUnauthorized);
  // A node outside test mode takes no sandbox webhooks, signed or not; unknown gateways neither.
  auto outside = billing().webhooks.receive_webhook(
      "sandbox", {{"sandbox-signature", sign_timestamped(kSandboxWebhookSecret, t.clock->now(), body)}}, body);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(node->billing().webhooks.receive_webhook("paypal", {}, body).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(billing().service.get_payment(pay.id)->status, PaymentStatus::kPending);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->status, InvoiceStatus::kOpen);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gateway_events"), 0);
}

TEST_F(WebhookTest, ARefundWhoseAnswerIsLostIsSettledByItsWebhook) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = invoices(sub.id).at(0);
  sandbox().set_faults({0, 1.0, 0, 3});
  auto pending = billing().refunds.refund({inv.id, 500, "requested_by_customer"}, t.actor);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  ASSERT_EQ(pending->status, PaymentStatus::kPending);
  sandbox().set_faults({});
  std::string refund_id = text("SELECT refund_id FROM sandbox_refunds");
  Json refund = {{"id", refund_id}, {"object", "refund"}, {"amount", 500}, {"currency", "usd"},
                 {"payment_intent", only_payment(inv.id).gateway_reference}, {"status", "succeeded"}};
  Json event = {{"id", "evt_re"}, {"type", "refund.updated"}, {"data", {{"object", refund}}},
                {"request", {{"id", "req_1"}, {"idempotency_key", "refund:" + pending->id}}}};
  EXPECT_EQ(outcome(event), "settled");
  auto settled = billing().service.get_refund(pending->id);
  EXPECT_EQ(settled->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(settled->gateway_reference, refund_id);
  run_at("2026-01-31T10:06:00Z");  // the run that would have asked again
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_refunds"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM credit_notes"), 1);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_refunded, 500);
}

TEST_F(WebhookTest, ADisputeOfAChargeRecurDidNotMakeIsRecordedAsAnEventOnly) {
  Json dispute = {{"id", "du_x"}, {"object", "dispute"}, {"amount", 1000}, {"currency", "usd"},
                  {"payment_intent", "pi_not_ours"}, {"reason", "fraudulent"}};
  EXPECT_EQ(outcome({{"id", "evt_dx"}, {"type", "charge.dispute.created"}, {"data", {{"object", dispute}}}}),
            "dispute_recorded_unmatched");
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'payment.disputed' AND resource_id = 'pi_not_ours'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM disputes"), 0);
  dispute["status"] = "lost";
  EXPECT_EQ(outcome({{"id", "evt_dx2"}, {"type", "charge.dispute.closed"}, {"data", {{"object", dispute}}}}),
            "dispute_unmatched");
}

// Disputes that act (decision 0021): the fixture's operators get the alerts.
class DisputeTest : public WebhookTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    BillingOptions options;
    options.sandbox_webhooks = true;
    options.ops_email = "ops@example.com";
    node = testing::reopen(t, *t.clock, 8, options);
    sub = subscriber("pm_card_visa");
    run_at("2026-01-31T10:00:00Z");
    inv = invoices(sub.id).at(0);
    pay = only_payment(inv.id);
    ASSERT_EQ(inv.status, InvoiceStatus::kPaid);
  }
  // A Stripe dispute event about `pay`'s charge ("" status: opened).
  std::string notice(const std::string& event_id, const std::string& status, std::int64_t amount = -1) {
    Json dispute = {{"id", "du_1"}, {"object", "dispute"}, {"amount", amount < 0 ? pay.amount : amount},
                    {"currency", "usd"}, {"payment_intent", pay.gateway_reference}, {"reason", "fraudulent"},
                    {"status", status.empty() ? "needs_response" : status}};
    return outcome({{"id", event_id},
                    {"type", status.empty() ? "charge.dispute.created" : "charge.dispute.closed"},
                    {"data", {{"object", dispute}}}});
  }
  Invoice invoice_now() { return *billing().service.get_invoice(inv.id); }
  std::int64_t boxes() { return count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1", {sub.id}); }
  std::int64_t disputes(const std::string& status) {
    return count("SELECT COUNT(*) FROM disputes WHERE invoice_id = $1 AND status = $2", {inv.id, status});
  }
  std::string dispute_id() { return text("SELECT id FROM disputes WHERE invoice_id = $1", {inv.id}); }
  bool set_on_open(const std::string& action) {
    auto current = billing().service.dispute_settings();
    auto set = billing().service.update_dispute_settings(*dispute_on_open_from(action), current->version, t.actor);
    return set.ok();
  }

  subscriptions::Subscription sub;
  Invoice inv;
  Payment pay;
};

TEST_F(DisputeTest, OpeningPausesTheSubscriptionHoldsTheAmountAndTellsTheOperatorsOnce) {
  const std::int64_t boxes_before = boxes();
  EXPECT_EQ(notice("evt_open", ""), "dispute_opened");
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);
  Invoice held = invoice_now();
  EXPECT_EQ(held.status, InvoiceStatus::kPaid);
  EXPECT_EQ(held.amount_disputed, pay.amount);
  EXPECT_EQ(held.amount_disputed_lost, 0);
  EXPECT_EQ(held.amount_paid, pay.amount);
  EXPECT_EQ(disputes("open"), 1);
  const std::string dp = dispute_id();
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'dispute.created' AND resource_id = $1", {dp}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'payment.disputed' AND resource_id = $1", {pay.id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'dispute_opened' AND resource_id = $1", {dp}), 1);
  auto page = node->notifications().list({});
  ASSERT_TRUE(page.ok());
  for (const auto& n : page->items)
    if (n.template_name == "dispute_opened") {
      EXPECT_EQ(n.to, "ops@example.com");
    }
  auto paused = event_of(sub.id, "subscription.paused");
  EXPECT_EQ(paused.details.at("reason"), "payment_disputed");
  EXPECT_EQ(paused.details.at("invoice"), inv.id);
  // The same event again, and another event about the same dispute: nothing doubles.
  EXPECT_EQ(notice("evt_open", ""), "duplicate");
  EXPECT_EQ(notice("evt_open_again", ""), "dispute_unchanged");
  EXPECT_EQ(invoice_now().amount_disputed, pay.amount);
  EXPECT_EQ(disputes("open"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'dispute.created'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'dispute_opened'"), 1);
  // Nothing held by a dispute can be refunded meanwhile.
  EXPECT_FALSE(billing().refunds.refund({inv.id, 100, "requested_by_customer"}, t.actor).ok());
  // Paused: the next periods are neither invoiced nor shipped.
  run_at("2026-03-05T10:00:00Z");
  run_at("2026-04-05T10:00:00Z");
  EXPECT_EQ(invoices(sub.id).size(), 1u);
  EXPECT_EQ(boxes(), boxes_before);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);
}

TEST_F(DisputeTest, AWonDisputeReleasesTheAmountAndResumesTheSubscription) {
  ASSERT_EQ(notice("evt_open", ""), "dispute_opened");
  const std::int64_t boxes_before = boxes();
  t.clock->set(at("2026-03-05T10:00:00Z"));  // past the paid period: resuming starts a new one
  EXPECT_EQ(notice("evt_won", "won"), "dispute_won");
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
  Invoice after = invoice_now();
  EXPECT_EQ(after.amount_disputed, 0);
  EXPECT_EQ(after.amount_disputed_lost, 0);
  EXPECT_EQ(disputes("won"), 1);
  const std::string dp = dispute_id();
  auto closed = event_of(dp, "dispute.closed");
  EXPECT_EQ(closed.details.at("resumed"), true);
  EXPECT_EQ(closed.before.at("status"), "open");
  EXPECT_EQ(closed.after.at("status"), "won");
  EXPECT_EQ(event_of(sub.id, "subscription.resumed").details.at("reason"), "dispute_won");
  // The new period is invoiced (and its box reserved) as after a resumption by hand.
  EXPECT_EQ(invoices(sub.id).size(), 2u);
  EXPECT_EQ(boxes(), boxes_before + 1);
  // A replayed or a contrary late notice changes nothing.
  EXPECT_EQ(notice("evt_won", "won"), "duplicate");
  EXPECT_EQ(notice("evt_lost_late", "lost"), "dispute_unchanged");
  EXPECT_EQ(notice("evt_open_late", ""), "dispute_unchanged");
  EXPECT_EQ(invoice_now().amount_disputed_lost, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'dispute.closed'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'subscription.resumed'"), 1);
}

TEST_F(DisputeTest, AWinLeavesAPauseMadeByHandSinceAlone) {
  ASSERT_EQ(notice("evt_open", ""), "dispute_opened");
  t.clock->advance(3600);
  ASSERT_TRUE(t.app->subscriptions().resume(sub.id, std::nullopt, t.actor).ok());
  t.clock->advance(3600);
  ASSERT_TRUE(t.app->subscriptions().pause(sub.id, std::nullopt, std::nullopt, t.actor).ok());
  EXPECT_EQ(notice("evt_won", "won"), "dispute_won");
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);  // the merchant's own pause stays
  EXPECT_EQ(event_of(dispute_id(), "dispute.closed").details.at("resumed"), false);
}

TEST_F(DisputeTest, ALostDisputeRecordsTheMoneyGoneAndRevenueDropsByIt) {
  ASSERT_EQ(notice("evt_open", ""), "dispute_opened");
  EXPECT_EQ(notice("evt_lost", "lost", 2000), "dispute_lost");  // the amount opened with stays the dispute's
  Invoice after = invoice_now();
  EXPECT_EQ(after.amount_disputed, 0);
  EXPECT_EQ(after.amount_disputed_lost, pay.amount);
  EXPECT_EQ(after.amount_paid, pay.amount);
  EXPECT_EQ(after.status, InvoiceStatus::kPaid);
  EXPECT_EQ(creditable(after), 0);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);  // lost: the merchant decides
  EXPECT_EQ(disputes("lost"), 1);
  const std::string dp = dispute_id();
  // Analytics: the lost amount is taken off like a refund, once.
  EXPECT_EQ(count("SELECT COUNT(*) FROM analytics_refunds WHERE refund_id = $1 AND amount = $2", {dp, pay.amount}), 1);
  EXPECT_EQ(notice("evt_lost_again", "lost"), "dispute_unchanged");
  EXPECT_EQ(notice("evt_won_late", "won"), "dispute_unchanged");
  EXPECT_EQ(invoice_now().amount_disputed_lost, pay.amount);
  EXPECT_EQ(count("SELECT COUNT(*) FROM analytics_refunds"), 1);
}

TEST_F(DisputeTest, AClosingNoticeBeforeTheOpeningOneActsOnceAndPausesNothing) {
  EXPECT_EQ(notice("evt_lost", "lost"), "dispute_lost");
  EXPECT_EQ(notice("evt_open_late", ""), "dispute_unchanged");
  Invoice after = invoice_now();
  EXPECT_EQ(after.amount_disputed, 0);
  EXPECT_EQ(after.amount_disputed_lost, pay.amount);
  EXPECT_EQ(sub_now(sub.id).status, Status::kActive);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'dispute.created'"), 0);
  auto closed = event_of(dispute_id(), "dispute.closed");
  EXPECT_TRUE(closed.before.is_null());
  EXPECT_EQ(count("SELECT COUNT(*) FROM analytics_refunds WHERE refund_id = $1", {dispute_id()}), 1);
}

TEST_F(DisputeTest, TheSettingChoosesCancelOrNothing) {
  ASSERT_TRUE(set_on_open("cancel"));
  EXPECT_EQ(notice("evt_open", ""), "dispute_opened");
  auto canceled = sub_now(sub.id);
  EXPECT_EQ(canceled.status, Status::kCanceled);
  ASSERT_TRUE(canceled.cancellation.has_value());
  EXPECT_EQ(canceled.cancellation->reason, "payment_disputed");
  EXPECT_EQ(text("SELECT doc FROM disputes WHERE invoice_id = $1", {inv.id}).find("\"canceled\"") != std::string::npos,
            true);
  // Won afterwards: a canceled subscription stays canceled.
  EXPECT_EQ(notice("evt_won", "won"), "dispute_won");
  EXPECT_EQ(sub_now(sub.id).status, Status::kCanceled);

  // none: the subscription goes on.
  ASSERT_TRUE(set_on_open("none"));
  auto other = subscriber("pm_card_visa");
  run_at("2026-01-31T11:00:00Z");
  Payment other_pay = only_payment(invoices(other.id).at(0).id);
  Json dispute = {{"id", "du_2"}, {"object", "dispute"}, {"amount", other_pay.amount}, {"currency", "usd"},
                  {"payment_intent", other_pay.gateway_reference}, {"reason", "general"}};
  EXPECT_EQ(outcome({{"id", "evt_open2"}, {"type", "charge.dispute.created"}, {"data", {{"object", dispute}}}}),
            "dispute_opened");
  EXPECT_EQ(sub_now(other.id).status, Status::kActive);
  EXPECT_EQ(invoices(other.id).at(0).amount_disputed, other_pay.amount);
}

TEST_F(DisputeTest, TheSettingsAreVersioned) {
  auto s = billing().service.dispute_settings();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->on_open, DisputeOnOpen::kPause);
  EXPECT_EQ(s->version, 1);
  auto set = billing().service.update_dispute_settings(DisputeOnOpen::kNone, 1, t.actor);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->version, 2);
  auto stale = billing().service.update_dispute_settings(DisputeOnOpen::kCancel, 1, t.actor);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, "version_conflict");
  EXPECT_EQ(billing().service.dispute_settings()->on_open, DisputeOnOpen::kNone);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'settings.disputes_updated'"), 1);
}

// PayPal's webhooks, end to end through the settle-once path: a PayPal added to the app whose
// transport plays PayPal (token, vault, orders, and verify-webhook-signature answering as
// `verification` says).
class PayPalWebhookTest : public BillingTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    gateways::PayPalConfig config;
    config.api_base = "https://paypal.invalid";
    config.client_id = "AZ_test";
    config.client_secret = "EL_test";
    config.webhook_id = "1JE4291016473214C";
    t.app->gateways().add(std::make_unique<gateways::PayPalGateway>(
        config, [this](const net::HttpRequest& r) -> Result<net::HttpResponse> {
          if (r.url.ends_with("/v1/oauth2/token"))
            return net::HttpResponse{200, {}, R"({"access_token":"A21AA","token_type":"Bearer","expires_in":32400})"};
          if (r.url.ends_with("/v3/vault/payment-tokens")) return net::HttpResponse{200, {}, vaulted};
          if (r.url.ends_with("/v2/checkout/orders/5O2") && r.method == "GET")
            return net::HttpResponse{200, {}, R"({"id":"5O2","status":")" + waiting_order + R"("})"};
          if (r.url.ends_with("/v2/checkout/orders/5O2/capture")) {
            ++order_captures;
            return net::HttpResponse{201, {}, R"({"id":"5O2","status":"COMPLETED","purchase_units":[{"payments":)"
                                              R"({"captures":[{"id":"3CW","status":"COMPLETED"}]}}]})"};
          }
          if (r.url.ends_with("/v2/checkout/orders") && payer_action) {
            orders.push_back(Json::parse(r.body));
            return net::HttpResponse{200, {}, R"({"id":"5O2","status":"PAYER_ACTION_REQUIRED","links":[)"
                                              R"({"href":"https://www.paypal.com/checkoutnow?token=5O2","rel":"payer-action"}]})"};
          }
          if (r.url.ends_with("/v2/checkout/orders")) {
            orders.push_back(Json::parse(r.body));
            std::string capture = "3C" + std::to_string(++captures);
            return net::HttpResponse{201, {}, R"({"id":"5O1","status":"COMPLETED","purchase_units":[{"payments":)"
                                              R"({"captures":[{"id":")" + capture + R"(","status":"COMPLETED"}]}}]})"};
          }
          if (r.url.ends_with("/v1/notifications/verify-webhook-signature")) {
            ++verifications;
            if (verification.empty()) return Error::unavailable("timeout", "no answer");
            return net::HttpResponse{200, {}, R"({"verification_status":")" + verification + R"("})"};
          }
          return net::HttpResponse{404, {}, R"({"name":"RESOURCE_NOT_FOUND"})"};
        }));
  }
  Result<WebhookReceipt> deliver(const Json& event) {
    std::string body = event.dump();
    return billing().webhooks.receive_webhook("paypal",
                                              {{"paypal-auth-algo", "SHA256withRSA"},
                                               {"paypal-cert-url", "https://api-m.paypal.com/v1/notifications/certs/C"},
                                               {"paypal-transmission-id", "t-" + event.value("id", "")},
                                               {"paypal-transmission-sig", "sig"},
                                               {"paypal-transmission-time", "2026-01-31T10:00:00Z"}},
                                              body);
  }
  static Json dispute_event(const std::string& id, const std::string& type, const std::string& capture,
                            std::int64_t amount, const std::string& outcome = "") {
    Json dispute = {{"dispute_id", "PP-D-1"},
                    {"reason", "UNAUTHORISED"},
                    {"dispute_amount", {{"currency_code", "USD"}, {"value", std::to_string(amount / 100) + "." + std::to_string(100 + amount % 100).substr(1)}}},
                    {"disputed_transactions", {{{"seller_transaction_id", capture}}}}};
    if (!outcome.empty()) dispute["dispute_outcome"] = {{"outcome_code", outcome}};
    return {{"id", id}, {"event_type", type}, {"resource_type", "dispute"}, {"resource", dispute}};
  }

  int captures = 0;
  int verifications = 0;
  std::string verification = "SUCCESS";
  // What the vault answers for a setup token, and the orders sent.
  std::string vaulted = R"({"id":"8kk8451t","payment_source":{"card":{"brand":"VISA",)"
                        R"("last_digits":"1111","expiry":"2030-02"}}})";
  std::vector<Json> orders;
  // Orders wait for the payer (PAYER_ACTION_REQUIRED) until `waiting_order` says APPROVED.
  bool payer_action = false;
  std::string waiting_order = "PAYER_ACTION_REQUIRED";
  int order_captures = 0;

  // A customer paying with the PayPal token the vault answers, subscribed to a 29.99 plan,
  // and the run that charges the first invoice.
  std::pair<customers::Customer, subscriptions::Subscription> renewing_with_paypal() {
    auto plan = testing::make_plan(t, 2999, Interval::kMonth);
    auto customer = testing::make_customer(t, "pp@example.com");
    auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("paypal"), "5C991763VB2781612", true},
                                                        t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    auto sub = testing::subscribe(t, customer.id, plan.id);
    run_at("2026-01-31T10:00:00Z");
    return {customer, sub};
  }
};

TEST_F(PayPalWebhookTest, AnOrderGivenUpButCapturedByTheCustomerAtTheSameMomentIsKeptOrRefundedNeverLost) {
  payer_action = true;
  auto [customer, sub] = renewing_with_paypal();
  const std::string inv_id = invoices(sub.id).at(0).id;
  const Payment waiting = billing().service.list_payments({inv_id, std::nullopt, {}, {.limit = 10}})->items.at(0);
  ASSERT_EQ(waiting.status, PaymentStatus::kRequiresAction);
  // The deadline: the order still waits, so it is given up (certain: only Recur captures).
  run_at("2026-02-08T10:00:00Z");
  auto given_up = billing().service.get_payment(waiting.id);
  ASSERT_TRUE(given_up.ok());
  ASSERT_EQ(given_up->status, PaymentStatus::kFailed);
  EXPECT_EQ(given_up->failure_code, "authentication_required");
  // ... while the customer's confirm, which read the payment still waiting, captured it.
  auto captured = [&](const std::string& payment, const std::string& capture) {
    return db::transact(t.app->database(), [&](db::Tx& tx) {
      return billing().collector.settle_payment(tx, inv_id, payment, {Outcome::kSucceeded, capture, "", ""},
                                                t.clock->now());
    });
  };
  auto kept = captured(waiting.id, "3CLATE");
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  // The invoice still owed it: the money pays it.
  Invoice paid = invoices(sub.id).at(0);
  EXPECT_EQ(paid.status, InvoiceStatus::kPaid);
  EXPECT_EQ(paid.amount_paid, 2999);
  EXPECT_EQ(billing().service.get_payment(waiting.id)->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds"), 0);
  // A second success for the paid invoice (another attempt that also went through) is given back.
  Payment second = waiting;
  second.id = "pay_second";
  second.attempt = 9;
  second.status = PaymentStatus::kPending;
  second.idempotency_key = inv_id + ":attempt:9";
  auto inserted = db::transact(t.app->database(), [&](db::Tx& tx) { return insert_payment(tx, second, ""); });
  ASSERT_TRUE(inserted.ok()) << inserted.error().message;
  auto twice = captured(second.id, "3CDUP");
  ASSERT_TRUE(twice.ok()) << twice.error().message;
  Invoice after = invoices(sub.id).at(0);
  EXPECT_EQ(after.status, InvoiceStatus::kPaid);
  EXPECT_EQ(after.amount_paid, 2 * 2999);
  EXPECT_EQ(after.amount_refunded, 2999);
  EXPECT_EQ(count("SELECT COUNT(*) FROM refunds WHERE status = 'pending'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'refund.created' AND payload LIKE '%duplicate%'"), 1);
}

TEST_F(PayPalWebhookTest, AnOrderWaitingForThePayerIsRequiresActionUntilApprovedThenCapturedOnce) {
  payer_action = true;
  auto [customer, sub] = renewing_with_paypal();
  Invoice inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  auto pays = billing().service.list_payments({inv.id, std::nullopt, {}, {.limit = 10}});
  ASSERT_EQ(pays->items.size(), 1u);
  const Payment waiting = pays->items[0];
  EXPECT_EQ(waiting.status, PaymentStatus::kRequiresAction);
  EXPECT_EQ(waiting.gateway_reference, "order:5O2");
  EXPECT_EQ(waiting.action_url, "https://www.paypal.com/checkoutnow?token=5O2");
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_action_required'"), 1);
  // Not approved yet: still waiting, nothing captured, nothing charged again by a run.
  auto asked = billing().collector.confirm_payment(waiting.id, customer.id);
  ASSERT_TRUE(asked.ok()) << asked.error().message;
  EXPECT_EQ(asked->status, PaymentStatus::kRequiresAction);
  run_at("2026-02-02T10:00:00Z");
  EXPECT_EQ(orders.size(), 1u);
  // Approved on PayPal's page: captured once, the invoice paid, the capture kept for refunds.
  waiting_order = "APPROVED";
  auto paid = billing().collector.confirm_payment(waiting.id, customer.id);
  ASSERT_TRUE(paid.ok()) << paid.error().message;
  EXPECT_EQ(paid->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(paid->gateway_reference, "3CW");
  EXPECT_EQ(order_captures, 1);
  EXPECT_EQ(invoices(sub.id).at(0).status, InvoiceStatus::kPaid);
  auto again = billing().collector.confirm_payment(waiting.id, customer.id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(order_captures, 1);  // settled: not asked again
}

TEST_F(PayPalWebhookTest, APayPalWalletIsKeptSealedShownByItsEmailAndChargedAsAWallet) {
  vaulted = R"({"id":"9ww8451w","payment_source":{"paypal":{"email_address":"wallet@example.com",)"
            R"("payer_id":"QYR5Z8XDVJNXQ"}}})";
  auto plan = testing::make_plan(t, 2999, Interval::kMonth);
  auto customer = testing::make_customer(t, "pp@example.com");
  auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("paypal"), "5C991763VB2781612", true},
                                                      t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  Json shown = customers::to_json(*pm, true);
  EXPECT_EQ(shown["type"], "paypal");
  EXPECT_TRUE(shown["card"].is_null());
  EXPECT_EQ(shown["paypal"], (Json{{"email", "wallet@example.com"}}));
  // Read back through the store, and kept sealed at rest (the row and the event).
  auto listed = t.app->customers().payment_methods(customer.id, ListParams{10});
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].email, "wallet@example.com");
  EXPECT_EQ(listed->items[0].type, "paypal");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE type = 'paypal' AND wallet IS NOT NULL"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE wallet LIKE '%wallet@example.com%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE payload LIKE '%wallet@example.com%'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'customer.payment_method_attached'"), 1);
  // No card-expiring reminder for a wallet (it has no expiry).
  auto sub = testing::subscribe(t, customer.id, plan.id);
  run_at("2026-01-31T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM reminders WHERE kind = 'card_expiring'"), 0);
  // Charged off-session as the wallet it is.
  EXPECT_EQ(invoices(sub.id).at(0).status, InvoiceStatus::kPaid);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0]["payment_source"], (Json{{"paypal", {{"vault_id", "9ww8451w"}}}}));
}

TEST_F(PayPalWebhookTest, VerifiedDisputeEventsActOnceAndRefusedOnesChangeNothing) {
  auto plan = testing::make_plan(t, 2999, Interval::kMonth);
  auto customer = testing::make_customer(t, "pp@example.com");
  auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("paypal"), "5C991763VB2781612", true},
                                                      t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  auto sub = testing::subscribe(t, customer.id, plan.id);
  run_at("2026-01-31T10:00:00Z");
  Invoice inv = invoices(sub.id).at(0);
  ASSERT_EQ(inv.status, InvoiceStatus::kPaid);
  auto pays = billing().service.list_payments({inv.id, std::nullopt, {}, {.limit = 10}});
  const Payment pay = pays->items.at(0);
  ASSERT_EQ(pay.gateway, "paypal");

  // PayPal says the signature is not its own: refused, nothing recorded.
  verification = "FAILURE";
  auto forged = deliver(dispute_event("WH-1", "CUSTOMER.DISPUTE.CREATED", pay.gateway_reference, pay.amount));
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.error().kind, ErrorKind::kUnauthorized);
  // No answer from PayPal: not accepted either (PayPal delivers again).
  verification = "";
  auto unanswered = deliver(dispute_event("WH-1", "CUSTOMER.DISPUTE.CREATED", pay.gateway_reference, pay.amount));
  ASSERT_FALSE(unanswered.ok());
  EXPECT_EQ(unanswered.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gateway_events WHERE gateway = 'paypal'"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM disputes"), 0);

  verification = "SUCCESS";
  auto opened = deliver(dispute_event("WH-1", "CUSTOMER.DISPUTE.CREATED", pay.gateway_reference, pay.amount));
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->outcome, "dispute_opened");
  EXPECT_TRUE(deliver(dispute_event("WH-1", "CUSTOMER.DISPUTE.CREATED", pay.gateway_reference, pay.amount))->duplicate);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_disputed, pay.amount);
  // The capture's own event about a charge already settled changes nothing.
  Json capture = {{"id", "WH-2"},
                  {"event_type", "PAYMENT.CAPTURE.COMPLETED"},
                  {"resource",
                   {{"id", pay.gateway_reference},
                    {"status", "COMPLETED"},
                    {"custom_id", inv.id},
                    {"amount", {{"currency_code", "USD"}, {"value", "29.99"}}}}}};
  EXPECT_EQ(deliver(capture)->outcome, "already_settled");
  auto lost = deliver(dispute_event("WH-3", "CUSTOMER.DISPUTE.RESOLVED", pay.gateway_reference, pay.amount,
                                    "RESOLVED_BUYER_FAVOUR"));
  ASSERT_TRUE(lost.ok()) << lost.error().message;
  EXPECT_EQ(lost->outcome, "dispute_lost");
  EXPECT_EQ(billing().service.get_invoice(inv.id)->amount_disputed_lost, pay.amount);
  EXPECT_EQ(deliver(dispute_event("WH-4", "CUSTOMER.DISPUTE.RESOLVED", pay.gateway_reference, pay.amount,
                                  "RESOLVED_SELLER_FAVOUR"))->outcome,
            "dispute_unchanged");
  EXPECT_EQ(verifications, 7);
}

}  // namespace
}  // namespace recur::billing
