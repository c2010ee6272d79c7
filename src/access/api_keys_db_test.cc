// API keys and custom roles on both engines (issue 15): create, list, revoke, expiry, the
// distinct 401s, last_used_at at most once a minute, and a revoked key refused at once by a
// second node that shares the database and the invalidation bus (a real redis-server).
#include <gtest/gtest.h>

#include <thread>

#include "access/model.h"
#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::access {
namespace {

using namespace std::chrono_literals;
using testing::at;
using testing::count;

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-03-02T09:00:00Z")); }
  ApiKeys& keys() { return t.app->keys(); }
  CreatedKey create(const std::string& role, std::optional<Timestamp> expires_at = std::nullopt) {
    auto k = keys().create(KeyInput{role, "desk", expires_at}, t.actor);
    EXPECT_TRUE(k.ok()) << k.error().message;
    return *k;
  }
  // What authenticating `secret` answers: the principal's role, "" for no such key, or the
  // error's code.
  std::string check(const std::string& secret) {
    auto p = keys().authenticate(secret);
    if (!p.ok()) return p.error().code;
    return *p ? (*p)->role : "";
  }
  testing::TestApp t;
};

TEST_F(ApiKeysTest, CreateStoresOnlyTheHashAndRecordsAnEventWithoutTheSecret) {
  auto k = create("support");
  EXPECT_TRUE(k.id.starts_with("key_"));
  EXPECT_TRUE(k.secret.starts_with("rk_live_"));
  EXPECT_EQ(k.key.name, "desk");
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM api_keys WHERE key_hash = $1", {hash_secret(k.secret)}), 1);
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM api_keys WHERE key_hash = $1", {k.secret}), 0);
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM events WHERE type = 'api_key.created' AND resource_id = $1", {k.id}), 1);
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM events WHERE payload LIKE $1", {"%" + k.secret.substr(8) + "%"}), 0);
  EXPECT_EQ(check(k.secret), "support");
  EXPECT_EQ(check("rk_live_nope"), "");
}

TEST_F(ApiKeysTest, AnUnknownRoleOrAPastExpiryIsRefused) {
  auto bad = keys().create(KeyInput{"root", "x", std::nullopt}, t.actor);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "validation_failed");
  EXPECT_EQ(bad.error().fields.at(0).field, "role");
  auto past = keys().create(KeyInput{"admin", "x", t.clock->now()}, t.actor);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().fields.at(0).field, "expires_at");
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM api_keys"), 0);
}

TEST_F(ApiKeysTest, ListIsNewestFirstAndPaged) {
  auto a = create("admin");
  t.clock->advance(1);
  auto b = create("analyst");
  t.clock->advance(1);
  auto c = create("billing");
  ListParams page;
  page.limit = 2;
  auto first = keys().list(page);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].id, c.id);
  EXPECT_EQ(first->items[1].id, b.id);
  EXPECT_TRUE(first->has_more);
  page.starting_after = b.id;
  auto second = keys().list(page);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].id, a.id);
  EXPECT_FALSE(second->has_more);
}

TEST_F(ApiKeysTest, ARevokedKeyIsRefusedAtOnceWithItsOwnCodeEvenWhenCached) {
  auto k = create("support");
  ASSERT_EQ(check(k.secret), "support");  // cached now
  auto revoked = keys().revoke(k.id, t.actor);
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_EQ(revoked->revoked_at, t.clock->now());
  EXPECT_EQ(check(k.secret), "api_key_revoked");
  // Again: answered as it is, no second event.
  auto again = keys().revoke(k.id, t.actor);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM events WHERE type = 'api_key.revoked' AND resource_id = $1", {k.id}), 1);
  EXPECT_EQ(keys().revoke("key_nope", t.actor).error().code, "api_key_not_found");
  EXPECT_EQ(keys().get("key_nope").error().code, "api_key_not_found");
}

TEST_F(ApiKeysTest, AnExpiredKeyIsRefusedAtItsExpiryEvenWhenCached) {
  auto k = create("analyst", t.clock->now() + 3600);
  ASSERT_EQ(check(k.secret), "analyst");
  t.clock->advance(3599);
  EXPECT_EQ(check(k.secret), "analyst");
  t.clock->advance(1);
  EXPECT_EQ(check(k.secret), "api_key_expired");
  ASSERT_TRUE(keys().revoke(k.id, t.actor).ok());
  EXPECT_EQ(check(k.secret), "api_key_revoked");  // revoked wins
}

TEST_F(ApiKeysTest, LastUsedAtIsWrittenAtMostOnceAMinute) {
  auto k = create("admin");
  ASSERT_EQ(check(k.secret), "admin");
  auto first = keys().get(k.id)->last_used_at;
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, t.clock->now());
  t.clock->advance(30);
  ASSERT_EQ(check(k.secret), "admin");
  EXPECT_EQ(keys().get(k.id)->last_used_at, first);  // not yet a minute
  t.clock->advance(30);
  ASSERT_EQ(check(k.secret), "admin");
  EXPECT_EQ(keys().get(k.id)->last_used_at, t.clock->now());
}

TEST_F(ApiKeysTest, ACustomRoleGrantsExactlyItsPermissions) {
  auto role = keys().create_role("web-shop", {"customers:write", "catalog:read", "catalog:read"}, t.actor);
  ASSERT_TRUE(role.ok()) << role.error().message;
  EXPECT_EQ(role->permissions, (std::vector<std::string>{"catalog:read", "customers:write"}));
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM events WHERE type = 'role.created' AND resource_id = 'web-shop'"), 1);
  auto k = create("web-shop");
  auto p = keys().authenticate(k.secret);
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_TRUE(keys().allowed(**p, "catalog:read"));
  EXPECT_TRUE(keys().allowed(**p, "customers:write"));
  EXPECT_FALSE(keys().allowed(**p, "customers:read"));
  EXPECT_FALSE(keys().allowed(**p, "api_keys:manage"));

  auto roles = keys().roles();
  ASSERT_TRUE(roles.ok());
  ASSERT_EQ(roles->size(), 6u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*roles)[i].name, kRoles[i]);
    EXPECT_TRUE((*roles)[i].builtin);
    EXPECT_EQ((*roles)[i].permissions, permissions_of(kRoles[i]));  // the built-in roles are unchanged
  }
  EXPECT_EQ((*roles)[5].name, "web-shop");
  EXPECT_FALSE((*roles)[5].builtin);
}

TEST_F(ApiKeysTest, ARoleIsRefusedForAnUnknownPermissionABuiltInNameOrATakenOne) {
  auto unknown = keys().create_role("ops", {"catalog:read", "catalog:delete"}, t.actor);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "validation_failed");
  EXPECT_EQ(unknown.error().fields.at(0).field, "permissions[1]");
  EXPECT_EQ(keys().create_role("admin", {}, t.actor).error().code, "validation_failed");
  ASSERT_TRUE(keys().create_role("ops", {}, t.actor).ok());
  EXPECT_EQ(keys().create_role("ops", {"catalog:read"}, t.actor).error().code, "role_taken");
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM roles"), 1);
}

TEST_F(ApiKeysTest, AnIdempotentAnswerKeepsTheNewSecretSealedAndReplaysIt) {
  SqlIdempotencyStore store(t.app->database(), *t.clock);
  auto k = create("support");
  http::Response answer;
  answer.status = 201;
  answer.body = to_json(k).dump();
  auto claim = store.claim("merchant/create-key-1", "fp");
  ASSERT_TRUE(claim.ok()) << claim.error().message;
  ASSERT_TRUE(store.complete("merchant/create-key-1", claim->token, answer).ok());
  EXPECT_EQ(count(t, "SELECT COUNT(*) FROM idempotency_keys WHERE body LIKE $1", {"%" + k.secret.substr(8) + "%"}), 0);
  auto replay = store.claim("merchant/create-key-1", "fp");
  ASSERT_TRUE(replay.ok() && replay->existing);
  EXPECT_EQ(Json::parse(replay->existing->body)["key"], k.secret);
}

using testing::eventually;

class TwoNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T09:00:00Z"));
    a = node();
    b = node();
    ASSERT_TRUE(eventually([&] { return subscribed(*a) && subscribed(*b); }));
  }
  std::unique_ptr<app::App> node() { return testing::redis_node(t, redis.url()); }
  static bool subscribed(app::App& node) { return node.redis_bus() && node.redis_bus()->subscribed(); }
  static std::string check(app::App& node, const std::string& secret) {
    auto p = node.keys().authenticate(secret);
    if (!p.ok()) return p.error().code;
    return *p ? (*p)->role : "";
  }

  testing::RedisServer redis;  // declared first: outlives the nodes
  testing::TestApp t;
  std::unique_ptr<app::App> a;
  std::unique_ptr<app::App> b;
};

TEST_F(TwoNodesTest, AKeyRevokedOnOneNodeIsRefusedByTheOtherThroughTheBus) {
  auto k = a->keys().create(KeyInput{"support", "desk", std::nullopt}, t.actor);
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_EQ(check(*b, k->secret), "support");  // B caches it for 30 s
  ASSERT_TRUE(a->keys().revoke(k->id, t.actor).ok());
  // Within the bus's latency, far below the cache's 30 s (B's clock does not move at all).
  EXPECT_TRUE(eventually([&] { return check(*b, k->secret) == "api_key_revoked"; }, 5s));
  EXPECT_EQ(check(*a, k->secret), "api_key_revoked");
}

TEST_F(TwoNodesTest, WithoutTheBusTheOtherNodeKeepsItsCacheForAtMostThirtySeconds) {
  // The safety net under the bus: a node with no --redis-url.
  app::Options options{t.db_url, 4, "", ""};
  options.master_key_file = t.master_key_file;
  auto clock = std::make_unique<SimulatedClock>(t.clock->now());
  auto* c_clock = clock.get();
  auto c = app::App::open(options, std::move(clock));
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto k = a->keys().create(KeyInput{"support", "desk", std::nullopt}, t.actor);
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(check(**c, k->secret), "support");
  ASSERT_TRUE(a->keys().revoke(k->id, t.actor).ok());
  c_clock->advance(ApiKeys::kCacheSeconds);
  EXPECT_EQ(check(**c, k->secret), "api_key_revoked");
}

}  // namespace
}  // namespace recur::access
