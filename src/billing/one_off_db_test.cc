// One-off invoices against a real database (SQLite or PostgreSQL) and the sandbox gateway:
// numbered in the invoices' one sequence, charged in the request or sent with a link, dunned
// without a subscription, refused whole, and never issued or charged twice on a retry.
#include <gtest/gtest.h>

#include "gateways/sandbox.h"
#include "testing/fixtures.h"

namespace recur::billing {
namespace {
using testing::at;
using testing::TestApp;

class OneOffTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-03-10T09:00:00Z")); }

  // A customer (shipping to GB) whose default card is the sandbox's `token` ("" for none).
  std::string customer_with(const std::string& token) {
    return testing::make_customer_with(t, "c" + std::to_string(++customers_) + "@example.com", token);
  }
  OneOffInput input(const std::string& customer, CollectionMethod method = CollectionMethod::kChargeAutomatically) {
    OneOffInput in;
    in.spec.customer = customer;
    in.spec.currency = "usd";
    in.spec.lines = {{"Replacement box", 2 * 1500, 2, {}, false}, {"Goodwill discount", -500, 1, {}, false}};
    in.spec.collection_method = method;
    return in;
  }
  Result<Invoice> create(const OneOffInput& in) { return t.app->billing().one_off.create(in, t.actor); }
  std::int64_t count(const std::string& sql, db::Params params = {}) { return testing::count(t, sql, std::move(params)); }
  std::int64_t gateway_charges() { return count("SELECT COUNT(*) FROM sandbox_charges"); }
  std::int64_t invoices() { return count("SELECT COUNT(*) FROM invoices"); }
  std::int64_t next_number() { return count("SELECT next_value FROM invoice_numbers WHERE name = 'invoice'"); }
  Invoice reread(const std::string& id) { return *t.app->billing().service.get_invoice(id); }
  gateways::SandboxGateway& sandbox() { return *dynamic_cast<gateways::SandboxGateway*>(t.app->gateways().find("sandbox")); }

  TestApp t;
  int customers_ = 0;
};

TEST_F(OneOffTest, ChargedInTheRequestAndNumberedInTheInvoicesOneSequence) {
  const std::string customer = customer_with("pm_card_visa");
  auto plan = testing::make_plan(t, 2500, Interval::kMonth);
  auto sub = testing::subscribe(t, customer, plan.id);  // its first invoice takes a number
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  const std::int64_t numbered = next_number();
  const std::int64_t charges = gateway_charges();
  const std::int64_t sub_version = t.app->subscriptions().get(sub.id)->version;

  auto inv = create(input(customer));
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->status, InvoiceStatus::kPaid);
  EXPECT_EQ(inv->subscription, "");
  EXPECT_EQ(inv->billing_reason, "manual");
  EXPECT_EQ(inv->subtotal, 2500);  // 2 x 1500 - 500
  EXPECT_EQ(inv->total, 2500);
  EXPECT_EQ(inv->amount_paid, 2500);
  EXPECT_EQ(inv->number, "INV-" + std::string(6 - std::to_string(numbered).size(), '0') + std::to_string(numbered));
  EXPECT_EQ(next_number(), numbered + 1);
  EXPECT_EQ(gateway_charges(), charges + 1);
  EXPECT_EQ(to_json(*inv)["subscription"], Json(nullptr));
  EXPECT_EQ(to_json(*inv)["collection_method"], "charge_automatically");
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE id = $1 AND subscription_id IS NULL", {inv->id}), 1);
  // Issued by the merchant's key, paid, and a receipt with its PDF queued.
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.finalized' AND resource_id = $1"
                  " AND actor_type = 'api_key'",
                  {inv->id}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE type = 'invoice.paid' AND resource_id = $1", {inv->id}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'receipt' AND resource_id = $1", {inv->id}), 1);
  // The subscription did not move; a run has nothing more to charge.
  EXPECT_EQ(t.app->subscriptions().get(sub.id)->version, sub_version);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), charges + 1);
}

TEST_F(OneOffTest, ARefusalLeavesItOpenAndDunningRetriesItWithNoSubscriptionToMove) {
  const std::string customer = customer_with("pm_card_chargeDeclined");
  auto inv = create(input(customer));
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv->attempt_count, 1);
  ASSERT_TRUE(inv->next_attempt_at.has_value());  // the dunning schedule
  EXPECT_GT(*inv->next_attempt_at, t.clock->now());
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'payment_failed' AND resource_id = $1",
                  {inv->id}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_type = 'subscription'"), 0);
  // The retry is made by a run at its time; a new card then pays it.
  t.clock->set(*inv->next_attempt_at + 1);
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(reread(inv->id).attempt_count, 2);
  auto pm = t.app->customers().attach_payment_method(customer, {std::string("sandbox"), "pm_card_visa", true}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  EXPECT_EQ(reread(inv->id).status, InvoiceStatus::kPaid);
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_type = 'subscription'"), 0);
}

TEST_F(OneOffTest, ASentInvoiceIsEmailedWithItsPdfAndLinkAndNeverChargedByARun) {
  const std::string customer = customer_with("pm_card_visa");
  auto in = input(customer, CollectionMethod::kSendInvoice);
  in.spec.due_date = at("2026-03-24T00:00:00Z");
  auto inv = create(in);
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->status, InvoiceStatus::kOpen);
  EXPECT_EQ(inv->attempt_count, 0);
  EXPECT_FALSE(inv->next_attempt_at.has_value());
  EXPECT_EQ(inv->due_date, at("2026-03-24T00:00:00Z"));
  EXPECT_EQ(gateway_charges(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'invoice_issued' AND resource_id = $1"
                  " AND doc LIKE '%invoice_pdf%'",
                  {inv->id}),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE customer_id = $1", {customer}), 1);
  // Runs leave it to the customer, also past its due date.
  t.clock->set(at("2026-04-01T00:00:00Z"));
  ASSERT_TRUE(t.app->billing().runs.run("test").ok());
  EXPECT_EQ(gateway_charges(), 0);
  EXPECT_EQ(reread(inv->id).status, InvoiceStatus::kOpen);
  // A new default card the merchant sets charges nothing: the customer pays a sent invoice.
  auto merchants = t.app->customers().attach_payment_method(customer, {std::string("sandbox"), "pm_card_visa", true},
                                                            t.actor);
  ASSERT_TRUE(merchants.ok()) << merchants.error().message;
  EXPECT_EQ(gateway_charges(), 0);
  EXPECT_EQ(reread(inv->id).attempt_count, 0);
  // An operator may charge it; a refusal schedules no retry.
  ASSERT_TRUE(t.app->customers()
                  .attach_payment_method(customer, {std::string("sandbox"), "pm_card_chargeDeclined", true}, t.actor)
                  .ok());
  auto refused = t.app->billing().collector.pay_invoice(inv->id, "");
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  EXPECT_EQ(refused->status, InvoiceStatus::kOpen);
  EXPECT_EQ(refused->attempt_count, 1);
  EXPECT_FALSE(refused->next_attempt_at.has_value());
  // The customer's link (the e-mail's) pays it with the card they give, and still works weeks
  // after the usual 7 days: until 30 days past the due date.
  ASSERT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'invoice_issued'"), 1);
  std::string token;
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto rows = (*tx)->query("SELECT id FROM notifications WHERE template = 'invoice_issued' AND resource_id = $1",
                             {inv->id});
    ASSERT_TRUE(rows.ok() && rows->size() == 1);
    auto n = t.app->notifications().get(rows->at(0).text(0));
    ASSERT_TRUE(n.ok() && !n->secrets.empty());
    token = n->secrets.front();
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE customer_id = $1 AND invoice_id = $2"
                  " AND expires_at = $3",
                  {customer, inv->id, at("2026-04-23T00:00:00Z")}),
            1);
  auto paid = t.app->payment_updates().apply({token, std::string("sandbox"), "pm_card_visa", "req_1", "127.0.0.1"});
  ASSERT_TRUE(paid.ok()) << paid.error().message;
  EXPECT_EQ(reread(inv->id).status, InvoiceStatus::kPaid);
  EXPECT_EQ(gateway_charges(), 2);  // the refused one and this
}

TEST_F(OneOffTest, ASentInvoiceWithoutADueDateIsDue30DaysLater) {
  auto inv = create(input(customer_with(""), CollectionMethod::kSendInvoice));
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->due_date, at("2026-04-09T09:00:00Z"));
}

TEST_F(OneOffTest, RefusedRequestsIssueNothingAndTakeNoNumber) {
  const std::string customer = customer_with("pm_card_visa");
  const std::int64_t numbered = next_number();
  auto expect_refused = [&](OneOffInput in, const std::string& code, const std::string& field) {
    auto r = create(in);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, code);
    bool named = field.empty();
    for (const auto& e : r.error().fields) named = named || e.field == field;
    EXPECT_TRUE(named) << field;
  };
  auto owes_nothing = input(customer);
  owes_nothing.spec.lines = {{"Box", 1000, 1, {}, false}, {"Credit", -1000, 1, {}, false}};
  expect_refused(owes_nothing, "validation_failed", "lines");
  auto no_lines = input(customer);
  no_lines.spec.lines.clear();
  expect_refused(no_lines, "validation_failed", "lines");
  auto due_for_a_charge = input(customer);
  due_for_a_charge.spec.due_date = at("2026-04-01T00:00:00Z");
  expect_refused(due_for_a_charge, "validation_failed", "due_date");
  auto due_before = input(customer, CollectionMethod::kSendInvoice);
  due_before.spec.due_date = at("2026-03-01T00:00:00Z");
  expect_refused(due_before, "validation_failed", "due_date");
  auto nobody = input("cus_missing");
  expect_refused(nobody, "customer_not_found", "customer");
  EXPECT_EQ(invoices(), 0);
  EXPECT_EQ(next_number(), numbered);
  EXPECT_EQ(gateway_charges(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications"), 0);
}

TEST_F(OneOffTest, ARetryUnderTheSameKeyFindsTheInvoiceAndAsksAboutItsChargeWithTheSameKey) {
  const std::string customer = customer_with("pm_card_visa");
  sandbox().set_faults({0, 1.0, 0, 7});  // every call charges, then the answer is lost
  auto in = input(customer);
  in.request_key = "key-1#abc";
  auto first = create(in);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, InvoiceStatus::kOpen);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments WHERE status = 'pending'"), 1);
  sandbox().set_faults({});
  auto again = create(in);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->status, InvoiceStatus::kPaid);
  EXPECT_EQ(invoices(), 1);
  EXPECT_EQ(gateway_charges(), 1);  // the one charge, found with the same key
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
  // Once settled, a retry only answers.
  auto third = create(in);
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(third->id, first->id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payments"), 1);
}

TEST_F(OneOffTest, TaxFollowsTheCustomersCountry) {
  auto rates = parse_tax_rates(Json{{"GB", 2000}});
  ASSERT_TRUE(rates.ok()) << rates.error().message;
  ASSERT_TRUE(t.app->billing().service.update_tax(*rates, 1, t.actor).ok());
  auto inv = create(input(customer_with("pm_card_visa")));
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->subtotal, 2500);
  EXPECT_EQ(inv->tax, 500);
  EXPECT_EQ(inv->total, 3000);
  EXPECT_EQ(inv->amount_paid, 3000);
}

TEST_F(OneOffTest, APaidOneWithNoNextInvoiceIsRefundedNotCredited) {
  auto inv = create(input(customer_with("pm_card_visa")));
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  auto credit = t.app->billing().refunds.credit({inv->id, 500, "other", "", Json::object()}, t.actor);
  ASSERT_FALSE(credit.ok());
  EXPECT_EQ(credit.error().code, "no_next_invoice");
  auto refund = t.app->billing().refunds.refund({inv->id, 500, "requested_by_customer"}, t.actor);
  ASSERT_TRUE(refund.ok()) << refund.error().message;
  EXPECT_EQ(refund->status, PaymentStatus::kSucceeded);
  auto notes = t.app->billing().service.list_credit_notes({inv->id, std::nullopt, ListParams{10}});
  ASSERT_TRUE(notes.ok()) << notes.error().message;
  ASSERT_EQ(notes->items.size(), 1u);
  EXPECT_EQ(to_json(notes->items[0])["subscription"], Json(nullptr));
  EXPECT_EQ(reread(inv->id).amount_refunded, 500);
}

}  // namespace
}  // namespace recur::billing
