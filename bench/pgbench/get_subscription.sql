-- pgbench twin of GET /v1/subscriptions/{id} with the read caches off (serve --no-read-caches):
-- SubscriptionService::get_rendered runs load() in a read-only transaction: subscriptions::find,
-- catalog::find_plan and the shop's blackout dates (the subscription is shown as of now, which
-- needs its plan and the days nothing ships). On PostgreSQL each statement of a read-only
-- transaction is a transaction of its own, BEGIN READ ONLY, the statement and COMMIT sent in one
-- pipeline (src/platform/db/postgres.cc). bench/run.sh seeds :nrows rows with ids
-- 'sub_0000000' || (:gbase + 1 .. :gbase + :nrows) and a real subscription's document, and
-- checks that this sequence of statements is the one the server sends.
\set gid :gbase + random(1, :nrows)
\startpipeline
BEGIN READ ONLY;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :gid;
COMMIT;
\endpipeline
\startpipeline
BEGIN READ ONLY;
SELECT doc FROM plans WHERE id = :plan;
COMMIT;
\endpipeline
\startpipeline
BEGIN READ ONLY;
SELECT day FROM blackout_dates ORDER BY day;
COMMIT;
\endpipeline
