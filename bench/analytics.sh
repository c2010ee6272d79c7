#!/usr/bin/env bash
# The analytics benchmark (issue 16; docs/PERFORMANCE.md, "Benchmark 7"): a shop with two years of
# history in the event log, `recur analytics rebuild` over it, then the reports' latency over
# HTTP. `BENCH_ONLY=analytics make bench` (bench/run.sh hands over to this script), or
# `bash bench/analytics.sh`.
#
#   Shop: `recur migrate`, then 5 plans through the API (usd: basic and pro monthly, basic
#     yearly; eur: basic and pro monthly); then BENCH_ANALYTICS_REBUILD_N subscriptions' event
#     log written by SQL (generate_series; the documents are text built the way to_json writes
#     them, every key of a real event): subscription.created (20 % with a 14-day trial, then
#     trial_ended; else started), a renewal (subscription.renewed, effective_at) at every period
#     start, invoice.paid for every billed period (3 % paid at a retry), quantity updates (15 %),
#     plan changes basic <-> pro (10 % of monthly ones), pauses with their resumes (8 %),
#     cancellations at once (8 %) or at period end (25 %: requested, then canceled by the
#     scheduler), dunning (8 %: payment_failed, then canceled with details.reason =
#     payment_failed). Starts spread over two years, more of them recent (a growing shop); one
#     customer in 20 has two subscriptions; 1 in 10 customers pays in eur.
#   Rebuild: `recur analytics rebuild` (wall time, peak RSS, CPU of recur and PostgreSQL); the
#     baseline is the same scan done by psql in the same PostgreSQL (the four SELECTs rebuild
#     sends, unaligned output to /dev/null), timed before and after the rebuild.
#   Queries: the rebuilt tables are copied (BENCH_ANALYTICS_N / BENCH_ANALYTICS_REBUILD_N) times
#     under new ids (analytics_daily's sums multiplied), so the reports run over the tables a
#     rebuild of BENCH_ANALYTICS_N such subscriptions gives; `recur serve` (an analyst key); for
#     each report a warm-up, then up to BENCH_ANALYTICS_REQUESTS sequential requests on one
#     keep-alive connection (at most BENCH_ANALYTICS_QUERY_SECONDS s), each timed: p50/p90/p99.
#     Then one request of each with log_min_duration_statement = 0 (the SQL each sends and what
#     PostgreSQL spent on it) and EXPLAIN (ANALYZE, BUFFERS) of every statement logged.
# Everything on 127.0.0.1; a throw-away PostgreSQL (scripts/with-postgres.sh); everything
# started here is stopped on exit.
#
# Knobs: BENCH_ANALYTICS_N (1000000 subscriptions for the queries), BENCH_ANALYTICS_REBUILD_N
# (100000 generated and rebuilt; N must be a multiple of it, at most 100 times it),
# BENCH_ANALYTICS_REQUESTS (200 per report), BENCH_ANALYTICS_QUERY_SECONDS (90 per report, at
# most), BENCH_ANALYTICS_REBUILD_TIMEOUT (1500 s), BENCH_ANALYTICS_REBUILD_MEM_GB (10: the
# rebuild's address-space limit, so that a rebuild holding too much fails instead of pushing
# the shared machine out of memory), BENCH_ANALYTICS_GEN_PARTS (2 psql processes writing events),
# BENCH_ANALYTICS_SEED (0.42), BENCH_PERF (1: perf record the server during the cohorts run,
# into var/bench/), BENCH_RECUR (build/recur), BENCH_OUT (var/bench/analytics-<time>.md).
{  # parsed whole before it runs: editing it meanwhile cannot derail a run
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in psql curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
recur_bin=${BENCH_RECUR:-build/recur}
[ -x "$recur_bin" ] || { echo "bench: $recur_bin is missing: run 'make build'" >&2; exit 1; }

N=${BENCH_ANALYTICS_N:-1000000}
RN=${BENCH_ANALYTICS_REBUILD_N:-100000}
(( N % RN == 0 && N / RN <= 100 )) || { echo "bench: BENCH_ANALYTICS_N ($N) must be 1 to 100 times BENCH_ANALYTICS_REBUILD_N ($RN)" >&2; exit 1; }
COPIES=$(( N / RN ))

if [ -z "${RECUR_ANALYTICS_BENCH_INNER:-}" ]; then  # a fresh PostgreSQL of its own
  export RECUR_ANALYTICS_BENCH_INNER=1
  exec bash -c "$(cat scripts/with-postgres.sh)" scripts/with-postgres.sh bash "$PWD/bench/analytics.sh" "$@"
fi

REQUESTS=${BENCH_ANALYTICS_REQUESTS:-200}
QUERY_SECONDS=${BENCH_ANALYTICS_QUERY_SECONDS:-90}
REBUILD_TIMEOUT=${BENCH_ANALYTICS_REBUILD_TIMEOUT:-1500}
REBUILD_MEM_GB=${BENCH_ANALYTICS_REBUILD_MEM_GB:-10}
PARTS=${BENCH_ANALYTICS_GEN_PARTS:-2}
SEED=${BENCH_ANALYTICS_SEED:-0.42}
db=$RECUR_TEST_PG_URL
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p var/bench
out=${BENCH_OUT:-var/bench/analytics-$stamp.md}

server_pid=""
perf_pid=""
gen_pids=()
source bench/lib.sh  # stop_pid, free_port, wait_http, json_field, proc_ticks, tree_ticks, machine_ticks
work=$(mktemp -d /tmp/recur-analyticsbench.XXXXXX)
cleanup() {
  local p
  stop_pid "$perf_pid"; stop_pid "$server_pid"
  for p in "${gen_pids[@]}"; do stop_pid "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
recur=$work/recur
cp "$recur_bin" "$recur"
recur_built=$(date -u -r "$recur_bin" '+%Y-%m-%d %H:%M UTC')
recur_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
export RECUR_MASTER_KEY_FILE=$work/master.key

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
run_log() { echo "$*" | tee -a "$work/log.txt" >&2; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # field KEY "k=v k=v ..."
declare -A R  # results: R[label.key]
keep() { local kv; for kv in $2; do R[$1.${kv%%=*}]=${kv#*=}; done; }
perf_top() {  # perf_top FILE: the symbols with at least 0.5 % of the samples, C++ names shortened
  perf report -i "$1" --stdio --no-children -g none --percent-limit 0.5 2>/dev/null | grep -E '^ +[0-9.]+%' |
    sed -E 's/std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >/string/g; s/, std::allocator<[^<>]*(<[^<>]*>)?[^<>]*>//g' |
    cut -c1-200 | head -n 40 || true
}
seconds_since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# ---------------------------------------------------------------- CPU accounting (as bench/run.sh)
hz=$(getconf CLK_TCK)
pg_pid=$(head -1 "$(sql 'SHOW data_directory')/postmaster.pid")
pg_log=$(dirname "$(sql 'SHOW data_directory')")/server.log
cpu_begin() {  # cpu_begin PID: PostgreSQL, the process (and its children), the machine
  machine_ticks; b_tot=$m_total; b_idle=$m_idle
  tree_ticks "$pg_pid"; b_pg=$tree
  tree_ticks "${1:-0}"; b_proc=$tree
}
cpu_end() {  # cpu_end PID [CLIENT_SECONDS] -> cpu_line: core-seconds of each, and other work on the machine
  machine_ticks; tree_ticks "$pg_pid"; local pg=$tree; tree_ticks "${1:-0}"; local proc=$tree
  cpu_line=$(awk -v hz="$hz" -v cores="$(nproc)" -v pg=$((pg - b_pg)) -v proc=$((proc - b_proc)) -v cli="${2:-0}" \
    -v busy=$(( (m_total - b_tot) - (m_idle - b_idle) )) -v wall=$((m_total - b_tot)) 'BEGIN {
      pg /= hz; proc /= hz; busy /= hz; wall /= hz
      o = busy - pg - proc - cli; if (o < 0) o = 0
      printf "window_s=%.1f proc_cpu_s=%.2f pg_cpu_s=%.2f client_cpu_s=%.2f other_s=%.2f idle_s=%.1f other_cores=%.2f",
        wall / cores, proc, pg, cli, o, wall - busy, o / (wall > 0 ? wall / cores : 1) }')
}

run_log "bench: analytics: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
machine_ticks; t0=$m_total; i0=$m_idle; sleep 2; machine_ticks
background=$(awk -v t=$((m_total - t0)) -v i=$((m_idle - i0)) 'BEGIN { printf "%.0f", (t ? 100 * (t - i) / t : 0) }')
run_log "bench: machine busy before starting: ${background}% (other processes; should be near 0)"
run_log "bench: $RN subscriptions generated and rebuilt; reports over $N (the rebuilt tables x $COPIES)"

# ---------------------------------------------------------------- the shop: schema and plans through the API
"$recur" migrate --db "$db" >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
admin_key=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)
admin_key_id=$(sql "SELECT id FROM api_keys ORDER BY id DESC LIMIT 1")
start_server() {  # start_server LABEL: recur serve on a free port; sets server_pid, server_url
  local port; port=$(free_port)
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" --no-access-log >"$work/serve-$1.out" 2>"$work/serve-$1.log" &
  server_pid=$!
  server_url=http://127.0.0.1:$port
  wait_http "$server_url/healthz" || { tail -n 20 "$work/serve-$1.log" >&2; exit 1; }
}
start_server fixtures
api() {  # api METHOD PATH [BODY]: prints the body; fails on a non-2xx status
  curl -sf -X "$1" -H "Authorization: Bearer $admin_key" -H 'Content-Type: application/json' ${3:+-d "$3"} "$server_url$2"
}
plan() { api POST /v1/plans "{\"name\":\"$1\",\"amount\":$2,\"currency\":\"$3\",\"interval\":\"$4\",\"interval_count\":1,\"tier\":\"$5\"}" | json_field id; }
p_bm=$(plan 'Basic monthly' 1500 USD month basic)
p_pm=$(plan 'Pro monthly' 3900 USD month pro)
p_by=$(plan 'Basic yearly' 15000 USD year basic)
p_be=$(plan 'Basic monthly EUR' 1400 EUR month basic)
p_pe=$(plan 'Pro monthly EUR' 3500 EUR month pro)
stop_pid "$server_pid"; server_pid=""
run_log "bench: plans through the API: $p_bm $p_pm $p_by (usd), $p_be $p_pe (eur); serve stopped"

# ---------------------------------------------------------------- the event log, by SQL
t_end=$(( $(date +%s) / 3600 * 3600 ))  # "now" of the shop: its history ends at this hour
cat >"$work/gen.sql" <<'SQL'
\set ON_ERROR_STOP 1
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
SET jit = off;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- JSON of an epoch second: "2025-01-01T00:00:00Z", or null. Each helper is one expression using
-- each argument once, so PostgreSQL inlines it (no function call per row).
CREATE FUNCTION bench.jt(t bigint) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce('"' || to_char(to_timestamp(t), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"', 'null') $$;
-- The start of period k after the anchor p (k months, or k years), as the lifecycle counts them.
CREATE FUNCTION bench.boundary(p bigint, k int, yearly boolean) RETURNS bigint LANGUAGE sql STABLE AS
$$ SELECT extract(epoch FROM to_timestamp(p) + make_interval(months => k * CASE WHEN yearly THEN 12 ELSE 1 END))::bigint $$;
-- The index of the period holding t (0: the first). age() counts a month short after a month's
-- end (Jan 31 + 1 month = Feb 28), hence the step up.
CREATE FUNCTION bench.period_at(p bigint, t bigint, yearly boolean) RETURNS int LANGUAGE sql STABLE AS
$$ SELECT CASE WHEN bench.boundary(p, k0 + 1, yearly) <= t THEN k0 + 1 ELSE k0 END
   FROM (SELECT ((extract(year FROM a) * 12 + extract(month FROM a))::int) / CASE WHEN yearly THEN 12 ELSE 1 END AS k0
         FROM age(to_timestamp(t), to_timestamp(p)) a) x $$;

-- A subscription's JSON as to_json(Subscription) writes it (keys sorted, compact). The times
-- come as JSON already (bench.jt); `reason` and `paused_at` may be NULL (no cancellation,
-- no pause); a NULL status makes the whole document NULL (no `before`).
CREATE FUNCTION bench.sub_doc(billed int, anchor text, cancel_at text, cape boolean, canceled_at text, reason text,
                              requested_at text, created text, cur text, pe text, ps text, amount bigint, cus text,
                              ended_at text, id text, paused_at text, plan text, qty int, start_date text, status text,
                              trial_end text, updated text, version int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '{"billed_periods":' || billed || ',"billing_cycle_anchor":' || anchor || ',"cancel_at":' || cancel_at
    || ',"cancel_at_period_end":' || cape || ',"canceled_at":' || canceled_at
    || ',"cancellation":' || coalesce('{"comment":null,"reason":"' || reason || '","requested_at":' || requested_at || '}', 'null')
    || ',"created":' || created || ',"currency":"' || cur || '","current_period":{"end":' || pe || ',"start":' || ps
    || '},"current_period_amount":' || amount || ',"current_period_skipped":false,"customer":"' || cus
    || '","discount":null,"ended_at":' || ended_at || ',"id":"' || id || '","metadata":{},"object":"subscription","pause":'
    || coalesce('{"paused_at":' || paused_at || ',"resumes_at":null}', 'null') || ',"pending_plan_change":null,"plan":"' || plan
    || '","quantity":' || qty || ',"shipping_address":null,"skipped_periods":[],"start_date":' || start_date
    || ',"status":"' || status || '","trial_end":' || trial_end || ',"updated":' || updated || ',"version":' || version || '}' $$;

-- An invoice's JSON as to_json(Invoice) writes it; paid: NULL for the open invoice (`before`).
CREATE FUNCTION bench.inv_doc(due bigint, paid_amount bigint, attempts int, reason text, created text, cur text, cus text,
                              first_failed text, id text, total1 bigint, name text, pe1 text, ps1 text, qty int,
                              next_attempt text, num text, paid text, pe2 text, ps2 text, status text, sub text,
                              subtotal bigint, total2 bigint, updated text, version int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '{"amount_credited":0,"amount_due":' || due || ',"amount_paid":' || paid_amount || ',"amount_refunded":0,"attempt_count":'
    || attempts || ',"billing_reason":"' || reason || '","collection_ended":false,"created":' || created || ',"currency":"' || cur
    || '","customer":"' || cus || '","discount":0,"discount_source":null,"first_failed_at":' || first_failed || ',"id":"' || id
    || '","lines":[{"amount":' || total1 || ',"description":"' || name || '","period":{"end":' || pe1 || ',"start":' || ps1
    || '},"proration":false,"quantity":' || qty || '}],"metadata":{},"next_attempt_at":' || next_attempt || ',"number":"INV-'
    || num || '","object":"invoice","paid_at":' || paid || ',"period":{"end":' || pe2 || ',"start":' || ps2 || '},"status":"'
    || status || '","subscription":"' || sub || '","subtotal":' || subtotal || ',"tax":0,"total":' || total2 || ',"updated":'
    || updated || ',"version":' || version || '}' $$;

-- ---------------------------------------------------------------- the plans (made through the API)
CREATE UNLOGGED TABLE bench.plans (code text PRIMARY KEY, id text, amount bigint, yearly boolean, name text, other text);
INSERT INTO bench.plans
SELECT v.code, p.id, (p.doc::jsonb ->> 'amount')::bigint, p.doc::jsonb ->> 'interval' = 'year', p.doc::jsonb ->> 'name', v.other
FROM (VALUES ('bm', :'p_bm', 'pm'), ('pm', :'p_pm', 'bm'), ('by', :'p_by', NULL), ('be', :'p_be', 'pe'), ('pe', :'p_pe', 'be'))
       v(code, id, other)
JOIN plans p ON p.id = v.id;

-- ---------------------------------------------------------------- one row per subscription
SELECT setseed(:seed);
CREATE UNLOGGED TABLE bench.subs AS
WITH base AS MATERIALIZED (
  SELECT i, i - CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END AS cno,  -- every 20th subscription: its customer's second
         random() r1, random() r2, random() r3, random() r4, random() r5, random() r6, random() r7, random() r8, random() r9
  FROM generate_series(1, :n) i
), a AS MATERIALIZED (
  SELECT base.*, CASE WHEN cno % 10 = 3 THEN 'eur' ELSE 'usd' END AS cur,
         -- a growing shop: starts weighted toward the end of the two years, at least 15 days before it
         (:t_end - 730 * 86400 + floor(sqrt(r2) * (730 - 15) * 86400))::bigint AS s,
         r3 < 0.2 AS trial,
         CASE WHEN r4 < 0.8 THEN 1 ELSE 2 END AS qty1,
         CASE WHEN r5 < 0.25 THEN 'period_end' WHEN r5 < 0.33 THEN 'now' WHEN r5 < 0.41 THEN 'dunning' END AS end_kind
  FROM base
), c AS MATERIALIZED (
  SELECT a.*, a.s + CASE WHEN trial THEN 14 * 86400 ELSE 0 END AS p, pl.yearly, pl.id AS plan1, pl.amount AS amount1,
         pl.name AS name1, o.id AS plan2, o.amount AS amount2, o.name AS name2
  FROM a
  JOIN bench.plans pl ON pl.code = CASE WHEN cur = 'eur' THEN (CASE WHEN r1 < 0.6 THEN 'be' ELSE 'pe' END)
                                        ELSE (CASE WHEN r1 < 0.55 THEN 'bm' WHEN r1 < 0.85 THEN 'pm' ELSE 'by' END) END
  LEFT JOIN bench.plans o ON o.code = pl.other
), d AS MATERIALIZED (  -- the ending, if it falls before the end of the two years
  SELECT c.*, CASE end_kind
                WHEN 'now' THEN t_mid
                WHEN 'period_end' THEN bench.boundary(p, bench.period_at(p, t_mid, yearly) + 1, yearly)
                WHEN 'dunning' THEN bench.boundary(p, greatest(bench.period_at(p, t_mid, yearly), 1), yearly) + 14 * 86400
              END AS end_at0
  FROM (SELECT c.*, c.p + floor(r6 * (:t_end - c.p))::bigint AS t_mid FROM c) c
), e AS MATERIALIZED (
  SELECT d.*, CASE WHEN end_at0 < :t_end THEN end_kind END AS ek, CASE WHEN end_at0 < :t_end THEN end_at0 END AS end_at
  FROM d
), f AS MATERIALIZED (  -- [p, hq): the quiet span where changes fall, before any ending begins
  SELECT e.*, CASE ek WHEN 'now' THEN end_at
                      WHEN 'period_end' THEN end_at - least(10 * 86400, (end_at - p) / 10)
                      WHEN 'dunning' THEN end_at - 14 * 86400
                      ELSE :t_end END AS hq
  FROM e
), g AS MATERIALIZED (
  SELECT f.*,
         CASE WHEN r7 < 0.15 AND hq - p > 20 * 86400 THEN p + (hq - p) / 4 END AS qty_at,
         CASE WHEN r8 < 0.10 AND plan2 IS NOT NULL AND hq - p > 20 * 86400 THEN p + (hq - p) * 45 / 100 END AS plan_at,
         CASE WHEN r9 < 0.08 AND hq - p > 120 * 86400 THEN p + (hq - p) * 6 / 10 END AS pause_at,
         CASE WHEN r9 < 0.08 AND hq - p > 120 * 86400 THEN p + (hq - p) * 6 / 10 + least(30 * 86400, (hq - p) * 12 / 100) END AS resume_at
  FROM f
)
SELECT i, 'sub_b' || lpad(i::text, 25, '0') AS id, 'cus_b' || lpad(cno::text, 25, '0') AS customer, cur, s, trial, p, yearly,
       plan1, amount1, name1, qty1, plan2, amount2, name2, 3 - qty1 AS qty2, ek, end_at,
       cancel_req_at, CASE WHEN ek = 'dunning' THEN hq END AS fail_at,
       CASE WHEN ek = 'dunning' THEN 'payment_failed'
            ELSE (ARRAY['too_expensive', 'not_using', 'switching_service', 'other'])[1 + i % 4] END AS reason,
       qty_at, plan_at, pause_at, resume_at,
       -- the last period begun: renewals are 1..last_k (but those inside a pause)
       CASE WHEN ek = 'period_end' THEN bench.period_at(p, end_at, yearly) - 1
            WHEN ek = 'dunning' THEN bench.period_at(p, end_at - 14 * 86400, yearly)
            WHEN ek = 'now' THEN bench.period_at(p, end_at - 1, yearly)
            ELSE bench.period_at(p, :t_end, yearly) END AS last_k,
       bench.period_at(p, qty_at, yearly) AS qty_k, bench.period_at(p, plan_at, yearly) AS plan_k,
       bench.period_at(p, pause_at, yearly) AS pause_k,
       bench.period_at(p, coalesce(cancel_req_at, end_at), yearly) AS cancel_k,
       bench.jt(s) AS s_json, bench.jt(p) AS p_json, CASE WHEN trial THEN bench.jt(p) ELSE 'null' END AS trial_json
FROM (SELECT g.*, CASE WHEN ek = 'period_end' THEN hq END AS cancel_req_at FROM g) g;
ALTER TABLE bench.subs ADD PRIMARY KEY (i);
ANALYZE bench.subs;

-- Billed periods: 0 (at p) and every renewal, but those inside a pause.
CREATE UNLOGGED TABLE bench.periods AS
SELECT i, k, t, bench.boundary(p, k + 1, yearly) AS t_next, bench.boundary(p, k - 1, yearly) AS t_prev
FROM (SELECT b.i, b.p, b.yearly, b.pause_at, b.resume_at, k, bench.boundary(b.p, k, b.yearly) AS t
      FROM bench.subs b, generate_series(0, b.last_k) k) x
WHERE pause_at IS NULL OR NOT (t >= pause_at AND t < resume_at);
CREATE INDEX ON bench.periods (i);

-- ---------------------------------------------------------------- the subscription events, as states
-- One row per event: its time, kind and details, and the subscription before (b_*) and after
-- (a_*) it: the time its plan and quantity are read at, its period, status, ending and pause.
CREATE UNLOGGED TABLE bench.steps (
  i int, kind text, n int, type text, api boolean, at bigint, details text,
  a_t bigint, a_ps bigint, a_pe bigint, a_billed int, a_status text, a_cape boolean, a_canceled bigint, a_ended bigint,
  a_paused bigint, a_version int,
  b_t bigint, b_ps bigint, b_pe bigint, b_billed int, b_status text, b_cape boolean, b_canceled bigint, b_ended bigint,
  b_paused bigint, b_version int);
-- subscription.created through the API: trialing (14 days), or active in its first period
INSERT INTO bench.steps
SELECT i, 'c0', 0, 'subscription.created', true, s, NULL,
       s, s, CASE WHEN trial THEN p ELSE bench.boundary(p, 1, yearly) END, CASE WHEN trial THEN 0 ELSE 1 END,
       CASE WHEN trial THEN 'trialing' ELSE 'active' END, false, NULL, NULL, NULL, 1
FROM bench.subs;
-- its first paid period: subscription.started at once, or subscription.trial_ended (effective_at)
INSERT INTO bench.steps
SELECT i, 'c1', 0, CASE WHEN trial THEN 'subscription.trial_ended' ELSE 'subscription.started' END, false, p,
       '{"amount":' || amount1 * qty1 || ',"billable":true,"currency":"' || cur || '","effective_at":' || p_json
         || ',"period":{"end":' || bench.jt(bench.boundary(p, 1, yearly)) || ',"start":' || p_json || '}}',
       p, p, bench.boundary(p, 1, yearly), 1, 'active', false, NULL, NULL, NULL, 2,
       p, s, CASE WHEN trial THEN p ELSE bench.boundary(p, 1, yearly) END, CASE WHEN trial THEN 0 ELSE 1 END,
       CASE WHEN trial THEN 'trialing' ELSE 'active' END, false, NULL, NULL, NULL, 1
FROM bench.subs;
-- renewals that change nothing: subscription.renewed at each period's start
INSERT INTO bench.steps
SELECT x.i, 'r1', x.k, 'subscription.renewed', false, x.t,
       '{"amount":' || (CASE WHEN x.t >= b.plan_at THEN b.amount2 ELSE b.amount1 END * CASE WHEN x.t >= b.qty_at THEN b.qty2 ELSE b.qty1 END)
         || ',"billable":true,"currency":"' || b.cur || '","effective_at":' || bench.jt(x.t)
         || ',"period":{"end":' || bench.jt(x.t_next) || ',"start":' || bench.jt(x.t) || '}}',
       x.t, x.t, x.t_next, x.k + 1, 'active', false, NULL, NULL, NULL, x.k + 2,
       x.t - 1, x.t_prev, x.t, x.k, 'active', false, NULL, NULL, NULL, x.k + 1
FROM bench.periods x JOIN bench.subs b ON b.i = x.i
WHERE x.k > 0;
-- quantity updates (1 <-> 2) through the API
INSERT INTO bench.steps
SELECT i, 'q1', 0, 'subscription.updated', true, qty_at, NULL,
       qty_at, bench.boundary(p, qty_k, yearly), bench.boundary(p, qty_k + 1, yearly), qty_k + 1, 'active', false, NULL, NULL, NULL, qty_k + 3,
       qty_at - 1, bench.boundary(p, qty_k, yearly), bench.boundary(p, qty_k + 1, yearly), qty_k + 1, 'active', false, NULL, NULL, NULL, qty_k + 2
FROM bench.subs WHERE qty_at IS NOT NULL;
-- plan changes (basic <-> pro, at once) through the API
INSERT INTO bench.steps
SELECT i, 'p1', 0, 'subscription.plan_changed', true, plan_at,
       '{"effective_at":' || bench.jt(plan_at) || ',"from_plan":"' || plan1 || '","from_quantity":' || q
         || ',"lines":[],"object":"plan_change_preview","plan":"' || plan2 || '","quantity":' || q || ',"subscription":"' || id || '"}',
       plan_at, bench.boundary(p, plan_k, yearly), bench.boundary(p, plan_k + 1, yearly), plan_k + 1, 'active', false, NULL, NULL, NULL, plan_k + 5,
       plan_at - 1, bench.boundary(p, plan_k, yearly), bench.boundary(p, plan_k + 1, yearly), plan_k + 1, 'active', false, NULL, NULL, NULL, plan_k + 4
FROM (SELECT *, CASE WHEN plan_at >= qty_at THEN qty2 ELSE qty1 END AS q FROM bench.subs WHERE plan_at IS NOT NULL) b;
-- pauses and resumes through the API (the period stays; no renewal while paused)
INSERT INTO bench.steps
SELECT i, 'z1', 0, 'subscription.paused', true, pause_at, '{"resumes_at":null}',
       pause_at, bench.boundary(p, pause_k, yearly), bench.boundary(p, pause_k + 1, yearly), pause_k + 1, 'paused', false, NULL, NULL, pause_at, pause_k + 7,
       pause_at, bench.boundary(p, pause_k, yearly), bench.boundary(p, pause_k + 1, yearly), pause_k + 1, 'active', false, NULL, NULL, NULL, pause_k + 6
FROM bench.subs WHERE pause_at IS NOT NULL;
INSERT INTO bench.steps
SELECT i, 'z2', 0, 'subscription.resumed', true, resume_at, '{"new_period":false}',
       resume_at, bench.boundary(p, pause_k, yearly), bench.boundary(p, pause_k + 1, yearly), pause_k + 1, 'active', false, NULL, NULL, NULL, pause_k + 8,
       resume_at, bench.boundary(p, pause_k, yearly), bench.boundary(p, pause_k + 1, yearly), pause_k + 1, 'paused', false, NULL, NULL, pause_at, pause_k + 7
FROM bench.subs WHERE pause_at IS NOT NULL;
-- cancellations through the API: at once (canceled now), or at the period's end (requested)
INSERT INTO bench.steps
SELECT i, 'x1', 0, 'subscription.cancellation_requested', true, t,
       '{"at":"' || CASE WHEN ek = 'now' THEN 'now' ELSE 'period_end' END || '","comment":null,"reason":"' || reason || '"}',
       t, bench.boundary(p, cancel_k, yearly), bench.boundary(p, cancel_k + 1, yearly), cancel_k + 1,
       CASE WHEN ek = 'now' THEN 'canceled' ELSE 'active' END, ek = 'period_end', t, CASE WHEN ek = 'now' THEN t END, NULL, cancel_k + 9,
       t, bench.boundary(p, cancel_k, yearly), bench.boundary(p, cancel_k + 1, yearly), cancel_k + 1, 'active', false, NULL, NULL, NULL, cancel_k + 8
FROM (SELECT *, coalesce(cancel_req_at, end_at) AS t FROM bench.subs WHERE ek IN ('now', 'period_end')) b;
-- ... and the period-end ones ended by the scheduler (effective_at: the period's end)
INSERT INTO bench.steps
SELECT i, 'x2', 0, 'subscription.canceled', false, end_at,
       '{"at":"period_end","billable":false,"effective_at":' || bench.jt(end_at) || ',"period":{"end":' || bench.jt(end_at)
         || ',"start":' || bench.jt(bench.boundary(p, last_k, yearly)) || '}}',
       end_at, bench.boundary(p, last_k, yearly), end_at, last_k + 1, 'canceled', false, cancel_req_at, end_at, NULL, last_k + 11,
       end_at - 1, bench.boundary(p, last_k, yearly), end_at, last_k + 1, 'active', true, cancel_req_at, NULL, NULL, last_k + 10
FROM bench.subs WHERE ek = 'period_end';
-- dunning: the last renewal's payment fails (past_due), 14 days later the subscription is
-- canceled for it (details.reason = payment_failed: involuntary churn)
INSERT INTO bench.steps
SELECT i, 'd1', 0, 'subscription.payment_failed', false, fail_at + 3600,
       '{"invoice":"in_b' || lpad(i::text, 17, '0') || lpad(last_k::text, 8, '0') || '"}',
       fail_at + 3600, fail_at, bench.boundary(p, last_k + 1, yearly), last_k + 1, 'past_due', false, NULL, NULL, NULL, last_k + 3,
       fail_at + 3600, fail_at, bench.boundary(p, last_k + 1, yearly), last_k + 1, 'active', false, NULL, NULL, NULL, last_k + 2
FROM bench.subs WHERE ek = 'dunning';
INSERT INTO bench.steps
SELECT i, 'd2', 0, 'subscription.canceled', false, end_at,
       '{"invoice":"in_b' || lpad(i::text, 17, '0') || lpad(last_k::text, 8, '0') || '","reason":"payment_failed"}',
       end_at, fail_at, bench.boundary(p, last_k + 1, yearly), last_k + 1, 'canceled', false, end_at, end_at, NULL, last_k + 4,
       end_at, fail_at, bench.boundary(p, last_k + 1, yearly), last_k + 1, 'past_due', false, NULL, NULL, NULL, last_k + 3
FROM bench.subs WHERE ek = 'dunning';
SQL
cat >"$work/render.sql" <<'SQL'
\set ON_ERROR_STOP 1
SET timezone = 'UTC';
SET max_parallel_workers_per_gather = 0;
SET jit = off;
-- The subscription events of part :part of :parts (by subscription), as events::append writes them.
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload)
SELECT 'evt_b' || lpad(st.i::text, 17, '0') || st.kind || lpad(st.n::text, 6, '0'), st.type, 'subscription', b.id,
       CASE WHEN st.api THEN 'api_key' ELSE 'system' END, CASE WHEN st.api THEN :'key' ELSE 'scheduler' END,
       CASE WHEN st.api THEN 'admin' ELSE '' END, st.at,
       '{"after":' || bench.sub_doc(st.a_billed, b.p_json, CASE WHEN st.a_cape THEN bench.jt(st.a_pe) ELSE 'null' END, st.a_cape,
           bench.jt(st.a_canceled), CASE WHEN st.a_canceled IS NOT NULL THEN b.reason END, bench.jt(st.a_canceled), b.s_json, b.cur,
           bench.jt(st.a_pe), bench.jt(st.a_ps),
           CASE WHEN st.a_t >= b.plan_at THEN b.amount2 ELSE b.amount1 END * CASE WHEN st.a_t >= b.qty_at THEN b.qty2 ELSE b.qty1 END,
           b.customer, bench.jt(st.a_ended), b.id, CASE WHEN st.a_paused IS NOT NULL THEN bench.jt(st.a_paused) END,
           CASE WHEN st.a_t >= b.plan_at THEN b.plan2 ELSE b.plan1 END, CASE WHEN st.a_t >= b.qty_at THEN b.qty2 ELSE b.qty1 END,
           b.s_json, st.a_status, b.trial_json, bench.jt(st.a_t), st.a_version)
       || ',"before":' || coalesce(bench.sub_doc(st.b_billed, b.p_json, CASE WHEN st.b_cape THEN bench.jt(st.b_pe) ELSE 'null' END,
           st.b_cape, bench.jt(st.b_canceled), CASE WHEN st.b_canceled IS NOT NULL THEN b.reason END, bench.jt(st.b_canceled),
           b.s_json, b.cur, bench.jt(st.b_pe), bench.jt(st.b_ps),
           CASE WHEN st.b_t >= b.plan_at THEN b.amount2 ELSE b.amount1 END * CASE WHEN st.b_t >= b.qty_at THEN b.qty2 ELSE b.qty1 END,
           b.customer, bench.jt(st.b_ended), b.id, CASE WHEN st.b_paused IS NOT NULL THEN bench.jt(st.b_paused) END,
           CASE WHEN st.b_t >= b.plan_at THEN b.plan2 ELSE b.plan1 END, CASE WHEN st.b_t >= b.qty_at THEN b.qty2 ELSE b.qty1 END,
           b.s_json, st.b_status, b.trial_json, bench.jt(st.b_t), st.b_version), 'null')
       || ',"details":' || coalesce(st.details, 'null') || '}'
FROM bench.steps st JOIN bench.subs b ON b.i = st.i
WHERE st.i % :parts = :part;
-- invoice.paid for every billed period (3 % paid at a retry 3 days later), but a dunning's failed one
INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload)
SELECT 'evt_b' || lpad(b.i::text, 17, '0') || 'i1' || lpad(x.k::text, 6, '0'), 'invoice.paid', 'invoice', v.inv,
       'system', 'scheduler', '', v.paid,
       '{"after":' || bench.inv_doc(0, v.total, v.attempts, v.reason, v.ps, b.cur, b.customer, v.failed, v.inv, v.total, v.name, v.pe,
                                     v.ps, v.qty, 'null', v.num, v.paid_json, v.pe, v.ps, 'paid', b.id, v.total, v.total, v.paid_json, 3)
       || ',"before":' || bench.inv_doc(v.total, 0, v.attempts, v.reason, v.ps, b.cur, b.customer, v.failed, v.inv, v.total, v.name,
                                         v.pe, v.ps, v.qty, v.retry, v.num, 'null', v.pe, v.ps, 'open', b.id, v.total, v.total, v.ps, 2)
       || ',"details":{"amount":' || v.total || ',"payment":"pay_b' || lpad(b.i::text, 17, '0') || lpad(x.k::text, 8, '0') || '"}}'
FROM bench.periods x JOIN bench.subs b ON b.i = x.i,
LATERAL (SELECT 'in_b' || lpad(b.i::text, 17, '0') || lpad(x.k::text, 8, '0') AS inv,
                CASE WHEN x.k = 0 THEN 'subscription_create' ELSE 'subscription_cycle' END AS reason,
                CASE WHEN x.t >= b.plan_at THEN b.amount2 ELSE b.amount1 END * CASE WHEN x.t >= b.qty_at THEN b.qty2 ELSE b.qty1 END AS total,
                CASE WHEN x.t >= b.qty_at THEN b.qty2 ELSE b.qty1 END AS qty,
                CASE WHEN x.t >= b.plan_at THEN b.name2 ELSE b.name1 END AS name,
                bench.jt(x.t) AS ps, bench.jt(x.t_next) AS pe,
                CASE WHEN (b.i + x.k) % 33 = 0 THEN bench.jt(x.t) ELSE 'null' END AS failed,
                CASE WHEN (b.i + x.k) % 33 = 0 THEN 2 ELSE 1 END AS attempts,
                CASE WHEN (b.i + x.k) % 33 = 0 THEN bench.jt(x.t + 3 * 86400) ELSE bench.jt(x.t) END AS retry,
                x.t + CASE WHEN (b.i + x.k) % 33 = 0 THEN 3 * 86400 ELSE 0 END AS paid,
                bench.jt(x.t + CASE WHEN (b.i + x.k) % 33 = 0 THEN 3 * 86400 ELSE 0 END) AS paid_json,
                lpad((b.i::bigint * 40 + x.k)::text, 9, '0') AS num
         OFFSET 0) v
WHERE x.i % :parts = :part AND NOT (b.ek IS NOT DISTINCT FROM 'dunning' AND x.k = b.last_k);
SQL

gen_start=$EPOCHREALTIME
psql -X -q -v n="$RN" -v t_end="$t_end" -v seed="$SEED" -v p_bm="$p_bm" -v p_pm="$p_pm" -v p_by="$p_by" -v p_be="$p_be" \
  -v p_pe="$p_pe" -f "$work/gen.sql" >"$work/gen.out" 2>&1 || { cat "$work/gen.out" >&2; exit 1; }
steps_s=$(seconds_since "$gen_start")
for part in $(seq 0 $((PARTS - 1))); do  # the documents are rendered and inserted by PARTS sessions at once
  psql -X -q -v key="$admin_key_id" -v parts="$PARTS" -v part="$part" -f "$work/render.sql" >"$work/render-$part.out" 2>&1 &
  gen_pids+=($!)
done
for p in "${gen_pids[@]}"; do wait "$p" || { cat "$work"/render-*.out >&2; exit 1; }; done
gen_pids=()
sql "VACUUM ANALYZE events"
R[gen.s]=$(seconds_since "$gen_start")
R[gen.events]=$(sql "SELECT count(*) FROM events WHERE id LIKE 'evt\\_b%'")
R[gen.mib]=$(sql "SELECT pg_total_relation_size('events') / 1048576")
R[gen.payload_avg]=$(sql "SELECT round(avg(length(payload))) FROM events WHERE id LIKE 'evt\\_b%'")
sql "SELECT type, count(*) FROM events WHERE id LIKE 'evt\\_b%' GROUP BY type ORDER BY count(*) DESC" | tr '|' ' ' >"$work/types.txt"
sql "SELECT 'subscriptions ' || count(*) || ', trials ' || count(*) FILTER (WHERE trial) || ', yearly ' || count(*) FILTER (WHERE yearly)
       || ', eur ' || count(*) FILTER (WHERE cur = 'eur') || ', ended: at once ' || count(*) FILTER (WHERE ek = 'now')
       || ', at period end ' || count(*) FILTER (WHERE ek = 'period_end') || ', dunning ' || count(*) FILTER (WHERE ek = 'dunning')
       || ', quantity changes ' || count(qty_at) || ', plan changes ' || count(plan_at) || ', pauses ' || count(pause_at)
     FROM bench.subs" >"$work/shape.txt"
run_log "bench: generated ${R[gen.events]} events for $RN subscriptions in ${R[gen.s]} s (states ${steps_s} s, then $PARTS sessions); $(cat "$work/shape.txt")"
run_log "bench: events by type: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$work/types.txt"); table with indexes ${R[gen.mib]} MiB, payload ${R[gen.payload_avg]} B on average"
# What a rebuild must find (checked against the API below): the usd MRR and paying
# subscriptions at the end of the history (every subscription not ended is active then).
expected=$(sql "SELECT sum(CASE WHEN yearly THEN (a + 6) / 12 ELSE a END) || ' ' || count(*)
                FROM (SELECT yearly, CASE WHEN plan_at IS NOT NULL THEN amount2 ELSE amount1 END
                                     * CASE WHEN qty_at IS NOT NULL THEN qty2 ELSE qty1 END AS a
                      FROM bench.subs WHERE ek IS NULL AND cur = 'usd') x")
read -r expected_mrr expected_subs <<<"$expected"

# ---------------------------------------------------------------- rebuild, and the same scan by psql
scan_args=()
for type in subscription invoice refund shipment; do
  scan_args+=(-c "SELECT resource_id, type, created_at, payload, id, actor_type FROM events WHERE resource_type = '$type' ORDER BY resource_id, created_at, id")
done
run_scan() {  # run_scan LABEL: the rebuild's four SELECTs through psql, every row to /dev/null
  local start=$EPOCHREALTIME TIMEFORMAT='%U %S' client
  cpu_begin 0
  { time psql -X -At -v ON_ERROR_STOP=1 "${scan_args[@]}" >/dev/null; } 2>"$work/$1.time"
  client=$(awk '{ printf "%.2f", $1 + $2 }' <(tail -n 1 "$work/$1.time"))
  cpu_end 0 "$client"
  local s; s=$(seconds_since "$start")
  keep "$1" "s=$s events_per_s=$(awk -v n="${R[gen.events]}" -v s="$s" 'BEGIN { printf "%.0f", n / s }') $cpu_line"
  run_log "  $1: psql read ${R[gen.events]} events in $s s | $cpu_line"
}
run_scan scan.r1
start=$EPOCHREALTIME
cpu_begin 0
( ulimit -v $((REBUILD_MEM_GB * 1024 * 1024))
  exec /usr/bin/time -v -o "$work/rebuild.time" timeout "$REBUILD_TIMEOUT" "$recur" analytics rebuild --db "$db" ) \
  >"$work/rebuild.out" 2>"$work/rebuild.log" &
rebuild_pid=$!
gen_pids+=("$rebuild_pid")
if [ "${BENCH_PERF:-}" = 1 ] && command -v perf >/dev/null; then  # time -> timeout -> recur
  for _ in $(seq 50); do
    recur_pid=$(pgrep -P "$(pgrep -P "$rebuild_pid" | head -n 1)" 2>/dev/null | head -n 1) && [ -n "$recur_pid" ] && break
    sleep 0.1
  done
  if [ -n "${recur_pid:-}" ]; then
    perf record -F 499 -g -p "$recur_pid" -o "var/bench/analytics-rebuild-perf-$stamp.data" >"$work/perf-rebuild.out" 2>&1 &
    perf_pid=$!
  fi
fi
rebuild_status=0
wait "$rebuild_pid" || rebuild_status=$?
gen_pids=()
R[rebuild.s]=$(seconds_since "$start")
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=""
  perf_top "var/bench/analytics-rebuild-perf-$stamp.data" >"$work/perf-rebuild.txt"
fi
sleep 1  # let the postmaster reap the rebuild's backend (its CPU counts then)
recur_cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$work/rebuild.time")
cpu_end 0 "$recur_cpu"
R[rebuild.rss_mb]=$(awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$work/rebuild.time")
R[rebuild.read]=$(sed -n 's/.*rebuilt from \([0-9]*\) events.*/\1/p' "$work/rebuild.log")
keep rebuild "$cpu_line"
if [ "$rebuild_status" != 0 ] || [ -z "${R[rebuild.read]}" ]; then
  run_log "bench: recur analytics rebuild FAILED (exit $rebuild_status after ${R[rebuild.s]} s; peak RSS ${R[rebuild.rss_mb]} MB, limit ${REBUILD_MEM_GB} GB, timeout ${REBUILD_TIMEOUT} s):"
  tail -n 5 "$work/rebuild.log" | tee -a "$work/log.txt" >&2
  exit 1
fi
R[rebuild.events_per_s]=$(awk -v n="${R[rebuild.read]}" -v s="${R[rebuild.s]}" 'BEGIN { printf "%.0f", n / s }')
run_log "  rebuild: ${R[rebuild.read]} events in ${R[rebuild.s]} s = ${R[rebuild.events_per_s]} events/s, peak RSS ${R[rebuild.rss_mb]} MB | $cpu_line"
run_scan scan.r2
R[scan.best]=$(awk -v a="${R[scan.r1.events_per_s]}" -v b="${R[scan.r2.events_per_s]}" 'BEGIN { print (a > b ? a : b) }')
for t in analytics_subscriptions analytics_points analytics_movements analytics_customers analytics_daily analytics_invoices analytics_activity; do
  R[rows1.$t]=$(sql "SELECT count(*) FROM $t")
done

# ---------------------------------------------------------------- N subscriptions: copies of the rebuilt tables
# Copy c (1..COPIES-1) of every row under ids whose two leading digits are c (ids stay the
# server's length); analytics_daily keeps its (currency, day, shard) rows, its sums times COPIES.
if ((COPIES > 1)); then
  start=$EPOCHREALTIME
  psql -X -q -v ON_ERROR_STOP=1 -v c="$COPIES" >"$work/copy.out" 2>&1 <<'SQL' || { cat "$work/copy.out" >&2; exit 1; }
SET max_parallel_workers_per_gather = 0;
CREATE FUNCTION pg_temp.cp(id text, at int, c int) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT overlay(id placing lpad(c::text, 2, '0') from at for 2) $$;
INSERT INTO analytics_subscriptions
SELECT pg_temp.cp(subscription_id, 6, c), pg_temp.cp(customer_id, 6, c), currency, plan_id, coupon, status, mrr, last_at, points,
       started_at, ended_at, created_at
FROM analytics_subscriptions, generate_series(1, :c - 1) c WHERE subscription_id LIKE 'sub\_b00%';
INSERT INTO analytics_points
SELECT pg_temp.cp(subscription_id, 6, c), seq, pg_temp.cp(customer_id, 6, c), currency, plan_id, at, mrr_before, mrr, cause
FROM analytics_points, generate_series(1, :c - 1) c WHERE subscription_id LIKE 'sub\_b00%';
INSERT INTO analytics_movements
SELECT pg_temp.cp(customer_id, 6, c), currency, at, kind, amount, mrr_before, mrr_after, churn_type
FROM analytics_movements, generate_series(1, :c - 1) c WHERE customer_id LIKE 'cus\_b00%';
INSERT INTO analytics_customers
SELECT pg_temp.cp(customer_id, 6, c), currency, first_paid_at
FROM analytics_customers, generate_series(1, :c - 1) c WHERE customer_id LIKE 'cus\_b00%';
INSERT INTO analytics_invoices
SELECT pg_temp.cp(invoice_id, 5, c), pg_temp.cp(customer_id, 6, c), pg_temp.cp(subscription_id, 6, c), currency, billing_reason,
       due_at, status, total, amount_paid, attempt_count, first_failed_at, paid_at
FROM analytics_invoices, generate_series(1, :c - 1) c WHERE invoice_id LIKE 'in\_b00%';
INSERT INTO analytics_activity
SELECT pg_temp.cp(event_id, 6, c), pg_temp.cp(subscription_id, 6, c), pg_temp.cp(customer_id, 6, c), at, kind, reason, offer
FROM analytics_activity, generate_series(1, :c - 1) c WHERE event_id LIKE 'evt\_b00%';
UPDATE analytics_daily SET new_mrr = new_mrr * :c, expansion = expansion * :c, contraction = contraction * :c,
  churn = churn * :c, reactivation = reactivation * :c, count_new = count_new * :c, count_expansion = count_expansion * :c,
  count_contraction = count_contraction * :c, count_churn = count_churn * :c, count_reactivation = count_reactivation * :c,
  subscriptions_started = subscriptions_started * :c, subscriptions_stopped = subscriptions_stopped * :c;
SQL
  R[copy.s]=$(seconds_since "$start")
fi
for t in analytics_subscriptions analytics_points analytics_movements analytics_customers analytics_daily analytics_invoices analytics_activity; do
  sql "VACUUM ANALYZE $t"
  R[rows.$t]=$(sql "SELECT count(*) FROM $t")
done
R[analytics.mb]=$(sql "SELECT (sum(pg_total_relation_size(relid)) / 1048576)::bigint FROM pg_stat_user_tables WHERE relname LIKE 'analytics\\_%'")
run_log "bench: tables for $N subscriptions (x $COPIES${R[copy.s]:+ in ${R[copy.s]} s}, ${R[analytics.mb]} MiB): $(for t in analytics_subscriptions analytics_points analytics_movements analytics_customers analytics_daily analytics_invoices analytics_activity; do echo -n "${t#analytics_} ${R[rows.$t]}; "; done)"

# ---------------------------------------------------------------- the reports over HTTP
analyst_key=$("$recur" keys create --role analyst --db "$db" 2>/dev/null | tail -n 1)
start_server reports
from_t=$(date -u -d "$(date -u -d "@$t_end" +%Y-%m-01) -24 months" +%s)
from=$(date -u -d "@$from_t" +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d "@$t_end" +%Y-%m-%dT%H:%M:%SZ)
range="from=$from&to=$to&interval=month&currency=usd"
REPORTS="movements cohorts churn mrr"
declare -A PATHS=([movements]="/v1/analytics/mrr-movements?$range" [cohorts]="/v1/analytics/cohorts?$range"
                  [churn]="/v1/analytics/churn?$range" [mrr]="/v1/analytics/mrr?at=$to&currency=usd")
run_log "bench: reports from $from to $to (month buckets, usd), recur serve on $server_url"

# The MRR the API reports at the end of the history is the generated one, times the copies.
mrr_json=$(curl -sf -H "Authorization: Bearer $analyst_key" "$server_url${PATHS[mrr]}")
R[check.mrr]=$(json_field mrr <<<"$mrr_json")
R[check.subs]=$(json_field subscriptions <<<"$mrr_json")
R[check.expected_mrr]=$((expected_mrr * COPIES))
R[check.expected_subs]=$((expected_subs * COPIES))
if [ "${R[check.mrr]}" = "${R[check.expected_mrr]}" ] && [ "${R[check.subs]}" = "${R[check.expected_subs]}" ]; then
  R[check]=ok
else
  R[check]=MISMATCH
fi
run_log "bench: check: MRR at $to ${R[check.mrr]} (generated: ${R[check.expected_mrr]}), paying subscriptions ${R[check.subs]} (${R[check.expected_subs]}): ${R[check]}"

cat >"$work/lat.py" <<'PY'
# Sequential timed GETs on one keep-alive connection: at most n requests or `budget` seconds.
import http.client, sys, time
host, port, path, key, n, budget = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
conn = http.client.HTTPConnection(host, port, timeout=900)
lat, codes, size = [], {}, 0
start = time.perf_counter()
while len(lat) < n and (not lat or time.perf_counter() - start < budget):
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = conn.getresponse()
    body = r.read()
    lat.append((time.perf_counter() - t0) * 1000)
    codes[r.status] = codes.get(r.status, 0) + 1
    size = len(body)
total = time.perf_counter() - start
s = sorted(lat)
pct = lambda p: s[min(len(s) - 1, int(len(s) * p / 100))]
print("LAT requests=%d seconds=%.1f p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f min_ms=%.1f mean_ms=%.1f bytes=%d status=%s"
      % (len(s), total, pct(50), pct(90), pct(99), s[-1], s[0], sum(s) / len(s), size,
         ",".join("%d:%d" % kv for kv in sorted(codes.items()))))
PY
server_port=${server_url##*:}
for report in $REPORTS; do
  path=${PATHS[$report]}
  # The first request (cold: the tables' pages may not be in PostgreSQL's cache yet), then one more.
  R[$report.first_ms]=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $analyst_key" "$server_url$path" | awk '{ printf "%.1f", $1 * 1000 }')
  curl -s -o /dev/null -H "Authorization: Bearer $analyst_key" "$server_url$path"
  if [ "${BENCH_PERF:-}" = 1 ] && [ "$report" = cohorts ] && command -v perf >/dev/null; then
    perf record -F 499 -g -p "$server_pid" -o "var/bench/analytics-perf-$stamp.data" >"$work/perf.out" 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  cpu_begin "$server_pid"
  TIMEFORMAT='%U %S'
  { time python3 "$work/lat.py" 127.0.0.1 "$server_port" "$path" "$analyst_key" "$REQUESTS" "$QUERY_SECONDS" >"$work/lat-$report.out"; } 2>"$work/lat-$report.time"
  cpu_end "$server_pid" "$(awk '{ printf "%.2f", $1 + $2 }' <(tail -n 1 "$work/lat-$report.time"))"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=""
    perf_top "var/bench/analytics-perf-$stamp.data" >"$work/perf.txt"
  fi
  line=$(grep '^LAT ' "$work/lat-$report.out"); line=${line#LAT }
  keep "$report" "$line $cpu_line"
  n=$(field requests "$line")
  R[$report.server_ms]=$(awk -v c="$(field proc_cpu_s "$cpu_line")" -v n="$n" 'BEGIN { printf "%.1f", 1000 * c / n }')
  R[$report.pg_ms]=$(awk -v c="$(field pg_cpu_s "$cpu_line")" -v n="$n" 'BEGIN { printf "%.1f", 1000 * c / n }')
  run_log "  $report: first ${R[$report.first_ms]} ms, then $line | $cpu_line"
done

# ---------------------------------------------------------------- the SQL of one request of each
cat >"$work/sqllog.py" <<'PY'
# The statements one request sent, from PostgreSQL's log (log_min_duration_statement = 0): the
# connection that touched analytics_*, each statement's duration and parameters. Prints a
# summary line, then each statement as "ms<TAB>sql-with-literals" for EXPLAIN.
import re, sys
text = open(sys.argv[1], errors="replace").read()[int(sys.argv[2]):]
line_re = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (LOG|DETAIL):  (.*)$")
stmts = []  # [pid, kind, ms, sql, params]
for line in text.splitlines():
    m = line_re.match(line)
    if not m:
        continue
    pid, level, msg = m.groups()
    if level == "LOG":
        d = re.match(r"duration: ([\d.]+) ms  (statement|parse|bind|execute)[^:]*: (.*)", msg)
        if d:
            stmts.append([pid, d.group(2), float(d.group(1)), d.group(3), {}])
    elif msg.startswith("parameters: ") and stmts and stmts[-1][0] == pid:
        for k, v in re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", msg):
            stmts[-1][4][int(k)] = v
first = next((i for i, s in enumerate(stmts) if "analytics_" in s[3]), None)
if first is None:
    print("SQL statements=0 db_ms=0"); sys.exit()
# The report's transaction: its connection's statements from the BEGIN before the first
# analytics_ statement to the COMMIT after it (the pool's connections also serve the
# deliverer and the key lookup).
pid = stmts[first][0]
mine = [s for s in stmts if s[0] == pid]
at = next(i for i, s in enumerate(mine) if s is stmts[first])
lo = max((i for i in range(at + 1) if mine[i][3].startswith("BEGIN")), default=at)
hi = next((i for i in range(at, len(mine)) if mine[i][3].startswith(("COMMIT", "ROLLBACK"))), len(mine) - 1)
mine = mine[lo:hi + 1]
run = [s for s in mine if s[1] in ("statement", "execute")]
total = sum(s[2] for s in mine)
print("SQL statements=%d db_ms=%.1f parse_bind_ms=%.1f slowest_ms=%.1f" % (len(run), total, sum(s[2] for s in mine if s[1] in ("parse", "bind")), max(s[2] for s in run)))
for s in run:
    q = s[3]
    for k in sorted(s[4], reverse=True):
        q = q.replace("$%d" % k, s[4][k])
    print("%.1f\t%s" % (s[2], q))
PY
for report in $REPORTS; do
  offset=$(stat -c %s "$pg_log")
  sql "ALTER SYSTEM SET log_min_duration_statement = 0" && sql "SELECT pg_reload_conf()" >/dev/null && sleep 0.5
  R[$report.logged_ms]=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $analyst_key" "$server_url${PATHS[$report]}" | awk '{ printf "%.1f", $1 * 1000 }')
  sleep 0.3
  sql "ALTER SYSTEM RESET log_min_duration_statement" && sql "SELECT pg_reload_conf()" >/dev/null
  python3 "$work/sqllog.py" "$pg_log" "$offset" >"$work/sql-$report.txt"
  line=$(head -n 1 "$work/sql-$report.txt"); line=${line#SQL }
  keep "$report.sql" "$line"
  run_log "  $report, one request with its SQL logged: ${R[$report.logged_ms]} ms; $line"
  {
    echo "  $report: statements (ms, first 160 characters):"
    tail -n +2 "$work/sql-$report.txt" | cut -c1-170 | sed 's/^/    /'
  } >>"$work/log.txt"
  # EXPLAIN ANALYZE of each statement but BEGIN/COMMIT, with the request's parameters.
  tail -n +2 "$work/sql-$report.txt" | cut -f2- | grep -v -E '^(BEGIN|COMMIT|ROLLBACK)' | while IFS= read -r q; do
    echo "    EXPLAIN (ANALYZE, BUFFERS) $q" | cut -c1-200
    psql -X -q -v ON_ERROR_STOP=1 -c "EXPLAIN (ANALYZE, BUFFERS) $q" 2>&1 | sed 's/^/      /'
  done >>"$work/explain-$report.txt" || true
done
stop_pid "$server_pid"; server_pid=""

# ---------------------------------------------------------------- report
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "met" : "MISSED") }'; }
{
  echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo "- recur: build/recur of $recur_built; the tree was at $recur_rev when the run started"
  echo "- PostgreSQL $(sql 'SHOW server_version') with fsync=off; machine busy before the run: ${background}%; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- generated: $RN subscriptions ($(cat "$work/shape.txt")), history to $to; ${R[gen.events]} events in ${R[gen.s]} s ($PARTS sessions), events table ${R[gen.mib]} MiB, payload ${R[gen.payload_avg]} B on average"
  echo "- events by type: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$work/types.txt")"
  echo
  echo "| run | events | s | events/s | peak RSS | recur or psql CPU s | PostgreSQL CPU s | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| psql, the rebuild's four SELECTs, before the rebuild | ${R[gen.events]} | ${R[scan.r1.s]} | ${R[scan.r1.events_per_s]} | — | ${R[scan.r1.client_cpu_s]} | ${R[scan.r1.pg_cpu_s]} | ${R[scan.r1.other_cores]} |"
  echo "| \`recur analytics rebuild\` | ${R[rebuild.read]} | ${R[rebuild.s]} | **${R[rebuild.events_per_s]}** | ${R[rebuild.rss_mb]} MB | ${R[rebuild.client_cpu_s]} | ${R[rebuild.pg_cpu_s]} | ${R[rebuild.other_cores]} |"
  echo "| psql, the same, after the rebuild | ${R[gen.events]} | ${R[scan.r2.s]} | ${R[scan.r2.events_per_s]} | — | ${R[scan.r2.client_cpu_s]} | ${R[scan.r2.pg_cpu_s]} | ${R[scan.r2.other_cores]} |"
  echo
  echo "rebuild ÷ psql (the faster of the two): **$(awk -v a="${R[rebuild.events_per_s]}" -v b="${R[scan.best]}" 'BEGIN { printf "%.3f", a / b }')** (${R[rebuild.events_per_s]} / ${R[scan.best]} events/s)."
  echo
  echo "Tables the reports read, for $N subscriptions ($( ((COPIES > 1)) && echo "the rebuilt rows x $COPIES, copied in ${R[copy.s]} s" || echo "as rebuilt"); ${R[analytics.mb]} MiB with indexes):"
  echo "$(for t in analytics_subscriptions analytics_points analytics_movements analytics_customers analytics_daily analytics_invoices analytics_activity; do echo -n "\`${t}\` ${R[rows.$t]}; "; done)"
  echo "check: MRR at $to ${R[check.mrr]} (generated ${R[check.expected_mrr]}), paying subscriptions ${R[check.subs]} (${R[check.expected_subs]}): **${R[check]}**."
  echo
  echo "| report (usd, month buckets, $from to $to) | requests | first ms | p50 ms | p90 ms | p99 ms | max ms | body bytes | recur CPU ms/req | PostgreSQL CPU ms/req | statements | their time in PostgreSQL ms | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for report in $REPORTS; do
    echo "| $report | ${R[$report.requests]} (${R[$report.seconds]} s) | ${R[$report.first_ms]} | ${R[$report.p50_ms]} | ${R[$report.p90_ms]} | ${R[$report.p99_ms]} | ${R[$report.max_ms]} | ${R[$report.bytes]} | ${R[$report.server_ms]} | ${R[$report.pg_ms]} | ${R[$report.sql.statements]:-} | ${R[$report.sql.db_ms]:-} | ${R[$report.other_cores]} |"
  done
  echo
  echo "Requests: sequential, one keep-alive connection, at most $REQUESTS or ${QUERY_SECONDS} s per report (statuses: $(for r in $REPORTS; do echo -n "$r ${R[$r.status]}; "; done))."
  echo "Statements and their time: one more request of each with log_min_duration_statement = 0 (it took $(for r in $REPORTS; do echo -n "$r ${R[$r.logged_ms]} ms; "; done)); statements and EXPLAIN ANALYZE below."
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| p99 of GET /v1/analytics/mrr-movements < 200 ms | ${R[movements.p99_ms]} ms | $(verdict "${R[movements.p99_ms]}" 200) |"
  echo "| p99 of GET /v1/analytics/cohorts < 200 ms | ${R[cohorts.p99_ms]} ms | $(verdict "${R[cohorts.p99_ms]}" 200) |"
} | tee "$out"
{
  echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'
  [ -s "$work/perf-rebuild.txt" ] && { echo; echo "### perf report of recur analytics rebuild (perf record -F 499 -g)"; echo; echo '```'; cat "$work/perf-rebuild.txt"; echo '```'; }
  [ -s "$work/perf.txt" ] && { echo; echo "### perf report of recur serve during the cohorts run (perf record -F 499 -g)"; echo; echo '```'; cat "$work/perf.txt"; echo '```'; }
  for report in $REPORTS; do
    [ -s "$work/explain-$report.txt" ] || continue
    echo; echo "### EXPLAIN ANALYZE: $report"; echo; echo '```'; cat "$work/explain-$report.txt"; echo '```'
  done
} >>"$out"
echo "bench: results (and the per-run log, statements and plans) written to $out" >&2
exit
}
