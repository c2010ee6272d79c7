// SMS to customers who opted in, against a real database (SQLite or PostgreSQL, per
// RECUR_TEST_ENGINE): a failed payment, a backorder delay and a shipped box are queued by
// e-mail and, for a customer with sms_opt_in, by SMS too, in the transaction of the change
// that caused them; a customer who did not opt in is only e-mailed, phone or not.
#include <gtest/gtest.h>

#include "inventory/shipment_notices.h"
#include "testing/fixtures.h"

namespace recur::app {
namespace {
using notify::DeliveryStatus;
using notify::Notification;
using testing::at;
using testing::TestApp;

constexpr const char* kPhone = "+14155550123";

// The messages of one customer's life so far, by what they are about.
struct Story {
  customers::Customer customer;
  std::string first_invoice;    // paid: a receipt
  std::string shipped_box;      // shipment_shipped
  std::string renewal_invoice;  // declined: payment_failed
  std::string backordered_box;  // the renewal's box, short of stock: backorder_delay
};

class CustomerSmsTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }

  // A box subscriber (with a phone, opted in to SMS or not) of a tracked product with one
  // unit in stock: the first box is paid and shipped; the renewal is declined and, the
  // stock gone, its box is backordered.
  Story live(bool sms_opt_in) {
    Story s;
    customers::Address home{"12 Analytical Row", std::nullopt, "London", "N1 9GU", std::nullopt, "GB"};
    auto c = t.app->customers().create(
        {.email = "ada@example.com",
         .name = "Ada",
         .phone = kPhone,
         .shipping_address = home,
         .sms_opt_in = sms_opt_in},
        t.actor);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    s.customer = *c;
    auto product = t.app->catalog().create_product(
        {.name = "Ethiopian beans", .sku = "ETH-1", .price = Money{1400, "usd"}, .track_inventory = true}, t.actor);
    EXPECT_TRUE(product.ok()) << (product.ok() ? "" : product.error().message);
    EXPECT_TRUE(t.app->inventory().receive("ETH-1", 1, std::nullopt, t.actor).ok());
    auto plan = t.app->catalog().create_plan(
        {"Monthly beans", 2400, "usd", {Interval::kMonth, 1}, 0, std::nullopt, {{product->id, 1}}, Json::object()},
        t.actor);
    EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
    auto sub = testing::subscribe(t, s.customer.id, plan->id);

    // A first card pays the open invoice at once; the paid box ships.
    attach(s.customer.id, "pm_card_visa");
    s.first_invoice = invoices(sub.id).back().id;
    s.shipped_box = boxes(sub.id).back().id;
    move(s.shipped_box, inventory::ShipmentStatus::kReady, std::nullopt);
    move(s.shipped_box, inventory::ShipmentStatus::kShipped, "1Z999AA10123456784");

    // The next card is declined at the renewal, whose box finds no stock.
    attach(s.customer.id, "pm_card_chargeDeclined", true);
    t.clock->set(at("2026-02-28T10:00:00Z"));
    auto run = t.app->run_billing("test");
    EXPECT_TRUE(run.ok()) << (run.ok() ? "" : run.error().message);
    s.renewal_invoice = invoices(sub.id).front().id;
    auto box = boxes(sub.id).front();
    EXPECT_EQ(box.status, inventory::ShipmentStatus::kBackordered);
    s.backordered_box = box.id;
    EXPECT_NE(s.renewal_invoice, s.first_invoice);
    return s;
  }

  void attach(const std::string& customer, const std::string& token, bool make_default = false) {
    auto pm =
        t.app->customers().attach_payment_method(customer, {std::string("sandbox"), token, make_default}, t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
  }
  void move(const std::string& box, inventory::ShipmentStatus to, std::optional<std::string> tracking) {
    auto moved = t.app->inventory().move_shipment(box, to, tracking, std::nullopt, t.actor);
    EXPECT_TRUE(moved.ok()) << (moved.ok() ? "" : moved.error().message);
  }
  std::vector<billing::Invoice> invoices(const std::string& sub) {  // newest first
    auto page = t.app->billing().service.list_invoices({.subscription = sub, .page = {.limit = 100}});
    EXPECT_TRUE(page.ok() && !page->items.empty());
    return page->items;
  }
  std::vector<inventory::Shipment> boxes(const std::string& sub) {  // newest first
    auto page = t.app->inventory().list_shipments({.subscription = sub, .page = {.limit = 100}});
    EXPECT_TRUE(page.ok() && !page->items.empty());
    return page->items;
  }

  // The messages made from `template_name` about `resource`, by channel then recipient.
  std::vector<std::pair<std::string, std::string>> sent(const std::string& template_name, const std::string& resource) {
    auto page =
        t.app->notifications().list({.template_name = template_name, .resource = resource, .page = {.limit = 100}});
    EXPECT_TRUE(page.ok());
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& n : page->items) out.emplace_back(std::string(to_string(n.channel)), n.to);
    std::sort(out.begin(), out.end());
    return out;
  }
  Notification only_sms(const std::string& template_name, const std::string& resource) {
    auto page = t.app->notifications().list(
        {.channels = {"sms"}, .template_name = template_name, .resource = resource, .page = {.limit = 100}});
    EXPECT_TRUE(page.ok() && page->items.size() == 1u) << template_name << " " << resource;
    return page.ok() && !page->items.empty() ? page->items.front() : Notification{};
  }
  std::int64_t count(const std::string& sql, db::Params params = {}) {
    return testing::count(t, sql, std::move(params));
  }

  TestApp t;
};

using Sent = std::vector<std::pair<std::string, std::string>>;

TEST_F(CustomerSmsTest, AnOptedInCustomerIsTextedAFailedPaymentABackorderDelayAndAShippedBoxAsWellAsEmailed) {
  Story s = live(true);
  const Sent both{{"email", "ada@example.com"}, {"sms", kPhone}};
  EXPECT_EQ(sent("payment_failed", s.renewal_invoice), both);
  EXPECT_EQ(sent("backorder_delay", s.backordered_box), both);
  EXPECT_EQ(sent("shipment_shipped", s.shipped_box), both);
  // Receipts stay e-mail only.
  EXPECT_EQ(sent("receipt", s.first_invoice), (Sent{{"email", "ada@example.com"}}));

  // The texts: short, about the customer's own box or invoice, no name and no link.
  auto failed = only_sms("payment_failed", s.renewal_invoice);
  EXPECT_EQ(failed.customer, s.customer.id);
  EXPECT_EQ(failed.status, DeliveryStatus::kQueued);
  EXPECT_NE(failed.text.find("Your payment of 24.00 USD for Invoice INV-"), std::string::npos) << failed.text;
  EXPECT_EQ(failed.text.find("token"), std::string::npos) << failed.text;
  EXPECT_TRUE(failed.secrets.empty());
  EXPECT_EQ(only_sms("backorder_delay", s.backordered_box).text,
            "Ethiopian beans is on backorder; we expect to ship your box as soon as it is back in stock.");
  EXPECT_EQ(only_sms("shipment_shipped", s.shipped_box).text,
            "Your box " + s.shipped_box + " has shipped. Tracking: 1Z999AA10123456784");
  for (const auto& sms : {failed, only_sms("shipment_shipped", s.shipped_box)}) {
    EXPECT_EQ(sms.text.find("Ada"), std::string::npos) << sms.text;
    EXPECT_LE(sms.text.size(), 160u) << sms.text;
  }
  // The text issued no update-payment token of its own: the e-mail's is the only one.
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens WHERE invoice_id = $1", {s.renewal_invoice}), 1);
}

TEST_F(CustomerSmsTest, ACustomerWhoDidNotOptInIsOnlyEmailedEvenWithAPhone) {
  Story s = live(false);
  const Sent email{{"email", "ada@example.com"}};
  EXPECT_EQ(sent("payment_failed", s.renewal_invoice), email);
  EXPECT_EQ(sent("backorder_delay", s.backordered_box), email);
  EXPECT_EQ(sent("shipment_shipped", s.shipped_box), email);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE channel = 'sms'"), 0);
}

TEST_F(CustomerSmsTest, OptingOutStopsTheTextsFromTheNextMessageOn) {
  Story s = live(true);
  customers::CustomerPatch out;
  out.sms_opt_in = false;
  auto c = t.app->customers().get(s.customer.id);
  ASSERT_TRUE(t.app->customers().update(s.customer.id, out, c->version, t.actor).ok());
  auto box = *t.app->inventory().shipment(s.shipped_box);
  inventory::ShipmentNotices notices(t.app->notifications());
  auto queued = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    notices.send(tx, box, "shipment_shipped", {{"tracking_number", "1Z999AA10123456784"}});
    return Ok{};
  });
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'shipment_shipped' AND channel = 'email'"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications WHERE template = 'shipment_shipped' AND channel = 'sms'"), 1);
}

TEST_F(CustomerSmsTest, TheEmailAndTheTextAreQueuedInTheCallersTransactionAndGoWithItsRollback) {
  Story s = live(true);
  auto invoice = *t.app->billing().service.get_invoice(s.renewal_invoice);
  auto payments = t.app->billing().service.list_payments({.invoice = invoice.id, .page = {.limit = 10}});
  ASSERT_TRUE(payments.ok() && payments->items.size() == 1u);
  auto declined = payments->items.front();
  ASSERT_EQ(declined.status, billing::PaymentStatus::kFailed);
  auto shipped = *t.app->inventory().shipment(s.shipped_box);
  auto backordered = *t.app->inventory().shipment(s.backordered_box);
  inventory::ShipmentNotices notices(t.app->notifications());
  const std::int64_t messages = count("SELECT COUNT(*) FROM notifications");
  const std::int64_t tokens = count("SELECT COUNT(*) FROM payment_update_tokens");

  // Each message again, in one transaction that then fails: inside it, both channels are there...
  std::int64_t inside = 0;
  auto rolled_back = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    t.app->billing().messages.tell_customer(tx, invoice, declined);
    notices.send(tx, backordered, "backorder_delay", {{"expected_date", "2026-03-12"}});
    notices.send(tx, shipped, "shipment_shipped", {{"tracking_number", "1Z999AA10123456784"}});
    RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM notifications"));
    inside = rows.at(0).int64(0);
    return Error::internal("test_rollback", "the change that caused the messages failed");
  });
  ASSERT_FALSE(rolled_back.ok());
  EXPECT_EQ(inside, messages + 6);  // 3 e-mails + 3 texts beside what was there
  // ...and after the rollback, neither.
  EXPECT_EQ(count("SELECT COUNT(*) FROM notifications"), messages);
  EXPECT_EQ(count("SELECT COUNT(*) FROM payment_update_tokens"), tokens);
}

}  // namespace
}  // namespace recur::app
