#!/usr/bin/env bash
# Gateway contract tests: serves each gateway's published API description with
# `prism mock` (third_party/gateways/*/prism.json; PayPal's three files merged into one by
# tests/gateways/merge-specs.js), exports their base URLs, runs the
# gateway test binary against them, and stops what it started. Prism failing to start
# fails the run: the contract tests never skip.
# Usage: tests/gateways/run.sh PATH/TO/recur_gateway_tests [gtest flags...]
#   env:  RECUR_GATEWAY_PRISM_WAIT=seconds   bound on each Prism's start (default 300)
#         RECUR_GATEWAY_MOCKS="paypal ..."   serve only these (with a matching --gtest_filter)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

tests=$(realpath "${1:?usage: tests/gateways/run.sh PATH/TO/recur_gateway_tests}")
shift
prism=node_modules/.bin/prism
wait_seconds=${RECUR_GATEWAY_PRISM_WAIT:-300}
[ -x "$prism" ] || { echo "gateways: Prism not found at $prism (run make deps)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/recur-gateways.XXXXXX)

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

# PayPal's APIs are three published files behind one base URL: merged into one spec (the
# vault file with its erratum, see third_party/gateways/paypal/README.md) for one Prism.
paypal=third_party/gateways/paypal
node tests/gateways/merge-specs.js --errata "$paypal/errata.json" "$tmp/paypal.json" \
  "$paypal/vault_payment_tokens_v3.prism.json" "$paypal/checkout_orders_v2.prism.json" \
  "$paypal/payments_payment_v2.prism.json" >"$tmp/merge-paypal.log" 2>&1 \
  || { cat "$tmp/merge-paypal.log" >&2; echo "gateways: merging PayPal's specs failed" >&2; exit 1; }
declare -A specs=([stripe]=third_party/gateways/stripe/prism.json [square]=third_party/gateways/square/prism.json
                  [paypal]="$tmp/paypal.json")
read -r -a gateways <<<"${RECUR_GATEWAY_MOCKS:-stripe square paypal}"

# All start at once (15-20 s each on two cores, PayPal's 2 s); each is waited for with a bound.
declare -A urls
for gateway in "${gateways[@]}"; do
  port=$(free_port)
  start_job "$tmp/prism-$gateway.log" "$prism" mock -h 127.0.0.1 -p "$port" "${specs[$gateway]}"
  urls[$gateway]="http://127.0.0.1:$port"
done
i=0
for gateway in "${gateways[@]}"; do
  if ! "$python" "$wait_for" http "${urls[$gateway]}/" "${pids[$i]}" "$wait_seconds"; then
    echo "gateways: Prism did not start for $gateway" >&2
    exit 1
  fi
  i=$((i + 1))
done

export RECUR_TEST_STRIPE_URL=${urls[stripe]:-}
export RECUR_TEST_SQUARE_URL=${urls[square]:-}
export RECUR_TEST_PAYPAL_URL=${urls[paypal]:-}
"$tests" "$@"
