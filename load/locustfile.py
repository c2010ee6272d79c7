"""Locust scenarios for Recur (issue 19, "Load tests"): a subscription-box shop's traffic.

Written for Debian's python3-locust 2.12.1; run it with Debian's interpreter, not a pyenv one:

    RECUR_API_KEY=rk_... /usr/bin/locust -f load/locustfile.py --host http://127.0.0.1:PORT \
        --headless -u 8 -r 8 --run-time 30s --csv /tmp/recur-load/step

`load/run.sh` (`make load`) and `load/soak.sh` (`make soak`) run it for you. Every request uses
the real API with `Authorization: Bearer $RECUR_API_KEY` (an admin key: the storefront's server,
the support desk and the analytics dashboard all use one), except the hosted pages, which have
none, as in a browser.

What one simulated user does, by weight (one task, then a think time of LOAD_WAIT_MIN to
LOAD_WAIT_MAX seconds, default 0.5 to 2):

- 40 browse the catalogue: list products, a product, its availability, list plans;
- 12 subscribe: create a customer, attach `pm_card_visa`, create a subscription (the first box
  is charged in the request);
- 14 look at one's subscription: the subscription, its upcoming periods, its invoices;
- 15 change one's subscription: pause or resume, skip the next box, change to the other box of
  the same cadence, or withdraw a pending cancellation;
- 7 cancel through the retention offers: the offers for a reason, then accept one, or decline
  each and cancel, or cancel (at the period's end, or now);
- 3 update the card, the hosted flow of tests/e2e/test_payment_updates.py: a signup whose card
  is declined (`incomplete`), a customer session, its portal sign-in link, the portal's card
  step (which issues the one-time update-payment token), then the hosted page's
  `POST /v1/payment-updates/lookup` and `POST /v1/payment-updates` with `pm_card_visa`, which
  pays the open invoice (`active`);
- 6 read analytics: one of MRR, MRR movements, churn, renewals, cohorts, survival, LTV,
  cancellations, at-risk, customers.

Each user changes only the subscriptions it made, one request at a time, and keeps their state
from the server's answers, so it never asks for something the state forbids (a skip on a paused
subscription, a resume on an active one): a 4xx is a failure, as any non-2xx is. The one
non-2xx expected is the portal's `303 See Other` after a form (sign-in, sign-out), which is what
a browser gets there. Mutating POSTs to the API carry an `Idempotency-Key` (a fresh UUID each);
`POST /v1/payment-updates` reads none (the token makes it happen once), and the portal's forms
are not the API.

Requests are named by route template (`/v1/subscriptions/{id}/pause`), so the statistics group
by route; a failure's message is `STATUS code` (the problem's `code`), never an id, so the
failures CSV groups them too. A 2xx whose content breaks the flow (a signup not charged, a card
update that left the invoice open) is a failure of type `CHECK` named after the route.

The shared catalogue (6 products with stock, 4 plans, 4 retention offers) is made once per
Locust run, before any user starts (`events.test_start`), and found again by SKU and metadata
on the next run against the same database: `run.sh` runs several steps against one cluster.
"""
from __future__ import annotations

import html
import json
import logging
import os
import random
import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import gevent
import requests
from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

API_KEY = os.environ.get("RECUR_API_KEY", "")
WAIT_MIN = float(os.environ.get("LOAD_WAIT_MIN", "0.5"))
WAIT_MAX = float(os.environ.get("LOAD_WAIT_MAX", "2.0"))
SEED_TAG = "load_seed"  # the metadata key that marks what the seeding made
STOCK_FLOOR = 200_000  # units per product kept on hand, so no box waits for stock
MAX_OWN_SUBSCRIPTIONS = 6  # per user: beyond it, the oldest are forgotten (not canceled)

# Filled by seed() before any user starts.
CATALOG: dict = {"products": [], "plans": {}, "seed_of_plan": {}}

PRODUCTS = [
    # sku, name, category, amount (cents)
    ("LOAD-COF-ETH", "Ethiopian Yirgacheffe, 250 g", "coffee", 1400),
    ("LOAD-COF-COL", "Colombian Huila, 250 g", "coffee", 1300),
    ("LOAD-COF-DEC", "Swiss-water decaf, 250 g", "coffee", 1350),
    ("LOAD-TEA-SEN", "Sencha, 100 g", "tea", 1100),
    ("LOAD-CHO-70", "Dark chocolate 70 %, 100 g", "chocolate", 600),
    ("LOAD-MUG", "Stoneware mug", "merch", 1800),
]
PLANS = [
    # seed name, name, amount, interval, interval_count, items (sku, quantity)
    ("classic-month", "Classic box, monthly", 3000, "month", 1, [("LOAD-COF-ETH", 1), ("LOAD-COF-COL", 1)]),
    ("deluxe-month", "Deluxe box, monthly", 4500, "month", 1,
     [("LOAD-COF-ETH", 1), ("LOAD-COF-COL", 1), ("LOAD-CHO-70", 1)]),
    ("classic-2week", "Classic box, every two weeks", 1600, "week", 2, [("LOAD-COF-ETH", 1)]),
    ("deluxe-2week", "Deluxe box, every two weeks", 2400, "week", 2, [("LOAD-COF-ETH", 1), ("LOAD-TEA-SEN", 1)]),
]
# Plan changes a subscriber makes: between the classic and the deluxe box of the same cadence.
COUNTERPART = {"classic-month": "deluxe-month", "deluxe-month": "classic-month",
               "classic-2week": "deluxe-2week", "deluxe-2week": "classic-2week"}
OFFERS = [
    # seed name, body (the plan of a change_plan offer is filled in)
    ("discount", {"reason": "too_expensive", "type": "discount", "description": "20 % off your next 3 boxes",
                  "percent_off": 20, "duration_in_cycles": 3}),
    ("downgrade", {"reason": "too_expensive", "type": "change_plan",
                   "description": "The classic box instead, from your next delivery"}),
    ("pause", {"reason": "not_using", "type": "pause", "description": "Take two months off", "pause_cycles": 2}),
    ("skip", {"reason": "not_using", "type": "skip", "description": "Skip your next box"}),
]
# Reasons a customer gives, weighted; only the first two have offers.
REASONS = ["too_expensive"] * 4 + ["not_using"] * 3 + ["moving", "product_quality", "other"]
ANALYTICS = ["/v1/analytics/mrr", "/v1/analytics/mrr-movements", "/v1/analytics/churn", "/v1/analytics/renewals",
             "/v1/analytics/cohorts", "/v1/analytics/survival", "/v1/analytics/ltv", "/v1/analytics/cancellations",
             "/v1/analytics/at-risk", "/v1/analytics/customers"]
LIVE = ("active", "trialing", "paused", "past_due")

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CARD_LINK = re.compile(r'id="card-link" href="([^"]+)"')

log = logging.getLogger("recur-load")


# ------------------------------------------------------------------ the shared catalogue, once per run

class SeedError(RuntimeError):
    pass


class Seeder:
    """Makes (or finds again) what every user shares, with plain requests: not in the statistics."""

    def __init__(self, host: str):
        self.host = host.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {API_KEY}"

    def call(self, method: str, path: str, body=None, params=None, key: str | None = None, want=(200, 201)):
        headers = {"Idempotency-Key": key} if key else {}
        r = self.http.request(method, self.host + path, json=body, params=params, headers=headers, timeout=30)
        if r.status_code not in want:
            raise SeedError(f"{method} {path} -> {r.status_code} {r.text[:500]}")
        return r.json()

    def product(self, sku: str, name: str, category: str, amount: int) -> dict:
        found = self.call("GET", "/v1/products", params={"sku": sku})["data"]
        if found:
            return found[0]
        return self.call("POST", "/v1/products", {"name": name, "sku": sku, "category": category, "amount": amount,
                                                   "currency": "usd", "track_inventory": True,
                                                   "metadata": {SEED_TAG: sku}}, key=f"load-seed-{sku}")

    def stock(self, sku: str) -> None:
        item = self.call("GET", f"/v1/inventory/{sku}")
        if (item.get("available") or 0) < STOCK_FLOOR:
            self.call("POST", f"/v1/inventory/{sku}/receipts", {"quantity": 5 * STOCK_FLOOR},
                      key=f"load-seed-stock-{sku}-{uuid.uuid4()}")

    def plan(self, seed: str, name: str, amount: int, interval: str, count: int, items, products) -> dict:
        found = self.call("GET", "/v1/plans", params={f"metadata[{SEED_TAG}]": seed, "active": "true"})["data"]
        if found:
            return found[0]
        return self.call("POST", "/v1/plans", {
            "name": name, "amount": amount, "currency": "usd", "interval": interval, "interval_count": count,
            "items": [{"product": products[sku]["id"], "quantity": q} for sku, q in items],
            "metadata": {SEED_TAG: seed}}, key=f"load-seed-plan-{seed}")

    def offer(self, seed: str, body: dict) -> dict:
        found = self.call("GET", "/v1/retention-offers", params={f"metadata[{SEED_TAG}]": seed})["data"]
        active = [o for o in found if o.get("active", True)]
        if active:
            return active[0]
        return self.call("POST", "/v1/retention-offers", dict(body, metadata={SEED_TAG: seed}),
                         key=f"load-seed-offer-{seed}")

    def run(self) -> None:
        products = {}
        for sku, name, category, amount in PRODUCTS:
            products[sku] = self.product(sku, name, category, amount)
            self.stock(sku)
        plans = {seed: self.plan(seed, name, amount, interval, count, items, products)
                 for seed, name, amount, interval, count, items in PLANS}
        for seed, body in OFFERS:
            if body["type"] == "change_plan":
                body = dict(body, plan=plans["classic-month"]["id"])
            self.offer(seed, body)
        CATALOG["products"] = [p["id"] for p in products.values()]
        CATALOG["plans"] = {seed: p["id"] for seed, p in plans.items()}
        CATALOG["seed_of_plan"] = {p["id"]: seed for seed, p in plans.items()}


def give_up(environment, why: str) -> None:
    """Ends the run with exit code 2 (test_start runs in the spawning greenlet: quit from another)."""
    log.error("%s", why)
    environment.process_exit_code = 2
    gevent.spawn(environment.runner.quit)


@events.test_start.add_listener
def seed(environment, **_kwargs):
    if not API_KEY:
        give_up(environment, "RECUR_API_KEY is not set: every request would be refused")
        return
    try:
        Seeder(environment.host).run()
    except (SeedError, requests.RequestException) as e:
        give_up(environment, f"seeding the catalogue failed: {e}")
        return
    log.info("catalogue ready: %d products, %d plans", len(CATALOG["products"]), len(CATALOG["plans"]))


# ------------------------------------------------------------------ one simulated user

class Own:
    """What a user knows of a subscription it made, from the server's last answer."""

    def __init__(self, doc: dict):
        self.id = doc["id"]
        self.customer = doc["customer"]
        self.skips = 0
        self.update(doc)

    def update(self, doc: dict) -> None:
        self.status = doc["status"]
        self.plan = doc["plan"]
        self.cancel_at_period_end = bool(doc.get("cancel_at_period_end"))
        self.pending_plan = (doc.get("pending_plan_change") or {}).get("plan")


class Shopper(FastHttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self):
        if not CATALOG["plans"]:
            raise StopUser()  # seeding failed: the run is ending
        self.own: list[Own] = []

    # -------------------------------------------------------------- HTTP

    def call(self, method: str, path: str, name: str, *, body=None, form=None, params=None, auth: bool = True,
             idempotent: bool = False, expect=(), follow: bool = True):
        """One request, counted under `name`; any status outside 2xx and `expect` is a failure.
        Returns the response, or None when it failed."""
        headers = {}
        if auth:
            headers["Authorization"] = f"Bearer {API_KEY}"
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if params:
            path = f"{path}?{urlencode(params)}"
        with self.client.request(method, path, name=name, data=data, headers=headers, catch_response=True,
                                 allow_redirects=follow) as r:
            if 200 <= r.status_code < 300 or r.status_code in expect:
                r.success()
                return r
            r.failure(f"{r.status_code} {problem_code(r)}")
            return None

    def api_json(self, method: str, path: str, name: str, **kw) -> dict | None:
        r = self.call(method, path, name, idempotent=method == "POST", **kw)
        return None if r is None else r.json()

    def fail(self, method: str, name: str, why: str) -> None:
        """A 2xx whose content breaks the flow (say, a signup that was not charged): a failure of
        its own, type `CHECK` (so the route's timings stay the requests'), named after the route."""
        self.environment.events.request.fire(request_type="CHECK", name=f"{method} {name}", response_time=0,
                                             response_length=0, exception=AssertionError(why), context={})

    # -------------------------------------------------------------- what a user owns

    def remember(self, doc: dict) -> Own:
        mine = Own(doc)
        self.own.append(mine)
        del self.own[:-MAX_OWN_SUBSCRIPTIONS]
        return mine

    def pick(self, test) -> Own | None:
        candidates = [s for s in self.own if test(s)]
        return random.choice(candidates) if candidates else None

    def changeable(self) -> Own | None:
        """A live subscription of this user with no cancellation pending; a new one if none."""
        return self.pick(lambda s: s.status in LIVE and not s.cancel_at_period_end) or self.signup()

    def sub_action(self, sub: Own, action: str, body: dict | None = None, route: str | None = None) -> dict | None:
        """POST /v1/subscriptions/{id}/<action>, named by `route` (default: the action)."""
        doc = self.api_json("POST", f"/v1/subscriptions/{sub.id}/{action}",
                            f"/v1/subscriptions/{{id}}/{route or action}", body=body if body is not None else {})
        if doc is not None:
            sub.update(doc)
        return doc

    # -------------------------------------------------------------- tasks

    @task(40)
    def browse_catalog(self):
        page = self.api_json("GET", "/v1/products", "/v1/products", params={"active": "true", "limit": 20})
        if page is None:
            return
        ids = [p["id"] for p in page["data"]] or CATALOG["products"]
        product = random.choice(ids)
        self.call("GET", f"/v1/products/{product}", "/v1/products/{id}")
        self.call("GET", f"/v1/products/{product}/availability", "/v1/products/{id}/availability",
                  params={"quantity": random.choice((1, 2, 4))})
        self.call("GET", "/v1/plans", "/v1/plans", params={"active": "true", "limit": 20})

    @task(12)
    def subscribe(self):
        self.signup()

    def customer(self, card: str) -> dict | None:
        tag = uuid.uuid4().hex[:12]
        customer = self.api_json("POST", "/v1/customers", "/v1/customers", body={
            "email": f"load-{tag}@example.com", "name": "Ada Lovelace",
            "shipping_address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
                                 "country": "US"}})
        if customer is None:
            return None
        path = f"/v1/customers/{customer['id']}/payment-methods"
        if self.api_json("POST", path, "/v1/customers/{id}/payment-methods", body={"token": card}) is None:
            return None
        return customer

    def signup(self, card: str = "pm_card_visa", status: str = "active") -> Own | None:
        """A new customer with a card, subscribed to one of the plans: the first box is charged
        in the request (`active`; `incomplete` when the card is declined)."""
        customer = self.customer(card)
        if customer is None:
            return None
        plan = random.choice(list(CATALOG["plans"].values()))
        doc = self.api_json("POST", "/v1/subscriptions", "/v1/subscriptions", body={
            "customer": customer["id"], "plan": plan, "quantity": random.choice((1, 1, 1, 2))})
        if doc is None:
            return None
        if doc["status"] != status:
            self.fail("POST", "/v1/subscriptions", f"signup is {doc['status']}, not {status}")
            return None
        return self.remember(doc)

    @task(14)
    def view_subscription(self):
        sub = self.pick(lambda s: True) or self.signup()
        if sub is None:
            return
        doc = self.api_json("GET", f"/v1/subscriptions/{sub.id}", "/v1/subscriptions/{id}")
        if doc is not None:
            sub.update(doc)
        if sub.status != "canceled":
            self.call("GET", f"/v1/subscriptions/{sub.id}/upcoming", "/v1/subscriptions/{id}/upcoming",
                      params={"count": 3})
        self.call("GET", "/v1/invoices", "/v1/invoices", params={"subscription": sub.id, "limit": 5})

    @task(15)
    def modify_subscription(self):
        pending = self.pick(lambda s: s.cancel_at_period_end and s.status in LIVE)
        if pending is not None and random.random() < 0.3:
            self.sub_action(pending, "reactivate")  # changed their mind
            return
        sub = self.changeable()
        if sub is None:
            return
        if sub.status == "paused":
            self.sub_action(sub, "resume")
            return
        choices = ["pause"]
        if sub.status in ("active", "trialing") and sub.skips < 12:
            choices += ["skip", "skip"]
        if sub.status in ("active", "trialing") and not sub.pending_plan:
            choices += ["change-plan", "change-plan"]
        action = random.choice(choices)
        if action == "pause":
            self.sub_action(sub, "pause")
        elif action == "skip":
            if self.sub_action(sub, "skip") is not None:
                sub.skips += 1
        else:
            seed = CATALOG["seed_of_plan"].get(sub.plan)
            target = CATALOG["plans"][COUNTERPART[seed]] if seed else CATALOG["plans"]["classic-month"]
            self.sub_action(sub, "change-plan", {"plan": target})

    @task(7)
    def cancel_with_offers(self):
        sub = self.changeable()
        if sub is None:
            return
        reason = random.choice(REASONS)
        offers = self.api_json("POST", f"/v1/subscriptions/{sub.id}/cancellation-offers",
                               "/v1/subscriptions/{id}/cancellation-offers", body={"reason": reason})
        if offers is None:
            return
        offered = [o for o in offers["data"] if o["type"] != "change_plan" or self.can_take_plan_offer(sub, o)]
        roll = random.random()
        if offered and roll < 0.45:  # stays, with an offer
            offer = random.choice(offered)
            self.sub_action(sub, f"cancellation-offers/{offer['id']}/accept",
                            route="cancellation-offers/{offer}/accept")
            return
        if offered and roll < 0.7:  # says no to each, then cancels
            for offer in offered:
                self.api_json("POST", f"/v1/subscriptions/{sub.id}/cancellation-offers/{offer['id']}/decline",
                              "/v1/subscriptions/{id}/cancellation-offers/{offer}/decline", body={})
        at = "now" if random.random() < 0.3 else "period_end"
        self.sub_action(sub, "cancel", {"at": at, "reason": reason, "comment": "load test"})

    @staticmethod
    def can_take_plan_offer(sub: Own, offer: dict) -> bool:
        """Whether accepting a `change_plan` offer can succeed. The server offers it more widely
        than it lets it be accepted: to a paused subscription (accepting is `409
        invalid_state_transition`: no plan change while paused), and again once accepted (a
        second accept is `422 no_change`: the change is scheduled already). A customer here
        does not take those; the load test reports the server's answers, not this quirk."""
        return sub.status != "paused" and offer["plan"] != sub.pending_plan

    @task(3)
    def update_card(self):
        """The hosted update-payment flow of tests/e2e/test_payment_updates.py: there the token
        comes from an e-mail; here from the portal's card step (`/portal/account/card`), which
        issues the same one-time token (the only way to get one over HTTP), reached by a customer
        session's sign-in link as a storefront hands it to the customer."""
        sub = self.signup(card="pm_card_chargeDeclined", status="incomplete")
        if sub is None:
            return
        session = self.api_json("POST", "/v1/customer-sessions", "/v1/customer-sessions",
                                body={"customer": sub.customer, "return_url": "https://shop.example.com/account"})
        if session is None:
            return
        link = urlsplit(session["url"])
        if self.call("GET", f"{link.path}?{link.query}", "/portal/sign-in/link", auth=False) is None:
            return
        token = parse_qs(link.query)["token"][0]
        self.client.cookiejar.clear()
        signed_in = self.call("POST", "/portal/sign-in/link", "/portal/sign-in/link", form={"token": token},
                              auth=False, expect=(303,), follow=False)
        if signed_in is None:
            return
        account = self.call("GET", "/portal/account", "/portal/account", auth=False)
        csrf = CSRF.search(account.text) if account is not None else None
        if csrf is None:
            if account is not None:
                self.fail("GET", "/portal/account", "not signed in: no CSRF field on the account page")
            return
        csrf = html.unescape(csrf.group(1))
        card = self.call("POST", "/portal/account/card", "/portal/account/card", form={"csrf": csrf}, auth=False)
        found = CARD_LINK.search(card.text) if card is not None else None
        if found is None:
            if card is not None:
                self.fail("POST", "/portal/account/card", "no update-payment link on the page")
            return
        page_token = parse_qs(urlsplit(html.unescape(found.group(1))).query)["token"][0]
        # The hosted page: no API key, the token is the credential.
        view = self.call("POST", "/v1/payment-updates/lookup", "/v1/payment-updates/lookup",
                         body={"token": page_token}, auth=False)
        if view is None:
            return
        if not view.json()["invoices"]:
            self.fail("POST", "/v1/payment-updates/lookup", "the declined signup's invoice is not open")
            return
        done = self.call("POST", "/v1/payment-updates", "/v1/payment-updates", auth=False,
                         body={"token": page_token, "gateway": "sandbox", "payment_method": "pm_card_visa"})
        if done is None:
            return
        retry = done.json()["retry"]
        if (retry["paid"], retry["still_open"]) != (1, 0):
            self.fail("POST", "/v1/payment-updates", f"retry paid {retry['paid']}, still open {retry['still_open']}")
        self.call("POST", "/portal/sign-out", "/portal/sign-out", form={"csrf": csrf}, auth=False, expect=(303,),
                  follow=False)
        self.client.cookiejar.clear()
        doc = self.api_json("GET", f"/v1/subscriptions/{sub.id}", "/v1/subscriptions/{id}")
        if doc is not None:
            sub.update(doc)
            if sub.status != "active":
                self.fail("GET", "/v1/subscriptions/{id}", f"after the card update the subscription is {sub.status}")

    @task(6)
    def read_analytics(self):
        report = random.choice(ANALYTICS)
        self.call("GET", report, report)


def problem_code(r) -> str:
    """The problem document's `code`, or the start of the body: what the failure is, not whose."""
    if r.status_code == 0:  # no answer: the connection failed or timed out
        error = getattr(r, "error", None)
        return type(error).__name__ if error is not None else "no_response"
    try:
        doc = json.loads(r.text)
        if isinstance(doc, dict) and doc.get("code"):
            return str(doc["code"])
    except (ValueError, TypeError):
        pass
    return re.sub(r"\b(cus|sub|in|pay|prod|plan|rof|pmt)_[0-9a-z]+", r"\1_…", (r.text or "")[:120])
