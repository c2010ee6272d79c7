#!/usr/bin/env bash
# SQLite, the embedded default (issue 20): the API's GET and POST and the renewals, each
# against its own baseline, the same statements with the same values run by the `sqlite3`
# CLI in one process.
#
# How the baseline is made: from one starting file, recur runs once with the statement log
# on (`sqlite:FILE?log_statements=LOG`: each transaction's statements with their values,
# written when it ends, so the log lists the writes in commit order); the log, replayed by
# `sqlite3` on a second copy of the starting file, is the baseline, and its result must be
# byte for byte the logged run's (`.dump` compared); recur is then timed on a third copy with
# the log off. So the baseline is exactly the SQL recur sent, without the server around it,
# in one connection, one statement after another. (The CLI parses each statement again; recur
# keeps them prepared.)
#
# Measured (2 cores, the file on this machine's disk, synchronous=FULL, the default):
#   - GET /v1/subscriptions/{id} with the read caches off, and with them on (against nginx
#     serving the same JSON, as benchmark 1 does);
#   - POST /v1/subscriptions (default_incomplete: the create alone);
#   - `recur bill` renewing N subscriptions made through the API (a customer with a sandbox
#     card each, the first invoice charged at signup), each once; and their replay.
# Knobs: BENCH_DURATION (10 s per wrk run), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_SQLITE_N (5000 renewals), BENCH_RECUR (build/recur), BENCH_SQLITE_OUT (the result
# file; default var/bench/sqlite-<time>.md), BENCH_PERF (a run's label, e.g. get_nocache: perf
# record of the server during that run, its report in var/bench/sqlite-perf-<label>-<time>.txt).
{  # parsed whole before it runs: editing it meanwhile cannot derail a run
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk nginx sqlite3 curl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/sqlite: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
N=${BENCH_SQLITE_N:-5000}
recur_bin=${BENCH_RECUR:-build/recur}
[ -x "$recur_bin" ] || { echo "bench/sqlite: $recur_bin is missing: run 'make build'" >&2; exit 1; }
mkdir -p var/bench
out=${BENCH_SQLITE_OUT:-var/bench/sqlite-$(date -u +%Y%m%dT%H%M%SZ).md}  # not BENCH_OUT: run.sh's own
source bench/lib.sh  # stop_pid, free_port, wait_http, json_field, proc_ticks, machine_ticks
work=$(mktemp -d /tmp/recur-sqlite-bench.XXXXXX)
server_pid="" nginx_pid=""
cleanup() { stop_pid "$server_pid"; stop_pid "$nginx_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
recur=$work/recur
cp "$recur_bin" "$recur"  # a rebuild during the run must not change what is measured
export BENCH_LUA_DIR=$PWD/bench/wrk
log() { echo "$*" | tee -a "$work/log.txt" >&2; }
declare -A R
hz=$(getconf CLK_TCK)

# serve DB [FLAGS...]: recur serve on a free port (the API only); sets server_pid, url
serve() {
  local db=$1 port; shift
  port=$(free_port)
  url="http://127.0.0.1:$port"
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" --modules api --no-access-log "$@" \
    >>"$work/serve.out" 2>>"$work/serve.log" &
  server_pid=$!
  wait_http "$url/healthz" || { tail -n 20 "$work/serve.log" >&2; return 1; }
}
stop_server() { stop_pid "$server_pid"; server_pid=""; }
api() { curl -sf -X "$1" -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' ${3:+-d "$3"} "$url$2"; }
# settle FILE: the WAL folded into the file, so a copy of FILE alone is the whole database.
settle() { sqlite3 "$1" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; }
copy_of() { rm -f "$2" "$2-wal" "$2-shm"; cp "$1" "$2"; }  # copy_of SETTLED_FILE NEW_FILE

# wrk_run LABEL SCRIPT URL PID: one wrk run of DURATION seconds; R[LABEL.rps|p99_ms|requests|server_ms]
wrk_run() {
  local label=$1 script=$2 target=$3 pid=$4 line t0 t1
  local perf_pid=""
  if [ "${BENCH_PERF:-}" = "$label" ]; then  # a profile of the server during this run
    perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  tree_ticks "$pid"; t0=$tree  # nginx's workers are its children
  line=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$script" "$target" | grep '^BENCH ') ||
    { log "bench/sqlite: wrk $label printed no result"; return 1; }
  tree_ticks "$pid"; t1=$tree
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    { perf report -i "$work/perf.data" --stdio --no-children --sort dso 2>/dev/null
      perf report -i "$work/perf.data" --stdio --no-children --percent-limit 0.7 2>/dev/null
    } >"var/bench/sqlite-perf-$label-$(date -u +%Y%m%dT%H%M%SZ).txt" || true
    log "  $label: perf report in var/bench/sqlite-perf-$label-*.txt"
  fi
  R[$label.rps]=$(sed -n 's/.*\brps=\([0-9.]*\).*/\1/p' <<<"$line")
  R[$label.p99_ms]=$(sed -n 's/.*\bp99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  R[$label.requests]=$(sed -n 's/.*\brequests=\([0-9]*\).*/\1/p' <<<"$line")
  R[$label.server_ms]=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="${R[$label.requests]}" 'BEGIN { printf "%.3f", n ? 1000 * t / hz / n : 0 }')
  grep -q ' non2xx=0 socket_errors=0' <<<"$line" || log "bench/sqlite: WARNING: $label had errors: $line"
  log "  $label: $line server_ms_req=${R[$label.server_ms]}"
}

# replay LABEL LOG START: the log run by the sqlite3 CLI on a copy of START (best of 2);
# R[LABEL.replay_s]; the replayed file is left in $work/LABEL-replay.db
replay() {
  local label=$1 sql=$2 start=$3 best="" i t0 t1 s
  for i in 1 2; do
    copy_of "$start" "$work/$label-replay.db"
    t0=$EPOCHREALTIME
    sqlite3 "$work/$label-replay.db" <"$sql" >/dev/null 2>"$work/$label-replay.err" || true
    t1=$EPOCHREALTIME
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }' && best=$s
  done
  R[$label.replay_s]=$best
  R[$label.replay_errors]=$(grep -c '^Parse error\|^Runtime error\|^Error' "$work/$label-replay.err" || true)
  log "  $label: the log ($(grep -c '^COMMIT;$' "$sql") commits, $(wc -c <"$sql") B) replayed by sqlite3 in $best s (best of 2); the CLI reported ${R[$label.replay_errors]} failed statement(s)"
}
# same_rows LABEL A B: the two files hold the same rows (sqlite3 .dump compared)
same_rows() {
  settle "$2"; settle "$3"
  if cmp -s <(sqlite3 "$2" .dump) <(sqlite3 "$3" .dump); then R[$1.same]=yes
  else R[$1.same]=NO; log "bench/sqlite: WARNING: $1: the replay's rows differ from the logged run's"; fi
}

log "bench/sqlite: $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M:%S UTC'); wrk -t$THREADS -c$CONNS -d${DURATION}s; N=$N renewals"

# ---------------------------------------------------------------- the starting file
base=$work/base.db
"$recur" migrate --db "sqlite:$base" >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
export BENCH_API_KEY BENCH_PLAN BENCH_CUSTOMER BENCH_IDS=$work/ids.txt
BENCH_API_KEY=$("$recur" keys create --role admin --db "sqlite:$base" 2>/dev/null | tail -n 1)
serve "sqlite:$base"
product=$(api POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"BENCH-COFFEE-250","amount":1200,"currency":"EUR"}' | json_field id)
BENCH_PLAN=$(api POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
BENCH_CUSTOMER=$(api POST /v1/customers '{"email":"ada@example.com","name":"Ada Lovelace","phone":"+442079460000","shipping_address":{"line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"}}' | json_field id)
# The renewals' starting point: the product and plan alone (no subscription to bill yet).
stop_server
settle "$base"
bill_base=$work/bill-base.db
copy_of "$base" "$bill_base"
serve "sqlite:$base"
# Subscriptions for the GETs, through the API (2 s of POSTs).
wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/wrk/post.lua "$url" >/dev/null
sqlite3 "$base" "SELECT id FROM subscriptions ORDER BY random() LIMIT 2000" >"$BENCH_IDS"
[ -s "$BENCH_IDS" ] || { log "bench/sqlite: the POSTs made no subscriptions"; exit 1; }
body=$(api GET "/v1/subscriptions/$(head -1 "$BENCH_IDS")")
stop_server
settle "$base"
log "bench/sqlite: $(wc -l <"$BENCH_IDS") subscriptions to GET; the starting file $(du -h "$base" | cut -f1)"

# ---------------------------------------------------------------- GET and POST
# api_pair LABEL SCRIPT STATEMENT [FLAGS...]: the logged run, its replay and the check, then the
# timed run. STATEMENT: how a logged statement of one request begins (one per request), to
# count the requests whose SQL the log holds (wrk stops counting before the server stops).
api_pair() {
  local label=$1 script=$2 statement=$3; shift 3
  copy_of "$base" "$work/$label-log.db"
  serve "sqlite:$work/$label-log.db?log_statements=$work/$label.sql" "$@"
  wrk_run "$label.logged" "$script" "$url" "$server_pid"
  stop_server
  replay "$label" "$work/$label.sql" "$base"
  same_rows "$label" "$work/$label-log.db" "$work/$label-replay.db"
  copy_of "$base" "$work/$label-run.db"
  serve "sqlite:$work/$label-run.db" "$@"
  wrk -t"$THREADS" -c"$CONNS" -d2s -s "$script" "$url" >/dev/null  # warm-up
  wrk_run "$label" "$script" "$url" "$server_pid"
  stop_server
  # The baseline's rate: the logged requests over the time the CLI took for their SQL.
  R[$label.logged_n]=$(grep -c "^$statement" "$work/$label.sql" || true)
  R[$label.base_rps]=$(awk -v n="${R[$label.logged_n]}" -v s="${R[$label.replay_s]}" 'BEGIN { printf "%.1f", n / s }')
  log "  $label: baseline ${R[$label.base_rps]} requests/s (${R[$label.logged_n]} requests' SQL in ${R[$label.replay_s]} s)"
}
api_pair get_nocache bench/wrk/get.lua "SELECT doc FROM subscriptions WHERE id = '" --no-read-caches
api_pair post bench/wrk/post.lua "INSERT INTO subscriptions ("

# The cached GET against nginx serving its JSON (as benchmark 1).
copy_of "$base" "$work/get-run.db"
serve "sqlite:$work/get-run.db"
wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/wrk/get.lua "$url" >/dev/null
wrk_run get bench/wrk/get.lua "$url" "$server_pid"
stop_server
static_json_nginx "$work/nginx" "$body" /v1/subscriptions/
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
wait_http "http://127.0.0.1:$nginx_port/v1/subscriptions/x"
wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/wrk/get.lua "http://127.0.0.1:$nginx_port" >/dev/null
wrk_run nginx bench/wrk/get.lua "http://127.0.0.1:$nginx_port" "$nginx_pid"
stop_pid "$nginx_pid"; nginx_pid=""

# ---------------------------------------------------------------- renewals
# N subscriptions through the API, each its own customer with a sandbox card, the first
# invoice charged at signup (bench/seed_mix.py, as benchmark 2 seeds them).
serve "sqlite:$bill_base"
t0=$EPOCHREALTIME
python3 bench/seed_mix.py "$url" "$BENCH_API_KEY" "$BENCH_PLAN" "$BENCH_PLAN" none none r "plain=$N" >/dev/null
log "bench/sqlite: seeded $N subscriptions through the API in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
stop_server
settle "$bill_base"
paid=$(sqlite3 "$bill_base" "SELECT count(*) FROM invoices i JOIN subscriptions s ON s.id = i.subscription_id
  WHERE json_extract(s.doc, '\$.metadata.run') = 'r' AND i.period_seq = 1 AND i.status = 'paid'")
[ "$paid" = "$N" ] || { log "bench/sqlite: $paid of $N first invoices are paid after signup"; exit 1; }
due_max=$(sqlite3 "$bill_base" "SELECT max(next_action_at) FROM subscriptions WHERE json_extract(doc, '\$.metadata.run') = 'r'")
until=$(date -u -d "@$((due_max + 3600))" +%Y-%m-%dT%H:%M:%SZ)
# bill LABEL DB: `recur bill --until` timed, with its peak RSS; R[LABEL.s|rss_mb]
bill() {
  /usr/bin/time -f '%e %M' -o "$work/$1.time" "$recur" bill --db "$2" --until "$until" --no-progress \
    >"$work/$1.json" 2>"$work/$1.err" || { tail -n 5 "$work/$1.err" >&2; return 1; }
  local seconds rss_kb
  read -r seconds rss_kb <"$work/$1.time"
  R[$1.s]=$seconds R[$1.rss_kb]=$rss_kb
  log "  $1: recur bill in ${R[$1.s]} s, peak RSS $((R[$1.rss_kb] / 1024)) MB: $(head -c 200 "$work/$1.json" | tr -d '\n')"
}
copy_of "$bill_base" "$work/bill-log.db"
bill bill.logged "sqlite:$work/bill-log.db?log_statements=$work/bill.sql"
replay bill "$work/bill.sql" "$bill_base"
same_rows bill "$work/bill-log.db" "$work/bill-replay.db"
copy_of "$bill_base" "$work/bill-run.db"
bill bill "sqlite:$work/bill-run.db"
renewed=$(sqlite3 "$work/bill-run.db" "SELECT count(*) FROM invoices i JOIN subscriptions s ON s.id = i.subscription_id
  WHERE json_extract(s.doc, '\$.metadata.run') = 'r' AND i.period_seq = 2 AND i.status = 'paid'")
charges=$(sqlite3 "$work/bill-run.db" "SELECT count(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id
  WHERE i.period_seq = 2 AND p.status = 'succeeded'")
R[bill.rps]=$(awk -v n="$N" -v s="${R[bill.s]}" 'BEGIN { printf "%.1f", n / s }')
R[bill.base_rps]=$(awk -v n="$N" -v s="${R[bill.replay_s]}" 'BEGIN { printf "%.1f", n / s }')
[ "$renewed" = "$N" ] && [ "$charges" = "$N" ] || log "bench/sqlite: WARNING: $renewed renewal invoices paid and $charges charges succeeded, for $N subscriptions"

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
{
  echo "## SQLite: the API and the renewals against the same SQL through the sqlite3 CLI ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores)"
  echo
  echo "- recur: $recur_bin; SQLite $(sqlite3 --version | cut -d' ' -f1), synchronous=FULL (the default), WAL"
  echo "- wrk -t$THREADS -c$CONNS -d${DURATION}s; the baseline: recur's own statement log of a run, replayed by the sqlite3 CLI"
  echo
  echo "| run | recur req/s | p99 ms | recur CPU ms/req | baseline req/s | recur ÷ baseline | replay's rows = recur's |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  echo "| GET, read caches off | ${R[get_nocache.rps]} | ${R[get_nocache.p99_ms]} | ${R[get_nocache.server_ms]} | ${R[get_nocache.base_rps]} | $(ratio "${R[get_nocache.rps]}" "${R[get_nocache.base_rps]}") | ${R[get_nocache.same]} |"
  echo "| POST (the create) | ${R[post.rps]} | ${R[post.p99_ms]} | ${R[post.server_ms]} | ${R[post.base_rps]} | $(ratio "${R[post.rps]}" "${R[post.base_rps]}") | ${R[post.same]} |"
  echo "| renewals, \`recur bill\` over N = $N | ${R[bill.rps]} | | | ${R[bill.base_rps]} | $(ratio "${R[bill.rps]}" "${R[bill.base_rps]}") | ${R[bill.same]} |"
  echo
  echo "| run | req/s | p99 ms | CPU ms/req |"
  echo "|---|---:|---:|---:|"
  echo "| recur GET, read caches on | ${R[get.rps]} | ${R[get.p99_ms]} | ${R[get.server_ms]} |"
  echo "| nginx, the same JSON | ${R[nginx.rps]} | ${R[nginx.p99_ms]} | ${R[nginx.server_ms]} |"
  echo "| recur GET (caches on) ÷ nginx | $(ratio "${R[get.rps]}" "${R[nginx.rps]}") | | |"
  echo
  echo "Logged runs (the log on: these feed the baselines only): GET ${R[get_nocache.logged.rps]} req/s, POST ${R[post.logged.rps]} req/s, bill ${R[bill.logged.s]} s."
  echo "Renewals: $renewed renewal invoices paid and $charges charges succeeded for $N subscriptions; recur bill's peak RSS $((R[bill.rss_kb] / 1024)) MB."
  echo "Statements the CLI reported failed in the replays (the same rows as the logged run's all the same: see the last column): GET ${R[get_nocache.replay_errors]}, POST ${R[post.replay_errors]}, bill ${R[bill.replay_errors]}."
} | tee "$out"
{ echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'; } >>"$out"
echo "bench/sqlite: results written to $out" >&2
exit
}
