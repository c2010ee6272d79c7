// Migrations. Never edit a released migration: add a new one. SQL is the subset both
// SQLite and PostgreSQL accept; times are BIGINT Unix seconds (UTC); booleans 0/1.
#include "app/schema.h"

#include "app/schema_rewrite.h"

namespace recur::app {

const std::vector<db::Migration>& migrations() {
  static const std::vector<db::Migration> kMigrations = {
      {1, "access: api keys and idempotency keys",
       R"(CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  status INTEGER,
  content_type TEXT,
  body TEXT,
  headers TEXT,
  created_at BIGINT NOT NULL
))"},
      {2, "events: the event log (outbox and history)",
       R"(CREATE TABLE events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX events_resource ON events (resource_id, id))"},
      {3, "catalog: products and plans",
       R"(CREATE TABLE products (
  id TEXT PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  active INTEGER NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE TABLE plans (
  id TEXT PRIMARY KEY,
  tier TEXT,
  active INTEGER NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL
))"},
      {4, "customers: customers",
       R"(CREATE TABLE customers (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX customers_email ON customers (email))"},
      {5, "subscriptions: subscriptions, pending invoice items, retention",
       R"(CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers (id),
  plan_id TEXT NOT NULL REFERENCES plans (id),
  status TEXT NOT NULL,
  next_action_at BIGINT,
  billed_periods BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions (customer_id, id);
CREATE INDEX subscriptions_status ON subscriptions (status, id);
CREATE INDEX subscriptions_due ON subscriptions (next_action_at);
CREATE TABLE pending_invoice_items (
  id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  description TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  quantity BIGINT NOT NULL,
  period_start BIGINT NOT NULL,
  period_end BIGINT NOT NULL,
  proration INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX pending_invoice_items_subscription ON pending_invoice_items (subscription_id);
CREATE TABLE retention_offers (
  id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  active INTEGER NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE TABLE retention_outcomes (
  id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  offer_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  outcome TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX retention_outcomes_subscription ON retention_outcomes (subscription_id, offer_id, id))"},
      {6, "sandbox gateway: what the simulated gateway charged and refunded",
       R"(CREATE TABLE sandbox_charges (
  idempotency_key TEXT PRIMARY KEY,
  charge_id TEXT NOT NULL UNIQUE,
  customer TEXT NOT NULL,
  payment_method TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  failure_code TEXT,
  refunded BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE sandbox_refunds (
  idempotency_key TEXT PRIMARY KEY,
  refund_id TEXT NOT NULL UNIQUE,
  charge_id TEXT NOT NULL,
  amount BIGINT NOT NULL,
  created_at BIGINT NOT NULL
))"},
      {7, "notify: notifications (the outbox of e-mail and SMS, and their delivery record)",
       R"(CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  template TEXT NOT NULL,
  customer_id TEXT,
  resource_id TEXT,
  status TEXT NOT NULL,
  next_attempt_at BIGINT,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_at);
CREATE INDEX notifications_customer ON notifications (customer_id, id);
CREATE INDEX notifications_resource ON notifications (resource_id, id);
CREATE INDEX notifications_status ON notifications (status, id);
CREATE INDEX notifications_template ON notifications (template, id))"},
      {8, "billing: payment methods, invoices, gapless numbers, payments, settings, runs",
       R"(CREATE TABLE gateway_customers (
  customer_id TEXT NOT NULL,
  gateway TEXT NOT NULL,
  gateway_customer TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (customer_id, gateway)
);
CREATE TABLE payment_methods (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers (id),
  gateway TEXT NOT NULL,
  gateway_customer TEXT NOT NULL,
  token TEXT NOT NULL,
  brand TEXT NOT NULL,
  last4 TEXT NOT NULL,
  exp_month BIGINT NOT NULL,
  exp_year BIGINT NOT NULL,
  detached INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id, id);
CREATE TABLE invoices (
  id TEXT PRIMARY KEY,
  number TEXT UNIQUE,
  subscription_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  period_seq BIGINT NOT NULL,
  status TEXT NOT NULL,
  next_attempt_at BIGINT,
  created_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (subscription_id, period_seq)
);
CREATE INDEX invoices_due ON invoices (status, next_attempt_at);
CREATE INDEX invoices_subscription ON invoices (subscription_id, id);
CREATE INDEX invoices_customer ON invoices (customer_id, id);
CREATE TABLE invoice_numbers (
  name TEXT PRIMARY KEY,
  next_value BIGINT NOT NULL
);
INSERT INTO invoice_numbers (name, next_value) VALUES ('invoice', 1);
CREATE TABLE payments (
  id TEXT PRIMARY KEY,
  invoice_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (invoice_id, attempt)
);
CREATE INDEX payments_invoice ON payments (invoice_id, id);
CREATE INDEX payments_customer ON payments (customer_id, id);
CREATE TABLE billing_settings (
  name TEXT PRIMARY KEY,
  doc TEXT NOT NULL
);
CREATE TABLE billing_runs (
  id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  doc TEXT NOT NULL
))"},
      {9, "billing: refunds and credit notes",
       R"(CREATE TABLE refunds (
  id TEXT PRIMARY KEY,
  invoice_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX refunds_invoice ON refunds (invoice_id, id);
CREATE INDEX refunds_pending ON refunds (status, created_at);
CREATE TABLE credit_notes (
  id TEXT PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  invoice_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX credit_notes_invoice ON credit_notes (invoice_id, id);
INSERT INTO invoice_numbers (name, next_value) VALUES ('credit_note', 1))"},
      {10, "billing: reminders sent (renewal, card expiring), each once",
       R"(CREATE TABLE reminders (
  key TEXT PRIMARY KEY,
  subscription_id TEXT,
  kind TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX reminders_subscription ON reminders (subscription_id, due_at))"},
      {11, "catalog: coupons, promotion codes and their redemptions",
       R"(CREATE TABLE coupons (
  id TEXT PRIMARY KEY,
  active INTEGER NOT NULL,
  max_redemptions BIGINT,
  times_redeemed BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE TABLE promotion_codes (
  id TEXT PRIMARY KEY,
  code_key TEXT NOT NULL UNIQUE,
  coupon_id TEXT NOT NULL REFERENCES coupons (id),
  active INTEGER NOT NULL,
  max_redemptions BIGINT,
  times_redeemed BIGINT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX promotion_codes_coupon ON promotion_codes (coupon_id, id);
CREATE TABLE coupon_redemptions (
  id TEXT PRIMARY KEY,
  coupon_id TEXT NOT NULL REFERENCES coupons (id),
  promotion_code_id TEXT,
  customer_id TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX coupon_redemptions_customer ON coupon_redemptions (coupon_id, customer_id))"},
      {12, "runs: due-work indexes in the runs' order (next time, then id)",
       // The runs read "due by time, then id"; many rows due at the same second (a bulk
       // import, a common billing anchor) made every batch sort all of them.
       R"(CREATE INDEX subscriptions_due_order ON subscriptions (next_action_at, id);
DROP INDEX subscriptions_due;
CREATE INDEX invoices_due_order ON invoices (status, next_attempt_at, id);
DROP INDEX invoices_due)"},
      {13, "inventory: stock levels, the movement ledger, shipments, suppliers and purchase orders",
       // Levels are the ledger's sums, kept in one row per product and warehouse so a
       // reservation is one conditional UPDATE; the CHECK is the last line against overselling.
       R"(ALTER TABLE products ADD COLUMN track_inventory INTEGER NOT NULL DEFAULT 0;
CREATE INDEX products_tracked ON products (track_inventory, id);
CREATE TABLE stock_levels (
  product_id TEXT NOT NULL,
  warehouse TEXT NOT NULL,
  on_hand BIGINT NOT NULL,
  reserved BIGINT NOT NULL,
  low_stock_threshold BIGINT NOT NULL,
  low_alerted INTEGER NOT NULL,
  version BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (product_id, warehouse),
  CHECK (reserved >= 0 AND reserved <= on_hand)
);
CREATE TABLE stock_movements (
  id TEXT PRIMARY KEY,
  product_id TEXT NOT NULL,
  warehouse TEXT NOT NULL,
  kind TEXT NOT NULL,
  on_hand_delta BIGINT NOT NULL,
  reserved_delta BIGINT NOT NULL,
  reason TEXT,
  reference TEXT,
  actor TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, id);
CREATE TABLE shipments (
  id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  period_seq BIGINT NOT NULL,
  status TEXT NOT NULL,
  backordered_at BIGINT,
  created_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (subscription_id, period_seq)
);
CREATE INDEX shipments_backorders ON shipments (status, backordered_at, id);
CREATE INDEX shipments_customer ON shipments (customer_id, id);
CREATE TABLE suppliers (
  id TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE TABLE purchase_orders (
  id TEXT PRIMARY KEY,
  number TEXT UNIQUE,
  supplier_id TEXT NOT NULL REFERENCES suppliers (id),
  status TEXT NOT NULL,
  expected_at BIGINT,
  need_key TEXT UNIQUE,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX purchase_orders_status ON purchase_orders (status, id);
CREATE INDEX purchase_orders_supplier ON purchase_orders (supplier_id, id);
CREATE TABLE purchase_order_lines (
  purchase_order_id TEXT NOT NULL REFERENCES purchase_orders (id),
  product_id TEXT NOT NULL,
  quantity BIGINT NOT NULL,
  received BIGINT NOT NULL,
  PRIMARY KEY (purchase_order_id, product_id),
  CHECK (received >= 0 AND received <= quantity)
);
CREATE INDEX purchase_order_lines_product ON purchase_order_lines (product_id);
CREATE TABLE supplier_products (
  supplier_id TEXT NOT NULL REFERENCES suppliers (id),
  product_id TEXT NOT NULL,
  PRIMARY KEY (supplier_id, product_id)
);
CREATE INDEX supplier_products_product ON supplier_products (product_id, supplier_id);
CREATE TABLE replenishment_alerts (
  need_key TEXT PRIMARY KEY,
  product_id TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
INSERT INTO invoice_numbers (name, next_value) VALUES ('purchase_order', 1))"},
      {14, "billing: gateway webhook events, each handled once; payments by gateway charge id",
       // An event id is the gateway's: unique per gateway, claimed in the transaction that
       // acts on it. charge_id is filled from now on (older payments keep it in doc only).
       R"(CREATE TABLE gateway_events (
  gateway TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  resource_id TEXT,
  PRIMARY KEY (gateway, event_id)
);
ALTER TABLE payments ADD COLUMN charge_id TEXT;
CREATE INDEX payments_charge ON payments (charge_id))"},
      {15, "billing: one-time update-payment tokens (SHA-256 only), single use, expiring",
       R"(CREATE TABLE payment_update_tokens (
  token_hash TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  invoice_id TEXT,
  payment_method_id TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX payment_update_tokens_customer ON payment_update_tokens (customer_id, created_at))"},
      {16, "access: an idempotency key's claim, stored with the request's effects; refunds, payments and payment methods by request key",
       // claim: the token of the try that holds the key; its answer is stored only under it,
       // in the transaction of the request's effects (decision 0009). A refund remembers the
       // Idempotency-Key of the request that made it, so a retry resumes it.
       R"(ALTER TABLE idempotency_keys ADD COLUMN claim TEXT;
ALTER TABLE refunds ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX refunds_request_key ON refunds (request_key);
ALTER TABLE payment_methods ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX payment_methods_request_key ON payment_methods (request_key);
ALTER TABLE payments ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX payments_request_key ON payments (request_key))"},
      {17, "inventory: one spelling, `canceled`, for shipments and purchase orders (was `cancelled`)",
       // The documents are compact JSON (nlohmann's dump), so the replaced texts are exact.
       R"(UPDATE shipments SET status = 'canceled',
  doc = REPLACE(doc, '"status":"cancelled"', '"status":"canceled"') WHERE status = 'cancelled';
UPDATE purchase_orders SET status = 'canceled' WHERE status = 'cancelled';
UPDATE purchase_orders SET doc = REPLACE(REPLACE(doc, '"status":"cancelled"', '"status":"canceled"'),
  '"cancelled_at"', '"canceled_at"');
UPDATE events SET type = 'shipment.canceled' WHERE type = 'shipment.cancelled';
UPDATE events SET type = 'purchase_order.canceled' WHERE type = 'purchase_order.cancelled')"},
      {18, "one shape for the same thing (issue 13): periods, money, gateway references, discount sources",
       // Payment methods get the envelope every resource has (metadata, updated, version);
       // a method stored before has no metadata and has not changed since it was attached.
       R"(ALTER TABLE payment_methods ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE payment_methods ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE payment_methods ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE payment_methods SET updated_at = created_at)",
       [](db::Tx& tx) -> Status {
         RECUR_TRY(reshape_billing_18(tx));
         return reshape_others_18(tx);
       }},
      {19, "catalog, customers, retention: created_at columns, so every list filters on created",
       R"(ALTER TABLE products ADD COLUMN created_at BIGINT;
ALTER TABLE plans ADD COLUMN created_at BIGINT;
ALTER TABLE customers ADD COLUMN created_at BIGINT;
ALTER TABLE retention_offers ADD COLUMN created_at BIGINT;
ALTER TABLE shipments ADD COLUMN tracking_number TEXT;
CREATE INDEX shipments_tracking_number ON shipments (tracking_number);
CREATE INDEX invoices_number ON invoices (number))",
       [](db::Tx& tx) -> Status {
         for (const char* table : {"products", "plans", "customers", "retention_offers"})
           RECUR_TRY(fill_created_at(tx, table));
         return fill_tracking_numbers(tx);
       }},
      {20, "a scheduled subscription's trial_end is set when it is created; payment.disputed in the one shape",
       "",
       [](db::Tx& tx) -> Status {
         RECUR_TRY(fill_scheduled_trial_ends(tx));
         return reshape_dispute_events_20(tx);
       }},
      {21, "inventory: shipments carry their period's invoice and whether it is paid (issue 13), so lists filter on both",
       // A new row always gets both; the default only says "not known to be paid" until the
       // rewrite fills the rows already there from their invoices.
       R"(ALTER TABLE shipments ADD COLUMN invoice_id TEXT;
ALTER TABLE shipments ADD COLUMN paid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX shipments_invoice ON shipments (invoice_id);
CREATE INDEX shipments_paid ON shipments (paid, id))",
       fill_shipment_invoices},
      {22, "payments and refunds: failure_code in Recur's words beside the gateway's gateway_failure_code; card brands in Recur's names",
       "", name_payment_codes_22},
      {23, "events: indexes for the events API's filters (type, resource type, created)",
       R"(CREATE INDEX events_type ON events (type, id);
CREATE INDEX events_resource_type ON events (resource_type, id);
CREATE INDEX events_created ON events (created_at))"},
      {24, "webhooks (issue 14): webhook_endpoints, the event_outbox events::Recorder fills, webhook_deliveries",
       // A delivery made by fan-out is unique per (endpoint, event); a replay or a resend is
       // another row of the same pair (origin 'replay' | 'resend').
       R"(CREATE TABLE webhook_endpoints (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  status TEXT NOT NULL,
  enabled_events TEXT NOT NULL,
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at BIGINT,
  description TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_status ON webhook_endpoints (status, id);
CREATE TABLE event_outbox (
  event_id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
CREATE INDEX event_outbox_created ON event_outbox (created_at, event_id);
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT,
  last_status_code INTEGER,
  last_error TEXT,
  last_duration_ms BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  history TEXT NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id) WHERE origin = 'event';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, id))"},
      {25, "webhooks: the outbox and deliveries carry their event's type (and time), so webhooks never read the events"
           " table; an endpoint remembers since when its deliveries have all failed",
       // Filled below for the rows already there; every new row gets them from its writer.
       R"(ALTER TABLE event_outbox ADD COLUMN type TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_deliveries ADD COLUMN event_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;
UPDATE event_outbox SET type = COALESCE((SELECT e.type FROM events e WHERE e.id = event_outbox.event_id), '');
UPDATE webhook_deliveries SET
  event_type = COALESCE((SELECT e.type FROM events e WHERE e.id = webhook_deliveries.event_id), ''),
  event_created = COALESCE((SELECT e.created_at FROM events e WHERE e.id = webhook_deliveries.event_id), 0);
CREATE INDEX webhook_deliveries_replay ON webhook_deliveries (endpoint_id, origin, status, event_created);
CREATE INDEX webhook_deliveries_lane ON webhook_deliveries (endpoint_id, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
DROP INDEX webhook_deliveries_due)"},
      {26, "webhooks (issue 14): stream_outbox, events fan-out hands to the NATS publisher; its lock row",
       // The publisher holds the one stream_publisher row while it publishes and deletes, so
       // that one node publishes at a time; `enabled` (set by a publisher, cleared by `recur
       // stream off`) tells every node's fan-out to fill stream_outbox (decision 0015).
       R"(CREATE TABLE stream_outbox (
  event_id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL
);
CREATE INDEX stream_outbox_order ON stream_outbox (created_at, event_id);
CREATE TABLE stream_publisher (
  name TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL
);
INSERT INTO stream_publisher (name, enabled) VALUES ('events', 0))"},
      {27, "webhooks: a supplier's webhook_url is an endpoint of its own (issue 14: purchase_order.sent to suppliers)",
       R"(ALTER TABLE webhook_endpoints ADD COLUMN supplier_id TEXT;
CREATE UNIQUE INDEX webhook_endpoints_supplier ON webhook_endpoints (supplier_id))"},
      {28, "privacy (issue 15): data keys wrapped by the master key; customers found by blind indexes",
       // A customer's data key (id = the customer's id), the system key and the blind-index
       // key. Erasure sets wrapped to NULL and destroyed_at (crypto-shredding). customers.email
       // held the address: it now holds its blind index, as phone_index does the phone's;
       // rows written before are sealed by `migrate` (seal_personal_data_28, app/schema_rewrite.cc).
       R"(CREATE TABLE data_keys (
  id TEXT PRIMARY KEY,
  wrapped TEXT,
  master_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  destroyed_at BIGINT
);
CREATE INDEX data_keys_master ON data_keys (master_id);
ALTER TABLE customers RENAME COLUMN email TO email_index;
ALTER TABLE customers ADD COLUMN phone_index TEXT;
CREATE INDEX customers_phone ON customers (phone_index))",
       seal_personal_data_28},
      {29, "access (issue 15): API keys over the API (name, expiry, last use) and custom roles",
       // last_used_at is written at most once a minute per key and node (access/model.h);
       // a custom role's permissions are a JSON array of x-permission values.
       R"(ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
CREATE TABLE roles (
  name TEXT PRIMARY KEY,
  permissions TEXT NOT NULL,
  created_at BIGINT NOT NULL
))"},
      {30, "audit (issue 15): the audit log, its entries chained by SHA-256, and the chain's head row",
       // Entries are inserted unchained (seq, prev_hash, hash null) in the transaction of the
       // change; the chainer places them, holding the audit_chain row (decision 0017).
       R"(CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  request_id TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  action TEXT NOT NULL,
  fields TEXT NOT NULL,
  event_id TEXT,
  reason TEXT,
  seq BIGINT,
  prev_hash TEXT,
  hash TEXT
);
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_unchained ON audit_log (id) WHERE seq IS NULL;
CREATE INDEX audit_log_resource ON audit_log (resource_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE TABLE audit_chain (
  name TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL,
  last_hash TEXT NOT NULL
);
INSERT INTO audit_chain (name, last_seq, last_hash)
  VALUES ('audit', 0, '0000000000000000000000000000000000000000000000000000000000000000'))"},
      {31, "analytics (issue 16): MRR timelines, customers' movements, daily aggregates, invoices and activity",
       // Kept from the event log as events are appended (analytics/service.h), rebuilt from it
       // by `recur analytics rebuild` (and by this migration, for the history already there).
       // No personal data: ids, amounts, times and kinds only. analytics_daily is split in 16
       // shards by customer, so that concurrent writers rarely wait on one row.
       R"(CREATE TABLE analytics_subscriptions (
  subscription_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  coupon TEXT,
  status TEXT NOT NULL,
  mrr BIGINT NOT NULL,
  last_at BIGINT NOT NULL,
  points BIGINT NOT NULL,
  started_at BIGINT,
  ended_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX analytics_subscriptions_customer ON analytics_subscriptions (customer_id);
CREATE INDEX analytics_subscriptions_currency ON analytics_subscriptions (currency, plan_id);
CREATE TABLE analytics_points (
  subscription_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  plan_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  mrr_before BIGINT NOT NULL,
  mrr BIGINT NOT NULL,
  cause TEXT NOT NULL,
  PRIMARY KEY (subscription_id, seq)
);
CREATE INDEX analytics_points_customer ON analytics_points (customer_id, currency, at);
CREATE INDEX analytics_points_at ON analytics_points (currency, at);
CREATE TABLE analytics_movements (
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  amount BIGINT NOT NULL,
  mrr_before BIGINT NOT NULL,
  mrr_after BIGINT NOT NULL,
  churn_type TEXT NOT NULL,
  PRIMARY KEY (customer_id, currency, at)
);
CREATE INDEX analytics_movements_at ON analytics_movements (currency, at);
CREATE TABLE analytics_customers (
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  first_paid_at BIGINT,
  PRIMARY KEY (customer_id, currency)
);
CREATE INDEX analytics_customers_cohort ON analytics_customers (currency, first_paid_at);
CREATE TABLE analytics_daily (
  currency TEXT NOT NULL,
  day BIGINT NOT NULL,
  shard BIGINT NOT NULL,
  new_mrr BIGINT NOT NULL DEFAULT 0,
  expansion BIGINT NOT NULL DEFAULT 0,
  contraction BIGINT NOT NULL DEFAULT 0,
  churn BIGINT NOT NULL DEFAULT 0,
  reactivation BIGINT NOT NULL DEFAULT 0,
  count_new BIGINT NOT NULL DEFAULT 0,
  count_expansion BIGINT NOT NULL DEFAULT 0,
  count_contraction BIGINT NOT NULL DEFAULT 0,
  count_churn BIGINT NOT NULL DEFAULT 0,
  count_reactivation BIGINT NOT NULL DEFAULT 0,
  subscriptions_started BIGINT NOT NULL DEFAULT 0,
  subscriptions_stopped BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (currency, day, shard)
);
CREATE TABLE analytics_invoices (
  invoice_id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  billing_reason TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  total BIGINT NOT NULL,
  amount_paid BIGINT NOT NULL,
  attempt_count BIGINT NOT NULL,
  first_failed_at BIGINT,
  paid_at BIGINT
);
CREATE INDEX analytics_invoices_due ON analytics_invoices (currency, due_at);
CREATE INDEX analytics_invoices_customer ON analytics_invoices (customer_id);
CREATE INDEX analytics_invoices_subscription ON analytics_invoices (subscription_id, due_at);
CREATE TABLE analytics_refunds (
  refund_id TEXT PRIMARY KEY,
  invoice_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount BIGINT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX analytics_refunds_customer ON analytics_refunds (customer_id);
CREATE TABLE analytics_activity (
  event_id TEXT PRIMARY KEY,
  subscription_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT,
  offer TEXT
);
CREATE INDEX analytics_activity_at ON analytics_activity (at);
CREATE INDEX analytics_activity_subscription ON analytics_activity (subscription_id, at))",
       rebuild_analytics_31},
      // Checkout commits the subscription before charging its first invoice (decision 0005),
      // so a retried POST /v1/subscriptions finds the first try's subscription by its key.
      {32, "subscriptions remember the request that created them", R"(
ALTER TABLE subscriptions ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX subscriptions_request_key ON subscriptions (request_key))"},
      {33, "billing (issue 17): disputes, one row per gateway dispute (decision 0021)",
       // UNIQUE (gateway, gateway_dispute_id): a dispute's notices, in any order and however
       // often, find one row (settle once).
       R"(CREATE TABLE disputes (
  id TEXT PRIMARY KEY,
  gateway TEXT NOT NULL,
  gateway_dispute_id TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  invoice_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  doc TEXT NOT NULL,
  UNIQUE (gateway, gateway_dispute_id)
);
CREATE INDEX disputes_invoice ON disputes (invoice_id, id);
CREATE INDEX disputes_status ON disputes (status, created_at))",
       add_dispute_amounts_33},
      // Ids and times come from each node's whole-second clock, so they do not order two
      // nodes' events within a second; a sequence taken when the event is inserted (after the
      // resource's row was written and locked) does, per resource (decision 0015).
      {34, "events (issue 14): the outboxes ordered by a commit-order sequence", "", sequence_outboxes_34},
      // A plan change charges the invoice it issues in the request, after the change commits
      // (decision 0005): a retried POST .../change-plan finds the first try's change by its key
      // and charges that invoice instead of changing again (decision 0009).
      {35, "subscriptions remember the plan-change requests that charge in steps", R"(
CREATE TABLE subscription_requests (
  request_key TEXT UNIQUE,
  subscription_id TEXT NOT NULL,
  invoice_id TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX subscription_requests_created ON subscription_requests (created_at))"},
      // Each run looks for charges that waited too long for the customer's authentication:
      // the deadline is set when a charge starts waiting (charges waiting already get the
      // default 7 days from when they were made).
      {36, "billing (issue 17): charges waiting for authentication expire", R"(
ALTER TABLE payments ADD COLUMN action_expires_at BIGINT;
UPDATE payments SET action_expires_at = created_at + 604800 WHERE status = 'requires_action';
CREATE INDEX payments_action_expiry ON payments (action_expires_at))"},
      // One-off invoices (POST /v1/invoices) belong to a customer and no subscription: their
      // subscription_id is NULL (NULLs never clash in UNIQUE (subscription_id, period_seq)). A
      // retried POST finds its invoice by the request's key, as checkout finds its subscription.
      {37, "billing (issue 17): one-off invoices, of no subscription", R"(
ALTER TABLE invoices ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX invoices_request_key ON invoices (request_key))",
       one_off_invoices_37},
      // PayPal wallets and Venmo beside cards: a payment method's type, and a wallet's details
      // (its account e-mail, personal data) in a sealed document of their own.
      {38, "customers (issue 17): payment methods of other types than cards", R"(
ALTER TABLE payment_methods ADD COLUMN type TEXT NOT NULL DEFAULT 'card';
ALTER TABLE payment_methods ADD COLUMN wallet TEXT)",
       payment_method_types_38},
      // The shop's blackout dates (issue 18): days nothing ships; a delivery due on one moves
      // to the next open day (docs/subscription-boxes.md). A day is days since 1970-01-01, UTC.
      {39, "subscriptions (issue 18): blackout dates", R"(
CREATE TABLE blackout_dates (
  day BIGINT PRIMARY KEY,
  reason TEXT,
  created_at BIGINT NOT NULL
))"},
      // Tiers of plans (issue 18): a plan's `tier` names one by id. The free-text tiers of
      // plans made before become tiers of their own (tiers_40), ranked in their text's order.
      {40, "catalog (issue 18): tiers with entitlements", R"(
CREATE TABLE tiers (
  id TEXT PRIMARY KEY,
  rank BIGINT NOT NULL UNIQUE,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL,
  created_at BIGINT NOT NULL
))",
       tiers_40},
      // Gift subscriptions (issue 18): sold on a one-off invoice, claimed by a code (only
      // its hash is a column; the code and the recipient are sealed in doc under the
      // purchaser's key).
      {41, "gifts (issue 18): gift subscriptions", R"(
CREATE TABLE gifts (
  id TEXT PRIMARY KEY,
  purchaser_id TEXT NOT NULL,
  status TEXT NOT NULL,
  claim_code_hash TEXT NOT NULL UNIQUE,
  invoice_id TEXT NOT NULL UNIQUE,
  subscription_id TEXT,
  send_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX gifts_purchaser ON gifts (purchaser_id, id);
CREATE INDEX gifts_subscription ON gifts (subscription_id);
CREATE INDEX gifts_due_to_send ON gifts (status, send_at);
CREATE INDEX gifts_due_to_expire ON gifts (status, expires_at))"},
      // Analytics (issue 18): a subscription's acquisition source, `gift` for one a gift's
      // claim started (none existed before gifts: every row is `direct`).
      {42, "analytics (issue 18): acquisition source",
       R"(ALTER TABLE analytics_subscriptions ADD COLUMN source TEXT NOT NULL DEFAULT 'direct')"},
      // Customer sessions (issue 18): bearer tokens scoped to one customer, for headless
      // storefronts and the portal, and the portal's one-time sign-in links. Only SHA-256
      // hashes of the secrets are kept.
      {43, "customers (issue 18): customer sessions and portal sign-in links", R"(
CREATE TABLE customer_sessions (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  customer_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  return_url TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  ended_at BIGINT
);
CREATE INDEX customer_sessions_customer ON customer_sessions (customer_id);
CREATE INDEX customer_sessions_expiry ON customer_sessions (expires_at);
CREATE TABLE customer_sign_in_links (
  token_hash TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX customer_sign_in_links_customer ON customer_sign_in_links (customer_id))"},
  };
  return kMigrations;
}

}  // namespace recur::app
