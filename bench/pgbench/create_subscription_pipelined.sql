-- What-if for POST /v1/subscriptions: the statements of create_subscription.sql, sent as
-- two libpq pipelines (two round trips instead of seven): BEGIN + the two reads the service
-- needs before it can build the subscription, then the three INSERTs + COMMIT. Run with
-- BENCH_WHATIF=1; see docs/PERFORMANCE.md. Variables as in create_subscription.sql.
\set seq :seq + 1
\set sid :base + :seq * 100 + :client_id
\set e1 2 * :sid
\set e2 2 * :sid + 1
\startpipeline
BEGIN;
SELECT doc FROM customers WHERE id = :customer;
SELECT doc FROM plans WHERE id = :plan;
\endpipeline
\startpipeline
INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods, version, created_at, doc) VALUES ('sub_0000000' || :sid, :customer, :plan, :status, :next_action_at, :billed_periods, :version, :created, :doc);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_0000000' || :e1, :type_created, :resource_type, 'sub_0000000' || :sid, :actor_type, :key_id, :role, :created, :payload_created);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_0000000' || :e2, :type_started, :resource_type, 'sub_0000000' || :sid, :system_type, :system_id, '', :created, :payload_started);
COMMIT;
\endpipeline
