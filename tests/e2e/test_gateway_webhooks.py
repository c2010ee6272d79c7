"""Inbound payment-gateway webhooks end to end, through Prism like every other suite.

No API key: the gateway's signature over the raw body is the authentication. A signed event
is received once (a redelivery answers `duplicate`), a bad or stale signature is a 401
problem+json that changes nothing, and the sandbox (whose secret is public) is accepted only
by a test-mode server. The flows run on the billing suites' test-mode server
(billing_server.py), whose Stripe is configured with a webhook secret of this run's own.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import billing_server
# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import STRIPE_WEBHOOK_SECRET, TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import Api

SANDBOX_SECRET = "whsec_sandbox"


def signature(secret: str, t: int, body: bytes) -> str:
    """Stripe's scheme (the sandbox's too): t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def intent_event(event_id: str, event_type: str, payment: dict, intent_id: str) -> bytes:
    succeeded = event_type == "payment_intent.succeeded"
    intent = {"id": intent_id, "object": "payment_intent", "amount": payment["amount"],
              "currency": payment["currency"], "status": "succeeded" if succeeded else "requires_payment_method",
              "metadata": {"invoice": payment["invoice"], "payment": payment["id"]},
              "last_payment_error": None if succeeded else {"type": "card_error", "code": "card_declined"}}
    return stripe_event(event_id, event_type, intent)


def stripe_event(event_id: str, event_type: str, obj: dict) -> bytes:
    """A Stripe Event about `obj` (the sandbox reads Stripe's format)."""
    # Compact, as JSON.stringify writes it: Prism forwards the body re-serialized, so only
    # bytes it leaves unchanged can be signed through it (raw bytes: see the direct test).
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}},
                      separators=(",", ":")).encode()


class GatewayEventCase(TestModeCase):
    """What the webhook suites share: the gateway's keyless client and a paid invoice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2500)
        # The gateway calls without an API key, through the test-mode server's Prism.
        cls.gateway = Api(role=None)
        cls.gateway.base = billing_server.SERVER.proxy

    def deliver(self, gateway: str, body: bytes, header: str, value: str, api: Api | None = None):
        return (api or self.gateway).request("POST", f"/v1/gateway-webhooks/{gateway}", raw=body,
                                             headers={header: value})

    def unix_now(self) -> int:
        return int(self.now().timestamp())

    def paid_invoice(self):
        customer, _ = self.customer_with("pm_card_visa")
        sub = self.make.subscription(plan=self.plan, customer=customer)  # charged at signup
        [inv] = self.invoices(sub)
        [pay] = self.payments(inv)
        self.assertEqual((inv["status"], pay["status"]), ("paid", "succeeded"))
        return sub, inv, pay


class GatewayWebhookTest(GatewayEventCase):

    def test_a_signed_stripe_event_is_received_once_and_a_bad_signature_is_refused(self):
        body = intent_event("evt_" + uuid.uuid4().hex, "payment_intent.succeeded",
                            {"id": "pay_unknown", "invoice": "in_unknown", "amount": 100, "currency": "usd"},
                            "pi_" + uuid.uuid4().hex[:24])
        t = self.unix_now()
        forged = self.deliver("stripe", body, "Stripe-Signature", signature("whsec_guess", t, body))
        self.assertProblem(forged, 401, "invalid_signature")
        stale = self.deliver("stripe", body, "Stripe-Signature", signature(STRIPE_WEBHOOK_SECRET, t - 301, body))
        self.assertProblem(stale, 401, "invalid_signature")
        missing = self.gateway.request("POST", "/v1/gateway-webhooks/stripe", raw=body)
        self.assertProblem(missing, 401, "invalid_signature")

        good = self.deliver("stripe", body, "Stripe-Signature", signature(STRIPE_WEBHOOK_SECRET, t, body))
        self.assertStatus(good, 200)
        self.assertEqual(good.json(), {"received": True, "duplicate": False})
        again = self.deliver("stripe", body, "Stripe-Signature", signature(STRIPE_WEBHOOK_SECRET, t, body))
        self.assertStatus(again, 200)
        self.assertEqual(again.json(), {"received": True, "duplicate": True})
        # The signature covers the raw bytes: the same JSON spaced otherwise is another body
        # (sent straight to the server, since Prism re-serializes what it forwards).
        direct = Api(role=None, direct=True)
        direct.base = billing_server.SERVER.direct
        spaced = json.dumps(json.loads(body), indent=1).encode()
        mismatch = self.deliver("stripe", spaced, "Stripe-Signature", signature(STRIPE_WEBHOOK_SECRET, t, body),
                                api=direct)
        self.assertProblem(mismatch, 401, "invalid_signature")
        raw_event = json.dumps({**json.loads(body), "id": "evt_" + uuid.uuid4().hex}, indent=1).encode()
        raw = self.deliver("stripe", raw_event, "Stripe-Signature", signature(STRIPE_WEBHOOK_SECRET, t, raw_event),
                           api=direct)
        self.assertStatus(raw, 200)
        self.assertEqual(raw.json(), {"received": True, "duplicate": False})

    def test_a_failure_event_for_a_paid_invoice_changes_nothing(self):
        sub, inv, pay = self.paid_invoice()
        body = intent_event("evt_" + uuid.uuid4().hex, "payment_intent.payment_failed", pay, pay["gateway_reference"])
        forged = self.deliver("sandbox", body, "Sandbox-Signature", signature("whsec_guess", self.unix_now(), body))
        self.assertProblem(forged, 401, "invalid_signature")
        r = self.deliver("sandbox", body, "Sandbox-Signature", signature(SANDBOX_SECRET, self.unix_now(), body))
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"received": True, "duplicate": False})
        after = self.invoice(inv)
        self.assertEqual((after["status"], after["amount_paid"], after["attempt_count"]),
                         ("paid", inv["amount_paid"], inv["attempt_count"]))
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded"])
        self.assertEqual(self.subscription(sub)["status"], "active")

    def test_the_sandbox_is_not_accepted_outside_test_mode(self):
        body = intent_event("evt_" + uuid.uuid4().hex, "payment_intent.succeeded",
                            {"id": "pay_x", "invoice": "in_x", "amount": 100, "currency": "usd"}, "pi_x")
        suite = Api(role=None)  # the suite's own server (not in test mode, no Stripe configured)
        for gateway in ("sandbox", "stripe"):
            r = self.deliver(gateway, body, "Sandbox-Signature", signature(SANDBOX_SECRET, self.unix_now(), body),
                             api=suite)
            self.assertProblem(r, 404, "gateway_not_found")


def dispute_event(event_id: str, event_type: str, payment: dict, dispute_id: str, status: str) -> bytes:
    """A Stripe dispute event (the sandbox reads Stripe's format) about `payment`'s charge."""
    dispute = {"id": dispute_id, "object": "dispute", "amount": payment["amount"], "currency": payment["currency"],
               "payment_intent": payment["gateway_reference"], "reason": "fraudulent", "status": status}
    return stripe_event(event_id, event_type, dispute)


class DisputeWebhookTest(GatewayEventCase):
    """Disputes that act (decision 0021): opened → paused and held, won → resumed, each once."""

    def sandbox(self, body: bytes):
        r = self.deliver("sandbox", body, "Sandbox-Signature", signature(SANDBOX_SECRET, self.unix_now(), body))
        self.assertStatus(r, 200)
        return r.json()

    def test_a_dispute_pauses_the_subscription_once_and_a_win_resumes_it(self):
        sub, inv, pay = self.paid_invoice()
        dispute_id = "du_" + uuid.uuid4().hex[:20]
        opened = dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.created", pay, dispute_id, "needs_response")
        self.assertEqual(self.sandbox(opened), {"received": True, "duplicate": False})
        self.assertEqual(self.sandbox(opened), {"received": True, "duplicate": True})
        # Another event about the same dispute changes nothing either.
        again = dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.created", pay, dispute_id, "needs_response")
        self.assertEqual(self.sandbox(again), {"received": True, "duplicate": False})
        held = self.invoice(inv)
        self.assertEqual((held["status"], held["amount_paid"], held["amount_disputed"], held["amount_disputed_lost"]),
                         ("paid", pay["amount"], pay["amount"], 0))
        paused = self.subscription(sub)
        self.assertEqual(paused["status"], "paused")
        r = self.api.get("/v1/events", params={"type": "dispute.created"})
        self.assertStatus(r, 200)
        created = [e for e in r.json()["data"] if e["data"]["object"]["invoice"] == inv["id"]]
        self.assertEqual(len(created), 1)
        self.assertEqual(created[0]["data"]["object"]["status"], "open")
        self.assertEqual(created[0]["data"]["object"]["subscription_action"], "paused")

        won = dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.closed", pay, dispute_id, "won")
        self.assertEqual(self.sandbox(won), {"received": True, "duplicate": False})
        self.assertEqual(self.subscription(sub)["status"], "active")
        released = self.invoice(inv)
        self.assertEqual((released["amount_disputed"], released["amount_disputed_lost"]), (0, 0))
        lost_late = dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.closed", pay, dispute_id, "lost")
        self.assertEqual(self.sandbox(lost_late), {"received": True, "duplicate": False})
        self.assertEqual(self.invoice(inv)["amount_disputed_lost"], 0)  # decided once
        r = self.api.get("/v1/events", params={"type": "dispute.closed"})
        closed = [e for e in r.json()["data"] if e["data"]["object"]["invoice"] == inv["id"]]
        self.assertEqual([e["data"]["object"]["status"] for e in closed], ["won"])
        got = self.api.get(f"/v1/disputes/{created[0]['resource']['id']}")
        self.assertStatus(got, 200)
        self.assertEqual((got.json()["status"], got.json()["payment"], got.json()["gateway_reference"]),
                         ("won", pay["id"], dispute_id))
        self.assertProblem(self.api.get("/v1/disputes/dp_01m8a2c4e6g8j0k2m4n6p8r0zz"), 404, "dispute_not_found")

    def test_a_lost_dispute_records_the_money_gone(self):
        sub, inv, pay = self.paid_invoice()
        dispute_id = "du_" + uuid.uuid4().hex[:20]
        self.sandbox(dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.created", pay, dispute_id, "needs_response"))
        self.sandbox(dispute_event("evt_" + uuid.uuid4().hex, "charge.dispute.closed", pay, dispute_id, "lost"))
        gone = self.invoice(inv)
        self.assertEqual((gone["amount_paid"], gone["amount_disputed"], gone["amount_disputed_lost"]),
                         (pay["amount"], 0, pay["amount"]))
        self.assertEqual(self.subscription(sub)["status"], "paused")  # the merchant decides
        # Nothing is left to refund.
        r = self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 100})
        self.assertEqual(r.status_code // 100, 4, r.text)

    def test_the_dispute_settings_are_read_and_set_with_their_version(self):
        current = self.api.get("/v1/settings/disputes")
        self.assertStatus(current, 200)
        body = current.json()
        self.assertEqual((body["object"], body["on_open"]), ("dispute_settings", "pause"))
        r = self.api.patch("/v1/settings/disputes", {"on_open": "none"}, headers={"If-Match": current.headers["ETag"]})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["on_open"], r.json()["version"]), ("none", body["version"] + 1))
        stale = self.api.patch("/v1/settings/disputes", {"on_open": "cancel", "version": body["version"]})
        self.assertProblem(stale, 409, "version_conflict")
        bad = self.raw.patch("/v1/settings/disputes", {"on_open": "refund", "version": body["version"] + 1})
        self.assertProblem(bad, 422, "validation_failed")
        self.assertProblem(billing_server.TestModeApi("support").patch("/v1/settings/disputes", {"on_open": "pause", "version": 1}), 403,
                           "permission_denied")
        # Back to the default for the other tests of this server.
        r = self.api.patch("/v1/settings/disputes", {"on_open": "pause", "version": body["version"] + 1})
        self.assertStatus(r, 200)
