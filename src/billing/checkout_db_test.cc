// Checkout against a real database (SQLite or PostgreSQL) and the sandbox gateway: the first
// invoice charged in the request, the incomplete states, the 402 that keeps nothing, the
// 23-hour window, and a retried request that never charges twice.
#include <gtest/gtest.h>

#include "gateways/sandbox.h"
#include "testing/fixtures.h"

namespace recur::billing {
namespace {
using subscriptions::Status;
using testing::at;
using testing::TestApp;

class CheckoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-10T09:00:00Z"));
    plan = testing::make_plan(t, 2500, Interval::kMonth);
  }

  // A customer whose default card is the sandbox's `token` ("" for none).
  std::string customer_with(const std::string& token) {
    return testing::make_customer_with(t, "c" + std::to_string(++customers_) + "@example.com", token);
  }
  Result<subscriptions::Subscription> checkout(const std::string& customer, PaymentBehavior behavior,
                                               const std::string& request_key = "") {
    subscriptions::CreateInput in{.customer = customer, .plan = plan.id, .quantity = 1};
    in.request_key = request_key;
    return t.app->billing().checkout.subscribe(in, behavior, t.actor);
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) { return testing::count(t, sql, std::move(params)); }
  std::string invoice_status(const std::string& sub) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query("SELECT status FROM invoices WHERE subscription_id = $1", {sub});
    EXPECT_TRUE(rows.ok() && rows->size() == 1);
    return rows.ok() && rows->size() == 1 ? rows->at(0).text(0) : "";
  }
  std::int64_t gateway_charges() { return count("SELECT COUNT(*) FROM sandbox_charges"); }
  std::int64_t open_boxes(const std::string& sub) {
    return count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1 AND status <> 'canceled'", {sub});
  }
  Status status_of(const std::string& sub) { return t.app->subscriptions().get(sub)->status; }
  // An answer the gateway did not give in time: incomplete, its payment pending; the faults
  // cleared, the run asks again with the same key and finds the one charge made.
  void expect_pending_then_settled_by_the_run(const subscriptions::Subscription& sub) {
    EXPECT_EQ(sub.status, Status::kIncomplete);
    EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'pending'"), 1);
    sandbox().set_faults({});
    t.clock->advance(600);
    ASSERT_TRUE(t.app->billing().runs.run("test").ok());
    EXPECT_EQ(status_of(sub.id), Status::kActive);
    EXPECT_EQ(invoice_status(sub.id), "paid");
    EXPECT_EQ(gateway_charges(), 1);  // asked again with the same key: one charge
  }
  gateways::SandboxGateway& sandbox() { return *dynamic_cast<gateways::SandboxGateway*>(t.app->gateways().find("sandbox")); }

  TestApp t;
  catalog::Plan plan;
  int customers_ = 0;
};

TEST_F(CheckoutTest, AGoodCardIsChargedInTheRequestAndTheSubscriptionIsActive) {
  auto sub = checkout(customer_with("pm_card_visa"), PaymentBehavior::kAllowIncomplete);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(sub->status, Status::kActive);
  EXPECT_EQ(invoice_status(sub->id), "paid");
  EXPECT_EQ(gateway_charges(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'subscription.activated' AND resource_id = $1", {sub->id}), 1);
  // A billing run has nothing left to charge.
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 1);
}

TEST_F(CheckoutTest, ADeclineWithAllowIncompleteKeepsAnIncompleteSubscriptionThatANewCardActivates) {
  const std::string customer = customer_with("pm_card_chargeDeclined");
  auto sub = checkout(customer, PaymentBehavior::kAllowIncomplete);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(sub->status, Status::kIncomplete);
  EXPECT_EQ(invoice_status(sub->id), "open");
  // No dunning for a checkout: no next attempt, no past_due, and runs never charge it.
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1 AND next_attempt_at IS NULL", {sub->id}), 1);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed'"), 0);
  // The customer sets a good card within the window: charged at once, active.
  auto pm = t.app->customers().attach_payment_method(customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  EXPECT_EQ(status_of(sub->id), Status::kActive);
  EXPECT_EQ(invoice_status(sub->id), "paid");
  EXPECT_EQ(open_boxes(sub->id), 1);
}

TEST_F(CheckoutTest, AnIncompleteSubscriptionExpiresAfter23HoursVoidingItsInvoiceAndReleasingItsBox) {
  auto sub = checkout(customer_with(""), PaymentBehavior::kAllowIncomplete);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(sub->status, Status::kIncomplete);
  EXPECT_EQ(open_boxes(sub->id), 1);  // reserved while it may still be paid
  t.clock->advance(23 * 3600 - 1);
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());
  EXPECT_EQ(status_of(sub->id), Status::kIncomplete);
  t.clock->advance(3600);  // the scheduler is late: expiry still counts at created + 23 h
  ASSERT_TRUE(t.app->subscriptions().run_due().ok());
  auto expired = t.app->subscriptions().get(sub->id);
  EXPECT_EQ(expired->status, Status::kIncompleteExpired);
  EXPECT_EQ(expired->ended_at, at("2026-03-11T08:00:00Z"));
  EXPECT_EQ(invoice_status(sub->id), "void");
  EXPECT_EQ(open_boxes(sub->id), 0);
  // Nothing more happens to it.
  auto refused = t.app->subscriptions().pause(sub->id, std::nullopt, std::nullopt, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "subscription_expired");
}

TEST_F(CheckoutTest, ErrorIfIncompleteAnswers402AndKeepsNothing) {
  auto sub = checkout(customer_with("pm_card_chargeDeclinedInsufficientFunds"), PaymentBehavior::kErrorIfIncomplete);
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().kind, ErrorKind::kPaymentRequired);
  EXPECT_EQ(sub.error().code, "card_declined");
  Json problem = Json::parse(sub.error().extra_json);
  EXPECT_EQ(problem["decline_code"], "insufficient_funds");
  const std::string id = problem["subscription"];
  EXPECT_EQ(status_of(id), Status::kIncompleteExpired);
  EXPECT_EQ(invoice_status(id), "void");
  EXPECT_EQ(open_boxes(id), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed'"), 0);
}

TEST_F(CheckoutTest, ErrorIfIncompleteWithoutACardAsksForAPaymentMethod) {
  auto sub = checkout(customer_with(""), PaymentBehavior::kErrorIfIncomplete);
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().code, "payment_method_required");
  EXPECT_EQ(gateway_charges(), 0);
}

TEST_F(CheckoutTest, DefaultIncompleteChargesNothingUntilTheClientPays) {
  auto sub = checkout(customer_with("pm_card_visa"), PaymentBehavior::kDefaultIncomplete);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(sub->status, Status::kIncomplete);
  EXPECT_EQ(gateway_charges(), 0);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 0);
  auto invoice = t.app->billing().service.latest_invoice(sub->id);
  ASSERT_TRUE(invoice.ok() && *invoice);
  auto paid = t.app->billing().collector.pay_invoice((*invoice)->id);
  ASSERT_TRUE(paid.ok()) << paid.error().message;
  EXPECT_EQ(paid->status, InvoiceStatus::kPaid);
  EXPECT_EQ(status_of(sub->id), Status::kActive);
}

TEST_F(CheckoutTest, ATrialIsNotChargedAtSignup) {
  auto trial_plan = testing::make_plan(t, 2500, Interval::kMonth, 1, 14);
  subscriptions::CreateInput in{.customer = customer_with("pm_card_visa"), .plan = trial_plan.id, .quantity = 1};
  auto sub = t.app->billing().checkout.subscribe(in, PaymentBehavior::kErrorIfIncomplete, t.actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_EQ(sub->status, Status::kTrialing);
  EXPECT_EQ(gateway_charges(), 0);
}

TEST_F(CheckoutTest, VerifyPaymentMethodChecksTheCardBeforeATrialAndCreatesNothingWhenRefused) {
  auto trial_plan = testing::make_plan(t, 2500, Interval::kMonth, 1, 14);
  auto verified = [&](const std::string& customer) {
    subscriptions::CreateInput in{.customer = customer, .plan = trial_plan.id, .quantity = 1};
    return t.app->billing().checkout.subscribe(in, PaymentBehavior::kAllowIncomplete, t.actor, true);
  };
  struct Case {
    const char* card;  // "" for none
    const char* code;  // "" when it passes
    const char* decline;
  };
  for (const Case& c : {Case{"pm_card_visa", "", ""}, Case{"pm_card_chargeDeclined", "card_declined", "generic_decline"},
                        Case{"pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"},
                        Case{"pm_card_authenticationRequired", "card_declined", "authentication_required"},
                        Case{"", "payment_method_required", "no_payment_method"}}) {
    SCOPED_TRACE(c.card);
    std::string customer = customer_with(c.card);
    auto sub = verified(customer);
    if (std::string(c.code).empty()) {
      ASSERT_TRUE(sub.ok()) << sub.error().message;
      EXPECT_EQ(sub->status, Status::kTrialing);
      continue;
    }
    ASSERT_FALSE(sub.ok());
    EXPECT_EQ(sub.error().code, c.code);
    EXPECT_EQ(sub.error().kind, ErrorKind::kPaymentRequired);
    EXPECT_EQ(Json::parse(sub.error().extra_json)["decline_code"], c.decline);
    EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1", {customer}), 0);  // nothing kept
  }
  EXPECT_EQ(gateway_charges(), 0);  // verifying moves no money
}

TEST_F(CheckoutTest, ARetriedRequestFindsItsSubscriptionAndNeverChargesTwice) {
  const std::string customer = customer_with("pm_card_visa");
  auto first = checkout(customer, PaymentBehavior::kAllowIncomplete, "key-1:fp");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = checkout(customer, PaymentBehavior::kAllowIncomplete, "key-1:fp");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions WHERE customer_id = $1", {customer}), 1);
  EXPECT_EQ(gateway_charges(), 1);
  // A refused error_if_incomplete retried answers the same 402, with nothing new.
  const std::string declined = customer_with("pm_card_chargeDeclined");
  auto refused = checkout(declined, PaymentBehavior::kErrorIfIncomplete, "key-2:fp");
  auto refused_again = checkout(declined, PaymentBehavior::kErrorIfIncomplete, "key-2:fp");
  ASSERT_FALSE(refused.ok());
  ASSERT_FALSE(refused_again.ok());
  EXPECT_EQ(refused_again.error().code, "card_declined");
  EXPECT_EQ(Json::parse(refused_again.error().extra_json)["subscription"],
            Json::parse(refused.error().extra_json)["subscription"]);
  EXPECT_EQ(gateway_charges(), 2);
}

TEST_F(CheckoutTest, ALostAnswerStaysPendingAndTheRunSettlesItWithTheSameKey) {
  const std::string customer = customer_with("pm_card_visa");
  sandbox().set_faults({0, 1.0, 0, 7});  // every call charges, then the answer is lost
  auto sub = checkout(customer, PaymentBehavior::kErrorIfIncomplete);
  ASSERT_TRUE(sub.ok()) << sub.error().message;  // unknown: nothing can be undone yet
  expect_pending_then_settled_by_the_run(*sub);
}

// --checkout-timeout: a gateway slower than the timeout does not hold the customer: the
// answer is an incomplete subscription with its payment pending, and the charge the gateway
// made meanwhile is found by the run with the same key (one charge).
TEST_F(CheckoutTest, AGatewaySlowerThanTheCheckoutTimeoutLeavesThePaymentPendingForTheRun) {
  const std::string customer = customer_with("pm_card_visa");
  Checkout quick(t.app->database(), t.app->subscriptions(), t.app->billing().collector, t.app->gateways(),
                 std::chrono::milliseconds(200));
  gateways::SandboxFaults slow;
  slow.latency_ms = 4000;
  sandbox().set_faults(slow);
  subscriptions::CreateInput in{.customer = customer, .plan = plan.id, .quantity = 1};
  auto started = std::chrono::steady_clock::now();
  auto sub = quick.subscribe(in, PaymentBehavior::kAllowIncomplete, t.actor);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  EXPECT_LT(waited, std::chrono::milliseconds(3000));  // not the gateway's 4 s
  expect_pending_then_settled_by_the_run(*sub);
}

TEST_F(CheckoutTest, ACardTheBankChallengesLeavesAnIncompleteSubscriptionUntilTheCustomerAuthenticates) {
  // error_if_incomplete too: the charge may still be authenticated, so it cannot be voided.
  for (PaymentBehavior behavior : {PaymentBehavior::kAllowIncomplete, PaymentBehavior::kErrorIfIncomplete}) {
    std::string customer = customer_with("pm_card_authenticationRequired");
    auto sub = checkout(customer, behavior);
    ASSERT_TRUE(sub.ok()) << sub.error().message;
    EXPECT_EQ(sub->status, Status::kIncomplete);
    EXPECT_EQ(invoice_status(sub->id), "open");
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query("SELECT id, status FROM payments WHERE customer_id = $1", {customer});
    ASSERT_TRUE(rows.ok() && rows->size() == 1);
    EXPECT_EQ(rows->at(0).text(1), "requires_action");
    const std::string payment = rows->at(0).text(0);
    tx->reset();
    auto pay = t.app->billing().service.get_payment(payment);
    ASSERT_TRUE(pay.ok());
    ASSERT_EQ(sandbox().authenticate(pay->gateway_reference, true).outcome, gateways::Outcome::kSucceeded);
    // The shop's server, with its key, after its page completed the challenge: the invoice's
    // pay asks about the waiting charge instead of making another.
    auto paid = t.app->billing().collector.pay_invoice(pay->invoice);
    ASSERT_TRUE(paid.ok()) << paid.error().message;
    EXPECT_EQ(paid->status, InvoiceStatus::kPaid);
    EXPECT_EQ(status_of(sub->id), Status::kActive);
    EXPECT_EQ(invoice_status(sub->id), "paid");
  }
  EXPECT_EQ(gateway_charges(), 2);
}

// Plan changes that invoice at once (always_invoice, or an interval change starting a new
// period) charge that invoice in the request too (docs/billing-rules.md, "Plan changes").
class PlanChangeCheckoutTest : public CheckoutTest {
 protected:
  void SetUp() override {
    CheckoutTest::SetUp();
    premium = testing::make_plan(t, 5000, Interval::kMonth, 1, 0, "Premium");
    weekly = testing::make_plan(t, 900, Interval::kWeek, 1, 0, "Weekly");
  }
  // An active subscriber who paid their first month at signup; ten days later.
  subscriptions::Subscription subscriber(const std::string& card = "pm_card_visa") {
    auto sub = checkout(customer_with(card), PaymentBehavior::kAllowIncomplete);
    EXPECT_TRUE(sub.ok() && sub->status == Status::kActive);
    t.clock->advance(10 * kSecondsPerDay);
    return *sub;
  }
  Result<subscriptions::Subscription> change(
      const subscriptions::Subscription& sub, const std::string& plan_id,
      PaymentBehavior behavior = PaymentBehavior::kAllowIncomplete, const std::string& key = "",
      subscriptions::Proration proration = subscriptions::Proration::kAlwaysInvoice) {
    subscriptions::ChangePlanInput in;
    in.plan = plan_id;
    in.proration = proration;
    in.request_key = key;
    return t.app->billing().checkout.change_plan(sub.id, in, behavior, std::nullopt, t.actor);
  }
  void make_default(const subscriptions::Subscription& sub, const std::string& card) {
    auto pm = t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), card, true}, t.actor);
    ASSERT_TRUE(pm.ok()) << pm.error().message;
  }
  // The subscription's newest invoice (the change's, issued ten days after the first): its
  // status and how many payments it has.
  std::pair<std::string, std::int64_t> change_invoice(const std::string& sub) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(
        "SELECT i.status, (SELECT COUNT(*) FROM payments p WHERE p.invoice_id = i.id)"
        " FROM invoices i WHERE i.subscription_id = $1 AND i.created_at > ("
        "SELECT MIN(created_at) FROM invoices WHERE subscription_id = $1)",
        {sub});
    EXPECT_TRUE(rows.ok() && rows->size() == 1) << (rows.ok() ? std::to_string(rows->size()) : rows.error().message);
    if (!rows.ok() || rows->size() != 1) return {"", -1};
    return {rows->at(0).text(0), rows->at(0).int64(1)};
  }
  std::int64_t plan_changes(const std::string& sub) {
    return count("SELECT COUNT(*) FROM events WHERE type = 'subscription.plan_changed' AND resource_id = $1", {sub});
  }

  catalog::Plan premium;
  catalog::Plan weekly;
};

TEST_F(PlanChangeCheckoutTest, AnUpgradeThatInvoicesAtOnceIsChargedInTheRequest) {
  auto sub = subscriber();
  auto changed = change(sub, premium.id);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->plan, premium.id);
  EXPECT_EQ(changed->status, Status::kActive);
  EXPECT_EQ(change_invoice(sub.id), std::make_pair(std::string("paid"), std::int64_t{1}));
  EXPECT_EQ(gateway_charges(), 2);  // the signup and the upgrade
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 2);  // nothing left for the run
}

TEST_F(PlanChangeCheckoutTest, ARefusedChargeKeepsTheChangeAndTheInvoiceOpenForDunning) {
  auto sub = subscriber();
  make_default(sub, "pm_card_chargeDeclined");
  auto changed = change(sub, premium.id);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->plan, premium.id);  // allow_incomplete: the change stands
  EXPECT_EQ(changed->status, Status::kPastDue);
  EXPECT_EQ(change_invoice(sub.id), std::make_pair(std::string("open"), std::int64_t{1}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id"
                  " WHERE i.subscription_id = $1 AND p.status = 'failed'",
                  {sub.id}),
            1);
}

TEST_F(PlanChangeCheckoutTest, DefaultIncompleteLeavesTheInvoiceUnchargedAndAChangeWithoutInvoiceChargesNothing) {
  auto sub = subscriber();
  auto changed = change(sub, premium.id, PaymentBehavior::kDefaultIncomplete);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(change_invoice(sub.id), std::make_pair(std::string("open"), std::int64_t{0}));
  EXPECT_EQ(gateway_charges(), 1);
  // Prorations that wait for the next invoice: nothing is invoiced, nothing charged.
  auto other = subscriber();
  auto waits = change(other, premium.id, PaymentBehavior::kAllowIncomplete, "", subscriptions::Proration::kCreate);
  ASSERT_TRUE(waits.ok()) << waits.error().message;
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1", {other.id}), 1);
  EXPECT_EQ(gateway_charges(), 2);  // the two signups
}

TEST_F(PlanChangeCheckoutTest, AnIntervalChangeChargesTheNewPeriodInTheRequest) {
  auto sub = subscriber();
  auto changed = change(sub, weekly.id, PaymentBehavior::kAllowIncomplete, "", subscriptions::Proration::kCreate);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(changed->plan, weekly.id);
  EXPECT_EQ(changed->status, Status::kActive);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1 AND status = 'paid'", {sub.id}), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1 AND status = 'open'", {sub.id}), 0);
}

// A retry under the same Idempotency-Key finds the first try's change: no second change, and
// only a charge still in flight is asked about again, with its own key (one charge).
TEST_F(PlanChangeCheckoutTest, ARetriedChangeNeverChangesOrChargesTwice) {
  auto sub = subscriber();
  auto first = change(sub, premium.id, PaymentBehavior::kAllowIncomplete, "key-c:fp");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = change(sub, premium.id, PaymentBehavior::kAllowIncomplete, "key-c:fp");
  ASSERT_TRUE(again.ok()) << again.error().message;  // not 422 no_change: the same change
  EXPECT_EQ(again->version, first->version);
  EXPECT_EQ(plan_changes(sub.id), 1);
  EXPECT_EQ(gateway_charges(), 2);

  auto lost = subscriber();
  sandbox().set_faults({0, 1.0, 0, 7});  // the charge is made, its answer lost
  auto pending = change(lost, premium.id, PaymentBehavior::kAllowIncomplete, "key-d:fp");
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(change_invoice(lost.id), std::make_pair(std::string("open"), std::int64_t{1}));
  sandbox().set_faults({});
  auto resumed = change(lost, premium.id, PaymentBehavior::kAllowIncomplete, "key-d:fp");
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(change_invoice(lost.id), std::make_pair(std::string("paid"), std::int64_t{1}));
  EXPECT_EQ(plan_changes(lost.id), 1);
  EXPECT_EQ(gateway_charges(), 4);  // two signups, two upgrades: the lost one found, not made again
}

// A retry of a change whose charge was refused answers as it is: no second attempt (the
// invoice's next try is dunning's), no second change.
TEST_F(PlanChangeCheckoutTest, ARetriedChangeWhoseChargeWasRefusedDoesNotChargeAgain) {
  auto sub = subscriber();
  make_default(sub, "pm_card_chargeDeclined");
  auto first = change(sub, premium.id, PaymentBehavior::kAllowIncomplete, "key-e:fp");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(change_invoice(sub.id), std::make_pair(std::string("open"), std::int64_t{1}));
  auto again = change(sub, premium.id, PaymentBehavior::kAllowIncomplete, "key-e:fp");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(change_invoice(sub.id), std::make_pair(std::string("open"), std::int64_t{1}));
  EXPECT_EQ(plan_changes(sub.id), 1);
}

// The change's own invoice is charged, never a renewal the lifecycle catches up with under
// the change's lock: a change whose prorations wait charges nothing in the request.
TEST_F(PlanChangeCheckoutTest, ARenewalCaughtUpByTheChangeIsNotChargedAsTheChanges) {
  auto sub = subscriber();
  t.clock->set(sub.current.end + 60);  // the period ended; no run has renewed it yet
  auto changed = change(sub, premium.id, PaymentBehavior::kAllowIncomplete, "", subscriptions::Proration::kCreate);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(gateway_charges(), 1);  // only the signup: the renewal waits for the run
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 2);
}

}  // namespace
}  // namespace recur::billing
