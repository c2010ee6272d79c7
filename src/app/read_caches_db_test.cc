// The plan cache (cache::TxCache) on both engines: a committed write is never answered stale,
// on one node nor, through a real redis-server, on another; a Redis outage turns the cache
// off instead of leaving it stale. The blackout dates' cache follows the same rules.
#include <gtest/gtest.h>

#include "app/data_subject.h"
#include "billing/store.h"
#include "catalog/store.h"
#include "subscriptions/store.h"
#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::app {
namespace {

using catalog::find_plan;
using catalog::Plan;
using catalog::update_plan;
using testing::at;
using testing::eventually;

class PlanCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T09:00:00Z"));
    plan = testing::make_plan(t, 2500, Interval::kMonth).id;
  }
  std::string name_on(App& node) {
    auto p = node.catalog().get_plan(plan);
    EXPECT_TRUE(p.ok()) << p.error().message;
    return p.ok() ? p->name : "";
  }
  std::string name() { return name_on(*t.app); }
  void rename_on(App& node, const std::string& to) {
    auto current = node.catalog().get_plan(plan);
    ASSERT_TRUE(current.ok());
    auto renamed = node.catalog().update_plan(plan, {.name = to}, current->version, t.actor);
    ASSERT_TRUE(renamed.ok()) << renamed.error().message;
  }
  cache::TxCache<Plan>& cache() { return t.app->plan_cache().cache; }

  testing::TestApp t;
  std::string plan;
};

TEST_F(PlanCacheTest, ASecondReadIsAnsweredFromTheCacheAndACommittedRenameIsReadAtOnce) {
  EXPECT_EQ(name(), "Box");  // read, then cached at commit
  auto hits = cache().hits();
  EXPECT_EQ(name(), "Box");
  EXPECT_EQ(cache().hits(), hits + 1);
  rename_on(*t.app, "Big box");
  EXPECT_EQ(name(), "Big box");
  EXPECT_EQ(name(), "Big box");
}

TEST_F(PlanCacheTest, WhatATransactionReadBeforeAWriteCommittedIsNotCached) {
  {
    auto reader = t.app->database().begin(db::TxMode::kReadOnly);
    ASSERT_TRUE(reader.ok());
    auto old = find_plan(**reader, plan);  // not cached: a miss, read from the database
    ASSERT_TRUE(old.ok() && *old);
    EXPECT_EQ((*old)->name, "Box");
    rename_on(*t.app, "Big box");  // commits while the reader is open
    ASSERT_TRUE((*reader)->commit().ok());
    (*reader)->run_after_commit();  // would cache "Box", read before the rename committed
  }
  EXPECT_EQ(name(), "Big box");
}

TEST_F(PlanCacheTest, TheWriterReadsItsOwnWriteAndOthersReadTheCommittedPlanUntilItCommits) {
  EXPECT_EQ(name(), "Box");
  EXPECT_EQ(name(), "Box");  // cached
  auto writer = t.app->database().begin();
  ASSERT_TRUE(writer.ok());
  auto found = find_plan(**writer, plan, true);
  ASSERT_TRUE(found.ok() && *found);
  Plan p = **found;
  p.name = "Big box";
  ++p.version;
  ASSERT_TRUE(*update_plan(**writer, p));
  // Another transaction, while the rename is not committed, reads "Box" and caches it.
  EXPECT_EQ(name(), "Box");
  auto own = find_plan(**writer, plan);
  ASSERT_TRUE(own.ok() && *own);
  EXPECT_EQ((*own)->name, "Big box");  // not the cached "Box"
  ASSERT_TRUE((*writer)->commit().ok());
  (*writer)->run_after_commit();
  EXPECT_EQ(name(), "Big box");
}

TEST_F(PlanCacheTest, AReadThatRollsBackIsNotCached) {
  auto misses = cache().misses();
  {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    ASSERT_TRUE(find_plan(**tx, plan).ok());
  }  // not committed
  EXPECT_EQ(name(), "Box");
  EXPECT_EQ(cache().misses(), misses + 2);  // both read the database
}

TEST_F(PlanCacheTest, AnAddedBlackoutDateIsInTheNextLoadOfASubscription) {
  auto days = [&] {
    auto tx = t.app->database().begin(db::TxMode::kReadOnly);
    auto closed = subscriptions::closed_days(**tx);
    EXPECT_TRUE(closed.ok());
    EXPECT_TRUE((*tx)->commit().ok());
    (*tx)->run_after_commit();
    return closed.ok() ? *closed : subscriptions::ClosedDays{};
  };
  EXPECT_TRUE(days().empty());
  auto hits = t.app->closed_days_cache().cache.hits();
  EXPECT_TRUE(days().empty());
  EXPECT_EQ(t.app->closed_days_cache().cache.hits(), hits + 1);
  std::int64_t day = at("2026-03-10T00:00:00Z") / kSecondsPerDay;
  ASSERT_TRUE(t.app->subscriptions().put_blackout_date(day, "stocktake").ok());
  EXPECT_EQ(days(), subscriptions::ClosedDays{day});
  ASSERT_TRUE(t.app->subscriptions().delete_blackout_date(day).ok());
  EXPECT_TRUE(days().empty());
}

// What a transaction read it keeps for the rest of it (db::TxMemo): read once, and a write
// in the same transaction is read back at once.
TEST_F(PlanCacheTest, ATransactionReadsAPlanOnceAndReadsItsOwnRenameAtOnce) {
  auto tx = t.app->database().begin();
  ASSERT_TRUE(tx.ok());
  auto misses = cache().misses();
  auto hits = cache().hits();
  auto first = find_plan(**tx, plan);
  ASSERT_TRUE(first.ok() && *first);
  auto again = find_plan(**tx, plan);
  ASSERT_TRUE(again.ok() && *again);
  EXPECT_EQ((*again)->name, "Box");
  EXPECT_EQ(cache().misses(), misses + 1);  // the second neither read the database nor the cache
  EXPECT_EQ(cache().hits(), hits);
  Plan p = **again;
  p.name = "Big box";
  ++p.version;
  ASSERT_TRUE(*update_plan(**tx, p));
  auto own = find_plan(**tx, plan);
  ASSERT_TRUE(own.ok() && *own);
  EXPECT_EQ((*own)->name, "Big box");
}

TEST_F(PlanCacheTest, ATransactionReadsAProductTheTaxSettingsAndADataKeyOnceAndItsOwnWritesAtOnce) {
  auto product = testing::make_plan(t, 900, Interval::kMonth).items.at(0).product;
  const std::string owner = testing::make_customer(t, "memo@example.com").id;
  auto tx = t.app->database().begin();
  ASSERT_TRUE(tx.ok());
  db::Tx& w = **tx;
  // Each read once, then changed under the transaction's feet by hand: the memo answers.
  auto item = catalog::find_product(w, product);
  ASSERT_TRUE(item.ok() && *item);
  ASSERT_TRUE(billing::load_tax(w, false).ok());
  auto key = t.app->keyring().data_key(w, owner);
  ASSERT_TRUE(key.ok() && *key);
  ASSERT_TRUE(w.exec("UPDATE products SET doc = $2 WHERE id = $1", {product, std::string("{}")}).ok());
  ASSERT_TRUE(
      w.exec("INSERT INTO billing_settings (name, doc) VALUES ('tax', $1)", {std::string(R"({"rates":{"DE":1900}})")})
          .ok());
  ASSERT_TRUE(w.exec("UPDATE data_keys SET wrapped = NULL WHERE id = $1", {owner}).ok());
  auto memo_item = catalog::find_product(w, product);
  ASSERT_TRUE(memo_item.ok() && *memo_item);
  EXPECT_EQ((*memo_item)->name, (*item)->name);
  auto memo_tax = billing::load_tax(w, false);
  ASSERT_TRUE(memo_tax.ok());
  EXPECT_FALSE(memo_tax->has_value());
  auto memo_key = t.app->keyring().data_key(w, owner);
  ASSERT_TRUE(memo_key.ok() && *memo_key);
  // Written through the modules' own writes: read back at once.
  catalog::Product renamed = **item;
  renamed.name = "Renamed";
  ++renamed.version;
  ASSERT_TRUE(*catalog::update_product(w, renamed));
  auto own_item = catalog::find_product(w, product);
  ASSERT_TRUE(own_item.ok() && *own_item);
  EXPECT_EQ((*own_item)->name, "Renamed");
  billing::TaxSettings tax;
  tax.rates_bp["FR"] = 2000;
  ASSERT_TRUE(billing::save_tax(w, tax, true).ok());
  auto own_tax = billing::load_tax(w, false);
  ASSERT_TRUE(own_tax.ok() && own_tax->has_value());
  EXPECT_EQ((*own_tax)->rates_bp.at("FR"), 2000);
  ASSERT_TRUE(t.app->keyring().destroy(w, owner).ok());
  auto own_key = t.app->keyring().existing_data_key(w, owner);
  ASSERT_TRUE(own_key.ok());
  EXPECT_FALSE(own_key->has_value());
}

// GET /v1/subscriptions/{id}'s rendered answers (SubscriptionViewCache).
class ViewCacheTest : public PlanCacheTest {
 protected:
  void SetUp() override {
    PlanCacheTest::SetUp();
    customer = testing::make_customer(t).id;
    sub = testing::subscribe(t, customer, plan).id;
  }
  std::optional<subscriptions::RenderedSubscription> cached(App& node) {
    return node.subscriptions().cached_rendering(sub);
  }
  Json shown(App& node) {
    auto r = node.subscriptions().get_rendered(sub);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? Json::parse(r->body) : Json();
  }
  void tag_on(App& node, const std::string& value) {
    auto current = node.subscriptions().get(sub);
    ASSERT_TRUE(current.ok());
    auto updated = node.subscriptions().update(sub, {.metadata = Json{{"tag", value}}}, current->version, t.actor);
    ASSERT_TRUE(updated.ok()) << updated.error().message;
  }
  std::string customer;
  std::string sub;
};

TEST_F(ViewCacheTest, TheAnswerIsCachedAsGetRendersItAndAnUpdateIsShownAtOnce) {
  EXPECT_FALSE(cached(*t.app));
  Json first = shown(*t.app);
  auto hit = cached(*t.app);
  ASSERT_TRUE(hit);
  EXPECT_EQ(Json::parse(hit->body), first);
  auto direct = t.app->subscriptions().get(sub);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(first, subscriptions::to_json(*direct));  // the same text GET rendered before
  EXPECT_EQ(hit->version, direct->version);
  tag_on(*t.app, "blue");
  EXPECT_FALSE(cached(*t.app));
  EXPECT_EQ(shown(*t.app)["metadata"]["tag"], "blue");
  EXPECT_EQ(Json::parse(cached(*t.app)->body)["metadata"]["tag"], "blue");
}

TEST_F(ViewCacheTest, AnAnswerIsNotKeptPastTheSubscriptionsNextStep) {
  Json before = shown(*t.app);
  ASSERT_TRUE(cached(*t.app));
  auto due = parse_rfc3339(before["current_period"]["end"].get<std::string>());
  ASSERT_TRUE(due.has_value());
  t.clock->set(*due);  // the renewal is due; the scheduler has not run
  EXPECT_FALSE(cached(*t.app));
  Json after = shown(*t.app);
  EXPECT_NE(after["current_period"], before["current_period"]);
  EXPECT_FALSE(cached(*t.app));  // shown as of now, which the stored row is not yet
}

TEST_F(ViewCacheTest, APlanChangeABlackoutDateAndAnErasureDropTheAnswers) {
  shown(*t.app);
  ASSERT_TRUE(cached(*t.app));
  rename_on(*t.app, "Big box");
  EXPECT_FALSE(cached(*t.app));
  shown(*t.app);
  ASSERT_TRUE(cached(*t.app));
  ASSERT_TRUE(t.app->subscriptions().put_blackout_date(at("2026-03-20T00:00:00Z") / kSecondsPerDay, "").ok());
  EXPECT_FALSE(cached(*t.app));
  auto current = t.app->subscriptions().get(sub);
  ASSERT_TRUE(current.ok());
  customers::Address home{"1 Erasable Street", std::nullopt, "Leeds", "LS1 1AA", std::nullopt, "GB"};
  ASSERT_TRUE(t.app->subscriptions().update(sub, {.shipping_address = home}, current->version, t.actor).ok());
  // Canceled first, so that the erasure changes nothing of the subscription's row: only its
  // customer's data key goes.
  subscriptions::CancelInput now{false, "other", std::nullopt};
  ASSERT_TRUE(t.app->subscriptions().cancel(sub, now, std::nullopt, t.actor).ok());
  Json with_address = shown(*t.app);
  ASSERT_TRUE(cached(*t.app));
  ASSERT_EQ(with_address["shipping_address"]["line1"], "1 Erasable Street");
  ASSERT_TRUE(erase_customer(*t.app, customer, "asked", t.actor).ok());
  EXPECT_FALSE(cached(*t.app));  // the address it showed is gone with the key
  EXPECT_NE(shown(*t.app)["shipping_address"], with_address["shipping_address"]);
}

class PlanCacheAcrossNodesTest : public PlanCacheTest {
 protected:
  void SetUp() override {
    PlanCacheTest::SetUp();
    a = testing::redis_node(t, redis.url());
    b = testing::redis_node(t, redis.url());
    ASSERT_TRUE(eventually([&] { return subscribed(*a) && subscribed(*b); }));
  }
  static bool subscribed(App& node) { return node.redis_bus() && node.redis_bus()->subscribed(); }

  testing::RedisServer redis;  // outlives the nodes
  std::unique_ptr<App> a;
  std::unique_ptr<App> b;
};

TEST_F(PlanCacheAcrossNodesTest, ARenameOnOneNodeDropsThePlanOnTheOther) {
  EXPECT_EQ(name_on(*b), "Box");
  auto hits = b->plan_cache().cache.hits();
  EXPECT_EQ(name_on(*b), "Box");
  ASSERT_EQ(b->plan_cache().cache.hits(), hits + 1);  // B answers from its cache
  rename_on(*a, "Big box");
  EXPECT_TRUE(eventually([&] { return name_on(*b) == "Big box"; }));
  EXPECT_EQ(name_on(*b), "Big box");  // and never the old name again
}

// What a node publishes first once it can publish again after an outage: every node drops
// everything, since the writes it made meanwhile were not heard.
TEST_F(PlanCacheAcrossNodesTest, AResyncMessageDropsEveryCacheOnEveryNode) {
  EXPECT_EQ(name_on(*b), "Box");
  auto hits = b->plan_cache().cache.hits();
  EXPECT_EQ(name_on(*b), "Box");
  ASSERT_EQ(b->plan_cache().cache.hits(), hits + 1);
  a->redis_bus()->publish(std::string(cache::RedisInvalidationBus::kResyncMessage));
  EXPECT_TRUE(eventually([&] {
    auto before = b->plan_cache().cache.hits();
    name_on(*b);
    return b->plan_cache().cache.hits() == before;  // read from the database: dropped
  }));
}

TEST_F(PlanCacheAcrossNodesTest, WhileRedisIsDownNoNodeAnswersFromItsCache) {
  EXPECT_EQ(name_on(*b), "Box");
  EXPECT_EQ(name_on(*b), "Box");  // cached
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !subscribed(*b); }));
  rename_on(*a, "Big box");  // its publish fails: B never hears of it
  auto hits = b->plan_cache().cache.hits();
  EXPECT_EQ(name_on(*b), "Big box");  // read from the database, not the cache
  EXPECT_EQ(name_on(*b), "Big box");
  EXPECT_EQ(b->plan_cache().cache.hits(), hits);
  redis.start();
  ASSERT_TRUE(eventually([&] { return subscribed(*b); }));
  EXPECT_EQ(name_on(*b), "Big box");
  EXPECT_EQ(name_on(*b), "Big box");
  EXPECT_EQ(b->plan_cache().cache.hits(), hits + 1);  // cached again
}

TEST_F(PlanCacheAcrossNodesTest, AnUpdateOnOneNodeDropsTheRenderedSubscriptionOnTheOther) {
  auto customer = testing::make_customer(t).id;
  auto sub = testing::subscribe(t, customer, plan).id;
  ASSERT_TRUE(b->subscriptions().get_rendered(sub).ok());
  ASSERT_TRUE(b->subscriptions().cached_rendering(sub));
  auto current = a->subscriptions().get(sub);
  ASSERT_TRUE(current.ok());
  ASSERT_TRUE(a->subscriptions().update(sub, {.metadata = Json{{"tag", "blue"}}}, current->version, t.actor).ok());
  EXPECT_TRUE(eventually([&] { return !b->subscriptions().cached_rendering(sub); }));
  auto shown = b->subscriptions().get_rendered(sub);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(Json::parse(shown->body)["metadata"]["tag"], "blue");
}

}  // namespace
}  // namespace recur::app
