#!/usr/bin/env bash
# How much resident memory one call of each /v1/analytics report adds to a fresh `recur serve`
# (jemalloc's purging off, so a transient peak stays counted), and how long the call takes:
# what a report holds while it runs (docs/OPERATIONS.md, "Load tests"). Reads a SQLite
# database that already has data, e.g. one filled for 4 minutes by the Locust mix:
#   recur migrate/demo/keys create into DIR/recur.db (from DIR, which keeps var/master.key),
#   recur serve, then: RECUR_API_KEY=... LOAD_WAIT_MIN=0 LOAD_WAIT_MAX=0.05 /usr/bin/python3 -m locust \
#     -f load/locustfile.py --host URL --headless -u 8 -r 8 --run-time 240s
# Usage: load/report_rss.sh RECUR DIR KEY [PORT]    (DIR: recur.db and var/master.key; KEY: an admin key)
set -euo pipefail
recur=$(realpath "$1")
dir=$(realpath "$2")
key=$3
port=${4:-18081}
cd "$dir"
for report in mrr mrr-movements churn renewals cohorts survival ltv cancellations at-risk customers; do
  MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 "$recur" serve --db "sqlite:$dir/recur.db" \
    --listen "127.0.0.1:$port" > report_rss.log 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "127.0.0.1:$port/healthz" && break; sleep 0.1; done
  curl -s -o /dev/null -H "Authorization: Bearer $key" "127.0.0.1:$port/v1/plans"  # the first request's own costs
  sleep 0.3
  before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  read -r code took < <(curl -s -o /dev/null -w "%{http_code} %{time_total}\n" -H "Authorization: Bearer $key" \
    "127.0.0.1:$port/v1/analytics/$report")
  after=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
  [ "$code" = 200 ] || { echo "report_rss: $report answered $code" >&2; kill "$pid"; exit 1; }
  printf "%-15s +%6d KiB  %s s\n" "$report" $((after - before)) "$took"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
