#!/usr/bin/env bash
# The typed-client test: generates TypeScript types from api/openapi.yaml (openapi-typescript),
# type-checks tests/client/lifecycle.ts against them with tsc (tests/client/tsconfig.json:
# strict and more), starts `recur serve` on a throw-away SQLite database, runs the compiled
# lifecycle (openapi-fetch) against it with node, and stops what it started.
# Usage: tests/client/run.sh [PATH/TO/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(realpath "${1:-build/recur}")
bin=node_modules/.bin
[ -x "$recur" ] || { echo "typed client: no recur binary at $recur (build it first)" >&2; exit 1; }
for tool in "$bin/openapi-typescript" "$bin/tsc" node_modules/openapi-fetch node_modules/@types/node; do
  [ -e "$tool" ] || { echo "typed client: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done

scratch_dir client

# The types. The generator validates the spec with Redocly while bundling it; it is given
# tests/client/redocly.yaml (structure only) because linting the contract is api_lint's job,
# and the repository's redocly.yaml without .redocly.lint-ignore.yaml would refuse what that
# file excuses. --default-non-nullable false: otherwise a property with a `default` is typed
# as always present in request bodies too (a subscription's `quantity`, a plan's
# `trial_days`), so a client would have to send what the server defaults.
if ! "$bin/openapi-typescript" api/openapi.yaml --redocly tests/client/redocly.yaml \
     --default-non-nullable false -o "$tmp/recur.d.ts" >"$tmp/generate.log" 2>&1; then
  cat "$tmp/generate.log" >&2
  echo "typed client: openapi-typescript could not generate types from api/openapi.yaml" >&2
  exit 1
fi

# The program, compiled next to the types, with node_modules in reach and emitted as an ES
# module; tsc's messages name tests/client/lifecycle.ts rather than its copy.
cp tests/client/lifecycle.ts tests/client/tsconfig.json "$tmp/"
ln -s "$PWD/node_modules" "$tmp/node_modules"
echo '{"type": "module"}' >"$tmp/package.json"
if ! "$bin/tsc" -p "$tmp" --pretty false | sed "s#[^ (]*/lifecycle\.ts#tests/client/lifecycle.ts#" >&2; then
  echo "typed client: lifecycle.ts does not compile against the types generated from api/openapi.yaml" >&2
  exit 1
fi

db=sqlite:$tmp/client.db
"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
key=$(new_api_key "$recur" "$db" admin "$tmp/migrate.log")
port=$(free_port)
start_recur "$recur" "$db" "$port" "$tmp/server.log"

RECUR_CLIENT_URL="http://127.0.0.1:$port" RECUR_CLIENT_KEY="$key" node "$tmp/out/lifecycle.js"
