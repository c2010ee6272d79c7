-- pgbench twin of POST /v1/subscriptions with "payment_behavior": "default_incomplete" (the
-- plain POST of bench/wrk/post.lua): the one transaction SubscriptionService::create sends.
-- The customer is locked (FOR UPDATE; the plan comes from the read cache, decision 0032); the subscription inserted, with its
-- audit entry, its subscription.created event and that event's outbox row; analytics' row
-- for it; the lifecycle event subscription.started (audit, event, outbox); the first invoice,
-- inserted without a number; the first shipment (shipment.created); then, as the
-- transaction's last statements before its COMMIT (Invoicer::number_issued, Tx::before_commit),
-- the invoice numbered: one UPDATE of the gapless sequence's counter, the deferred UPDATE of
-- the invoice's number and document, and its invoice.finalized (audit, event, outbox;
-- analytics_invoices). An event and its outbox row are one statement (WITH event AS (INSERT
-- INTO events ...) INSERT INTO event_outbox ...), as recur sends them on PostgreSQL. The
-- statements are the server's, in its order, each $n
-- replaced by a pgbench variable holding the value the server sent for the request
-- bench/run.sh logs and checks (bench/sql_shape.py twin), or by a literal where the server
-- sent NULL, '' or a constant of this path (a pgbench variable cannot be NULL or empty).
-- Ids: 'sub_0000000' || :sid is 30 characters like the server's sub_ + 26, increasing per
-- client like its time-sortable ids; every id of the request is :sid behind a prefix, with a
-- digit after it where one request makes several, in the order the server makes them (events
-- and audit entries 1-4 here: created, started, shipment.created, invoice.finalized; 5-8 in
-- checkout_charge.sql). The invoice number is the next of the same sequence (the server asks
-- for one: + 1), formatted in the RETURNING clause (the server formats it in C++); the
-- invoice's document is the server's as inserted (:invoice_doc, no number) and as numbered
-- (:invoice_doc_numbered). bench/pgbench/checkout_charge.sql goes on
-- from here for the checkout.
\set seq :seq + 1
\set sid :base + :seq * 100 + :client_id
BEGIN;
SELECT doc FROM customers WHERE id = :customer FOR UPDATE;
INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods, version, created_at, doc, request_key) VALUES ('sub_0000000' || :sid, :customer, :plan, :status, :next_action_at, :billed_periods, :version, :created, :doc, NULL);
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '1', :created, :actor_type, :key_id, :role, :request_id, :source_ip, :resource_type, 'sub_0000000' || :sid, :type_created, :fields_created, 'evt_000000' || :sid || '1', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '1', :type_created, :resource_type, 'sub_0000000' || :sid, :actor_type, :key_id, :role, :created, :payload_created)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '1', :type_created, :created);
SELECT subscription_id, customer_id, currency, plan_id, coupon, status, mrr, last_at, points, started_at, ended_at, created_at, source FROM analytics_subscriptions WHERE subscription_id = 'sub_0000000' || :sid;
INSERT INTO analytics_activity (event_id, subscription_id, customer_id, at, kind, reason, offer) VALUES ('evt_000000' || :sid || '1', 'sub_0000000' || :sid, :customer, :created, :activity_kind, NULL, NULL) ON CONFLICT (event_id) DO NOTHING;
INSERT INTO analytics_subscriptions (subscription_id, customer_id, currency, plan_id, coupon, status, mrr, last_at, points, started_at, ended_at, created_at, source) VALUES ('sub_0000000' || :sid, :customer, :currency, :plan, NULL, :status, 0, :created, 0, NULL, NULL, :created, 'direct');
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '2', :created, :system_type, :system_id, '', '', '', :resource_type, 'sub_0000000' || :sid, :type_started, :fields_started, 'evt_000000' || :sid || '2', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '2', :type_started, :resource_type, 'sub_0000000' || :sid, :system_type, :system_id, '', :created, :payload_started)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '2', :type_started, :created);
SELECT subscription_id, customer_id, currency, plan_id, coupon, status, mrr, last_at, points, started_at, ended_at, created_at, source FROM analytics_subscriptions WHERE subscription_id = 'sub_0000000' || :sid;
SELECT id, description, amount, quantity, period_start, period_end, proration FROM pending_invoice_items WHERE subscription_id = 'sub_0000000' || :sid ORDER BY created_at, id;
SELECT doc FROM billing_settings WHERE name = 'tax';
INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, next_attempt_at, created_at, version, doc, request_key) VALUES ('in_0000000' || :sid, NULL, 'sub_0000000' || :sid, :customer, 1, :invoice_status, NULL, :created, 1, :invoice_doc, NULL) ON CONFLICT (subscription_id, period_seq) DO NOTHING;
SELECT id, status FROM invoices WHERE subscription_id = 'sub_0000000' || :sid AND period_seq = 1;
SELECT doc FROM products WHERE id = :product;
SELECT doc FROM customers WHERE id = :customer;
INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, backordered_at, created_at, version, doc, tracking_number, invoice_id, paid) VALUES ('shp_0000000' || :sid, 'sub_0000000' || :sid, :customer, 1, :shipment_status, NULL, :created, 1, :shipment_doc, NULL, 'in_0000000' || :sid, 0) ON CONFLICT (subscription_id, period_seq) DO NOTHING;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '3', :created, :system_type, :system_id, '', '', '', :shipment_type, 'shp_0000000' || :sid, :type_shipment_created, :fields_shipment_created, 'evt_000000' || :sid || '3', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '3', :type_shipment_created, :shipment_type, 'shp_0000000' || :sid, :system_type, :system_id, '', :created, :payload_shipment_created)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '3', :type_shipment_created, :created);
UPDATE invoice_numbers SET next_value = next_value + 1 WHERE name = :number_sequence RETURNING 'INV-' || lpad((next_value - 1)::text, 6, '0') AS number \gset
UPDATE invoices SET number = :number, doc = :invoice_doc_numbered WHERE id = 'in_0000000' || :sid;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '4', :created, :system_type, :system_id, '', '', '', :invoice_type, 'in_0000000' || :sid, :type_finalized, :fields_finalized, 'evt_000000' || :sid || '4', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '4', :type_finalized, :invoice_type, 'in_0000000' || :sid, :system_type, :system_id, '', :created, :payload_finalized)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '4', :type_finalized, :created);
INSERT INTO analytics_invoices (invoice_id, customer_id, subscription_id, currency, billing_reason, due_at, status, total, amount_paid, attempt_count, first_failed_at, paid_at) VALUES ('in_0000000' || :sid, :customer, 'sub_0000000' || :sid, :currency, :billing_reason, :created, :invoice_status, :total, 0, 0, NULL, NULL) ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, total = excluded.total, amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, first_failed_at = excluded.first_failed_at, paid_at = excluded.paid_at;
COMMIT;
