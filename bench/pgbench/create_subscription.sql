-- pgbench twin of POST /v1/subscriptions: the statements SubscriptionService::create sends
-- in its one transaction (customers::find_customer, catalog::find_plan,
-- subscriptions::insert, events::append for subscription.created and for the lifecycle
-- event subscription.started), with the parameter values a real create sends (bench/run.sh
-- copies them from a subscription the server created; see docs/PERFORMANCE.md).
-- Ids: 'sub_0000000' || a 19-digit number gives the 30-character keys the server's
-- time-sortable ids have, increasing per client like theirs. Variables set with -D:
-- base seq customer plan status next_action_at billed_periods version created key_id
-- role doc payload_created payload_started system_id ... The system actor's role is the
-- empty string, which pgbench cannot hold in a variable: it is the one literal.
\set seq :seq + 1
\set sid :base + :seq * 100 + :client_id
\set e1 2 * :sid
\set e2 2 * :sid + 1
BEGIN;
SELECT doc FROM customers WHERE id = :customer;
SELECT doc FROM plans WHERE id = :plan;
INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods, version, created_at, doc) VALUES ('sub_0000000' || :sid, :customer, :plan, :status, :next_action_at, :billed_periods, :version, :created, :doc);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_0000000' || :e1, :type_created, :resource_type, 'sub_0000000' || :sid, :actor_type, :key_id, :role, :created, :payload_created);
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload) VALUES ('evt_0000000' || :e2, :type_started, :resource_type, 'sub_0000000' || :sid, :system_type, :system_id, '', :created, :payload_started);
COMMIT;
