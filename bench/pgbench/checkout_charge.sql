-- pgbench twin of what a checkout adds to the create: POST /v1/subscriptions with
-- "payment_behavior": "allow_incomplete" sends create_subscription.sql's transaction, then
-- charges the first invoice in the request. Not a script of its own: bench/run.sh runs
-- create_subscription.sql followed by this file as one pgbench script (one checkout per
-- pgbench transaction), so :sid, :number and the rows the create inserted are this
-- checkout's. The six transactions, as the server sends them (bench/sql_shape.py twin checks
-- the text and takes every variable's value from the server's statement log):
--   1. read only: the subscription's latest invoice and its payments (is there one to pay?);
--   2. the pending payment: invoice locked, no payment in flight, the customer and its
--      default card read, the payment inserted `pending`, the invoice's attempt recorded;
--      committed before the gateway is called;
--   3. the sandbox gateway's charge: the sandbox adapter records it in sandbox_charges in
--      Recur's own database, in a transaction of its own. It stands for the remote gateway's
--      work (an HTTPS call to Stripe or Adyen in production), which no twin can reproduce;
--   4. the settlement: invoice locked, payment and subscription read, the subscription
--      activated (subscription.activated; analytics: the customer's MRR points and movements
--      recomputed, the daily sums, the subscription's row), payment.succeeded, invoice.paid
--      (analytics_invoices, the customer's first payment), the shipment marked paid
--      (shipment.paid), the receipt e-mail queued, the payment and the invoice updated;
--   5. read only: the latest invoice and its payments again, and
--   6. read only: the subscription, for the response.
-- A read-only transaction's statements are each a transaction of their own, BEGIN READ ONLY,
-- the statement and COMMIT in one pipeline; plans and blackout dates come from the server's
-- read caches (decision 0032), so no statement reads them.
-- pgbench substitutes :name even inside quotes, so the payment's idempotency key
-- ('in_...:attempt:1') spells its colons \x3a. Events and audit entries 5-8 follow the create's 1-4. Literals stand where the server sent
-- NULL, '' or a constant of this path (versions 2 and 3, attempt 1, the first MRR point).
\startpipeline
BEGIN READ ONLY;
SELECT id FROM invoices WHERE subscription_id = 'sub_0000000' || :sid ORDER BY (number IS NULL), LENGTH(number) DESC, number DESC LIMIT 1;
COMMIT;
\endpipeline
\startpipeline
BEGIN READ ONLY;
SELECT doc FROM payments WHERE invoice_id = 'in_0000000' || :sid ORDER BY id DESC LIMIT :payments_page;
COMMIT;
\endpipeline
BEGIN;
SELECT doc FROM invoices WHERE id = 'in_0000000' || :sid FOR UPDATE;
SELECT doc FROM payments WHERE invoice_id = 'in_0000000' || :sid AND status IN ('pending', 'requires_action') ORDER BY attempt DESC LIMIT 1;
SELECT doc FROM customers WHERE id = :customer;
SELECT id, customer_id, gateway, gateway_customer, token, brand, last4, exp_month, exp_year, detached, created_at, updated_at, version, metadata, type, wallet FROM payment_methods WHERE id = :payment_method;
INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc, charge_id, request_key) VALUES ('pay_0000000' || :sid, 'in_0000000' || :sid, :customer, 1, :payment_pending, 'in_0000000' || :sid || E'\x3aattempt\x3a1', :created, :payment_doc_pending, NULL, NULL);
UPDATE invoices SET number = :number, status = :invoice_status, next_attempt_at = NULL, version = 2, doc = :invoice_doc_attempted WHERE id = 'in_0000000' || :sid;
COMMIT;
BEGIN;
INSERT INTO sandbox_charges (idempotency_key, charge_id, customer, payment_method, amount, currency, status, failure_code, refunded, created_at) VALUES ('in_0000000' || :sid || E'\x3aattempt\x3a1', 'pi_sandbox_00000' || :sid, :gateway_customer, :card_token, :amount, :currency, :charge_status, NULL, 0, :created) ON CONFLICT DO NOTHING;
COMMIT;
BEGIN;
SELECT doc FROM invoices WHERE id = 'in_0000000' || :sid FOR UPDATE;
SELECT doc FROM payments WHERE id = 'pay_0000000' || :sid;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :sid;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :sid FOR UPDATE;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :sid FOR UPDATE;
UPDATE subscriptions SET customer_id = :customer, plan_id = :plan, status = :status_active, next_action_at = :next_action_at_active, billed_periods = :billed_periods, version = 2, created_at = :created, doc = :doc_active WHERE id = 'sub_0000000' || :sid AND version = :version;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '5', :created, :system_type, :system_id, '', '', '', :resource_type, 'sub_0000000' || :sid, :type_activated, :fields_activated, 'evt_000000' || :sid || '5', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '5', :type_activated, :resource_type, 'sub_0000000' || :sid, :system_type, :system_id, '', :created, :payload_activated)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '5', :type_activated, :created);
SELECT subscription_id, customer_id, currency, plan_id, coupon, status, mrr, last_at, points, started_at, ended_at, created_at, source FROM analytics_subscriptions WHERE subscription_id = 'sub_0000000' || :sid;
INSERT INTO analytics_customers (customer_id, currency) VALUES (:customer, :currency) ON CONFLICT (customer_id, currency) DO NOTHING;
SELECT customer_id FROM analytics_customers WHERE customer_id = :customer AND currency = :currency FOR UPDATE;
INSERT INTO analytics_points (subscription_id, seq, customer_id, currency, plan_id, at, mrr_before, mrr, cause) VALUES ('sub_0000000' || :sid, 1, :customer, :currency, :plan, :created, 0, :mrr, '');
SELECT subscription_id, at, mrr, cause FROM analytics_points WHERE customer_id = :customer AND currency = :currency ORDER BY at, subscription_id, seq;
SELECT at, kind, amount, mrr_before, mrr_after, churn_type FROM analytics_movements WHERE customer_id = :customer AND currency = :currency ORDER BY at;
-- optional: the server sends this DELETE only when the customer has a movement at this second already (nearly always under load; always in the twin, whose :created is fixed)
DELETE FROM analytics_movements WHERE customer_id = :customer AND currency = :currency AND at = :created;
INSERT INTO analytics_movements (customer_id, currency, at, kind, amount, mrr_before, mrr_after, churn_type) VALUES (:customer, :currency, :created, :movement_kind, :movement_amount, :movement_mrr_before, :movement_mrr_after, '');
INSERT INTO analytics_daily (currency, day, shard, new_mrr, expansion, contraction, churn, reactivation, count_new, count_expansion, count_contraction, count_churn, count_reactivation, subscriptions_started, subscriptions_stopped) VALUES (:currency, :day, :shard, :daily_new_mrr, :daily_expansion, 0, 0, 0, :daily_count_new, :daily_count_expansion, 0, 0, 0, 0, 0) ON CONFLICT (currency, day, shard) DO UPDATE SET new_mrr = analytics_daily.new_mrr + excluded.new_mrr, expansion = analytics_daily.expansion + excluded.expansion, contraction = analytics_daily.contraction + excluded.contraction, churn = analytics_daily.churn + excluded.churn, reactivation = analytics_daily.reactivation + excluded.reactivation, count_new = analytics_daily.count_new + excluded.count_new, count_expansion = analytics_daily.count_expansion + excluded.count_expansion, count_contraction = analytics_daily.count_contraction + excluded.count_contraction, count_churn = analytics_daily.count_churn + excluded.count_churn, count_reactivation = analytics_daily.count_reactivation + excluded.count_reactivation, subscriptions_started = analytics_daily.subscriptions_started + excluded.subscriptions_started, subscriptions_stopped = analytics_daily.subscriptions_stopped + excluded.subscriptions_stopped;
INSERT INTO analytics_daily (currency, day, shard, new_mrr, expansion, contraction, churn, reactivation, count_new, count_expansion, count_contraction, count_churn, count_reactivation, subscriptions_started, subscriptions_stopped) VALUES (:currency, :day, :shard, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0) ON CONFLICT (currency, day, shard) DO UPDATE SET new_mrr = analytics_daily.new_mrr + excluded.new_mrr, expansion = analytics_daily.expansion + excluded.expansion, contraction = analytics_daily.contraction + excluded.contraction, churn = analytics_daily.churn + excluded.churn, reactivation = analytics_daily.reactivation + excluded.reactivation, count_new = analytics_daily.count_new + excluded.count_new, count_expansion = analytics_daily.count_expansion + excluded.count_expansion, count_contraction = analytics_daily.count_contraction + excluded.count_contraction, count_churn = analytics_daily.count_churn + excluded.count_churn, count_reactivation = analytics_daily.count_reactivation + excluded.count_reactivation, subscriptions_started = analytics_daily.subscriptions_started + excluded.subscriptions_started, subscriptions_stopped = analytics_daily.subscriptions_stopped + excluded.subscriptions_stopped;
UPDATE analytics_subscriptions SET customer_id = :customer, currency = :currency, plan_id = :plan, coupon = NULL, status = :status_active, mrr = :mrr, last_at = :created, points = 1, started_at = :created, ended_at = NULL, created_at = :created, source = 'direct' WHERE subscription_id = 'sub_0000000' || :sid;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '6', :created, :system_type, :system_id, '', '', '', :payment_type, 'pay_0000000' || :sid, :type_payment_succeeded, :fields_payment_succeeded, 'evt_000000' || :sid || '6', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '6', :type_payment_succeeded, :payment_type, 'pay_0000000' || :sid, :system_type, :system_id, '', :created, :payload_payment_succeeded)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '6', :type_payment_succeeded, :created);
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '7', :created, :system_type, :system_id, '', '', '', :invoice_type, 'in_0000000' || :sid, :type_invoice_paid, :fields_invoice_paid, 'evt_000000' || :sid || '7', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '7', :type_invoice_paid, :invoice_type, 'in_0000000' || :sid, :system_type, :system_id, '', :created, :payload_invoice_paid)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '7', :type_invoice_paid, :created);
INSERT INTO analytics_invoices (invoice_id, customer_id, subscription_id, currency, billing_reason, due_at, status, total, amount_paid, attempt_count, first_failed_at, paid_at) VALUES ('in_0000000' || :sid, :customer, 'sub_0000000' || :sid, :currency, :billing_reason, :created, :invoice_status_paid, :total, :amount, 1, NULL, :created) ON CONFLICT (invoice_id) DO UPDATE SET status = excluded.status, total = excluded.total, amount_paid = excluded.amount_paid, attempt_count = excluded.attempt_count, first_failed_at = excluded.first_failed_at, paid_at = excluded.paid_at;
INSERT INTO analytics_customers (customer_id, currency, first_paid_at) VALUES (:customer, :currency, :created) ON CONFLICT (customer_id, currency) DO UPDATE SET first_paid_at = CASE WHEN analytics_customers.first_paid_at IS NULL OR analytics_customers.first_paid_at > :created THEN :created ELSE analytics_customers.first_paid_at END;
SELECT doc FROM shipments WHERE invoice_id = 'in_0000000' || :sid ORDER BY id FOR UPDATE;
UPDATE shipments SET status = :shipment_status, backordered_at = NULL, version = 2, doc = :shipment_doc_paid, tracking_number = NULL, invoice_id = 'in_0000000' || :sid, paid = 1 WHERE id = 'shp_0000000' || :sid;
INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id, action, fields, event_id, reason) VALUES ('aud_000000' || :sid || '8', :created, :system_type, :system_id, '', '', '', :shipment_type, 'shp_0000000' || :sid, :type_shipment_paid, :fields_shipment_paid, 'evt_000000' || :sid || '8', NULL);
WITH event AS (INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000' || :sid || '8', :type_shipment_paid, :shipment_type, 'shp_0000000' || :sid, :system_type, :system_id, '', :created, :payload_shipment_paid)) INSERT INTO event_outbox (event_id, type, created_at) VALUES ('evt_000000' || :sid || '8', :type_shipment_paid, :created);
SELECT doc FROM customers WHERE id = :customer;
INSERT INTO notifications (id, channel, template, customer_id, resource_id, status, next_attempt_at, version, created_at, doc) VALUES ('ntf_0000000' || :sid, :channel, :template, :customer, 'in_0000000' || :sid, :notification_status, :created, 1, :created, :notification_doc);
UPDATE payments SET status = :payment_succeeded, doc = :payment_doc_succeeded, charge_id = 'pi_sandbox_00000' || :sid, action_expires_at = NULL WHERE id = 'pay_0000000' || :sid;
UPDATE invoices SET number = :number, status = :invoice_status_paid, next_attempt_at = NULL, version = 3, doc = :invoice_doc_paid WHERE id = 'in_0000000' || :sid;
COMMIT;
\startpipeline
BEGIN READ ONLY;
SELECT id FROM invoices WHERE subscription_id = 'sub_0000000' || :sid ORDER BY (number IS NULL), LENGTH(number) DESC, number DESC LIMIT 1;
COMMIT;
\endpipeline
\startpipeline
BEGIN READ ONLY;
SELECT doc FROM payments WHERE invoice_id = 'in_0000000' || :sid ORDER BY id DESC LIMIT :payments_page;
COMMIT;
\endpipeline
\startpipeline
BEGIN READ ONLY;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :sid;
COMMIT;
\endpipeline
