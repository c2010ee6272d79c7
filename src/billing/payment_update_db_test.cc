// Update-payment tokens against a real database (SQLite or PostgreSQL): issued with the
// failed-payment and card-expiring messages (hash only), resolved, expiring on the injected
// clock, single use under concurrency, and the retry they trigger charging each invoice once.
#include <gtest/gtest.h>

#include "notify/model.h"
#include "platform/digest.h"
#include "testing/fixtures.h"

namespace recur::billing {
namespace {
using subscriptions::Status;
using testing::at;
using testing::TestApp;

class PaymentUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  PaymentUpdates& updates() { return t.app->payment_updates(); }

  // A customer whose card is declined, subscribed monthly; the first charge has failed.
  subscriptions::Subscription failing_subscriber() { return subscriber_paying_with("pm_card_chargeDeclined"); }
  // A customer paying with `card`, subscribed monthly; the first run charged the first invoice.
  subscriptions::Subscription subscriber_paying_with(const std::string& card) {
    auto plan = testing::make_plan(t, 2999, Interval::kMonth);
    auto customer = testing::make_customer(t, "c" + std::to_string(++customers_) + "@example.com");
    auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), card, false}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    auto sub = testing::subscribe(t, customer.id, plan.id);
    auto run = t.app->billing().runs.run("test");
    EXPECT_TRUE(run.ok()) << (run.ok() ? "" : run.error().message);
    return sub;
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows->at(0).int64(0);
  }
  std::string text(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query(sql, params);
    EXPECT_TRUE(rows.ok() && !rows->empty());
    return rows.ok() && !rows->empty() ? rows->at(0).text(0) : "";
  }
  // The token of the newest `template_name` message about `resource` (as the e-mail has it).
  std::string token_in_message(const std::string& template_name, const std::string& resource) {
    auto id = text("SELECT id FROM notifications WHERE template = $1 AND resource_id = $2 ORDER BY id DESC",
                   {template_name, resource});
    auto n = t.app->notifications().get(id);
    EXPECT_TRUE(n.ok());
    EXPECT_FALSE(n->secrets.empty());
    return n.ok() && !n->secrets.empty() ? n->secrets.front() : "";
  }
  std::string first_invoice(const std::string& sub) {
    return text("SELECT id FROM invoices WHERE subscription_id = $1 ORDER BY id", {sub});
  }
  std::string outcome(const Result<PaymentUpdateResult>& r) { return r.ok() ? "ok" : r.error().code; }

  TestApp t;
  int customers_ = 0;
};

TEST_F(PaymentUpdateTest, AFailedPaymentMessageCarriesATokenStoredOnlyAsItsHashThatShowsWhatIsDue) {
  auto sub = failing_subscriber();
  auto invoice = first_invoice(sub.id);
  std::string token = token_in_message("payment_failed", invoice);
  ASSERT_GE(token.size(), 32u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE token_hash = $1 AND customer_id = $2"
                  " AND invoice_id = $3 AND used_at IS NULL",
                  {sha256_hex(token), sub.customer, invoice}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE token_hash = $1", {token}), 0);
  // The API's view of the message never shows it.
  auto id = text("SELECT id FROM notifications WHERE template = 'payment_failed' AND resource_id = $1", {invoice});
  auto n = t.app->notifications().get(id);
  ASSERT_TRUE(n.ok());
  EXPECT_NE(n->text.find("https://shop.example.com/account/payment?token=" + token), std::string::npos);
  EXPECT_EQ(notify::to_json(*n).dump().find(token), std::string::npos);

  auto view = updates().lookup(token);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->customer, sub.customer);
  EXPECT_EQ(view->customer_name, "Ada");
  EXPECT_EQ(view->invoices, std::vector<std::string>{invoice});
  ASSERT_EQ(view->amount_due.size(), 1u);
  EXPECT_EQ(view->amount_due[0].amount, 2999);
  EXPECT_EQ(view->amount_due[0].currency, "usd");
  EXPECT_EQ(view->expires_at, at("2026-02-07T10:00:00Z"));  // seven days by default
  // The hosted page's copy of the invoice: the PDF's text.
  ASSERT_EQ(view->documents.size(), 1u);
  EXPECT_EQ(view->documents[0].invoice, invoice);
  EXPECT_EQ(view->documents[0].status, InvoiceStatus::kOpen);
  EXPECT_EQ(view->documents[0].amount_due, 2999);
  EXPECT_EQ(view->documents[0].document.title, "Invoice");
  EXPECT_EQ(view->documents[0].document.bill_to.name, "Ada");
}

// The link's own invoice stays on its page once paid another way (here a new default card
// set through the API), and the link gives the PDF of its customer's invoices only.
TEST_F(PaymentUpdateTest, TheLinksInvoiceStaysShownOncePaidAndOnlyItsCustomersInvoicesAreGiven) {
  auto sub = failing_subscriber();
  auto invoice = first_invoice(sub.id);
  std::string token = token_in_message("payment_failed", invoice);
  auto other = failing_subscriber();
  auto others_invoice = first_invoice(other.id);

  auto pm =
      t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  EXPECT_EQ(text("SELECT status FROM invoices WHERE id = $1", {invoice}), "paid");

  auto view = updates().lookup(token);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_TRUE(view->invoices.empty());
  EXPECT_TRUE(view->amount_due.empty());
  ASSERT_EQ(view->documents.size(), 1u);
  EXPECT_EQ(view->documents[0].invoice, invoice);
  EXPECT_EQ(view->documents[0].status, InvoiceStatus::kPaid);
  EXPECT_EQ(view->documents[0].amount_due, 0);

  auto own = updates().invoice_of(token, invoice);
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(*own, invoice);
  auto foreign = updates().invoice_of(token, others_invoice);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code, "invoice_not_found");
  auto missing = updates().invoice_of(token, "in_00000000000000000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, foreign.error().code);
  auto bad = updates().invoice_of("not-a-token", invoice);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "payment_update_token_invalid");
}

TEST_F(PaymentUpdateTest, UnknownExpiredAndUsedTokensGetTheSameAnswerAndChangeNothing) {
  auto sub = failing_subscriber();
  std::string token = token_in_message("payment_failed", first_invoice(sub.id));
  auto unknown = updates().lookup("not-a-token");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "payment_update_token_invalid");
  EXPECT_EQ(unknown.error().kind, ErrorKind::kNotFound);

  t.clock->set(at("2026-02-07T09:59:59Z"));
  EXPECT_TRUE(updates().lookup(token).ok());
  t.clock->set(at("2026-02-07T10:00:00Z"));  // expired at its expires_at
  auto expired = updates().lookup(token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, unknown.error().code);
  EXPECT_EQ(expired.error().message, unknown.error().message);
  auto late = updates().apply({token, std::string("sandbox"), "pm_card_visa"});
  EXPECT_EQ(outcome(late), "payment_update_token_invalid");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE customer_id = $1", {sub.customer}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE used_at IS NOT NULL"), 0);
}

TEST_F(PaymentUpdateTest, UsingTheTokenAttachesTheDefaultCardAndTheRetryPaysTheInvoiceOnce) {
  auto sub = failing_subscriber();
  auto invoice = first_invoice(sub.id);
  std::string token = token_in_message("payment_failed", invoice);
  t.clock->set(at("2026-01-31T12:00:00Z"));
  auto result = updates().apply({token, std::nullopt, "pm_card_visa", "req_page1", "198.51.100.23"});
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->payment_method.last4, "4242");
  // The audit log names the hosted page as the actor, with the request and the address.
  EXPECT_GE(count("SELECT COUNT(*) FROM audit_log WHERE actor_type = 'payment_update_page' AND actor_id = $1"
                  " AND request_id = 'req_page1' AND source_ip = '198.51.100.23'",
                  {sub.customer}),
            1);
  ASSERT_EQ(result->invoices.size(), 1u);
  EXPECT_EQ(result->invoices[0].id, invoice);
  EXPECT_EQ(result->invoices[0].status, InvoiceStatus::kPaid);
  EXPECT_EQ(result->invoices[0].amount_due, 0);
  auto customer = t.app->customers().get(sub.customer);
  EXPECT_EQ(customer->default_payment_method, result->payment_method.id);
  EXPECT_EQ(t.app->subscriptions().get(sub.id)->status, Status::kActive);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1 AND status = 'succeeded'",
                  {invoice + ":%"}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE token_hash = $1 AND used_at = $2",
                  {sha256_hex(token), at("2026-01-31T12:00:00Z")}),
            1);
  // Once used, it is gone for both calls.
  EXPECT_EQ(updates().lookup(token).error().code, "payment_update_token_invalid");
  EXPECT_EQ(outcome(updates().apply({token, std::nullopt, "pm_card_mastercard"})), "payment_update_token_invalid");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE customer_id = $1", {sub.customer}), 2);
}

TEST_F(PaymentUpdateTest, ConcurrentUsesOfOneTokenSucceedExactlyOnce) {
  auto sub = failing_subscriber();
  auto invoice = first_invoice(sub.id);
  std::string token = token_in_message("payment_failed", invoice);
  auto outcomes = testing::race(6, [&](int) { return outcome(updates().apply({token, std::nullopt, "pm_card_visa"})); });
  auto tally = testing::tally(outcomes);
  EXPECT_EQ(tally["ok"], 1);
  EXPECT_EQ(tally["payment_update_token_invalid"], 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE customer_id = $1", {sub.customer}), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1 AND status = 'succeeded'",
                  {invoice + ":%"}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'succeeded'", {invoice}), 1);
}

TEST_F(PaymentUpdateTest, ARefusedAttachmentGivesTheTokenBack) {
  auto sub = failing_subscriber();
  std::string token = token_in_message("payment_failed", first_invoice(sub.id));
  auto refused = updates().apply({token, std::string("no_such_gateway"), "pm_card_visa"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "unknown_gateway");
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_methods WHERE customer_id = $1", {sub.customer}), 1);
  EXPECT_TRUE(updates().lookup(token).ok());
  EXPECT_TRUE(updates().apply({token, std::nullopt, "pm_card_visa"}).ok());
}

TEST_F(PaymentUpdateTest, ACardExpiringNoticeCarriesAToken) {
  auto plan = testing::make_plan(t, 1000, Interval::kMonth);
  auto customer = testing::make_customer(t);
  auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), "pm_card_expiring", true},
                                                     t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  testing::subscribe(t, customer.id, plan.id);
  ASSERT_TRUE(t.app->billing().reminders.send_reminders().ok());
  std::string token = token_in_message("card_expiring", pm->id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE token_hash = $1 AND payment_method_id = $2",
                  {sha256_hex(token), pm->id}),
            1);
  auto view = updates().lookup(token);
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->customer, customer.id);
}

// --- strong customer authentication (3-D Secure) -------------------------------------

class AuthenticationTest : public PaymentUpdateTest {
 protected:
  Collector& collector() { return t.app->billing().collector; }
  gateways::SandboxGateway& sandbox() {
    return *dynamic_cast<gateways::SandboxGateway*>(t.app->gateways().find("sandbox"));
  }
  Payment only_payment(const std::string& invoice) {
    auto page = t.app->billing().service.list_payments({invoice, std::nullopt, {}, {.limit = 10}});
    EXPECT_TRUE(page.ok() && page->items.size() == 1);
    return page.ok() && !page->items.empty() ? page->items.front() : Payment{};
  }
  std::int64_t charges_of(const std::string& invoice) {
    return count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1", {invoice + ":%"});
  }
  std::int64_t events(const std::string& type, const std::string& resource) {
    return count("SELECT COUNT(*) FROM events WHERE type = $1 AND resource_id = $2", {type, resource});
  }
  subscriptions::Status status_of(const std::string& sub) { return t.app->subscriptions().get(sub)->status; }
};

TEST_F(AuthenticationTest, AChargeTheBankChallengesWaitsUnretriedWhileTheCustomerIsSentTheLink) {
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment pay = only_payment(invoice);
  EXPECT_EQ(pay.status, PaymentStatus::kRequiresAction);
  EXPECT_EQ(pay.gateway_reference.rfind("pi_sandbox_", 0), 0u);
  EXPECT_EQ(to_json(pay)["next_action"]["type"], "authenticate");
  auto inv = t.app->billing().service.get_invoice(invoice);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->status, InvoiceStatus::kOpen);
  EXPECT_FALSE(inv->next_attempt_at.has_value());  // dunning waits for the customer
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kPastDue);
  EXPECT_EQ(events("payment.requires_action", pay.id), 1);
  EXPECT_EQ(events("invoice.payment_action_required", invoice), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed'"), 0);

  // The e-mail's link shows the charge to authenticate.
  std::string token = token_in_message("payment_action_required", invoice);
  auto view = updates().lookup(token);
  ASSERT_TRUE(view.ok()) << view.error().message;
  ASSERT_EQ(view->action_required.size(), 1u);
  EXPECT_EQ(view->action_required[0].id, pay.id);
  EXPECT_EQ(view->action_required[0].gateway_reference, pay.gateway_reference);

  // Nothing charges it again meanwhile: later runs, an operator.
  t.clock->advance(5 * kSecondsPerDay);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  auto again = collector().pay_invoice(invoice);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "payment_requires_action");
  EXPECT_EQ(charges_of(invoice), 1);
  EXPECT_EQ(only_payment(invoice).status, PaymentStatus::kRequiresAction);
}

// Nobody authenticates: once the link sent with it expires (7 days), the run asks the
// gateway once more, cancels the charge there and records it failed, a decline dunning
// retries on its schedule (each retry challenged anew).
TEST_F(AuthenticationTest, AChargeNobodyAuthenticatesExpiresWithItsLinkAndDunningGoesOn) {
  const Timestamp charged = t.clock->now();
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment waiting = only_payment(invoice);
  auto next = t.app->billing().runs.next_due_at();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, std::optional<Timestamp>(charged + 7 * kSecondsPerDay));  // the test clock stops there

  t.clock->set(charged + 7 * kSecondsPerDay - 1);
  auto early = t.app->billing().runs.run("test");
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->payments.authentication_expired, 0);
  EXPECT_EQ(only_payment(invoice).status, PaymentStatus::kRequiresAction);

  t.clock->set(charged + 7 * kSecondsPerDay);
  auto run = t.app->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->payments.authentication_expired, 1);
  Payment failed = only_payment(invoice);
  EXPECT_EQ(failed.id, waiting.id);
  EXPECT_EQ(failed.status, PaymentStatus::kFailed);
  EXPECT_EQ(failed.failure_code, "authentication_required");
  EXPECT_EQ(failed.decline_code, "authentication_required");
  // Canceled at the gateway: the customer can no longer complete it.
  auto late = sandbox().authenticate(waiting.gateway_reference, true);
  EXPECT_NE(late.outcome, gateways::Outcome::kSucceeded);
  auto inv = t.app->billing().service.get_invoice(invoice);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->status, InvoiceStatus::kOpen);
  ASSERT_TRUE(inv->next_attempt_at.has_value());  // dunning's next try is scheduled
  EXPECT_GT(*inv->next_attempt_at, t.clock->now());
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kPastDue);
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed' AND resource_id = $1", {invoice}), 1);
  // Dunning's retry charges the card again: the bank asks again; one charge per attempt.
  const Timestamp window_start = inv->first_failed_at.value_or(0);
  EXPECT_EQ(window_start, charged + 7 * kSecondsPerDay);  // dunning's window starts at the failure
  t.clock->set(*inv->next_attempt_at);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(charges_of(invoice), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'requires_action'", {invoice}), 1);
  // The retry's challenge expires too: a second failure, the window where it began.
  t.clock->advance(7 * kSecondsPerDay);
  auto second = t.app->billing().runs.run("test");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->payments.authentication_expired, 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE invoice_id = $1 AND status = 'failed'", {invoice}), 2);
  auto after = t.app->billing().service.get_invoice(invoice);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->first_failed_at, std::optional<Timestamp>(window_start));
}

// The customer authenticated at the bank but the page never confirmed and the notice was
// lost: at the deadline the run finds the charge paid and records that; nothing is canceled.
TEST_F(AuthenticationTest, AChargeAuthenticatedButNeverConfirmedIsFoundPaidAtTheDeadline) {
  const Timestamp charged = t.clock->now();
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment waiting = only_payment(invoice);
  EXPECT_EQ(sandbox().authenticate(waiting.gateway_reference, true).outcome, gateways::Outcome::kSucceeded);
  t.clock->set(charged + 7 * kSecondsPerDay);
  auto run = t.app->billing().runs.run("test");
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->payments.authentication_expired, 1);
  EXPECT_EQ(only_payment(invoice).status, PaymentStatus::kSucceeded);
  EXPECT_EQ(t.app->billing().service.get_invoice(invoice)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kActive);
  EXPECT_EQ(charges_of(invoice), 1);
}

TEST_F(AuthenticationTest, ANewCardCancelsTheWaitingChargeAtTheGatewayThenPays) {
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment waiting = only_payment(invoice);
  ASSERT_TRUE(t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true},
                                                       t.actor).ok());
  // The waiting charge can no longer be authenticated: canceled at the gateway first.
  EXPECT_EQ(sandbox().fetch_charge(waiting.gateway_reference).failure_code, "canceled");
  EXPECT_EQ(sandbox().authenticate(waiting.gateway_reference, true).outcome, gateways::Outcome::kFailed);
  auto page = t.app->billing().service.list_payments({invoice, std::nullopt, {}, {.limit = 10}});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);  // newest first
  EXPECT_EQ(page->items[0].status, PaymentStatus::kSucceeded);
  EXPECT_EQ(page->items[1].id, waiting.id);
  EXPECT_EQ(page->items[1].status, PaymentStatus::kFailed);
  EXPECT_EQ(page->items[1].gateway_failure_code, "canceled");
  EXPECT_EQ(t.app->billing().service.get_invoice(invoice)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kActive);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sandbox_charges WHERE idempotency_key LIKE $1 AND status = 'succeeded'",
                  {invoice + ":%"}),
            1);  // the money moved once
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed'"), 0);
}

TEST_F(AuthenticationTest, ANewCardAfterTheCustomerAuthenticatedChargesNothingMore) {
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment waiting = only_payment(invoice);
  ASSERT_EQ(sandbox().authenticate(waiting.gateway_reference, true).outcome, gateways::Outcome::kSucceeded);
  // Recur has not heard yet; the new card's retry finds the charge paid instead of canceling it.
  ASSERT_TRUE(t.app->customers().attach_payment_method(sub.customer, {std::string("sandbox"), "pm_card_visa", true},
                                                       t.actor).ok());
  EXPECT_EQ(only_payment(invoice).status, PaymentStatus::kSucceeded);
  EXPECT_EQ(charges_of(invoice), 1);
  EXPECT_EQ(t.app->billing().service.get_invoice(invoice)->status, InvoiceStatus::kPaid);
}

TEST_F(AuthenticationTest, ConfirmingAfterTheCustomerAuthenticatedPaysTheInvoiceOnce) {
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment pay = only_payment(invoice);
  // Asked before the customer answered the bank: still waiting, nothing recorded.
  auto early = collector().confirm_payment(pay.id, sub.customer);
  ASSERT_TRUE(early.ok()) << early.error().message;
  EXPECT_EQ(early->status, PaymentStatus::kRequiresAction);
  EXPECT_EQ(early->version, pay.version);
  // Another customer's payment is not found.
  auto other = collector().confirm_payment(pay.id, "cus_someone_else");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "payment_not_found");

  EXPECT_EQ(sandbox().authenticate(pay.gateway_reference, true).outcome, gateways::Outcome::kSucceeded);
  auto confirmed = collector().confirm_payment(pay.id, sub.customer);
  ASSERT_TRUE(confirmed.ok()) << confirmed.error().message;
  EXPECT_EQ(confirmed->status, PaymentStatus::kSucceeded);
  EXPECT_EQ(t.app->billing().service.get_invoice(invoice)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kActive);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'receipt' AND resource_id = $1", {invoice}), 1);
  // Confirmed twice (a double click): the same answer, nothing recorded twice.
  auto twice = collector().confirm_payment(pay.id, sub.customer);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->version, confirmed->version);
  EXPECT_EQ(events("payment.succeeded", pay.id), 1);
  EXPECT_EQ(charges_of(invoice), 1);
}

TEST_F(AuthenticationTest, AFailedAuthenticationIsADeclineAndDunningGoesOn) {
  auto sub = subscriber_paying_with("pm_card_authenticationRequired");
  auto invoice = first_invoice(sub.id);
  Payment pay = only_payment(invoice);
  EXPECT_EQ(sandbox().authenticate(pay.gateway_reference, false).outcome, gateways::Outcome::kFailed);
  auto confirmed = collector().confirm_payment(pay.id, sub.customer);
  ASSERT_TRUE(confirmed.ok()) << confirmed.error().message;
  EXPECT_EQ(confirmed->status, PaymentStatus::kFailed);
  EXPECT_EQ(confirmed->gateway_failure_code, "authentication_failed");
  auto inv = t.app->billing().service.get_invoice(invoice);
  EXPECT_EQ(inv->status, InvoiceStatus::kOpen);
  EXPECT_TRUE(inv->next_attempt_at.has_value());  // retried on the dunning schedule
  EXPECT_EQ(status_of(sub.id), subscriptions::Status::kPastDue);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed' AND resource_id = $1",
                  {invoice}),
            1);
}

}  // namespace
}  // namespace recur::billing
