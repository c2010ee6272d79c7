-- The ceiling for these rows on this machine: the same rows as billing_renewal.sql, in the
-- same four steps, but B renewals per transaction written set-based (one multi-row
-- statement per table and step, ids from generate_series). This is not a twin of
-- anything recur does: it measures what PostgreSQL itself can take when every
-- per-statement, per-transaction and per-round-trip cost is shared by B renewals, so
-- the 10,000 renewals/s target can be judged against the hardware (docs/PERFORMANCE.md).
-- Ids: <prefix>_000000d || (10^18 + i), i = 1..N; the subscriptions 'd' were cloned for it.
\set lo (:seq * :nclients + :client_id) * :batch + 1
\set hi :lo + :batch - 1
\set seq :seq + 1
\set lease :inv_created + 300
\set vprev :sub_version - 1
BEGIN;
UPDATE subscriptions SET plan_id = :plan, status = :sub_status, next_action_at = :sub_next, billed_periods = :sub_billed, version = :sub_version, created_at = :sub_created, doc = :sub_doc WHERE id IN (SELECT 'sub_000000d' || (1000000000000000000 + g) FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g) AND version = :vprev;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) SELECT 'evt_000000d' || (1000000000000000000 + 5 * g), 'subscription.renewed', 'subscription', 'sub_000000d' || (1000000000000000000 + g), 'system', :system_id, '', :inv_created, :p_renewed FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
UPDATE invoice_numbers SET next_value = next_value + :batch WHERE name = 'invoice' RETURNING next_value - :batch AS num \gset
INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status, next_attempt_at, created_at, version, doc, request_key) SELECT 'in_000000d' || (1000000000000000000 + g), 'INV-' || (:num + g - :lo), 'sub_000000d' || (1000000000000000000 + g), 'cus_000000d' || (1000000000000000000 + g), :period_seq, 'open', :inv_created, :inv_created, 1, :inv_doc, NULL FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) SELECT 'evt_000000d' || (1000000000000000001 + 5 * g), 'invoice.finalized', 'invoice', 'in_000000d' || (1000000000000000000 + g), 'system', :system_id, '', :inv_created, :p_finalized FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO shipments (id, subscription_id, customer_id, period_seq, status, backordered_at, created_at, version, doc) SELECT 'shp_000000d' || (1000000000000000000 + g), 'sub_000000d' || (1000000000000000000 + g), 'cus_000000d' || (1000000000000000000 + g), :period_seq, :shp_status, NULL, :shp_created, :shp_version, :shp_doc FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) SELECT 'evt_000000d' || (1000000000000000004 + 5 * g), 'shipment.created', 'shipment', 'shp_000000d' || (1000000000000000000 + g), 'system', :system_id, '', :inv_created, :p_shipment FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
COMMIT;
BEGIN;
UPDATE invoices SET next_attempt_at = :lease WHERE id IN (SELECT 'in_000000d' || (1000000000000000000 + g) FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g);
INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc) SELECT 'pay_000000d' || (1000000000000000000 + g), 'in_000000d' || (1000000000000000000 + g), 'cus_000000d' || (1000000000000000000 + g), 1, 'pending', 'in_000000d' || (1000000000000000000 + g) || :attempt_1, :pay_created, :pay_doc FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
UPDATE invoices SET status = 'open', next_attempt_at = :inv_created, version = 2, doc = :inv_doc WHERE id IN (SELECT 'in_000000d' || (1000000000000000000 + g) FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g);
COMMIT;
INSERT INTO sandbox_charges (idempotency_key, charge_id, customer, payment_method, amount, currency, status, failure_code, refunded, created_at) SELECT 'in_000000d' || (1000000000000000000 + g) || :attempt_1, 'pi_000000d' || (1000000000000000000 + g), :gateway_customer, 'pm_card_visa', :amount, :currency, 'succeeded', NULL, 0, :pay_created FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
BEGIN;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) SELECT 'evt_000000d' || (1000000000000000002 + 5 * g), 'payment.succeeded', 'payment', 'pay_000000d' || (1000000000000000000 + g), 'system', :system_id, '', :pay_created, :p_succeeded FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) SELECT 'evt_000000d' || (1000000000000000003 + 5 * g), 'invoice.paid', 'invoice', 'in_000000d' || (1000000000000000000 + g), 'system', :system_id, '', :pay_created, :p_paid FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
INSERT INTO notifications (id, channel, template, customer_id, resource_id, status, next_attempt_at, version, created_at, doc) SELECT 'ntf_000000d' || (1000000000000000000 + g), :n_channel, :n_template, 'cus_000000d' || (1000000000000000000 + g), 'in_000000d' || (1000000000000000000 + g), :n_status, :n_next, 1, :pay_created, :n_doc FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g;
UPDATE payments SET status = 'succeeded', doc = :pay_doc WHERE id IN (SELECT 'pay_000000d' || (1000000000000000000 + g) FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g);
UPDATE invoices SET status = 'paid', next_attempt_at = NULL, version = 3, doc = :inv_doc WHERE id IN (SELECT 'in_000000d' || (1000000000000000000 + g) FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g);
COMMIT;
