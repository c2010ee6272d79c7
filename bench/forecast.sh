#!/usr/bin/env bash
# The forecast benchmark: times the pure demand forecast (bench/forecast.cc) for 10,000 SKUs
# over 1,000,000 live subscriptions, 90 days by week, on 2 threads; best of BENCH_FORECAST_ROUNDS
# (3). Needs no database. Run alone with `BENCH_ONLY=forecast make bench`; `make bench` runs it
# last. Writes var/bench/forecast-<time>.md (or BENCH_FORECAST_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_FORECAST_BIN:-build/recur_bench_forecast}
[ -x "$bin" ] || { echo "bench: $bin is missing: run 'make build'" >&2; exit 1; }
mkdir -p var/bench
out=${BENCH_FORECAST_OUT:-var/bench/forecast-$(date -u +%Y%m%dT%H%M%SZ).md}
{
  echo "## Forecast: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo
  echo '```'
  "$bin" --threads "${BENCH_FORECAST_THREADS:-2}" --rounds "${BENCH_FORECAST_ROUNDS:-3}"
  echo '```'
} | tee "$out"
echo "bench: forecast results written to $out" >&2
