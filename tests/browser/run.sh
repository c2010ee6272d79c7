#!/usr/bin/env bash
# The dashboard's browser test: starts `recur serve` on a throw-away SQLite database with the
# demo data (`recur demo`: five weeks replayed) and one cancellation with a reason, creates an
# analyst key, runs tests/browser/dashboard.test.js (headless Chromium through puppeteer-core)
# against it, and stops what it started.
# Usage: tests/browser/run.sh [PATH/TO/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(browser_test_recur "dashboard" "${1:-build/recur}")

scratch_dir dashboard
# The master key of this run's database, not the checkout's var/master.key.
export RECUR_MASTER_KEY_FILE="$tmp/master.key"
db=sqlite:$tmp/dashboard.db
"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
"$recur" demo --db "$db" >>"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
admin=$(new_api_key "$recur" "$db" admin "$tmp/migrate.log")
key=$(new_api_key "$recur" "$db" analyst "$tmp/migrate.log")
port=$(free_port)
start_recur "$recur" "$db" "$port" "$tmp/server.log" --dashboard-dir dashboard
base="http://127.0.0.1:$port"

# The demo cancels nothing: one subscription canceled now, with a reason, for the reasons chart.
"$python" - "$base" "$admin" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)
subs = [s for s in call("GET", "/v1/subscriptions?limit=10")["data"] if s["status"] in ("active", "trialing", "past_due")]
if not subs:
    sys.exit("dashboard: the demo left no live subscription to cancel")
call("POST", "/v1/subscriptions/%s/cancel" % subs[-1]["id"], {"reason": "too_expensive", "at": "now"})
PY

node tests/browser/dashboard.test.js "$base" "$key"
