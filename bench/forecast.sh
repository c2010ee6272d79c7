#!/usr/bin/env bash
# The forecast benchmark: times the pure demand forecast (bench/forecast.cc) for 10,000 SKUs
# over 1,000,000 live subscriptions, 90 days by week, on 2 threads; best of BENCH_FORECAST_ROUNDS
# (3); then the forecast end to end from PostgreSQL (below; BENCH_FORECAST_DB=0 leaves it out)
# and from SQLite (BENCH_FORECAST_SQLITE=0 leaves it out).
# Run alone with `BENCH_ONLY=forecast make bench`; `make bench` runs it last. Writes
# var/bench/forecast-<time>.md (or BENCH_FORECAST_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_FORECAST_BIN:-build/recur_bench_forecast}
[ -x "$bin" ] || { echo "bench: $bin is missing: run 'make build'" >&2; exit 1; }
# The forecast end to end (issue 20), BENCH_FORECAST_DB=1 (make bench's default): a throw-away
# PostgreSQL holding the same book (bench/seed_forecast.py: 10,000 SKUs, 5,000 plans, 1,000,000
# live and ~300,000 canceled subscriptions, cloned by COPY from documents `recur demo` wrote),
# then `recur forecast` (90 days by week, every SKU, JSON printed) timed as a whole process:
# catalogue, the one pass over the subscriptions, the model and the output. Best of
# BENCH_FORECAST_ROUNDS, with its peak RSS. Beside it, the baseline: the same pass's SQL through
# psql (`COPY (...) TO STDOUT`, to /dev/null), what reading and sending the rows costs alone.
forecast_db() {
  recur=${BENCH_RECUR:-build/recur}
  [ -x "$recur" ] || { echo "bench: $recur is missing: run 'make build'" >&2; exit 1; }
  BENCH_RECUR="$recur" BENCH_FORECAST_SUBS=${BENCH_FORECAST_SUBS:-1000000} bash scripts/with-postgres.sh bash -c '
    set -euo pipefail
    url=$RECUR_TEST_PG_URL
    "$BENCH_RECUR" demo --db "$url" >/dev/null 2>/tmp/recur-forecast-demo.$$ \
      || { cat /tmp/recur-forecast-demo.$$ >&2; exit 1; }
    rm -f /tmp/recur-forecast-demo.$$
    t0=$(date +%s)
    /usr/bin/python3 bench/seed_forecast.py 10000 5000 "$BENCH_FORECAST_SUBS"
    echo "seeded in $(( $(date +%s) - t0 )) s"
    best=999999; rss=0
    for i in $(seq "${BENCH_FORECAST_ROUNDS:-3}"); do
      /usr/bin/time -f "%e %M" -o /tmp/recur-forecast-time.$$ "$BENCH_RECUR" forecast --db "$url" \
        >/tmp/recur-forecast.$$.json 2>/tmp/recur-forecast-err.$$ || { cat /tmp/recur-forecast-err.$$ >&2; exit 1; }
      read -r secs kb </tmp/recur-forecast-time.$$
      ms=$(awk -v s="$secs" "BEGIN{printf \"%d\", s*1000}")
      echo "  recur forecast, round $i: ${secs} s, peak RSS $(( kb / 1024 )) MB"
      if [ "$ms" -lt "$best" ]; then best=$ms; rss=$kb; fi
    done
    skus=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d[\"data\"]), d[\"model\"][\"subscriptions\"])" /tmp/recur-forecast.$$.json)
    rm -f /tmp/recur-forecast.$$.json /tmp/recur-forecast-time.$$ /tmp/recur-forecast-err.$$
    now=$(date +%s); from=$(( now - 56 * 86400 ))
    sql="SELECT plan_id, billed_periods, CASE WHEN status = '\''canceled'\'' THEN 1 ELSE 0 END, created_at, CASE WHEN status <> '\''canceled'\'' OR (created_at >= $from AND created_at < $now) THEN doc END FROM subscriptions"
    raw=999999
    for i in 1 2 3; do
      s=$(date +%s%3N); psql -qc "COPY ($sql) TO STDOUT" >/dev/null; e=$(date +%s%3N)
      [ $(( e - s )) -lt "$raw" ] && raw=$(( e - s ))
    done
    echo "  the same pass through psql (COPY TO STDOUT, to /dev/null), best of 3: ${raw} ms"
    # The server: GET /v1/forecasts keeps the parsed subscriptions between requests (ForecastCache).
    # The first request reads every document; the next ones only the rows'\'' columns.
    key=$("$BENCH_RECUR" keys create --role admin --db "$url" 2>/dev/null | tail -n 1)
    port=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
    "$BENCH_RECUR" serve --db "$url" --listen "127.0.0.1:$port" --modules api >/dev/null 2>/tmp/recur-forecast-serve.$$ &
    spid=$!
    trap "kill $spid 2>/dev/null || true" EXIT
    for i in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
    get() {
      curl -sf -o /tmp/recur-forecast-get.$$ -w "%{time_total}" -H "Authorization: Bearer $key" \
        "http://127.0.0.1:$port/v1/forecasts" || { tail -n 20 /tmp/recur-forecast-serve.$$ >&2; return 1; }
    }
    ms() { awk -v s="$1" "BEGIN{printf \"%d\", s*1000}"; }
    cold=$(get); echo "  GET /v1/forecasts, the first (every document read and kept): ${cold} s"
    served=$(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d[\"data\"]), d[\"model\"][\"subscriptions\"])" /tmp/recur-forecast-get.$$)
    [ "$served" = "$skus" ] || { echo "bench: the server forecast $served, the CLI $skus" >&2; exit 1; }
    warm=999999
    for i in 1 2 3; do
      t=$(get); echo "  GET /v1/forecasts, again, round $i: ${t} s"
      [ "$(ms "$t")" -lt "$warm" ] && warm=$(ms "$t")
    done
    psql -qc "UPDATE subscriptions SET version = version + 1 WHERE id IN (SELECT id FROM subscriptions WHERE status <> '\''canceled'\'' ORDER BY id LIMIT 10000)"
    changed=$(get); echo "  GET /v1/forecasts after 10,000 subscriptions changed (new versions): ${changed} s"
    hwm=$(awk "/VmHWM/{print int(\$2/1024)}" /proc/$spid/status); now_rss=$(awk "/VmRSS/{print int(\$2/1024)}" /proc/$spid/status)
    echo "  the server'\''s RSS: ${now_rss} MB now, ${hwm} MB at its peak"
    # Reordering (issue 20): every SKU tracked, with nothing on hand, and supplied (100 suppliers
    # of 100 SKUs, lead times 3 to 14 days); `recur reorder` once to draft an order for each, and
    # again with every need on order: a run reads the book once (lead_time_demands), then takes
    # one transaction per product. Its baseline is the CLI forecast above, the same one pass.
    psql -qc "UPDATE products SET track_inventory = 1, doc = jsonb_set(doc::jsonb, '\''{track_inventory}'\'', '\''true'\'')::text WHERE id LIKE '\''prod_fc%'\''"
    for s in $(seq 0 99); do
      items=$(seq $(( s * 100 )) $(( s * 100 + 99 )) | sed "s/.*/{\"product\":\"prod_fc&\",\"unit_cost\":450,\"currency\":\"usd\"}/" | paste -sd,)
      curl -sf -o /dev/null -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
        -d "{\"name\":\"Supplier $s\",\"email\":\"s$s@example.com\",\"lead_time_days\":$(( 3 + s % 12 )),\"products\":[$items]}" \
        "http://127.0.0.1:$port/v1/suppliers" || { echo "bench: supplier $s was refused" >&2; exit 1; }
    done
    kill $spid; wait $spid 2>/dev/null || true; trap - EXIT
    rm -f /tmp/recur-forecast-get.$$ /tmp/recur-forecast-serve.$$
    reorder() {  # prints "SECONDS DRAFTED ALREADY_ON_ORDER PRODUCTS_CHECKED ERRORS"
      /usr/bin/time -f "%e" -o /tmp/recur-reorder-time.$$ "$BENCH_RECUR" reorder --db "$url" \
        >/tmp/recur-reorder.$$.json 2>/tmp/recur-reorder-err.$$ || { cat /tmp/recur-reorder-err.$$ >&2; return 1; }
      echo "$(cat /tmp/recur-reorder-time.$$) $(/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[\"drafted\"], d[\"already_on_order\"], d[\"products_checked\"], d[\"errors\"])" /tmp/recur-reorder.$$.json)"
    }
    read -r r1 drafted1 _ checked1 errors1 < <(reorder)
    [ -n "$r1" ] || { echo "bench: recur reorder failed" >&2; exit 1; }
    echo "  recur reorder, the first run: ${r1} s; ${checked1} products checked, ${drafted1} orders drafted, ${errors1} errors"
    read -r r2 _ on_order2 checked2 errors2 < <(reorder)
    [ -n "$r2" ] || { echo "bench: recur reorder failed" >&2; exit 1; }
    echo "  recur reorder, again (every need on order): ${r2} s; ${checked2} products checked, ${on_order2} already on order, ${errors2} errors"
    rm -f /tmp/recur-reorder.$$.json /tmp/recur-reorder-time.$$ /tmp/recur-reorder-err.$$
    echo "BENCH reorder_first_seconds=$r1 reorder_again_seconds=$r2 products=$checked2 drafted=$drafted1 forecast_cli_seconds=$(awk -v m="$best" "BEGIN{printf \"%.2f\", m/1000}") ratio_again_to_forecast=$(awk -v a="$r2" -v m="$best" "BEGIN{printf \"%.1f\", a*1000/m}")"
    echo "BENCH forecast_e2e_seconds=$(awk -v m="$best" "BEGIN{printf \"%.2f\", m/1000}") rss_mb=$(( rss / 1024 )) skus_subscriptions=\"$skus\" raw_scan_seconds=$(awk -v m="$raw" "BEGIN{printf \"%.2f\", m/1000}") ratio=$(awk -v a="$best" -v b="$raw" "BEGIN{printf \"%.1f\", a/b}") target_seconds=5 verdict=$([ "$best" -lt 5000 ] && echo met || echo MISSED)"
    echo "BENCH forecast_get_first_seconds=$cold forecast_get_cached_seconds=$(awk -v m="$warm" "BEGIN{printf \"%.2f\", m/1000}") forecast_get_after_changes_seconds=$changed server_rss_mb=$now_rss server_peak_rss_mb=$hwm target_seconds=5 verdict=$([ "$warm" -lt 5000 ] && echo met || echo MISSED)"
  ' 2>&1 | grep -v "^with-postgres: PostgreSQL on"
}

# The same book on SQLite, the embedded default (BENCH_FORECAST_SQLITE=1, make bench's default):
# seeded by bench/seed_forecast.py --sqlite; `recur forecast` (a process: nothing cached) best
# of BENCH_FORECAST_ROUNDS, and the server's GET /v1/forecasts, the first and then cached; the
# baseline is the same pass's SQL (scan_for_forecast's, documents included) through the sqlite3
# CLI, to /dev/null, best of 3.
forecast_sqlite() {
  local recur=${BENCH_RECUR:-build/recur} dir t0 best=999999 rss=0 secs kb ms raw=999999 s e i key port spid
  dir=$(mktemp -d /tmp/recur-forecast-sqlite.XXXXXX)
  local db="sqlite:$dir/recur.db"
  "$recur" demo --db "$db" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; rm -rf "$dir"; return 1; }
  t0=$(date +%s)
  /usr/bin/python3 bench/seed_forecast.py 10000 5000 "${BENCH_FORECAST_SUBS:-1000000}" --sqlite "$dir/recur.db"
  echo "seeded in $(( $(date +%s) - t0 )) s; the database file: $(( $(stat -c %s "$dir/recur.db") / 1048576 )) MB"
  for i in $(seq "${BENCH_FORECAST_ROUNDS:-3}"); do
    /usr/bin/time -f "%e %M" -o "$dir/time" "$recur" forecast --db "$db" >"$dir/forecast.json" 2>"$dir/err" \
      || { cat "$dir/err" >&2; rm -rf "$dir"; return 1; }
    read -r secs kb <"$dir/time"
    ms=$(awk -v s="$secs" 'BEGIN{printf "%d", s*1000}')
    echo "  recur forecast, round $i: ${secs} s, peak RSS $(( kb / 1024 )) MB"
    if [ "$ms" -lt "$best" ]; then best=$ms; rss=$kb; fi
  done
  local now from sql
  now=$(date +%s); from=$(( now - 56 * 86400 ))
  sql="SELECT id, version, plan_id, billed_periods, CASE WHEN status = 'canceled' THEN 1 ELSE 0 END, created_at, CASE WHEN status <> 'canceled' OR (created_at >= $from AND created_at < $now) THEN doc END FROM subscriptions"
  for i in 1 2 3; do
    s=$(date +%s%3N); sqlite3 "$dir/recur.db" "$sql" >/dev/null; e=$(date +%s%3N)
    [ $(( e - s )) -lt "$raw" ] && raw=$(( e - s ))
  done
  echo "  the same pass through the sqlite3 CLI (to /dev/null), best of 3: ${raw} ms"
  key=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" --modules api >/dev/null 2>"$dir/serve.log" &
  spid=$!
  for i in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  local first warm=999999 t
  get() { curl -sf -o /dev/null -w "%{time_total}" -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/forecasts"; }
  first=$(get) || { tail -n 20 "$dir/serve.log" >&2; kill "$spid"; rm -rf "$dir"; return 1; }
  echo "  GET /v1/forecasts, the first (every document read and kept): ${first} s"
  for i in 1 2 3; do
    t=$(get); echo "  GET /v1/forecasts, again, round $i: ${t} s"
    ms=$(awk -v s="$t" 'BEGIN{printf "%d", s*1000}'); [ "$ms" -lt "$warm" ] && warm=$ms
  done
  kill "$spid"; wait "$spid" 2>/dev/null || true
  rm -rf "$dir"
  echo "BENCH sqlite_forecast_e2e_seconds=$(awk -v m="$best" 'BEGIN{printf "%.2f", m/1000}') rss_mb=$(( rss / 1024 )) raw_scan_seconds=$(awk -v m="$raw" 'BEGIN{printf "%.2f", m/1000}') ratio=$(awk -v a="$best" -v b="$raw" 'BEGIN{printf "%.1f", a/b}') get_first_seconds=$first get_cached_seconds=$(awk -v m="$warm" 'BEGIN{printf "%.2f", m/1000}') cached_ratio=$(awk -v a="$warm" -v b="$raw" 'BEGIN{printf "%.1f", a/b}') target_seconds=5 verdict_cached=$([ "$warm" -lt 5000 ] && echo met || echo MISSED)"
}

mkdir -p var/bench
out=${BENCH_FORECAST_OUT:-var/bench/forecast-$(date -u +%Y%m%dT%H%M%SZ).md}
{
  echo "## Forecast: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo '```'
  "$bin" --threads "${BENCH_FORECAST_THREADS:-2}" --rounds "${BENCH_FORECAST_ROUNDS:-3}"
  echo '```'
  if [ "${BENCH_FORECAST_DB:-1}" = 1 ]; then
    echo
    echo "End to end from PostgreSQL:"
    echo
    echo '```'
    forecast_db
    echo '```'
  fi
  if [ "${BENCH_FORECAST_SQLITE:-1}" = 1 ]; then
    echo
    echo "End to end from SQLite:"
    echo
    echo '```'
    forecast_sqlite
    echo '```'
  fi
} | tee "$out"
echo "bench: forecast results written to $out" >&2
