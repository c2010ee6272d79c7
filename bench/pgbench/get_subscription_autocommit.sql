-- What-if for GET /v1/subscriptions/{id}: what get_subscription.sql reads, as one statement
-- (the subscription joined to its plan) without BEGIN READ ONLY ... COMMIT: one round trip
-- instead of four, and still one snapshot. Run with BENCH_WHATIF=1; see docs/PERFORMANCE.md.
\set gid :gbase + random(1, :nrows)
SELECT s.doc, p.doc FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.id = 'sub_0000000' || :gid;
