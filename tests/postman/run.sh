#!/usr/bin/env bash
# The Postman test: starts `recur serve` on a throw-away SQLite database, creates an admin
# API key, and runs a small flow from the committed collection (api/recur.postman_collection.json,
# `make postman`) with newman (tests/postman/flow.js): a product, a plan, a customer, a
# subscription, the subscription read back, the subscriptions listed. Stops what it started.
# That the committed collection is the one the spec generates is ctest postman_collection's job.
# Usage: tests/postman/run.sh [PATH/TO/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(realpath "${1:-build/recur}")
collection=api/recur.postman_collection.json
environment=api/recur.postman_environment.json
[ -x "$recur" ] || { echo "postman: no recur binary at $recur (build it first)" >&2; exit 1; }
[ -e node_modules/newman ] || { echo "postman: node_modules/newman not found (run scripts/install-deps.sh)" >&2; exit 1; }
for f in "$collection" "$environment"; do
  [ -f "$f" ] || { echo "postman: no $f (run make postman)" >&2; exit 1; }
done

scratch_dir postman

db=sqlite:$tmp/postman.db
"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
key=$(new_api_key "$recur" "$db" admin "$tmp/migrate.log")
port=$(free_port)
start_recur "$recur" "$db" "$port" "$tmp/server.log"

RECUR_POSTMAN_URL="http://127.0.0.1:$port" RECUR_POSTMAN_KEY="$key" \
  node tests/postman/flow.js "$collection" "$environment"
