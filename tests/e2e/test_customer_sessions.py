"""Customer sessions end to end (/work/notes/portal-contract.md, "Customer sessions (API)"):
a merchant key with `customers:write` opens a 15-minute session for one customer
(`POST /v1/customer-sessions`), whose `cs_…` token works as a bearer on a subset of the API,
scoped to that customer: its own customer, subscriptions and invoices are readable and its
actions are recorded with the customer as the actor; another customer's resources are not
found exactly as ids that do not exist; every merchant-only route is 403
`customer_session_forbidden`; after 15 minutes of the server's clock the token is 401
`customer_session_expired`, and a token never issued is 401 `invalid_api_key`.

Runs on its own test-mode server (billing_server.py), so that the expiry is checked on the
server's clock, moved forward only (by the expiry test)."""
from __future__ import annotations

import secrets
import string
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import billing_server
from billing_server import TestModeApi, TestModeCase
from recur_api import describe, parse_time, unique

SESSION_TTL = timedelta(minutes=15)
# Well-formed, never issued: past Prism, unknown to the server. Letters, not zeros: a run of
# 26 digits in a detail reads as a card number (to the server's log redaction and card_scan).
MISSING = {"customer": "cus_" + "z" * 26, "subscription": "sub_" + "z" * 26, "invoice": "in_" + "z" * 26}


def setUpModule():
    billing_server.setUpModule()


def tearDownModule():
    billing_server.tearDownModule()


class SessionApi(TestModeApi):
    """A caller holding a customer session's token instead of an API key (through the test-mode
    server's Prism unless direct)."""

    def __init__(self, token: str, direct: bool = False):
        super().__init__("admin", direct)
        self.token = token


class CustomerSessionCase(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2500)

    # -- fixtures

    def open_session(self, customer: dict, **fields) -> dict:
        r = self.api.post("/v1/customer-sessions", dict(customer=customer["id"], **fields))
        self.assertStatus(r, 201)
        return r.json()

    def as_customer(self, customer: dict) -> tuple[SessionApi, SessionApi]:
        """A fresh session of `customer`: (its caller through Prism, its caller direct)."""
        token = self.open_session(customer)["token"]
        return SessionApi(token), SessionApi(token, direct=True)

    def subscribed(self) -> tuple[dict, dict]:
        """A customer with a card and a subscription paid at signup: (customer, subscription)."""
        customer = self.make.customer(card="pm_card_visa")
        sub = self.make.subscription(plan=self.plan, customer=customer)
        self.assertEqual(sub["status"], "active", sub)
        return customer, sub

    def read(self, path: str) -> dict:
        """What the merchant (admin key) reads at `path`."""
        r = self.api.get(path)
        self.assertStatus(r, 200)
        return r.json()


    # -- checks

    def assertNotFoundAlike(self, foreign, foreign_id: str, missing, missing_id: str, code: str):
        """Another customer's resource answers exactly as an id that does not exist: the same
        404 problem, its detail alike but for the id named."""
        a = self.assertProblem(foreign, 404, code)
        b = self.assertProblem(missing, 404, code)
        self.assertNotIn(foreign_id, b["detail"])
        self.assertEqual(
            {k: (str(v).replace(foreign_id, "<id>") if k == "detail" else v) for k, v in a.items()
             if k in ("type", "title", "status", "code", "detail")},
            {k: (str(v).replace(missing_id, "<id>") if k == "detail" else v) for k, v in b.items()
             if k in ("type", "title", "status", "code", "detail")},
            f"\nforeign: {describe(foreign)}\nmissing: {describe(missing)}")


class CreateSessionTest(CustomerSessionCase):

    def test_a_session_is_created_with_a_token_expiring_in_fifteen_minutes_and_a_sign_in_link(self):
        customer = self.make.customer(card=None)
        now = self.now()
        session = self.open_session(customer, return_url="https://shop.example.com/account")

        self.assertRegex(session["id"], r"^csess_[0-9a-z]{26}$")
        self.assertEqual((session["object"], session["customer"], session["return_url"]),
                         ("customer_session", customer["id"], "https://shop.example.com/account"))
        self.assertTrue(session["token"].startswith("cs_"), session)
        self.assertGreater(len(session["token"]), len("cs_") + 16, "a token long enough to be unguessable")
        created = parse_time(session["created"])
        self.assertEqual(created, now, "created on the server's (test) clock")
        self.assertEqual(parse_time(session["expires_at"]) - created, SESSION_TTL)
        # The one-time sign-in link into the portal (default portal URL: http://<listen>/portal).
        url = urlparse(session["url"])
        self.assertEqual(f"{url.scheme}://{url.netloc}{url.path}",
                         f"{billing_server.SERVER.direct}/portal/sign-in/link", session["url"])
        [link_token] = parse_qs(url.query)["token"]
        self.assertTrue(link_token, session["url"])

        # Without return_url: null; every session has a token of its own.
        other = self.open_session(customer)
        self.assertIsNone(other["return_url"])
        self.assertEqual(other["customer"], customer["id"])
        self.assertNotEqual(other["id"], session["id"])
        self.assertNotEqual(other["token"], session["token"])
        self.assertNotEqual(other["url"], session["url"])
        # Both tokens work for their customer.
        for s in (session, other):
            r = SessionApi(s["token"]).get(f"/v1/customers/{customer['id']}")
            self.assertStatus(r, 200)
            self.assertEqual(r.json()["id"], customer["id"])

    def test_an_unknown_customer_is_404_customer_not_found(self):
        r = self.api.post("/v1/customer-sessions", {"customer": MISSING["customer"]})
        self.assertProblem(r, 404, "customer_not_found")

    def test_a_bad_body_is_422_validation_failed(self):
        customer = self.make.customer(card=None)
        # Sent direct: Prism refuses these itself.
        doc = self.assertProblem(self.raw.post("/v1/customer-sessions", {}), 422, "validation_failed")
        self.assertIn("customer", {e["field"] for e in doc.get("errors", [])}, doc)
        doc = self.assertProblem(self.raw.post("/v1/customer-sessions", {"customer": 42}), 422, "validation_failed")
        self.assertIn("customer", {e["field"] for e in doc.get("errors", [])}, doc)
        doc = self.assertProblem(self.raw.post("/v1/customer-sessions", {"customer": customer["id"], "colour": "red"}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"colour": "unknown_field"})
        self.assertProblem(self.raw.post("/v1/customer-sessions", {"customer": customer["id"], "return_url": 7}),
                           422, "validation_failed")

    def test_a_key_without_customers_write_opens_no_session(self):
        customer = self.make.customer(card=None)
        r = TestModeApi("analyst").post("/v1/customer-sessions", {"customer": customer["id"]})
        doc = self.assertProblem(r, 403, "permission_denied")
        self.assertIn("customers:write", doc["detail"])


class OwnResourcesTest(CustomerSessionCase):

    def test_the_session_reads_its_own_customer_subscription_invoices_and_the_catalog(self):
        customer, sub = self.subscribed()
        me, _ = self.as_customer(customer)

        r = me.get(f"/v1/customers/{customer['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), self.read(f"/v1/customers/{customer['id']}"))

        r = me.get(f"/v1/subscriptions/{sub['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), self.read(f"/v1/subscriptions/{sub['id']}"))

        invoices = self.list_all("/v1/invoices", {"customer": customer["id"]})
        self.assertGreaterEqual(len(invoices), 1, "the signup's invoice")
        self.assertEqual([i["id"] for i in self.list_all("/v1/invoices", api=me)], [i["id"] for i in invoices])
        r = me.get(f"/v1/invoices/{invoices[0]['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), self.read(f"/v1/invoices/{invoices[0]['id']}"))

        r = me.get(f"/v1/plans/{self.plan['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["id"], self.plan["id"])
        self.assertIn(self.plan["id"], [p["id"] for p in self.list_all("/v1/plans", api=me)])

    def test_the_subscription_list_holds_only_the_customers_own(self):
        customer, first = self.subscribed()
        second = self.make.subscription(plan=self.plan, customer=customer)
        other, others_sub = self.subscribed()
        me, _ = self.as_customer(customer)
        mine = {first["id"], second["id"]}
        self.assertGreater(len(self.list_all("/v1/subscriptions")), 2, "the merchant sees more than the customer")

        listed = self.list_all("/v1/subscriptions", api=me)
        self.assertEqual({s["id"] for s in listed}, mine)
        self.assertTrue(all(s["customer"] == customer["id"] for s in listed), listed)
        self.assertNotIn(others_sub["id"], [s["id"] for s in listed])
        # Naming itself is the same list; naming another customer is as naming none that exists.
        self.assertEqual({s["id"] for s in self.list_all("/v1/subscriptions", {"customer": customer["id"]}, api=me)},
                         mine)
        self.assertNotFoundAlike(me.get("/v1/subscriptions", params={"customer": other["id"]}), other["id"],
                                 me.get("/v1/subscriptions", params={"customer": MISSING["customer"]}),
                                 MISSING["customer"], "customer_not_found")
        # The other customer's own session sees only its own.
        them, _ = self.as_customer(other)
        self.assertEqual([s["id"] for s in self.list_all("/v1/subscriptions", api=them)], [others_sub["id"]])
        self.assertEqual({i["customer"] for i in self.list_all("/v1/invoices", api=them)}, {other["id"]})

    def test_actions_with_the_session_are_made_and_recorded_with_the_customer_as_actor(self):
        customer, sub = self.subscribed()
        me, _ = self.as_customer(customer)
        actor = {"type": "customer", "id": customer["id"]}

        r = me.post(f"/v1/subscriptions/{sub['id']}/skip", {})
        self.assertStatus(r, 200)
        skipped = r.json()
        self.assertEqual(skipped["skipped_periods"], [sub["current_period"]["end"]])
        self.assertEqual(self.read(f"/v1/subscriptions/{sub['id']}"), skipped)

        r = me.post(f"/v1/subscriptions/{sub['id']}/pause", {})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "paused", r.json())
        self.assertEqual(self.read(f"/v1/subscriptions/{sub['id']}")["status"], "paused")

        # The history, read by the session and by the merchant alike: who did what.
        history = self.list_all(f"/v1/subscriptions/{sub['id']}/history", api=me)
        self.assertEqual(history, self.list_all(f"/v1/subscriptions/{sub['id']}/history"))
        by_type = {e["type"]: e for e in history}
        for kind in ("subscription.skipped", "subscription.paused"):
            self.assertIn(kind, by_type, [e["type"] for e in history])
            got = by_type[kind]["actor"]
            self.assertEqual({"type": got["type"], "id": got["id"]}, actor, by_type[kind])
        created = by_type["subscription.created"]["actor"]
        self.assertEqual(created["type"], "api_key", "the merchant made it")

        # A change to the customer itself, the same.
        version = self.read(f"/v1/customers/{customer['id']}")["version"]
        r = me.patch(f"/v1/customers/{customer['id']}", {"name": "Ada King", "version": version})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["name"], "Ada King")
        self.assertEqual(self.read(f"/v1/customers/{customer['id']}")["name"], "Ada King")
        # (The fixture's card made an earlier customer.updated, the merchant's: the name change's.)
        [updated] = [e for e in self.list_all("/v1/events", {"resource": customer["id"]})
                     if e["type"] == "customer.updated" and "name" in (e["data"]["previous_attributes"] or {})]
        self.assertEqual(updated["data"]["previous_attributes"]["name"], customer["name"])
        self.assertEqual({"type": updated["actor"]["type"], "id": updated["actor"]["id"]}, actor, updated)


class OtherCustomersTest(CustomerSessionCase):
    """Another customer's resources are not found, exactly as ids that do not exist, and are
    left as they were."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.make.customer(card="pm_card_visa")
        cls.others_sub = cls.make.subscription(plan=cls.plan, customer=cls.other)
        r = cls.api.get("/v1/invoices", params={"customer": cls.other["id"], "limit": 100})
        assert r.status_code == 200, describe(r)
        cls.others_invoice = r.json()["data"][0]

    def setUp(self):
        self.customer, self.sub = self.subscribed()
        self.me, self.me_direct = self.as_customer(self.customer)

    def test_another_customer_is_not_found_like_a_missing_one(self):
        other, missing = self.other["id"], MISSING["customer"]
        before = self.read(f"/v1/customers/{other}")
        me = self.me
        self.assertNotFoundAlike(me.get(f"/v1/customers/{other}"), other,
                                 me.get(f"/v1/customers/{missing}"), missing, "customer_not_found")
        self.assertNotFoundAlike(me.patch(f"/v1/customers/{other}", {"name": "Mallory", "version": before["version"]}),
                                 other,
                                 me.patch(f"/v1/customers/{missing}", {"name": "Mallory", "version": before["version"]}),
                                 missing,
                                 "customer_not_found")
        self.assertNotFoundAlike(me.get(f"/v1/customers/{other}/payment-methods"), other,
                                 me.get(f"/v1/customers/{missing}/payment-methods"), missing, "customer_not_found")
        self.assertNotFoundAlike(self.me_direct.get(f"/v1/customers/{other}/export"), other,
                                 self.me_direct.get(f"/v1/customers/{missing}/export"), missing,
                                 "customer_not_found")
        self.assertEqual(self.read(f"/v1/customers/{other}"), before)

    def test_another_customers_subscription_is_not_found_like_a_missing_one(self):
        other, missing = self.others_sub["id"], MISSING["subscription"]
        before = self.read(f"/v1/subscriptions/{other}")
        me = self.me
        self.assertNotFoundAlike(me.get(f"/v1/subscriptions/{other}"), other,
                                 me.get(f"/v1/subscriptions/{missing}"), missing, "subscription_not_found")
        self.assertNotFoundAlike(me.get(f"/v1/subscriptions/{other}/history"), other,
                                 me.get(f"/v1/subscriptions/{missing}/history"), missing, "subscription_not_found")
        self.assertNotFoundAlike(me.post(f"/v1/subscriptions/{other}/skip", {}), other,
                                 me.post(f"/v1/subscriptions/{missing}/skip", {}), missing, "subscription_not_found")
        self.assertNotFoundAlike(me.post(f"/v1/subscriptions/{other}/pause", {}), other,
                                 me.post(f"/v1/subscriptions/{missing}/pause", {}), missing, "subscription_not_found")
        self.assertEqual(self.read(f"/v1/subscriptions/{other}"), before, "left as it was")
        # Nor can the session subscribe another customer (as one that does not exist).
        # (Direct: a merchant naming an unknown customer here gets 422, which a session may too.)
        direct = self.me_direct
        foreign = direct.post("/v1/subscriptions", {"customer": self.other["id"], "plan": self.plan["id"]})
        nobody = direct.post("/v1/subscriptions", {"customer": MISSING["customer"], "plan": self.plan["id"]})
        self.assertEqual(foreign.status_code, nobody.status_code, f"{describe(foreign)}\n{describe(nobody)}")
        self.assertIn(foreign.status_code, (404, 422), describe(foreign))
        a, b = foreign.json(), nobody.json()
        self.assertEqual((a["code"], a["detail"].replace(self.other["id"], "<id>")),
                         (b["code"], b["detail"].replace(MISSING["customer"], "<id>")))
        self.assertEqual(a["code"], "customer_not_found", a)
        self.assertEqual([s["id"] for s in self.list_all("/v1/subscriptions", {"customer": self.other["id"]})],
                         [self.others_sub["id"]])

    def test_another_customers_invoice_is_not_found_like_a_missing_one(self):
        other, missing = self.others_invoice["id"], MISSING["invoice"]
        before = self.read(f"/v1/invoices/{other}")
        me = self.me
        self.assertNotFoundAlike(me.get(f"/v1/invoices/{other}"), other,
                                 me.get(f"/v1/invoices/{missing}"), missing, "invoice_not_found")
        # The PDF direct (Prism re-encodes a PDF body), and paying it: not found either.
        self.assertNotFoundAlike(self.me_direct.get(f"/v1/invoices/{other}/pdf"), other,
                                 self.me_direct.get(f"/v1/invoices/{missing}/pdf"), missing, "invoice_not_found")
        self.assertNotFoundAlike(me.post(f"/v1/invoices/{other}/pay", {}), other,
                                 me.post(f"/v1/invoices/{missing}/pay", {}), missing, "invoice_not_found")
        self.assertEqual(self.read(f"/v1/invoices/{other}"), before)
        self.assertNotIn(other, [i["id"] for i in self.list_all("/v1/invoices", api=me)])


class MerchantOnlyTest(CustomerSessionCase):

    def test_merchant_only_routes_are_403_customer_session_forbidden_and_change_nothing(self):
        customer, sub = self.subscribed()
        _, me = self.as_customer(customer)  # direct: the server's answer, whatever the body
        sku = unique("SESSION-SKU")
        calls = [
            ("GET", "/v1/customers", None),
            ("POST", "/v1/products", {"name": "Forbidden beans", "sku": sku}),
            ("GET", "/v1/settings/shop", None),
            ("GET", "/v1/analytics/mrr", None),
            ("POST", "/v1/customer-sessions", {"customer": customer["id"]}),
            ("GET", "/v1/events", None),
            ("DELETE", f"/v1/subscriptions/{sub['id']}", None),
            ("POST", f"/v1/subscriptions/{sub['id']}/discount", {"coupon": "coupon_" + "z" * 26}),
            ("POST", "/v1/plans", {"name": "Forbidden plan", "amount": 100, "currency": "usd", "interval": "month"}),
            ("GET", "/v1/api-keys", None),
        ]
        before = self.read(f"/v1/subscriptions/{sub['id']}")
        for method, path, body in calls:
            with self.subTest(f"{method} {path}"):
                r = me.request(method, path, json_body=body)
                doc = self.assertProblem(r, 403, "customer_session_forbidden")
                self.assertTrue(doc["detail"], doc)
        # Nothing was done.
        self.assertEqual(self.read(f"/v1/subscriptions/{sub['id']}"), before)
        r = self.api.get("/v1/products", params={"sku": sku})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["data"], [])
        # Through Prism too: the 403 is the spec's.
        self.assertProblem(SessionApi(me.token).get("/v1/customers"), 403, "customer_session_forbidden")


class ExpiryTest(CustomerSessionCase):

    def test_a_session_expires_after_fifteen_minutes_of_the_server_clock(self):
        customer, sub = self.subscribed()
        session = self.open_session(customer)
        me = SessionApi(session["token"])
        expires_at = parse_time(session["expires_at"])

        self.advance(expires_at - timedelta(minutes=1))
        self.assertStatus(me.get(f"/v1/customers/{customer['id']}"), 200)
        self.assertStatus(me.get(f"/v1/subscriptions/{sub['id']}"), 200)

        self.advance(expires_at + timedelta(minutes=1))
        self.assertProblem(me.get(f"/v1/customers/{customer['id']}"), 401, "customer_session_expired")
        self.assertProblem(me.get(f"/v1/subscriptions/{sub['id']}"), 401, "customer_session_expired")
        self.assertProblem(me.post(f"/v1/subscriptions/{sub['id']}/skip", {}), 401, "customer_session_expired")
        self.assertEqual(self.read(f"/v1/subscriptions/{sub['id']}")["skipped_periods"], [])
        # The merchant's key is not affected, and a new session works again.
        fresh = self.open_session(customer)
        self.assertEqual(parse_time(fresh["expires_at"]), expires_at + timedelta(minutes=1) + SESSION_TTL)
        self.assertStatus(SessionApi(fresh["token"]).get(f"/v1/customers/{customer['id']}"), 200)

    def test_a_token_never_issued_is_401_invalid_api_key(self):
        customer = self.make.customer(card=None)
        real = self.open_session(customer)["token"]
        alphabet = string.ascii_lowercase + string.digits
        forged = "cs_" + "".join(secrets.choice(alphabet) for _ in range(len(real) - 3))
        self.assertNotEqual(forged, real)
        for api in (SessionApi(forged), SessionApi(forged, direct=True)):
            self.assertProblem(api.get(f"/v1/customers/{customer['id']}"), 401, "invalid_api_key")
        self.assertProblem(SessionApi("cs_").get(f"/v1/customers/{customer['id']}"), 401, "invalid_api_key")
        # The real one still works (the forged ones did not use it up).
        self.assertStatus(SessionApi(real).get(f"/v1/customers/{customer['id']}"), 200)
