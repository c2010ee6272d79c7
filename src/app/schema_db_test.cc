// Migrations that rewrite stored data, run against rows written the old way (both engines).
#include "app/schema.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "testing/fixtures.h"

namespace recur::app {
namespace {

using testing::TestApp;

const db::Migration& migration(int version) {
  for (const auto& m : migrations())
    if (m.version == version) return m;
  throw std::logic_error("no migration " + std::to_string(version));
}

// Runs one migration's statements again, as `migrate` runs them.
void run(db::Database& db, const db::Migration& m) {
  auto done = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    std::string sql = m.sql;
    for (std::size_t from = 0; from < sql.size();) {
      std::size_t end = sql.find(";\n", from);
      if (end == std::string::npos) end = sql.size();
      if (sql.find_first_not_of(" \n\t;", from) < end) RECUR_TRY(tx.exec(sql.substr(from, end - from)));
      from = end + 2;
    }
    if (m.rewrite) RECUR_TRY(m.rewrite(tx));
    return Ok{};
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
}

TEST(SchemaMigrations, SeventeenSpellsCanceledOnceForStoredShipmentsAndEvents) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  // A shipment and its event as a binary before migration 17 stored them.
  const std::string doc =
      R"({"id":"shp_old","status":"cancelled","subscription":"sub_old","items":[],"customer":"cus_old"})";
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, created_at, version,"
                      " doc) VALUES ('shp_old', 'sub_old', 'cus_old', 1, 'cancelled', 0, 1, $1)",
                      {doc}));
    RECUR_TRY(tx.exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, created_at, version,"
                      " doc) VALUES ('shp_new', 'sub_old', 'cus_old', 2, 'ready', 0, 1, $1)",
                      {std::string(R"({"id":"shp_new","status":"ready"})")}));
    RECUR_TRY(tx.exec("INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role,"
                      " created_at, payload) VALUES ('evt_old', 'shipment.cancelled', 'shipment', 'shp_old', 'system',"
                      " '', '', 0, '{}')"));
    return Ok{};
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;

  run(db, migration(17));

  auto rows = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> {
    return tx.query("SELECT id, status, doc FROM shipments ORDER BY id");
  });
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].text(1), "ready");  // shp_new: untouched
  EXPECT_EQ((*rows)[0].text(2), R"({"id":"shp_new","status":"ready"})");
  EXPECT_EQ((*rows)[1].text(1), "canceled");
  EXPECT_EQ(Json::parse((*rows)[1].text(2))["status"], "canceled");
  auto types = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> {
    return tx.query("SELECT type FROM events WHERE id = 'evt_old'");
  });
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)[0].text(0), "shipment.canceled");
  // Running it twice changes nothing more.
  run(db, migration(17));
  auto again = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> {
    return tx.query("SELECT COUNT(*) FROM shipments WHERE status = 'canceled'");
  });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].int64(0), 1);
}

}  // namespace
}  // namespace recur::app
