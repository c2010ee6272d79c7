// Customer use cases and store functions against a real database (SQLite or PostgreSQL, per
// RECUR_TEST_ENGINE): create, read, list and page, optimistic updates, payment methods
// through the sandbox gateway and where the default method goes.
#include <gtest/gtest.h>

#include <set>

#include "events/store.h"
#include "testing/fixtures.h"

namespace recur::customers {
namespace {

using testing::at;
using testing::TestApp;

class CustomerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  CustomerService& svc() { return t.app->customers(); }

  Customer create(const std::string& email, const std::string& name = "Ada") {
    auto c = svc().create({email, name, std::nullopt, std::nullopt, Json::object()}, t.actor);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return *c;
  }
  Customer reload(const std::string& id) {
    auto c = svc().get(id);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return *c;
  }
  Result<PaymentMethod> attach(const std::string& customer, const std::string& token, bool make_default = false,
                               const std::string& request_key = "") {
    return svc().attach_payment_method(customer, {std::string("sandbox"), token, make_default, request_key}, t.actor);
  }
  PaymentMethod attached(const std::string& customer, const std::string& token, bool make_default = false) {
    auto pm = attach(customer, token, make_default);
    EXPECT_TRUE(pm.ok()) << (pm.ok() ? "" : pm.error().message);
    return *pm;
  }
  std::vector<events::Event> events_of(const std::string& id) {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    EXPECT_TRUE(tx.ok());
    ListParams all;
    all.limit = 100;
    auto page = events::list_for_resource(**tx, id, all);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page->items;
  }
  static std::vector<std::string> types(const std::vector<events::Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.type);
    return out;
  }
  static std::vector<std::string> ids(const std::vector<Customer>& customers) {
    std::vector<std::string> out;
    for (const auto& c : customers) out.push_back(c.id);
    return out;
  }
  TestApp t;
};

// ------------------------------------------------------------------ create, get, list

TEST_F(CustomerServiceTest, CreateStoresEveryFieldAtVersionOneAndRecordsTheCreation) {
  Address address{"1 Market St", std::nullopt, "San Francisco", "94105", std::string("CA"), "US"};
  auto created = svc().create({"ada@example.com", "Ada", std::string("+14155550123"), address, Json{{"crm", "7"}}},
                              t.actor);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->id.rfind("cus_", 0), 0u);
  EXPECT_EQ(created->version, 1);
  EXPECT_EQ(created->created, at("2026-01-31T10:00:00Z"));
  EXPECT_EQ(created->updated, created->created);

  Customer c = reload(created->id);
  EXPECT_EQ(c.email, "ada@example.com");
  EXPECT_EQ(c.name, "Ada");
  EXPECT_EQ(c.phone, "+14155550123");
  ASSERT_TRUE(c.shipping_address);
  EXPECT_EQ(c.shipping_address->city, "San Francisco");
  EXPECT_EQ(c.shipping_address->state, "CA");
  EXPECT_FALSE(c.default_payment_method.has_value());
  EXPECT_EQ(c.metadata, (Json{{"crm", "7"}}));
  EXPECT_EQ(c.version, 1);

  auto events = events_of(c.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "customer.created");
  EXPECT_EQ(events[0].resource_type, "customer");
  EXPECT_TRUE(events[0].before.is_null());
  EXPECT_EQ(events[0].after, to_json(c));
  EXPECT_EQ(events[0].actor.id, t.actor.id);
}

TEST_F(CustomerServiceTest, GettingAnUnknownCustomerIsNotFound) {
  auto c = svc().get("cus_nope");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(c.error().code, "customer_not_found");
}

TEST_F(CustomerServiceTest, ListIsNewestFirstAndPagesAfterTheLastIdSeen) {
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) made.push_back(create("c" + std::to_string(i) + "@example.com").id);
  std::vector<std::string> newest_first(made.rbegin(), made.rend());

  auto first = svc().list({std::nullopt, {.limit = 2}});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(ids(first->items), (std::vector<std::string>{newest_first[0], newest_first[1]}));
  EXPECT_TRUE(first->has_more);

  auto second = svc().list({std::nullopt, {.limit = 2, .starting_after = first->items.back().id}});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(ids(second->items), (std::vector<std::string>{newest_first[2], newest_first[3]}));
  EXPECT_TRUE(second->has_more);

  auto last = svc().list({std::nullopt, {.limit = 2, .starting_after = second->items.back().id}});
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(ids(last->items), (std::vector<std::string>{newest_first[4]}));
  EXPECT_FALSE(last->has_more);

  auto exact = svc().list({std::nullopt, {.limit = 5}});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(ids(exact->items), newest_first);
  EXPECT_FALSE(exact->has_more);  // a full page with nothing after it
}

TEST_F(CustomerServiceTest, ListFiltersByEmailAndPagesWithinTheFilter) {
  auto a1 = create("a@example.com");
  create("b@example.com");
  auto a2 = create("a@example.com");
  create("c@example.com");

  auto all_a = svc().list({std::string("a@example.com"), {.limit = 10}});
  ASSERT_TRUE(all_a.ok()) << all_a.error().message;
  EXPECT_EQ(ids(all_a->items), (std::vector<std::string>{a2.id, a1.id}));
  EXPECT_FALSE(all_a->has_more);

  // Both the cursor and the filter bound: their placeholders must not swap.
  auto page1 = svc().list({std::string("a@example.com"), {.limit = 1}});
  ASSERT_TRUE(page1.ok()) << page1.error().message;
  EXPECT_EQ(ids(page1->items), (std::vector<std::string>{a2.id}));
  EXPECT_TRUE(page1->has_more);
  auto page2 = svc().list({std::string("a@example.com"), {.limit = 1, .starting_after = a2.id}});
  ASSERT_TRUE(page2.ok()) << page2.error().message;
  EXPECT_EQ(ids(page2->items), (std::vector<std::string>{a1.id}));
  EXPECT_FALSE(page2->has_more);

  auto none = svc().list({std::string("nobody@example.com"), {.limit = 10}});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->has_more);
}

// ------------------------------------------------------------------ update

TEST_F(CustomerServiceTest, UpdateChangesOnlyThePatchedFieldsAndRecordsBeforeAndAfter) {
  auto created = svc().create({"ada@example.com", "Ada", std::string("+14155550123"), std::nullopt, Json::object()},
                              t.actor);
  ASSERT_TRUE(created.ok());
  t.clock->set(at("2026-02-01T00:00:00Z"));
  CustomerPatch patch;
  patch.name = "Ada King";
  patch.phone = std::optional<std::string>();  // cleared
  auto updated = svc().update(created->id, patch, 1, t.actor);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(updated->version, 2);
  EXPECT_EQ(updated->updated, at("2026-02-01T00:00:00Z"));

  Customer c = reload(created->id);
  EXPECT_EQ(c.name, "Ada King");
  EXPECT_FALSE(c.phone.has_value());
  EXPECT_EQ(c.email, "ada@example.com");  // not in the patch
  EXPECT_EQ(c.created, created->created);
  EXPECT_EQ(c.version, 2);

  auto events = events_of(c.id);
  ASSERT_EQ(types(events), (std::vector<std::string>{"customer.created", "customer.updated"}));
  EXPECT_EQ(events[1].before.at("name"), "Ada");
  EXPECT_EQ(events[1].before.at("phone"), "+14155550123");
  EXPECT_EQ(events[1].after.at("name"), "Ada King");
  EXPECT_TRUE(events[1].after.at("phone").is_null());
  EXPECT_EQ(events[1].after.at("version"), 2);
}

TEST_F(CustomerServiceTest, UpdateWithAStaleVersionIsAVersionConflictAndChangesNothing) {
  auto c = create("ada@example.com");
  CustomerPatch first;
  first.name = "First";
  ASSERT_TRUE(svc().update(c.id, first, 1, t.actor).ok());

  CustomerPatch stale;
  stale.name = "Second";
  stale.email = "second@example.com";
  auto refused = svc().update(c.id, stale, 1, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);  // 409
  EXPECT_EQ(refused.error().code, "version_conflict");
  EXPECT_EQ(Json::parse(refused.error().extra_json).at("current_version"), 2);

  Customer now = reload(c.id);
  EXPECT_EQ(now.name, "First");
  EXPECT_EQ(now.email, "ada@example.com");
  EXPECT_EQ(now.version, 2);
  EXPECT_EQ(types(events_of(c.id)), (std::vector<std::string>{"customer.created", "customer.updated"}));
  // The email column (what the list filters on) did not move either.
  auto by_new_email = svc().list({std::string("second@example.com"), {.limit = 10}});
  ASSERT_TRUE(by_new_email.ok());
  EXPECT_TRUE(by_new_email->items.empty());
}

TEST_F(CustomerServiceTest, UpdatingAnUnknownCustomerIsNotFound) {
  CustomerPatch patch;
  patch.name = "X";
  auto r = svc().update("cus_nope", patch, 1, t.actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(r.error().code, "customer_not_found");
}

// ------------------------------------------------------------------ SMS opt-in

TEST_F(CustomerServiceTest, OptingInToSmsWithoutAPhoneIsRefusedOnCreateAndStoresNothing) {
  auto count = [&] { return svc().list({std::nullopt, {.limit = 100}})->items.size(); };
  CustomerInput in{.email = "ada@example.com", .name = "Ada", .sms_opt_in = true};
  auto refused = svc().create(in, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "validation_failed");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].field, "phone");
  EXPECT_EQ(refused.error().fields[0].code, "required");
  EXPECT_EQ(count(), 0u);

  in.phone = "+14155550123";
  auto created = svc().create(in, t.actor);
  ASSERT_TRUE(created.ok()) << created.error().message;
  Customer c = reload(created->id);
  EXPECT_TRUE(c.sms_opt_in);
  EXPECT_EQ(sms_number(c), "+14155550123");
  EXPECT_EQ(events_of(c.id).at(0).after.at("sms_opt_in"), true);
  // Not opting in is the default.
  EXPECT_FALSE(create("grace@example.com").sms_opt_in);
}

TEST_F(CustomerServiceTest, AnOptedInCustomerKeepsAPhoneUntilTheyOptOut) {
  auto c = create("ada@example.com");
  // Opting in with no phone stored or sent is refused, and changes nothing.
  CustomerPatch opt_in;
  opt_in.sms_opt_in = true;
  auto refused = svc().update(c.id, opt_in, 1, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().fields.at(0).field, "phone");
  EXPECT_EQ(reload(c.id).version, 1);
  // With the phone in the same patch it is accepted.
  opt_in.phone = std::optional<std::string>("+14155550123");
  ASSERT_TRUE(svc().update(c.id, opt_in, 1, t.actor).ok());
  // Clearing the phone while opted in is refused...
  CustomerPatch clear;
  clear.phone = std::optional<std::string>();
  auto kept = svc().update(c.id, clear, 2, t.actor);
  ASSERT_FALSE(kept.ok());
  EXPECT_EQ(kept.error().fields.at(0).field, "phone");
  Customer now = reload(c.id);
  EXPECT_EQ(now.phone, "+14155550123");
  EXPECT_TRUE(now.sms_opt_in);
  EXPECT_EQ(now.version, 2);
  // ...and accepted together with opting out.
  clear.sms_opt_in = false;
  auto out = svc().update(c.id, clear, 2, t.actor);
  ASSERT_TRUE(out.ok()) << out.error().message;
  now = reload(c.id);
  EXPECT_FALSE(now.phone.has_value());
  EXPECT_FALSE(now.sms_opt_in);
  EXPECT_EQ(types(events_of(c.id)),
            (std::vector<std::string>{"customer.created", "customer.updated", "customer.updated"}));
}

TEST_F(CustomerServiceTest, AnEmailChangeMovesTheCustomerBetweenEmailFilters) {
  auto c = create("old@example.com");
  CustomerPatch patch;
  patch.email = "new@example.com";
  ASSERT_TRUE(svc().update(c.id, patch, 1, t.actor).ok());
  auto old_list = svc().list({std::string("old@example.com"), {.limit = 10}});
  auto new_list = svc().list({std::string("new@example.com"), {.limit = 10}});
  ASSERT_TRUE(old_list.ok() && new_list.ok());
  EXPECT_TRUE(old_list->items.empty());
  EXPECT_EQ(ids(new_list->items), (std::vector<std::string>{c.id}));
}

// ------------------------------------------------------------------ payment methods

TEST_F(CustomerServiceTest, TheFirstAttachedMethodBecomesTheDefaultAndAPlainSecondOneDoesNot) {
  auto c = create("ada@example.com");
  auto visa = attached(c.id, "pm_card_visa");
  EXPECT_EQ(visa.id.rfind("pmt_", 0), 0u);
  EXPECT_EQ(visa.customer, c.id);
  EXPECT_EQ(visa.gateway, "sandbox");
  EXPECT_EQ(visa.token, "pm_card_visa");
  EXPECT_EQ(visa.brand, "visa");
  EXPECT_EQ(visa.last4, "4242");
  EXPECT_EQ(visa.exp_month, 12);    // the sandbox's cards expire in December,
  EXPECT_EQ(visa.exp_year, 2030);   // four years after the (simulated) year of attaching
  EXPECT_FALSE(visa.detached);
  Customer after_first = reload(c.id);
  EXPECT_EQ(after_first.default_payment_method, visa.id);
  EXPECT_EQ(after_first.version, 2);

  auto master = attached(c.id, "pm_card_mastercard");
  EXPECT_EQ(master.last4, "4444");
  Customer after_second = reload(c.id);
  EXPECT_EQ(after_second.default_payment_method, visa.id);
  EXPECT_EQ(after_second.version, 2);  // untouched

  auto methods = svc().payment_methods(c.id);
  ASSERT_TRUE(methods.ok()) << methods.error().message;
  ASSERT_EQ(methods->items.size(), 2u);
  EXPECT_EQ(methods->items[0].id, master.id);  // newest first
  EXPECT_EQ(methods->items[1].id, visa.id);
  EXPECT_EQ(methods->default_id, visa.id);

  EXPECT_EQ(types(events_of(c.id)),
            (std::vector<std::string>{"customer.created", "customer.payment_method_attached", "customer.updated",
                                      "customer.payment_method_attached"}));
  // Each attach shows the customer as it was then (a new default follows as customer.updated).
  auto events = events_of(c.id);
  EXPECT_EQ(events[1].after.at("id"), c.id);
  EXPECT_TRUE(events[1].after.at("default_payment_method").is_null());
  EXPECT_EQ(events[3].after, to_json(after_second));
  EXPECT_EQ(events[3].details.at("payment_method").at("id"), master.id);
}

TEST_F(CustomerServiceTest, AttachingWithMakeDefaultMovesTheDefault) {
  auto c = create("ada@example.com");
  auto visa = attached(c.id, "pm_card_visa");
  auto amex = attached(c.id, "pm_card_amex", true);
  Customer now = reload(c.id);
  EXPECT_EQ(now.default_payment_method, amex.id);
  EXPECT_EQ(now.version, 3);
  auto methods = svc().payment_methods(c.id);
  ASSERT_TRUE(methods.ok());
  EXPECT_EQ(methods->default_id, amex.id);
  EXPECT_EQ(methods->items.size(), 2u);  // the old default stays attached
  (void)visa;
}

TEST_F(CustomerServiceTest, UpdateMovesTheDefaultOnlyToAnAttachedMethodOfThisCustomer) {
  auto c = create("ada@example.com");
  auto other = create("bob@example.com", "Bob");
  auto visa = attached(c.id, "pm_card_visa");
  auto master = attached(c.id, "pm_card_mastercard");
  auto bobs = attached(other.id, "pm_card_visa");

  CustomerPatch to_bobs;
  to_bobs.default_payment_method = bobs.id;
  auto refused = svc().update(c.id, to_bobs, reload(c.id).version, t.actor);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(refused.error().code, "payment_method_not_found");
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].field, "default_payment_method");
  EXPECT_EQ(reload(c.id).default_payment_method, visa.id);

  CustomerPatch to_master;
  to_master.default_payment_method = master.id;
  auto moved = svc().update(c.id, to_master, reload(c.id).version, t.actor);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(reload(c.id).default_payment_method, master.id);

  // A detached method cannot become the default again. Detaching is a change: version 2.
  EXPECT_EQ(visa.version, 1);
  EXPECT_EQ(visa.updated, visa.created);
  ASSERT_TRUE(svc().detach_payment_method(c.id, visa.id, t.actor).ok());
  auto detached_row = db::transact(t.app->database(), [&](db::Tx& tx) { return find_payment_method(tx, visa.id); });
  ASSERT_TRUE(detached_row.ok() && detached_row->has_value());
  EXPECT_EQ((*detached_row)->version, 2);
  EXPECT_TRUE((*detached_row)->detached);
  CustomerPatch to_detached;
  to_detached.default_payment_method = visa.id;
  auto detached = svc().update(c.id, to_detached, reload(c.id).version, t.actor);
  ASSERT_FALSE(detached.ok());
  EXPECT_EQ(detached.error().code, "payment_method_not_found");
  EXPECT_EQ(reload(c.id).default_payment_method, master.id);
}

TEST_F(CustomerServiceTest, TheListenerHearsOfEachNewDefaultAfterCommitOnly) {
  std::vector<std::string> heard;
  svc().on_default_payment_method_changed([&heard](const std::string& customer) { heard.push_back(customer); });
  auto c = create("ada@example.com");
  auto visa = attached(c.id, "pm_card_visa");  // first: the default
  EXPECT_EQ(heard.size(), 1u);
  auto master = attached(c.id, "pm_card_mastercard");  // not the default
  EXPECT_EQ(heard.size(), 1u);
  CustomerPatch stale;
  stale.default_payment_method = master.id;
  ASSERT_FALSE(svc().update(c.id, stale, 1, t.actor).ok());  // refused: nothing committed
  EXPECT_EQ(heard.size(), 1u);
  CustomerPatch same;
  same.default_payment_method = visa.id;  // already the default: no change to announce
  ASSERT_TRUE(svc().update(c.id, same, reload(c.id).version, t.actor).ok());
  EXPECT_EQ(heard.size(), 1u);
  CustomerPatch move;
  move.default_payment_method = master.id;
  ASSERT_TRUE(svc().update(c.id, move, reload(c.id).version, t.actor).ok());
  EXPECT_EQ(heard, (std::vector<std::string>{c.id, c.id}));
}

TEST_F(CustomerServiceTest, DetachingTheDefaultLeavesNoDefaultUntilTheNextAttach) {
  auto c = create("ada@example.com");
  auto visa = attached(c.id, "pm_card_visa");
  auto master = attached(c.id, "pm_card_mastercard");
  std::int64_t before = reload(c.id).version;

  ASSERT_TRUE(svc().detach_payment_method(c.id, visa.id, t.actor).ok());
  Customer now = reload(c.id);
  EXPECT_FALSE(now.default_payment_method.has_value());  // not silently moved to the other card
  EXPECT_EQ(now.version, before + 1);
  auto methods = svc().payment_methods(c.id);
  ASSERT_TRUE(methods.ok());
  ASSERT_EQ(methods->items.size(), 1u);
  EXPECT_EQ(methods->items[0].id, master.id);
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    ASSERT_TRUE(tx.ok());
    auto charged = default_payment_method(**tx, c.id);
    ASSERT_TRUE(charged.ok());
    EXPECT_FALSE(charged->has_value());
    auto stored = find_payment_method(**tx, visa.id);
    ASSERT_TRUE(stored.ok() && *stored);
    EXPECT_TRUE((*stored)->detached);  // kept, marked
  }

  auto again = svc().detach_payment_method(c.id, visa.id, t.actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(again.error().code, "payment_method_not_found");

  auto amex = attached(c.id, "pm_card_amex");  // no default: the new one takes it
  EXPECT_EQ(reload(c.id).default_payment_method, amex.id);
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    ASSERT_TRUE(tx.ok());
    auto charged = default_payment_method(**tx, c.id);
    ASSERT_TRUE(charged.ok() && *charged);
    EXPECT_EQ((*charged)->id, amex.id);
  }
}

TEST_F(CustomerServiceTest, DetachingANonDefaultMethodKeepsTheDefault) {
  auto c = create("ada@example.com");
  auto visa = attached(c.id, "pm_card_visa");
  auto master = attached(c.id, "pm_card_mastercard");
  std::int64_t before = reload(c.id).version;
  ASSERT_TRUE(svc().detach_payment_method(c.id, master.id, t.actor).ok());
  Customer now = reload(c.id);
  EXPECT_EQ(now.default_payment_method, visa.id);
  EXPECT_EQ(now.version, before);
  auto events = events_of(c.id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, "customer.payment_method_detached");
  // The event's object is its resource, the customer; the card is in details (issue 14).
  EXPECT_TRUE(events.back().before.is_null());
  EXPECT_EQ(events.back().after, to_json(now));
  EXPECT_EQ(events.back().details.at("payment_method").at("id"), master.id);
}

TEST_F(CustomerServiceTest, AMethodOfAnotherCustomerCannotBeDetached) {
  auto c = create("ada@example.com");
  auto other = create("bob@example.com", "Bob");
  auto bobs = attached(other.id, "pm_card_visa");
  auto r = svc().detach_payment_method(c.id, bobs.id, t.actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "payment_method_not_found");
  EXPECT_EQ(reload(other.id).default_payment_method, bobs.id);
  auto methods = svc().payment_methods(other.id);
  ASSERT_TRUE(methods.ok());
  EXPECT_EQ(methods->items.size(), 1u);
}

TEST_F(CustomerServiceTest, ATokenTheSandboxRefusesStoresNothing) {
  auto c = create("ada@example.com");
  auto r = attach(c.id, "pm_card_unknown");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().code, "payment_method_refused");
  auto methods = svc().payment_methods(c.id);
  ASSERT_TRUE(methods.ok());
  EXPECT_TRUE(methods->items.empty());
  Customer now = reload(c.id);
  EXPECT_FALSE(now.default_payment_method.has_value());
  EXPECT_EQ(now.version, 1);
  EXPECT_EQ(types(events_of(c.id)), (std::vector<std::string>{"customer.created"}));
}

TEST_F(CustomerServiceTest, AnUnknownGatewayOrCustomerIsRefused) {
  auto c = create("ada@example.com");
  auto gw = svc().attach_payment_method(c.id, {std::string("nope"), "pm_card_visa", false, ""}, t.actor);
  ASSERT_FALSE(gw.ok());
  EXPECT_EQ(gw.error().code, "unknown_gateway");
  auto cus = attach("cus_nope", "pm_card_visa");
  ASSERT_FALSE(cus.ok());
  EXPECT_EQ(cus.error().code, "customer_not_found");
  auto listed = svc().payment_methods("cus_nope");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, "customer_not_found");
}

TEST_F(CustomerServiceTest, AttachingKeepsTheMetadataGiven) {
  auto c = create("ada@example.com");
  auto pm = svc().attach_payment_method(
      c.id, {std::string("sandbox"), "pm_card_visa", false, "", Json{{"source", "checkout"}}}, t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  auto listed = svc().payment_methods(c.id);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].metadata, (Json{{"source", "checkout"}}));
  EXPECT_EQ(listed->items[0].version, 1);
}

TEST_F(CustomerServiceTest, ARetryWithTheSameRequestKeyGetsTheSameMethod) {
  auto c = create("ada@example.com");
  auto first = attach(c.id, "pm_card_visa", false, "idem-1");
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto retry = attach(c.id, "pm_card_visa", false, "idem-1");
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_EQ(retry->id, first->id);
  auto other_key = attach(c.id, "pm_card_visa", false, "idem-2");
  ASSERT_TRUE(other_key.ok());
  EXPECT_NE(other_key->id, first->id);
  auto methods = svc().payment_methods(c.id);
  ASSERT_TRUE(methods.ok());
  EXPECT_EQ(methods->items.size(), 2u);
}

TEST_F(CustomerServiceTest, PaymentMethodsArePagedNewestFirstAndFilteredByCreatedAndMetadata) {
  auto c = create("ada@example.com");
  auto other = create("bob@example.com", "Bob");
  attached(other.id, "pm_card_visa");
  std::vector<std::string> newest_first;
  for (const char* tier : {"gold", "silver", "gold"}) {
    AttachInput in{std::string("sandbox"), "pm_card_visa", false, "", Json{{"tier", tier}}};
    auto pm = svc().attach_payment_method(c.id, in, t.actor);
    ASSERT_TRUE(pm.ok()) << pm.error().message;
    newest_first.insert(newest_first.begin(), pm->id);
    t.clock->advance(10);
  }
  auto detached = attached(c.id, "pm_card_mastercard");
  ASSERT_TRUE(svc().detach_payment_method(c.id, detached.id, t.actor).ok());
  auto ids = [&](const ListParams& page) {
    auto listed = svc().payment_methods(c.id, page);
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::string> out;
    for (const auto& pm : listed->items) out.push_back(pm.id);
    return std::make_pair(out, listed->has_more);
  };

  auto first = ids({.limit = 2});
  EXPECT_EQ(first.first, (std::vector<std::string>{newest_first[0], newest_first[1]}));
  EXPECT_TRUE(first.second);
  auto second = ids({.limit = 2, .starting_after = newest_first[1]});
  EXPECT_EQ(second.first, (std::vector<std::string>{newest_first[2]}));  // not the detached one, nor Bob's
  EXPECT_FALSE(second.second);
  EXPECT_EQ(ids({.limit = 2, .ending_before = newest_first[2]}).first, first.first);

  EXPECT_EQ(ids({.limit = 10, .metadata = {{"tier", "gold"}}}).first,
            (std::vector<std::string>{newest_first[0], newest_first[2]}));
  Timestamp start = at("2026-01-31T10:00:00Z");
  EXPECT_EQ(ids({.limit = 10, .created_gte = start + 10}).first,
            (std::vector<std::string>{newest_first[0], newest_first[1]}));
  EXPECT_EQ(ids({.limit = 10, .created_lt = start + 10, .metadata = {{"tier", "gold"}}}).first,
            (std::vector<std::string>{newest_first[2]}));

  auto unknown = svc().payment_methods(c.id, {.limit = 2, .starting_after = "pmt_nope"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "validation_failed");
}

TEST_F(CustomerServiceTest, OnlyCardsExpiringByTheMonthAskedForAreListed) {
  auto c = create("ada@example.com");
  auto expiring = attached(c.id, "pm_card_expiring");  // expires in the month of attaching
  attached(c.id, "pm_card_visa");                       // 12/2030
  auto detached = attached(c.id, "pm_card_expiring");
  ASSERT_TRUE(svc().detach_payment_method(c.id, detached.id, t.actor).ok());
  EXPECT_EQ(expiring.exp_month, 1);
  EXPECT_EQ(expiring.exp_year, 2026);
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  ASSERT_TRUE(tx.ok());
  auto by_jan = cards_expiring_by(**tx, 2026 * 12 + 1, 10);
  ASSERT_TRUE(by_jan.ok());
  EXPECT_EQ(*by_jan, (std::vector<std::string>{expiring.id}));
  auto by_dec_2029 = cards_expiring_by(**tx, 2029 * 12 + 12, 10);
  ASSERT_TRUE(by_dec_2029.ok());
  EXPECT_EQ(by_dec_2029->size(), 1u);
  auto by_dec_2030 = cards_expiring_by(**tx, 2030 * 12 + 12, 10);
  ASSERT_TRUE(by_dec_2030.ok());
  EXPECT_EQ(by_dec_2030->size(), 2u);
  auto before_jan = cards_expiring_by(**tx, 2026 * 12, 10);
  ASSERT_TRUE(before_jan.ok());
  EXPECT_TRUE(before_jan->empty());
}

// ------------------------------------------------------------------ store functions

class CustomerStoreTest : public CustomerServiceTest {
 protected:
  std::unique_ptr<db::Tx> begin(db::TxMode mode = db::TxMode::kReadWrite) {
    auto tx = t.app->database().begin(mode);
    EXPECT_TRUE(tx.ok()) << (tx.ok() ? "" : tx.error().message);
    return std::move(*tx);
  }
};

TEST_F(CustomerStoreTest, FindAndLockReadTheSameCustomerAndNothingForAnUnknownId) {
  auto c = create("ada@example.com");
  auto tx = begin();
  auto found = find_customer(*tx, c.id);
  auto locked = lock_customer(*tx, c.id);
  ASSERT_TRUE(found.ok() && locked.ok());
  ASSERT_TRUE(*found && *locked);
  EXPECT_EQ(to_json(**found), to_json(c));
  EXPECT_EQ(to_json(**locked), to_json(c));
  auto missing = find_customer(*tx, "cus_nope");
  auto missing_locked = lock_customer(*tx, "cus_nope");
  ASSERT_TRUE(missing.ok() && missing_locked.ok());
  EXPECT_FALSE(*missing);
  EXPECT_FALSE(*missing_locked);
}

TEST_F(CustomerStoreTest, UpdateCustomerStoresOnlyAtTheExpectedVersion) {
  auto c = create("ada@example.com");
  Customer changed = c;
  changed.name = "Changed";
  changed.version = 2;
  {
    auto tx = begin();
    auto stale = update_customer(*tx, changed, 5);
    ASSERT_TRUE(stale.ok());
    EXPECT_FALSE(*stale);
    auto stored = update_customer(*tx, changed, 1);
    ASSERT_TRUE(stored.ok());
    EXPECT_TRUE(*stored);
    auto again = update_customer(*tx, changed, 1);  // the row is at 2 now
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    ASSERT_TRUE(tx->commit().ok());
  }
  Customer now = reload(c.id);
  EXPECT_EQ(now.name, "Changed");
  EXPECT_EQ(now.version, 2);
}

TEST_F(CustomerStoreTest, WritesOfATransactionThatIsNotCommittedAreGone) {
  auto c = create("ada@example.com");
  Customer fresh = c;
  fresh.id = "cus_uncommitted";
  Customer changed = c;
  changed.name = "Changed";
  changed.version = 2;
  {
    auto tx = begin();
    ASSERT_TRUE(insert_customer(*tx, fresh).ok());
    auto stored = update_customer(*tx, changed, 1);
    ASSERT_TRUE(stored.ok() && *stored);
    auto seen = find_customer(*tx, fresh.id);  // visible inside
    ASSERT_TRUE(seen.ok());
    EXPECT_TRUE(*seen);
  }  // dropped: rolled back
  auto tx = begin(db::TxMode::kReadOnly);
  auto gone = find_customer(*tx, fresh.id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
  auto kept = find_customer(*tx, c.id);
  ASSERT_TRUE(kept.ok() && *kept);
  EXPECT_EQ((*kept)->name, "Ada");
  EXPECT_EQ((*kept)->version, 1);
}

TEST_F(CustomerStoreTest, TheFirstRememberedGatewayCustomerWins) {
  auto c = create("ada@example.com");
  auto tx = begin();
  auto none = find_gateway_customer(*tx, c.id, "sandbox");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto first = remember_gateway_customer(*tx, c.id, "sandbox", "gw_first", t.clock->now());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, "gw_first");
  auto second = remember_gateway_customer(*tx, c.id, "sandbox", "gw_second", t.clock->now());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, "gw_first");
  auto other_gateway = remember_gateway_customer(*tx, c.id, "stripe", "cus_stripe", t.clock->now());
  ASSERT_TRUE(other_gateway.ok());
  EXPECT_EQ(*other_gateway, "cus_stripe");
}

}  // namespace
}  // namespace recur::customers
