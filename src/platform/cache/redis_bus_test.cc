// Redis URLs: what --redis-url accepts, and what it refuses before any connection is tried.
#include "platform/cache/redis_bus.h"

#include <gtest/gtest.h>

namespace recur::cache {
namespace {

TEST(RedisUrl, HostPortAndDatabaseAreReadWithPort6379AsTheDefault) {
  struct Case {
    const char* url;
    const char* host;
    int port;
    int db;
  };
  for (const auto& c : {Case{"redis://127.0.0.1:6380", "127.0.0.1", 6380, 0},
                        Case{"redis://cache.internal", "cache.internal", 6379, 0},
                        Case{"redis://cache.internal:7000/3", "cache.internal", 7000, 3},
                        Case{"redis://cache.internal/", "cache.internal", 6379, 0},
                        Case{"redis://[::1]:6390/1", "::1", 6390, 1},
                        Case{"redis://[::1]", "::1", 6379, 0}}) {
    auto a = parse_redis_url(c.url);
    ASSERT_TRUE(a.ok()) << c.url << ": " << a.error().message;
    EXPECT_EQ(a->host, c.host) << c.url;
    EXPECT_EQ(a->port, c.port) << c.url;
    EXPECT_EQ(a->db, c.db) << c.url;
  }
}

TEST(RedisUrl, AnythingElseIsRefusedAsInvalidRedisUrl) {
  for (const char* url : {"", "cache:6379", "http://cache:6379", "redis://", "redis://:6379", "redis://cache:0",
                          "redis://cache:65536", "redis://cache:port", "redis://cache:6379/x",
                          "redis://user:secret@cache:6379"}) {
    auto a = parse_redis_url(url);
    ASSERT_FALSE(a.ok()) << url;
    EXPECT_EQ(a.error().code, "invalid_redis_url") << url;
  }
}

}  // namespace
}  // namespace recur::cache
