"""Checkout end to end through Prism: POST /v1/subscriptions with payment_behavior charges the
first invoice in the request (the sandbox gateway), keeps an incomplete subscription, answers
402 keeping nothing, or charges nothing until the client pays (docs/billing-rules.md,
"Checkout")."""
from __future__ import annotations

import uuid

from recur_api import ApiTestCase


class CheckoutTest(ApiTestCase):

    def customer_with(self, token: str | None) -> dict:
        customer = self.make.customer(card=None)
        if token:
            r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": token})
            self.assertStatus(r, 201)
        return customer

    def subscribe(self, customer: dict, behavior: str, plan: dict | None = None, key: str | None = None):
        kw = {"idempotency_key": key} if key else {}
        body = {"customer": customer["id"], "plan": (plan or self.plan)["id"], "payment_behavior": behavior}
        return self.api.post("/v1/subscriptions", body, **kw)

    def invoice_of(self, sub_id: str) -> dict:
        invoices = self.list_all("/v1/invoices", {"subscription": sub_id})
        self.assertEqual(len(invoices), 1, invoices)
        return invoices[0]

    def box_count(self, sub_id: str) -> int:
        shipments = self.list_all("/v1/shipments", {"subscription": sub_id})
        return len([s for s in shipments if s["status"] != "canceled"])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2500)

    def test_a_good_card_is_charged_in_the_request(self):
        r = self.subscribe(self.customer_with("pm_card_visa"), "allow_incomplete")
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertEqual(sub["status"], "active")
        inv = self.invoice_of(sub["id"])
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 2500))
        payments = self.list_all("/v1/payments", {"invoice": inv["id"]})
        self.assertEqual([p["status"] for p in payments], ["succeeded"])

    def test_without_payment_behavior_the_first_invoice_is_charged_in_the_request(self):
        """The default is allow_incomplete: the card at signup pays, not the one that is the
        default when a billing run comes (the issue's report)."""
        customer = self.customer_with("pm_card_visa")
        r = self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.plan["id"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["status"], "active")
        inv = self.invoice_of(r.json()["id"])
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 2500))
        [paid] = self.list_all("/v1/payments", {"invoice": inv["id"]})
        signup_card = self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"]
        self.assertEqual((paid["status"], paid["payment_method"]), ("succeeded", signup_card))
        # A customer without a card gets an incomplete subscription whose box waits.
        bare = self.customer_with(None)
        r = self.api.post("/v1/subscriptions", {"customer": bare["id"], "plan": self.plan["id"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["status"], "incomplete")
        self.assertEqual(self.invoice_of(r.json()["id"])["status"], "open")

    def test_a_decline_with_allow_incomplete_keeps_an_incomplete_subscription_a_new_card_activates(self):
        customer = self.customer_with("pm_card_chargeDeclined")
        r = self.subscribe(customer, "allow_incomplete")
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertEqual(sub["status"], "incomplete")
        inv = self.invoice_of(sub["id"])
        self.assertEqual((inv["status"], inv["next_attempt_at"]), ("open", None))
        # Nothing else is allowed until it is paid.
        self.assertProblem(self.api.post(f"/v1/subscriptions/{sub['id']}/pause", {}), 409, "subscription_incomplete")
        r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_visa", "default": True})
        self.assertStatus(r, 201)
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["status"], "active")
        self.assertEqual(self.invoice_of(sub["id"])["status"], "paid")

    def test_error_if_incomplete_answers_402_and_keeps_nothing(self):
        r = self.subscribe(self.customer_with("pm_card_chargeDeclinedInsufficientFunds"), "error_if_incomplete")
        problem = self.assertProblem(r, 402, "card_declined")
        self.assertEqual(problem["decline_code"], "insufficient_funds")
        sub = self.api.get(f"/v1/subscriptions/{problem['subscription']}").json()
        self.assertEqual(sub["status"], "incomplete_expired")
        self.assertEqual(self.invoice_of(sub["id"])["status"], "void")
        self.assertEqual(self.box_count(sub["id"]), 0)

    def test_error_if_incomplete_without_a_card_asks_for_one(self):
        r = self.subscribe(self.customer_with(None), "error_if_incomplete")
        self.assertProblem(r, 402, "payment_method_required")

    def test_default_incomplete_charges_nothing_until_the_client_pays(self):
        r = self.subscribe(self.customer_with("pm_card_visa"), "default_incomplete")
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertEqual(sub["status"], "incomplete")
        inv = self.invoice_of(sub["id"])
        self.assertEqual(self.list_all("/v1/payments", {"invoice": inv["id"]}), [])
        paid = self.api.post(f"/v1/invoices/{inv['id']}/pay", {})
        self.assertStatus(paid, 200)
        self.assertEqual(paid.json()["status"], "paid")
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["status"], "active")

    def test_verify_payment_method_checks_the_card_before_a_trial_and_keeps_nothing_when_refused(self):
        trial = self.make.plan(amount=2500, trial_days=14)

        def verified(customer):
            return self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": trial["id"],
                                                       "verify_payment_method": True})
        good = self.customer_with("pm_card_visa")
        r = verified(good)
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["status"], "trialing")
        self.assertEqual(self.list_all("/v1/payments", {"customer": good["id"]}), [])  # no money moved

        refused = self.customer_with("pm_card_chargeDeclinedInsufficientFunds")
        problem = self.assertProblem(verified(refused), 402, "card_declined")
        self.assertEqual((problem["decline_code"], problem["failure_code"]), ("insufficient_funds", "insufficient_funds"))
        self.assertTrue(problem["payment_method"].startswith("pmt_"))
        self.assertEqual(self.list_all("/v1/subscriptions", {"customer": refused["id"]}), [])
        nobody = self.customer_with(None)
        problem = self.assertProblem(verified(nobody), 402, "payment_method_required")
        self.assertIsNone(problem["payment_method"])
        self.assertEqual(self.list_all("/v1/subscriptions", {"customer": nobody["id"]}), [])
        # Without it a trial's signup checks nothing: the refused card's customer subscribes.
        r = self.api.post("/v1/subscriptions", {"customer": refused["id"], "plan": trial["id"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["status"], "trialing")

    def test_a_retried_request_returns_the_same_subscription_and_charges_once(self):
        customer = self.customer_with("pm_card_visa")
        key = str(uuid.uuid4())
        first = self.subscribe(customer, "allow_incomplete", key=key)
        again = self.subscribe(customer, "allow_incomplete", key=key)
        self.assertStatus(first, 201)
        self.assertStatus(again, 201)
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(len(self.list_all("/v1/subscriptions", {"customer": customer["id"]})), 1)
        payments = self.list_all("/v1/payments", {"customer": customer["id"]})
        self.assertEqual(len(payments), 1)

    def test_an_unknown_payment_behavior_is_422_and_creates_nothing(self):
        customer = self.customer_with("pm_card_visa")
        r = self.raw.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.plan["id"],
                                                "payment_behavior": "charge_later"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"payment_behavior": "invalid_value"})
        self.assertEqual(self.list_all("/v1/subscriptions", {"customer": customer["id"]}), [])
