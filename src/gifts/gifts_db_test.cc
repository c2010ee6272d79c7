// Gift subscriptions end to end on the database (both engines): sold on one invoice charged
// in the request, e-mailed at send_at, claimed into a prepaid subscription whose boxes that
// invoice paid for, announced before the last box, ended or converted after it.
#include <gtest/gtest.h>

#include "catalog/service.h"
#include "testing/fixtures.h"

namespace recur::gifts {
namespace {

using testing::at;
using testing::TestApp;

class GiftsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2027-01-10T10:00:00Z"));
    plan = testing::make_plan(t, 2400, Interval::kMonth);
    purchaser = testing::make_customer_with(t, "grace@example.com", "pm_card_visa");
  }
  GiftService& gifts() { return t.app->gifts(); }
  GiftInput input(std::int64_t deliveries) {
    GiftInput in;
    in.purchaser = purchaser;
    in.plan = plan.id;
    in.deliveries = deliveries;
    in.recipient = {"Ada", "ada.gift@example.com",
                    customers::Address{"12 Analytical Row", std::nullopt, "London", "N1 9GU", std::nullopt, "GB"}};
    in.message = "Happy birthday!";
    return in;
  }
  void run_at(const char* when) {
    t.clock->set(at(when));
    auto run = t.app->run_billing("test");
    ASSERT_TRUE(run.ok()) << run.error().message;
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) { return testing::count(t, sql, params); }
  std::int64_t notifications(const std::string& template_name, const std::string& resource) {
    return count("SELECT COUNT(*) FROM notifications WHERE template = $1 AND resource_id = $2",
                 {template_name, resource});
  }
  TestApp t;
  catalog::Plan plan;
  std::string purchaser;
};

TEST_F(GiftsTest, OneInvoicePaysEveryBoxTheRecipientClaimsAndTheSubscriptionEndsAfterTheLast) {
  catalog::CouponInput ten{"Gift 10", 10};
  auto coupon = t.app->catalog().create_coupon(ten, t.actor);
  ASSERT_TRUE(coupon.ok()) << coupon.error().message;
  auto in = input(3);
  in.coupon = coupon->id;
  in.send_at = at("2027-01-12T09:00:00Z");
  auto gift = gifts().create(in, t.actor);
  ASSERT_TRUE(gift.ok()) << gift.error().message;
  EXPECT_EQ(gift->status, GiftStatus::kPending);
  EXPECT_EQ(gift->amount, 6480);  // 3 × 2,400 less 10 %
  auto invoice = t.app->billing().collector.read_invoice(gift->invoice);
  ASSERT_TRUE(invoice.ok());
  EXPECT_EQ(invoice->status, billing::InvoiceStatus::kPaid);  // charged in the request
  EXPECT_EQ(invoice->customer, purchaser);
  EXPECT_EQ(invoice->billing_reason, "gift");
  EXPECT_EQ(invoice->discount, 720);
  EXPECT_EQ(notifications("gift_received", gift->id), 0);  // not before send_at
  // The recipient and the code are sealed at rest.
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM gifts WHERE doc LIKE '%ada.gift%' OR doc LIKE $1", {"%" + gift->claim_code + "%"}),
      0);

  run_at("2027-01-12T09:00:00Z");
  auto sent = gifts().get(gift->id);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->status, GiftStatus::kSent);
  EXPECT_EQ(notifications("gift_received", gift->id), 1);
  run_at("2027-01-12T10:00:00Z");
  EXPECT_EQ(notifications("gift_received", gift->id), 1);  // once

  // Claimed with the code as a person types it; the recipient becomes a customer.
  std::string typed = gift->claim_code;
  for (auto& c : typed) c = c == '-' ? ' ' : static_cast<char>(std::tolower(c));
  auto claimed = gifts().claim({typed, std::nullopt, std::nullopt}, t.actor);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(claimed->status, GiftStatus::kClaimed);
  ASSERT_TRUE(claimed->subscription && claimed->recipient_customer);
  auto recipient = t.app->customers().get(*claimed->recipient_customer);
  ASSERT_TRUE(recipient.ok());
  EXPECT_EQ(recipient->email, "ada.gift@example.com");
  auto sub = t.app->subscriptions().get(*claimed->subscription);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->status, subscriptions::Status::kActive);
  ASSERT_TRUE(sub->prepaid && sub->gift);
  EXPECT_EQ(sub->prepaid->remaining, 2);
  EXPECT_EQ(sub->prepaid->invoice, gift->invoice);
  EXPECT_EQ(sub->current_amount, 0);
  // The first box ships now, linked to the purchaser's paid invoice.
  EXPECT_EQ(count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1 AND invoice_id = $2 AND paid = 1",
                  {sub->id, gift->invoice}),
            1);
  EXPECT_EQ(gifts().claim({gift->claim_code, std::nullopt, std::nullopt}, t.actor).error().code, "gift_claimed");
  // The recipient's details are theirs now: the gift keeps who they are, not a copy.
  EXPECT_EQ(to_json(*gifts().get(gift->id))["recipient"], nullptr);
  // Its boxes hold what was paid for: no more units, no other plan, until converted.
  subscriptions::UpdateInput more;
  more.quantity = 3;
  EXPECT_EQ(t.app->subscriptions().update(sub->id, more, sub->version, t.actor).error().code, "gift_not_converted");
  subscriptions::ChangePlanInput other;
  other.quantity = 2;
  EXPECT_EQ(t.app->subscriptions().change_plan(sub->id, other, std::nullopt, t.actor).error().code,
            "gift_not_converted");
  EXPECT_EQ(notifications("gift_ending", sub->id), 0);

  // The second box: the next is the last, so both are told.
  run_at("2027-02-12T10:00:00Z");
  EXPECT_EQ(notifications("gift_ending", sub->id), 1);
  EXPECT_EQ(notifications("gift_ending_purchaser", gift->id), 1);
  run_at("2027-03-12T10:00:00Z");  // the last box
  sub = t.app->subscriptions().get(sub->id);
  EXPECT_TRUE(sub->cancel_at_period_end);
  EXPECT_EQ(sub->cancellation->reason, "gift_ended");
  EXPECT_EQ(notifications("gift_ending", sub->id), 1);  // once
  EXPECT_EQ(t.app->subscriptions().reactivate(sub->id, std::nullopt, t.actor).error().code, "gift_not_converted");
  run_at("2027-04-12T10:00:00Z");
  sub = t.app->subscriptions().get(sub->id);
  EXPECT_EQ(sub->status, subscriptions::Status::kCanceled);
  // Three boxes shipped to the recipient, all on the purchaser's one invoice; nothing else charged.
  EXPECT_EQ(
      count("SELECT COUNT(*) FROM shipments WHERE subscription_id = $1 AND invoice_id = $2", {sub->id, gift->invoice}),
      3);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE customer_id = $1", {recipient->id}), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE customer_id = $1", {purchaser}), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM analytics_subscriptions WHERE subscription_id = $1 AND source = 'gift'"
                  " AND mrr = 0 AND ended_at IS NOT NULL",
                  {sub->id}),
            1);
}

TEST_F(GiftsTest, AConvertedGiftCarriesOnWithTheRecipientsCardOnTheSameCalendar) {
  auto gift = gifts().create(input(2), t.actor);
  ASSERT_TRUE(gift.ok()) << gift.error().message;
  EXPECT_EQ(gift->status, GiftStatus::kSent);  // paid and due: e-mailed in the request
  const std::string recipient = testing::make_customer_with(t, "ada@example.com", "pm_card_visa");
  auto claimed = gifts().claim({gift->claim_code, recipient, at("2027-01-15T10:00:00Z")}, t.actor);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(*claimed->recipient_customer, recipient);
  auto sub = t.app->subscriptions().get(*claimed->subscription);
  EXPECT_EQ(sub->status, subscriptions::Status::kScheduled);
  // Analytics: acquired by a gift, and no recurring revenue while the gift pays.
  auto analytics = [&](const char* source, std::int64_t mrr) {
    return count("SELECT COUNT(*) FROM analytics_subscriptions WHERE subscription_id = $1 AND source = $2 AND mrr = $3",
                 {sub->id, std::string(source), mrr});
  };
  EXPECT_EQ(analytics("gift", 0), 1);
  auto methods = t.app->customers().payment_methods(recipient);
  ASSERT_TRUE(methods.ok());
  ASSERT_FALSE(methods->items.empty());
  EXPECT_EQ(t.app->subscriptions().convert(sub->id, std::string("pmt_nope"), std::nullopt, t.actor).error().code,
            "payment_method_not_found");
  auto converted = t.app->subscriptions().convert(sub->id, methods->items[0].id, std::nullopt, t.actor);
  ASSERT_TRUE(converted.ok()) << converted.error().message;
  EXPECT_TRUE(converted->gift->converted);
  EXPECT_EQ(t.app->subscriptions().convert(sub->id, std::nullopt, std::nullopt, t.actor).error().code, "not_a_gift");
  run_at("2027-01-15T10:00:00Z");  // the first gift box
  EXPECT_EQ(analytics("gift", 2400), 1);  // converted: its price a month from now on
  run_at("2027-02-15T10:00:00Z");  // the second and last
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices WHERE customer_id = $1", {recipient}), 0);
  run_at("2027-03-15T10:00:00Z");  // the recipient's first charge, one box at the plan's price
  auto invoices = t.app->billing().service.list_invoices({.customer = recipient});
  ASSERT_TRUE(invoices.ok()) << invoices.error().message;
  ASSERT_EQ(invoices->items.size(), 1u);
  EXPECT_EQ(invoices->items[0].total, 2400);
  EXPECT_EQ(invoices->items[0].status, billing::InvoiceStatus::kPaid);
  EXPECT_EQ(format_rfc3339(invoices->items[0].period.start), "2027-03-15T10:00:00Z");
  EXPECT_EQ(t.app->subscriptions().get(sub->id)->status, subscriptions::Status::kActive);
}

TEST_F(GiftsTest, ARefusedChargeLeavesTheGiftUnpaidUnsentAndUnclaimable) {
  purchaser = testing::make_customer_with(t, "declined@example.com", "pm_card_chargeDeclined");
  auto gift = gifts().create(input(2), t.actor);
  ASSERT_TRUE(gift.ok()) << gift.error().message;
  EXPECT_EQ(gift->status, GiftStatus::kPending);
  EXPECT_EQ(t.app->billing().collector.read_invoice(gift->invoice)->status, billing::InvoiceStatus::kOpen);
  EXPECT_EQ(gifts().claim({gift->claim_code, std::nullopt, std::nullopt}, t.actor).error().code, "gift_unpaid");
  run_at("2027-01-10T11:00:00Z");
  EXPECT_EQ(gifts().get(gift->id)->status, GiftStatus::kPending);
  EXPECT_EQ(notifications("gift_received", gift->id), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM subscriptions"), 0);
}

TEST_F(GiftsTest, ARetryAnswersTheFirstGiftAndBadInputStoresNothing) {
  auto in = input(2);
  in.request_key = "key_test:gift-1";
  auto first = gifts().create(in, t.actor);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto again = gifts().create(in, t.actor);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM gifts"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices"), 1);

  auto unknown_plan = input(2);
  unknown_plan.plan = "plan_nope";
  EXPECT_EQ(gifts().create(unknown_plan, t.actor).error().code, "plan_not_found");
  auto unknown_coupon = input(2);
  unknown_coupon.coupon = "coupon_nope";
  EXPECT_EQ(gifts().create(unknown_coupon, t.actor).error().code, "coupon_not_found");
  auto nobody = input(2);
  nobody.purchaser = "cus_nope";
  EXPECT_EQ(gifts().create(nobody, t.actor).error().code, "customer_not_found");
  EXPECT_EQ(gifts().create(input(25), t.actor).error().code, "validation_failed");
  EXPECT_EQ(count("SELECT COUNT(*) FROM gifts"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM invoices"), 1);
  EXPECT_EQ(gifts().claim({"AAAA-AAAA-AAAA-AAAA", std::nullopt, std::nullopt}, t.actor).error().code, "gift_not_found");
  EXPECT_EQ(gifts().claim({"not a code", std::nullopt, std::nullopt}, t.actor).error().code, "gift_not_found");
}

TEST_F(GiftsTest, AnUnclaimedGiftExpiresAfterAYear) {
  auto gift = gifts().create(input(1), t.actor);
  ASSERT_TRUE(gift.ok()) << gift.error().message;
  run_at("2028-01-09T10:00:00Z");
  EXPECT_EQ(gifts().get(gift->id)->status, GiftStatus::kSent);
  run_at("2028-01-10T10:00:00Z");
  EXPECT_EQ(gifts().get(gift->id)->status, GiftStatus::kExpired);
  EXPECT_EQ(gifts().claim({gift->claim_code, std::nullopt, std::nullopt}, t.actor).error().code, "gift_expired");
  EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE resource_id = $1 AND type = 'gift.expired'", {gift->id}), 1);
}

}  // namespace
}  // namespace recur::gifts
