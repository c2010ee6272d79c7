-- pgbench twin of one renewal in `recur bill`, writes only: the rows recur writes for a
-- subscription that renews and is charged through the sandbox, one renewal a transaction
-- (decision 0005, before the batches of decision 0033: this is the per-renewal baseline
-- "pgbench of the same SQL"): (1) the lifecycle step and its invoice
-- (SubscriptionService::run_due + BillingService::period_began + InventoryService::period_began:
-- the shipment; the invoice numbered by the transaction's last statements, as recur does at
-- commit, here one counter UPDATE per renewal), (2) the claim and the pending payment with its
-- idempotency key, (3) the sandbox gateway's own ledger row, (4) the outcome with its events,
-- the shipment marked paid and the receipt (outbox). Every event is written as recur writes
-- it: its audit_log row, then the event and its event_outbox row in one statement (as
-- recur does on PostgreSQL, events/store.cc; six events a renewal); the
-- analytics rows recur keeps up to date (analytics_subscriptions, analytics_invoices,
-- analytics_customers) too. None of recur's reads (the subscription, plan, customer,
-- payment method, pending items, the invoice and payment again, data keys) are sent.
-- Parameter values are copied by bench/billing.sh from the template's real renewal.
-- (':attempt:1' is a variable: pgbench would take it for one inside a literal.)
-- Ids: <prefix>_000000c || (10^18 + i), i = 1..N over all clients; the subscriptions
-- (customers, analytics rows) 'c' were copied for it from an API-made one.
-- Event k of renewal i (audit row and outbox row alike): 10^18 + 6 i + k.
\set i :seq * :nclients + :client_id + 1
\set seq :seq + 1
\set id 1000000000000000000 + :i
\set e 1000000000000000000 + 6 * :i
\set e1 :e + 1
\set e2 :e + 2
\set e3 :e + 3
\set e4 :e + 4
\set e5 :e + 5
\set lease :evt_created + 300
BEGIN;
UPDATE subscriptions SET customer_id = 'cus_000000c' || :id, plan_id = :plan, status = :sub_status, next_action_at = :sub_next, billed_periods = :sub_billed, version = :sub_version, created_at = :sub_created, doc = :sub_doc WHERE id = 'sub_000000c' || :id AND version = :vprev;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e, :evt_created, 'system', :system_id, '', '', '', 'subscription', 'sub_000000c' || :id, 'subscription.renewed', :f_renewed, 'evt_000000c' || :e, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e, 'subscription.renewed', 'subscription', 'sub_000000c' || :id, 'system', :system_id, '', :evt_created, :p_renewed)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e, 'subscription.renewed', :evt_created);
UPDATE analytics_subscriptions SET customer_id = 'cus_000000c' || :id, currency = :as_currency, plan_id = :plan, coupon = NULL, status = :as_status, mrr = :as_mrr, last_at = :as_last, points = :as_points, started_at = :as_started, ended_at = NULL, created_at = :as_created, source = :as_source WHERE subscription_id = 'sub_000000c' || :id;
INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, next_attempt_at, created_at, version, doc, request_key) VALUES ('in_000000c' || :id, NULL, 'sub_000000c' || :id, 'cus_000000c' || :id, :period_seq, 'open', :inv_created, :inv_created, 1, :inv_doc, NULL) ON CONFLICT (subscription_id, period_seq) DO NOTHING;
INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, backordered_at, created_at, version, doc, tracking_number, invoice_id, paid) VALUES ('shp_000000c' || :id, 'sub_000000c' || :id, 'cus_000000c' || :id, :period_seq, :shp_status, NULL, :shp_created, 1, :shp_doc, NULL, 'in_000000c' || :id, 0) ON CONFLICT (subscription_id, period_seq) DO NOTHING;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e1, :evt_created, 'system', :system_id, '', '', '', 'shipment', 'shp_000000c' || :id, 'shipment.created', :f_shipment, 'evt_000000c' || :e1, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e1, 'shipment.created', 'shipment', 'shp_000000c' || :id, 'system', :system_id, '', :evt_created, :p_shipment)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e1, 'shipment.created', :evt_created);
UPDATE invoice_numbers SET next_value = next_value + 1 WHERE name = 'invoice' RETURNING next_value - 1 AS num \gset
UPDATE invoices SET number = 'INV-' || :num, doc = :inv_doc WHERE id = 'in_000000c' || :id;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e2, :evt_created, 'system', :system_id, '', '', '', 'invoice', 'in_000000c' || :id, 'invoice.finalized', :f_finalized, 'evt_000000c' || :e2, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e2, 'invoice.finalized', 'invoice', 'in_000000c' || :id, 'system', :system_id, '', :evt_created, :p_finalized)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e2, 'invoice.finalized', :evt_created);
INSERT INTO analytics_invoices (invoice_id, customer_id, subscription_id, currency, billing_reason, due_at, status, total, amount_paid, attempt_count, first_failed_at, paid_at) VALUES ('in_000000c' || :id, 'cus_000000c' || :id, 'sub_000000c' || :id, :currency, :ai_reason, :ai_due, 'open', :ai_total, 0, 0, NULL, NULL) ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, total = excluded.total, amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, first_failed_at = excluded.first_failed_at, paid_at = excluded.paid_at;
COMMIT;
BEGIN;
UPDATE invoices SET next_attempt_at = :lease WHERE id = 'in_000000c' || :id;
INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc, charge_id, request_key) VALUES ('pay_000000c' || :id, 'in_000000c' || :id, 'cus_000000c' || :id, 1, 'pending', 'in_000000c' || :id || :attempt_1, :pay_created, :pay_doc, NULL, NULL);
UPDATE invoices SET number = 'INV-' || :num, status = 'open', next_attempt_at = :inv_created, version = 2, doc = :inv_doc WHERE id = 'in_000000c' || :id;
COMMIT;
INSERT INTO sandbox_charges (idempotency_key, charge_id, customer, payment_method, amount, currency, status, failure_code, refunded, created_at) VALUES ('in_000000c' || :id || :attempt_1, 'pi_000000c' || :id, :gateway_customer, 'pm_card_visa', :amount, :currency, 'succeeded', NULL, 0, :pay_created) ON CONFLICT DO NOTHING;
BEGIN;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e3, :evt_created, 'system', :system_id, '', '', '', 'payment', 'pay_000000c' || :id, 'payment.succeeded', :f_succeeded, 'evt_000000c' || :e3, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e3, 'payment.succeeded', 'payment', 'pay_000000c' || :id, 'system', :system_id, '', :evt_created, :p_succeeded)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e3, 'payment.succeeded', :evt_created);
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e4, :evt_created, 'system', :system_id, '', '', '', 'invoice', 'in_000000c' || :id, 'invoice.paid', :f_paid, 'evt_000000c' || :e4, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e4, 'invoice.paid', 'invoice', 'in_000000c' || :id, 'system', :system_id, '', :evt_created, :p_paid)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e4, 'invoice.paid', :evt_created);
INSERT INTO analytics_invoices (invoice_id, customer_id, subscription_id, currency, billing_reason, due_at, status, total, amount_paid, attempt_count, first_failed_at, paid_at) VALUES ('in_000000c' || :id, 'cus_000000c' || :id, 'sub_000000c' || :id, :currency, :ai_reason, :ai_due, 'paid', :ai_total, :ai_paid, :ai_attempts, NULL, :ai_paid_at) ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, total = excluded.total, amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, first_failed_at = excluded.first_failed_at, paid_at = excluded.paid_at;
INSERT INTO analytics_customers (customer_id, currency, first_paid_at) VALUES ('cus_000000c' || :id, :currency, :pay_created) ON CONFLICT (customer_id, currency) DO UPDATE SET first_paid_at = CASE WHEN analytics_customers.first_paid_at IS NULL OR analytics_customers.first_paid_at > :pay_created THEN :pay_created ELSE analytics_customers.first_paid_at END;
UPDATE shipments SET status = :shp_status, backordered_at = NULL, version = :shp_version, doc = :shp_doc, tracking_number = NULL, invoice_id = 'in_000000c' || :id, paid = 1 WHERE id = 'shp_000000c' || :id;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000c' || :e5, :evt_created, 'system', :system_id, '', '', '', 'shipment', 'shp_000000c' || :id, 'shipment.paid', :f_shp_paid, 'evt_000000c' || :e5, NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e5, 'shipment.paid', 'shipment', 'shp_000000c' || :id, 'system', :system_id, '', :evt_created, :p_shp_paid)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000c' || :e5, 'shipment.paid', :evt_created);
INSERT INTO notifications (id, channel, template, customer_id, resource_id, status, next_attempt_at, version, created_at, doc) VALUES ('ntf_000000c' || :id, :n_channel, :n_template, 'cus_000000c' || :id, 'in_000000c' || :id, :n_status, :n_next, 1, :pay_created, :n_doc);
UPDATE payments SET status = 'succeeded', doc = :pay_doc, charge_id = 'pi_000000c' || :id, action_expires_at = NULL WHERE id = 'pay_000000c' || :id;
UPDATE invoices SET number = 'INV-' || :num, status = 'paid', next_attempt_at = NULL, version = :inv_version, doc = :inv_doc WHERE id = 'in_000000c' || :id;
COMMIT;
