"""A small HTTP client for the e2e suite, fixtures built through the API, and shared checks.

Every call goes through the Prism proxy unless `direct=True`: Prism checks the request and
the response against api/openapi.yaml and flags a mismatch with an `sl-violations` header,
which fails the test here. Requests Prism would itself refuse (malformed JSON, unknown
fields, wrong types, missing credentials, unknown routes) go straight to the server, so
the server's own validation is what the test sees.

Every response is also scanned for card numbers (tests/e2e/card_scan.py): a PAN in a
status line's headers or a body fails the test, whatever the test itself checks
(docs/SECURITY.md, "Card data").
"""
from __future__ import annotations

import calendar
import json
import os
import random
import subprocess
import unittest
import uuid
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import requests

import card_scan

DIRECT = os.environ["RECUR_E2E_DIRECT"]
PROXY = os.environ["RECUR_E2E_PROXY"]
ROLES = ("admin", "support", "analyst", "inventory")
KEYS = {role: os.environ[f"RECUR_E2E_KEY_{role.upper()}"] for role in ROLES}
TIMEOUT = 15


class ContractViolation(AssertionError):
    """Prism found the request or the response at odds with api/openapi.yaml."""


class CardDataLeak(AssertionError):
    """A response holds something that reads as a card number (tests/e2e/card_scan.py)."""


def readable_body(r: requests.Response) -> bytes:
    """What a reader of the body sees: a PDF's text (pdftotext; its compressed streams are
    noise that reads as digits), any other body as it is. Through Prism a PDF arrives
    re-encoded as UTF-8 (its proxy's limit), unreadable: its text is scanned when read direct."""
    if r.headers.get("Content-Type", "").startswith("application/pdf") and r.content:
        done = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=r.content, capture_output=True)
        return done.stdout if done.returncode == 0 else b""
    return r.content


def check_no_card_data(r: requests.Response) -> None:
    headers = "\n".join(f"{name}: {value}" for name, value in r.headers.items())
    for where, data in (("headers", headers.encode("latin-1", "replace")), ("body", readable_body(r))):
        found = card_scan.scan_bytes(data)
        if found:
            raise CardDataLeak(f"{r.request.method} {r.request.url} -> {r.status_code}: the response {where} hold "
                               f"card numbers: {', '.join(f.masked() for f in found)}")


class Api:
    """One caller: an API key (by role) and a transport (through Prism or direct)."""

    def __init__(self, role: str | None = "admin", direct: bool = False):
        self.role = role
        self.direct = direct
        self.base = DIRECT if direct else PROXY
        self.session = requests.Session()

    def request(self, method: str, path: str, *, json_body=None, raw: str | bytes | None = None,
                params=None, headers=None, idempotency_key: str | None = None, key: str | None = None,
                content_type: str = "application/json", check: bool = True) -> requests.Response:
        h = {}
        token = key if key is not None else (KEYS[self.role] if self.role else None)
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        data = None
        if json_body is not None:
            data = json.dumps(json_body)
        elif raw is not None:
            data = raw
        if data is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        r = self.session.request(method, self.base + path, data=data, params=params, headers=h, timeout=TIMEOUT)
        check_no_card_data(r)
        if check and not self.direct:
            check_contract(r)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json_body=body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, json_body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


PRISM_ERROR = "https://stoplight.io/prism/errors#"


def prism_error(r: requests.Response) -> str | None:
    """The type of an error document Prism made itself (the server never saw the request,
    or its response broke the contract), else None."""
    if not r.headers.get("Content-Type", "").startswith("application/problem+json"):
        return None
    try:
        kind = r.json().get("type", "")
    except ValueError:
        return None
    return kind if kind.startswith(PRISM_ERROR) else None


def check_contract(r: requests.Response) -> None:
    violations = r.headers.get("sl-violations")
    if violations:
        raise ContractViolation(
            f"{r.request.method} {r.request.url} -> {r.status_code}: Prism reports spec violations: "
            f"{violations}\nbody: {r.text[:2000]}")
    if prism_error(r):
        raise ContractViolation(
            f"{r.request.method} {r.request.url} -> {r.status_code}: Prism answered instead of the server "
            f"(the request or the response is outside api/openapi.yaml): {r.text[:2000]}")


def describe(r: requests.Response) -> str:
    return f"{r.request.method} {r.request.url} -> {r.status_code} {r.text[:1500]}"


# ------------------------------------------------------------------ time and money

def parse_time(text: str) -> datetime:
    assert text.endswith("Z"), f"timestamps are RFC 3339 UTC with Z: {text!r}"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def format_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def add_months_to_anchor(anchor: datetime, months: int) -> datetime:
    """Stripe's rule, written independently of the server: months are added to the
    anchor's date and the day is clamped to the target month's length."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def round_half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator), half away from zero, exactly."""
    q = (Decimal(abs(numerator)) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q) if numerator >= 0 else -int(q)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------ fixtures through the API

class Fixtures:
    def __init__(self, api: Api):
        self.api = api

    def _created(self, r: requests.Response) -> dict:
        assert r.status_code == 201, describe(r)
        return r.json()

    def product(self, **fields) -> dict:
        body = {"name": "Coffee beans", "sku": unique("SKU")}
        body.update(fields)
        return self._created(self.api.post("/v1/products", body))

    def tier(self, ranks=(0, 1000), **fields) -> dict:
        """A new tier at a free rank drawn from `ranks`: ranks are unique across the database,
        which every suite shares, so a taken one is drawn again."""
        for _ in range(50):
            body = {"name": unique("Tier"), "rank": random.randint(*ranks)}
            body.update(fields)
            r = self.api.post("/v1/tiers", body)
            if r.status_code == 409 and r.json().get("code") == "tier_rank_taken":
                continue
            return self._created(r)
        raise AssertionError(f"no free tier rank in {ranks}")

    def plan(self, amount=3000, interval="month", interval_count=1, trial_days=None, currency="usd",
             items=True, **fields) -> dict:
        body = {"name": unique("Plan"), "amount": amount, "currency": currency, "interval": interval,
                "interval_count": interval_count}
        if trial_days is not None:
            body["trial_days"] = trial_days
        if items:
            body["items"] = [{"product": self.product()["id"], "quantity": 2}]
        body.update(fields)
        return self._created(self.api.post("/v1/plans", body))

    def customer(self, card: str | None = "pm_card_visa", **fields) -> dict:
        """A customer with a default card (a sandbox test token; None for none), so that a
        subscription's first invoice is paid at signup (docs/billing-rules.md, "Checkout")."""
        body = {"email": f"{uuid.uuid4().hex[:10]}@example.com", "name": "Ada Lovelace",
                "shipping_address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345",
                                     "country": "US"}}
        body.update(fields)
        customer = self._created(self.api.post("/v1/customers", body))
        if not card:
            return customer
        self._created(self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": card}))
        r = self.api.get(f"/v1/customers/{customer['id']}")  # now with its default card (version 2)
        assert r.status_code == 200, describe(r)
        return r.json()

    def subscription(self, plan: dict | None = None, customer: dict | None = None, **fields) -> dict:
        body = {"customer": (customer or self.customer())["id"], "plan": (plan or self.plan())["id"]}
        body.update(fields)
        return self._created(self.api.post("/v1/subscriptions", body))


# ------------------------------------------------------------------ shared assertions

class ApiTestCase(unittest.TestCase):
    """Base for the suites: `self.api` (admin through Prism), `self.raw` (admin, direct)."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.api = Api("admin")
        cls.raw = Api("admin", direct=True)
        cls.make = Fixtures(cls.api)

    def assertStatus(self, r: requests.Response, status: int):
        self.assertEqual(r.status_code, status, describe(r))

    def assertProblem(self, r: requests.Response, status: int, code: str) -> dict:
        """An application/problem+json error with the stable fields and `code`."""
        self.assertEqual(r.status_code, status, describe(r))
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/problem+json"), describe(r))
        doc = r.json()
        for field in ("type", "title", "status", "detail", "code"):
            self.assertIn(field, doc, describe(r))
        self.assertEqual(doc["status"], status, describe(r))
        self.assertEqual(doc["code"], code, describe(r))
        return doc

    def assertFieldErrors(self, doc: dict, expected: dict[str, str]):
        """`errors` names each field with its code (and a message)."""
        self.assertIn("errors", doc, doc)
        got = {e["field"]: e["code"] for e in doc["errors"]}
        for e in doc["errors"]:
            self.assertTrue(e.get("message"), e)
        for field, code in expected.items():
            self.assertEqual(got.get(field), code, f"field {field!r} in {doc['errors']}")

    def list_all(self, path: str, params: dict | None = None, limit: int = 100, api=None) -> list[dict]:
        """Every page of a list, read with `api` (default: the case's own)."""
        api = api or self.api
        items, after = [], None
        for _ in range(1000):
            p = dict(params or {}, limit=limit)
            if after:
                p["starting_after"] = after
            r = api.get(path, params=p)
            self.assertStatus(r, 200)
            page = r.json()
            items += page["data"]
            if not page["has_more"]:
                return items
            after = page["data"][-1]["id"]
        self.fail(f"{path} never stopped paging")

    def etag_version(self, r: requests.Response) -> int:
        etag = r.headers.get("ETag")
        self.assertIsNotNone(etag, describe(r))
        return int(etag.strip('W/"'))
