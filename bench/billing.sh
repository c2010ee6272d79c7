# The billing-run benchmark (sourced by bench/run.sh, which provides sql, run_log, R,
# free_port, wait_http, stop_pid, json_field, cpu_begin/cpu_end/cpu_report, $recur, $work).
#
#   - its own database (recur_billing) on the same throw-away PostgreSQL;
#   - through the API (bench/seed_mix.py, as bench/billing_mix.sh seeds): a plan, and per
#     subscription a customer with a sandbox card (pm_card_visa) and a subscription whose
#     first invoice is charged at signup; every row is the API's own (sealed personal data,
#     per-customer data keys, blind indexes);
#   - `recur bill --until <the last renewal due + 1 h>` over N/10 such subscriptions (set
#     `a`), then over N more (`b`) seeded after it (each renews once: lifecycle step +
#     invoice + shipment + sandbox charge + outcome), timed, with peak RSS;
#   - the raw baseline: pgbench writing the same rows per renewal in the same
#     transactions as before batches (bench/pgbench/billing_renewal.sql), with as many
#     clients as recur has workers, on N SQL copies (`c`) of one API-made subscription;
#   - the hardware's ceiling for the same rows: pgbench writing them set-based, B
#     renewals a transaction (bench/pgbench/billing_renewal_setbased.sql), on N more (`d`);
#   - checks that every subscription was billed exactly like the first one.
#
# Knobs: BENCH_PERF (1: perf record recur's big run into var/bench/billing-perf-<time>.txt),
# BENCH_BILLING_N (100000), BENCH_BILLING_WORKERS (recur bill --workers; default
# recur's own), BENCH_BILLING_BATCH_RECUR (recur bill --batch; default recur's own, 50),
# BENCH_BILLING_CLIENTS (pgbench -c; default: the workers, or 4),
# BENCH_BILLING_BATCH (renewals a transaction in the set-based ceiling run, 500).

bench_billing() {
  local N=${BENCH_BILLING_N:-100000}
  local small=$(( N / 10 ))
  local workers=${BENCH_BILLING_WORKERS:-}
  local clients=${BENCH_BILLING_CLIENTS:-${workers:-4}}
  local bdb=${db%/*}/recur_billing
  local wflags=()
  [ -n "$workers" ] && wflags=(--workers "$workers")
  [ -n "${BENCH_BILLING_BATCH_RECUR:-}" ] && wflags+=(--batch "$BENCH_BILLING_BATCH_RECUR")
  bsql() { PGDATABASE=recur_billing sql "$@"; }

  run_log "billing: N=$N (and N/10=$small), recur bill ${wflags[*]:-(default workers and batch)}, pgbench -c $clients"
  sql "DROP DATABASE IF EXISTS recur_billing" >/dev/null
  createdb --template=template0 --locale-provider=icu --icu-locale=en-US --locale=C.UTF-8 recur_billing
  "$recur" migrate --db "$bdb" >/dev/null 2>"$work/billing-migrate.log" || { cat "$work/billing-migrate.log" >&2; return 1; }
  local key port url pid
  key=$("$recur" keys create --role admin --db "$bdb" 2>/dev/null | tail -n 1)
  port=$(free_port)
  url="http://127.0.0.1:$port"
  # serve: the API for seeding, stopped before a timed run.
  bserve() {
    "$recur" serve --db "$bdb" --listen "127.0.0.1:$port" --no-access-log >>"$work/billing-serve.out" 2>>"$work/billing-serve.log" &
    pid=$!
    wait_http "$url/healthz" || { tail -n 20 "$work/billing-serve.log" >&2; return 1; }
  }
  bserve || return 1
  bapi() { curl -sf -X "$1" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' ${3:+-d "$3"} "$url$2"; }
  local product plan
  product=$(bapi POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"BENCH-COFFEE-250","amount":1200,"currency":"EUR"}' | json_field id)
  plan=$(bapi POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
  # bseed TAG COUNT: COUNT plain subscriptions through the API, metadata.run = TAG (the
  # server up); the first invoice of each is charged at signup. Sets R[billing.seed_TAG_s].
  bseed() {
    local t0=$EPOCHREALTIME
    python3 bench/seed_mix.py "$url" "$key" "$plan" "$plan" none none "$1" plain="$2" >/dev/null \
      || { run_log "billing: seeding $2 subscriptions ($1) through the API failed"; return 1; }
    R[billing.seed_$1_s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    run_log "billing: seeded $2 subscriptions ($1) through the API in ${R[billing.seed_$1_s]} s"
  }
  # until_of TAG: an hour after the last renewal due of those subscriptions (created over
  # a few minutes, they fall due over as many; each renews once: the next is a month on).
  local until due_max
  until_of() {
    due_max=$(bsql "SELECT max(next_action_at) FROM subscriptions WHERE doc::jsonb->'metadata'->>'run' = '$1'")
    until=$(date -u -d "@$((due_max + 3600))" +%Y-%m-%dT%H:%M:%SZ)
    R[billing.until_$1]=$until
    run_log "billing: $1 falls due from $(date -u -d "@$(bsql "SELECT min(next_action_at) FROM subscriptions WHERE doc::jsonb->'metadata'->>'run' = '$1'")" +%FT%TZ) to $(date -u -d "@$due_max" +%FT%TZ); bill --until $until"
  }
  bseed a "$small" || { stop_pid "$pid"; return 1; }
  stop_pid "$pid"
  # Every first invoice paid at signup: nothing of it is left for the timed runs.
  local first_paid
  first_paid=$(bsql "SELECT count(*) FROM invoices WHERE period_seq = 1 AND status = 'paid'")
  [ "$first_paid" = "$small" ] || { run_log "billing: $first_paid of $small first invoices are paid after signup"; return 1; }
  # The template of the raw runs' SQL copies and the reference of the check: the first `a`
  # subscription, its rows as the API left them (its renewal changes them).
  local cus pm sub
  sub=$(bsql "SELECT id FROM subscriptions WHERE doc::jsonb->'metadata'->>'run' = 'a' ORDER BY id LIMIT 1")
  cus=$(bsql "SELECT customer_id FROM subscriptions WHERE id = '$sub'")
  pm=$(bsql "SELECT id FROM payment_methods WHERE customer_id = '$cus' ORDER BY id LIMIT 1")
  bsql "CREATE TABLE bench_tpl_customers AS SELECT * FROM customers WHERE id = '$cus';
        CREATE TABLE bench_tpl_gateway_customers AS SELECT * FROM gateway_customers WHERE customer_id = '$cus';
        CREATE TABLE bench_tpl_payment_methods AS SELECT * FROM payment_methods WHERE id = '$pm';
        CREATE TABLE bench_tpl_subscriptions AS SELECT * FROM subscriptions WHERE id = '$sub';
        CREATE TABLE bench_tpl_analytics_subscriptions AS SELECT * FROM analytics_subscriptions WHERE subscription_id = '$sub';
        CREATE TABLE bench_tpl_analytics_customers AS SELECT * FROM analytics_customers WHERE customer_id = '$cus';
        CREATE TABLE bench_tpl_data_keys AS SELECT * FROM data_keys WHERE id = '$cus'" >/dev/null
  until_of a
  run_log "billing: template $sub (customer $cus, $pm, plan $plan)"

  # clone TAG FROM TO: SQL copies i in [FROM, TO] of the template, for the pgbench runs (they
  # write raw rows and must find the subscriptions, customers... they update). Ids:
  # <prefix>_000000<tag><10^18 + i> (26 characters after the prefix, like the generator's),
  # computable by pgbench; the ids inside the documents replaced. Every column is copied
  # (jsonb_populate_record), the sealed fields verbatim: bound to the template's ids they
  # could not be opened under the copies', but pgbench never opens them (recur never sees
  # these rows). The blind indexes are made unique per copy, the sandbox's gateway customer
  # recomputed as the sandbox derives it.
  clone() {
    local tag=$1 from=$2 to=$3
    bsql "
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
  SELECT i, 'cus_000000$tag' || (1000000000000000000 + i) AS cus, 'pmt_000000$tag' || (1000000000000000000 + i) AS pm,
         'sub_000000$tag' || (1000000000000000000 + i) AS sub,
         'cus_sandbox_' || left(encode(sha256(convert_to('cus_000000$tag' || (1000000000000000000 + i), 'UTF8')), 'hex'), 16) AS gw
  FROM generate_series($from, $to) i;
INSERT INTO customers SELECT (jsonb_populate_record(NULL::customers, to_jsonb(c) || jsonb_build_object('id', ids.cus,
    'email_index', encode(sha256(convert_to(ids.cus || ':email', 'UTF8')), 'hex'),
    'phone_index', CASE WHEN c.phone_index IS NULL THEN NULL ELSE encode(sha256(convert_to(ids.cus || ':phone', 'UTF8')), 'hex') END,
    'doc', replace(replace(c.doc, '$cus', ids.cus), '$pm', ids.pm)))).*
  FROM ids, bench_tpl_customers c;
INSERT INTO data_keys SELECT (jsonb_populate_record(NULL::data_keys, to_jsonb(k) || jsonb_build_object('id', ids.cus))).*
  FROM ids, bench_tpl_data_keys k;
INSERT INTO gateway_customers SELECT (jsonb_populate_record(NULL::gateway_customers, to_jsonb(g)
    || jsonb_build_object('customer_id', ids.cus, 'gateway_customer', ids.gw))).*
  FROM ids, bench_tpl_gateway_customers g;
INSERT INTO payment_methods SELECT (jsonb_populate_record(NULL::payment_methods, to_jsonb(p)
    || jsonb_build_object('id', ids.pm, 'customer_id', ids.cus, 'gateway_customer', ids.gw, 'request_key', NULL))).*
  FROM ids, bench_tpl_payment_methods p;
INSERT INTO subscriptions SELECT (jsonb_populate_record(NULL::subscriptions, to_jsonb(s)
    || jsonb_build_object('id', ids.sub, 'customer_id', ids.cus, 'request_key', NULL,
                          'doc', replace(replace(s.doc, '$sub', ids.sub), '$cus', ids.cus)))).*
  FROM ids, bench_tpl_subscriptions s;
INSERT INTO analytics_subscriptions SELECT (jsonb_populate_record(NULL::analytics_subscriptions, to_jsonb(a)
    || jsonb_build_object('subscription_id', ids.sub, 'customer_id', ids.cus))).*
  FROM ids, bench_tpl_analytics_subscriptions a;
INSERT INTO analytics_customers SELECT (jsonb_populate_record(NULL::analytics_customers, to_jsonb(a)
    || jsonb_build_object('customer_id', ids.cus))).*
  FROM ids, bench_tpl_analytics_customers a;
COMMIT;
ANALYZE customers; ANALYZE data_keys; ANALYZE gateway_customers; ANALYZE payment_methods; ANALYZE subscriptions;
ANALYZE analytics_subscriptions; ANALYZE analytics_customers;" >/dev/null
  }
  # The template's own gateway customer must be what the sandbox derives (the copies' are computed the same way).
  local gc_check
  gc_check=$(bsql "SELECT count(*) FROM gateway_customers WHERE customer_id = '$cus'
                     AND gateway_customer = 'cus_sandbox_' || left(encode(sha256(convert_to(customer_id, 'UTF8')), 'hex'), 16)")
  [ "$gc_check" = 1 ] || run_log "billing: WARNING: the template's gateway customer is not sha256-derived; the SQL copies differ from it"

  # table_writes FILE / write_profile KEY BEFORE AFTER RENEWALS: rows inserted, updated and
  # deleted per table (pg_stat_user_tables) during a run, per renewal, into R[billing.KEY.writes]
  # and the log: says whether the pgbench runs write what recur writes, table by table.
  table_writes() { bsql "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname" >"$1"; }
  write_profile() {
    R[billing.$1.writes]=$(awk -F'|' -v n="$4" 'NR == FNR { i[$1] = $2; u[$1] = $3; d[$1] = $4; next }
      { di = $2 - i[$1]; du = $3 - u[$1]; dd = $4 - d[$1]
        if (di + du + dd > 0) { printf "%s%s%s%s%s", sep, $1, (di ? sprintf(" +%.2f", di / n) : ""), (du ? sprintf(" ~%.2f", du / n) : ""), (dd ? sprintf(" -%.2f", dd / n) : ""); sep = ", " } }' "$2" "$3")
    run_log "  billing.$1 rows per renewal (+ inserted, ~ updated, - deleted): ${R[billing.$1.writes]}"
  }

  # bill_run LABEL EXPECTED: one timed `recur bill`; fills R[billing.LABEL.*]
  bill_run() {
    local label=$1 expected=$2 t0 t1 rss cpu
    wait_quiet
    bsql "CHECKPOINT" >/dev/null
    table_writes "$work/billing-$label.tw0"
    cpu_begin 0
    t0=$EPOCHREALTIME
    local profile=()  # BENCH_PERF=1: a CPU profile of recur's big run (its figures then carry perf's cost)
    if [ "${BENCH_PERF:-}" = 1 ] && [ "$label" = big ] && command -v perf >/dev/null; then
      profile=(perf record -F 999 -g -o "$work/billing-perf.data" --)
    fi
    /usr/bin/time -v -o "$work/billing-$label.time" "${profile[@]}" "$recur" bill --db "$bdb" --until "$until" --no-progress \
      "${wflags[@]}" >"$work/billing-$label.json" 2>"$work/billing-$label.log" || true
    t1=$EPOCHREALTIME
    sleep 1  # recur's backends have exited; let the postmaster reap them (their CPU counts then)
    cpu_end 0
    if [ ${#profile[@]} -gt 0 ]; then
      perf report -i "$work/billing-perf.data" --no-children -g none --sort dso,symbol --percent-limit 0.5 --stdio 2>/dev/null \
        | grep -v '^$' | cut -c1-160 | sed 's/ *$//' | head -n 120 >"var/bench/billing-perf-$(date -u +%Y%m%dT%H%M%SZ).txt" || true
    fi
    table_writes "$work/billing-$label.tw1"
    write_profile "$label" "$work/billing-$label.tw0" "$work/billing-$label.tw1" "$expected"
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/billing-$label.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$work/billing-$label.time")
    cpu_report "$cpu" "$expected"
    local summary advanced succeeded
    summary=$(tail -n 1 "$work/billing-$label.json")
    advanced=$(json_field subscriptions_advanced <<<"$summary" 2>/dev/null || echo 0)
    # payments.succeeded, or -1 with any lifecycle failure, payment failure or error
    succeeded=$(python3 -c 'import json,sys; s = json.load(sys.stdin); p = s["payments"]
print(p["succeeded"] if s["lifecycle_failures"] == 0 and p["failed"] == 0 and p["errors"] == 0 and p["unknown"] == 0 else -1)' <<<"$summary" 2>/dev/null || echo 0)
    local line
    line=$(awk -v n="$expected" -v a="$t0" -v b="$t1" -v rss="$rss" 'BEGIN {
      printf "rps=%.1f renewals=%d seconds=%.2f rss_mb=%.1f", n / (b - a), n, b - a, rss / 1024 }')
    R[billing.$label.line]="$line $cpu_line"
    for kv in $line $cpu_line; do R[billing.$label.${kv%%=*}]=${kv#*=}; done
    R[billing.$label.summary]=$summary
    run_log "  billing.$label: $line | recur CPU ${cpu}s | $cpu_line"
    run_log "  billing.$label: $summary"
    if [ "$advanced" != "$expected" ] || [ "$succeeded" != "$expected" ]; then
      R[billing.errors]="${R[billing.errors]:-}$label: expected $expected renewals and charges, got $advanced / $succeeded (-1: failures or errors); "
      run_log "billing: WARNING: $label advanced $advanced and charged $succeeded, expected $expected"
      tail -n 5 "$work/billing-$label.log" >&2
    fi
  }

  bill_run small "$small"
  bserve || return 1
  bseed b "$N" || { stop_pid "$pid"; return 1; }
  stop_pid "$pid"
  R[billing.seed_s]=${R[billing.seed_b_s]}
  until_of b  # N more, due after the N/10 (renewed already: their next renewal is a month on)
  bill_run big "$N"

  # Billed exactly like the template (the first `a` subscription): same invoice lines (but
  # their period) and amounts; each renewal invoice's period follows its first invoice's,
  # paid at its run's time (--until); one succeeded payment and one sandbox charge per
  # invoice, one receipt, one shipment (paid), nothing failed, nothing left due.
  local period_seq ref check
  period_seq=$(bsql "SELECT period_seq FROM invoices WHERE subscription_id = '$sub' ORDER BY period_seq DESC LIMIT 1")
  ref="(SELECT doc::jsonb AS d FROM invoices WHERE subscription_id = '$sub' AND period_seq = $period_seq)"
  local lines="(SELECT jsonb_agg(l - 'period') FROM jsonb_array_elements(inv.d->'lines') l)"
  check=$(bsql "
WITH inv AS (SELECT i.*, i.doc::jsonb AS d FROM invoices i WHERE period_seq = $period_seq)
SELECT json_build_object(
  'invoices', (SELECT count(*) FROM inv),
  'paid', (SELECT count(*) FROM inv WHERE status = 'paid'),
  'differing_from_template', (SELECT count(*) FROM inv, $ref r WHERE
      ($lines, inv.d->'subtotal', inv.d->'total', inv.d->'amount_paid', inv.d->'billing_reason', inv.d->'currency',
       inv.d->'attempt_count')
      IS DISTINCT FROM
      ((SELECT jsonb_agg(l - 'period') FROM jsonb_array_elements(r.d->'lines') l), r.d->'subtotal', r.d->'total',
       r.d->'amount_paid', r.d->'billing_reason', r.d->'currency', r.d->'attempt_count')),
  'period_not_following', (SELECT count(*) FROM inv JOIN invoices f ON f.subscription_id = inv.subscription_id AND f.period_seq = inv.period_seq - 1
                           WHERE inv.d->'period'->>'start' IS DISTINCT FROM f.doc::jsonb->'period'->>'end'
                              OR inv.d->'lines'->0->'period' IS DISTINCT FROM inv.d->'period'),
  'paid_not_at_run', (SELECT count(*) FROM inv WHERE inv.d->>'paid_at' IS DISTINCT FROM
                      CASE WHEN inv.d->>'subscription' IN (SELECT id FROM subscriptions WHERE doc::jsonb->'metadata'->>'run' = 'a')
                           THEN '${R[billing.until_a]}' ELSE '${R[billing.until_b]}' END),
  'payments_succeeded', (SELECT count(*) FROM payments p JOIN inv ON p.invoice_id = inv.id WHERE p.status = 'succeeded'),
  'payments_other', (SELECT count(*) FROM payments p JOIN inv ON p.invoice_id = inv.id WHERE p.status <> 'succeeded'),
  'sandbox_charges', (SELECT count(*) FROM sandbox_charges c JOIN payments p ON p.idempotency_key = c.idempotency_key
                      JOIN inv ON p.invoice_id = inv.id WHERE c.status = 'succeeded'),
  'events_per_renewal', (SELECT round(count(*)::numeric / greatest(1, (SELECT count(*) FROM inv)), 2) FROM events
                         WHERE created_at >= (SELECT min(created_at) FROM inv)),
  'audit_per_renewal', (SELECT round(count(*)::numeric / greatest(1, (SELECT count(*) FROM inv)), 2) FROM audit_log
                        WHERE created_at >= (SELECT min(created_at) FROM inv)),
  'event_bytes_per_renewal', (SELECT round(sum(length(payload))::numeric / greatest(1, (SELECT count(*) FROM inv))) FROM events
                              WHERE created_at >= (SELECT min(created_at) FROM inv)),
  'receipts', (SELECT count(*) FROM notifications n JOIN inv ON n.resource_id = inv.id),
  'shipments', (SELECT count(*) FROM shipments s JOIN inv ON s.subscription_id = inv.subscription_id AND s.period_seq = inv.period_seq),
  'shipments_paid', (SELECT count(*) FROM shipments s JOIN inv ON s.invoice_id = inv.id WHERE s.paid = 1),
  'subscriptions_not_renewed', (SELECT count(*) FROM subscriptions WHERE next_action_at <= $due_max))")
  R[billing.check]=$check
  run_log "billing: check: $check"
  python3 -c '
import json, sys
c = json.loads(sys.argv[1]); n = int(sys.argv[2])
ok = c["invoices"] == n and c["paid"] == n and c["differing_from_template"] == 0 and c["period_not_following"] == 0 \
     and c["paid_not_at_run"] == 0 and c["payments_succeeded"] == n and c["payments_other"] == 0 \
     and c["sandbox_charges"] == n and c["receipts"] == n and c["shipments"] == n and c["shipments_paid"] == n \
     and c["subscriptions_not_renewed"] == 0
sys.exit(0 if ok else 1)' "$check" "$((small + N))" || {
    R[billing.errors]="${R[billing.errors]:-}the subscriptions were not billed like the template (see the check); "
    run_log "billing: WARNING: the check failed"
  }

  # The raw baseline: the same rows, per renewal, in the same transactions, with pgbench.
  # Parameter values come from the template's renewal (its documents, event payloads and
  # audit rows, analytics rows, the receipt).
  clone c 1 "$N"
  local PGB=(-D seq=0 -D nclients="$clients" -D plan="$plan" -D attempt_1=:attempt:1)
  local inv_id pay_id shp_id
  inv_id=$(bsql "SELECT id FROM invoices WHERE subscription_id = '$sub' AND period_seq = $period_seq")
  shp_id=$(bsql "SELECT id FROM shipments WHERE subscription_id = '$sub' AND period_seq = $period_seq")
  pay_id=$(bsql "SELECT id FROM payments WHERE invoice_id = '$inv_id'")
  # ev NAME TYPE RESOURCE: the payload (p_NAME) and the audit row's fields (f_NAME) of that event of the renewal
  ev() {
    echo "UNION ALL SELECT 'p_$1', payload FROM events WHERE resource_id = '$3' AND type = '$2'
          UNION ALL SELECT 'f_$1', a.fields FROM audit_log a JOIN events e ON e.id = a.event_id WHERE e.resource_id = '$3' AND e.type = '$2'"
  }
  local vars
  vars=$(bsql "
  SELECT 'sub_status', status FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_next', next_action_at::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_billed', billed_periods::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_version', version::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'vprev', version::text FROM bench_tpl_subscriptions
  UNION ALL SELECT 'sub_created', created_at::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_doc', doc FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'period_seq', period_seq::text FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'shp_status', status FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_created', created_at::text FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_version', version::text FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_doc', doc FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'inv_created', created_at::text FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'inv_version', version::text FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'inv_doc', doc FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'pay_doc', doc FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'pay_created', created_at::text FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'amount', (doc::jsonb->>'amount') FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'currency', (doc::jsonb->>'currency') FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'gateway_customer', gateway_customer FROM gateway_customers WHERE customer_id = '$cus'
  UNION ALL SELECT 'evt_created', created_at::text FROM events WHERE resource_id = '$sub' AND type = 'subscription.renewed'
  UNION ALL SELECT 'system_id', actor_id FROM events WHERE resource_id = '$inv_id' AND type = 'invoice.paid'
  $(ev renewed subscription.renewed "$sub")
  $(ev shipment shipment.created "$shp_id")
  $(ev finalized invoice.finalized "$inv_id")
  $(ev succeeded payment.succeeded "$pay_id")
  $(ev paid invoice.paid "$inv_id")
  $(ev shp_paid shipment.paid "$shp_id")
  UNION ALL SELECT 'as_currency', currency FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_status', status FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_mrr', mrr::text FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_last', last_at::text FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_points', points::text FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_started', started_at::text FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_created', created_at::text FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'as_source', source FROM analytics_subscriptions WHERE subscription_id = '$sub'
  UNION ALL SELECT 'ai_reason', billing_reason FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'ai_due', due_at::text FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'ai_total', total::text FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'ai_paid', amount_paid::text FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'ai_attempts', attempt_count::text FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'ai_paid_at', paid_at::text FROM analytics_invoices WHERE invoice_id = '$inv_id'
  UNION ALL SELECT 'n_doc', doc FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_template', template FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_channel', channel FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_status', status FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_next', coalesce(next_attempt_at::text, '0') FROM notifications WHERE resource_id = '$inv_id'")
  local k v nvars=0
  while IFS='|' read -r k v; do PGB+=(-D "$k=$v"); nvars=$((nvars + 1)); done <<<"$vars"
  ((nvars == 53)) || run_log "billing: WARNING: $nvars of 53 values of the template's renewal found for pgbench (a row missing?)"
  # raw_run KEY TAG SCRIPT TRANSACTIONS_PER_CLIENT RENEWALS [pgbench -D ...]: one timed pgbench; fills R[billing.KEY.*]
  raw_run() {
    local key=$1 tag=$2 script=$3 per_client=$4 renewals=$5
    shift 5
    wait_quiet
    bsql "CHECKPOINT" >/dev/null
    table_writes "$work/billing-$key.tw0"
    cpu_begin 0
    local TIMEFORMAT='%U %S' p0=$EPOCHREALTIME p1
    { time PGDATABASE=recur_billing pgbench -n -M prepared -c "$clients" -j "$THREADS" -t "$per_client" \
        -f "$script" "${PGB[@]}" "$@" >"$work/billing-$key.out" 2>&1; } 2>"$work/billing-$key.time" \
      || { cat "$work/billing-$key.out" >&2; return 1; }
    p1=$EPOCHREALTIME
    cpu_end 0
    cpu_report "$(tail -n 1 "$work/billing-$key.time" | client_seconds /dev/stdin)" "$renewals"
    local failed line
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/billing-$key.out")
    line=$(awk -v n="$renewals" -v a="$p0" -v b="$p1" 'BEGIN { printf "rps=%.1f renewals=%d seconds=%.2f", n / (b - a), n, b - a }')
    for kv in $line $cpu_line; do R[billing.$key.${kv%%=*}]=${kv#*=}; done
    R[billing.$key.failed]=${failed:-0}
    sleep 1  # pgbench's backends have exited and reported their counts
    table_writes "$work/billing-$key.tw1"
    write_profile "$key" "$work/billing-$key.tw0" "$work/billing-$key.tw1" "$renewals"
    run_log "  billing.$key: $line failed=${failed:-0} | $cpu_line"
    # pgbench wrote as many rows as recur did for the same renewals?
    R[billing.$key.rows]=$(bsql "SELECT json_build_object('renewed', (SELECT count(*) FROM subscriptions WHERE id LIKE 'sub_000000$tag%' AND version = (SELECT version FROM subscriptions WHERE id = '$sub')),
        'invoices', (SELECT count(*) FROM invoices WHERE id LIKE 'in_000000$tag%' AND status = 'paid' AND number IS NOT NULL),
        'payments', (SELECT count(*) FROM payments WHERE id LIKE 'pay_000000$tag%' AND status = 'succeeded'),
        'sandbox_charges', (SELECT count(*) FROM sandbox_charges WHERE charge_id LIKE 'pi_000000$tag%'),
        'events', (SELECT count(*) FROM events WHERE id LIKE 'evt_000000$tag%'),
        'event_outbox', (SELECT count(*) FROM event_outbox WHERE event_id LIKE 'evt_000000$tag%'),
        'audit_log', (SELECT count(*) FROM audit_log WHERE id LIKE 'aud_000000$tag%'),
        'shipments_paid', (SELECT count(*) FROM shipments WHERE id LIKE 'shp_000000$tag%' AND paid = 1),
        'notifications', (SELECT count(*) FROM notifications WHERE id LIKE 'ntf_000000$tag%'),
        'analytics_invoices_paid', (SELECT count(*) FROM analytics_invoices WHERE invoice_id LIKE 'in_000000$tag%' AND status = 'paid'),
        'analytics_subscriptions', (SELECT count(*) FROM analytics_subscriptions WHERE subscription_id LIKE 'sub_000000$tag%' AND points = (SELECT points FROM analytics_subscriptions WHERE subscription_id = '$sub')),
        'analytics_customers', (SELECT count(*) FROM analytics_customers WHERE customer_id LIKE 'cus_000000$tag%'),
        'event_bytes_per_renewal', (SELECT round(sum(length(payload))::numeric / greatest(1, $renewals)) FROM events WHERE id LIKE 'evt_000000$tag%'))")
    run_log "  billing.$key rows: ${R[billing.$key.rows]}"
    # One of each per renewal, six events (with their audit and outbox rows): what recur wrote.
    python3 -c '
import json, sys
c = json.loads(sys.argv[1]); n = int(sys.argv[2])
sys.exit(0 if all(v == (6 * n if k in ("events", "event_outbox", "audit_log") else n)
                  for k, v in c.items() if k != "event_bytes_per_renewal") else 1)' "${R[billing.$key.rows]}" "$renewals" || {
      R[billing.errors]="${R[billing.errors]:-}$key: pgbench did not write one renewal's rows per renewal (see its rows); "
      run_log "billing: WARNING: $key did not write one renewal's rows per renewal"
    }
    [ "${failed:-0}" = 0 ] || R[billing.errors]="${R[billing.errors]:-}$key: ${failed} failed transactions; "
  }
  local per_client=$(( N / clients ))
  raw_run pg c bench/pgbench/billing_renewal.sql "$per_client" "$((per_client * clients))" || return 1

  # The hardware's ceiling for these rows: the same rows written set-based, B renewals a
  # transaction (bench/pgbench/billing_renewal_setbased.sql). Not a twin of recur.
  local batch=${BENCH_BILLING_BATCH:-500}
  (( batch * clients > N )) && batch=$(( N / clients ))
  clone d 1 "$N"
  raw_run setbased d bench/pgbench/billing_renewal_setbased.sql "$(( N / (clients * batch) ))" \
    "$(( N / (clients * batch) * clients * batch ))" -D batch="$batch" || return 1
  R[billing.setbased.batch]=$batch
  bsql "SELECT 1" >/dev/null
}

# billing_report: the markdown section for the results file.
billing_report() {
  local N=${BENCH_BILLING_N:-100000}
  local ratio
  ratio=$(awk -v a="${R[billing.big.rps]:-0}" -v b="${R[billing.pg.rps]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  echo
  echo "### Billing run (N = $N; N/10 = $((N / 10)))"
  echo
  echo "Subscriptions through the API (bench/seed_mix.py, first invoice charged at signup): N/10 in ${R[billing.seed_a_s]:-?} s,"
  echo "N in ${R[billing.seed_b_s]:-?} s; each set billed with \`recur bill --until\` an hour after its last renewal due"
  echo "(${R[billing.until_a]:-?}, ${R[billing.until_b]:-?}). The pgbench runs write on SQL copies of one of them."
  echo
  echo "| run | renewals | seconds | renewals/s | peak RSS MB | recur CPU s | PG CPU ms/renewal | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for l in small big; do
    echo "| recur bill --workers ${BENCH_BILLING_WORKERS:-(default)} --batch ${BENCH_BILLING_BATCH_RECUR:-(default)} ($l) | ${R[billing.$l.renewals]:-} | ${R[billing.$l.seconds]:-} | ${R[billing.$l.rps]:-} | ${R[billing.$l.rss_mb]:-} | ${R[billing.$l.client_s]:-} | ${R[billing.$l.postgres_ms_req]:-} | ${R[billing.$l.other_cores]:-} |"
  done
  echo "| pgbench, the same rows raw, one renewal a transaction (bench/pgbench/billing_renewal.sql) | ${R[billing.pg.renewals]:-} | ${R[billing.pg.seconds]:-} | ${R[billing.pg.rps]:-} | — | ${R[billing.pg.client_s]:-} (pgbench) | ${R[billing.pg.postgres_ms_req]:-} | ${R[billing.pg.other_cores]:-} |"
  echo "| pgbench, the same rows set-based, ${R[billing.setbased.batch]:-} a transaction (the machine's ceiling, not a twin) | ${R[billing.setbased.renewals]:-} | ${R[billing.setbased.seconds]:-} | ${R[billing.setbased.rps]:-} | — | ${R[billing.setbased.client_s]:-} (pgbench) | ${R[billing.setbased.postgres_ms_req]:-} | ${R[billing.setbased.other_cores]:-} |"
  echo
  echo "Check of every invoice of the renewal period: ${R[billing.check]:-not run}."
  echo "pgbench rows: ${R[billing.pg.rows]:-}; failed transactions: ${R[billing.pg.failed]:-}."
  echo "Set-based rows: ${R[billing.setbased.rows]:-}; failed transactions: ${R[billing.setbased.failed]:-}."
  echo "Rows per renewal by table (pg_stat_user_tables; + inserted, ~ updated, - deleted): recur (N) ${R[billing.big.writes]:-};"
  echo "pgbench row by row ${R[billing.pg.writes]:-}; set-based ${R[billing.setbased.writes]:-}."
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| recur renewals/s >= 10,000 (N = $N) | ${R[billing.big.rps]:-0} | $(verdict "${R[billing.big.rps]:-0}" 10000 '>=') |"
  echo "| recur / raw baseline >= 0.50 | $ratio | $(verdict "$ratio" 0.50 '>=') |"
  echo "| recur / set-based ceiling | $(awk -v a="${R[billing.big.rps]:-0}" -v b="${R[billing.setbased.rps]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') | |"
  echo "| peak RSS flat in N (N vs N/10) | ${R[billing.big.rss_mb]:-} vs ${R[billing.small.rss_mb]:-} MB | |"
  [ -z "${R[billing.errors]:-}" ] || echo "WARNING: ${R[billing.errors]}"
}

verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v < t); print (ok ? "met" : "MISSED") }'; }
