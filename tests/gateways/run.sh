#!/usr/bin/env bash
# Gateway contract tests: serves each gateway's published API description with
# `prism mock` (third_party/gateways/*/prism.json), exports their base URLs, runs the
# gateway test binary against them, and stops what it started. Prism failing to start
# fails the run: the contract tests never skip.
# Usage: tests/gateways/run.sh PATH/TO/recur_gateway_tests [gtest flags...]
#   env:  RECUR_GATEWAY_PRISM_WAIT=seconds   bound on each Prism's start (default 180)
set -euo pipefail
cd "$(dirname "$0")/../.."

tests=$(realpath "${1:?usage: tests/gateways/run.sh PATH/TO/recur_gateway_tests}")
shift
python=/usr/bin/python3
prism=node_modules/.bin/prism
wait_for=tests/e2e/wait_for.py
wait_seconds=${RECUR_GATEWAY_PRISM_WAIT:-180}
[ -x "$prism" ] || { echo "gateways: Prism not found at $prism (run make deps)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/recur-gateways.XXXXXX)
pids=()

# Stops each Prism (its whole process group: set -m gave each its own), politely, then by force.
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    if ! "$python" "$wait_for" exit "$pid" 15; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

cleanup() {
  local status=$?
  stop_all
  if [ "$status" -ne 0 ]; then
    for log in "$tmp"/*.log; do
      [ -s "$log" ] || continue
      echo "---- $(basename "$log"): warnings and errors ----" >&2
      grep -v "info  " "$log" | tail -n 30 >&2 || true
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Both start at once (15-20 s each on two cores); each is waited for with a bound.
set -m
declare -A urls
for gateway in stripe square; do
  port=$(free_port)
  "$prism" mock -h 127.0.0.1 -p "$port" "third_party/gateways/$gateway/prism.json" >"$tmp/prism-$gateway.log" 2>&1 &
  pids+=($!)
  urls[$gateway]="http://127.0.0.1:$port"
done
set +m
i=0
for gateway in stripe square; do
  if ! "$python" "$wait_for" http "${urls[$gateway]}/" "${pids[$i]}" "$wait_seconds"; then
    echo "gateways: Prism did not start for $gateway" >&2
    exit 1
  fi
  i=$((i + 1))
done

export RECUR_TEST_STRIPE_URL=${urls[stripe]}
export RECUR_TEST_SQUARE_URL=${urls[square]}
"$tests" "$@"
