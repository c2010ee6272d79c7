// The event log against a real database (SQLite or PostgreSQL, per RECUR_TEST_ENGINE): events
// commit or roll back with the caller's transaction, what is stored of each, and the orders
// and pages the store reads them in.
#include <gtest/gtest.h>

#include "events/store.h"
#include "testing/fixtures.h"

namespace recur::events {
namespace {

using testing::at;
using testing::TestApp;

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-01-31T10:00:00Z"));
    recorder = std::make_unique<Recorder>(t.app->ids(), *t.clock);
  }
  std::unique_ptr<db::Tx> begin(db::TxMode mode = db::TxMode::kReadWrite) {
    auto tx = t.app->database().begin(mode);
    EXPECT_TRUE(tx.ok()) << (tx.ok() ? "" : tx.error().message);
    return std::move(*tx);
  }
  // Records one event in a transaction of its own, committed.
  void record(const std::string& type, const std::string& resource_id, Json before = nullptr, Json after = nullptr,
              Json details = nullptr) {
    auto done = db::transact(t.app->database(), [&](db::Tx& tx) {
      return recorder->record(tx, type, resource_id, t.actor, before, after, details);
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  Page<Event> list(const std::string& resource_id, int limit = 100, std::optional<std::string> after = std::nullopt) {
    auto tx = begin(db::TxMode::kReadOnly);
    ListParams params;
    params.limit = limit;
    params.starting_after = after;
    auto page = list_for_resource(*tx, resource_id, params);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page.ok() ? *page : Page<Event>{};
  }
  static std::vector<std::string> types(const Page<Event>& page) {
    std::vector<std::string> out;
    for (const auto& e : page.items) out.push_back(e.type);
    return out;
  }
  TestApp t;
  std::unique_ptr<Recorder> recorder;
};

TEST_F(EventLogTest, AnEventCommitsWithItsTransactionWithEverythingItWasGiven) {
  Json before = {{"status", "active"}, {"version", 3}};
  Json after = {{"status", "paused"}, {"version", 4}};
  Json details = {{"reason", "vacation"}, {"lines", Json::array({1, 2})}};
  record("subscription.paused", "sub_1", before, after, details);

  auto page = list("sub_1");
  ASSERT_EQ(page.items.size(), 1u);
  const Event& e = page.items[0];
  EXPECT_EQ(e.id.rfind("evt_", 0), 0u);
  EXPECT_EQ(e.type, "subscription.paused");
  EXPECT_EQ(e.resource_type, "subscription");  // the type's first word
  EXPECT_EQ(e.resource_id, "sub_1");
  EXPECT_EQ(e.actor.type, "api_key");
  EXPECT_EQ(e.actor.id, "key_test");
  EXPECT_EQ(e.actor.role, "admin");
  EXPECT_EQ(e.created, at("2026-01-31T10:00:00Z"));  // the injected clock's time
  EXPECT_EQ(e.before, before);
  EXPECT_EQ(e.after, after);
  EXPECT_EQ(e.details, details);
  EXPECT_FALSE(page.has_more);
}

TEST_F(EventLogTest, AnEventOfATransactionThatRollsBackIsNeverStored) {
  {
    auto tx = begin();
    ASSERT_TRUE(recorder->record(*tx, "customer.created", "cus_1", t.actor, nullptr, Json{{"id", "cus_1"}}).ok());
  }  // dropped without commit
  auto failed = db::transact(t.app->database(), [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(recorder->record(tx, "customer.updated", "cus_1", t.actor, nullptr, nullptr));
    return Error::conflict("version_conflict", "a later step failed");  // rolls the event back with it
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(list("cus_1").items.empty());

  record("customer.created", "cus_1");
  EXPECT_EQ(types(list("cus_1")), (std::vector<std::string>{"customer.created"}));
}

TEST_F(EventLogTest, TheRecordingTransactionReadsItsOwnEventBeforeCommit) {
  // On PostgreSQL the insert waits for the transaction's next statement (decision 0008);
  // that statement must see it.
  auto tx = begin();
  ASSERT_TRUE(recorder->record(*tx, "plan.created", "plan_1", t.actor, nullptr, Json{{"id", "plan_1"}}).ok());
  auto inside = list_for_resource(*tx, "plan_1", ListParams{});
  ASSERT_TRUE(inside.ok()) << inside.error().message;
  ASSERT_EQ(inside->items.size(), 1u);
  EXPECT_EQ(inside->items[0].after, (Json{{"id", "plan_1"}}));
  ASSERT_TRUE(tx->commit().ok());
  EXPECT_EQ(list("plan_1").items.size(), 1u);
}

TEST_F(EventLogTest, AbsentBeforeAfterAndDetailsReadBackAsNullAndRenderDetailsAsAnObject) {
  record("product.archived", "prod_1");
  auto page = list("prod_1");
  ASSERT_EQ(page.items.size(), 1u);
  const Event& e = page.items[0];
  EXPECT_TRUE(e.before.is_null());
  EXPECT_TRUE(e.after.is_null());
  EXPECT_TRUE(e.details.is_null());

  Json j = to_json(e);
  EXPECT_EQ(j.at("object"), "event");
  EXPECT_EQ(j.at("id"), e.id);
  EXPECT_EQ(j.at("resource"), (Json{{"type", "product"}, {"id", "prod_1"}}));
  EXPECT_EQ(j.at("actor"), (Json{{"type", "api_key"}, {"id", "key_test"}, {"role", "admin"}}));
  EXPECT_EQ(j.at("created"), "2026-01-31T10:00:00Z");
  EXPECT_EQ(j.at("data"), (Json{{"object", nullptr}, {"previous_attributes", nullptr}}));
  EXPECT_EQ(j.at("details"), Json::object());
}

TEST_F(EventLogTest, ATypeWithoutADotIsItsOwnResourceType) {
  record("ping", "res_1");
  auto page = list("res_1");
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].resource_type, "ping");
}

TEST_F(EventLogTest, AResourcesEventsAreListedOldestFirstInPagesAfterAnEventId) {
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    t.clock->advance(60);
    record("subscription.step" + std::to_string(i), "sub_a");
    record("subscription.other", "sub_b");  // another resource's events in between
    expected.push_back("subscription.step" + std::to_string(i));
  }

  auto first = list("sub_a", 2);
  EXPECT_EQ(types(first), (std::vector<std::string>{expected[0], expected[1]}));
  EXPECT_TRUE(first.has_more);
  auto second = list("sub_a", 2, first.items.back().id);
  EXPECT_EQ(types(second), (std::vector<std::string>{expected[2], expected[3]}));
  EXPECT_TRUE(second.has_more);
  auto last = list("sub_a", 2, second.items.back().id);
  EXPECT_EQ(types(last), (std::vector<std::string>{expected[4]}));
  EXPECT_FALSE(last.has_more);

  auto all = list("sub_a", 5);
  EXPECT_EQ(types(all), expected);
  EXPECT_FALSE(all.has_more);  // exactly a page: nothing after it
  for (std::size_t i = 1; i < all.items.size(); ++i) {
    EXPECT_LT(all.items[i - 1].id, all.items[i].id);
    EXPECT_EQ(all.items[i].created - all.items[i - 1].created, 60);
  }
  EXPECT_TRUE(list("sub_a", 2, all.items.back().id).items.empty());
  EXPECT_EQ(list("sub_b").items.size(), 5u);
  EXPECT_TRUE(list("sub_c").items.empty());
}

TEST_F(EventLogTest, EventsBeforeATimeComeByResourceThenTimeOfOneResourceTypeOnly) {
  t.clock->set(at("2026-02-01T00:00:00Z"));
  record("subscription.created", "sub_b", nullptr, Json{{"n", 1}});
  t.clock->set(at("2026-02-02T00:00:00Z"));
  record("subscription.created", "sub_a", nullptr, Json{{"n", 2}});
  record("customer.created", "cus_1");  // another resource type
  t.clock->set(at("2026-02-03T00:00:00Z"));
  record("subscription.renewed", "sub_b", nullptr, nullptr, Json{{"period", 2}});
  t.clock->set(at("2026-02-04T00:00:00Z"));
  record("subscription.canceled", "sub_a");  // at `until`: not before it

  auto tx = begin(db::TxMode::kReadOnly);
  auto events = events_before(*tx, "subscription", at("2026-02-04T00:00:00Z"));
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].resource_id, "sub_a");
  EXPECT_EQ((*events)[0].type, "subscription.created");
  EXPECT_EQ((*events)[0].created, at("2026-02-02T00:00:00Z"));
  EXPECT_EQ((*events)[1].resource_id, "sub_b");
  EXPECT_EQ((*events)[1].type, "subscription.created");
  EXPECT_EQ((*events)[2].resource_id, "sub_b");
  EXPECT_EQ((*events)[2].type, "subscription.renewed");
  EXPECT_EQ((*events)[2].created, at("2026-02-03T00:00:00Z"));

  // The payload is the stored JSON text of before, after and details.
  EXPECT_EQ(Json::parse((*events)[0].payload),
            (Json{{"before", nullptr}, {"after", {{"n", 2}}}, {"details", nullptr}}));
  EXPECT_EQ(Json::parse((*events)[2].payload).at("details"), (Json{{"period", 2}}));

  auto later = events_before(*tx, "subscription", at("2026-02-04T00:00:01Z"));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->size(), 4u);
  auto customers = events_before(*tx, "customer", at("2026-02-04T00:00:00Z"));
  ASSERT_TRUE(customers.ok());
  ASSERT_EQ(customers->size(), 1u);
  EXPECT_EQ((*customers)[0].resource_id, "cus_1");
}

TEST_F(EventLogTest, AServiceChangeThatFailsRecordsNoEvent) {
  // Through a real use case: a stale update of a customer rolls back with its event.
  auto c = testing::make_customer(t);
  customers::CustomerPatch patch;
  patch.name = "Ada King";
  ASSERT_TRUE(t.app->customers().update(c.id, patch, c.version, t.actor).ok());
  ASSERT_FALSE(t.app->customers().update(c.id, patch, c.version, t.actor).ok());
  EXPECT_EQ(types(list(c.id)), (std::vector<std::string>{"customer.created", "customer.updated"}));
}

}  // namespace
}  // namespace recur::events
