#!/usr/bin/env bash
# `make bench`: the issue-3 performance benchmark and the billing run (bench/billing.sh), in one run.
#
#   1. recur on PostgreSQL, 64 keep-alive connections (wrk): GET /v1/subscriptions/{id} and
#      POST /v1/subscriptions; req/s, p50, p99; with the access log off and on; and the
#      checkout POST (allow_incomplete: the first invoice charged through the sandbox).
#   2. The same SQL done raw by pgbench (-c 64 -j 2 -M prepared, bench/pgbench/*.sql), and
#      again at recur's pool size (-c 4 x cores) for reference.
#   3. nginx serving a static copy of a subscription's JSON with the same wrk settings.
# and prints the ratios against the targets (POST >= 0.70 x pgbench TPS, GET >= 0.50 x nginx,
# p99 < 25 ms), with the CPU each side used. A fresh PostgreSQL (scripts/with-postgres.sh);
# everything binds to 127.0.0.1; everything started here is stopped on exit. See
# docs/PERFORMANCE.md for what the figures mean.
#
# Knobs (environment): BENCH_DURATION (s per measured run, 10), BENCH_WARMUP (s, 2),
# BENCH_CONNECTIONS (64), BENCH_THREADS (wrk threads and pgbench -j, 2),
# BENCH_WORKERS (recur --workers; default: recur's own default, 4 x cores),
# BENCH_ROUNDS (2: every measurement is repeated, interleaved; the best round is reported),
# BENCH_SWEEP ("": extra --workers values to measure, e.g. "2 4 16"), BENCH_WHATIF ("": 1 adds
# pgbench runs of the same SQL in fewer round trips: the GET without BEGIN/COMMIT, the POST pipelined),
# BENCH_QUIET_WAIT (0: seconds to wait, before each measurement, for other work on the machine
# to stop), BENCH_OUT (the result file; default var/bench/bench-<time>.md),
# BENCH_ONLY (billing: only the billing-run benchmark, bench/billing.sh; billing_mix: only the
# renewals with box features, bench/billing_mix.sh, BENCH_MIX_M a run; api: only benchmark 1;
# availability: only benchmark 3, bench/availability.sh; forecast: only benchmark 4, bench/forecast.sh;
# webhooks: only the outbound-webhooks benchmark, bench/webhooks.sh, with its own BENCH_WEBHOOK_* knobs;
# analytics: only the analytics benchmark, bench/analytics.sh, with its own BENCH_ANALYTICS_* knobs;
# sqlite: only the SQLite benchmark, bench/sqlite.sh, with BENCH_SQLITE_N),
# BENCH_BILLING_N (100000 subscriptions renewed and charged), BENCH_BILLING_WORKERS (recur bill
# --workers), BENCH_BILLING_CLIENTS (pgbench clients of the raw baseline; default: the workers).
{  # the whole script is parsed before it runs, so editing it meanwhile cannot derail a run
set -euo pipefail
cd "$(dirname "$0")/.."
# The forecast benchmark starts its own PostgreSQL (bench/forecast.sh).
if [ "${BENCH_ONLY:-}" = forecast ]; then exec bash bench/forecast.sh; fi

# Benchmark 3 (availability from cache) needs neither PostgreSQL nor pgbench.
[ "${BENCH_ONLY:-}" = availability ] && exec bash bench/availability.sh "$@"
# The webhooks benchmark (docs/PERFORMANCE.md: benchmark 6) starts a PostgreSQL of its own.
[ "${BENCH_ONLY:-}" = webhooks ] && exec bash bench/webhooks.sh "$@"
# The analytics benchmark (docs/PERFORMANCE.md: benchmark 7) starts a PostgreSQL of its own.
[ "${BENCH_ONLY:-}" = analytics ] && exec bash bench/analytics.sh "$@"
# SQLite, the embedded default: the API and the renewals against their replayed SQL (bench/sqlite.sh).
[ "${BENCH_ONLY:-}" = sqlite ] && exec bash bench/sqlite.sh "$@"

for tool in wrk nginx pgbench psql curl python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench: '$tool' is missing: run 'make deps' (scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done
recur_bin=${BENCH_RECUR:-build/recur}  # the binary measured (a copy of it)
[ -x "$recur_bin" ] || { echo "bench: $recur_bin is missing: run 'make build'" >&2; exit 1; }

# A fresh throw-away PostgreSQL for every run: re-execute under scripts/with-postgres.sh.
if [ -z "${RECUR_BENCH_INNER:-}" ]; then
  export RECUR_BENCH_INNER=1
  # (from memory, for the same reason: bash reads a script file as it goes)
  exec bash -c "$(cat scripts/with-postgres.sh)" scripts/with-postgres.sh bash "$PWD/bench/run.sh" "$@"
fi

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-2}
SWEEP=${BENCH_SWEEP:-}
WHATIF=${BENCH_WHATIF:-}
QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
ONLY=${BENCH_ONLY:-}  # "billing": only the billing run; "api": everything but it
WORKER_FLAGS=()
[ -n "${BENCH_WORKERS:-}" ] && WORKER_FLAGS=(--workers "$BENCH_WORKERS")
POOL=${BENCH_WORKERS:-$((4 * $(nproc)))}  # recur's PostgreSQL pool has one connection per worker
db=$RECUR_TEST_PG_URL
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p var/bench
out=${BENCH_OUT:-var/bench/bench-$stamp.md}

server_pid=""
nginx_pid=""
pgbench_pid=""
source bench/lib.sh  # stop_pid, free_port, wait_http, json_field, proc_ticks, tree_ticks, machine_ticks
work=$(mktemp -d /tmp/recur-bench.XXXXXX)
cleanup() {  # everything this script started; PostgreSQL is stopped by with-postgres.sh
  stop_pid "$pgbench_pid"
  stop_pid "$server_pid"
  stop_pid "$nginx_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
export BENCH_LUA_DIR=$PWD/bench/wrk
# Run a copy of the binary: a rebuild during the run must not change what is measured.
recur=$work/recur
cp "$recur_bin" "$recur"
recur_built=$(date -u -r "$recur_bin" '+%Y-%m-%d %H:%M UTC')
recur_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

# ---------------------------------------------------------------- CPU accounting
# For each measured run: CPU time of the client (wrk/pgbench), the server (recur or nginx),
# PostgreSQL (postmaster + backends, exited ones included) and the whole machine, so a run
# disturbed by other work on the machine shows up as "other". Builtins only: no forks.
hz=$(getconf CLK_TCK)
pg_pid=$(head -1 "$(sql 'SHOW data_directory')/postmaster.pid")

cpu_begin() {  # cpu_begin SERVER_PID
  machine_ticks; m_total0=$m_total; m_idle0=$m_idle
  tree_ticks "$pg_pid"; pg0=$tree
  tree_ticks "${1:-0}"; srv0=$tree
}
cpu_end() {  # cpu_end SERVER_PID: the readings at the end of the window
  machine_ticks; m_total1=$m_total; m_idle1=$m_idle
  tree_ticks "$pg_pid"; pg1=$tree
  tree_ticks "${1:-0}"; srv1=$tree
}
cpu_report() {  # cpu_report CLIENT_SECONDS REQUESTS: sets cpu_line (core-seconds, ms per request)
  cpu_line=$(awk -v hz="$hz" -v c="$1" -v n="$2" -v s=$((srv1 - srv0)) -v p=$((pg1 - pg0)) -v cores="$(nproc)" \
    -v b=$(( (m_total1 - m_total0) - (m_idle1 - m_idle0) )) -v wall=$(( m_total1 - m_total0 )) 'BEGIN {
      s /= hz; p /= hz; b /= hz; wall /= hz
      o = b - c - s - p; if (o < 0) o = 0
      printf "window_s=%.1f client_s=%.1f server_s=%.1f postgres_s=%.1f other_s=%.1f idle_s=%.1f", wall / cores, c, s, p, o, wall - b
      printf " server_ms_req=%.3f postgres_ms_req=%.3f other_cores=%.2f", (n ? 1000 * s / n : 0), (n ? 1000 * p / n : 0), o / (wall / cores) }')
}
client_seconds() { awk '{ t = $1 + $2 } END { printf "%.2f", t }' "$1"; }  # from bash `time` with TIMEFORMAT='%U %S'

# ---------------------------------------------------------------- runners
declare -A R  # results: R[label.key]
run_log() { echo "$*" | tee -a "$work/log.txt" >&2; }

store() {  # store LABEL "k=v k=v ...": keeps the round with the highest rps, and lists every round's rps
  local label=$1 kv rps_new
  rps_new=$(sed -n 's/.*\brps=\([0-9.]*\).*/\1/p' <<<"$2")
  R[$label.rounds]="${R[$label.rounds]:-}${R[$label.rounds]:+ }${rps_new%.*}"
  if [ -n "${R[$label.rps]:-}" ] && awk -v a="${R[$label.rps]}" -v b="$rps_new" 'BEGIN { exit !(a >= b) }'; then return; fi
  for kv in $2; do R[$label.${kv%%=*}]=${kv#*=}; done
}

# wait_quiet: with BENCH_QUIET_WAIT=N, wait up to N seconds for other work on the machine to
# stop (under 15% of the CPUs busy over half a second) before a measurement.
wait_quiet() {
  ((QUIET_WAIT > 0)) || return 0
  local deadline=$((SECONDS + QUIET_WAIT)) t0 i0 busy
  while :; do
    machine_ticks; t0=$m_total; i0=$m_idle; sleep 0.5; machine_ticks
    busy=$(( 100 * ((m_total - t0) - (m_idle - i0)) / (m_total > t0 ? m_total - t0 : 1) ))
    ((busy <= 15)) && return 0
    ((SECONDS < deadline)) || { run_log "bench: the machine is still ${busy}% busy with other work; measuring anyway"; return 0; }
  done
}

warm_wrk() { wait_quiet; wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$1" "$2" >/dev/null; }  # warm_wrk SCRIPT URL

# run_wrk LABEL SCRIPT URL SERVER_PID: one measured run; fills R[LABEL.*]
run_wrk() {
  local label=$1 script=$2 url=$3 spid=$4 line
  cpu_begin "$spid"
  local TIMEFORMAT='%U %S'
  { time wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$script" "$url" >"$work/$label.out"; } 2>"$work/$label.time"
  cpu_end "$spid"
  line=$(grep '^BENCH ' "$work/$label.out") || { cat "$work/$label.out" "$work/$label.time" >&2; return 1; }
  line=${line#BENCH }
  cpu_report "$(tail -n 1 "$work/$label.time" | client_seconds /dev/stdin)" "$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")"
  store "$label" "$line $cpu_line"
  run_log "  $label: $line | $cpu_line"
  grep -q ' non2xx=0 socket_errors=0' <<<"$line" || run_log "bench: WARNING: $label had errors (see above)"
}

# run_pgbench LABEL CLIENTS SCRIPT [ARGS...]: one pgbench run; fills R[LABEL.*]
# pgbench opens fresh connections (and prepares its statements on each) when it starts, and
# recur's pooled connections are warm: so the window measured starts once all clients are
# connected and WARMUP seconds have passed, and lasts DURATION seconds. TPS and latencies
# come from pgbench's per-transaction log (transactions that completed in the window), CPU
# from the same window.
# New subscription ids: 'sub_0000000' || (base + seq * 100 + client), base = 1e18 + 1e16 per
# run, so no two runs collide.
pgbench_runs=0
run_pgbench() {
  local label=$1 clients=$2 script=$3; shift 3
  pgbench_runs=$((pgbench_runs + 1))
  wait_quiet
  rm -f "$work"/pgblog.*
  local total=$((WARMUP + DURATION + 3)) launch=${EPOCHREALTIME/./}
  pgbench -n -M prepared -c "$clients" -j "$THREADS" -f "$script" "${PGB_VARS[@]}" "$@" \
    -D base=$((10**18 + pgbench_runs * 10**16)) -T "$total" \
    --log --log-prefix="$work/pgblog" >"$work/$label.out" 2>&1 &
  pgbench_pid=$!
  local pgb_pid=$pgbench_pid i connected=0
  for i in $(seq 600); do  # 60 s at most for every client to connect
    connected=$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")
    [ "$connected" -ge "$clients" ] && break
    kill -0 "$pgb_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep "$WARMUP"
  local t0=$EPOCHREALTIME client0 client1
  proc_ticks "$pgb_pid"; client0=$ticks
  cpu_begin 0
  # The window closes DURATION seconds later, or 1 s before pgbench's -T runs out if
  # connecting took long: the readings must be taken while pgbench and its backends live.
  local end_us=$(( ${t0/./} + DURATION * 1000000 )) limit_us=$(( launch + (total - 1) * 1000000 )) wait_us
  ((end_us < limit_us)) || end_us=$limit_us
  wait_us=$(( end_us - ${EPOCHREALTIME/./} ))
  ((wait_us > 0)) && sleep "$((wait_us / 1000000)).$(printf '%06d' $((wait_us % 1000000)))"
  local t1=$EPOCHREALTIME
  proc_ticks "$pgb_pid"; client1=$ticks
  cpu_end 0
  wait "$pgb_pid" || { cat "$work/$label.out" >&2; return 1; }
  pgbench_pid=""
  local failed line n
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/$label.out")
  # Transactions that completed inside [t0, t1]: columns 3 (latency, µs) and 5-6 (completion time).
  line=$(cat "$work"/pgblog.* | python3 -c '
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
lat, last = [], 0
for l in sys.stdin:
    f = l.split()
    if len(f) >= 6:
        done = int(f[4]) + int(f[5]) / 1e6
        last = max(last, done)
        if t0 <= done <= t1:
            lat.append(int(f[2]))
t1 = min(t1, last)  # pgbench may have stopped before the window closed
lat.sort()
if not lat:
    sys.exit("no transactions in the measured window")
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p / 100))] / 1000
print("rps=%.1f requests=%d seconds=%.3f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (
    len(lat) / (t1 - t0), len(lat), t1 - t0, pct(50), pct(90), pct(99), lat[-1] / 1000))' "$t0" "$t1") \
    || { cat "$work/$label.out" >&2; return 1; }
  n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  cpu_report "$(awk -v t=$((client1 - client0)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')" "$n"
  store "$label" "$line non2xx=${failed:-0} socket_errors=0 $cpu_line"
  run_log "  $label: $line failed=${failed:-0} (clients connected: $connected) | $cpu_line"
  awk -v w="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")" -v d="$DURATION" 'BEGIN { exit !(w < 0.8 * d) }' &&
    run_log "bench: WARNING: $label was measured over a short window (its clients were slow to connect)"
  return 0
}

# start_server LABEL [FLAGS...]: runs recur serve on a free port; sets server_pid, server_url
start_server() {
  local label=$1; shift
  local port
  port=$(free_port)
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" "$@" >"$work/server-$label.out" 2>"$work/server-$label.log" &
  server_pid=$!
  server_url="http://127.0.0.1:$port"
  wait_http "$server_url/healthz" || { tail -n 20 "$work/server-$label.log" >&2; return 1; }
}

# ---------------------------------------------------------------- set-up
run_log "bench: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
run_log "bench: wrk -t$THREADS -c$CONNS -d${DURATION}s (+${WARMUP}s warm-up); pgbench -c $CONNS -j $THREADS -M prepared (${DURATION}s window)"
machine_ticks; idle_t0=$m_total; idle_i0=$m_idle; sleep 2; machine_ticks
background=$(awk -v t=$((m_total - idle_t0)) -v i=$((m_idle - idle_i0)) 'BEGIN { printf "%.0f", (t ? 100 * (t - i) / t : 0) }')
run_log "bench: machine busy before starting: ${background}% (other processes; should be near 0)"

# The billing-run benchmark (bench/billing.sh), alone with BENCH_ONLY=billing; the renewals
# with box features (bench/billing_mix.sh), alone with BENCH_ONLY=billing_mix.
source bench/billing.sh
source bench/billing_mix.sh
if [ "$ONLY" = billing_mix ]; then
  bench_billing_mix
  {
    echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
    echo
    echo "- recur: build/recur of $recur_built; the tree was at $recur_rev when the run started"
    echo "- PostgreSQL $(sql 'SHOW server_version') with fsync=off. Machine busy before the run: ${background}%"
    billing_mix_report
  } | tee "$out"
  { echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'; } >>"$out"
  echo "bench: results (and the per-run log above) written to $out" >&2
  exit
fi
if [ "$ONLY" = billing ]; then
  bench_billing
  {
    echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
    echo
    echo "- recur: build/recur of $recur_built; the tree was at $recur_rev when the run started"
    echo "- PostgreSQL $(sql 'SHOW server_version') with fsync=off. Machine busy before the run: ${background}%"
    billing_report
  } | tee "$out"
  { echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'; } >>"$out"
  echo "bench: results (and the per-run log above) written to $out" >&2
  exit
fi

"$recur" migrate --db "$db" >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
export BENCH_API_KEY
BENCH_API_KEY=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)

start_server fixtures --no-access-log "${WORKER_FLAGS[@]}"
api() {  # api METHOD PATH [BODY]: prints the body; fails on a non-2xx status
  curl -sf -X "$1" -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$server_url$2"
}
product=$(api POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"BENCH-COFFEE-250","amount":1200,"currency":"EUR"}' | json_field id)
export BENCH_PLAN BENCH_CUSTOMER BENCH_IDS=$work/ids.txt
BENCH_PLAN=$(api POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
BENCH_CUSTOMER=$(api POST /v1/customers '{"email":"ada@example.com","name":"Ada Lovelace","phone":"+442079460000","shipping_address":{"line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"}}' | json_field id)
# Checkout (issue 17): customers with a sandbox card, subscribed with payment_behavior.
# A fresh one for each checkout run (recur's and the pgbench twin's): a checkout's settlement
# reads every MRR point of its customer (analytics), so a customer that already holds
# thousands of subscriptions makes every later checkout slower; with one each, every run
# starts from the same state (docs/PERFORMANCE.md, checkout section).
new_checkout_customer() {  # new_checkout_customer N: prints the id
  local id
  id=$(api POST /v1/customers '{"email":"grace'"$1"'@example.com","name":"Grace Hopper","shipping_address":{"line1":"1 Cobol Way","city":"London","postal_code":"N1 9GV","country":"GB"}}' | json_field id)
  api POST "/v1/customers/$id/payment-methods" '{"token":"pm_card_visa"}' >/dev/null
  echo "$id"
}
declare -A CK  # CK[check], CK[recur.R], CK[pg.R], CK[pg.pool.R]: the checkout customer of each run
CK[check]=$(new_checkout_customer 0)
for r in $(seq "$ROUNDS"); do
  for k in recur pg pg.pool; do CK[$k.$r]=$(new_checkout_customer "$k$r"); done
done
ck_recur_list=$(for r in $(seq "$ROUNDS"); do printf "'%s'," "${CK[recur.$r]}"; done)"'${CK[check]}'"

# Subscriptions for the GETs: created through the API by a short POST run.
wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s bench/wrk/post.lua "$server_url" >/dev/null
sql "SELECT id FROM subscriptions ORDER BY random() LIMIT 2000" >"$BENCH_IDS"
one=$(head -1 "$BENCH_IDS")
n_subs=$(sql "SELECT count(*) FROM subscriptions")
[ "$n_subs" -gt 0 ] || { echo "bench: the POST warm-up created no subscriptions" >&2; exit 1; }
body=$(api GET "/v1/subscriptions/$one")
sizes=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' -H "Authorization: Bearer $BENCH_API_KEY" "$server_url/v1/subscriptions/$one")
run_log "bench: fixtures: $n_subs subscriptions created through the API; GET response ${sizes% *} B headers + ${sizes#* } B body"

# Check that the pgbench twins send the statements the server sends: log every statement
# (log_statement=all, just for these requests) of one GET, one plain POST and one checkout, and
# compare each with its twin (bench/sql_shape.py twin): the same statements in the same order,
# each the server's text with its parameters replaced by pgbench variables or literals. The
# values the server sent become the twin's variables (-D), so a twin writes the server's rows.
# A mismatch means the service's SQL changed and the script must follow.
pg_log=$(dirname "$(sql 'SHOW data_directory')")/server.log  # where scripts/with-postgres.sh puts it
sql_check() {  # sql_check NAME "PGBENCH_SCRIPTS" CURL_ARGS...: fills R[sql.NAME*] and $work/twin.NAME
  local name=$1 scripts=$2 server twin rc=0; shift 2
  sql "SELECT 'bench-start-$name'" >/dev/null
  curl -sf -o /dev/null -H "Authorization: Bearer $BENCH_API_KEY" "$@" || run_log "bench: WARNING: the $name request of the SQL check failed"
  sql "SELECT 'bench-end-$name'" >/dev/null
  server=$(python3 bench/sql_shape.py log "$pg_log" "bench-start-$name" "bench-end-$name")
  # shellcheck disable=SC2086  # the scripts are a list
  twin=$(python3 bench/sql_shape.py pgbench $scripts)
  R[sql.$name]=$server
  run_log "bench: SQL of one $name: $server"
  # shellcheck disable=SC2086
  python3 bench/sql_shape.py twin "$pg_log" "bench-start-$name" "bench-end-$name" $scripts \
    >"$work/twin.$name" 2>"$work/twin.$name.err" || rc=$?
  if ((rc != 0)); then
    R[sql.$name.mismatch]="$scripts: $(head -n 1 "$work/twin.$name.err")$( (($(wc -l <"$work/twin.$name.err") > 1)) && echo " (and $(($(wc -l <"$work/twin.$name.err") - 1)) more, see the log)" || true)"
    run_log "bench: WARNING: $scripts does not match the server's SQL (it sends: $twin):"
    run_log "$(sed 's/^/  /' "$work/twin.$name.err")"
  fi
}
# twin_args NAME [VAR=VALUE...]: TWIN_ARGS=(-D var=value ...): the values the server sent in the
# checked request NAME, some replaced (another customer...).
twin_args() {
  local -A v=()
  local kv k
  if [ -s "$work/twin.$1" ]; then
    while IFS= read -r -d '' kv; do v[${kv%%=*}]=${kv#*=}; done <"$work/twin.$1"
  fi
  shift
  for kv in "$@"; do v[${kv%%=*}]=${kv#*=}; done
  TWIN_ARGS=()
  for k in "${!v[@]}"; do TWIN_ARGS+=(-D "$k=${v[$k]}"); done
}
CREATE_SQL=bench/pgbench/create_subscription.sql
CHECKOUT_SQL="$CREATE_SQL bench/pgbench/checkout_charge.sql"
if [ -r "$pg_log" ]; then
  sql "ALTER SYSTEM SET log_statement = 'all'" && sql "SELECT pg_reload_conf()" >/dev/null && sleep 0.5
  sql_check POST "$CREATE_SQL" -H 'Content-Type: application/json' \
    -d "{\"customer\":\"$BENCH_CUSTOMER\",\"plan\":\"$BENCH_PLAN\",\"quantity\":1,\"payment_behavior\":\"default_incomplete\"}" "$server_url/v1/subscriptions"
  sql_check checkout "$CHECKOUT_SQL" -H 'Content-Type: application/json' \
    -d "{\"customer\":\"${CK[check]}\",\"plan\":\"$BENCH_PLAN\",\"quantity\":1,\"payment_behavior\":\"allow_incomplete\"}" "$server_url/v1/subscriptions"
  # The GET's SQL without the read caches (with them a GET of a cached subscription sends none):
  # what pgbench's twin of the GET measures, against recur's GET with the caches off.
  stop_pid "$server_pid"
  start_server check-nocache --no-access-log --no-read-caches "${WORKER_FLAGS[@]}"
  api GET "/v1/subscriptions/$(sed -n 2p "$BENCH_IDS")" >/dev/null  # the API key's first check reads the database
  sql_check GET bench/pgbench/get_subscription.sql "$server_url/v1/subscriptions/$one"
  sql "ALTER SYSTEM RESET log_statement" && sql "SELECT pg_reload_conf()" >/dev/null && sleep 0.5
else
  run_log "bench: WARNING: cannot read PostgreSQL's log ($pg_log): the pgbench twins are not checked against the server's SQL, and the POST's and checkout's twins do not run (their values come from that log)"
fi
PGB_VARS=(-D seq=0)
# The checkout twin's customer-specific values, for another checkout customer.
ck_vars() {  # ck_vars CUSTOMER: VAR=VALUE for the customer, its card and the sandbox's id for it
  printf '%s\n' "customer=$1" \
    "$(sql "SELECT 'payment_method=' || id FROM payment_methods WHERE customer_id = '$1' ORDER BY id LIMIT 1")" \
    "$(sql "SELECT 'gateway_customer=' || gateway_customer FROM payment_methods WHERE customer_id = '$1' ORDER BY id LIMIT 1")"
}
# Rows for the pgbench GET: copies of that subscription under ids pgbench can compute.
nrows=2000
gbase=3000000000000000000
sql "INSERT INTO subscriptions (id, customer_id, plan_id, status, next_action_at, billed_periods, version, created_at, doc)
     SELECT 'sub_0000000' || ($gbase + i), customer_id, plan_id, status, next_action_at, billed_periods, version,
            created_at, replace(doc, id, 'sub_0000000' || ($gbase + i))
     FROM subscriptions, generate_series(1, $nrows) i WHERE id = '$one'"
sql "VACUUM ANALYZE"

# nginx: the GET's JSON body as a static file; every /v1/subscriptions/* path serves it.
static_json_nginx "$work/nginx" "$body" /v1/subscriptions/

# ---------------------------------------------------------------- measurements
count_subs() { sql "SELECT count(*) FROM subscriptions"; }

measure_recur() {  # measure_recur TAG FLAGS...: GET then POST against a fresh server process
  local tag=$1; shift
  stop_pid "$server_pid"
  start_server "$tag" "$@"
  warm_wrk bench/wrk/get.lua "$server_url"
  run_wrk "get.$tag" bench/wrk/get.lua "$server_url" "$server_pid"
  warm_wrk bench/wrk/post.lua "$server_url"
  local before after
  before=$(count_subs)
  run_wrk "post.$tag" bench/wrk/post.lua "$server_url" "$server_pid"
  after=$(count_subs)
  R[post.$tag.rows]="${R[post.$tag.rows]:-}${R[post.$tag.rows]:+, }$((after - before))"
  if [ "$tag" = nolog ]; then  # checkout: the same POST, its first invoice charged in the request
    local plain=$BENCH_CUSTOMER
    export BENCH_CUSTOMER=${CK[recur.$round]} BENCH_BEHAVIOR=allow_incomplete
    warm_wrk bench/wrk/post.lua "$server_url"
    run_wrk checkout bench/wrk/post.lua "$server_url" "$server_pid"
    ck_points checkout "$BENCH_CUSTOMER"
    export BENCH_CUSTOMER=$plain; unset BENCH_BEHAVIOR
  fi
  stop_pid "$server_pid"; server_pid=""
  R[$tag.log_lines]=$(grep -c '"type":"access"' "$work/server-$tag.log" || true)
}
# ck_points LABEL CUSTOMER: after a checkout run, how many subscriptions (MRR points) its
# customer holds: the settlement reads them all, so it tells how far the run got.
ck_points() {
  R[$1.points]="${R[$1.points]:-}${R[$1.points]:+, }$(sql "SELECT count(*) FROM analytics_points WHERE customer_id = '$2'")"
  run_log "  $1: the customer now holds ${R[$1.points]##*, } MRR points"
}
measure_get_nocache() {  # recur's GET with the read caches off: what its pgbench twin does
  stop_pid "$server_pid"
  start_server nocache --no-access-log --no-read-caches "${WORKER_FLAGS[@]}"
  warm_wrk bench/wrk/get.lua "$server_url"
  run_wrk get.nocache bench/wrk/get.lua "$server_url" "$server_pid"
  stop_pid "$server_pid"; server_pid=""
}
measure_pgbench() {
  local get_args=(-D "gbase=$gbase" -D "nrows=$nrows") post_args ck_args
  twin_args GET "plan=$BENCH_PLAN"; get_args+=("${TWIN_ARGS[@]}")
  twin_args POST; post_args=("${TWIN_ARGS[@]}")
  local have_post=""  # the POST's values come from the statement log of the checked POST
  [ -s "$work/twin.POST" ] && have_post=1
  run_pgbench pg.get "$CONNS" bench/pgbench/get_subscription.sql "${get_args[@]}"
  [ -z "$have_post" ] || run_pgbench pg.post "$CONNS" "$CREATE_SQL" "${post_args[@]}"
  # The same at the server's pool size: what PostgreSQL does with the concurrency recur gives it.
  run_pgbench pg.get.pool "$POOL" bench/pgbench/get_subscription.sql "${get_args[@]}"
  [ -z "$have_post" ] || run_pgbench pg.post.pool "$POOL" "$CREATE_SQL" "${post_args[@]}"
  # Checkout: the create's transaction and the five the charge adds, as one pgbench script (one
  # checkout per pgbench transaction), each run for a customer of its own, like recur's.
  if [ -s "$work/twin.checkout" ]; then
    local label clients
    for label in pg.checkout pg.checkout.pool; do
      clients=$CONNS; [ "$label" = pg.checkout ] || clients=$POOL
      mapfile -t ck_args < <(ck_vars "${CK[pg${label#pg.checkout}.$round]}")  # CK[pg.R], CK[pg.pool.R]
      twin_args checkout "${ck_args[@]}"
      # shellcheck disable=SC2086  # the scripts are a list
      cat $CHECKOUT_SQL >"$work/checkout_twin.sql"
      run_pgbench "$label" "$clients" "$work/checkout_twin.sql" "${TWIN_ARGS[@]}"
      ck_points "$label" "${ck_args[0]#customer=}"
    done
  fi
  if [ -n "$WHATIF" ]; then  # the same SQL in fewer round trips (see docs/PERFORMANCE.md)
    run_pgbench pg.get.auto "$POOL" bench/pgbench/get_subscription_autocommit.sql "${get_args[@]}"
    [ -z "$have_post" ] || run_pgbench pg.post.pipe "$POOL" bench/pgbench/create_subscription_pipelined.sql "${post_args[@]}"
  fi
}
measure_nginx() {
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  nginx_pid=$!
  wait_http "http://127.0.0.1:$nginx_port/v1/subscriptions/x"
  warm_wrk bench/wrk/get.lua "http://127.0.0.1:$nginx_port"
  run_wrk nginx bench/wrk/get.lua "http://127.0.0.1:$nginx_port" "$nginx_pid"
  stop_pid "$nginx_pid"; nginx_pid=""
}

stop_pid "$server_pid"; server_pid=""
for round in $(seq "$ROUNDS"); do
  run_log "bench: round $round/$ROUNDS"
  measure_recur nolog --no-access-log "${WORKER_FLAGS[@]}"
  measure_get_nocache
  measure_nginx
  measure_pgbench
done
run_log "bench: access log on"
measure_recur log --access-log "${WORKER_FLAGS[@]}"
for w in $SWEEP; do
  run_log "bench: --workers $w"
  measure_recur "w$w" --no-access-log --workers "$w"
done

# Every checkout answered: active, its first invoice paid by one succeeded payment, one
# sandbox charge; the same for the twin's checkouts (counted before the billing run, which
# has a database of its own anyway).
checkout_rows() {  # checkout_rows 'CUSTOMER','CUSTOMER',...
  sql "SELECT count(*) || ' subscriptions, ' || count(*) FILTER (WHERE s.status = 'active') || ' active, '
    || (SELECT count(*) FROM payments p WHERE p.customer_id IN ($1) AND p.status = 'succeeded')
    || ' payments succeeded, ' || (SELECT count(*) FROM sandbox_charges c WHERE c.customer IN
         (SELECT gateway_customer FROM payment_methods WHERE customer_id IN ($1))) || ' sandbox charges'
    FROM subscriptions s WHERE s.customer_id IN ($1)"
}
checkout_check=$(checkout_rows "$ck_recur_list")
ck_twin_list=$(for r in $(seq "$ROUNDS"); do printf "'%s','%s'," "${CK[pg.$r]}" "${CK[pg.pool.$r]}"; done)"''"
checkout_twin_check=$(checkout_rows "$ck_twin_list")
if [ "$ONLY" != api ]; then
  run_log "bench: billing run"
  bench_billing
  run_log "bench: renewals with box features (bench/billing_mix.sh)"
  bench_billing_mix || run_log "bench: WARNING: the renewals-with-box-features benchmark failed (see the log)"
fi
if [ -z "$ONLY" ]; then
  run_log "bench: availability from cache (bench/availability.sh)"
  BENCH_OUT=$work/availability.md BENCH_RECUR=$recur_bin bash bench/availability.sh 2>>"$work/log.txt" >/dev/null ||
    run_log "bench: WARNING: the availability benchmark failed (see the log)"
  run_log "bench: outbound webhooks (bench/webhooks.sh)"
  ( unset RECUR_WEBHOOK_BENCH_INNER
    BENCH_OUT=$work/webhooks.md BENCH_RECUR=$recur_bin BENCH_DURATION=5 bash bench/webhooks.sh 2>>"$work/log.txt" >/dev/null ) ||
    run_log "bench: WARNING: the webhooks benchmark failed (see the log)"
fi

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v < t); print (ok ? "met" : "MISSED") }'; }
row() {  # row LABEL NAME
  local l=$1
  printf '| %-44s | %8s | %6s | %6s | %6s | %5s | %9s | %11s | %5s | %5s |\n' "$2" "${R[$l.rps]}" "${R[$l.p50_ms]}" \
    "${R[$l.p99_ms]}" "${R[$l.max_ms]}" "${R[$l.non2xx]}/${R[$l.socket_errors]}" "${R[$l.server_ms_req]}" \
    "${R[$l.postgres_ms_req]}" "$(awk -v c="${R[$l.client_s]}" -v w="${R[$l.window_s]}" 'BEGIN { printf "%.2f", (w > 0 ? c / w : 0) }')" \
    "${R[$l.other_cores]}"
}
# A twin that did not run (its SQL check failed, or no statement log) reports zeros, not an unbound variable.
for l in pg.post pg.post.pool pg.checkout pg.checkout.pool pg.get.auto pg.post.pipe; do
  for k in rps p50_ms p99_ms max_ms non2xx socket_errors server_ms_req postgres_ms_req client_s window_s other_cores; do
    : "${R[$l.$k]:=0}"
  done
done
post_ratio=$(ratio "${R[post.nolog.rps]}" "${R[pg.post.rps]}")
checkout_ratio=$(ratio "${R[checkout.rps]}" "${R[post.nolog.rps]}")
get_ratio=$(ratio "${R[get.nolog.rps]}" "${R[nginx.rps]}")
p99_worst=$(awk -v a="${R[get.nolog.p99_ms]}" -v b="${R[post.nolog.p99_ms]}" 'BEGIN { print (a > b ? a : b) }')
nocache_ratio=$(ratio "${R[get.nocache.rps]}" "${R[pg.get.pool.rps]}")
noisy=$(for l in get.nolog get.nocache post.nolog nginx pg.post pg.get.pool; do echo "${R[$l.other_cores]}"; done |
        awk -v bg="$background" '$1 > 0.15 || bg > 15 { n++ } END { print n + 0 }')
{
  echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo "- wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, after a ${WARMUP}s warm-up, scripts bench/wrk/*.lua"
  echo "- pgbench -n -M prepared -c $CONNS -j $THREADS (and -c $POOL, recur's pool size), scripts bench/pgbench/*.sql;"
  echo "  measured over ${DURATION}s once all clients are connected and ${WARMUP}s have passed"
  echo "- recur serve --workers ${BENCH_WORKERS:-"(default: $POOL)"}, a PostgreSQL pool of as many connections; PostgreSQL $(sql 'SHOW server_version') with fsync=off"
  echo "- recur: build/recur of $recur_built; the tree was at $recur_rev when the run started"
  echo "- $ROUNDS round(s) (the access-log runs: one); the best round of each line is shown. Machine busy before the run: ${background}%"
  echo
  echo "| run                                          |    req/s | p50 ms | p99 ms | max ms | errs  | recur/nginx CPU ms/req | PG CPU ms/req | client cores | other cores |"
  echo "|----------------------------------------------|---------:|-------:|-------:|-------:|------:|----------:|------------:|------:|------:|"
  row get.nolog "recur GET /v1/subscriptions/{id}"
  row get.nocache "recur GET, read caches off"
  row post.nolog "recur POST /v1/subscriptions"
  row checkout "recur POST, checkout (sandbox charge)"
  row get.log "recur GET, access log on (to a file)"
  row post.log "recur POST, access log on (to a file)"
  row nginx "nginx, static copy of the GET's JSON"
  row pg.get "pgbench -c $CONNS: the GET's SQL (TPS)"
  row pg.post "pgbench -c $CONNS: the POST's SQL (TPS)"
  row pg.get.pool "pgbench -c $POOL: the GET's SQL (TPS)"
  row pg.post.pool "pgbench -c $POOL: the POST's SQL (TPS)"
  row pg.checkout "pgbench -c $CONNS: the checkout's SQL (TPS)"
  row pg.checkout.pool "pgbench -c $POOL: the checkout's SQL (TPS)"
  if [ -n "$WHATIF" ]; then
    row pg.get.auto "what-if, pgbench -c $POOL: GET as 1 statement"
    row pg.post.pipe "what-if, pgbench -c $POOL: POST in 2 pipelines"
  fi
  for w in $SWEEP; do
    row "get.w$w" "recur GET --workers $w"
    row "post.w$w" "recur POST --workers $w"
  done
  echo
  echo "errs = non-2xx responses (pgbench: failed transactions) / socket errors. CPU ms/req = CPU time of"
  echo "that process tree during the run / requests. other cores = CPU used by processes outside the benchmark."
  echo "Subscriptions inserted per measured POST run: ${R[post.nolog.rows]} (best round: wrk counted ${R[post.nolog.requests]} responses)."
  echo "Access-log lines written in the access-log runs: ${R[log.log_lines]:-0}."
  echo "Checkout runs (all rounds, warm-ups included): $checkout_check; the pgbench twin's: $checkout_twin_check."
  echo "MRR points of each checkout run's customer at its end (the settlement reads them all): recur ${R[checkout.points]:-}; pgbench -c $CONNS ${R[pg.checkout.points]:-}; -c $POOL ${R[pg.checkout.pool.points]:-}."
  echo "SQL the server sent for one GET: ${R[sql.GET]:-not checked}; for one POST: ${R[sql.POST]:-not checked}."
  echo "For one checkout: ${R[sql.checkout]:-not checked}."
  for name in GET POST checkout; do
    [ -z "${R[sql.$name.mismatch]:-}" ] || echo "WARNING: the pgbench twin of the $name differs: ${R[sql.$name.mismatch]}."
  done
  if ((ROUNDS > 1)); then
    echo "req/s per round: GET ${R[get.nolog.rounds]}; POST ${R[post.nolog.rounds]}; nginx ${R[nginx.rounds]};"
    echo "pgbench GET ${R[pg.get.rounds]}; pgbench POST ${R[pg.post.rounds]}; pgbench POST -c $POOL ${R[pg.post.pool.rounds]};"
    echo "checkout ${R[checkout.rounds]}; pgbench checkout ${R[pg.checkout.rounds]:-}; pgbench checkout -c $POOL ${R[pg.checkout.pool.rounds]:-}."
  fi
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| recur POST req/s / pgbench -c $CONNS TPS for the same writes >= 0.70 | $post_ratio | $(verdict "$post_ratio" 0.70 '>=') |"
  echo "| recur GET req/s / nginx static req/s >= 0.50 | $get_ratio | $(verdict "$get_ratio" 0.50 '>=') |"
  echo "| recur GET, read caches off / pgbench -c $POOL TPS of its SQL >= 0.90 | $nocache_ratio | $(verdict "$nocache_ratio" 0.90 '>=') |"
  echo "| p99 < 25 ms (worst of GET and POST) | $p99_worst ms | $(verdict "$p99_worst" 25 '<') |"
  echo "| (stricter) recur POST / pgbench -c $POOL TPS | $(ratio "${R[post.nolog.rps]}" "${R[pg.post.pool.rps]}") | |"
  echo "| checkout POST (allow_incomplete, sandbox charge) / plain POST req/s; its p99 | $checkout_ratio; ${R[checkout.p99_ms]} ms | |"
  echo "| checkout POST / pgbench -c $CONNS TPS of the same SQL (create + charge); / pgbench -c $POOL | $(ratio "${R[checkout.rps]}" "${R[pg.checkout.rps]:-0}"); $(ratio "${R[checkout.rps]}" "${R[pg.checkout.pool.rps]:-0}") | |"
  echo "| recur GET, read caches off / pgbench -c $CONNS TPS of its SQL | $(ratio "${R[get.nocache.rps]}" "${R[pg.get.rps]}") | |"
  echo "| access log on: POST / pgbench -c $CONNS; GET / nginx; worst p99 | $(ratio "${R[post.log.rps]}" "${R[pg.post.rps]}"); $(ratio "${R[get.log.rps]}" "${R[nginx.rps]}"); $(awk -v a="${R[get.log.p99_ms]}" -v b="${R[post.log.p99_ms]}" 'BEGIN { print (a > b ? a : b) }') ms | |"
  if ((noisy > 0)); then
    echo
    echo "WARNING: other work was using the CPU during $noisy of the key runs (see 'other cores'): these figures are"
    echo "lower than this machine can do; re-run on a quiet machine before comparing."
  fi
  [ "$ONLY" = api ] || { billing_report; billing_mix_report; }
  if [ -s "$work/availability.md" ]; then echo; sed '/^### Per-run log/,$d' "$work/availability.md"; fi
  if [ -s "$work/webhooks.md" ]; then echo; sed '/^### Per-run log/,$d' "$work/webhooks.md"; fi
} | tee "$out"
{
  echo
  echo "### Per-run log"
  echo
  echo '```'
  cat "$work/log.txt"
  echo '```'
} >>"$out"
echo "bench: results (and the per-run log above) written to $out" >&2
[ -n "$ONLY" ] || bash bench/forecast.sh
[ -n "$ONLY" ] || bash bench/sqlite.sh
exit
}
