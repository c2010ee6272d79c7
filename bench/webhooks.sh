#!/usr/bin/env bash
# The fifth benchmark of `make bench` (issue 14; docs/PERFORMANCE.md, "Benchmark 6", since its
# benchmark 5, SQLite durability, is not part of `make bench`): outbound webhooks, from the event outbox to a local
# receiver that answers 200 at once. `BENCH_ONLY=webhooks make bench` (bench/run.sh hands over
# to this script), or `bash bench/webhooks.sh`; a plain `make bench` runs it after benchmark 3.
#
#   Receiver: nginx on a free 127.0.0.1 port, `return 200` to every POST, an access log line
#     per request: "$msec $uri $http_webhook_id $content_length $request_length $connection"
#     (the receipt time, ms, of each delivery; endpoint N is the path /e/N).
#   Endpoints: 16 created through the API (`recur serve --allow-private-webhook-urls`, an
#     admin key, POST /v1/webhook-endpoints {url, enabled_events:["*"]}), then serve stops;
#     a run with K endpoints enables /e/1../e/K and disables the rest (UPDATE of the table).
#   Event payload: a real one: the subscription.created event of a subscription created
#     through the API; every event here is a copy of it under a new id of the same length.
#   (a) Throughput, per K: BENCH_WEBHOOK_DELIVERIES / K events (events + event_outbox rows)
#     inserted with one SQL statement while no deliverer runs; then `recur deliver` starts,
#     and the run lasts until the receiver has logged all of them, or BENCH_WEBHOOK_WAIT s.
#   (b) Latency, per K: `recur deliver` running, bench/webhooks.py commits BENCH_WEBHOOK_RATE
#     events/s in a transaction every 10 ms for BENCH_WEBHOOK_SECONDS s, noting each event's
#     commit time (when COMMIT returned, ms); the run waits up to BENCH_WEBHOOK_DRAIN s more
#     for the deliveries; commit-to-receipt p50/p99 from the log joined on webhook-id (one not
#     received counts as at least as late as the end of the wait).
#   Ceiling: wrk POSTing the same body size and headers straight to the receiver
#     (bench/wrk/webhook.lua) with each of BENCH_WEBHOOK_CONNS connections (keep-alive), and
#     with 1 connection and "Connection: close" (a new TCP connection per request).
# Uses only the tables (events, event_outbox, webhook_endpoints, webhook_deliveries) and the
# CLI (serve, deliver, keys, migrate): it measures whatever deliverer the binary has.
# Everything on 127.0.0.1; a throw-away PostgreSQL (scripts/with-postgres.sh); everything
# started here is stopped on exit. See docs/PERFORMANCE.md, benchmark 6 (outbound webhooks).
#
# Knobs: BENCH_ROUNDS (2, interleaved), BENCH_WEBHOOK_ENDPOINTS ("1 16"),
# BENCH_WEBHOOK_DELIVERIES (20000 per throughput run), BENCH_WEBHOOK_WAIT (25 s at most per
# throughput run), BENCH_WEBHOOK_RATE (1000 events/s), BENCH_WEBHOOK_SECONDS (10),
# BENCH_WEBHOOK_DRAIN (10 s), BENCH_WEBHOOK_CONNS ("1 16": wrk connections of the ceiling; the
# first is the deliverer's own concurrency, which the ratios use: 1 for a sender that sends
# one at a time), BENCH_DURATION (5 s per wrk run), BENCH_WEBHOOK_SQL (1: count the SQL
# statements of 10 deliveries, log_statement=all), BENCH_PERF (1: perf record the deliverer
# during the first throughput run, into var/bench/), BENCH_RECUR (build/recur),
# BENCH_OUT (var/bench/webhooks-<time>.md), BENCH_WEBHOOK_WHATIF_SQL ("": SQL run after
# `recur migrate`, e.g. an index to try without a rebuild; the results say it was used).
{  # parsed whole before it runs: editing it meanwhile cannot derail a run
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wrk nginx psql curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
recur_bin=${BENCH_RECUR:-build/recur}
[ -x "$recur_bin" ] || { echo "bench: $recur_bin is missing: run 'make build'" >&2; exit 1; }
# The generator needs psycopg2 (Debian: python3-psycopg2, for the system's python3).
py_pg=""
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import psycopg2' 2>/dev/null; then py_pg=$py; break; fi
done
[ -n "$py_pg" ] || { echo "bench: psycopg2 is missing: run 'make deps' (python3-psycopg2)" >&2; exit 1; }

if [ -z "${RECUR_WEBHOOK_BENCH_INNER:-}" ]; then  # a fresh PostgreSQL of its own
  export RECUR_WEBHOOK_BENCH_INNER=1
  exec bash -c "$(cat scripts/with-postgres.sh)" scripts/with-postgres.sh bash "$PWD/bench/webhooks.sh" "$@"
fi

ROUNDS=${BENCH_ROUNDS:-2}
ENDPOINTS=${BENCH_WEBHOOK_ENDPOINTS:-1 16}
DELIVERIES=${BENCH_WEBHOOK_DELIVERIES:-20000}
WAIT=${BENCH_WEBHOOK_WAIT:-25}
RATE=${BENCH_WEBHOOK_RATE:-1000}
GEN_SECONDS=${BENCH_WEBHOOK_SECONDS:-10}
DRAIN=${BENCH_WEBHOOK_DRAIN:-10}
CEIL_CONNS=${BENCH_WEBHOOK_CONNS:-1 16}
SENDER_CONNS=${CEIL_CONNS%% *}
DURATION=${BENCH_DURATION:-5}
db=$RECUR_TEST_PG_URL
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p var/bench
out=${BENCH_OUT:-var/bench/webhooks-$stamp.md}

server_pid=""
nginx_pid=""
deliver_pid=""
gen_pid=""
perf_pid=""
source bench/lib.sh  # stop_pid, free_port, wait_http, json_field, proc_ticks, tree_ticks, machine_ticks
work=$(mktemp -d /tmp/recur-hookbench.XXXXXX)
cleanup() {
  stop_pid "$perf_pid"; stop_pid "$gen_pid"; stop_pid "$deliver_pid"; stop_pid "$server_pid"; stop_pid "$nginx_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
export BENCH_LUA_DIR=$PWD/bench/wrk
recur=$work/recur
cp "$recur_bin" "$recur"
recur_built=$(date -u -r "$recur_bin" '+%Y-%m-%d %H:%M UTC')
recur_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
run_log() { echo "$*" | tee -a "$work/log.txt" >&2; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # field KEY "k=v k=v ..."

# ---------------------------------------------------------------- CPU accounting (as bench/run.sh)
hz=$(getconf CLK_TCK)
pg_pid=$(head -1 "$(sql 'SHOW data_directory')/postmaster.pid")

# cpu_begin / cpu_end SENDER_PID CLIENT_PID: the sender (recur deliver, or wrk), the receiver
# (nginx and its workers), PostgreSQL (postmaster and backends), the client (the generator).
cpu_sample() {
  machine_ticks; c_tot=$m_total; c_idle=$m_idle
  tree_ticks "$pg_pid"; c_pg=$tree
  tree_ticks "$nginx_pid"; c_ngx=$tree
  tree_ticks "${1:-0}"; c_snd=$tree
  tree_ticks "${2:-0}"; c_cli=$tree
}
cpu_begin() { cpu_sample "$@"; b_tot=$c_tot; b_idle=$c_idle; b_pg=$c_pg; b_ngx=$c_ngx; b_snd=$c_snd; b_cli=$c_cli; }
cpu_end() { cpu_sample "$@"; }
cpu_report() {  # cpu_report N [CLIENT_SECONDS]: sets cpu_line (core-seconds; ms per request N)
  cpu_line=$(awk -v hz="$hz" -v n="$1" -v cx="${2:-}" -v cores="$(nproc)" \
    -v snd=$((c_snd - b_snd)) -v ngx=$((c_ngx - b_ngx)) -v pg=$((c_pg - b_pg)) -v cli=$((c_cli - b_cli)) \
    -v busy=$(( (c_tot - b_tot) - (c_idle - b_idle) )) -v wall=$((c_tot - b_tot)) 'BEGIN {
      snd /= hz; ngx /= hz; pg /= hz; cli /= hz; busy /= hz; wall /= hz
      if (cx != "") cli = cx
      o = busy - snd - ngx - pg - cli; if (o < 0) o = 0
      printf "window_s=%.1f sender_s=%.2f receiver_s=%.2f postgres_s=%.2f client_s=%.2f other_s=%.2f idle_s=%.1f", wall / cores, snd, ngx, pg, cli, o, wall - busy
      printf " sender_ms_req=%.3f postgres_ms_req=%.3f receiver_ms_req=%.3f other_cores=%.2f", (n ? 1000 * snd / n : 0), (n ? 1000 * pg / n : 0), (n ? 1000 * ngx / n : 0), o / (wall > 0 ? wall / cores : 1) }')
}

declare -A R  # results: R[label.key]; label = kind.K.rROUND
keep() { local kv; for kv in $2; do R[$1.${kv%%=*}]=${kv#*=}; done; }

# ---------------------------------------------------------------- set-up
run_log "bench: webhooks: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
machine_ticks; t0=$m_total; i0=$m_idle; sleep 2; machine_ticks
background=$(awk -v t=$((m_total - t0)) -v i=$((m_idle - i0)) 'BEGIN { printf "%.0f", (t ? 100 * (t - i) / t : 0) }')
run_log "bench: machine busy before starting: ${background}% (other processes; should be near 0)"

# The receiver.
mkdir -p "$work/nginx"
chmod -R a+rwX "$work/nginx"
hook_log=$work/nginx/hooks.log
nginx_port=$(free_port)
receiver=http://127.0.0.1:$nginx_port
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  log_format hook '\$msec \$uri \$http_webhook_id \$content_length \$request_length \$connection';
  access_log off;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    access_log $hook_log hook;
    location / { return 200; }
  }
}
CONF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
wait_http "$receiver/healthz"
log_offset() { stat -c %s "$hook_log" 2>/dev/null || echo 0; }
log_lines_since() { tail -c +"$(( $1 + 1 ))" "$hook_log" | grep -c ' /e/' || true; }

# recur: schema, an admin key, fixtures and endpoints through the API.
"$recur" migrate --db "$db" >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
whatif=${BENCH_WEBHOOK_WHATIF_SQL:-}
if [ -n "$whatif" ]; then sql "$whatif"; run_log "bench: WHAT-IF: ran after migrate: $whatif"; fi
api_key=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)
server_port=$(free_port)
server_url=http://127.0.0.1:$server_port
"$recur" serve --db "$db" --listen "127.0.0.1:$server_port" --no-access-log --allow-private-webhook-urls \
  >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
wait_http "$server_url/healthz" || { tail -n 20 "$work/serve.log" >&2; exit 1; }
api() {  # api METHOD PATH [BODY]: prints the body; fails on a non-2xx status
  curl -sf -X "$1" -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' ${3:+-d "$3"} "$server_url$2"
}
product=$(api POST /v1/products '{"name":"Single-origin coffee 250 g","sku":"BENCH-COFFEE-250","amount":1200,"currency":"EUR"}' | json_field id)
plan=$(api POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
customer=$(api POST /v1/customers '{"email":"ada@example.com","name":"Ada Lovelace","phone":"+442079460000","shipping_address":{"line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"}}' | json_field id)
subscription=$(api POST /v1/subscriptions '{"customer":"'"$customer"'","plan":"'"$plan"'","quantity":1}' | json_field id)
template=$(sql "SELECT id FROM events WHERE resource_id = '$subscription' AND type = 'subscription.created'")
[ -n "$template" ] || { echo "bench: no subscription.created event for $subscription" >&2; exit 1; }
api GET "/v1/events/$template" >"$work/template.json"
endpoint_ids=()
for i in $(seq 16); do
  endpoint_ids+=("$(api POST /v1/webhook-endpoints '{"url":"'"$receiver/e/$i"'","enabled_events":["*"],"description":"bench receiver '"$i"'"}' | json_field id)")
done
stop_pid "$server_pid"; server_pid=""
fixture_events=$(sql "SELECT count(*) FROM events")
run_log "bench: fixtures through the API: $fixture_events events (template $template, $(wc -c <"$work/template.json") B as JSON), 16 endpoints $receiver/e/1..16; serve stopped"

# Every run starts from an empty outbox and no deliveries, the fixture events only.
reset_tables() {
  sql "TRUNCATE webhook_deliveries, event_outbox"
  sql "DELETE FROM events WHERE id LIKE 'evt\\_b%\\_%' AND id <> '$template' AND length(id) = 30 AND substr(id, 10, 1) = '_'"
  sql "VACUUM ANALYZE events" && sql "VACUUM ANALYZE event_outbox" && sql "VACUUM ANALYZE webhook_deliveries"
}
use_endpoints() {  # use_endpoints K: /e/1../e/K enabled, the others disabled
  sql "UPDATE webhook_endpoints SET status = CASE WHEN substring(url from '/e/([0-9]+)\$')::int <= $1
         THEN 'enabled' ELSE 'disabled' END"
  paths=$(seq -s, -f '/e/%g' 1 "$1")
}
start_deliverer() {  # start_deliverer LABEL
  "$recur" deliver --db "$db" --allow-private-webhook-urls >"$work/deliver-$1.out" 2>"$work/deliver-$1.log" &
  deliver_pid=$!
}
progress() {  # one line of the database's state: outbox rows, deliveries pending / succeeded / other
  sql "SELECT (SELECT count(*) FROM event_outbox) || ' ' || count(*) FILTER (WHERE status = 'pending') || ' '
         || count(*) FILTER (WHERE status = 'succeeded') || ' ' || count(*) FILTER (WHERE status NOT IN ('pending', 'succeeded'))
       FROM webhook_deliveries"
}
prefix() { printf 'b%s%s%02d_' "$1" "$2" "$3"; }  # prefix ROUND MODE K: 6 characters, ids of 30 like the server's

# ---------------------------------------------------------------- (a) throughput
run_throughput() {  # run_throughput K ROUND
  local k=$1 round=$2 label="tp.$1.r$2" events expected offset start now deadline got=0 line p
  events=$(( DELIVERIES / k )); expected=$(( events * k ))
  reset_tables; use_endpoints "$k"
  p=$(prefix "$round" t "$k")
  sql "WITH e AS (
         INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload)
         SELECT 'evt_$p' || lpad(i::text, 20, '0'), t.type, t.resource_type, t.resource_id, t.actor_type, t.actor_id,
                t.actor_role, extract(epoch FROM now())::bigint, t.payload
         FROM events t, generate_series(1, $events) i WHERE t.id = '$template'
         RETURNING id, created_at)
       INSERT INTO event_outbox (event_id, created_at) SELECT id, created_at FROM e"
  sql "VACUUM ANALYZE events" && sql "VACUUM ANALYZE event_outbox"
  offset=$(log_offset)
  : >"$work/$label.progress"
  start=$EPOCHREALTIME
  cpu_begin 0  # (the window opens before the deliverer starts: its ticks count from 0)
  start_deliverer "$label"
  if [ "${BENCH_PERF:-}" = 1 ] && [ "$round" = 1 ] && [ "$k" = "${ENDPOINTS%% *}" ] && command -v perf >/dev/null; then
    perf record -F 499 -g -p "$deliver_pid" -o "var/bench/webhooks-perf-$stamp.data" -- sleep "$WAIT" \
      >"$work/perf.out" 2>&1 &
    perf_pid=$!
  fi
  deadline=$(( ${start%.*} + WAIT ))
  local tick=0
  while :; do
    got=$(log_lines_since "$offset")
    now=$EPOCHREALTIME
    (( got >= expected || ${now%.*} >= deadline )) && break
    if (( tick % 4 == 0 )); then
      echo "$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.1f", a - b }') $got $(progress)" >>"$work/$label.progress"
    fi
    tick=$((tick + 1))
    sleep 0.25
  done
  cpu_end "$deliver_pid"
  local ended=$EPOCHREALTIME
  echo "$(awk -v a="$ended" -v b="$start" 'BEGIN { printf "%.1f", a - b }') $got $(progress)" >>"$work/$label.progress"
  stop_pid "$perf_pid"; perf_pid=""
  stop_pid "$deliver_pid" 5; deliver_pid=""
  line=$(python3 bench/webhooks.py throughput "$hook_log" "$offset" "$paths" "$start" "$expected" "$ended")
  line=${line#TP }
  cpu_report "$(field delivered "$line")"
  keep "$label" "$line events=$events $cpu_line"
  R[$label.fanout_s]=$(awk '$3 == 0 && !done { print $1; done = 1 }' "$work/$label.progress")
  R[$label.events_rate]=$(awk -v r="$(field rate_from_start "$line")" -v k="$k" 'BEGIN { printf "%.1f", r / k }')
  run_log "  throughput, $k endpoint(s), round $round: $events events x $k = $expected deliveries: $line | outbox empty at ${R[$label.fanout_s]:-never} s | $cpu_line"
  ((got >= expected)) || run_log "  (stopped waiting after $WAIT s: $got of $expected delivered)"
  sed 's/^/    progress (s, received, outbox, pending, succeeded, other): /' "$work/$label.progress" | awk 'NR % 3 == 1' >>"$work/log.txt"
}

# ---------------------------------------------------------------- (b) latency at a fixed rate
run_latency() {  # run_latency K ROUND
  local k=$1 round=$2 label="lat.$1.r$2" offset gen line expected got waited p
  reset_tables; use_endpoints "$k"
  p=$(prefix "$round" l "$k")
  offset=$(log_offset)
  start_deliverer "$label"
  sleep 1.5  # past its start-up, into its loop
  cpu_begin "$deliver_pid"
  ( TIMEFORMAT='%U %S'
    time "$py_pg" bench/webhooks.py generate "$db" "$template" "$p" "$RATE" "$GEN_SECONDS" 10 \
      "$work/$label.commits" >"$work/$label.gen" 2>&1 ) 2>"$work/$label.time" &
  gen_pid=$!
  wait "$gen_pid" || { cat "$work/$label.gen" >&2; exit 1; }
  gen_pid=""
  gen=$(grep '^GEN ' "$work/$label.gen"); gen=${gen#GEN }
  expected=$(( $(field events "$gen") * k ))
  local deadline=$(( ${EPOCHREALTIME%.*} + DRAIN ))
  while :; do
    got=$(log_lines_since "$offset")
    (( got >= expected || ${EPOCHREALTIME%.*} >= deadline )) && break
    sleep 0.25
  done
  waited=$EPOCHREALTIME
  cpu_end "$deliver_pid"
  local backlog; backlog=$(progress)
  stop_pid "$deliver_pid" 5; deliver_pid=""
  line=$(python3 bench/webhooks.py latency "$work/$label.commits" "$hook_log" "$offset" "$paths" "$waited")
  line=${line#LAT }
  cpu_report "$(field delivered "$line")" "$(awk '{ printf "%.2f", $1 + $2 }' <(tail -n 1 "$work/$label.time"))"
  keep "$label" "$line gen_rate=$(field rate "$gen") late_batches=$(field late_batches "$gen") $cpu_line"
  run_log "  latency, $k endpoint(s), round $round: generator $gen | $line | at the end (outbox, pending, succeeded, other): $backlog | $cpu_line"
}

# ---------------------------------------------------------------- ceiling: wrk straight to the receiver
run_ceiling() {  # run_ceiling LABEL CONNECTIONS [close]
  local label=$1 c=$2 close=${3:-} t=1 line offset
  ((c > 1)) && t=2
  BENCH_WEBHOOK_CLOSE=${close:+1} wrk -t"$t" -c"$c" -d1s -s bench/wrk/webhook.lua "$receiver" >/dev/null
  offset=$(log_offset)
  local TIMEFORMAT='%U %S'
  cpu_begin 0
  { time BENCH_WEBHOOK_CLOSE=${close:+1} wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s bench/wrk/webhook.lua \
      "$receiver" >"$work/$label.out"; } 2>"$work/$label.time"
  cpu_end 0
  line=$(grep '^BENCH ' "$work/$label.out") || { cat "$work/$label.out" "$work/$label.time" >&2; exit 1; }
  line=${line#BENCH }
  cpu_report "$(field requests "$line")" "$(awk '{ printf "%.2f", $1 + $2 }' <(tail -n 1 "$work/$label.time"))"
  keep "$label" "$line $cpu_line"
  R[$label.logged]=$(tail -c +"$((offset + 1))" "$hook_log" | grep -c ' /ceiling/' || true)
  run_log "  ceiling $label: wrk -t$t -c$c${close:+ (Connection: close)}: $line | $cpu_line"
}

# ---------------------------------------------------------------- SQL per delivery
count_sql() {  # statements PostgreSQL ran for 10 events fanned out and delivered to 1 endpoint
  local pg_log n=10 offset start_line end_line
  pg_log=$(dirname "$(sql 'SHOW data_directory')")/server.log
  [ -r "$pg_log" ] || { run_log "bench: cannot read PostgreSQL's log: SQL not counted"; return 0; }
  reset_tables; use_endpoints 1
  sql "INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role, created_at, payload)
       SELECT 'evt_$(prefix 0 s 1)' || lpad(i::text, 20, '0'), type, resource_type, resource_id, actor_type, actor_id,
              actor_role, extract(epoch FROM now())::bigint, payload FROM events, generate_series(1, $n) i WHERE id = '$template';
       INSERT INTO event_outbox (event_id, created_at) SELECT id, created_at FROM events WHERE id LIKE 'evt_$(prefix 0 s 1)%'"
  offset=$(log_offset)
  sql "ALTER SYSTEM SET log_statement = 'all'" && sql "SELECT pg_reload_conf()" >/dev/null && sleep 0.5
  start_line=$(wc -l <"$pg_log")
  start_deliverer sql
  local i
  for i in $(seq 100); do (( $(log_lines_since "$offset") >= n )) && break; sleep 0.1; done
  sleep 0.3
  stop_pid "$deliver_pid" 5; deliver_pid=""
  end_line=$(wc -l <"$pg_log")
  sql "ALTER SYSTEM RESET log_statement" && sql "SELECT pg_reload_conf()" >/dev/null
  # Statements of the deliverer from its first look at the outbox (its start-up left out), but
  # this script's own (ALTER, pg_reload_conf).
  sed -n "$((start_line + 1)),${end_line}p" "$pg_log" | grep -E 'LOG:  (statement|execute [^:]*):' |
    grep -v -E 'ALTER SYSTEM|pg_reload_conf' | awk '/event_outbox/ { on = 1 } on' >"$work/sql.txt" || true
  local total per_verb
  total=$(wc -l <"$work/sql.txt")
  per_verb=$(sed -E 's/.*LOG:  (statement|execute [^:]*): *//' "$work/sql.txt" | awk '{ print toupper($1) }' | sort | uniq -c |
             awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
  R[sql.total]=$total; R[sql.n]=$n; R[sql.verbs]=$per_verb
  R[sql.received]=$(log_lines_since "$offset")
  run_log "bench: SQL for $n events fanned out and delivered to 1 endpoint (${R[sql.received]} received): $total statements ($per_verb), $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.1f", t / n }') per delivery"
  {
    echo "  statements by shape (count, first 110 characters):"
    sed -E 's/.*LOG:  (statement|execute [^:]*): *//' "$work/sql.txt" | cut -c1-110 | sort | uniq -c | sort -rn | sed 's/^/    /'
  } >>"$work/log.txt"
}

# ---------------------------------------------------------------- measurements
# A body for the ceiling: the size recur sends, from a first short delivery run.
reset_tables; use_endpoints 1
sql "INSERT INTO event_outbox (event_id, created_at) SELECT id, created_at FROM events WHERE id = '$template'"
offset=$(log_offset)
start_deliverer body
for i in $(seq 100); do (( $(log_lines_since "$offset") >= 1 )) && break; sleep 0.1; done
stop_pid "$deliver_pid" 5; deliver_pid=""
body_line=$(python3 bench/webhooks.py body "$hook_log" "$offset" "$work/template.json" "$work/body.json")
export BENCH_WEBHOOK_BODY=$work/body.json
run_log "bench: ceiling body: ${body_line#BODY }"
[ "${BENCH_WEBHOOK_SQL:-1}" = 1 ] && count_sql

for round in $(seq "$ROUNDS"); do
  run_log "bench: round $round/$ROUNDS"
  for k in $ENDPOINTS; do run_throughput "$k" "$round"; done
  for c in $CEIL_CONNS; do run_ceiling "ceil.c$c.r$round" "$c"; done
  run_ceiling "ceil.close.r$round" 1 close
  for k in $ENDPOINTS; do run_latency "$k" "$round"; done
done

# ---------------------------------------------------------------- report
best() {  # best PREFIX KEY [min]: the best round's value (highest; lowest with "min")
  local r v b=""
  for r in $(seq "$ROUNDS"); do
    v=${R[$1.r$r.$2]:-}; v=${v#>}
    [ -n "$v" ] || continue
    if [ -z "$b" ] || awk -v a="$v" -v b="$b" -v m="${3:-}" 'BEGIN { exit !((m == "min") ? a < b : a > b) }'; then b=$v; fi
  done
  echo "${b:-0}"
}
rounds_of() { local r s=""; for r in $(seq "$ROUNDS"); do s="$s${s:+, }${R[$1.r$r.$2]:--}"; done; echo "$s"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? (v >= t) : (v < t); print (ok ? "met" : "MISSED") }'; }
{
  echo "## Results: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo "- recur: build/recur of $recur_built; the tree was at $recur_rev when the run started; \`recur deliver\` as the sender"
  [ -z "$whatif" ] || echo "- **WHAT-IF**: the schema was changed after \`recur migrate\`: \`$whatif\`"
  echo "- receiver: nginx $(nginx -v 2>&1 | sed 's|.*/||'), \`return 200\`, access log on (the receipt times); PostgreSQL $(sql 'SHOW server_version') with fsync=off"
  echo "- throughput: $DELIVERIES deliveries per run (events = $DELIVERIES / endpoints), loaded before the deliverer starts; at most ${WAIT} s per run"
  echo "- latency: $RATE events/s for ${GEN_SECONDS} s (a transaction every 10 ms), then at most ${DRAIN} s for the rest"
  echo "- ceiling: wrk --latency -d${DURATION}s, bench/wrk/webhook.lua, ${body_line#BODY }"
  echo "- $ROUNDS round(s), interleaved. Machine busy before the run: ${background}%; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| run | round | delivered / expected | deliveries/s | events/s | first receipt s | outbox empty s | median gap ms | gaps >= 0.5 s (total s) | TCP conns | sender CPU ms/delivery | PG CPU ms/delivery | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for k in $ENDPOINTS; do for r in $(seq "$ROUNDS"); do
    l=tp.$k.r$r
    echo "| throughput, $k endpoint(s) | $r | ${R[$l.delivered]}/${R[$l.expected]} | ${R[$l.rate_from_start]} | ${R[$l.events_rate]} | ${R[$l.first_s]} | ${R[$l.fanout_s]:-never} | ${R[$l.gap_p50_ms]} | ${R[$l.gaps_over_500ms]} (${R[$l.time_in_long_gaps_s]}) | ${R[$l.tcp_connections]} | ${R[$l.sender_ms_req]} | ${R[$l.postgres_ms_req]} | ${R[$l.other_cores]} |"
  done; done
  echo
  echo "deliveries/s: from the deliverer's start to the last receipt (rate between first and last receipt: $(for k in $ENDPOINTS; do echo -n "$k endpoint(s) $(rounds_of "tp.$k" rate_first_last); "; done))."
  echo
  echo "| latency run | round | events/s committed | delivered / expected | p50 ms | p90 ms | p99 ms | max ms | sender CPU ms/delivery | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for k in $ENDPOINTS; do for r in $(seq "$ROUNDS"); do
    l=lat.$k.r$r
    echo "| $RATE events/s, $k endpoint(s) | $r | ${R[$l.gen_rate]} | ${R[$l.delivered]}/${R[$l.expected]} | ${R[$l.p50_ms]} | ${R[$l.p90_ms]} | ${R[$l.p99_ms]} | ${R[$l.max_ms]} | ${R[$l.sender_ms_req]} | ${R[$l.other_cores]} |"
  done; done
  echo
  echo "A latency prefixed with > belongs to a delivery not received by the end of the wait: the true value is larger."
  echo
  echo "| ceiling (wrk straight to the receiver) | round | req/s | p50 ms | p99 ms | errors | receiver CPU ms/req | other cores |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for c in $CEIL_CONNS close; do for r in $(seq "$ROUNDS"); do
    l=ceil.c$c.r$r; name="wrk -c$c, keep-alive"
    [ "$c" = close ] && { l=ceil.close.r$r; name="wrk -c1, Connection: close"; }
    echo "| $name | $r | ${R[$l.rps]} | ${R[$l.p50_ms]} | ${R[$l.p99_ms]} | ${R[$l.non2xx]}/${R[$l.socket_errors]} | ${R[$l.receiver_ms_req]} | ${R[$l.other_cores]} |"
  done; done
  echo
  [ -n "${R[sql.total]:-}" ] && echo "SQL statements for ${R[sql.n]} events fanned out and delivered to 1 endpoint (from the deliverer's first look at the outbox; shapes in the log below): ${R[sql.total]} (${R[sql.verbs]})." && echo
  first_k=${ENDPOINTS%% *}; last_k=${ENDPOINTS##* }
  ceil_sender=$(best "ceil.c$SENDER_CONNS" rps); ceil_16=$(best ceil.c16 rps)
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  for k in $ENDPOINTS; do
    tp=$(best "tp.$k" rate_from_start)
    echo "| $k endpoint(s): deliveries/s / wrk -c$SENDER_CONNS (the sender's concurrency) req/s >= 0.50 | $(ratio "$tp" "$ceil_sender") ($tp / $ceil_sender) | $(verdict "$(ratio "$tp" "$ceil_sender")" 0.5 '>=') |"
    [ -n "$ceil_16" ] && [ "$ceil_16" != 0 ] &&
      echo "| $k endpoint(s): deliveries/s / wrk -c16 req/s >= 0.50 | $(ratio "$tp" "$ceil_16") ($tp / $ceil_16) | $(verdict "$(ratio "$tp" "$ceil_16")" 0.5 '>=') |"
  done
  for k in $ENDPOINTS; do
    p99=$(best "lat.$k" p99_s min)
    censored=""
    for r in $(seq "$ROUNDS"); do [[ "${R[lat.$k.r$r.p99_ms]:-}" == ">"* ]] && censored=" (at least: not all delivered)"; done
    echo "| p99 commit-to-delivery at $RATE events/s, $k endpoint(s) < 1 s | $p99 s$censored | $(verdict "$p99" 1 '<') |"
  done
} | tee "$out"
{ echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'; } >>"$out"
echo "bench: results (and the per-run log above) written to $out" >&2
exit
}
