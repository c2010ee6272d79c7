# The renewal benchmark with box features (issue 18): 30 % of the subscriptions renew a box
# their customer chose (a plan with a `selection`, a choice stored for the box), 10 % renew a
# box a prepaid charge covers (`prepaid_deliveries: 3`, no invoice), the rest plainly; its
# renewals/s against a plain run of the same size in the same command (target: within 10 %).
# Sourced by bench/run.sh (BENCH_ONLY=billing_mix), which provides sql, run_log, R,
# free_port, wait_http, stop_pid, json_field, wait_quiet, $recur, $work, $db.
#
#   - its own database (recur_billing_mix) on the same throw-away PostgreSQL;
#   - M subscriptions through the API (bench/seed_mix.py: every row the API's own, the first
#     invoice charged at signup), then `recur bill --until <their renewal + 1 h>` (timed);
#     then M more, 60 % plain, 30 % chosen (two of four options, chosen for the renewal's
#     box), 10 % prepaid (3 deliveries: the renewal is covered, no invoice), and the same;
#   - checks per kind: every renewal shipped once with its kind's items (the chosen ones for
#     the chosen kind), invoiced and paid once unless prepaid.
#
# Knob: BENCH_MIX_M (10000) subscriptions per run; --workers as bench/billing.sh's.

bench_billing_mix() {
  local M=${BENCH_MIX_M:-10000}
  local workers=${BENCH_BILLING_WORKERS:-}
  local wflags=()
  [ -n "$workers" ] && wflags=(--workers "$workers")
  local mdb=${db%/*}/recur_billing_mix
  msql() { PGDATABASE=recur_billing_mix sql "$@"; }
  run_log "billing mix: M=$M per run, recur bill ${wflags[*]:-(default workers)}"
  sql "DROP DATABASE IF EXISTS recur_billing_mix" >/dev/null
  createdb --template=template0 --locale-provider=icu --icu-locale=en-US --locale=C.UTF-8 recur_billing_mix
  "$recur" migrate --db "$mdb" >/dev/null 2>"$work/mix-migrate.log" || { cat "$work/mix-migrate.log" >&2; return 1; }
  local key port url pid
  key=$("$recur" keys create --role admin --db "$mdb" 2>/dev/null | tail -n 1)
  port=$(free_port)
  "$recur" serve --db "$mdb" --listen "127.0.0.1:$port" --no-access-log >"$work/mix-serve.out" 2>"$work/mix-serve.log" &
  pid=$!
  url="http://127.0.0.1:$port"
  wait_http "$url/healthz" || { tail -n 20 "$work/mix-serve.log" >&2; return 1; }
  mapi() { curl -sf -X "$1" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' ${3:+-d "$3"} "$url$2"; }
  local coffee plain_plan box_plan o1 o2 o3 o4
  coffee=$(mapi POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"MIX-COFFEE","amount":1200,"currency":"EUR"}' | json_field id)
  o1=$(mapi POST /v1/products '{"name":"Ethiopia","sku":"MIX-O1","amount":1200,"currency":"EUR","tags":["fruity"]}' | json_field id)
  o2=$(mapi POST /v1/products '{"name":"Colombia","sku":"MIX-O2","amount":1200,"currency":"EUR","tags":["nutty"]}' | json_field id)
  o3=$(mapi POST /v1/products '{"name":"Sumatra","sku":"MIX-O3","amount":1200,"currency":"EUR","tags":["earthy"]}' | json_field id)
  o4=$(mapi POST /v1/products '{"name":"Kenya","sku":"MIX-O4","amount":1200,"currency":"EUR","tags":["fruity"]}' | json_field id)
  plain_plan=$(mapi POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$coffee"'","quantity":2}]}' | json_field id)
  box_plan=$(mapi POST /v1/plans '{"name":"Pick two","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[],"selection":{"choose":2,"from":["'"$o1"'","'"$o2"'","'"$o3"'","'"$o4"'"],"cutoff_days":0,"default":"preferences"}}' | json_field id)
  # seed TAG kind=N...: subscriptions through the API (bench/seed_mix.py), the server up.
  seed() {
    python3 bench/seed_mix.py "$url" "$key" "$plain_plan" "$box_plan" "$o3" "$o4" "$@" >/dev/null \
      || { run_log "billing mix: seeding $* failed"; return 1; }
  }
  # serve / unserve: the API for seeding, stopped before a timed run.
  serve() {
    "$recur" serve --db "$mdb" --listen "127.0.0.1:$port" --no-access-log >>"$work/mix-serve.out" 2>>"$work/mix-serve.log" &
    pid=$!
    wait_http "$url/healthz" || { tail -n 20 "$work/mix-serve.log" >&2; return 1; }
  }
  local until
  # until_of RUN: an hour after the last renewal due of that run's subscriptions.
  until_of() {
    local due
    due=$(msql "SELECT max(next_action_at) FROM subscriptions WHERE doc::jsonb->'metadata'->>'run' = '$1'")
    until=$(date -u -d "@$((due + 3600))" +%Y-%m-%dT%H:%M:%SZ)
  }
  # mix_run LABEL: one timed `recur bill`; fills R[mix.LABEL.*]
  mix_run() {
    local label=$1 t0 t1 rss
    wait_quiet
    msql "CHECKPOINT" >/dev/null
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$work/mix-$label.time" "$recur" bill --db "$mdb" --until "$until" --no-progress \
      "${wflags[@]}" >"$work/mix-$label.json" 2>"$work/mix-$label.log" || true
    t1=$EPOCHREALTIME
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/mix-$label.time")
    local summary advanced line
    summary=$(tail -n 1 "$work/mix-$label.json")
    advanced=$(json_field subscriptions_advanced <<<"$summary" 2>/dev/null || echo 0)
    line=$(awk -v n="$advanced" -v a="$t0" -v b="$t1" -v rss="$rss" 'BEGIN {
      printf "rps=%.1f renewals=%d seconds=%.2f rss_mb=%.1f", n / (b - a), n, b - a, rss / 1024 }')
    for kv in $line; do R[mix.$label.${kv%%=*}]=${kv#*=}; done
    R[mix.$label.summary]=$summary
    run_log "  billing mix.$label: $line"
    run_log "  billing mix.$label: $summary"
  }
  local np=$(( M * 6 / 10 )) nq=$(( M * 3 / 10 ))
  local nr=$(( M - np - nq ))
  seed x plain="$M" || { stop_pid "$pid"; return 1; }
  stop_pid "$pid"
  until_of x
  mix_run plain
  serve || return 1
  seed y plain="$np" chosen="$nq" prepaid="$nr" || { stop_pid "$pid"; return 1; }
  stop_pid "$pid"
  until_of y
  mix_run mixed
  R[mix.counts]="$np plain, $nq chosen, $nr prepaid"

  # Checks, per run and kind: the renewal (period 2) of each subscription shipped once, with
  # its kind's items, and was invoiced and paid once unless prepaid.
  local check
  check=$(msql "
WITH k AS (SELECT id, doc::jsonb->'metadata'->>'run' || '.' || (doc::jsonb->'metadata'->>'kind') AS kind FROM subscriptions),
     shp AS (SELECT k.kind, (SELECT string_agg(x->>'product' || '*' || (x->>'quantity'), ',' ORDER BY x->>'product')
                             FROM jsonb_array_elements(s.doc::jsonb->'items') x) AS items
             FROM shipments s JOIN k ON k.id = s.subscription_id WHERE s.period_seq = 2)
SELECT json_build_object(
  'subscriptions', (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) AS n FROM k GROUP BY kind) x),
  'renewal_shipments', (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) AS n FROM shp GROUP BY kind) x),
  'renewal_invoices_paid', (SELECT json_object_agg(kind, n) FROM (SELECT k.kind, count(*) AS n FROM invoices i JOIN k
                            ON k.id = i.subscription_id WHERE i.period_seq = 2 AND i.status = 'paid' GROUP BY k.kind) x),
  'renewal_invoices_other', (SELECT count(*) FROM invoices WHERE period_seq = 2 AND status <> 'paid'),
  'shipped_items', (SELECT json_object_agg(kind || ':' || items, n) FROM (SELECT kind, items, count(*) AS n FROM shp GROUP BY kind, items) x))")
  R[mix.check]=$check
  run_log "billing mix: check: $check"
  python3 -c '
import json, sys
c = json.loads(sys.argv[1]); M, np, nq, nr = map(int, sys.argv[2:6]); coffee, o3, o4 = sys.argv[6:9]
want = {"x.plain": M, "y.plain": np, "y.chosen": nq, "y.prepaid": nr}
items = {"plain": f"{coffee}*2", "prepaid": f"{coffee}*2", "chosen": ",".join(sorted([f"{o3}*1", f"{o4}*1"]))}
ok = c["subscriptions"] == want and c["renewal_shipments"] == want and c["renewal_invoices_other"] == 0 \
     and c["renewal_invoices_paid"] == {k: n for k, n in want.items() if not k.endswith("prepaid")} \
     and c["shipped_items"] == {k + ":" + items[k.split(".")[1]]: n for k, n in want.items()}
sys.exit(0 if ok else 1)' "$check" "$M" "$np" "$nq" "$nr" "$coffee" "$o3" "$o4" || {
    R[mix.errors]="the renewals were not what each kind asks (see the check); "
    run_log "billing mix: WARNING: the check failed"
  }
}

billing_mix_report() {
  local ratio
  ratio=$(awk -v a="${R[mix.mixed.rps]:-0}" -v b="${R[mix.plain.rps]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  echo
  echo "### Renewals with box features (M = ${BENCH_MIX_M:-10000} a run)"
  echo
  echo "| run | renewals | seconds | renewals/s | peak RSS MB |"
  echo "|---|---:|---:|---:|---:|"
  echo "| plain | ${R[mix.plain.renewals]:-} | ${R[mix.plain.seconds]:-} | ${R[mix.plain.rps]:-} | ${R[mix.plain.rss_mb]:-} |"
  echo "| mixed (${R[mix.counts]:-}) | ${R[mix.mixed.renewals]:-} | ${R[mix.mixed.seconds]:-} | ${R[mix.mixed.rps]:-} | ${R[mix.mixed.rss_mb]:-} |"
  echo
  echo "Check: ${R[mix.check]:-not run}."
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| mixed / plain renewals/s >= 0.90 | $ratio | $(awk -v v="$ratio" 'BEGIN { print (v >= 0.9 ? "met" : "MISSED") }') |"
  [ -z "${R[mix.errors]:-}" ] || echo "WARNING: ${R[mix.errors]}"
}
