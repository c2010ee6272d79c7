// Two API nodes on one database (SQLite or PostgreSQL) sharing cache invalidations through a
// real redis-server: a movement on one node drops the other's cached availability, and a
// Redis outage neither fails a write nor leaves a node's cache stale once Redis is back.
#include <gtest/gtest.h>

#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::cache {
namespace {

using namespace std::chrono_literals;
using testing::at;

using testing::eventually;

class RedisBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t = testing::make_app(at("2026-03-02T09:00:00Z"));
    auto p = t.app->catalog().create_product(
        {"House beans", "BEAN-1", std::nullopt, Money{1000, "usd"}, Json::object(), std::nullopt, true}, t.actor);
    ASSERT_TRUE(p.ok()) << p.error().message;
    product = p->id;
    ASSERT_TRUE(t.app->inventory().receive("BEAN-1", 10, std::nullopt, t.actor).ok());
    a = node();
    b = node();
    // Each node clears its cache when it first subscribes; start from there.
    ASSERT_TRUE(eventually([&] { return subscribed(*a) && subscribed(*b); }));
  }

  std::unique_ptr<app::App> node() { return testing::redis_node(t, redis.url()); }
  static bool subscribed(app::App& node) { return node.redis_bus() && node.redis_bus()->subscribed(); }
  bool cached(app::App& node) { return node.inventory().cache().get(product).has_value(); }
  std::int64_t available(app::App& node) {
    auto answer = node.inventory().availability(product, 1, std::nullopt);
    EXPECT_TRUE(answer.ok()) << answer.error().message;
    return answer->availability.available;
  }
  void adjust_on_a(std::int64_t delta) {
    auto adjusted = a->inventory().adjust("BEAN-1", delta, "count correction", t.actor);
    ASSERT_TRUE(adjusted.ok()) << adjusted.error().message;
  }

  testing::RedisServer redis;  // declared first: outlives the nodes
  testing::TestApp t;
  std::unique_ptr<app::App> a;
  std::unique_ptr<app::App> b;
  std::string product;
};

TEST_F(RedisBusTest, AMovementOnOneNodeDropsTheCachedAvailabilityOnTheOther) {
  EXPECT_EQ(available(*b), 10);
  ASSERT_TRUE(cached(*b));

  adjust_on_a(-3);

  EXPECT_TRUE(eventually([&] { return !cached(*b); }));
  EXPECT_EQ(available(*b), 7);
}

TEST_F(RedisBusTest, AWriteSucceedsWhileRedisIsDownAndTheOtherNodeResyncsWhenItIsBack) {
  EXPECT_EQ(available(*b), 10);
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !subscribed(*b); }));

  adjust_on_a(-3);  // its publish fails: logged, never the write's failure
  EXPECT_EQ(a->inventory().stock("BEAN-1")->level.on_hand, 7);
  EXPECT_TRUE(cached(*b));  // B missed the message: stale until it resyncs
  EXPECT_EQ(available(*b), 10);

  redis.start();
  EXPECT_TRUE(eventually([&] { return !cached(*b); }));
  EXPECT_EQ(available(*b), 7);
}

TEST_F(RedisBusTest, TheFirstPublishAfterARedisRestartIsDeliveredOverAFreshConnection) {
  EXPECT_EQ(available(*b), 10);
  adjust_on_a(-1);  // A now holds a publishing connection
  ASSERT_TRUE(eventually([&] { return !cached(*b); }));
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !subscribed(*b); }));
  redis.start();
  ASSERT_TRUE(eventually([&] { return subscribed(*b); }));
  EXPECT_EQ(available(*b), 9);
  ASSERT_TRUE(cached(*b));

  adjust_on_a(-2);  // A's kept connection died with the old Redis

  EXPECT_TRUE(eventually([&] { return !cached(*b); }));
  EXPECT_EQ(available(*b), 7);
}

TEST_F(RedisBusTest, AMalformedRedisUrlIsRefusedWhenTheAppOpens) {
  app::Options options{t.db_url, 2, "", ""};
  options.master_key_file = t.master_key_file;
  options.redis_url = "cache.internal:6379";
  auto app = app::App::open(options, std::make_unique<SimulatedClock>(t.clock->now()));
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.error().code, "invalid_redis_url");
}

}  // namespace
}  // namespace recur::cache
