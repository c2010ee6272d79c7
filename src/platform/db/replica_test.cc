// The read replica (db::ReplicaRouter, `--db-replica`): only a read-only transaction under a
// StaleReadsScope goes to the replica, and only while its last probe is recent and within the
// staleness bound; a route declared Router::reads_may_lag runs its handler under that scope.
// Two SQLite files stand in for the primary and the replica (each holds a row naming it): the
// real streaming replica is exercised by tests/cluster/failover.py.
#include "platform/db/replica.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "platform/db/engines.h"
#include "platform/http/pipeline.h"
#include "platform/read_consistency.h"

namespace recur::db {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::unique_ptr<Database> named_database(const fs::path& path, const std::string& name) {
  auto db = open_sqlite(path.string(), 2);
  EXPECT_TRUE(db.ok());
  auto made = transact(**db, [&](Tx& tx) -> Result<int> {
    RECUR_TRY(tx.exec("CREATE TABLE whoami (name TEXT NOT NULL)"));
    RECUR_TRY(tx.exec("INSERT INTO whoami (name) VALUES ($1)", {name}));
    return 0;
  });
  EXPECT_TRUE(made.ok());
  return std::move(*db);
}

std::string served_by(Database& db, TxMode mode) {
  auto tx = db.begin(mode);
  if (!tx.ok()) return "error: " + tx.error().message;
  auto rows = (*tx)->query("SELECT name FROM whoami");
  return rows.ok() && !rows->empty() ? rows->at(0).text(0) : "error";
}

class ReplicaRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("recur-replica-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    router.reset();
    fs::remove_all(dir);
  }
  // The probe answers `lag` (ms), fails while `failing`, and hangs while `hanging`.
  // Without a probing thread unless the options ask for one: the test probes.
  void make_router(ReplicaOptions options = {std::chrono::milliseconds(5000), std::chrono::hours(1), false}) {
    router = std::make_unique<ReplicaRouter>(
        named_database(dir / "primary.db", "primary"), named_database(dir / "replica.db", "replica"),
        [this]() -> Result<std::int64_t> {
          while (hanging) std::this_thread::sleep_for(1ms);
          if (failing) return Error::internal("replica unreachable");
          return lag.load();
        },
        options);
    router->probe_now();
  }
  fs::path dir;
  std::atomic<std::int64_t> lag{0};
  std::atomic<bool> failing{false};
  std::atomic<bool> hanging{false};
  std::unique_ptr<ReplicaRouter> router;
};

TEST_F(ReplicaRouterTest, OnlyReadOnlyTransactionsUnderAStaleReadsScopeGoToTheReplica) {
  make_router();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "primary");  // no scope: read-your-writes
  EXPECT_EQ(served_by(*router, TxMode::kReadWrite), "primary");
  {
    StaleReadsScope scope;
    EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");
    EXPECT_EQ(served_by(*router, TxMode::kReadWrite), "primary");  // a write never goes there
  }
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "primary");  // the scope ended
  auto stats = router->stats();
  EXPECT_EQ(stats.replica_reads, 1u);
  EXPECT_EQ(stats.primary_reads, 0u);
  EXPECT_TRUE(stats.usable);
  EXPECT_EQ(stats.lag_ms, 0);
}

TEST_F(ReplicaRouterTest, AReplicaBehindTheBoundIsNotReadUntilItCatchesUp) {
  make_router();
  StaleReadsScope scope;
  lag = 5000;  // at the bound: still usable
  router->probe_now();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");
  lag = 5001;
  router->probe_now();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "primary");
  EXPECT_FALSE(router->stats().usable);
  EXPECT_EQ(router->stats().lag_ms, 5001);
  lag = 10;
  router->probe_now();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");
  EXPECT_EQ(router->stats().replica_reads, 2u);
  EXPECT_EQ(router->stats().primary_reads, 1u);
}

TEST_F(ReplicaRouterTest, AFailedProbeSendsStaleReadsToThePrimary) {
  make_router();
  StaleReadsScope scope;
  failing = true;
  router->probe_now();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "primary");
  EXPECT_EQ(router->stats().lag_ms, -1);
  failing = false;
  router->probe_now();
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");
}

TEST_F(ReplicaRouterTest, AProbeThatHangsMakesTheReplicaUnusableAfterThreePeriods) {
  make_router({std::chrono::milliseconds(5000), std::chrono::milliseconds(20)});
  StaleReadsScope scope;
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");
  hanging = true;  // the probing thread's next probe never answers
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "primary");
  hanging = false;
  for (int i = 0; i < 200 && !router->stats().usable; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(served_by(*router, TxMode::kReadOnly), "replica");  // the thread probes again by itself
}

// Each probe: the primary's WAL position (asked at a time), then the replica's replayed one.
TEST(LagTracker, TheLagIsTheAgeOfTheNewestPrimaryPositionTheReplicaHasReplayed) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::int64_t, std::uint64_t>> primary;  // (asked at ms, WAL position)
    std::int64_t now;
    std::uint64_t replayed;
    std::int64_t lag;
  };
  const std::int64_t unknown = LagTracker::kUnknown;
  const Case cases[] = {
      {"caught up with the last position", {{1000, 100}, {2000, 200}}, 2010, 200, 10},
      {"ahead of it (writes since)", {{1000, 100}, {2000, 200}}, 2010, 250, 10},
      {"one probe behind", {{1000, 100}, {2000, 200}}, 2010, 150, 1010},
      {"the first probe, not caught up yet", {{1000, 100}}, 1005, 99, unknown},
      {"cut off: replayed nothing kept", {{1000, 100}, {2000, 200}, {3000, 300}}, 3010, 50, unknown},
      {"an idle primary: the same position", {{1000, 100}, {2000, 100}, {3000, 100}}, 3010, 100, 10},
      {"forgotten past keep (5 s)", {{1000, 100}, {2000, 200}, {7500, 300}}, 7510, 150, unknown},
      {"the newest is kept whatever its age", {{1000, 100}}, 60000, 100, 59000},
  };
  for (const auto& c : cases) {
    LagTracker tracker(std::chrono::milliseconds(5000));
    for (const auto& [at, lsn] : c.primary) tracker.primary_at(at, lsn);
    EXPECT_EQ(tracker.lag_ms(c.now, c.replayed), c.lag) << c.name;
  }
}

TEST(OpenWithReplica, RefusesAnythingButPostgreSQL) {
  auto opened = open_with_replica("sqlite:/tmp/x.db", "postgresql://127.0.0.1:1/recur", 2);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "invalid_db_replica");
  opened = open_with_replica("postgresql://127.0.0.1:1/recur", "sqlite:/tmp/x.db", 2);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "invalid_db_replica");
}

// A caller with any token is an admin; nothing is kept under Idempotency-Keys.
class AnyKey final : public http::Authenticator {
 public:
  Result<std::optional<http::Principal>> authenticate(std::string_view) override {
    return std::optional<http::Principal>(http::Principal{"key_1", "admin"});
  }
  bool allowed(const http::Principal&, std::string_view) const override { return true; }
};
class NoIdempotency final : public http::IdempotencyStore {
 public:
  Result<Claim> claim(const std::string&, const std::string&) override { return Claim{}; }
  Result<http::Response> run_once(const std::string&, const std::string&,
                                  const std::function<http::Response()>& handler) override {
    return handler();
  }
  Status complete(const std::string&, const std::string&, const http::Response&) override { return Ok{}; }
  Status release(const std::string&, const std::string&) override { return Ok{}; }
};

TEST(StaleReadRoutes, OnlyADeclaredRouteRunsUnderTheScope) {
  http::Router router;
  auto report = [](http::Request&) {
    http::Response r;
    r.body = stale_reads_allowed() ? "stale" : "fresh";
    return r;
  };
  router.add("GET", "/v1/things", "things:read", report);
  router.add("GET", "/v1/things/{id}", "things:read", report);
  ASSERT_TRUE(router.reads_may_lag("GET", "/v1/things"));
  EXPECT_FALSE(router.reads_may_lag("GET", "/v1/nowhere"));
  AnyKey auth;
  NoIdempotency idempotency;
  http::Pipeline pipeline(router, auth, idempotency);
  auto get = [&](const std::string& path) {
    http::Request request{"GET", path};
    request.headers.emplace_back("authorization", "Bearer k");
    return pipeline.handle(request).body;
  };
  EXPECT_EQ(get("/v1/things"), "stale");
  EXPECT_EQ(get("/v1/things/th_1"), "fresh");
  EXPECT_FALSE(stale_reads_allowed());  // the scope ended with the request
}

TEST(StaleReadRoutes, AnErrorReadOnTheReplicaIsAskedOfThePrimaryAgain) {
  http::Router router;
  int calls = 0;
  // status_on_replica: what the route answers when it read the replica; `reads_replica`
  // false: the replica was unusable, so the stale read went to the primary.
  auto route = [&](int status_on_replica, bool reads_replica) {
    return [&calls, status_on_replica, reads_replica](http::Request&) {
      ++calls;
      http::Response r;
      r.body = "primary";
      if (stale_reads_allowed() && reads_replica) {
        note_replica_read();
        r.status = status_on_replica;
        r.body = "replica";
      } else if (stale_reads_allowed()) {
        r.status = 404;
        r.body = "primary, under the scope";
      }
      return r;
    };
  };
  router.add("GET", "/v1/cursors", "things:read", route(422, true));    // a page cursor not replayed yet
  router.add("GET", "/v1/parents", "things:read", route(404, true));    // a parent not replayed yet
  router.add("GET", "/v1/fine", "things:read", route(200, true));       // the replica had it
  router.add("GET", "/v1/missing", "things:read", route(404, false));   // the primary said 404 itself
  for (const char* p : {"/v1/cursors", "/v1/parents", "/v1/fine", "/v1/missing"}) ASSERT_TRUE(router.reads_may_lag("GET", p));
  AnyKey auth;
  NoIdempotency idempotency;
  http::Pipeline pipeline(router, auth, idempotency);
  auto get = [&](const std::string& path) {
    calls = 0;
    http::Request request{"GET", path};
    request.headers.emplace_back("authorization", "Bearer k");
    auto r = pipeline.handle(request);
    return std::to_string(r.status) + " " + r.body + " x" + std::to_string(calls);
  };
  EXPECT_EQ(get("/v1/cursors"), "200 primary x2");
  EXPECT_EQ(get("/v1/parents"), "200 primary x2");
  EXPECT_EQ(get("/v1/fine"), "200 replica x1");
  EXPECT_EQ(get("/v1/missing"), "404 primary, under the scope x1");
}

}  // namespace
}  // namespace recur::db
