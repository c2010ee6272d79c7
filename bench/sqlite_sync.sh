#!/usr/bin/env bash
# SQLite durability cost: PRAGMA synchronous=FULL (the default) against NORMAL
# (`sqlite:PATH?synchronous=normal`), interleaved in one run, on two measurements:
#   - POST /v1/subscriptions through the API (wrk, keep-alive connections, bench/wrk/post.lua);
#   - a billing run: `recur bill` renewing N subscriptions once each (lifecycle step, invoice,
#     sandbox charge, outcome), after N were created through the API and paid for.
# Prints the rates and the FULL/NORMAL ratios. Everything binds to 127.0.0.1 and is stopped
# on exit. Knobs: SYNC_DURATION (10 s per POST run), SYNC_CONNECTIONS (16), SYNC_ROUNDS (2),
# SYNC_BILLING_N (2000), BENCH_RECUR (build/recur).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${SYNC_DURATION:-10}
CONNS=${SYNC_CONNECTIONS:-16}
ROUNDS=${SYNC_ROUNDS:-2}
N=${SYNC_BILLING_N:-2000}
work=$(mktemp -d /tmp/recur-sync.XXXXXX)
recur="$work/recur"
cp "${BENCH_RECUR:-build/recur}" "$recur"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {
  local i
  for i in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "sqlite_sync: $1 did not come up" >&2
  return 1
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
api() {
  curl -sf -X "$1" -H "Authorization: Bearer $BENCH_API_KEY" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$url$2"
}

# start MODE DIR: a fresh database in DIR with the URL's synchronous=MODE, migrated, a key,
# a server, and the fixtures (product, plan, customer with a sandbox card).
start() {
  local mode=$1 dir=$2
  mkdir -p "$dir"
  db="sqlite:$dir/recur.db?synchronous=$mode"
  "$recur" migrate --db "$db" >/dev/null 2>&1
  export BENCH_API_KEY
  BENCH_API_KEY=$("$recur" keys create --role admin --db "$db" 2>/dev/null | tail -n 1)
  local port
  port=$(free_port)
  url="http://127.0.0.1:$port"
  "$recur" serve --db "$db" --listen "127.0.0.1:$port" --no-access-log --tick 3600 >"$dir/serve.log" 2>&1 &
  pid=$!
  wait_http "$url/healthz"
  local product
  product=$(api POST /v1/products '{"name":"Coffee 250 g","sku":"SYNC-COFFEE","amount":1200,"currency":"EUR"}' | json_field id)
  export BENCH_PLAN BENCH_CUSTOMER
  BENCH_PLAN=$(api POST /v1/plans '{"name":"Coffee monthly","amount":2400,"currency":"EUR","interval":"month","interval_count":1,"items":[{"product":"'"$product"'","quantity":2}]}' | json_field id)
  BENCH_CUSTOMER=$(api POST /v1/customers '{"email":"ada@example.com","name":"Ada Lovelace","shipping_address":{"line1":"12 Analytical Row","city":"London","postal_code":"N1 9GU","country":"GB"}}' | json_field id)
  api POST "/v1/customers/$BENCH_CUSTOMER/payment-methods" '{"token":"pm_card_visa"}' >/dev/null
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

declare -A R
post_run() {  # post_run MODE ROUND
  local dir="$work/post-$1-$2"
  start "$1" "$dir"
  wrk -t2 -c"$CONNS" -d2s -s bench/wrk/post.lua "$url" >/dev/null  # warm-up
  local line
  line=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s bench/wrk/post.lua "$url" | grep '^BENCH')
  stop
  local rps
  rps=$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")
  echo "post $1 round $2: $line"
  R[post.$1]=$(python3 -c "print(max(float('${R[post.$1]:-0}'), $rps))")
}

billing_run() {  # billing_run MODE ROUND
  local dir="$work/bill-$1-$2"
  start "$1" "$dir"
  python3 - "$url" "$BENCH_API_KEY" "$BENCH_CUSTOMER" "$BENCH_PLAN" "$N" <<'PY'
import http.client, json, sys, urllib.parse
url, key, customer, plan, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = json.dumps({"customer": customer, "plan": plan, "quantity": 1})
for _ in range(n):
    conn.request("POST", "/v1/subscriptions", body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 201, r.status
PY
  stop
  "$recur" bill --db "$db" --no-progress >/dev/null 2>&1  # the first invoices, paid now
  local until start_s end_s
  until=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(days=32)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
  start_s=$(date +%s.%N)
  "$recur" bill --db "$db" --until "$until" --no-progress >"$dir/bill.json" 2>/dev/null
  end_s=$(date +%s.%N)
  local rate
  rate=$(python3 -c "print(round($N / ($end_s - $start_s), 1))")
  echo "billing $1 round $2: $N renewals in $(python3 -c "print(round($end_s - $start_s, 2))") s = $rate/s ($(head -c 300 "$dir/bill.json" | tr -d '\n'))"
  R[bill.$1]=$(python3 -c "print(max(float('${R[bill.$1]:-0}'), $rate))")
}

for round in $(seq "$ROUNDS"); do
  for mode in full normal; do post_run "$mode" "$round"; done
  for mode in full normal; do billing_run "$mode" "$round"; done
done
echo
echo "| measurement | FULL | NORMAL | FULL/NORMAL |"
echo "| --- | --- | --- | --- |"
for m in post bill; do
  echo "| $m | ${R[$m.full]} | ${R[$m.normal]} | $(python3 -c "print(round(${R[$m.full]} / ${R[$m.normal]}, 2))") |"
done
