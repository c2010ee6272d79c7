# The billing-run benchmark (sourced by bench/run.sh, which provides sql, run_log, R,
# free_port, wait_http, stop_pid, json_field, cpu_begin/cpu_end/cpu_report, $recur, $work).
#
#   - its own database (recur_billing) on the same throw-away PostgreSQL;
#   - a template through the API: a plan, a customer with a sandbox card (pm_card_visa)
#     and a subscription, whose first invoice `recur bill` pays (now);
#   - clones of that customer, payment method, gateway customer and subscription written
#     with SQL (generate_series), every id replaced, so the rows are the API's rows;
#   - `recur bill --until <period end + 1 h>` at N/10 and at N subscriptions (each renews
#     once: lifecycle step + invoice + sandbox charge + outcome), timed, with peak RSS;
#   - the raw baseline: pgbench writing the same rows per renewal in the same
#     transactions (bench/pgbench/billing_renewal.sql), with as many clients as recur has
#     workers;
#   - the hardware's ceiling for the same rows: pgbench writing them set-based, B
#     renewals a transaction (bench/pgbench/billing_renewal_setbased.sql);
#   - checks that every clone was billed exactly like the template.
#
# Knobs: BENCH_BILLING_N (100000), BENCH_BILLING_WORKERS (recur bill --workers; default
# recur's own), BENCH_BILLING_CLIENTS (pgbench -c; default: the workers, or 4),
# BENCH_BILLING_BATCH (renewals a transaction in the set-based ceiling run, 500).

bench_billing() {
  local N=${BENCH_BILLING_N:-100000}
  local small=$(( N / 10 ))
  local workers=${BENCH_BILLING_WORKERS:-}
  local clients=${BENCH_BILLING_CLIENTS:-${workers:-4}}
  local bdb=${db%/*}/recur_billing
  local wflags=()
  [ -n "$workers" ] && wflags=(--workers "$workers")
  bsql() { PGDATABASE=recur_billing sql "$@"; }

  run_log "billing: N=$N (and N/10=$small), recur bill ${wflags[*]:-(default workers)}, pgbench -c $clients"
  sql "DROP DATABASE IF EXISTS recur_billing" >/dev/null
  createdb --template=template0 --locale-provider=icu --icu-locale=en-US --locale=C.UTF-8 recur_billing
  "$recur" migrate --db "$bdb" >/dev/null 2>"$work/billing-migrate.log" || { cat "$work/billing-migrate.log" >&2; return 1; }
  local key port url pid
  key=$("$recur" keys create --role admin --db "$bdb" 2>/dev/null | tail -n 1)
  port=$(free_port)
  "$recur" serve --db "$bdb" --listen "127.0.0.1:$port" --no-access-log >"$work/billing-serve.out" 2>"$work/billing-serve.log" &
  pid=$!
  url="http://127.0.0.1:$port"
  wait_http "$url/healthz" || { tail -n 20 "$work/billing-serve.log" >&2; return 1; }
  bapi() { curl -sf -X "$1" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' ${3:+-d "$3"} "$url$2"; }
  local product plan cus pm sub
  product=$(bapi POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"BENCH-COFFEE-250","amount":1200,"currency":"EUR"}' | json_field id)
  plan=$(bapi POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
  cus=$(bapi POST /v1/customers '{"email":"ada@example.com","name":"Ada Lovelace","phone":"+442079460000","shipping_address":{"line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"}}' | json_field id)
  pm=$(bapi POST "/v1/customers/$cus/payment-methods" '{"token":"pm_card_visa","default":true}' | json_field id)
  sub=$(bapi POST /v1/subscriptions '{"customer":"'"$cus"'","plan":"'"$plan"'","quantity":1}' | json_field id)
  stop_pid "$pid"
  # The first invoice is paid when the subscription is created (the API charges it at once, as
  # a checkout does); a run before the clones finds nothing of it left to do.
  "$recur" bill --db "$bdb" --no-progress >"$work/billing-first.json" 2>>"$work/billing-serve.log"
  local first_paid
  first_paid=$(bsql "SELECT count(*) FROM invoices WHERE subscription_id = '$sub' AND status = 'paid'")
  [ "$first_paid" = 1 ] || { run_log "billing: the template's first invoice is not paid ($first_paid paid): $(cat "$work/billing-first.json")"; return 1; }
  # The template as the API left it (its renewal changes it): what every clone copies.
  bsql "CREATE TABLE bench_tpl_customers AS SELECT * FROM customers WHERE id = '$cus';
        CREATE TABLE bench_tpl_gateway_customers AS SELECT * FROM gateway_customers WHERE customer_id = '$cus';
        CREATE TABLE bench_tpl_payment_methods AS SELECT * FROM payment_methods WHERE id = '$pm';
        CREATE TABLE bench_tpl_subscriptions AS SELECT * FROM subscriptions WHERE id = '$sub'" >/dev/null
  local due until
  due=$(bsql "SELECT next_action_at FROM subscriptions WHERE id = '$sub'")
  until=$(date -u -d "@$((due + 3600))" +%Y-%m-%dT%H:%M:%SZ)
  run_log "billing: template $sub (customer $cus, $pm, plan $plan) renews at $(date -u -d "@$due" +%FT%TZ); bill --until $until"

  # clone TAG FROM TO: clones i in [FROM, TO] of the template. Ids: <prefix>_000000<tag><10^18 + i>
  # (26 characters after the prefix, like the generator's), computable by pgbench.
  clone() {
    local tag=$1 from=$2 to=$3
    bsql "
BEGIN;
CREATE TEMP TABLE ids ON COMMIT DROP AS
  SELECT i, 'cus_000000$tag' || (1000000000000000000 + i) AS cus, 'pm_000000$tag' || (1000000000000000000 + i) AS pm,
         'sub_000000$tag' || (1000000000000000000 + i) AS sub
  FROM generate_series($from, $to) i;
INSERT INTO customers (id, email, version, created_at, doc)
  SELECT ids.cus, 'c$tag' || ids.i || '@example.com', c.version, c.created_at,
         replace(replace(replace(c.doc, '$cus', ids.cus), '$pm', ids.pm), c.email, 'c$tag' || ids.i || '@example.com')
  FROM ids, bench_tpl_customers c;
INSERT INTO gateway_customers (customer_id, gateway, gateway_customer, created_at)
  SELECT ids.cus, g.gateway, 'cus_sandbox_' || left(encode(sha256(convert_to(ids.cus, 'UTF8')), 'hex'), 16), g.created_at
  FROM ids, bench_tpl_gateway_customers g;
INSERT INTO payment_methods (id, customer_id, gateway, gateway_customer, token, brand, last4, exp_month, exp_year, detached, created_at)
  SELECT ids.pm, ids.cus, p.gateway, 'cus_sandbox_' || left(encode(sha256(convert_to(ids.cus, 'UTF8')), 'hex'), 16),
         p.token, p.brand, p.last4, p.exp_month, p.exp_year, p.detached, p.created_at
  FROM ids, bench_tpl_payment_methods p;
INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods, version, created_at, doc)
  SELECT ids.sub, ids.cus, s.plan_id, s.status, s.next_action_at, s.billed_periods, s.version, s.created_at,
         replace(replace(s.doc, '$sub', ids.sub), '$cus', ids.cus)
  FROM ids, bench_tpl_subscriptions s;
COMMIT;
ANALYZE customers; ANALYZE gateway_customers; ANALYZE payment_methods; ANALYZE subscriptions;"
  }
  # The template's own gateway customer must be what the sandbox derives (the clones' are computed the same way).
  local gc_check
  gc_check=$(bsql "SELECT count(*) FROM gateway_customers WHERE customer_id = '$cus'
                     AND gateway_customer = 'cus_sandbox_' || left(encode(sha256(convert_to(customer_id, 'UTF8')), 'hex'), 16)")
  [ "$gc_check" = 1 ] || run_log "billing: WARNING: the template's gateway customer is not sha256-derived; clones differ from it"

  # bill_run LABEL EXPECTED: one timed `recur bill`; fills R[billing.LABEL.*]
  bill_run() {
    local label=$1 expected=$2 t0 t1 rss cpu
    wait_quiet
    bsql "CHECKPOINT" >/dev/null
    cpu_begin 0
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$work/billing-$label.time" "$recur" bill --db "$bdb" --until "$until" --no-progress \
      "${wflags[@]}" >"$work/billing-$label.json" 2>"$work/billing-$label.log" || true
    t1=$EPOCHREALTIME
    sleep 1  # recur's backends have exited; let the postmaster reap them (their CPU counts then)
    cpu_end 0
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/billing-$label.time")
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$work/billing-$label.time")
    cpu_report "$cpu" "$expected"
    local summary advanced succeeded
    summary=$(tail -n 1 "$work/billing-$label.json")
    advanced=$(json_field subscriptions_advanced <<<"$summary" 2>/dev/null || echo 0)
    succeeded=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["payments"]["succeeded"])' <<<"$summary" 2>/dev/null || echo 0)
    local line
    line=$(awk -v n="$expected" -v a="$t0" -v b="$t1" -v rss="$rss" 'BEGIN {
      printf "rps=%.1f renewals=%d seconds=%.2f rss_mb=%.1f", n / (b - a), n, b - a, rss / 1024 }')
    R[billing.$label.line]="$line $cpu_line"
    for kv in $line $cpu_line; do R[billing.$label.${kv%%=*}]=${kv#*=}; done
    R[billing.$label.summary]=$summary
    run_log "  billing.$label: $line | recur CPU ${cpu}s | $cpu_line"
    run_log "  billing.$label: $summary"
    if [ "$advanced" != "$expected" ] || [ "$succeeded" != "$expected" ]; then
      R[billing.errors]="${R[billing.errors]:-}$label: expected $expected renewals and charges, got $advanced / $succeeded; "
      run_log "billing: WARNING: $label advanced $advanced and charged $succeeded, expected $expected"
      tail -n 5 "$work/billing-$label.log" >&2
    fi
  }

  local t0
  t0=$EPOCHREALTIME
  clone a 1 $((small - 1))  # with the template: N/10 due
  run_log "billing: seeded $small subscriptions in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
  bill_run small "$small"
  t0=$EPOCHREALTIME
  clone b 1 "$N"            # N more due at the same time; the first N/10 renewed already
  R[billing.seed_s]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  run_log "billing: seeded $N subscriptions in ${R[billing.seed_s]} s"
  bill_run big "$N"

  # Billed exactly like the API-created template: same invoice lines and amounts, one
  # succeeded payment and one sandbox charge per invoice, the same events, nothing failed.
  local period_seq ref check
  period_seq=$(bsql "SELECT period_seq FROM invoices WHERE subscription_id = '$sub' ORDER BY period_seq DESC LIMIT 1")
  ref="(SELECT doc::jsonb AS d FROM invoices WHERE subscription_id = '$sub' AND period_seq = $period_seq)"
  check=$(bsql "
WITH inv AS (SELECT i.*, i.doc::jsonb AS d FROM invoices i WHERE period_seq = $period_seq)
SELECT json_build_object(
  'invoices', (SELECT count(*) FROM inv),
  'paid', (SELECT count(*) FROM inv WHERE status = 'paid'),
  'differing_from_template', (SELECT count(*) FROM inv, $ref r WHERE
      (inv.d->'lines', inv.d->'subtotal', inv.d->'total', inv.d->'amount_paid', inv.d->'billing_reason', inv.d->'currency',
       inv.d->'attempt_count', inv.d->'period_end', inv.d->'paid_at')
      IS DISTINCT FROM
      (r.d->'lines', r.d->'subtotal', r.d->'total', r.d->'amount_paid', r.d->'billing_reason', r.d->'currency',
       r.d->'attempt_count', r.d->'period_end', r.d->'paid_at')),
  'payments_succeeded', (SELECT count(*) FROM payments p JOIN inv ON p.invoice_id = inv.id WHERE p.status = 'succeeded'),
  'payments_other', (SELECT count(*) FROM payments p JOIN inv ON p.invoice_id = inv.id WHERE p.status <> 'succeeded'),
  'sandbox_charges', (SELECT count(*) FROM sandbox_charges c JOIN payments p ON p.idempotency_key = c.idempotency_key
                      JOIN inv ON p.invoice_id = inv.id WHERE c.status = 'succeeded'),
  'events_per_renewal', (SELECT round(count(*)::numeric / greatest(1, (SELECT count(*) FROM inv)), 2) FROM events
                         WHERE created_at >= (SELECT min(created_at) FROM inv) AND resource_type IN ('subscription', 'invoice', 'payment')),
  'receipts', (SELECT count(*) FROM notifications n JOIN inv ON n.resource_id = inv.id),
  'shipments', (SELECT count(*) FROM shipments s JOIN inv ON s.subscription_id = inv.subscription_id AND s.period_seq = inv.period_seq),
  'subscriptions_not_renewed', (SELECT count(*) FROM subscriptions WHERE next_action_at <= $due))")
  R[billing.check]=$check
  run_log "billing: check: $check"
  python3 -c '
import json, sys
c = json.loads(sys.argv[1]); n = int(sys.argv[2])
ok = c["invoices"] == n and c["paid"] == n and c["differing_from_template"] == 0 and c["payments_succeeded"] == n \
     and c["payments_other"] == 0 and c["sandbox_charges"] == n and c["receipts"] == n and c["shipments"] == n \
     and c["subscriptions_not_renewed"] == 0
sys.exit(0 if ok else 1)' "$check" "$((small + N))" || {
    R[billing.errors]="${R[billing.errors]:-}the clones were not billed like the template (see the check); "
    run_log "billing: WARNING: the check failed"
  }

  # The raw baseline: the same rows, per renewal, in the same transactions, with pgbench.
  # Parameter values come from the template's renewal (its documents and event payloads).
  clone c 1 "$N"
  local PGB=(-D seq=0 -D nclients="$clients" -D plan="$plan" -D attempt_1=:attempt:1)
  local inv_id pay_id shp_id
  inv_id=$(bsql "SELECT id FROM invoices WHERE subscription_id = '$sub' AND period_seq = $period_seq")
  shp_id=$(bsql "SELECT id FROM shipments WHERE subscription_id = '$sub' AND period_seq = $period_seq")
  pay_id=$(bsql "SELECT id FROM payments WHERE invoice_id = '$inv_id'")
  while IFS='|' read -r k v; do PGB+=(-D "$k=$v"); done < <(bsql "
  SELECT 'sub_status', status FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_next', next_action_at::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_billed', billed_periods::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_version', version::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_created', created_at::text FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'sub_doc', doc FROM subscriptions WHERE id = '$sub'
  UNION ALL SELECT 'period_seq', period_seq::text FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'shp_status', status FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_created', created_at::text FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_version', version::text FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'shp_doc', doc FROM shipments WHERE id = '$shp_id'
  UNION ALL SELECT 'p_shipment', payload FROM events WHERE resource_id = '$shp_id' AND type = 'shipment.created'
  UNION ALL SELECT 'inv_created', created_at::text FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'inv_doc', doc FROM invoices WHERE id = '$inv_id'
  UNION ALL SELECT 'pay_doc', doc FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'pay_created', created_at::text FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'amount', (doc::jsonb->>'amount') FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'currency', (doc::jsonb->>'currency') FROM payments WHERE id = '$pay_id'
  UNION ALL SELECT 'gateway_customer', gateway_customer FROM gateway_customers WHERE customer_id = '$cus'
  UNION ALL SELECT 'p_renewed', payload FROM events WHERE resource_id = '$sub' AND type = 'subscription.renewed'
  UNION ALL SELECT 'p_finalized', payload FROM events WHERE resource_id = '$inv_id' AND type = 'invoice.finalized'
  UNION ALL SELECT 'p_succeeded', payload FROM events WHERE resource_id = '$pay_id' AND type = 'payment.succeeded'
  UNION ALL SELECT 'p_paid', payload FROM events WHERE resource_id = '$inv_id' AND type = 'invoice.paid'
  UNION ALL SELECT 'system_id', actor_id FROM events WHERE resource_id = '$inv_id' AND type = 'invoice.paid'
  UNION ALL SELECT 'n_doc', doc FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_template', template FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_channel', channel FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_status', status FROM notifications WHERE resource_id = '$inv_id'
  UNION ALL SELECT 'n_next', coalesce(next_attempt_at::text, '0') FROM notifications WHERE resource_id = '$inv_id'")
  # raw_run KEY TAG SCRIPT TRANSACTIONS_PER_CLIENT RENEWALS [pgbench -D ...]: one timed pgbench; fills R[billing.KEY.*]
  raw_run() {
    local key=$1 tag=$2 script=$3 per_client=$4 renewals=$5
    shift 5
    wait_quiet
    bsql "CHECKPOINT" >/dev/null
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
    run_log "  billing.$key: $line failed=${failed:-0} | $cpu_line"
    # pgbench wrote as many rows as recur did for the same renewals?
    R[billing.$key.rows]=$(bsql "SELECT json_build_object('renewed', (SELECT count(*) FROM subscriptions WHERE id LIKE 'sub_000000$tag%' AND version = (SELECT version FROM subscriptions WHERE id = '$sub')),
        'invoices', (SELECT count(*) FROM invoices WHERE id LIKE 'in_000000$tag%' AND status = 'paid'),
        'payments', (SELECT count(*) FROM payments WHERE id LIKE 'pay_000000$tag%' AND status = 'succeeded'),
        'sandbox_charges', (SELECT count(*) FROM sandbox_charges WHERE charge_id LIKE 'pi_000000$tag%'),
        'events', (SELECT count(*) FROM events WHERE id LIKE 'evt_000000$tag%'),
        'shipments', (SELECT count(*) FROM shipments WHERE id LIKE 'shp_000000$tag%'),
        'notifications', (SELECT count(*) FROM notifications WHERE id LIKE 'ntf_000000$tag%'))")
    run_log "  billing.$key rows: ${R[billing.$key.rows]}"
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
  echo "| run | renewals | seconds | renewals/s | peak RSS MB | recur CPU s | PG CPU ms/renewal | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for l in small big; do
    echo "| recur bill --workers ${BENCH_BILLING_WORKERS:-(default)} ($l) | ${R[billing.$l.renewals]:-} | ${R[billing.$l.seconds]:-} | ${R[billing.$l.rps]:-} | ${R[billing.$l.rss_mb]:-} | ${R[billing.$l.client_s]:-} | ${R[billing.$l.postgres_ms_req]:-} | ${R[billing.$l.other_cores]:-} |"
  done
  echo "| pgbench, the same rows raw (bench/pgbench/billing_renewal.sql) | ${R[billing.pg.renewals]:-} | ${R[billing.pg.seconds]:-} | ${R[billing.pg.rps]:-} | — | ${R[billing.pg.client_s]:-} (pgbench) | ${R[billing.pg.postgres_ms_req]:-} | ${R[billing.pg.other_cores]:-} |"
  echo "| pgbench, the same rows set-based, ${R[billing.setbased.batch]:-} a transaction (the machine's ceiling, not a twin) | ${R[billing.setbased.renewals]:-} | ${R[billing.setbased.seconds]:-} | ${R[billing.setbased.rps]:-} | — | ${R[billing.setbased.client_s]:-} (pgbench) | ${R[billing.setbased.postgres_ms_req]:-} | ${R[billing.setbased.other_cores]:-} |"
  echo
  echo "Check of every invoice of the renewal period: ${R[billing.check]:-not run}."
  echo "pgbench rows: ${R[billing.pg.rows]:-}; failed transactions: ${R[billing.pg.failed]:-}."
  echo "Set-based rows: ${R[billing.setbased.rows]:-}; failed transactions: ${R[billing.setbased.failed]:-}."
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| recur renewals/s >= 10,000 (N = $N) | ${R[billing.big.rps]:-0} | $(verdict "${R[billing.big.rps]:-0}" 10000 '>=') |"
  echo "| recur / raw baseline >= 0.50 | $ratio | $(verdict "$ratio" 0.50 '>=') |"
  echo "| peak RSS flat in N (N vs N/10) | ${R[billing.big.rss_mb]:-} vs ${R[billing.small.rss_mb]:-} MB | |"
  [ -z "${R[billing.errors]:-}" ] || echo "WARNING: ${R[billing.errors]}"
}

verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v < t); print (ok ? "met" : "MISSED") }'; }
