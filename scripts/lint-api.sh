#!/usr/bin/env bash
# Lints the API contract (api/openapi.yaml) with Redocly, using the rules in redocly.yaml.
# Exits non-zero on any error. Works offline: telemetry is off and no remote $refs are used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

redocly=node_modules/.bin/redocly
if [[ ! -x "$redocly" ]]; then
  echo "lint-api: $redocly not found; run scripts/install-deps.sh (npm ci) first" >&2
  exit 2
fi

export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1

exec "$redocly" lint api/openapi.yaml --config redocly.yaml --format stylish
