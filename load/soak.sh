#!/usr/bin/env bash
# `make soak`: one recur node (ops/cluster/up.sh, RECUR_NODES=1) under a fixed, moderate load of
# the Locust scenarios (load/locustfile.py) for SOAK_SECONDS, to find leaks (docs/OPERATIONS.md,
# "Load tests"). Every SOAK_INTERVAL seconds it samples the node's resident memory (VmRSS), its
# open file descriptors, the PostgreSQL connections of role recur (pg_stat_activity, this
# script's own psql left out) and, from its /metrics, the allocator's bytes in use and kept
# free (recur_process_heap_bytes: a leak grows the first, the allocator's retention the second).
#
# Verdict, against the warm-up (the first SOAK_WARMUP_SECONDS: pools fill, caches warm):
#   - RSS at the end < SOAK_RSS_RATIO (1.10) x RSS at the end of the warm-up;
#   - open fds at the end <= the warm-up's highest + SOAK_FD_SLACK (8: a few client
#     connections and files open at the moment of the sample);
#   - recur's PostgreSQL connections at the end <= the warm-up's highest + SOAK_CONN_SLACK (2);
#   - no failed request, and the node still the same process.
# Prints the samples as CSV (also in $SOAK_CSV) and the verdict; exits 1 on failure.
#
# Usage: load/soak.sh [PATH/TO/recur]      (default: build/recur)
# Env:   SOAK_SECONDS (1800), SOAK_WARMUP_SECONDS (300), SOAK_USERS (8), SOAK_INTERVAL (30),
#        SOAK_RSS_RATIO (1.10), SOAK_FD_SLACK (8), SOAK_CONN_SLACK (2),
#        SOAK_CLUSTER_DIR (/tmp/recur-soak), SOAK_CSV (/tmp/recur-soak-samples.csv),
#        LOAD_WAIT_MIN/LOAD_WAIT_MAX (the scenarios' think time)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RECUR=$(realpath "${1:-build/recur}")
DURATION=${SOAK_SECONDS:-1800}
WARMUP=${SOAK_WARMUP_SECONDS:-300}
USERS=${SOAK_USERS:-8}
INTERVAL=${SOAK_INTERVAL:-30}
RSS_RATIO=${SOAK_RSS_RATIO:-1.10}
FD_SLACK=${SOAK_FD_SLACK:-8}
CONN_SLACK=${SOAK_CONN_SLACK:-2}
CLUSTER_DIR=${SOAK_CLUSTER_DIR:-/tmp/recur-soak}
CSV=${SOAK_CSV:-/tmp/recur-soak-samples.csv}

WHAT=soak
# shellcheck source=load/lib.sh
source load/lib.sh
((WARMUP < DURATION)) || { echo "soak: SOAK_WARMUP_SECONDS must be less than SOAK_SECONDS" >&2; exit 1; }
WORK=$(mktemp -d /tmp/recur-soak-run.XXXXXX)

echo "soak: starting one node in $CLUSTER_DIR"
start_cluster 1 "$WORK/cluster.log"
PID=${NODE_PIDS[0]}
PG_BIN=$(cluster_var PG_BIN)
METRICS_PORT=$(cluster_var METRICS_PORTS)

sample() {  # SECONDS_SINCE_START -> a CSV line, or nothing once the process is gone
  local rss fds conns
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null) || return 0
  [ -n "$rss" ] || return 0
  fds=$(find "/proc/$PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l || true)
  conns=$("$PG_BIN/psql" "$DB_URL" -qtA -c \
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'recur' AND pid <> pg_backend_pid()" 2>/dev/null || echo "")
  heap=$(curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null | awk '
    /^recur_process_heap_bytes\{state="in_use"\}/ { u = $2 }
    /^recur_process_heap_bytes\{state="free"\}/ { f = $2 }
    END { if (u != "") printf "%d,%d", u / 1024, f / 1024; else printf "," }') || heap=","
  echo "$1,$rss,$fds,$conns,$heap"
}

echo "soak: $USERS users for ${DURATION}s against $API_URL (node PID $PID), a sample every ${INTERVAL}s," \
     "warm-up ${WARMUP}s"
RECUR_API_KEY=$KEY timeout --kill-after=10 $((DURATION + 60)) "$LOCUST" -f "$ROOT/load/locustfile.py" \
  --host "$API_URL" --headless -u "$USERS" -r "$USERS" --run-time "$((DURATION + 10))s" \
  --csv "$WORK/soak" --only-summary --loglevel WARNING > "$WORK/locust.log" 2>&1 &
LOCUST_PID=$!
START=$SECONDS  # Locust runs 10 s longer than the sampling: the last sample is taken under load
echo "seconds,rss_kb,open_fds,pg_connections,heap_in_use_kb,heap_free_kb" > "$CSV"
sample 0 >> "$CSV"
# Every INTERVAL seconds, and at the end of the warm-up.
for t in $( (seq "$INTERVAL" "$INTERVAL" "$DURATION"; echo "$WARMUP") | sort -nu); do
  while ((SECONDS - START < t)); do sleep 1; done
  sample "$t" >> "$CSV"
done
status=0
wait "$LOCUST_PID" || status=$?
LOCUST_PID=""
alive=1
kill -0 "$PID" 2>/dev/null || alive=0
CLUSTER_DIR=$CLUSTER_DIR bash ops/cluster/down.sh > /dev/null 2>&1
CLUSTER_UP=0
if [ ! -s "$WORK/soak_stats.csv" ] || ((status >= 2)); then
  echo "soak: Locust failed (exit $status); its log:" >&2
  tail -20 "$WORK/locust.log" >&2
  exit 1
fi

cat "$CSV"
echo "soak: samples in $CSV; Locust's CSVs and log in $WORK"
/usr/bin/python3 - "$CSV" "$WORK/soak_stats.csv" "$WORK/soak_failures.csv" "$WARMUP" "$DURATION" "$RSS_RATIO" \
  "$FD_SLACK" "$CONN_SLACK" "$alive" <<'EOF'
import csv, sys

samples_file, stats_file, failures_file = sys.argv[1:4]
warmup, duration, ratio, fd_slack, conn_slack, alive = (int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]),
                                                        int(sys.argv[7]), int(sys.argv[8]), sys.argv[9] == "1")
samples = [dict(t=int(r["seconds"]), rss=int(r["rss_kb"]), fds=int(r["open_fds"]),
                conns=int(r["pg_connections"]) if r["pg_connections"] else None,
                heap=int(r["heap_in_use_kb"]) if r["heap_in_use_kb"] else None)
           for r in csv.DictReader(open(samples_file))]
with open(stats_file, newline="") as f:
    agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
requests, failed = int(agg["Request Count"]), int(agg["Failure Count"])
problems = []
warm = [s for s in samples if s["t"] <= warmup]
after = [s for s in samples if s["t"] >= warmup]  # the first one is the sample at the warm-up's end
if not alive or not samples or samples[-1]["t"] < duration:
    problems.append("the node did not last the run (no sample at the end)")
if not warm or not after:
    problems.append("no sample in the warm-up or after it")
if not problems:
    base, end = after[0], samples[-1]
    print(f"RSS: {end['rss'] / 1024:.1f} MiB at the end, {base['rss'] / 1024:.1f} MiB at the end of the warm-up "
          f"({end['rss'] / base['rss']:.3f}x; limit {ratio:.2f}x)")
    if end["rss"] >= ratio * base["rss"]:
        problems.append(f"RSS grew {end['rss'] / base['rss']:.3f}x after the warm-up")
    if base["heap"] and end["heap"]:  # told, not judged: it says whether RSS grew by use or by retention
        print(f"heap in use: {end['heap'] / 1024:.1f} MiB at the end, {base['heap'] / 1024:.1f} MiB at the end of "
              f"the warm-up ({end['heap'] / base['heap']:.3f}x)")
    fd_max = max(s["fds"] for s in warm)
    print(f"open fds: {end['fds']} at the end, at most {fd_max} during the warm-up (slack {fd_slack})")
    if end["fds"] > fd_max + fd_slack:
        problems.append(f"open fds {end['fds']} > {fd_max} + {fd_slack}")
    conn_warm = [s["conns"] for s in warm if s["conns"] is not None]
    if end["conns"] is None or not conn_warm:
        problems.append("PostgreSQL's connections could not be read")
    else:
        print(f"PostgreSQL connections of role recur: {end['conns']} at the end, at most {max(conn_warm)} during "
              f"the warm-up (slack {conn_slack})")
        if end["conns"] > max(conn_warm) + conn_slack:
            problems.append(f"connections {end['conns']} > {max(conn_warm)} + {conn_slack}")
print(f"requests: {requests}, failed: {failed} ({float(agg['Requests/s']):.1f} req/s, p99 {agg['99%']} ms)")
if failed:
    problems.append(f"{failed} requests failed")
    with open(failures_file, newline="") as f:
        for r in csv.DictReader(f):
            print(f"  {r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error']}")
print("soak: PASS" if not problems else "soak: FAIL: " + "; ".join(problems))
sys.exit(1 if problems else 0)
EOF
