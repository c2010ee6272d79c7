#!/usr/bin/env bash
# The hosted invoice page's browser test: starts a real SMTP server (aiosmtpd, a maildir) and
# `recur serve --test-mode` whose payment links point at its own page
# (--payment-update-url http://127.0.0.1:PORT/i#), signs a customer up with the sandbox's
# pm_card_authenticationRequired (the bank asks: the subscription is incomplete and the
# customer is e-mailed the link), reads the link out of the e-mail, runs
# tests/browser/invoice_page.test.js (headless Chromium through puppeteer-core) on it, and
# checks that the link's token reached neither a request URL nor the server's access log.
# Usage: tests/browser/invoice_page.sh [PATH/TO/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(browser_test_recur "invoice page" "${1:-build/recur}")

scratch_dir invoice-page
export RECUR_MASTER_KEY_FILE="$tmp/master.key"
db=sqlite:$tmp/invoice-page.db
"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
admin=$(new_api_key "$recur" "$db" admin "$tmp/migrate.log")
start_smtp
port=$(free_port)
base="http://127.0.0.1:$port"
start_recur "$recur" "$db" "$port" "$tmp/server.log" --test-mode --clock-start 2026-01-31T10:00:00Z \
  --smtp-url "smtp://127.0.0.1:$smtp_port" --payment-update-url "$base/i#"

# A challenged signup, and the link out of the e-mail it sends.
link=$("$python" - "$base" "$admin" "$tmp/maildir" <<'PY'
import email, email.policy, json, os, re, sys, urllib.error, urllib.request
from datetime import datetime, timedelta
sys.path.insert(0, "tests/e2e")
from wait_for import poll  # bounded polling, never a fixed sleep
base, key, maildir = sys.argv[1:4]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"invoice page: {method} {path} answered {e.code}: {e.read().decode(errors='replace')}")
product = call("POST", "/v1/products", {"name": "Coffee box", "sku": "COFFEE-1"})
plan = call("POST", "/v1/plans", {"name": "Monthly coffee", "amount": 2000, "currency": "usd", "interval": "month",
                                  "interval_count": 1, "items": [{"product": product["id"], "quantity": 1}]})
# A hostile name: the page must show it as text.
customer = call("POST", "/v1/customers", {"email": "page@example.com", "name": "<img src=x id=evil>Ada",
                                          "shipping_address": {"line1": "1 Main St", "city": "Springfield",
                                                               "postal_code": "12345", "country": "US"}})
call("POST", f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_authenticationRequired"})
sub = call("POST", "/v1/subscriptions", {"customer": customer["id"], "plan": plan["id"]})
if sub["status"] != "incomplete":
    sys.exit(f"invoice page: the challenged signup is {sub['status']}, not incomplete")
now = datetime.fromisoformat(call("GET", "/v1/test-clock")["now"].replace("Z", "+00:00"))
step = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
call("POST", "/v1/test-clock/advance", {"to": step})  # the outbox sends on the test clock
pattern = re.compile(re.escape(base) + r"/i#([A-Za-z0-9_.~%-]+)")
def mailed_link():
    fresh = os.path.join(maildir, "new")
    for name in sorted(os.listdir(fresh)) if os.path.isdir(fresh) else []:
        with open(os.path.join(fresh, name), "rb") as f:
            m = email.message_from_binary_file(f, policy=email.policy.default)
        found = pattern.search(m.get_body(("plain",)).get_content())
        if found and "Confirm your payment" in m["Subject"]:
            return found.group(0)
    return None
if not poll(lambda: mailed_link() is not None, 10):
    sys.exit("invoice page: no e-mail with the link reached the SMTP server")
print(mailed_link())
PY
)
token=${link#*#}
node tests/browser/invoice_page.test.js "$base" "$link"
if grep -qF "$token" "$tmp/server.log"; then
  echo "invoice page: the link's token is in the server's log" >&2
  exit 1
fi
grep -q '"path":"/v1/payment-updates/lookup"' "$tmp/server.log" || {
  echo "invoice page: the access log shows no lookup (is it on?)" >&2; exit 1; }
echo "invoice page: the token is in no server log line"
