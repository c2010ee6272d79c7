// Billing against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): invoices
// once per period, charges once per invoice under gateway faults and concurrent workers,
// dunning on its schedule.
#include <gtest/gtest.h>

#include <thread>

#include "testing/fixtures.h"

namespace recur::billing {
namespace {

using subscriptions::Interval;
using subscriptions::Status;
using testing::at;
using testing::TestApp;

class BillingTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  BillingService& billing() { return t.app->billing(); }
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
    auto r = billing().run("test");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : BillingRun{};
  }
  std::vector<Invoice> invoices(const std::string& sub) {
    auto page = billing().list_invoices({sub, std::nullopt, std::nullopt, 100, std::nullopt});
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

  TestApp t;
  int customers_ = 0;
};

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
  auto offer = t.app->subscriptions().create_offer(
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
  auto settings = billing().update_dunning({std::vector<std::int64_t>{2}, FinalAction::kPause}, 1, t.actor);
  ASSERT_TRUE(settings.ok()) << settings.error().message;
  auto sub = subscriber("pm_card_chargeDeclinedInsufficientFunds");
  run_at("2026-01-31T10:00:00Z");
  run_at("2026-02-02T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  EXPECT_EQ(inv.status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv.attempt_count, 2);
  EXPECT_EQ(sub_now(sub.id).status, Status::kPaused);
  auto payments = billing().list_payments({inv.id, std::nullopt, std::nullopt, 10, std::nullopt});
  EXPECT_EQ(payments->items.at(0).failure_code, "insufficient_funds");
}

TEST_F(BillingTest, FinalActionUnpaidKeepsInvoicingWithoutChargingUntilANewCardPaysEveryInvoiceOnce) {
  ASSERT_TRUE(billing().update_dunning({std::vector<std::int64_t>{2}, FinalAction::kUnpaid}, 1, t.actor).ok());
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
    auto paid = db::transact(t.app->database(), [&](db::Tx& tx) { return period_paid(tx, sub.id, seq); },
                             db::TxMode::kReadOnly);
    EXPECT_TRUE(paid.ok());
    return paid.ok() && *paid;
  };
  EXPECT_FALSE(period_is_paid(2));  // inventory holds this period's box

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
  auto paid = billing().list_payments({std::nullopt, sub.customer, std::string("succeeded"), 10, std::nullopt});
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
  ASSERT_TRUE(billing().update_dunning({std::vector<std::int64_t>{1}, FinalAction::kUnpaid}, 1, t.actor).ok());
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
  auto payments = billing().list_payments({std::nullopt, customer.id, std::nullopt, 10, std::nullopt});
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
}

TEST_F(BillingTest, ServerErrorsAndLostRequestsNeverChargeTwiceOrSkipAnInvoice) {
  // A third of calls fail one way or another, deterministically (seeded).
  sandbox().set_faults({0.1, 0.15, 0.1, 42});
  std::vector<subscriptions::Subscription> subs;
  for (int i = 0; i < 12; ++i) subs.push_back(subscriber("pm_card_visa", 1000 + i));
  Timestamp now = at("2026-01-31T10:00:00Z");
  for (int step = 0; step < 200; ++step, now += 300) {
    t.clock->set(now);
    ASSERT_TRUE(billing().run("test").ok());
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
  std::thread a([&] { EXPECT_TRUE(billing().collect_due().ok()); });
  std::thread b([&] { EXPECT_TRUE(second->billing().collect_due().ok()); });
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
  auto changed = t.app->subscriptions().change_plan(sub.id, {weekly.id, std::nullopt, true,
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

TEST_F(BillingTest, PartialRefundsNeverExceedWhatWasPaidAndEachGetsACreditNote) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  ASSERT_EQ(inv.status, InvoiceStatus::kPaid);
  auto first = billing().refund({inv.id, 1000, "requested_by_customer"}, t.actor);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, PaymentStatus::kSucceeded);
  auto note = billing().get_credit_note(first->credit_note);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->number, "CN-000001");
  EXPECT_EQ(note->amount, 1000);
  auto too_much = billing().refund({inv.id, 2001, "requested_by_customer"}, t.actor);
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.error().code, "amount_too_large");
  auto rest = billing().refund({inv.id, std::nullopt, "duplicate"}, t.actor);  // the remaining 2000
  ASSERT_TRUE(rest.ok()) << rest.error().message;
  EXPECT_EQ(rest->amount, 2000);
  EXPECT_EQ(billing().get_invoice(inv.id)->amount_refunded, 3000);
  EXPECT_EQ(count("SELECT refunded FROM sandbox_charges WHERE idempotency_key LIKE $1", {inv.id + ":%"}), 3000);
  EXPECT_FALSE(billing().refund({inv.id, 1, "requested_by_customer"}, t.actor).ok());
}

TEST_F(BillingTest, ARefundWhoseAnswerIsLostIsSettledLaterWithTheSameKey) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  sandbox().set_faults({0, 1.0, 0, 3});  // the refund happens, the answer is lost
  auto pending = billing().refund({inv.id, 500, "requested_by_customer"}, t.actor);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(pending->status, PaymentStatus::kPending);
  sandbox().set_faults({});
  run_at("2026-01-31T10:06:00Z");
  auto settled = billing().get_refund(pending->id);
  EXPECT_EQ(settled->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_refunds"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM credit_notes"), 1);
}

TEST_F(BillingTest, ACreditNoteComesOffTheNextInvoice) {
  auto sub = subscriber("pm_card_visa", 3000);
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  auto note = billing().credit({inv.id, 700, "product_unsatisfactory", "box arrived damaged"}, t.actor);
  ASSERT_TRUE(note.ok()) << note.error().message;
  EXPECT_EQ(note->type, "credit");
  run_at("2026-02-28T10:00:00Z");
  auto next = invoices(sub.id).at(0);
  EXPECT_EQ(next.total, 2300);
  EXPECT_EQ(next.amount_paid, 2300);
  EXPECT_EQ(billing().get_invoice(inv.id)->amount_credited, 700);
}

TEST_F(BillingTest, ARenewalReminderIsQueuedOnceThePlansLeadTimeBeforeTheRenewal) {
  auto sub = subscriber("pm_card_visa");  // renews 2026-02-28T10:00Z; plans remind 3 days before
  auto reminders = [&] {
    return count("SELECT COUNT(*) FROM notifications WHERE template = 'renewal_reminder' AND resource_id = $1", {sub.id});
  };
  run_at("2026-02-25T09:59:59Z");
  EXPECT_EQ(reminders(), 0);
  // The next thing due is the reminder, so the test clock would stop there.
  EXPECT_EQ(*billing().next_due_at(), at("2026-02-25T10:00:00Z"));
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

TEST_F(BillingTest, ACardExpiringThisMonthIsNoticedOnce) {
  auto sub = subscriber("pm_card_expiring");
  run_at("2026-01-31T10:00:00Z");
  run_at("2026-01-31T11:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM reminders WHERE kind = 'card_expiring'"), 1);
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
  std::thread a([&] { EXPECT_TRUE(multi->billing().run("test").ok()); });
  std::thread b([&] { EXPECT_TRUE(billing().run("test").ok()); });
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
  auto bad = node->billing().run("test");
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
  auto again = node->billing().run("test");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->payments.failed, 10);
  EXPECT_FALSE(again->failure_rate_alert);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'billing_failure_rate'"), 1);
}

TEST_F(BillingTest, TaxFollowsTheCountryTheBoxShipsTo) {
  auto rates = parse_tax_rates(Json{{"de", 1900}, {"US", 825}});
  ASSERT_TRUE(rates.ok()) << rates.error().message;
  auto saved = billing().update_tax(*rates, 1, t.actor);
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
  EXPECT_FALSE(billing().update_tax({}, 1, t.actor).ok());  // stale version
}

TEST_F(BillingTest, DunningSettingsRefuseABadScheduleAndAStaleVersion) {
  auto bad = billing().update_dunning({std::vector<std::int64_t>{3, 2}, std::nullopt}, 1, t.actor);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  auto good = billing().update_dunning({std::vector<std::int64_t>{2, 4}, FinalAction::kUnpaid}, 1, t.actor);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->version, 2);
  auto stale = billing().update_dunning({std::nullopt, FinalAction::kCancel}, 1, t.actor);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(billing().dunning()->final_action, FinalAction::kUnpaid);
}

TEST_F(BillingTest, VoidingAnOpenInvoiceStopsItsRetries) {
  auto sub = subscriber("pm_card_chargeDeclined");
  run_at("2026-01-31T10:00:00Z");
  auto inv = invoices(sub.id).at(0);
  auto voided = billing().void_invoice(inv.id, t.actor);
  ASSERT_TRUE(voided.ok()) << voided.error().message;
  EXPECT_EQ(voided->status, InvoiceStatus::kVoid);
  run_at("2026-02-01T10:00:00Z");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1", {inv.id}), 1);
  auto again = billing().void_invoice(inv.id, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "invoice_not_voidable");
}

}  // namespace
}  // namespace recur::billing
