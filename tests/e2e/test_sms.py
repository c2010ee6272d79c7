"""SMS where customers expect it, end to end: a customer with `sms_opt_in` and an E.164
`phone` is texted a failed payment, a shipped box and a backorder delay as well as e-mailed;
the local SMS sink (tests/notify/sms_sink.py) receives each text as the provider would, and
`/v1/notifications?channel=sms` records it. A customer who did not opt in is never texted.
Opting in without a phone is refused, naming `phone`.

Runs on its own test-mode server (billing_server.py) whose SMS provider is the sink: the test
clock drives billing, and each advance dispatches what is due before it answers.
"""
from __future__ import annotations

import random
from datetime import timedelta

import billing_server
from billing_server import TestModeCase
from recur_api import parse_time, unique

DAY = timedelta(days=1)


def setUpModule():
    billing_server.setUpModule(sms=True)


def tearDownModule():
    billing_server.tearDownModule()


def new_phone() -> str:
    """A number of this test's own (North American, E.164), so texts are told apart by it."""
    return f"+1415{random.randint(2000000, 9999999)}"


class SmsTest(TestModeCase):

    def texts_to(self, phone: str) -> list[str]:
        """The bodies the sink received for `phone`, oldest first."""
        return [t["Body"] for t in billing_server.SERVER.texts() if t["To"] == phone]

    def notifications(self, customer, **params) -> list[dict]:
        return self.list_all("/v1/notifications", dict(params, customer=customer["id"]))

    def texted_customer(self, **fields) -> tuple[dict, str]:
        phone = new_phone()
        customer = self.make.customer(phone=phone, sms_opt_in=True, **fields)
        self.assertEqual((customer["phone"], customer["sms_opt_in"]), (phone, True))
        return customer, phone

    def tick(self):
        """Moves the test clock a minute: due messages go out before the answer."""
        self.advance(self.now() + timedelta(minutes=1))

    # -- the customer's fields

    def test_sms_opt_in_is_false_by_default_and_needs_a_phone(self):
        plain = self.make.customer(card=None)
        self.assertIs(plain["sms_opt_in"], False)
        doc = self.assertProblem(self.api.post("/v1/customers", {"email": f"{unique('c')}@example.com",
                                                                 "name": "No Phone", "sms_opt_in": True}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"phone": "required"})
        self.assertIn("sms_opt_in", doc["errors"][0]["message"])

        # Opting in later needs a phone too, sent or stored; with one it is accepted.
        r = self.api.patch(f"/v1/customers/{plain['id']}", {"sms_opt_in": True, "version": 1})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"phone": "required"})
        phone = new_phone()
        r = self.api.patch(f"/v1/customers/{plain['id']}", {"sms_opt_in": True, "phone": phone, "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["sms_opt_in"], r.json()["phone"], r.json()["version"]), (True, phone, 2))

        # The phone stays while opted in; both go together.
        r = self.api.patch(f"/v1/customers/{plain['id']}", {"phone": None, "version": 2})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"phone": "required"})
        r = self.api.patch(f"/v1/customers/{plain['id']}", {"phone": None, "sms_opt_in": False, "version": 2})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["sms_opt_in"], r.json()["phone"]), (False, None))

    def test_a_phone_must_be_e164_and_sms_opt_in_a_boolean(self):
        # Prism refuses these bodies itself, so they go straight to the server.
        for phone in ("+1 415 555 0123", "4155550123", "+04155550123", "+1234567", "+1415555012a"):
            r = self.raw.post("/v1/customers", {"email": f"{unique('c')}@example.com", "name": "X", "phone": phone,
                                                "sms_opt_in": True})
            self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"phone": "invalid_phone"})
        r = self.raw.post("/v1/customers", {"email": f"{unique('c')}@example.com", "name": "X", "phone": new_phone(),
                                            "sms_opt_in": "yes"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"sms_opt_in": "invalid_type"})

    # -- the texts

    def test_an_opted_in_customer_is_texted_a_failed_payment_and_one_who_is_not_only_emailed(self):
        plan = self.make.plan(amount=2000)
        texted, phone = self.texted_customer()
        quiet_phone = new_phone()
        quiet = self.make.customer(phone=quiet_phone)  # a phone, but no consent
        # Paid at signup with their visa; the renewal is charged to a declining card (a
        # signup's refused first charge sends nothing: the customer is still at checkout).
        renewal = None
        for customer in (texted, quiet):
            sub = self.make.subscription(plan=plan, customer=customer)
            self.attach(customer, "pm_card_chargeDeclined", default=True)
            renewal = parse_time(sub["current_period"]["end"])
        self.advance(renewal)
        self.tick()

        [body] = self.texts_to(phone)
        self.assertRegex(body, r"^Your payment of 20\.00 USD for Invoice INV-\d{6,} failed\. We will retry; "
                               r"the e-mail we sent has a link to update your payment method\.$")
        self.assertNotIn("token", body)
        self.assertNotIn("Ada", body)
        [sms] = self.notifications(texted, channel="sms")
        self.assertEqual((sms["template"], sms["to"], sms["status"], sms["subject"], sms["html"], sms["text"]),
                         ("payment_failed", phone, "sent", None, None, body))
        [email] = self.notifications(texted, channel="email", template="payment_failed")
        self.assertEqual((email["to"], email["resource"]), (texted["email"], sms["resource"]))

        self.assertEqual(self.texts_to(quiet_phone), [])
        self.assertEqual(self.notifications(quiet, channel="sms"), [])
        self.assertEqual(len(self.notifications(quiet, channel="email", template="payment_failed")), 1)

    def test_a_shipped_box_and_a_backorder_delay_are_texted_but_receipts_are_not(self):
        product = self.make.product(name="Ethiopian beans", track_inventory=True, amount=1400, currency="usd")
        self.assertStatus(self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": 1}), 201)
        r = self.api.post("/v1/plans", {"name": unique("Beans"), "amount": 2400, "currency": "usd", "interval": "month",
                                        "items": [{"product": product["id"], "quantity": 1}]})
        self.assertStatus(r, 201)
        customer, phone = self.texted_customer()
        self.attach(customer, "pm_card_visa")
        sub = self.make.subscription(plan=r.json(), customer=customer)
        self.tick()  # the first box's invoice is paid (a receipt, e-mail only)
        [box] = self.list_all("/v1/shipments", {"subscription": sub["id"], "paid": "true"})
        r = self.api.patch(f"/v1/shipments/{box['id']}", {"status": "ready"})
        self.assertStatus(r, 200)
        r = self.api.patch(f"/v1/shipments/{box['id']}", {"status": "shipped", "tracking_number": "1Z999AA10123456784",
                                                          "version": r.json()["version"]})
        self.assertStatus(r, 200)
        self.tick()
        self.assertEqual(self.texts_to(phone), [f"Your box {box['id']} has shipped. Tracking: 1Z999AA10123456784"])

        # The renewal finds no stock left: its box is backordered, and the customer is told.
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)
        [backordered] = self.list_all("/v1/shipments", {"subscription": sub["id"], "status": "backordered"})
        texts = self.texts_to(phone)
        self.assertEqual(len(texts), 2, texts)
        self.assertRegex(texts[1], r"^Ethiopian beans is on backorder; we expect to ship your box .+\.$")

        sms = self.notifications(customer, channel="sms")
        self.assertEqual(sorted((n["template"], n["resource"], n["status"]) for n in sms),
                         [("backorder_delay", backordered["id"], "sent"), ("shipment_shipped", box["id"], "sent")])
        # Each text has its e-mail; the receipts have no text.
        emailed = {n["template"] for n in self.notifications(customer, channel="email")}
        self.assertLessEqual({"receipt", "shipment_shipped", "backorder_delay"}, emailed)
        self.assertEqual(self.notifications(customer, channel="sms", template="receipt"), [])
