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
    # Compact, as JSON.stringify writes it: Prism forwards the body re-serialized, so only
    # bytes it leaves unchanged can be signed through it (raw bytes: see the direct test).
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": intent}},
                      separators=(",", ":")).encode()


class GatewayWebhookTest(TestModeCase):

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
        sub = self.make.subscription(plan=self.plan, customer=customer)
        self.advance(self.now())  # the first charge is due at once
        [inv] = self.invoices(sub)
        [pay] = self.payments(inv)
        self.assertEqual((inv["status"], pay["status"]), ("paid", "succeeded"))
        return sub, inv, pay

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
