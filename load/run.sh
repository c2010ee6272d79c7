#!/usr/bin/env bash
# `make load`: the saturation point of the cluster (ops/cluster/up.sh) under the Locust scenarios
# of load/locustfile.py, for 1 and 3 recur nodes (docs/OPERATIONS.md, "Load tests").
#
# For each node count: a fresh cluster in $LOAD_CLUSTER_DIR, an admin key, then stepped loads
# (LOAD_STEPS users, each step LOAD_STEP_SECONDS, headless Locust against HAProxy's API front on
# 127.0.0.1), then the cluster is torn down. Each step's aggregated figures come from Locust's
# `_stats.csv` (requests/s, p50, p99, failures). The saturation point is the highest requests/s
# among the steps whose aggregated p99 is under LOAD_P99_MS. Prints a Markdown table and writes
# it to $OUT; every step's CSVs and log stay in $LOAD_RESULTS_DIR.
#
# The load generator runs on the same machine: Locust 2.12 (Debian) has no --processes, so it is
# one Python process, which competes with recur, PostgreSQL and HAProxy for the cores. The
# table gives each step's CPU of Locust and of the recur nodes (100 % = one core), and how busy
# the whole machine was, to show it.
#
# Usage: load/run.sh [PATH/TO/recur]      (default: build/recur)
# Env:   LOAD_NODE_COUNTS ("1 3"), LOAD_STEPS ("4 8 16 32 64"), LOAD_STEP_SECONDS (30),
#        LOAD_P99_MS (250), LOAD_WAIT_MIN/LOAD_WAIT_MAX (think time, 0.5/2 s),
#        LOAD_CLUSTER_DIR (/tmp/recur-load), LOAD_RESULTS_DIR (/tmp/recur-load-results),
#        OUT (/tmp/recur-load-results.md), LOAD_ALLOW_FAILURES=1 (exit 0 despite failed requests)
# Default length: per node count 5 steps of 30 s (+ ~3 s for Locust to start each), and a
# cluster's start and stop (~20-30 s): about 6 minutes in all (5 min 45 s measured, 2026-12-05).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RECUR=$(realpath "${1:-build/recur}")
NODE_COUNTS=${LOAD_NODE_COUNTS:-"1 3"}
STEPS=${LOAD_STEPS:-"4 8 16 32 64"}
STEP_SECONDS=${LOAD_STEP_SECONDS:-30}
P99_MS=${LOAD_P99_MS:-250}
CLUSTER_DIR=${LOAD_CLUSTER_DIR:-/tmp/recur-load}
RESULTS=${LOAD_RESULTS_DIR:-/tmp/recur-load-results}
OUT=${OUT:-/tmp/recur-load-results.md}
TICKS=$(getconf CLK_TCK)

WHAT=load
# shellcheck source=load/lib.sh
source load/lib.sh
mkdir -p "$RESULTS"
rm -f "$RESULTS"/steps.tsv "$RESULTS"/n*-u* "$RESULTS"/cluster-n*.log  # a previous run's

# CPU seconds (user + system) of the processes listed, those still alive.
cpu_seconds() {
  local ticks=0 pid stat
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    stat=${stat##*) }  # after the command name, which may hold spaces
    read -r -a f <<< "$stat"
    ticks=$((ticks + f[11] + f[12]))  # utime and stime, fields 14 and 15 of the whole line
  done
  awk -v t="$ticks" -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }'
}

# "BUSY TOTAL": the whole machine's busy and total ticks (/proc/stat: all but idle and iowait).
machine_ticks() {
  awk '/^cpu / { total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6, total }' /proc/stat
}

# CHILD_CPU = CPU seconds of this shell's children that ended and were waited for (Locust, under
# `timeout`). `times` must run in this shell, not in a $(...) subshell, whose counts start at zero.
CHILD_CPU=0
read_children_cpu() {
  times > "$RESULTS/.times"
  CHILD_CPU=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
                           printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$RESULTS/.times")
}

# One step: USERS NODES NODE_PID...; Locust's files are $RESULTS/n<NODES>-u<USERS>*, and a line
# of figures (tab-separated) goes to $RESULTS/steps.tsv.
run_step() {
  local users=$1 nodes=$2; shift 2
  local prefix="$RESULTS/n${nodes}-u${users}" status=0 started=$SECONDS recur_before locust_before machine_before
  recur_before=$(cpu_seconds "$@")
  machine_before=$(machine_ticks)
  read_children_cpu
  locust_before=$CHILD_CPU
  # Locust stops itself after --run-time; `timeout` is the bound if it does not.
  RECUR_API_KEY=$KEY timeout --kill-after=10 $((STEP_SECONDS + 60)) "$LOCUST" -f "$ROOT/load/locustfile.py" \
    --host "$API_URL" --headless -u "$users" -r "$users" --run-time "${STEP_SECONDS}s" \
    --csv "$prefix" --only-summary --loglevel WARNING > "$prefix.log" 2>&1 &
  LOCUST_PID=$!
  wait "$LOCUST_PID" || status=$?
  LOCUST_PID=""
  local elapsed=$((SECONDS - started)) recur_cpu locust_cpu busy
  busy=$(echo "$machine_before $(machine_ticks)" | awk '{ printf "%.1f", 100 * ($3 - $1) / ($4 - $2) }')
  recur_cpu=$(awk -v a="$(cpu_seconds "$@")" -v b="$recur_before" 'BEGIN { printf "%.2f", a - b }')
  read_children_cpu
  locust_cpu=$(awk -v a="$CHILD_CPU" -v b="$locust_before" 'BEGIN { printf "%.2f", a - b }')
  # Exit 1 is Locust's "some requests failed" (reported below); anything else is Locust's own.
  if [ ! -s "${prefix}_stats.csv" ] || ((status >= 2)); then
    echo "load: Locust failed at $users users on $nodes node(s) (exit $status); its log:" >&2
    tail -20 "$prefix.log" >&2
    exit 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$nodes" "$users" "$prefix" "$elapsed" "$recur_cpu" "$locust_cpu" "$busy" \
    >> "$RESULTS/steps.tsv"
}

for nodes in $NODE_COUNTS; do
  echo "load: starting a cluster of $nodes node(s) in $CLUSTER_DIR"
  start_cluster "$nodes" "$RESULTS/cluster-n$nodes.log"
  for users in $STEPS; do
    echo "load: $nodes node(s), $users users for ${STEP_SECONDS}s"
    run_step "$users" "$nodes" "${NODE_PIDS[@]}"
  done
  echo "load: stopping the cluster"
  CLUSTER_DIR=$CLUSTER_DIR bash ops/cluster/down.sh > /dev/null 2>&1
  CLUSTER_UP=0
done

# The tables, from each step's Aggregated row and failures CSV.
report=0
/usr/bin/python3 - "$RESULTS/steps.tsv" "$P99_MS" "$OUT" "$STEP_SECONDS" "$(nproc)" <<'EOF' || report=$?
import csv, sys
from datetime import datetime, timezone

steps_file, limit, out, step_seconds, cores = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows, failures = [], []
for line in open(steps_file):
    nodes, users, prefix, elapsed, recur_cpu, locust_cpu, busy = line.rstrip("\n").split("\t")
    with open(prefix + "_stats.csv", newline="") as f:
        agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    requests, failed = int(agg["Request Count"]), int(agg["Failure Count"])
    wall = float(elapsed) or 1.0
    rows.append(dict(nodes=int(nodes), users=int(users), rps=float(agg["Requests/s"]), p50=float(agg["50%"]),
                     p99=float(agg["99%"]), requests=requests, failed=failed,
                     error=100.0 * failed / requests if requests else 0.0,
                     recur_cpu=100.0 * float(recur_cpu) / wall, locust_cpu=100.0 * float(locust_cpu) / wall,
                     busy=float(busy)))
    with open(prefix + "_failures.csv", newline="") as f:
        for r in csv.DictReader(f):
            failures.append((int(nodes), int(users), r["Method"], r["Name"], r["Error"], int(r["Occurrences"])))

lines = [f"Load test (`make load`, load/run.sh), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: "
         f"steps of {step_seconds} s, aggregated over every route; the load generator (Locust, one "
         f"process) runs on the same {cores} cores as the cluster. recur CPU (all nodes) and Locust CPU: "
         f"100 % = one core, over the step's wall time (Locust's start included); machine busy: all "
         f"{cores} cores, not idle nor waiting for I/O.", "",
         "| nodes | users | req/s | p50 ms | p99 ms | requests | failed | error rate | recur CPU | Locust CPU "
         "| machine busy |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append(f"| {r['nodes']} | {r['users']} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['requests']} "
                 f"| {r['failed']} | {r['error']:.2f} % | {r['recur_cpu']:.0f} % | {r['locust_cpu']:.0f} % "
                 f"| {r['busy']:.0f} % |")
lines += ["", f"| nodes | saturation point (highest req/s with p99 < {limit:.0f} ms) | at users | p99 ms "
              f"| error rate |", "|---:|---:|---:|---:|---:|"]
for nodes in sorted({r["nodes"] for r in rows}):
    ok = [r for r in rows if r["nodes"] == nodes and r["p99"] < limit]
    if ok:
        best = max(ok, key=lambda r: r["rps"])
        lines.append(f"| {nodes} | {best['rps']:.1f} | {best['users']} | {best['p99']:.0f} | {best['error']:.2f} % |")
    else:
        lines.append(f"| {nodes} | none: every step's p99 ≥ {limit:.0f} ms | | | |")
if failures:
    lines += ["", "Failed requests:", "", "| nodes | users | request | error | count |", "|---:|---:|---|---|---:|"]
    for nodes, users, method, name, error, count in failures:
        lines.append(f"| {nodes} | {users} | {method} {name} | {error.replace('|', '/')} | {count} |")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
sys.exit(3 if failures else 0)
EOF
if ((report == 3)); then
  echo "load: some requests failed (above; details in $RESULTS/*_failures.csv)" >&2
  [ "${LOAD_ALLOW_FAILURES:-0}" = 1 ] && report=0
fi
echo "load: table written to $OUT; Locust's CSVs and logs in $RESULTS"
exit "$report"
