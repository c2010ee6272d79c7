-- pgbench twin of one renewal in `recur bill`, writes only: the rows recur writes for a
-- subscription that renews and is charged through the sandbox, in the same transactions
-- (decision 0005): (1) the lifecycle step and its invoice (SubscriptionService::run_due
-- + BillingService::period_began + InventoryService::period_began: the shipment), (2) the claim and the pending payment with its
-- idempotency key, (3) the sandbox gateway's own ledger row, (4) the outcome with its
-- events and the receipt (outbox). None of recur's reads (the subscription, plan,
-- customer, payment method, pending items, the invoice and payment again) are sent.
-- Parameter values are copied by bench/billing.sh from the template's real renewal.
-- (':attempt:1' is a variable: pgbench would take it for one inside a literal.)
-- Ids: <prefix>_000000c || (10^18 + i), i = 1..N over all clients; the subscriptions
-- (and customers) 'c' were cloned for it, like recur's.
\set i :seq * :nclients + :client_id + 1
\set seq :seq + 1
\set id 1000000000000000000 + :i
\set e 1000000000000000000 + 5 * :i
\set e1 :e + 1
\set e2 :e + 2
\set e3 :e + 3
\set e4 :e + 4
\set lease :inv_created + 300
\set vprev :sub_version - 1
BEGIN;
UPDATE subscriptions SET customer_id = 'cus_000000c' || :id, plan_id = :plan, status = :sub_status, next_action_at = :sub_next, billed_periods = :sub_billed, version = :sub_version, created_at = :sub_created, doc = :sub_doc WHERE id = 'sub_000000c' || :id AND version = :vprev;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e, 'subscription.renewed', 'subscription', 'sub_000000c' || :id, 'system', :system_id, '', :inv_created, :p_renewed);
UPDATE invoice_numbers SET next_value = next_value + 1 WHERE name = 'invoice' RETURNING next_value - 1 AS num \gset
INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, next_attempt_at, created_at, version, doc, request_key) VALUES ('in_000000c' || :id, 'INV-' || :num, 'sub_000000c' || :id, 'cus_000000c' || :id, :period_seq, 'open', :inv_created, :inv_created, 1, :inv_doc, NULL);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e1, 'invoice.finalized', 'invoice', 'in_000000c' || :id, 'system', :system_id, '', :inv_created, :p_finalized);
INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, backordered_at, created_at, version, doc) VALUES ('shp_000000c' || :id, 'sub_000000c' || :id, 'cus_000000c' || :id, :period_seq, :shp_status, NULL, :shp_created, :shp_version, :shp_doc);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e4, 'shipment.created', 'shipment', 'shp_000000c' || :id, 'system', :system_id, '', :inv_created, :p_shipment);
COMMIT;
BEGIN;
UPDATE invoices SET next_attempt_at = :lease WHERE id = 'in_000000c' || :id;
INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc) VALUES ('pay_000000c' || :id, 'in_000000c' || :id, 'cus_000000c' || :id, 1, 'pending', 'in_000000c' || :id || :attempt_1, :pay_created, :pay_doc);
UPDATE invoices SET number = 'INV-' || :num, status = 'open', next_attempt_at = :inv_created, version = 2, doc = :inv_doc WHERE id = 'in_000000c' || :id;
COMMIT;
INSERT INTO sandbox_charges (idempotency_key, charge_id, customer, payment_method, amount, currency, status, failure_code, refunded, created_at) VALUES ('in_000000c' || :id || :attempt_1, 'pi_000000c' || :id, :gateway_customer, 'pm_card_visa', :amount, :currency, 'succeeded', NULL, 0, :pay_created);
BEGIN;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e2, 'payment.succeeded', 'payment', 'pay_000000c' || :id, 'system', :system_id, '', :pay_created, :p_succeeded);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_000000c' || :e3, 'invoice.paid', 'invoice', 'in_000000c' || :id, 'system', :system_id, '', :pay_created, :p_paid);
INSERT INTO notifications (id, channel, template, customer_id, resource_id, status, next_attempt_at, version, created_at, doc) VALUES ('ntf_000000c' || :id, :n_channel, :n_template, 'cus_000000c' || :id, 'in_000000c' || :id, :n_status, :n_next, 1, :pay_created, :n_doc);
UPDATE payments SET status = 'succeeded', doc = :pay_doc WHERE id = 'pay_000000c' || :id;
UPDATE invoices SET number = 'INV-' || :num, status = 'paid', next_attempt_at = NULL, version = 3, doc = :inv_doc WHERE id = 'in_000000c' || :id;
COMMIT;
