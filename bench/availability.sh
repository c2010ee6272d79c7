#!/usr/bin/env bash
# Benchmark 3 (inventory issue): GET /v1/products/{id}/availability?quantity=N answered from
# the in-process availability cache, next to nginx serving a static copy of the answer.
# `BENCH_ONLY=availability make bench` (bench/run.sh hands over to this script), or
# `bash bench/availability.sh`; a plain `make bench` runs it last.
#
#   1. recur on SQLite (a fresh file database, like `make run`), `serve --no-access-log`,
#      a copy of build/recur; an admin key; BENCH_AVAIL_PRODUCTS tracked products created
#      through the API, each with a receipt of 1,000,000 units; one availability request per
#      product fills the cache (a cache hit of a product that can be fulfilled reads no
#      database: src/inventory/service.cc).
#   2. wrk -t2 -c64 --latency (bench/wrk/availability.lua: thread i asks about product i, one
#      URL per thread, a request wrk builds once) after a warm-up, a fresh server each round.
#   3. nginx (2 workers, access log off) serving the body of a real availability answer as a
#      static file for every /v1/products/* path, with the same wrk script.
#   4. Per run, CPU time from /proc: wrk, the server, and everything else on the machine.
# Nothing is pinned: wrk, nginx and recur share the 2 cores, as in benchmark 1.
#
# Knobs: BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_ROUNDS (2, interleaved; best round reported), BENCH_QUIET_WAIT (0),
# BENCH_AVAIL_PRODUCTS (4), BENCH_QUANTITY (2), BENCH_WORKERS / BENCH_IO_THREADS (recur serve
# --workers / --io-threads; default recur's own), BENCH_RECUR (build/recur),
# BENCH_OUT (var/bench/availability-<time>.md), BENCH_PERF (1: also record a CPU profile of
# recur during one extra run, perf record --call-graph dwarf, into var/bench/).
{  # parsed whole before it runs: editing it meanwhile cannot derail a run
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: '$tool' is missing: run 'make deps'" >&2; exit 1; }
done
recur_bin=${BENCH_RECUR:-build/recur}
[ -x "$recur_bin" ] || { echo "bench: $recur_bin is missing: run 'make build'" >&2; exit 1; }

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-2}
QUIET_WAIT=${BENCH_QUIET_WAIT:-0}
NPRODUCTS=${BENCH_AVAIL_PRODUCTS:-4}
export BENCH_QUANTITY=${BENCH_QUANTITY:-2}
SERVE_FLAGS=(--no-access-log)
[ -n "${BENCH_WORKERS:-}" ] && SERVE_FLAGS+=(--workers "$BENCH_WORKERS")
[ -n "${BENCH_IO_THREADS:-}" ] && SERVE_FLAGS+=(--io-threads "$BENCH_IO_THREADS")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p var/bench
out=${BENCH_OUT:-var/bench/availability-$stamp.md}

server_pid=""
nginx_pid=""
source bench/lib.sh  # stop_pid, free_port, wait_http, json_field, proc_ticks, tree_ticks, machine_ticks
work=$(mktemp -d /tmp/recur-availbench.XXXXXX)
cleanup() { stop_pid "$server_pid"; stop_pid "$nginx_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 755 "$work"
export BENCH_LUA_DIR=$PWD/bench/wrk
recur=$work/recur
cp "$recur_bin" "$recur"
recur_built=$(date -u -r "$recur_bin" '+%Y-%m-%d %H:%M UTC')
recur_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
db="sqlite:$work/recur.db"

run_log() { echo "$*" | tee -a "$work/log.txt" >&2; }

# ---------------------------------------------------------------- CPU accounting (as bench/run.sh)
hz=$(getconf CLK_TCK)

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

declare -A R
store() {  # keeps the round with the highest rps; lists every round's rps
  local label=$1 kv rps_new
  rps_new=$(sed -n 's/.*\brps=\([0-9.]*\).*/\1/p' <<<"$2")
  R[$label.rounds]="${R[$label.rounds]:-}${R[$label.rounds]:+ }${rps_new%.*}"
  if [ -n "${R[$label.rps]:-}" ] && awk -v a="${R[$label.rps]}" -v b="$rps_new" 'BEGIN { exit !(a >= b) }'; then return; fi
  for kv in $2; do R[$label.${kv%%=*}]=${kv#*=}; done
}

SCRIPT=bench/wrk/availability.lua
warm_wrk() { wait_quiet; wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$SCRIPT" "$1" >/dev/null; }
run_wrk() {  # run_wrk LABEL URL SERVER_PID
  local label=$1 url=$2 spid=$3 line s0 s1 t0 i0 TIMEFORMAT='%U %S'
  machine_ticks; t0=$m_total; i0=$m_idle; tree_ticks "$spid"; s0=$tree
  { time wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$SCRIPT" "$url" >"$work/$label.out"; } 2>"$work/$label.time"
  machine_ticks; tree_ticks "$spid"; s1=$tree
  line=$(grep '^BENCH ' "$work/$label.out") || { cat "$work/$label.out" "$work/$label.time" >&2; return 1; }
  line=${line#BENCH }
  local n client cpu
  n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  client=$(tail -n 1 "$work/$label.time" | awk '{ printf "%.2f", $1 + $2 }')
  cpu=$(awk -v hz="$hz" -v c="$client" -v n="$n" -v s=$((s1 - s0)) -v cores="$(nproc)" \
    -v b=$(( (m_total - t0) - (m_idle - i0) )) -v wall=$(( m_total - t0 )) 'BEGIN {
      s /= hz; b /= hz; wall /= hz
      o = b - c - s; if (o < 0) o = 0
      printf "window_s=%.1f client_s=%.1f server_s=%.1f other_s=%.1f idle_s=%.1f", wall / cores, c, s, o, wall - b
      printf " server_us_req=%.1f client_us_req=%.1f client_cores=%.2f server_cores=%.2f other_cores=%.2f",
        (n ? 1e6 * s / n : 0), (n ? 1e6 * c / n : 0), c / (wall / cores), s / (wall / cores), o / (wall / cores) }')
  store "$label" "$line $cpu"
  run_log "  $label: $line | $cpu"
  grep -q ' non2xx=0 socket_errors=0' <<<"$line" || run_log "bench: WARNING: $label had errors (see above)"
}

start_server() {
  local port
  port=$(free_port)
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" "${SERVE_FLAGS[@]}" >>"$work/server.out" 2>>"$work/server.log" &
  server_pid=$!
  server_url="http://127.0.0.1:$port"
  wait_http "$server_url/healthz" || { tail -n 20 "$work/server.log" >&2; return 1; }
}
api() {  # api METHOD PATH [JSON]
  curl -sf -X "$1" -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$server_url$2"
}
warm_cache() {  # one answer per product fills the cache; each must be a 200 that can be fulfilled
  local p answer
  while read -r p; do
    answer=$(api GET "/v1/products/$p/availability?quantity=$BENCH_QUANTITY") ||
      { run_log "bench: availability of $p failed"; return 1; }
    [ "$(json_field can_fulfill <<<"$answer")" = True ] || { run_log "bench: $p cannot be fulfilled: $answer"; return 1; }
  done <"$BENCH_PRODUCTS"
}

# ---------------------------------------------------------------- fixtures
run_log "bench: availability: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
machine_ticks; bt=$m_total; bi=$m_idle; sleep 2; machine_ticks
background=$(awk -v t=$((m_total - bt)) -v i=$((m_idle - bi)) 'BEGIN { printf "%.0f", (t ? 100 * (t - i) / t : 0) }')
run_log "bench: machine busy before starting: ${background}% (other processes; should be near 0)"
"$recur" migrate --db "$db" >/dev/null 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; exit 1; }
export BENCH_API_KEY
BENCH_API_KEY=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)
export BENCH_PRODUCTS=$work/products.txt
: >"$BENCH_PRODUCTS"
start_server
for i in $(seq "$NPRODUCTS"); do
  sku="BENCH-BEANS-$i"
  p=$(api POST /v1/products "{\"name\":\"Espresso beans $i, 1 kg\",\"sku\":\"$sku\",\"category\":\"coffee\",\"track_inventory\":true,\"amount\":$((2400 + i)),\"currency\":\"EUR\"}" | json_field id)
  api POST "/v1/inventory/$sku/receipts" '{"quantity": 1000000}' >/dev/null
  echo "$p" >>"$BENCH_PRODUCTS"
done
warm_cache
first=$(head -1 "$BENCH_PRODUCTS")
body=$(api GET "/v1/products/$first/availability?quantity=$BENCH_QUANTITY")
sizes=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' -H "Authorization: Bearer $BENCH_API_KEY" \
  "$server_url/v1/products/$first/availability?quantity=$BENCH_QUANTITY")
run_log "bench: $NPRODUCTS tracked products with 1,000,000 units each; answer: ${sizes% *} B headers + ${sizes#* } B body: $body"
stop_pid "$server_pid"; server_pid=""

static_json_nginx "$work/nginx" "$body" /v1/products/
nsizes=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' "http://127.0.0.1:$nginx_port/" 2>/dev/null || true)

# ---------------------------------------------------------------- measurements
measure_recur() {
  start_server
  warm_cache
  warm_wrk "$server_url"
  run_wrk recur "$server_url" "$server_pid"
  stop_pid "$server_pid"; server_pid=""
}
measure_nginx() {
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
  nginx_pid=$!
  wait_http "http://127.0.0.1:$nginx_port/v1/products/x/availability"
  nsizes=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' "http://127.0.0.1:$nginx_port/v1/products/x/availability")
  warm_wrk "http://127.0.0.1:$nginx_port"
  run_wrk nginx "http://127.0.0.1:$nginx_port" "$nginx_pid"
  stop_pid "$nginx_pid"; nginx_pid=""
}
run_log "bench: wrk -t$THREADS -c$CONNS -d${DURATION}s --latency -s $SCRIPT (+${WARMUP}s warm-up), $ROUNDS round(s)"
for round in $(seq "$ROUNDS"); do
  run_log "bench: round $round/$ROUNDS"
  measure_recur
  measure_nginx
done
run_log "bench: nginx answer: ${nsizes% *} B headers + ${nsizes#* } B body"

if [ "${BENCH_PERF:-}" = 1 ] && command -v perf >/dev/null; then
  start_server; warm_cache
  warm_wrk "$server_url"
  perf_out=var/bench/availability-$stamp.perf.data
  wrk -t"$THREADS" -c"$CONNS" -d"$((DURATION + 2))s" -s "$SCRIPT" "$server_url" >/dev/null &
  sleep 1
  perf record -q -F 499 --call-graph dwarf,16384 -o "$perf_out" -p "$server_pid" -- sleep "$DURATION" 2>>"$work/log.txt" || true
  wait
  stop_pid "$server_pid"; server_pid=""
  run_log "bench: profile of recur under the same load: $perf_out (perf report -i $perf_out --no-children)"
fi

# ---------------------------------------------------------------- report
ratio=$(awk -v a="${R[recur.rps]}" -v b="${R[nginx.rps]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
met=$(awk -v a="${R[recur.rps]}" 'BEGIN { print (a >= 50000 ? "met" : "MISSED") }')
row() {
  local l=$1
  printf '| %-46s | %8s | %6s | %6s | %7s | %5s | %8s | %8s | %6s | %6s |\n' "$2" "${R[$l.rps]%.*}" "${R[$l.p50_ms]}" \
    "${R[$l.p99_ms]}" "${R[$l.max_ms]}" "${R[$l.non2xx]}/${R[$l.socket_errors]}" "${R[$l.server_us_req]}" \
    "${R[$l.client_us_req]}" "${R[$l.client_cores]}" "${R[$l.other_cores]}"
}
{
  echo "## Availability from cache: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo "- wrk -t$THREADS -c$CONNS -d${DURATION}s --latency -s $SCRIPT, after a ${WARMUP}s warm-up; quantity=$BENCH_QUANTITY;"
  echo "  $NPRODUCTS tracked products (wrk thread i asks about product i); wrk, recur and nginx share all $(nproc) cores, nothing pinned"
  echo "- recur serve ${SERVE_FLAGS[*]} on SQLite; build/recur of $recur_built; the tree was at $recur_rev"
  echo "- answer: ${sizes% *} B headers + ${sizes#* } B body (recur), ${nsizes% *} B + ${nsizes#* } B (nginx, the same body as a static file)"
  echo "- $ROUNDS round(s), interleaved; the best round of each line. Machine busy before the run: ${background}%"
  echo
  echo "| run                                            |    req/s | p50 ms | p99 ms |  max ms | errs  | server µs/req | wrk µs/req | wrk cores | other cores |"
  echo "|------------------------------------------------|---------:|-------:|-------:|--------:|------:|---------:|---------:|-------:|-------:|"
  row recur "recur GET /v1/products/{id}/availability"
  row nginx "nginx, static copy of the answer"
  echo
  echo "req/s per round: recur ${R[recur.rounds]}; nginx ${R[nginx.rounds]}. server µs/req = CPU time of the server"
  echo "process (all threads; nginx: master and workers) / requests; other cores = CPU used by processes outside the benchmark."
  echo
  echo "| target | value | verdict |"
  echo "|---|---:|---|"
  echo "| availability from cache >= 50,000 req/s on $(nproc) cores | ${R[recur.rps]%.*} | $met |"
  echo "| recur / nginx (same wrk script, same run) | $ratio | |"
  noisy=$(for l in recur nginx; do echo "${R[$l.other_cores]}"; done | awk -v bg="$background" '$1 > 0.15 || bg > 15 { n++ } END { print n + 0 }')
  if ((noisy > 0)); then
    echo
    echo "WARNING: other work was using the CPU during $noisy of the runs (see 'other cores'): these figures are"
    echo "lower than this machine can do; re-run on a quiet machine before comparing."
  fi
} | tee "$out"
{ echo; echo "### Per-run log"; echo; echo '```'; cat "$work/log.txt"; echo '```'; } >>"$out"
echo "bench: results (and the per-run log above) written to $out" >&2
exit
}
