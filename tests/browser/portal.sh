#!/usr/bin/env bash
# The customer portal's browser test (/portal, server-rendered, no JavaScript): starts a real
# SMTP server (aiosmtpd, a maildir) and `recur serve --test-mode --portal-url BASE/portal`,
# makes with an admin key a box plan whose subscribers choose 3 units from 4 tagged products
# (cut-off 2 days), a retention offer (20 % off 3 boxes for `too_expensive`), a customer with a
# shipping address and a sandbox card, and their subscription; runs
# tests/browser/portal.test.js (headless Chromium through puppeteer-core: the magic link read
# out of the e-mail, the cookie, a skip, a box's choice, the retention offer accepted, the
# csrf refusal, the sign-out), then checks through the admin API that the database holds what
# the browser showed: the skipped box skipped, the choice kept for its box, the offer applied.
# Usage: tests/browser/portal.sh [PATH/TO/recur]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/e2e/harness.sh

recur=$(browser_test_recur "portal" "${1:-build/recur}")

scratch_dir portal
export RECUR_MASTER_KEY_FILE="$tmp/master.key"
db=sqlite:$tmp/portal.db
"$recur" migrate --db "$db" >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }
admin=$(new_api_key "$recur" "$db" admin "$tmp/migrate.log")
start_smtp
port=$(free_port)
base="http://127.0.0.1:$port"
start_recur "$recur" "$db" "$port" "$tmp/server.log" --test-mode --clock-start 2026-03-02T10:00:00Z \
  --smtp-url "smtp://127.0.0.1:$smtp_port" --portal-url "$base/portal"

# The shop, the customer and their subscription; what the browser test needs, as JSON.
"$python" - "$base" "$admin" "$tmp/fixture.json" <<'PY'
import json, sys, urllib.error, urllib.request
base, key, out = sys.argv[1:4]
def call(method, path, body=None, expect=(200, 201)):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status not in expect:
                sys.exit(f"portal: {method} {path} answered {r.status}")
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"portal: {method} {path} answered {e.code}: {e.read().decode(errors='replace')}")
base_product = call("POST", "/v1/products", {"name": "Pantry staples", "sku": "PANTRY-BASE", "tags": ["staple"]})
options = [call("POST", "/v1/products", {"name": name, "sku": sku, "tags": tags}) for name, sku, tags in (
    ("Smoked tofu", "OPT-TOFU", ["vegan"]),
    ("Chili crisp", "OPT-CHILI", ["spicy", "vegan"]),
    ("Red lentils", "OPT-LENTIL", ["vegan", "legume"]),
    ("Jasmine rice", "OPT-RICE", []),
)]
for p, tags in zip(options, (["vegan"], ["spicy", "vegan"], ["vegan", "legume"], [])):
    if p.get("tags") != tags:
        sys.exit(f"portal: product {p['sku']} has tags {p.get('tags')}, not {tags}")
plan = call("POST", "/v1/plans", {
    "name": "Build-a-box pantry", "amount": 3000, "currency": "usd", "interval": "month", "interval_count": 1,
    "items": [{"product": base_product["id"], "quantity": 1}],
    "selection": {"choose": 3, "from": [p["sku"] for p in options], "cutoff_days": 2, "default": "preferences"}})
if (plan.get("selection") or {}).get("choose") != 3:
    sys.exit(f"portal: the plan's selection is {plan.get('selection')}")
offer = call("POST", "/v1/retention-offers", {"reason": "too_expensive", "type": "discount",
                                              "description": "20% off your next 3 boxes",
                                              "percent_off": 20, "duration_in_cycles": 3})
# A name with markup in it: the portal must show it as text.
customer = call("POST", "/v1/customers", {"email": "portal@example.com", "name": "Ada <i id=evil>Lovelace",
                                          "shipping_address": {"line1": "1 Main St", "city": "Springfield",
                                                               "postal_code": "12345", "country": "US"}})
call("POST", f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_visa"})
sub = call("POST", "/v1/subscriptions", {"customer": customer["id"], "plan": plan["id"]})
if sub["status"] != "active":
    sys.exit(f"portal: the signup is {sub['status']}, not active")
boxes = call("GET", f"/v1/subscriptions/{sub['id']}/boxes?count=3")["data"]
if len(boxes) != 3 or any(b["skipped"] or not (b["selection"] or {}).get("open") for b in boxes):
    sys.exit(f"portal: the next boxes are not three open ones: {json.dumps(boxes)}")
with open(out, "w") as f:
    json.dump({
        "admin_key": key,
        "email": customer["email"],
        "customer_name": customer["name"],
        "customer": customer["id"],
        "subscription": sub["id"],
        "plan_name": plan["name"],
        "next_date": sub["current_period"]["end"][:10],
        "base_product": base_product["id"],
        "options": [{"id": p["id"], "sku": p["sku"], "name": p["name"]} for p in options],
        "choose": 3,
        "boxes": [b["period"]["start"] for b in boxes],
        "offer": {"id": offer["id"], "description": offer["description"]},
    }, f)
PY

status=0
node tests/browser/portal.test.js "$base" "$tmp/maildir" "$tmp/fixture.json" "$tmp/result.json" || status=$?

# What the browser showed, read back from the database through the admin API.
"$python" - "$base" "$admin" "$tmp/fixture.json" "$tmp/result.json" <<'PY' || status=1
import json, os, sys, urllib.error, urllib.request
from datetime import datetime
base, key, fixture_path, result_path = sys.argv[1:5]
fixture = json.load(open(fixture_path))
result = json.load(open(result_path)) if os.path.exists(result_path) else {}
def call(method, path):
    req = urllib.request.Request(base + path, method=method, headers={"Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"portal: {method} {path} answered {e.code}: {e.read().decode(errors='replace')}")
def instant(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))
failures = []
def check(ok, message):
    print(("ok   " if ok else "FAIL ") + "database: " + message)
    if not ok:
        failures.append(message)
sid = fixture["subscription"]
sub = call("GET", f"/v1/subscriptions/{sid}")
boxes = {instant(b["period"]["start"]): b for b in call("GET", f"/v1/subscriptions/{sid}/boxes?count=3")["data"]}

skipped = result.get("skipped")
if skipped is None:
    check(False, "the browser test reported no skipped box")
else:
    check(instant(skipped) == instant(fixture["boxes"][0]),
          f"the box skipped in the browser ({skipped}) is the first one ({fixture['boxes'][0]})")
    check(any(instant(p) == instant(skipped) for p in sub["skipped_periods"]),
          f"skipped_periods {sub['skipped_periods']} holds {skipped}")
    box = boxes.get(instant(skipped))
    check(box is None or box["skipped"], f"GET …/boxes shows the box of {skipped} skipped")

customized, items = result.get("customized"), result.get("items")
if customized is None or items is None:
    check(False, "the browser test reported no box chosen")
else:
    want = {p: q for p, q in items.items() if q}
    choice = [c for c in sub["choices"] if instant(c["period_start"]) == instant(customized)]
    got = {i["product"]: i["quantity"] for i in choice[0]["items"]} if choice else None
    check(got == want, f"the subscription's choice for {customized} is {got}, the browser chose {want}")
    box = boxes.get(instant(customized))
    sel = (box or {}).get("selection") or {}
    shown = {i["product"]: i["quantity"] for i in sel.get("items", [])}
    check(bool(sel.get("chosen")) and shown == want,
          f"GET …/boxes shows the box of {customized} chosen ({sel.get('chosen')}) with {shown}")

if result.get("offer_accepted"):
    discount = sub["discount"] or {}
    check(discount.get("percent_off") == 20 and discount.get("cycles_remaining") == 3,
          f"the offer's discount is set: {sub['discount']}")
check(sub["status"] == "active", f"the subscription is {sub['status']} (active expected: not canceled, not paused)")
check(not sub["cancel_at_period_end"] and sub["canceled_at"] is None and sub["cancel_at"] is None,
      f"no cancellation (cancel_at_period_end {sub['cancel_at_period_end']}, cancel_at {sub['cancel_at']}, "
      f"canceled_at {sub['canceled_at']})")
check(sub["pause"] is None, f"not paused by the refused csrf-less POST: pause {sub['pause']}")

# Who the history says made the changes: the contract says a customer session's changes are
# the customer's; the portal's are expected to be too (a note, not a check: the portal
# section does not say how it calls the API).
history = call("GET", f"/v1/subscriptions/{sid}/history?limit=100")["data"]
for e in history:
    if e["type"] in ("subscription.skipped", "subscription.box_chosen", "subscription.retention_accepted"):
        print(f"note {e['type']}: actor {json.dumps(e['actor'])}")
if failures:
    print(f"portal database: {len(failures)} failed")
    sys.exit(1)
print("portal database: all passed")
PY
exit "$status"
