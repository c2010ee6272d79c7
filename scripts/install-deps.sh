#!/usr/bin/env bash
# Installs what Recur needs on Debian 12: build toolchain, libraries, PostgreSQL
# (for tests and benchmarks), redis-server (the cache-invalidation bus's tests),
# wrk/nginx/pgbench and python3-psycopg2 (bench), clang and its runtime (libFuzzer: `make
# fuzz`), sqlite3 (the e2e card scan dumps its database), chromium (the dashboard's browser
# test, driven by puppeteer-core), libharu and the DejaVu fonts (invoice PDFs) with poppler-utils
# (pdftotext reads them back in the tests), prometheus (its promtool checks /metrics and the alert
# rules: docs/OPERATIONS.md), jemalloc (the server's allocator: decision 0031) and the npm dev tools.
# Idempotent: does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.74-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libsodium-dev libssl-dev libcurl4-openssl-dev libpq-dev libsqlite3-dev libhiredis-dev
  libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev
  postgresql postgresql-contrib redis-server nats-server
  python3 python3-requests python3-aiosmtpd python3-yaml python3-psycopg2
  ccache
  tzdata
  clang libclang-rt-dev sqlite3
  wrk nginx-light curl
  chromium
  prometheus
  patroni etcd-server haproxy python3-locust
  libhpdf-dev poppler-utils fonts-dejavu-core
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node: this machine kind ships Node 20 (needed by @redocly/cli); Debian's own
# nodejs (18) is only a fallback for a machine that has none.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dev tools (pinned; newer ones need Node 22+): Prism, Redocly, Swagger UI, the
# typed-client test's generator, fetch client and compiler, the Postman collection's
# converter and runner, and puppeteer-core (24.x: 25 needs Node 22; it drives Debian's
# chromium above and downloads no browser). Skipped when all are present.
NPM_TOOLS=(node_modules/.bin/prism node_modules/.bin/redocly node_modules/swagger-ui-dist
           node_modules/.bin/openapi-typescript node_modules/openapi-fetch node_modules/.bin/tsc
           node_modules/@types/node node_modules/openapi-to-postmanv2 node_modules/.bin/newman
           node_modules/puppeteer-core)
npm_missing=0
for t in "${NPM_TOOLS[@]}"; do [ -e "$t" ] || npm_missing=1; done
if ((npm_missing)); then
  echo "install-deps: npm ci (prism, redocly, swagger-ui-dist, openapi-typescript, openapi-fetch, typescript, openapi-to-postmanv2, newman, puppeteer-core)"
  export REDOCLY_TELEMETRY=off
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
