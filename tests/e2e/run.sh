#!/usr/bin/env bash
# End-to-end suite: starts `recur serve` on a throw-away SQLite database and a Prism proxy
# that checks every request and response against api/openapi.yaml, runs the Python tests
# against both, and stops what it started. Usage: tests/e2e/run.sh [PATH/TO/recur]
# RECUR_E2E_DB=postgresql://... runs against that database instead of a fresh SQLite file.
set -euo pipefail
cd "$(dirname "$0")/../.."

recur=$(realpath "${1:-build/recur}")
python=/usr/bin/python3
prism=node_modules/.bin/prism
spec=api/openapi.yaml
[ -x "$recur" ] || { echo "e2e: no recur binary at $recur (build it first)" >&2; exit 1; }
[ -x "$prism" ] || { echo "e2e: Prism not found at $prism (run scripts/install-deps.sh)" >&2; exit 1; }
[ -f "$spec" ] || { echo "e2e: no OpenAPI description at $spec" >&2; exit 1; }

tmp=$(mktemp -d /tmp/recur-e2e.XXXXXX)
pids=()
cleanup() {
  local status=$?
  # Each background job leads its own process group (set -m), so this also stops
  # anything a process spawned, and nothing else.
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    echo "---- last lines of the server log ----" >&2
    tail -n 40 "$tmp/server.log" >&2 2>/dev/null || true
    echo "---- last lines of the Prism log ----" >&2
    tail -n 40 "$tmp/prism.log" >&2 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
app_port=$(free_port)
prism_port=$(free_port)
db=${RECUR_E2E_DB:-sqlite:$tmp/e2e.db}

"$recur" migrate --db "$db" >/dev/null
for role in admin support analyst inventory; do
  key=$("$recur" keys create --role "$role" --db "$db" 2>/dev/null | tail -n 1)
  [ -n "$key" ] || { echo "e2e: could not create a $role key" >&2; exit 1; }
  export "RECUR_E2E_KEY_${role^^}=$key"
done

set -m
"$recur" serve --db "$db" --listen "127.0.0.1:$app_port" --spec "$spec" \
  --docs-dir node_modules/swagger-ui-dist >"$tmp/server.log" 2>&1 &
pids+=($!)
app_pid=$!
"$python" tests/e2e/wait_http.py "http://127.0.0.1:$app_port/healthz" "$app_pid" 30

"$prism" proxy "$spec" "http://127.0.0.1:$app_port" -p "$prism_port" -h 127.0.0.1 --errors \
  >"$tmp/prism.log" 2>&1 &
pids+=($!)
prism_pid=$!
"$python" tests/e2e/wait_http.py "http://127.0.0.1:$prism_port/healthz" "$prism_pid" 60
set +m

export RECUR_E2E_DIRECT="http://127.0.0.1:$app_port"
export RECUR_E2E_PROXY="http://127.0.0.1:$prism_port"
"$python" tests/e2e/run_tests.py
