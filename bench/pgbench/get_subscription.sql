-- pgbench twin of GET /v1/subscriptions/{id}: SubscriptionService::get runs, in a read-only
-- transaction, load(): subscriptions::find, catalog::find_plan and the shop's blackout dates
-- (the subscription is shown as of now, which needs its plan and the days nothing ships). bench/run.sh seeds :nrows rows with ids
-- 'sub_0000000' || (:gbase + 1 .. :gbase + :nrows) and a real subscription's document, and
-- checks that this sequence of statements is the one the server sends.
\set gid :gbase + random(1, :nrows)
BEGIN READ ONLY;
SELECT doc FROM subscriptions WHERE id = 'sub_0000000' || :gid;
SELECT doc FROM plans WHERE id = :plan;
SELECT day FROM blackout_dates ORDER BY day;
COMMIT;
