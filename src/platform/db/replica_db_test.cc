// `--db-replica` against a real PostgreSQL (the test's schema as the primary): a node opens
// while its replica is down, a server that is not in recovery is never read as a replica,
// and the replica's connections carry the parameters that keep a hung replica from holding
// reads. On SQLite only the refusal is checked (a replica needs PostgreSQL).
#include <gtest/gtest.h>

#include <cstdlib>

#include "platform/db/engines.h"
#include "platform/db/replica.h"
#include "platform/read_consistency.h"
#include "testing/fixtures.h"

namespace recur::db {
namespace {

using namespace std::chrono_literals;
using testing::at;

constexpr const char* kNowhere = "postgresql://recur@127.0.0.1:1/recur?connect_timeout=1";

class ReplicaDbTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-01T00:00:00Z")); }
  bool postgres() { return t.app->database().engine() == Engine::kPostgres; }
  // No probing thread: the test probes.
  static ReplicaOptions manual() { return ReplicaOptions{5000ms, std::chrono::hours(1), false}; }
  static bool read(Database& db) {
    return transact(
               db, [](Tx& tx) { return tx.query("SELECT 1"); }, TxMode::kReadOnly)
        .ok();
  }
  // Opens the test's database with `replica_url` as its replica: the node opens, the probe
  // fails, and a stale read goes to the primary. On SQLite, the replica is refused.
  void expect_the_primary_read(const std::string& replica_url) {
    auto opened = open_with_replica(t.db_url, replica_url, 2, manual());
    if (!postgres()) {  // a SQLite primary has no replica
      ASSERT_FALSE(opened.ok());
      EXPECT_EQ(opened.error().code, "invalid_db_replica");
      return;
    }
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    auto& router = **opened;
    router.probe_now();
    EXPECT_FALSE(router.stats().usable);
    EXPECT_EQ(router.stats().lag_ms, -1);
    StaleReadsScope scope;
    EXPECT_TRUE(read(router));
    EXPECT_EQ(router.stats().primary_reads, 1u);
    EXPECT_EQ(router.stats().replica_reads, 0u);
  }
  testing::TestApp t;
};

TEST_F(ReplicaDbTest, ANodeOpensWhileItsReplicaIsDownAndReadsThePrimary) { expect_the_primary_read(kNowhere); }

TEST_F(ReplicaDbTest, AServerNotInRecoveryIsNeverReadAsAReplica) {
  // The primary itself named as the replica: its lag would read 0, but it is no standby.
  expect_the_primary_read(t.db_url);
}

TEST_F(ReplicaDbTest, ADatabaseOpenedWithoutConnectingFailsAtItsFirstTransaction) {
  auto opened = open_postgres(kNowhere, 1, PostgresOptions{false, {}});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto first = transact(
      **opened, [](Tx& tx) { return tx.query("SELECT 1"); }, TxMode::kReadOnly);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, "database_unavailable");
  EXPECT_FALSE(open_postgres(kNowhere, 1).ok());  // connecting at open is the default
}

TEST_F(ReplicaDbTest, DefaultParametersReachLibpq) {
  // No server needed: libpq refuses a parameter it does not know, so the defaults reach it.
  auto opened = open_postgres(kNowhere, 1, PostgresOptions{true, {{"no_such_parameter", "1"}}});
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("no_such_parameter"), std::string::npos) << opened.error().message;
}

TEST_F(ReplicaDbTest, DefaultParametersApplyAndTheUrlsOwnWin) {
  // libpq's parameters, on the test's PostgreSQL server (the PostgreSQL suite's; the SQLite
  // suite runs without one under the sanitizers: DefaultParametersReachLibpq covers it there).
  if (!postgres()) return;
  const char* server = std::getenv("RECUR_TEST_PG_URL");
  ASSERT_NE(server, nullptr) << "run under scripts/with-postgres.sh";
  const std::string base = server;
  auto setting = [&](const std::string& url, const char* name) -> std::string {
    auto db = open_postgres(
        url, 1,
        PostgresOptions{true, {{"options", "-c statement_timeout=1234"}, {"application_name", "from_defaults"}}});
    EXPECT_TRUE(db.ok()) << db.error().message;
    if (!db.ok()) return "";
    auto rows = transact(
        **db, [&](Tx& tx) { return tx.query(std::string("SHOW ") + name); }, TxMode::kReadOnly);
    return rows.ok() && !rows->empty() ? rows->at(0).text(0) : "error";
  };
  EXPECT_EQ(setting(base, "statement_timeout"), "1234ms");
  EXPECT_EQ(setting(base, "application_name"), "from_defaults");
  const std::string named = base + (base.find('?') == std::string::npos ? "?" : "&") + "application_name=from_url";
  EXPECT_EQ(setting(named, "application_name"), "from_url");
}

}  // namespace
}  // namespace recur::db
