// Personal data at rest (issue 15): what a person gives Recur never appears in the raw
// database (SQLite's main file and WAL; a pg_dump of PostgreSQL), is found again through blind
// indexes, is exported whole, and is gone everywhere once the customer is erased; the master
// key rotates online.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "app/data_subject.h"
#include "customers/store.h"
#include "events/store.h"
#include "privacy/keyring.h"
#include "privacy/privacy.h"
#include "testing/fixtures.h"

namespace recur::app {
namespace {

using testing::at;
using testing::TestApp;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every byte the database holds: the SQLite file and its WAL, or a dump of the test's
// PostgreSQL schema.
std::string raw_database(const TestApp& t) {
  if (t.db_url.rfind("sqlite:", 0) == 0) {
    auto path = t.db_url.substr(7);
    auto bytes = read_file(path) + read_file(path + "-wal");
    EXPECT_GT(bytes.size(), 4096u);  // the file was read
    return bytes;
  }
  auto schema = t.db_url.substr(t.db_url.find("search_path%3D") + 14);
  const char* bindir = std::getenv("RECUR_TEST_PG_BINDIR");
  std::string cmd = std::string(bindir ? bindir : "/usr/bin") + "/pg_dump --data-only --schema=" + schema + " '" +
                    std::getenv("RECUR_TEST_PG_URL") + "'";
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  char buf[65536];
  for (std::size_t n; pipe && (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  EXPECT_EQ(pipe ? ::pclose(pipe) : -1, 0) << cmd;
  EXPECT_NE(out.find("COPY " + schema + ".customers"), std::string::npos);  // the dump holds the data
  return out;
}

class PrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-03-01T10:00:00Z")); }

  // A customer with a marker in every personal field, a subscription shipping elsewhere,
  // canceled at period end with a comment, billed (a receipt e-mailed) and shipped.
  customers::Customer person() {
    customers::Address home{"MKHOMEline1 Row", std::string("MKHOMEline2"), "MKHOMEcity", "MKZIP1", std::nullopt, "GB"};
    customers::CustomerInput in;
    in.email = "MKemail.ada@example.com";
    in.name = "MKNAME Lovelace";
    in.phone = "+14155550987";
    in.sms_opt_in = true;
    in.shipping_address = home;
    in.marketing_consent = customers::ConsentInput{true, "checkout"};
    auto c = t.app->customers().create(in, t.actor);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    auto pm = t.app->customers().attach_payment_method(c->id, {std::string("sandbox"), "pm_card_visa", true, ""},
                                                       t.actor);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    auto plan = testing::make_plan(t, 2500, Interval::kMonth);
    subscriptions::CreateInput sub_in{c->id, plan.id};
    sub_in.shipping_address = customers::Address{"MKSUBline1", std::nullopt, "MKSUBcity", "MKZIP2", std::nullopt, "FR"};
    auto sub = t.app->subscriptions().create(sub_in, t.actor);
    EXPECT_TRUE(sub.ok()) << (sub.ok() ? "" : sub.error().message);
    subscription = sub->id;
    auto run = t.app->run_billing("test");
    EXPECT_TRUE(run.ok()) << (run.ok() ? "" : run.error().message);
    auto canceled = t.app->subscriptions().cancel(sub->id, {true, "other", std::string("MKCOMMENT moving away")},
                                                 std::nullopt, t.actor);
    EXPECT_TRUE(canceled.ok()) << (canceled.ok() ? "" : canceled.error().message);
    return *c;
  }

  static std::vector<std::string> markers() {
    return {"MKemail", "mkemail", "MKNAME", "4155550987", "MKHOME", "MKZIP1", "MKSUB", "MKZIP2", "MKCOMMENT"};
  }

  void expect_no_markers(const std::string& bytes, const std::string& where) {
    for (const auto& m : markers()) EXPECT_EQ(bytes.find(m), std::string::npos) << m << " found in " << where;
  }

  Json get_json(const std::function<Json(db::Tx&)>& read) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    EXPECT_TRUE(tx.ok());
    return read(**tx);
  }

  std::vector<events::Event> events_of(const std::string& id) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    EXPECT_TRUE(tx.ok());
    ListParams all;
    all.limit = 100;
    auto page = events::list_for_resource(**tx, id, all);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page.ok() ? page->items : std::vector<events::Event>{};
  }

  TestApp t;
  std::string subscription;
};

TEST_F(PrivacyTest, NoPersonalFieldReachesTheDatabaseInClear) {
  auto c = person();
  // What the API shows is whole...
  auto shown = t.app->customers().get(c.id);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->email, "MKemail.ada@example.com");
  EXPECT_EQ(shown->shipping_address->line2, std::optional<std::string>("MKHOMEline2"));
  auto events = events_of(subscription);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().after.at("cancellation").at("comment"), "MKCOMMENT moving away");
  EXPECT_EQ(events.back().details.at("comment"), "MKCOMMENT moving away");
  ASSERT_GT(testing::count(t, "SELECT COUNT(*) FROM notifications WHERE customer_id = $1", {c.id}), 0);
  ASSERT_GT(testing::count(t, "SELECT COUNT(*) FROM shipments WHERE customer_id = $1", {c.id}), 0);
  // ...and none of it is in the database's bytes: rows, event copies, notifications, shipments.
  expect_no_markers(raw_database(t), "the database");
}

TEST_F(PrivacyTest, BlindIndexesFindCustomersByEmailWhateverTheCaseAndByPhone) {
  auto c = person();
  testing::make_customer(t, "someone.else@example.com");
  customers::ListFilter by_email;
  by_email.email = "mkEMAIL.ADA@example.com";
  auto found = t.app->customers().list(by_email);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].id, c.id);
  customers::ListFilter by_phone;
  by_phone.phone = "+14155550987";
  found = t.app->customers().list(by_phone);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].id, c.id);
  by_phone.phone = "+14155550988";
  found = t.app->customers().list(by_phone);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->items.empty());
}

TEST_F(PrivacyTest, ExportHoldsEverythingAboutThePersonButNoToken) {
  auto c = person();
  auto doc = export_customer(*t.app, c.id, t.actor);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(doc->at("customer").at("email"), "MKemail.ada@example.com");
  EXPECT_EQ(doc->at("consents").at("marketing").at("granted"), true);
  EXPECT_EQ(doc->at("consents").at("marketing").at("source"), "checkout");
  ASSERT_EQ(doc->at("payment_methods").size(), 1u);
  EXPECT_EQ(doc->at("payment_methods")[0].at("card").at("last4"), "4242");
  EXPECT_FALSE(doc->at("payment_methods")[0].contains("token"));
  ASSERT_EQ(doc->at("subscriptions").size(), 1u);
  EXPECT_GE(doc->at("subscriptions")[0].at("history").size(), 2u);
  EXPECT_EQ(doc->at("subscriptions")[0].at("shipping_address").at("city"), "MKSUBcity");
  EXPECT_EQ(doc->at("invoices").size(), 1u);
  EXPECT_EQ(doc->at("payments").size(), 1u);
  EXPECT_EQ(doc->at("shipments").size(), 1u);
  EXPECT_GE(doc->at("notifications").size(), 1u);
  EXPECT_EQ(export_customer(*t.app, "cus_nobody", t.actor).error().code, "customer_not_found");
}

TEST_F(PrivacyTest, AWalletsEmailIsSealedExportedAndShreddedByErasure) {
  auto c = testing::make_customer(t, "wallet.owner@example.com");
  auto wallet = t.app->customers().attach_payment_method(c.id, {std::string("sandbox"), "pm_paypal", true, ""},
                                                         t.actor);
  ASSERT_TRUE(wallet.ok()) << wallet.error().message;
  EXPECT_EQ(wallet->email, "buyer@example.com");
  // Never at rest in the clear: not in its row, not in the attach event.
  EXPECT_EQ(raw_database(t).find("buyer@example.com"), std::string::npos);
  auto doc = export_customer(*t.app, c.id, t.actor);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  const Json& exported = doc->at("payment_methods")[0];
  EXPECT_EQ(exported.at("type"), "paypal");
  EXPECT_TRUE(exported.at("card").is_null());
  EXPECT_EQ(exported.at("paypal").at("email"), "buyer@example.com");

  ASSERT_TRUE(erase_customer(*t.app, c.id, "GDPR request 8", t.actor).ok());
  auto methods = t.app->customers().payment_methods(c.id);
  ASSERT_TRUE(methods.ok()) << methods.error().message;
  ASSERT_EQ(methods->items.size(), 1u);
  EXPECT_EQ(methods->items[0].email, "");
  int copies = 0;
  for (const auto& e : events_of(c.id))
    if (e.details.is_object() && e.details.contains("payment_method")) {
      ++copies;
      EXPECT_TRUE(e.details.at("payment_method").at("paypal").at("email").is_null()) << e.type;
    }
  EXPECT_EQ(copies, 1);
}

TEST_F(PrivacyTest, ErasureShredsEveryCopyKeepsTheMoneyAndIsIdempotent) {
  auto c = person();
  auto other = testing::make_customer(t, "bystander@example.com");
  auto invoice_total = testing::count(t, "SELECT COUNT(*) FROM invoices WHERE customer_id = $1", {c.id});
  ASSERT_EQ(invoice_total, 1);

  auto erased = erase_customer(*t.app, c.id, "GDPR request 7", t.actor);
  ASSERT_TRUE(erased.ok()) << erased.error().message;
  EXPECT_EQ(erased->at("erased"), true);
  EXPECT_TRUE(erased->at("email").is_null());
  EXPECT_TRUE(erased->at("name").is_null());
  EXPECT_TRUE(erased->at("phone").is_null());
  EXPECT_TRUE(erased->at("shipping_address").is_null());

  // The live subscription ended now; the invoice and its payment stay, amounts and all.
  auto sub = t.app->subscriptions().get(subscription);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->status, subscriptions::Status::kCanceled);
  EXPECT_FALSE(sub->shipping_address.has_value());
  EXPECT_FALSE(sub->cancellation->comment.has_value());
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM invoices WHERE customer_id = $1", {c.id}), 1);
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"), 1);
  // Every copy in the event log reads as null now, before and after.
  for (const auto& e : events_of(c.id)) {
    for (const auto* copy : {&e.before, &e.after})
      if (copy->is_object()) {
        EXPECT_TRUE(copy->at("email").is_null()) << e.type;
      }
  }
  for (const auto& e : events_of(subscription)) {
    if (e.after.is_object()) {
      EXPECT_TRUE(e.after.at("shipping_address").is_null()) << e.type;
    }
    if (e.details.is_object() && e.details.contains("comment")) {
      EXPECT_TRUE(e.details.at("comment").is_null());
    }
  }
  EXPECT_EQ(events_of(c.id).back().type, "customer.erased");
  // The key is gone: the sealed bytes cannot be opened by anyone any more.
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM data_keys WHERE id = $1 AND wrapped IS NULL"
                              " AND destroyed_at IS NOT NULL", {c.id}), 1);
  expect_no_markers(raw_database(t), "the database after erasure");
  // Nobody else was touched.
  auto bystander = t.app->customers().get(other.id);
  ASSERT_TRUE(bystander.ok());
  EXPECT_EQ(bystander->email, "bystander@example.com");

  // Idempotent: the same answer, nothing changed.
  auto again = erase_customer(*t.app, c.id, "GDPR request 7", t.actor);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->at("version"), erased->at("version"));
  // An erased customer takes no changes and no new subscriptions.
  customers::CustomerPatch patch;
  patch.name = "Back again";
  auto changed = t.app->customers().update(c.id, patch, erased->at("version"), t.actor);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.error().code, "customer_erased");
  auto plan = testing::make_plan(t, 1000, Interval::kMonth);
  auto resubscribed = t.app->subscriptions().create({c.id, plan.id}, t.actor);
  ASSERT_FALSE(resubscribed.ok());
  EXPECT_EQ(resubscribed.error().code, "customer_erased");
  // Erasure's export shows what remains: money, no person.
  auto doc = export_customer(*t.app, c.id, t.actor);
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(doc->at("customer").at("email").is_null());
  EXPECT_EQ(doc->at("invoices").size(), 1u);
  EXPECT_EQ(doc->dump().find("MK"), std::string::npos);
}

// --erase-after-days: a customer whose last subscription ended that long ago is erased like
// any other (events, key destroyed); one still subscribed, one who lapsed recently and one
// who never subscribed are not. The hourly guard is App's (run_erasure_if_due).
TEST_F(PrivacyTest, RetentionErasesCustomersLapsedLongEnoughAndNobodyElse) {
  auto lapsed = person();  // canceled at the end of the period that ends 2026-04-01
  auto plan = testing::make_plan(t, 1000, Interval::kMonth);
  auto active = testing::make_customer(t, "active@example.com");
  ASSERT_TRUE(t.app->subscriptions().create({active.id, plan.id}, t.actor).ok());
  auto never = testing::make_customer(t, "never@example.com");
  auto recent = testing::make_customer(t, "recent@example.com");
  auto erased = [&](const std::string& id) {
    auto c = t.app->customers().get(id);
    EXPECT_TRUE(c.ok());
    return c.ok() && c->erased_at.has_value();
  };

  auto none = erase_lapsed_customers(*t.app, 30);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(*none, 0);  // its subscription has not ended yet

  t.clock->set(at("2026-04-20T09:00:00Z"));
  ASSERT_TRUE(t.app->run_billing("test").ok());  // the period-end cancellation takes effect
  auto sub = t.app->subscriptions().create({recent.id, plan.id}, t.actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_TRUE(t.app->subscriptions().cancel(sub->id, {false, "other", std::nullopt}, std::nullopt, t.actor).ok());
  EXPECT_EQ(*erase_lapsed_customers(*t.app, 30), 0);  // 19 days since the first ended
  EXPECT_FALSE(erased(lapsed.id));

  t.clock->set(at("2026-05-02T00:00:00Z"));  // 30 days and more since 2026-04-01
  auto first = erase_lapsed_customers(*t.app, 30);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 1);
  EXPECT_TRUE(erased(lapsed.id));
  EXPECT_FALSE(erased(recent.id));
  EXPECT_EQ(events_of(lapsed.id).back().type, "customer.erased");
  EXPECT_EQ(events_of(lapsed.id).back().actor.id, "retention");
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM data_keys WHERE id = $1 AND wrapped IS NULL", {lapsed.id}), 1);

  t.clock->set(at("2026-05-21T00:00:00Z"));
  EXPECT_EQ(*erase_lapsed_customers(*t.app, 30), 1);
  EXPECT_TRUE(erased(recent.id));
  EXPECT_FALSE(erased(active.id));
  EXPECT_FALSE(erased(never.id));
  EXPECT_EQ(*erase_lapsed_customers(*t.app, 30), 0);  // the erased are not candidates again
  EXPECT_EQ(*erase_lapsed_customers(*t.app, 0), 0);   // off
  // The setting's own switch: off by default, so the scheduler's call does nothing.
  auto off = t.app->run_erasure_if_due();
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has_value());
}

TEST_F(PrivacyTest, MasterKeyRotatesOnlineAndTheOldKeyIsGone) {
  auto c = person();
  // Another node, opened before the rotation, holding the old master key in memory.
  auto node = testing::reopen(t, *t.clock);
  auto old_file = read_file(t.master_key_file);
  auto old_id = t.app->keyring().master_fingerprint();
  auto before = testing::count(t, "SELECT COUNT(*) FROM data_keys WHERE master_id = $1", {old_id});
  ASSERT_GE(before, 2);  // the customer's and the blind index's (and the system's, once used)

  auto rewrapped = t.app->keyring().rotate_master(t.app->database(), std::chrono::milliseconds(0));
  ASSERT_TRUE(rewrapped.ok()) << rewrapped.error().message;
  EXPECT_EQ(*rewrapped, before);
  auto new_id = t.app->keyring().master_fingerprint();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM data_keys WHERE master_id = $1", {old_id}), 0);
  auto new_file = read_file(t.master_key_file);
  EXPECT_EQ(new_file.size(), 32u);  // the new key alone
  EXPECT_EQ(new_file.find(old_file), std::string::npos);

  // Both nodes read everything (the other one reads the new file when it meets the new key).
  EXPECT_EQ(t.app->customers().get(c.id)->email, "MKemail.ada@example.com");
  auto on_node = node->customers().get(c.id);
  ASSERT_TRUE(on_node.ok()) << on_node.error().message;
  EXPECT_EQ(on_node->name, "MKNAME Lovelace");
  // A node given only the old key reads nothing personal.
  auto old_path = t.master_key_file + ".old";
  {
    std::ofstream out(old_path, std::ios::binary);
    out << old_file;
  }
  app::Options options{t.db_url, 2, "", ""};
  options.master_key_file = old_path;
  auto stale = app::App::open(options, std::make_unique<SimulatedClock>(t.clock->now()));
  ASSERT_TRUE(stale.ok());
  auto refused = (*stale)->customers().get(c.id);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "master_key_unknown");
}

TEST_F(PrivacyTest, TheMasterKeyFileIsMadeOncePrivateAndChecked) {
  auto path = std::filesystem::path(t.master_key_file);
  ASSERT_TRUE(std::filesystem::exists(path));
  auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  EXPECT_EQ(std::filesystem::file_size(path), 32u);
  bool created = true;
  auto again = privacy::load_or_create_master_keys(path, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  auto bad = path.parent_path() / "bad.key";
  {
    std::ofstream out(bad, std::ios::binary);
    out << "too short";
  }
  auto refused = privacy::load_or_create_master_keys(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "master_key_invalid");
}

}  // namespace
}  // namespace recur::app
