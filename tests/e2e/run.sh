#!/usr/bin/env bash
# End-to-end suite: starts `recur serve` on a throw-away SQLite database and a Prism proxy
# that checks every request and response against api/openapi.yaml, runs the Python tests
# (tests/e2e/test_*.py) through both, and stops what it started. Then it scans the server's
# log and a dump of the database for card numbers (tests/e2e/card_scan.py).
# Usage: tests/e2e/run.sh [PATH/TO/recur]
#   RECUR_E2E_DB=postgresql://...   run against that (empty) database instead of SQLite
#   RECUR_E2E_PATTERN=test_x.py     run only the matching test files
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(realpath "${1:-build/recur}")
prism=node_modules/.bin/prism
spec=api/openapi.yaml
[ -x "$recur" ] || { echo "e2e: no recur binary at $recur (build it first)" >&2; exit 1; }
[ -x "$prism" ] || { echo "e2e: Prism not found at $prism (run scripts/install-deps.sh)" >&2; exit 1; }
[ -f "$spec" ] || { echo "e2e: no OpenAPI description at $spec" >&2; exit 1; }

tmp=$(mktemp -d /tmp/recur-e2e.XXXXXX)

cleanup() {
  local status=$?
  stop_all
  if [ "$status" -ne 0 ]; then
    if [ -s "$tmp/server.log" ]; then
      echo "---- last lines of the server log ----" >&2
      tail -n 40 "$tmp/server.log" >&2
    fi
    if [ -s "$tmp/prism.log" ]; then
      echo "---- Prism's warnings and errors ----" >&2
      grep -v "info  " "$tmp/prism.log" | tail -n 40 >&2 || true
    fi
  fi
  # The tally closes the output, after any logs.
  [ -s "$tmp/summary" ] && cat "$tmp/summary"
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

app_port=$(free_port)
prism_port=$(free_port)
db=${RECUR_E2E_DB:-sqlite:$tmp/e2e.db}
# The master key of this run's database, not the checkout's var/master.key.
export RECUR_MASTER_KEY_FILE="$tmp/master.key"

"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
for role in admin support analyst inventory; do
  key=$(new_api_key "$recur" "$db" "$role" "$tmp/migrate.log")
  export "RECUR_E2E_KEY_${role^^}=$key"
done

start_recur "$recur" "$db" "$app_port" "$tmp/server.log" --docs-dir node_modules/swagger-ui-dist
start_job "$tmp/prism.log" "$prism" proxy "$spec" "http://127.0.0.1:$app_port" -h 127.0.0.1 -p "$prism_port" --errors
"$python" "$wait_for" http "http://127.0.0.1:$prism_port/healthz" "${pids[-1]}" 60

export RECUR_E2E_DIRECT="http://127.0.0.1:$app_port"
export RECUR_E2E_PROXY="http://127.0.0.1:$prism_port"
export RECUR_E2E_SUMMARY="$tmp/summary"
export RECUR_E2E_DB_URL="$db" RECUR_E2E_SERVER_LOG="$tmp/server.log" RECUR_E2E_RECUR="$recur"
status=0
"$python" tests/e2e/run_tests.py || status=$?

# No card number in what the run left: the server's logs and a dump of its database, once
# it has stopped (tests/e2e/card_scan.py; the responses were scanned as they came, the
# test-mode servers' logs and databases by billing_server.py). Prism's log is the test
# tool's, which sees the card numbers tests send on purpose, so it is not scanned.
stop_all
if [[ $db == sqlite:* ]]; then scan_db=(--sqlite "${db#sqlite:}"); else scan_db=(--postgres "$db"); fi
"$python" tests/e2e/card_scan.py "${scan_db[@]}" "$tmp/migrate.log" "$tmp/server.log" || status=1
exit "$status"
