// Migrations that rewrite stored data, run against rows written the old way (both engines).
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <vector>

#include "app/schema.h"
#include "catalog/store.h"
#include "events/store.h"
#include "inventory/model.h"
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

// Runs one migration's rewrite again, without its SQL: that ran when the test database
// was made, and a statement that adds a column cannot run twice.
void run_rewrite(db::Database& db, const db::Migration& m) {
  ASSERT_TRUE(m.rewrite) << "migration " << m.version << " rewrites nothing";
  auto done = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(m.rewrite(tx));
    tx.rows_rewritten();  // as db::migrate does
    return Ok{};
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
}

// Rows of one table (or the events), id -> the JSON document in `column`.
std::map<std::string, Json> documents(db::Database& db, const std::string& sql) {
  std::map<std::string, Json> out;
  auto rows = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> { return tx.query(sql); });
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  if (!rows.ok()) return out;
  for (const auto& row : *rows) out[row.text(0)] = Json::parse(row.text(1));
  return out;
}

TEST(SchemaMigrations, EighteenGivesSubscriptionsProductsPlansAndStockMovementsTheirOneShape) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  auto customer = testing::make_customer(t);
  // Rows as a binary before migration 18 stored them: split periods, a nested price, 0 for
  // "none", a stock movement's actor as a bare string; the events' copies alike.
  const Json plan_doc = {{"id", "plan_old"}, {"object", "plan"}, {"name", "Old"}, {"amount", 2400},
                         {"currency", "eur"}, {"interval", "month"}, {"interval_count", 1}, {"trial_days", 0},
                         {"renewal_reminder_days", 0}, {"tier", nullptr}, {"items", Json::array()},
                         {"active", true}, {"metadata", Json::object()}, {"created", "2026-01-01T00:00:00Z"},
                         {"updated", "2026-01-01T00:00:00Z"}, {"version", 1}};
  const Json sub_doc = {{"id", "sub_old"}, {"object", "subscription"}, {"plan", "plan_old"},
                        {"current_period_start", "2026-01-01T00:00:00Z"},
                        {"current_period_end", "2026-02-01T00:00:00Z"}, {"current_period_amount", 2400},
                        {"discount", nullptr}};
  const Json priced = {{"id", "prod_old1"}, {"object", "product"}, {"name", "Old beans"}, {"sku", "OLD-1"},
                       {"description", nullptr}, {"price", {{"amount", 500}, {"currency", "usd"}}},
                       {"category", nullptr}, {"track_inventory", true}, {"active", true},
                       {"metadata", Json::object()}, {"created", "2026-01-01T00:00:00Z"},
                       {"updated", "2026-01-01T00:00:00Z"}, {"version", 1}};
  const Json unpriced = {{"id", "prod_old2"}, {"object", "product"}, {"sku", "OLD-2"}, {"price", nullptr}};
  const Json renewed = {{"before", nullptr}, {"after", nullptr},
                        {"details", {{"period_start", "2026-01-01T00:00:00Z"}, {"period_end", "2026-02-01T00:00:00Z"},
                                     {"billable", true}, {"amount", 2400}, {"currency", "eur"}}}};
  const Json changed = {
      {"before", sub_doc},
      {"after", sub_doc},
      {"details",
       {{"lines", Json::array({{{"description", "Unused time"}, {"amount", -1200}, {"currency", "eur"},
                                {"period_start", "2026-01-16T00:00:00Z"}, {"period_end", "2026-02-01T00:00:00Z"}}})},
        {"currency", "eur"},
        {"new_period_start", "2026-01-16T00:00:00Z"}, {"new_period_end", "2026-02-16T00:00:00Z"},
        {"period_started", {{"period_start", "2026-01-16T00:00:00Z"}, {"period_end", "2026-02-16T00:00:00Z"},
                            {"amount", 2400}}}}}};
  const Json offer_taken = {{"before", nullptr}, {"after", nullptr},
                            {"details", {{"type", "skip"}, {"skipped", {{"period_start", "2026-02-01T00:00:00Z"},
                                                                        {"period_end", "2026-03-01T00:00:00Z"}}}}}};
  const Json product_updated = {{"before", unpriced}, {"after", priced}, {"details", nullptr}};
  const Json inventory_updated = {{"before", {{"sku", "OLD-1"}, {"low_stock_threshold", 0}}},
                                  {"after", {{"sku", "OLD-1"}, {"low_stock_threshold", 5}}}, {"details", nullptr}};
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("INSERT INTO plans (id, tier, active, version, doc) VALUES ('plan_old', NULL, 1, 1, $1)",
                      {plan_doc.dump()}));
    RECUR_TRY(tx.exec("INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods,"
                      " version, created_at, doc) VALUES ('sub_old', $1, 'plan_old', 'active', NULL, 1, 1, 0, $2)",
                      {customer.id, sub_doc.dump()}));
    RECUR_TRY(tx.exec("INSERT INTO products (id, sku, active, version, doc) VALUES ('prod_old1', 'OLD-1', 1, 1, $1)",
                      {priced.dump()}));
    RECUR_TRY(tx.exec("INSERT INTO products (id, sku, active, version, doc) VALUES ('prod_old2', 'OLD-2', 1, 1, $1)",
                      {unpriced.dump()}));
    RECUR_TRY(tx.exec("INSERT INTO api_keys (id, role, key_hash, prefix, created_at) VALUES ('key_old', 'inventory',"
                      " 'hash-old', 'rk_old', 0)"));
    const char* movement = "INSERT INTO stock_movements (id, product_id, warehouse, kind, on_hand_delta,"
                           " reserved_delta, reason, reference, actor, created_at) VALUES ($1, 'prod_old1', 'main',"
                           " 'adjustment', 1, 0, NULL, NULL, $2, 0)";
    for (const auto& [id, actor] : {std::pair{"mv_key", "key_old"}, {"mv_system", "system"}, {"mv_cli", "demo"}})
      RECUR_TRY(tx.exec(movement, {std::string(id), std::string(actor)}));
    const char* event = "INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role,"
                        " created_at, payload) VALUES ($1, $2, $3, $4, 'system', 'scheduler', '', 0, $5)";
    RECUR_TRY(tx.exec(event, {"evt_renewed", "subscription.renewed", "subscription", "sub_old", renewed.dump()}));
    RECUR_TRY(tx.exec(event, {"evt_changed", "subscription.plan_changed", "subscription", "sub_old", changed.dump()}));
    RECUR_TRY(tx.exec(event, {"evt_offer", "subscription.retention_accepted", "subscription", "sub_old",
                              offer_taken.dump()}));
    RECUR_TRY(tx.exec(event, {"evt_product", "product.updated", "product", "prod_old1", product_updated.dump()}));
    RECUR_TRY(tx.exec(event, {"evt_level", "inventory.updated", "inventory", "prod_old1", inventory_updated.dump()}));
    return Ok{};
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;

  run_rewrite(db, migration(18));

  const Json january = {{"start", "2026-01-01T00:00:00Z"}, {"end", "2026-02-01T00:00:00Z"}};
  auto subs = documents(db, "SELECT id, doc FROM subscriptions WHERE id = 'sub_old'");
  EXPECT_EQ(subs["sub_old"]["current_period"], january);
  EXPECT_EQ(subs["sub_old"]["currency"], "eur");
  EXPECT_FALSE(subs["sub_old"].contains("current_period_start"));
  EXPECT_TRUE(subs["sub_old"]["discount"].is_null());  // billing's part, untouched here
  auto products = documents(db, "SELECT id, doc FROM products WHERE id LIKE 'prod_old%'");
  EXPECT_EQ(products["prod_old1"]["amount"], 500);
  EXPECT_EQ(products["prod_old1"]["currency"], "usd");
  EXPECT_FALSE(products["prod_old1"].contains("price"));
  EXPECT_TRUE(products["prod_old2"]["amount"].is_null());
  EXPECT_TRUE(products["prod_old2"]["currency"].is_null());
  auto plans = documents(db, "SELECT id, doc FROM plans WHERE id = 'plan_old'");
  EXPECT_TRUE(plans["plan_old"]["trial_days"].is_null());
  EXPECT_TRUE(plans["plan_old"]["renewal_reminder_days"].is_null());
  auto actors = documents(db, "SELECT id, actor FROM stock_movements WHERE product_id = 'prod_old1'");
  EXPECT_EQ(actors["mv_key"], (Json{{"type", "api_key"}, {"id", "key_old"}, {"role", "inventory"}}));
  EXPECT_EQ(actors["mv_system"], (Json{{"type", "system"}, {"id", "scheduler"}, {"role", nullptr}}));
  EXPECT_EQ(actors["mv_cli"], (Json{{"type", "cli"}, {"id", "demo"}, {"role", nullptr}}));
  auto events = documents(db, "SELECT id, payload FROM events WHERE id IN ('evt_renewed', 'evt_changed', 'evt_offer',"
                              " 'evt_product', 'evt_level')");
  EXPECT_EQ(events["evt_renewed"]["details"]["period"], january);
  EXPECT_FALSE(events["evt_renewed"]["details"].contains("period_start"));
  const Json& change = events["evt_changed"];
  EXPECT_EQ(change["before"]["current_period"], january);
  EXPECT_EQ(change["after"]["currency"], "eur");
  EXPECT_EQ(change["details"]["lines"][0]["period"],
            (Json{{"start", "2026-01-16T00:00:00Z"}, {"end", "2026-02-01T00:00:00Z"}}));
  EXPECT_FALSE(change["details"]["lines"][0].contains("currency"));  // the preview's currency covers its lines
  EXPECT_EQ(change["details"]["currency"], "eur");
  const Json new_period = {{"start", "2026-01-16T00:00:00Z"}, {"end", "2026-02-16T00:00:00Z"}};
  EXPECT_EQ(change["details"]["new_period"], new_period);
  EXPECT_EQ(change["details"]["period_started"], (Json{{"period", new_period}, {"amount", 2400}}));
  EXPECT_EQ(events["evt_offer"]["details"]["skipped"],
            (Json{{"start", "2026-02-01T00:00:00Z"}, {"end", "2026-03-01T00:00:00Z"}}));
  EXPECT_TRUE(events["evt_product"]["before"]["amount"].is_null());
  EXPECT_EQ(events["evt_product"]["after"]["amount"], 500);
  EXPECT_TRUE(events["evt_level"]["before"]["low_stock_threshold"].is_null());
  EXPECT_EQ(events["evt_level"]["after"]["low_stock_threshold"], 5);
  // What the server reads back is the new shape.
  auto product = t.app->catalog().get_product("prod_old1");
  ASSERT_TRUE(product.ok()) << product.error().message;
  ASSERT_TRUE(product->price.has_value());
  EXPECT_EQ(product->price->amount, 500);

  // Running it again changes nothing: every document is already in the new shape.
  run_rewrite(db, migration(18));
  EXPECT_EQ(documents(db, "SELECT id, doc FROM subscriptions WHERE id = 'sub_old'"), subs);
  EXPECT_EQ(documents(db, "SELECT id, doc FROM products WHERE id LIKE 'prod_old%'"), products);
  EXPECT_EQ(documents(db, "SELECT id, doc FROM plans WHERE id = 'plan_old'"), plans);
  EXPECT_EQ(documents(db, "SELECT id, actor FROM stock_movements WHERE product_id = 'prod_old1'"), actors);
  EXPECT_EQ(documents(db, "SELECT id, payload FROM events WHERE id IN ('evt_renewed', 'evt_changed', 'evt_offer',"
                          " 'evt_product', 'evt_level')"),
            events);
}

// The outboxes as migrations 24-26 left them, with `stream` and `events` waiting
// ("id:created_at"), migration 34 run (twice: the second changes nothing), then one event
// appended; returns every row of both outboxes as (event_id, seq), by seq.
std::vector<std::pair<std::string, std::int64_t>> outboxes_after_34(const std::vector<std::string>& stream,
                                                                    const std::vector<std::string>& events) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("DROP TABLE event_outbox"));
    RECUR_TRY(tx.exec("DROP TABLE stream_outbox"));
    RECUR_TRY(tx.exec("CREATE TABLE event_outbox (event_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL,"
                      " type TEXT NOT NULL DEFAULT '')"));
    RECUR_TRY(tx.exec("CREATE TABLE stream_outbox (event_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)"));
    for (const auto& row : stream)
      RECUR_TRY(tx.exec("INSERT INTO stream_outbox (event_id, created_at) VALUES ($1, $2)",
                        {row.substr(0, row.find(':')), std::int64_t{std::stoll(row.substr(row.find(':') + 1))}}));
    for (const auto& row : events)
      RECUR_TRY(tx.exec("INSERT INTO event_outbox (event_id, created_at, type) VALUES ($1, $2, 'customer.updated')",
                        {row.substr(0, row.find(':')), std::int64_t{std::stoll(row.substr(row.find(':') + 1))}}));
    return Ok{};
  });
  EXPECT_TRUE(seeded.ok()) << seeded.error().message;
  for (int times = 0; times < 2; ++times) run(db, migration(34));
  events::Event fresh{"evt_0", "customer.updated", "customer", "cus_1", t.actor, 20, nullptr,
                      Json{{"id", "cus_1"}}, Json::object()};
  auto appended = db::transact(db, [&](db::Tx& tx) { return events::append(tx, fresh); });
  EXPECT_TRUE(appended.ok()) << appended.error().message;
  auto rows = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> {
    return tx.query("SELECT event_id, seq FROM stream_outbox UNION ALL SELECT event_id, seq FROM event_outbox"
                    " ORDER BY 2");
  });
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  std::vector<std::pair<std::string, std::int64_t>> got;
  if (rows.ok())
    for (const auto& row : *rows) got.emplace_back(row.text(0), row.int64(1));
  return got;
}

using Numbered = std::vector<std::pair<std::string, std::int64_t>>;

TEST(SchemaMigrations, ThirtyFourNumbersBothOutboxesTogetherInTheirOldOrderAndNewEventsAfterThem) {
  // evt_e was fanned out while the older evt_c and evt_d still wait for fan-out: it stays
  // after them, as the publisher held it back before.
  EXPECT_EQ(outboxes_after_34({"evt_b:10", "evt_a:11", "evt_e:13"}, {"evt_d:12", "evt_c:12"}),
            (Numbered{{"evt_b", 1}, {"evt_a", 2}, {"evt_c", 3}, {"evt_d", 4}, {"evt_e", 5}, {"evt_0", 6}}));
}

TEST(SchemaMigrations, ThirtyFourNumbersNewEventsAfterTheStreamOutboxAlsoWhenTheEventOutboxWasEmpty) {
  EXPECT_EQ(outboxes_after_34({"evt_b:10", "evt_a:11"}, {}), (Numbered{{"evt_b", 1}, {"evt_a", 2}, {"evt_0", 3}}));
  EXPECT_EQ(outboxes_after_34({}, {}), (Numbered{{"evt_0", 1}}));
}

// Migration 37 on the invoices tables as they were before it (subscription_id NOT NULL), with
// an invoice and its event: the column may be NULL afterwards, every row, constraint and
// index is kept, and the documents gain collection_method and due_date once.
TEST(SchemaMigrations, ThirtySevenLetsInvoicesHaveNoSubscriptionKeepingRowsConstraintsAndIndexes) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  const Json old_invoice = Json::parse(R"({"id":"in_old","object":"invoice","number":"INV-000900",
    "subscription":"sub_old","customer":"cus_old","status":"open","billing_reason":"subscription_cycle",
    "period":{"start":"2026-01-01T00:00:00Z","end":"2026-02-01T00:00:00Z"},"currency":"usd","subtotal":2000,
    "discount":0,"discount_source":null,"tax":0,"total":2000,"amount_paid":0,"amount_refunded":0,
    "amount_credited":0,"amount_disputed":0,"amount_disputed_lost":0,"amount_due":2000,"attempt_count":0,
    "next_attempt_at":null,"first_failed_at":null,"paid_at":null,"collection_ended":false,
    "hard_declined_payment_method":null,"lines":[],"metadata":{},"created":"2026-01-01T00:00:00Z",
    "updated":"2026-01-01T00:00:00Z","version":1})");
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("DROP TABLE invoices"));
    RECUR_TRY(tx.exec("DROP TABLE analytics_invoices"));
    RECUR_TRY(tx.exec("CREATE TABLE invoices (id TEXT PRIMARY KEY, number TEXT UNIQUE, subscription_id TEXT NOT NULL,"
                      " customer_id TEXT NOT NULL, period_seq BIGINT NOT NULL, status TEXT NOT NULL,"
                      " next_attempt_at BIGINT, created_at BIGINT NOT NULL, version BIGINT NOT NULL, doc TEXT NOT NULL,"
                      " UNIQUE (subscription_id, period_seq))"));
    for (const char* index : {"CREATE INDEX invoices_subscription ON invoices (subscription_id, id)",
                              "CREATE INDEX invoices_customer ON invoices (customer_id, id)",
                              "CREATE INDEX invoices_due_order ON invoices (status, next_attempt_at, id)",
                              "CREATE INDEX invoices_number ON invoices (number)"})
      RECUR_TRY(tx.exec(index));
    RECUR_TRY(tx.exec("CREATE TABLE analytics_invoices (invoice_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,"
                      " subscription_id TEXT NOT NULL, currency TEXT NOT NULL, billing_reason TEXT NOT NULL,"
                      " due_at BIGINT NOT NULL, status TEXT NOT NULL, total BIGINT NOT NULL, amount_paid BIGINT NOT NULL,"
                      " attempt_count BIGINT NOT NULL, first_failed_at BIGINT, paid_at BIGINT)"));
    RECUR_TRY(tx.exec("CREATE INDEX analytics_invoices_subscription ON analytics_invoices (subscription_id, due_at)"));
    RECUR_TRY(tx.exec("INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, created_at,"
                      " version, doc) VALUES ('in_old', 'INV-000900', 'sub_old', 'cus_old', 1, 'open', 0, 1, $1)",
                      {old_invoice.dump()}));
    RECUR_TRY(tx.exec("INSERT INTO analytics_invoices VALUES ('in_old', 'cus_old', 'sub_old', 'usd',"
                      " 'subscription_cycle', 0, 'open', 2000, 0, 0, NULL, NULL)"));
    events::Event e{"evt_old", "invoice.finalized", "invoice", "in_old", events::Actor::system(), 0, nullptr,
                    old_invoice, Json::object()};
    RECUR_TRY(events::append(tx, e));
    return Ok{};
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;
  run(db, migration(37));
  run_rewrite(db, migration(37));  // again: nothing changes

  auto invoices = documents(db, "SELECT id, doc FROM invoices");
  ASSERT_EQ(invoices.size(), 1u);
  EXPECT_EQ(invoices["in_old"]["collection_method"], "charge_automatically");
  EXPECT_TRUE(invoices["in_old"]["due_date"].is_null());
  EXPECT_EQ(invoices["in_old"]["subscription"], "sub_old");
  auto events = documents(db, "SELECT id, payload FROM events WHERE id = 'evt_old'");
  EXPECT_EQ(events["evt_old"]["after"]["collection_method"], "charge_automatically");

  auto exec = [&](const std::string& sql) {
    return db::transact(db, [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(tx.exec(sql));
      return Ok{};
    });
  };
  const std::string insert = "INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status,"
                             " created_at, version, doc, request_key) VALUES ";
  // Two invoices of no subscription under the same key 0: NULLs never clash.
  EXPECT_TRUE(exec(insert + "('in_a', 'INV-000901', NULL, 'cus_old', 0, 'open', 0, 1, '{}', 'k1')").ok());
  EXPECT_TRUE(exec(insert + "('in_b', 'INV-000902', NULL, 'cus_old', 0, 'open', 0, 1, '{}', NULL)").ok());
  // The constraints are kept: a period's second invoice, a number or a request key twice.
  EXPECT_FALSE(exec(insert + "('in_c', 'INV-000903', 'sub_old', 'cus_old', 1, 'open', 0, 1, '{}', NULL)").ok());
  EXPECT_FALSE(exec(insert + "('in_d', 'INV-000900', NULL, 'cus_old', 0, 'open', 0, 1, '{}', NULL)").ok());
  EXPECT_FALSE(exec(insert + "('in_e', 'INV-000904', NULL, 'cus_old', 0, 'open', 0, 1, '{}', 'k1')").ok());
  EXPECT_TRUE(exec("INSERT INTO analytics_invoices VALUES ('in_a', 'cus_old', NULL, 'usd', 'manual', 0, 'open',"
                   " 100, 0, 0, NULL, NULL)")
                  .ok());
  // And the indexes.
  const bool pg = db.engine() == db::Engine::kPostgres;
  const std::string names = "('invoices_subscription', 'invoices_customer', 'invoices_due_order', 'invoices_number',"
                            " 'invoices_request_key', 'analytics_invoices_subscription')";
  EXPECT_EQ(testing::count(t, pg ? "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()"
                                   " AND indexname IN " + names
                                 : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN " + names),
            6);
}

TEST(SchemaMigrations, ThirtyEightGivesStoredPaymentMethodsTheirTypeOnce) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  auto customer = testing::make_customer(t);
  auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), "pm_card_visa", true},
                                                      t.actor);
  ASSERT_TRUE(pm.ok()) << pm.error().message;
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM payment_methods WHERE type = 'card' AND wallet IS NULL"), 1);
  // An event written before payment methods had types.
  const Json old_method = Json::parse(R"({"id":"pmt_old","object":"payment_method","customer":"cus_old",
    "gateway":"stripe","token":"pm_old","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030},
    "default":false,"metadata":{},"created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z","version":1})");
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    events::Event e{"evt_pm_old", "customer.payment_method_attached", "customer", "cus_old", t.actor, 0,
                    nullptr, nullptr, Json{{"payment_method", old_method}}};
    return events::append(tx, e);
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;
  for (int times = 0; times < 2; ++times) run_rewrite(db, migration(38));
  auto events = documents(db, "SELECT id, payload FROM events WHERE type = 'customer.payment_method_attached'");
  for (const auto& [id, payload] : events) {
    const Json& method = payload["details"]["payment_method"];
    EXPECT_EQ(method["type"], "card") << id;
    EXPECT_TRUE(method["paypal"].is_null()) << id;
    EXPECT_TRUE(method["venmo"].is_null()) << id;
    EXPECT_EQ(method["card"]["last4"], "4242") << id;
  }
  EXPECT_EQ(events.size(), 2u);
}

TEST(SchemaMigrations, NineteenFillsCreatedAtAndTrackingNumbersFromTheDocuments) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  // Rows as a binary before migration 19 wrote them: no created_at, no tracking_number column value.
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("INSERT INTO customers (id, email_index, version, doc) VALUES ('cus_old', 'old@example.com', 1, $1)",
                      {std::string(R"({"id":"cus_old","created":"2025-06-01T12:00:00Z"})")}));
    RECUR_TRY(tx.exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, created_at, version,"
                      " doc) VALUES ('shp_old', 'sub_old', 'cus_old', 1, 'shipped', 0, 1, $1)",
                      {std::string(R"({"id":"shp_old","tracking_number":"1Z-OLD"})")}));
    return Ok{};
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;
  const db::Migration& m = migration(19);
  for (int times = 0; times < 2; ++times) {  // the rewrite is idempotent
    auto done = db::transact(db, [&](db::Tx& tx) { return m.rewrite(tx); });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  auto rows = db::transact(db, [&](db::Tx& tx) -> Result<db::Rows> {
    return tx.query("SELECT (SELECT created_at FROM customers WHERE id = 'cus_old'),"
                    " (SELECT tracking_number FROM shipments WHERE id = 'shp_old')");
  });
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ((*rows)[0].int64(0), parse_rfc3339("2025-06-01T12:00:00Z").value());
  EXPECT_EQ((*rows)[0].text(1), "1Z-OLD");
}

TEST(SchemaMigrations, TwentyGivesScheduledSubscriptionsTheirTrialAndDisputesTheOneShape) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  auto trial = testing::make_plan(t, 2000, Interval::kMonth, 1, 14, "With trial");
  auto plain = testing::make_plan(t, 2000, Interval::kMonth, 1, 0, "Without");
  auto customer = testing::make_customer(t, "old@example.com");
  // Scheduled subscriptions as a binary before migration 20 stored them: no trial_end, the
  // trial only in the first period (start + the plan's 14 days).
  auto row = [&](const char* id, const std::string& plan, const char* status, const char* end) {
    Json doc{{"id", id}, {"status", status}, {"trial_end", nullptr}, {"start_date", "2026-03-01T00:00:00Z"},
             {"current_period", {{"start", "2026-03-01T00:00:00Z"}, {"end", end}}}};
    return db::transact(db, [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(tx.exec("INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods,"
                        " version, created_at, doc) VALUES ($1, $2, $3, $4, 0, 0, 1, 0, $5)",
                        {std::string(id), customer.id, plan, std::string(status), doc.dump()}));
      return Ok{};
    });
  };
  ASSERT_TRUE(row("sub_trial", trial.id, "scheduled", "2026-03-15T00:00:00Z").ok());
  // Moved to the trial plan while scheduled: its first period is still the old plan's month.
  ASSERT_TRUE(row("sub_moved", trial.id, "scheduled", "2026-04-01T00:00:00Z").ok());
  ASSERT_TRUE(row("sub_plain", plain.id, "scheduled", "2026-04-01T00:00:00Z").ok());
  ASSERT_TRUE(row("sub_active", trial.id, "active", "2026-04-01T00:00:00Z").ok());
  // And a dispute recorded with the old details.
  auto event = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role,"
                      " created_at, payload) VALUES ('evt_dp', 'payment.disputed', 'payment', 'pay_1', 'system', '',"
                      " '', 0, $1)",
                      {std::string(R"({"before":null,"after":null,"details":{"gateway":"stripe","dispute":"dp_1",)"
                                   R"("charge":"pi_1","amount":{"amount":2999,"currency":"usd"},"reason":"fraudulent",)"
                                   R"("invoice":"in_1"}})")}));
    return Ok{};
  });
  ASSERT_TRUE(event.ok()) << event.error().message;
  run_rewrite(db, migration(20));
  run_rewrite(db, migration(20));  // idempotent
  auto docs = documents(db, "SELECT id, doc FROM subscriptions WHERE id IN ('sub_trial', 'sub_moved', 'sub_plain',"
                            " 'sub_active')");
  EXPECT_EQ(docs["sub_trial"]["trial_end"], "2026-03-15T00:00:00Z");
  EXPECT_EQ(docs["sub_moved"]["trial_end"], "2026-03-15T00:00:00Z");
  EXPECT_TRUE(docs["sub_plain"]["trial_end"].is_null());
  EXPECT_TRUE(docs["sub_active"]["trial_end"].is_null());  // started: its trial (if any) is on record already
  auto payloads = documents(db, "SELECT id, payload FROM events WHERE id = 'evt_dp'");
  EXPECT_EQ(payloads["evt_dp"]["details"],
            Json::parse(R"({"gateway":"stripe","dispute":"dp_1","gateway_reference":"pi_1","amount":2999,)"
                        R"("currency":"usd","reason":"fraudulent","invoice":"in_1"})"));
}

// ------------------------------------------------------------ migration 21: shipments' invoices

// Found by what it does, not by its number: a migration may be renumbered when branches merge.
const db::Migration& migration_named(std::string_view words) {
  for (const auto& m : migrations())
    if (m.name.find(words) != std::string::npos) return m;
  throw std::logic_error("no migration named like '" + std::string(words) + "'");
}

TEST(SchemaMigrations, ShipmentsInvoicesAreFilledFromTheirPeriodsInvoiceWithPaidAsOfEachEvent) {
  TestApp t = testing::make_app(testing::at("2026-02-01T00:00:00Z"));
  auto& db = t.app->database();
  auto exec = [&](const std::string& sql, const db::Params& params = {}) {
    auto done = db::transact(db, [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(tx.exec(sql, params));
      return Ok{};
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  };
  // A shipment as a binary before this migration wrote it: no invoice_id or paid column
  // value (paid takes its default), and a document without either field.
  auto old_doc = [](const std::string& id, const std::string& sub, std::int64_t seq) {
    inventory::Shipment s;
    s.id = id;
    s.subscription = sub;
    s.customer = "cus_old";
    s.period_seq = seq;
    s.period = {testing::at("2026-01-01T00:00:00Z"), testing::at("2026-02-01T00:00:00Z")};
    s.value = 3000;
    s.currency = "usd";
    s.created = s.updated = testing::at("2026-01-01T00:00:00Z");
    Json doc = inventory::to_json(s);
    doc.erase("invoice");
    doc.erase("paid");
    return doc;
  };
  auto shipment = [&](const std::string& id, const std::string& sub, std::int64_t seq) {
    exec("INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, created_at, version, doc)"
         " VALUES ($1, $2, 'cus_old', $3, 'pending', 0, 1, $4)",
         {id, sub, seq, old_doc(id, sub, seq).dump()});
  };
  auto invoice = [&](const std::string& id, const std::string& sub, std::int64_t seq, const std::string& status,
                     const Json& paid_at) {
    const Json doc = {{"id", id}, {"status", status}, {"paid_at", paid_at}};
    exec("INSERT INTO invoices (id, subscription_id, customer_id, period_seq, status, created_at, version, doc)"
         " VALUES ($1, $2, 'cus_old', $3, $4, 0, 1, $5)",
         {id, sub, seq, status, doc.dump()});
  };
  auto event = [&](const std::string& id, const std::string& type, const std::string& box, const char* at,
                   const Json& before, const Json& after) {
    exec("INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at,"
         " payload) VALUES ($1, $2, 'shipment', $3, 'system', 'scheduler', '', $4, $5)",
         {id, type, box, testing::at(at), Json{{"before", before}, {"after", after}, {"details", Json::object()}}.dump()});
  };
  shipment("shp_paid", "sub_a", 1);  // paid on 5 January
  invoice("in_a", "sub_a", 1, "paid", "2026-01-05T00:00:00Z");
  event("evt_a1", "shipment.created", "shp_paid", "2026-01-01T00:00:00Z", nullptr, old_doc("shp_paid", "sub_a", 1));
  event("evt_a2", "shipment.ready", "shp_paid", "2026-01-06T00:00:00Z", old_doc("shp_paid", "sub_a", 1),
        old_doc("shp_paid", "sub_a", 1));
  shipment("shp_open", "sub_b", 2);  // its period's invoice is open; the one before is paid
  invoice("in_b1", "sub_b", 1, "paid", "2026-01-01T00:00:00Z");
  invoice("in_b2", "sub_b", 2, "open", nullptr);
  shipment("shp_void", "sub_c", 1);
  invoice("in_c", "sub_c", 1, "void", nullptr);
  shipment("shp_none", "sub_d", 1);  // never invoiced: nothing to pay
  // A shipment written by this binary already has both, and keeps them.
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto sub = testing::subscribe(t, testing::make_customer(t).id, plan.id);
  auto current = t.app->inventory().list_shipments({.subscription = sub.id});
  ASSERT_TRUE(current.ok() && current->items.size() == 1);
  const Json current_doc = inventory::to_json(current->items[0]);
  ASSERT_FALSE(current_doc["paid"].get<bool>());

  const db::Migration& m = migration_named("shipments carry their period's invoice");
  run_rewrite(db, m);

  auto columns = [&] {
    std::map<std::string, std::pair<Json, bool>> out;
    auto rows = db::transact(db, [&](db::Tx& tx) { return tx.query("SELECT id, invoice_id, paid FROM shipments"); });
    EXPECT_TRUE(rows.ok());
    for (const auto& r : *rows)
      out[r.text(0)] = {r.is_null(1) ? Json(nullptr) : Json(r.text(1)), r.boolean(2)};
    return out;
  };
  auto cols = columns();
  EXPECT_EQ(cols["shp_paid"], std::make_pair(Json("in_a"), true));
  EXPECT_EQ(cols["shp_open"], std::make_pair(Json("in_b2"), false));
  EXPECT_EQ(cols["shp_void"], std::make_pair(Json("in_c"), false));
  EXPECT_EQ(cols["shp_none"], std::make_pair(Json(nullptr), true));
  EXPECT_EQ(cols[current->items[0].id], std::make_pair(current_doc["invoice"], false));
  auto docs = documents(db, "SELECT id, doc FROM shipments");
  auto without_address = [](Json doc) {
    doc.erase("address");
    return doc;
  };
  for (const auto& [id, expected] : cols) {
    EXPECT_EQ(docs[id]["invoice"], expected.first) << id;
    EXPECT_EQ(docs[id]["paid"], expected.second) << id;
    auto read = t.app->inventory().shipment(id);  // what the service reads back is what it serves
    ASSERT_TRUE(read.ok()) << id;
    // The address is sealed at rest (migration 28) and opened on read: the rest is as stored.
    EXPECT_EQ(without_address(inventory::to_json(*read)), without_address(docs[id])) << id;
  }
  EXPECT_EQ(without_address(docs[current->items[0].id]), without_address(current_doc));
  EXPECT_EQ(docs[current->items[0].id]["address"].get<std::string>().rfind("enc1:", 0), 0u);
  // The events' copies, as of each event: not paid yet when made, paid once shipped ready.
  auto events = documents(db, "SELECT id, payload FROM events WHERE resource_type = 'shipment'");
  EXPECT_TRUE(events["evt_a1"]["before"].is_null());
  EXPECT_EQ(events["evt_a1"]["after"]["invoice"], "in_a");
  EXPECT_EQ(events["evt_a1"]["after"]["paid"], false);
  EXPECT_EQ(events["evt_a2"]["before"]["paid"], true);
  EXPECT_EQ(events["evt_a2"]["after"]["paid"], true);
  // Lists filter on the filled columns.
  auto paid = t.app->inventory().list_shipments({.paid = true, .page = {.limit = 100}});
  ASSERT_TRUE(paid.ok());
  std::vector<std::string> paid_ids;
  for (const auto& s : paid->items) paid_ids.push_back(s.id);
  EXPECT_EQ(paid_ids, (std::vector<std::string>{"shp_paid", "shp_none"}));
  auto of_invoice = t.app->inventory().list_shipments({.invoice = "in_b2"});
  ASSERT_TRUE(of_invoice.ok() && of_invoice->items.size() == 1);
  EXPECT_EQ(of_invoice->items[0].id, "shp_open");

  // Running it again changes nothing.
  auto docs_once = documents(db, "SELECT id, doc FROM shipments");
  auto events_once = documents(db, "SELECT id, payload FROM events");
  run_rewrite(db, m);
  EXPECT_EQ(columns(), cols);
  EXPECT_EQ(documents(db, "SELECT id, doc FROM shipments"), docs_once);
  EXPECT_EQ(documents(db, "SELECT id, payload FROM events"), events_once);
}

// ------------------------------------------------------------ migration 18: billing

// Rows and events as a binary before migration 18 stored them: read back in the new shapes
// (docs/api-conventions.md), and a second run changes nothing.
class BillingMigration18 : public ::testing::Test {
 protected:
  BillingMigration18() : t(testing::make_app(testing::at("2026-01-01T00:00:00Z"))), db(t.app->database()) {}

  void exec(const std::string& sql, const db::Params& params = {}) {
    auto done = db::transact(db, [&](db::Tx& tx) -> recur::Status {
      RECUR_TRY(tx.exec(sql, params));
      return Ok{};
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  Json doc(const std::string& table, const std::string& id) {
    auto rows = db::transact(db, [&](db::Tx& tx) { return tx.query("SELECT doc FROM " + table + " WHERE id = $1", {id}); });
    EXPECT_TRUE(rows.ok() && rows->size() == 1) << table << " " << id;
    return rows.ok() && rows->size() == 1 ? Json::parse((*rows)[0].text(0)) : Json();
  }
  Json payload(const std::string& id) {
    auto rows = db::transact(db, [&](db::Tx& tx) { return tx.query("SELECT payload FROM events WHERE id = $1", {id}); });
    EXPECT_TRUE(rows.ok() && rows->size() == 1) << id;
    return rows.ok() && rows->size() == 1 ? Json::parse((*rows)[0].text(0)) : Json();
  }
  void event(const std::string& id, const std::string& type, const std::string& resource, const Json& payload) {
    const std::string resource_type = type.substr(0, type.find('.'));
    exec("INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at,"
         " payload) VALUES ($1, $2, $3, $4, 'system', 'scheduler', '', 0, $5)",
         {id, type, resource_type, resource, payload.dump()});
  }
  // Every document and event payload of the database, to compare before and after a run.
  std::vector<std::string> everything() {
    std::vector<std::string> out;
    for (const char* sql : {"SELECT id, doc FROM invoices ORDER BY id", "SELECT id, doc FROM payments ORDER BY id",
                            "SELECT id, doc FROM refunds ORDER BY id", "SELECT id, doc FROM credit_notes ORDER BY id",
                            "SELECT id, doc FROM subscriptions ORDER BY id",
                            "SELECT id, payload FROM events ORDER BY id"}) {
      auto rows = db::transact(db, [&](db::Tx& tx) { return tx.query(sql); });
      EXPECT_TRUE(rows.ok());
      for (const auto& r : *rows) out.push_back(r.text(0) + " " + r.text(1));
    }
    return out;
  }
  void rewrite() { run_rewrite(db, migration(18)); }

  TestApp t;
  db::Database& db;
};

TEST_F(BillingMigration18, EighteenReshapesStoredBillingDocumentsAndTheirEventsOnce) {
  // An invoice with a promotion code's discount, its line, and a retry scheduled.
  const Json old_invoice = Json::parse(R"({"id":"in_old","object":"invoice","number":"INV-000900",
    "subscription":"sub_old","customer":"cus_old","status":"open","billing_reason":"subscription_cycle",
    "period_start":"2026-01-01T00:00:00Z","period_end":"2026-02-01T00:00:00Z","currency":"usd","subtotal":2000,
    "discount":500,"discount_source":"promotion_code:promo_old","tax":0,"total":1500,"amount_paid":0,
    "amount_refunded":0,"amount_credited":0,"amount_due":1500,"attempt_count":1,
    "next_payment_attempt":"2026-01-02T00:00:00Z","first_failed_at":"2026-01-01T00:00:00Z","paid_at":null,
    "collection_ended":false,"lines":[{"description":"Box","amount":2000,"quantity":1,
    "period_start":"2026-01-01T00:00:00Z","period_end":"2026-02-01T00:00:00Z","proration":false}],
    "metadata":{},"created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z","version":2})");
  exec("INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, next_attempt_at, created_at,"
       " version, doc) VALUES ('in_old', 'INV-000900', 'sub_old', 'cus_old', 1, 'open', 0, 0, 2, $1)",
       {old_invoice.dump()});
  event("evt_inv", "invoice.finalized", "in_old", {{"before", nullptr}, {"after", old_invoice}, {"details", Json::object()}});
  event("evt_fail", "invoice.payment_failed", "in_old",
        {{"before", nullptr}, {"after", nullptr},
         {"details", {{"attempt", 1}, {"next_payment_attempt", "2026-01-02T00:00:00Z"}}}});
  // A succeeded charge and a refund of it, settled; a credit note.
  const Json old_payment = Json::parse(R"({"id":"pay_old","object":"payment","invoice":"in_old","customer":"cus_old",
    "attempt":1,"status":"succeeded","amount":1500,"currency":"usd","gateway":"stripe","payment_method":"pmt_old",
    "charge_id":"pi_old","idempotency_key":"in_old:attempt:1","failure_code":null,"failure_message":null,
    "created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:05Z"})");
  exec("INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc)"
       " VALUES ('pay_old', 'in_old', 'cus_old', 1, 'succeeded', 'in_old:attempt:1', 0, $1)",
       {old_payment.dump()});
  event("evt_pay", "payment.succeeded", "pay_old", {{"before", nullptr}, {"after", old_payment}, {"details", Json::object()}});
  const Json old_refund = Json::parse(R"({"id":"re_old","object":"refund","invoice":"in_old","payment":"pay_old",
    "customer":"cus_old","amount":500,"currency":"usd","reason":"duplicate","status":"succeeded",
    "gateway_refund_id":"re_gw_old","failure_code":null,"failure_message":null,"credit_note":"cn_old",
    "created":"2026-01-03T00:00:00Z","updated":"2026-01-03T00:00:00Z"})");
  exec("INSERT INTO refunds (id, invoice_id, customer_id, status, created_at, doc)"
       " VALUES ('re_old', 'in_old', 'cus_old', 'succeeded', 0, $1)",
       {old_refund.dump()});
  event("evt_re", "refund.succeeded", "re_old", {{"before", nullptr}, {"after", old_refund}, {"details", Json::object()}});
  const Json old_note = Json::parse(R"({"id":"cn_old","object":"credit_note","number":"CN-000900","invoice":"in_old",
    "customer":"cus_old","subscription":"sub_old","amount":500,"currency":"usd","reason":"duplicate","type":"refund",
    "refund":"re_old","memo":null,"created":"2026-01-03T00:00:00Z"})");
  exec("INSERT INTO credit_notes (id, number, invoice_id, customer_id, created_at, doc)"
       " VALUES ('cn_old', 'CN-000900', 'in_old', 'cus_old', 0, $1)",
       {old_note.dump()});
  // A subscription whose coupon takes an amount off (percent_off was 0), its discount event,
  // and a payment method's copy in its customer's history.
  auto plan = testing::make_plan(t, 2000, Interval::kMonth);
  auto customer = testing::make_customer(t);
  auto sub = testing::subscribe(t, customer.id, plan.id);
  Json sub_doc = doc("subscriptions", sub.id);
  sub_doc["discount"] = Json::parse(R"({"percent_off":0,"amount_off":500,"currency":"usd","cycles_remaining":null,
    "source":"coupon:coupon_old","coupon":"coupon_old","promotion_code":null,"applies_to_plans":[],
    "applies_to_tiers":[]})");
  exec("UPDATE subscriptions SET doc = $1 WHERE id = $2", {sub_doc.dump(), sub.id});
  event("evt_disc", "subscription.discount_applied", sub.id,
        {{"before", nullptr}, {"after", sub_doc},
         {"details", {{"source", "coupon:coupon_old"}, {"coupon", "coupon_old"}, {"promotion_code", nullptr},
                      {"replaced", "retention_offer:rof_old"}}}});
  const Json old_method = Json::parse(R"({"id":"pmt_old","object":"payment_method","customer":"cus_old",
    "gateway":"stripe","token":"pm_old","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030},
    "default":false,"created":"2026-01-01T00:00:00Z"})");
  event("evt_pm", "customer.payment_method_attached", customer.id,
        {{"before", nullptr}, {"after", nullptr}, {"details", {{"payment_method", old_method}}}});
  const std::string new_invoice = t.app->billing().service.list_invoices({sub.id, std::nullopt, std::nullopt, {}, {.limit = 10}})->items.at(0).id;
  const Json new_invoice_doc = doc("invoices", new_invoice);

  rewrite();

  // The invoice: periods as objects, next_attempt_at, the discount source as {type, id}.
  Json inv = doc("invoices", "in_old");
  const Json january = {{"start", "2026-01-01T00:00:00Z"}, {"end", "2026-02-01T00:00:00Z"}};
  EXPECT_EQ(inv["period"], january);
  EXPECT_EQ(inv["lines"][0]["period"], january);
  EXPECT_EQ(inv["next_attempt_at"], "2026-01-02T00:00:00Z");
  EXPECT_EQ(inv["discount_source"], (Json{{"type", "promotion_code"}, {"id", "promo_old"}}));
  for (const char* gone : {"period_start", "period_end", "next_payment_attempt"}) EXPECT_FALSE(inv.contains(gone)) << gone;
  EXPECT_FALSE(inv["lines"][0].contains("period_start"));
  EXPECT_EQ(payload("evt_inv")["after"], inv);
  EXPECT_EQ(payload("evt_fail")["details"], (Json{{"attempt", 1}, {"next_attempt_at", "2026-01-02T00:00:00Z"}}));
  EXPECT_EQ(doc("invoices", new_invoice), new_invoice_doc);  // already in the new shape
  // The payment and the refund: gateway_reference, the envelope (changed once: version 2).
  Json pay = doc("payments", "pay_old");
  EXPECT_EQ(pay["gateway_reference"], "pi_old");
  EXPECT_FALSE(pay.contains("charge_id"));
  EXPECT_EQ(pay["version"], 2);
  EXPECT_EQ(pay["metadata"], Json::object());
  EXPECT_EQ(payload("evt_pay")["after"], pay);
  Json re = doc("refunds", "re_old");
  EXPECT_EQ(re["gateway_reference"], "re_gw_old");
  EXPECT_EQ(re["gateway"], "stripe");  // its charge's
  EXPECT_FALSE(re.contains("gateway_refund_id"));
  EXPECT_EQ(re["version"], 2);
  EXPECT_EQ(payload("evt_re")["after"], re);
  Json cn = doc("credit_notes", "cn_old");
  EXPECT_EQ(cn["updated"], "2026-01-03T00:00:00Z");
  EXPECT_EQ(cn["version"], 1);
  EXPECT_EQ(cn["metadata"], Json::object());
  // The subscription's discount: percent_off null for an amount off, the source an object.
  Json discount = doc("subscriptions", sub.id)["discount"];
  EXPECT_TRUE(discount["percent_off"].is_null());
  EXPECT_EQ(discount["amount_off"], 500);
  EXPECT_EQ(discount["source"], (Json{{"type", "coupon"}, {"id", "coupon_old"}}));
  Json applied = payload("evt_disc");
  EXPECT_EQ(applied["after"]["discount"], discount);
  EXPECT_EQ(applied["details"]["source"], (Json{{"type", "coupon"}, {"id", "coupon_old"}}));
  EXPECT_EQ(applied["details"]["replaced"], (Json{{"type", "retention_offer"}, {"id", "rof_old"}}));
  Json method = payload("evt_pm")["details"]["payment_method"];
  EXPECT_EQ(method["updated"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(method["version"], 1);
  EXPECT_EQ(method["metadata"], Json::object());

  // What the services read back is what they serve, once the later migrations have added
  // to these documents too (22: gateway_failure_code).
  run_rewrite(db, migration(22));
  run_rewrite(db, migration(33));  // invoices: the dispute amounts
  run_rewrite(db, migration(37));  // invoices: collection_method, due_date
  inv = doc("invoices", "in_old");
  pay = doc("payments", "pay_old");
  re = doc("refunds", "re_old");
  auto& billing = t.app->billing().service;
  // Fields documents stored before issue 17 read as null (no migration: none was declined).
  inv["hard_declined_payment_method"] = nullptr;
  pay["decline_code"] = nullptr;
  pay["decline_type"] = nullptr;
  pay["next_action"] = nullptr;
  ASSERT_TRUE(billing.get_invoice("in_old").ok());
  EXPECT_EQ(billing::to_json(*billing.get_invoice("in_old")), inv);
  ASSERT_TRUE(billing.get_payment("pay_old").ok());
  EXPECT_EQ(billing::to_json(*billing.get_payment("pay_old")), pay);
  ASSERT_TRUE(billing.get_refund("re_old").ok());
  EXPECT_EQ(billing::to_json(*billing.get_refund("re_old")), re);
  ASSERT_TRUE(billing.get_credit_note("cn_old").ok());
  EXPECT_EQ(billing::to_json(*billing.get_credit_note("cn_old")), cn);
  auto read = t.app->subscriptions().get(sub.id);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(subscriptions::to_json(*read)["discount"], discount);

  // Running it again changes nothing.
  auto once = everything();
  rewrite();
  EXPECT_EQ(everything(), once);
}

// ------------------------------------------------------------ migration 22: payment enums

// Payments and refunds stored with a gateway's own failure code, and card brands in a
// gateway's spelling: Recur's names afterwards, the gateway's code kept, and once only.
TEST_F(BillingMigration18, TwentyNamesFailureCodesAndCardBrandsInRecursWordsOnce) {
  auto payment = [](const char* id, const char* status, const Json& code) {
    return Json{{"id", id}, {"object", "payment"}, {"invoice", "in_old"}, {"customer", "cus_old"}, {"attempt", 1},
                {"status", status}, {"amount", 1500}, {"currency", "usd"}, {"gateway", "square"},
                {"gateway_reference", nullptr}, {"payment_method", "pmt_old"}, {"idempotency_key", std::string(id) + ":1"},
                {"failure_code", code}, {"failure_message", nullptr}, {"metadata", Json::object()},
                {"created", "2026-01-01T00:00:00Z"}, {"updated", "2026-01-01T00:00:00Z"}, {"version", 2}};
  };
  const std::vector<std::tuple<const char*, const char*, Json>> payments = {
      {"pay_declined", "failed", "generic_decline"},
      {"pay_odd", "failed", "voice_failure"},
      {"pay_none", "failed", "no_payment_method"},
      {"pay_pending", "pending", "approved"},
      {"pay_paid", "succeeded", nullptr},
  };
  std::int64_t attempt = 0;
  for (const auto& [id, status, code] : payments) {
    exec("INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc)"
         " VALUES ($1, 'in_old', 'cus_old', $2, $3, $4, 0, $5)",
         {std::string(id), ++attempt, std::string(status), std::string(id) + ":1", payment(id, status, code).dump()});
  }
  event("evt_declined", "payment.failed", "pay_declined",
        {{"before", nullptr}, {"after", payment("pay_declined", "failed", "generic_decline")}, {"details", Json::object()}});
  Json refund = {{"id", "re_old"}, {"object", "refund"}, {"invoice", "in_old"}, {"payment", "pay_paid"},
                 {"customer", "cus_old"}, {"amount", 500}, {"currency", "usd"}, {"reason", "duplicate"},
                 {"status", "failed"}, {"gateway", "paypal"}, {"gateway_reference", nullptr},
                 {"failure_code", "refund_amount_exceeded"}, {"failure_message", nullptr}, {"credit_note", nullptr},
                 {"metadata", Json::object()}, {"created", "2026-01-03T00:00:00Z"},
                 {"updated", "2026-01-03T00:00:00Z"}, {"version", 2}};
  exec("INSERT INTO refunds (id, invoice_id, customer_id, status, created_at, doc)"
       " VALUES ('re_old', 'in_old', 'cus_old', 'failed', 0, $1)",
       {refund.dump()});
  auto customer = testing::make_customer(t);
  exec("INSERT INTO payment_methods (id, customer_id, gateway, gateway_customer, token, brand, last4, exp_month,"
       " exp_year, detached, created_at) VALUES ('pmt_old', $1, 'square', 'sq_cus', 'ccof:1', 'other_brand', '1111',"
       " 1, 2030, 0, 0)",
       {customer.id});
  const Json old_method = Json::parse(R"({"id":"pmt_old","object":"payment_method","customer":"cus_old",
    "gateway":"paypal","token":"pp_old","card":{"brand":"eftpos","last4":"4242","exp_month":12,"exp_year":2030},
    "default":false,"metadata":{},"created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z","version":1})");
  event("evt_pm", "customer.payment_method_detached", customer.id,
        {{"before", old_method}, {"after", nullptr}, {"details", Json::object()}});

  run_rewrite(db, migration(22));

  const std::vector<std::tuple<const char*, Json, Json>> named = {
      {"pay_declined", "card_declined", "generic_decline"},
      {"pay_odd", "other", "voice_failure"},
      {"pay_none", "no_payment_method", nullptr},  // billing's own: no gateway was asked
      {"pay_pending", "processing", "approved"},
      {"pay_paid", nullptr, nullptr},
  };
  for (const auto& [id, code, gateway_code] : named) {
    SCOPED_TRACE(id);
    Json pay = doc("payments", id);
    EXPECT_EQ(pay["failure_code"], code);
    EXPECT_EQ(pay["gateway_failure_code"], gateway_code);
    pay["decline_code"] = nullptr;  // stored before issue 17: read as null
    pay["decline_type"] = nullptr;
    pay["next_action"] = nullptr;
    EXPECT_EQ(billing::to_json(*t.app->billing().service.get_payment(id)), pay);
  }
  EXPECT_EQ(payload("evt_declined")["after"], doc("payments", "pay_declined"));
  Json re = doc("refunds", "re_old");
  EXPECT_EQ(re["failure_code"], "amount_too_large");
  EXPECT_EQ(re["gateway_failure_code"], "refund_amount_exceeded");
  auto brands = db::transact(db, [&](db::Tx& tx) { return tx.query("SELECT brand FROM payment_methods WHERE id = 'pmt_old'"); });
  ASSERT_TRUE(brands.ok() && brands->size() == 1);
  EXPECT_EQ((*brands)[0].text(0), "unknown");
  EXPECT_EQ(payload("evt_pm")["before"]["card"]["brand"], "eftpos_au");

  // Running it again changes nothing: a failure code already Recur's is not named twice.
  auto once = everything();
  run_rewrite(db, migration(22));
  EXPECT_EQ(everything(), once);
}

// Plans made before tiers named them by free text: migration 40 makes a tier of each text
// and points plans, coupons and subscriptions' discounts (and their events) at its id; a
// second run changes nothing.
TEST(SchemaMigrations, FortyMakesATierOfEachFreeTextTierAndNamesItById) {
  TestApp t = testing::make_app(parse_rfc3339("2026-01-01T00:00:00Z").value());
  auto& db = t.app->database();
  auto gold = testing::make_plan(t, 5000, Interval::kMonth);
  auto silver = testing::make_plan(t, 3000, Interval::kMonth, 1, 0, "Silver box");
  auto kept = t.app->catalog().create_tier({"Kept", 10, {}, Json::object()}, t.actor);
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  auto untouched = testing::make_plan(t, 1000, Interval::kMonth, 1, 0, "Kept box");
  catalog::CouponInput in;
  in.name = "Silver only";
  in.percent_off = 10;
  auto coupon = t.app->catalog().create_coupon(in, t.actor);
  ASSERT_TRUE(coupon.ok()) << coupon.error().message;
  // As they were stored before: text in the column and the documents.
  auto seeded = db::transact(db, [&](db::Tx& tx) -> recur::Status {
    for (const auto& [plan, text] :
         {std::pair{gold.id, "Gold plan"}, std::pair{silver.id, "silver"}, std::pair{untouched.id, kept->id.c_str()}}) {
      RECUR_ASSIGN(auto found, catalog::find_plan(tx, plan));
      if (!found) return Error::internal("no plan " + plan);
      Json doc = catalog::to_json(*found);
      doc["tier"] = text;
      RECUR_TRY(tx.exec("UPDATE plans SET tier = $1, doc = $2 WHERE id = $3", {std::string(text), doc.dump(), plan}));
    }
    Json doc = catalog::to_json(*coupon);
    doc["applies_to_tiers"] = {"silver"};
    RECUR_TRY(tx.exec("UPDATE coupons SET doc = $1 WHERE id = $2", {doc.dump(), coupon->id}));
    return Ok{};
  });
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;
  for (int times = 0; times < 2; ++times) run_rewrite(db, migration(40));
  auto tiers = t.app->catalog().list_tiers({.page = {.limit = 10}});
  ASSERT_TRUE(tiers.ok());
  std::map<std::string, catalog::Tier> by_name;
  for (const auto& tier : tiers->items) by_name[tier.name] = tier;
  ASSERT_EQ(by_name.size(), 3u);  // Kept, and one per text
  EXPECT_EQ(by_name.at("Gold plan").id, "tier_gold_plan");
  // After the tiers there were, by price: silver (30.00 a month) below gold (50.00), although
  // "Gold plan" sorts first by its text.
  EXPECT_EQ(by_name.at("Gold plan").rank, 30);
  EXPECT_EQ(by_name.at("silver").id, "tier_silver");
  EXPECT_EQ(by_name.at("silver").rank, 20);
  EXPECT_EQ(t.app->catalog().get_plan(gold.id)->tier, "tier_gold_plan");
  EXPECT_EQ(t.app->catalog().get_plan(silver.id)->tier, "tier_silver");
  EXPECT_EQ(t.app->catalog().get_plan(untouched.id)->tier, kept->id);
  EXPECT_EQ(testing::count(t, "SELECT COUNT(*) FROM plans WHERE tier = 'tier_silver'"), 1);
  EXPECT_EQ(t.app->catalog().get_coupon(coupon->id)->applies_to_tiers, std::vector<std::string>{"tier_silver"});
}

}  // namespace
}  // namespace recur::app
