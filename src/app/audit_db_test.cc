// The audit log (issue 15) on both engines: every change is an entry with who, from where and
// the changed field names (never a personal value); exports and erasures are recorded; the
// hash chain holds under concurrent writers and chainers and breaks where a row was edited.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "app/data_subject.h"
#include "audit/store.h"
#include "testing/fixtures.h"

namespace recur::app {
namespace {

using testing::at;
using testing::TestApp;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-01T10:00:00Z"));
    api = events::Actor{"api_key", "key_admin1", "admin", "req_abc123", "203.0.113.9"};
  }

  std::vector<audit::Entry> entries(audit::Filter filter = {}) {
    filter.page.limit = 100;
    auto page = t.app->audit().list(filter);
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    return page.ok() ? page->items : std::vector<audit::Entry>{};
  }

  const audit::Entry* find(const std::vector<audit::Entry>& list, const std::string& action) {
    auto it = std::find_if(list.begin(), list.end(), [&](const audit::Entry& e) { return e.action == action; });
    return it == list.end() ? nullptr : &*it;
  }

  void exec(const std::string& sql, db::Params params = {}) {
    auto tx = t.app->database().begin();
    ASSERT_TRUE(tx.ok());
    auto done = (*tx)->exec(sql, params);
    ASSERT_TRUE(done.ok()) << done.error().message;
    ASSERT_TRUE((*tx)->commit().ok());
  }

  audit::Verification verify() {
    auto v = t.app->audit().verify();
    EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
    return v.ok() ? *v : audit::Verification{};
  }

  customers::Customer customer(const std::string& email, const events::Actor& actor) {
    customers::CustomerInput in;
    in.email = email;
    in.name = "MKNAME Person";
    in.shipping_address = customers::Address{"1 Audit Row", std::nullopt, "London", "N1 9GU", std::nullopt, "GB"};
    auto c = t.app->customers().create(in, actor);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return *c;
  }

  TestApp t;
  events::Actor api;
};

TEST_F(AuditTest, AChangeThroughTheApiIsRecordedWithRequestSourceAndFieldNamesButNoValue) {
  auto c = customer("MKfirst@example.com", api);
  customers::CustomerPatch patch;
  patch.email = "MKsecond@example.com";
  patch.name = "MKNAME Changed";
  auto updated = t.app->customers().update(c.id, patch, c.version, api);
  ASSERT_TRUE(updated.ok()) << updated.error().message;

  audit::Filter mine;
  mine.resource = c.id;
  auto list = entries(mine);
  const auto* created = find(list, "customer.created");
  const auto* changed = find(list, "customer.updated");
  ASSERT_NE(created, nullptr);
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->actor_type, "api_key");
  EXPECT_EQ(changed->actor_id, "key_admin1");
  EXPECT_EQ(changed->actor_role, "admin");
  EXPECT_EQ(changed->request_id, "req_abc123");
  EXPECT_EQ(changed->source_ip, "203.0.113.9");
  EXPECT_EQ(changed->resource_type, "customer");
  EXPECT_FALSE(changed->event_id.empty());
  EXPECT_NE(std::find(changed->fields.begin(), changed->fields.end(), "email"), changed->fields.end());
  EXPECT_NE(std::find(changed->fields.begin(), changed->fields.end(), "name"), changed->fields.end());
  EXPECT_NE(std::find(created->fields.begin(), created->fields.end(), "email"), created->fields.end());
  // Not one value of a personal field, in any column of any row.
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  ASSERT_TRUE(tx.ok());
  auto rows = (*tx)->query("SELECT id, actor_id, request_id, source_ip, resource_id, action, fields, event_id,"
                           " COALESCE(reason, '') FROM audit_log");
  ASSERT_TRUE(rows.ok());
  ASSERT_GE(rows->size(), 2u);
  for (const auto& row : *rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      EXPECT_EQ(row.text(i).find("MK"), std::string::npos) << row.text(i);
      EXPECT_EQ(row.text(i).find("example.com"), std::string::npos) << row.text(i);
    }
}

TEST_F(AuditTest, CliOperatorsAndTheSchedulerAreKindsOfTheirOwn) {
  events::Actor cli{"cli", "ops-anna", "admin"};
  auto c = customer("cli@example.com", cli);
  auto plan = testing::make_plan(t, 1500, Interval::kMonth);
  testing::subscribe(t, c.id, plan.id);
  t.clock->advance(40 * kSecondsPerDay);
  auto run = t.app->run_billing("test");
  ASSERT_TRUE(run.ok()) << run.error().message;

  audit::Filter by_operator;
  by_operator.actor = "ops-anna";
  auto from_cli = entries(by_operator);
  ASSERT_FALSE(from_cli.empty());
  for (const auto& e : from_cli) EXPECT_EQ(e.actor_type, "cli");
  audit::Filter by_scheduler;
  by_scheduler.actor = "scheduler";
  auto from_system = entries(by_scheduler);
  ASSERT_FALSE(from_system.empty());
  for (const auto& e : from_system) {
    EXPECT_EQ(e.actor_type, "system");
    EXPECT_TRUE(e.request_id.empty());
  }
}

TEST_F(AuditTest, FiltersOnResourceActorActionAndCreated) {
  auto a = customer("a@example.com", api);
  t.clock->advance(3600);
  auto b = customer("b@example.com", events::Actor{"api_key", "key_other", "support", "req_2", "198.51.100.4"});
  audit::Filter f;
  f.resource = a.id;
  auto of_a = entries(f);
  ASSERT_EQ(of_a.size(), 1u);
  EXPECT_EQ(of_a[0].resource_id, a.id);
  audit::Filter by_actor;
  by_actor.actor = "key_other";
  auto of_other = entries(by_actor);
  ASSERT_FALSE(of_other.empty());
  for (const auto& e : of_other) EXPECT_EQ(e.actor_id, "key_other");
  audit::Filter by_action;
  by_action.action = "customer.created";
  EXPECT_EQ(entries(by_action).size(), 2u);
  audit::Filter late;
  late.action = "customer.created";
  late.page.created_gte = at("2026-03-01T10:30:00Z");
  auto after = entries(late);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].resource_id, b.id);
  audit::Filter early;
  early.action = "customer.created";
  early.page.created_lt = at("2026-03-01T10:30:00Z");
  auto before = entries(early);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].resource_id, a.id);
}

TEST_F(AuditTest, ExportIsRecordedAsAReadAndErasureWithItsReason) {
  auto c = customer("MKerase@example.com", api);
  auto exported = export_customer(*t.app, c.id, api);
  ASSERT_TRUE(exported.ok()) << exported.error().message;
  auto erased = erase_customer(*t.app, c.id, "art. 17 request, ticket 4711", api);
  ASSERT_TRUE(erased.ok()) << erased.error().message;
  audit::Filter f;
  f.resource = c.id;
  auto list = entries(f);
  const auto* read = find(list, "customer.exported");
  ASSERT_NE(read, nullptr);
  EXPECT_EQ(read->actor_id, "key_admin1");
  EXPECT_EQ(read->request_id, "req_abc123");
  EXPECT_TRUE(read->fields.empty());
  const auto* request = find(list, "customer.erasure_requested");
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->reason, "art. 17 request, ticket 4711");
  EXPECT_EQ(request->source_ip, "203.0.113.9");
  const auto* shredded = find(list, "customer.erased");
  ASSERT_NE(shredded, nullptr);
  EXPECT_NE(std::find(shredded->fields.begin(), shredded->fields.end(), "email"), shredded->fields.end());
  for (const auto& e : list) EXPECT_EQ(audit::canonical(e).find("MK"), std::string::npos) << e.action;
}

TEST_F(AuditTest, VerifyChainsWhatIsPendingAndHoldsWhenUntouched) {
  for (int i = 0; i < 5; ++i) customer("c" + std::to_string(i) + "@example.com", api);
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL"), 5);
  auto v = verify();
  EXPECT_FALSE(v.broken_id);
  EXPECT_EQ(v.checked, 5);
  EXPECT_EQ(v.unchained, 0);
  customer("later@example.com", api);
  v = verify();
  EXPECT_FALSE(v.broken_id);
  EXPECT_EQ(v.checked, 6);
  auto list = entries();
  for (const auto& e : list) {
    ASSERT_TRUE(e.seq);
    EXPECT_EQ(e.hash.size(), 64u);
  }
}

TEST_F(AuditTest, ARowEditedInTheDatabaseIsTheFirstBrokenLink) {
  for (int i = 0; i < 4; ++i) customer("t" + std::to_string(i) + "@example.com", api);
  ASSERT_FALSE(verify().broken_id);
  auto tx = t.app->database().begin(db::TxMode::kReadOnly);
  ASSERT_TRUE(tx.ok());
  auto third = (*tx)->query("SELECT id FROM audit_log WHERE seq = 3");
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->size(), 1u);
  std::string id = third->at(0).text(0);
  tx->reset();
  // Someone hides who did it.
  exec("UPDATE audit_log SET actor_id = 'key_somebody_else' WHERE id = $1", {id});
  auto v = verify();
  ASSERT_TRUE(v.broken_id);
  EXPECT_EQ(*v.broken_id, id);
  EXPECT_EQ(v.broken_seq, std::optional<std::int64_t>(3));
  EXPECT_EQ(v.checked, 2);
}

TEST_F(AuditTest, ARemovedRowBreaksTheChainWhereverItWas) {
  for (int i = 0; i < 4; ++i) customer("r" + std::to_string(i) + "@example.com", api);
  ASSERT_FALSE(verify().broken_id);
  exec("DELETE FROM audit_log WHERE seq = 2");
  auto v = verify();
  ASSERT_TRUE(v.broken_seq);
  EXPECT_EQ(*v.broken_seq, 3);  // the entry after the gap
  // Cut off the end instead: the head row still knows where the chain ended.
  exec("DELETE FROM audit_log WHERE seq >= 2");
  v = verify();
  ASSERT_TRUE(v.broken_seq);
  EXPECT_EQ(*v.broken_seq, 2);
}

TEST_F(AuditTest, ConcurrentWritersAndChainersLeaveOneValidChain) {
  // Two threads append changes while two nodes chain: every entry ends on the chain once,
  // and the chain holds (on PostgreSQL the writers commit out of id order).
  auto node = testing::reopen(t, *t.clock);
  constexpr int kPerWriter = 15;
  std::atomic<bool> writing{true};
  std::thread chainer_a([&] {
    while (writing) (void)t.app->audit().chain(7);
  });
  std::thread chainer_b([&] {
    while (writing) (void)node->audit().chain(7);
  });
  auto outcomes = testing::race(2, [&](int w) {
    App& app = w == 0 ? *t.app : *node;
    for (int i = 0; i < kPerWriter; ++i) {
      customers::CustomerInput in;
      in.email = "w" + std::to_string(w) + "-" + std::to_string(i) + "@example.com";
      in.name = "Writer";
      auto c = app.customers().create(in, api);
      if (!c.ok()) return c.error().message;
    }
    return std::string("ok");
  });
  writing = false;
  chainer_a.join();
  chainer_b.join();
  EXPECT_EQ(testing::tally(outcomes)["ok"], 2);
  auto v = verify();
  EXPECT_FALSE(v.broken_id) << v.reason;
  EXPECT_FALSE(v.broken_seq) << v.reason;
  auto total = testing::count(t, "SELECT COUNT(*) FROM audit_log");
  EXPECT_GE(total, 2 * kPerWriter);
  EXPECT_EQ(v.checked, total);
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM audit_log WHERE seq IS NULL"), 0);
  EXPECT_EQ(testing::count(t, "SELECT MAX(seq) FROM audit_log"), total);
}

}  // namespace
}  // namespace recur::app
