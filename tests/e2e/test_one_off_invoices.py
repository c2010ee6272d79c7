"""One-off invoices end to end: POST /v1/invoices bills a customer outside any subscription
(api/openapi.yaml, operationId createInvoice; docs/billing-rules.md, "One-off invoices").

`charge_automatically` charges the default card in the request (paid, or open with dunning
that moves no subscription); `send_invoice` charges nothing and e-mails the invoice, its PDF
attached, with a one-time pay link (read here from a real SMTP server's maildir). Errors
change nothing and take no number; a retried request under the same Idempotency-Key finds
the first invoice and never charges twice; a paid one is refunded, never credited.

Runs on its own test-mode server (billing_server.py) that sends e-mail, so the clock is
this module's alone.
"""
from __future__ import annotations

import re
import subprocess
import uuid
from datetime import timedelta
from urllib.parse import unquote

import billing_server
from billing_server import TestModeApi, TestModeCase
from recur_api import Api, format_time, parse_time
from wait_for import poll

DAY = timedelta(days=1)
NUMBER = re.compile(r"^INV-(\d{6,})$")
LINK = re.compile(r"https://shop\.example\.com/account/payment\?token=([A-Za-z0-9_.~%-]+)")
UNKNOWN_CUSTOMER = "cus_00000000000000000000000000"


def setUpModule():
    billing_server.setUpModule(mail=True)


def tearDownModule():
    billing_server.tearDownModule()


def number_of(inv: dict) -> int:
    found = NUMBER.match(inv["number"] or "")
    assert found, f"not an invoice number: {inv['number']!r}"
    return int(found.group(1))


class HostedPage(Api):
    """The merchant's hosted page: no API key, through the test-mode server's Prism."""

    def __init__(self):
        super().__init__(None, False)
        self.base = billing_server.SERVER.proxy


class OneOffCase(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2000)
        cls.page = HostedPage()

    def setUp(self):
        self.set_dunning(retry_days=[1, 3, 5, 7], final_action="cancel")

    def tearDown(self):
        self.set_dunning(retry_days=[1, 3, 5, 7], final_action="cancel")

    # -- helpers

    def issue(self, customer, lines, api=None, **fields):
        """POST /v1/invoices through Prism; the response (not yet checked)."""
        kw = {}
        if "idempotency_key" in fields:
            kw["idempotency_key"] = fields.pop("idempotency_key")
        body = {"customer": customer["id"] if isinstance(customer, dict) else customer, "currency": "usd",
                "lines": lines}
        body.update(fields)
        return (api or self.api).post("/v1/invoices", body, **kw)

    def issued(self, customer, lines, **fields) -> dict:
        r = self.issue(customer, lines, **fields)
        self.assertStatus(r, 201)
        return r.json()

    def customer_invoices(self, customer) -> list[dict]:
        return self.list_all("/v1/invoices", {"customer": customer["id"]})

    def customer_payments(self, customer) -> list[dict]:
        return self.list_all("/v1/payments", {"customer": customer["id"]})

    def notifications(self, **params) -> list[dict]:
        return self.list_all("/v1/notifications", params)

    def mails_to(self, customer, subject: str, count: int = 1):
        """The e-mails to `customer` whose subject holds `subject`, once `count` arrived (the
        outbox sends on the test clock: the caller has moved it)."""
        def mailed():
            return [m for m in billing_server.SERVER.messages()
                    if m["To"] == customer["email"] and subject in (m["Subject"] or "")]
        self.assertTrue(poll(lambda: len(mailed()) >= count, 10),
                        f"no e-mail with {subject!r} to {customer['email']}: "
                        f"{[(m['To'], m['Subject']) for m in billing_server.SERVER.messages()]}")
        return mailed()

    def assert_one_off_shape(self, inv, customer, now):
        self.assertRegex(inv["id"], r"^in_[0-9a-z]{26}$")
        self.assertEqual((inv["object"], inv["subscription"], inv["customer"], inv["billing_reason"],
                          inv["currency"], inv["discount"], inv["discount_source"]),
                         ("invoice", None, customer["id"], "manual", "usd", 0, None))
        self.assertEqual(inv["period"], {"start": format_time(now), "end": format_time(now)})
        self.assertRegex(inv["number"], NUMBER)


class ChargedInvoiceTest(OneOffCase):

    def test_a_charged_invoice_is_paid_in_the_request_and_numbered_after_the_subscriptions(self):
        customer = self.make.customer(card="pm_card_visa")
        card = customer["default_payment_method"]
        sub = self.make.subscription(plan=self.plan, customer=customer)
        self.assertEqual(sub["status"], "active")
        [sub_inv] = self.invoices(sub)
        sub_before = self.subscription(sub)
        now = self.now()

        lines = [{"description": "Replacement box", "unit_amount": 1500, "quantity": 2},
                 {"description": "Express shipping", "unit_amount": 495},
                 {"description": "Goodwill discount", "unit_amount": -500}]
        r = self.issue(customer, lines, metadata={"ticket": "T-1"})
        self.assertStatus(r, 201)
        inv = r.json()
        self.assert_one_off_shape(inv, customer, now)
        self.assertEqual((inv["status"], inv["collection_method"], inv["due_date"]),
                         ("paid", "charge_automatically", None))
        period = {"start": format_time(now), "end": format_time(now)}
        self.assertEqual(inv["lines"], [
            {"description": "Replacement box", "amount": 3000, "quantity": 2, "period": period, "proration": False},
            {"description": "Express shipping", "amount": 495, "quantity": 1, "period": period, "proration": False},
            {"description": "Goodwill discount", "amount": -500, "quantity": 1, "period": period,
             "proration": False}])
        self.assertEqual((inv["subtotal"], inv["tax"], inv["total"], inv["amount_paid"], inv["amount_due"],
                          inv["amount_refunded"], inv["amount_credited"]),
                         (2995, 0, 2995, 2995, 0, 0, 0))
        self.assertEqual((inv["attempt_count"], inv["next_attempt_at"], inv["first_failed_at"],
                          inv["hard_declined_payment_method"], inv["collection_ended"]),
                         (1, None, None, None, False))
        self.assertEqual(parse_time(inv["paid_at"]), now)
        self.assertEqual(inv["metadata"], {"ticket": "T-1"})
        # The one gapless sequence: the next number after the subscription's invoice.
        self.assertEqual(number_of(inv), number_of(sub_inv) + 1)
        self.assertGreater(inv["number"], sub_inv["number"])

        # One charge, to the default card, under the exactly-once key.
        [pay] = self.payments(inv)
        self.assertEqual((pay["status"], pay["attempt"], pay["amount"], pay["currency"], pay["customer"],
                          pay["invoice"], pay["payment_method"], pay["idempotency_key"]),
                         ("succeeded", 1, 2995, "usd", customer["id"], inv["id"], card, f"{inv['id']}:attempt:1"))

        # Read back: the same invoice; expanded, its subscription is still null.
        got = self.api.get(f"/v1/invoices/{inv['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), inv)
        expanded = self.api.get(f"/v1/invoices/{inv['id']}", params={"expand[]": "subscription"})
        self.assertStatus(expanded, 200)
        self.assertIsNone(expanded.json()["subscription"])
        self.assertEqual(expanded.json()["id"], inv["id"])
        # The sub's invoice expands to its subscription (the expansion works at all).
        sub_expanded = self.api.get(f"/v1/invoices/{sub_inv['id']}", params={"expand[]": "subscription"})
        self.assertStatus(sub_expanded, 200)
        self.assertEqual(sub_expanded.json()["subscription"]["id"], sub["id"])

        # Listed for the customer (newest first) and by number, never under the subscription.
        self.assertEqual([i["id"] for i in self.customer_invoices(customer)], [inv["id"], sub_inv["id"]])
        self.assertEqual([i["id"] for i in self.list_all("/v1/invoices", {"customer": customer["id"],
                                                                          "status": "paid"})],
                         [inv["id"], sub_inv["id"]])
        self.assertEqual([i["id"] for i in self.list_all("/v1/invoices", {"number": inv["number"]})], [inv["id"]])
        self.assertEqual([i["id"] for i in self.invoices(sub)], [sub_inv["id"]])

        # A receipt for it, and no invoice_issued e-mail (it was charged, not sent).
        [receipt] = self.notifications(resource=inv["id"], template="receipt")
        self.assertEqual((receipt["customer"], receipt["to"], receipt["channel"]),
                         (customer["id"], customer["email"], "email"))
        self.assertEqual(self.notifications(resource=inv["id"], template="invoice_issued"), [])
        # The event a one-off invoice is issued with.
        r = self.api.get("/v1/events", params={"resource": inv["id"], "type": "invoice.finalized"})
        self.assertStatus(r, 200)
        [finalized] = r.json()["data"]
        self.assertEqual((finalized["data"]["object"]["id"], finalized["data"]["object"]["subscription"],
                          finalized["data"]["object"]["billing_reason"]), (inv["id"], None, "manual"))

        # The subscription did not move.
        self.assertEqual(self.subscription(sub), sub_before)

    def test_tax_is_by_the_customers_shipping_country(self):
        current = self.api.get("/v1/settings/tax")
        self.assertStatus(current, 200)
        r = self.api.patch("/v1/settings/tax", {"rates": {"DE": 1900}, "version": current.json()["version"]})
        self.assertStatus(r, 200)
        try:
            customer = self.make.customer(card="pm_card_visa",
                                          shipping_address={"line1": "Marktplatz 1", "city": "München",
                                                            "postal_code": "80331", "country": "DE"})
            inv = self.issued(customer, [{"description": "Gift boxes", "unit_amount": 500, "quantity": 3},
                                         {"description": "Goodwill", "unit_amount": -255}])
            # round_half_up(1245 × 1900 / 10000) = round(236.55) = 237
            self.assertEqual((inv["subtotal"], inv["discount"], inv["tax"], inv["total"], inv["amount_paid"],
                              inv["status"]), (1245, 0, 237, 1482, 1482, "paid"))
            self.assertEqual([p["amount"] for p in self.payments(inv)], [1482])
            # A country without a rate pays none.
            us = self.make.customer(card="pm_card_visa")
            inv = self.issued(us, [{"description": "Gift boxes", "unit_amount": 500, "quantity": 3}])
            self.assertEqual((inv["subtotal"], inv["tax"], inv["total"]), (1500, 0, 1500))
        finally:
            latest = self.api.get("/v1/settings/tax").json()
            self.assertStatus(self.api.patch("/v1/settings/tax", {"rates": {}, "version": latest["version"]}), 200)

    def test_only_billing_write_issues_invoices(self):
        customer = self.make.customer(card="pm_card_visa")
        lines = [{"description": "Shipping fee", "unit_amount": 700}]
        for role in ("support", "analyst"):
            self.assertProblem(self.issue(customer, lines, api=TestModeApi(role)), 403, "permission_denied")
        self.assertEqual(self.customer_invoices(customer), [])
        self.assertEqual(self.customer_payments(customer), [])


class DeclinedInvoiceTest(OneOffCase):

    def test_a_declined_card_leaves_it_open_for_dunning_and_a_new_default_card_pays_it(self):
        self.set_dunning(retry_days=[2, 5], final_action="cancel")
        customer, declined, sub, _ = self.renewing_with("pm_card_chargeDeclined", self.plan)
        sub_before = self.subscription(sub)
        t0 = self.now()

        inv = self.issued(customer, [{"description": "Replacement grinder", "unit_amount": 1200}])
        self.assert_one_off_shape(inv, customer, t0)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["amount_due"], inv["amount_paid"], inv["paid_at"]),
                         ("open", 1, 1200, 0, None))
        self.assertEqual(parse_time(inv["first_failed_at"]), t0)
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + 2 * DAY)
        self.assertGreater(parse_time(inv["next_attempt_at"]), t0)
        [failed] = self.payments(inv)
        self.assertEqual((failed["status"], failed["attempt"], failed["failure_code"], failed["payment_method"],
                          failed["amount"]), ("failed", 1, "card_declined", declined["id"], 1200))
        # No subscription moves for a one-off invoice's refusal.
        self.assertEqual(self.subscription(sub), sub_before)
        self.assertEqual(self.invoice(inv)["status"], "open")

        # A new default card is charged at once.
        visa = self.attach(customer, "pm_card_visa", default=True)
        self.assertTrue(visa["default"])
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_due"], inv["attempt_count"],
                          inv["next_attempt_at"]), ("paid", 1200, 0, 2, None))
        self.assertEqual([(p["attempt"], p["status"], p["payment_method"]) for p in self.payments(inv)],
                         [(2, "succeeded", visa["id"]), (1, "failed", declined["id"])])
        self.assertEqual(self.subscription(sub)["status"], "active")
        # The old schedule is over.
        self.advance(t0 + 3 * DAY)
        self.assertEqual(len(self.payments(inv)), 2)

    def test_retries_follow_the_schedule_and_the_final_action_moves_no_subscription(self):
        # cancel: the invoice is uncollectible, the subscription stays active.
        self.set_dunning(retry_days=[1], final_action="cancel")
        customer, _, sub, _ = self.renewing_with("pm_card_chargeDeclinedInsufficientFunds", self.plan)
        t0 = self.now()
        inv = self.issued(customer, [{"description": "Shipping fee", "unit_amount": 900}])
        self.assertEqual((inv["status"], inv["attempt_count"]), ("open", 1))
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + DAY)
        self.advance(t0 + DAY - timedelta(seconds=1))
        self.assertEqual(len(self.payments(inv)), 1)  # not before its day
        self.advance(t0 + DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"], inv["amount_due"]),
                         ("uncollectible", 2, None, 0))
        self.assertEqual([(p["attempt"], p["status"]) for p in self.payments(inv)], [(2, "failed"), (1, "failed")])
        self.assertEqual(self.subscription(sub)["status"], "active")

        # pause: the invoice stays open without further attempts, the subscription is not paused.
        self.set_dunning(retry_days=[1], final_action="pause")
        customer, _, sub, _ = self.renewing_with("pm_card_chargeDeclined", self.plan)
        t1 = self.now()
        inv = self.issued(customer, [{"description": "Shipping fee", "unit_amount": 900}])
        self.advance(t1 + DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"], inv["amount_due"]),
                         ("open", 2, None, 900))
        self.assertEqual(self.subscription(sub)["status"], "active")
        self.advance(t1 + 3 * DAY)
        self.assertEqual(len(self.payments(inv)), 2)

    def test_a_charge_the_bank_challenges_waits_for_the_customer_and_is_made_once(self):
        customer = self.make.customer(card="pm_card_authenticationRequired")
        t0 = self.now()
        r = self.issue(customer, [{"description": "Bespoke order", "unit_amount": 3100}])
        self.assertStatus(r, 201)
        inv = r.json()
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"], inv["amount_due"]),
                         ("open", 1, None, 3100))
        [pay] = self.payments(inv)
        self.assertEqual((pay["status"], pay["next_action"]["type"]), ("requires_action", "authenticate"))
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/pay"), 409, "payment_requires_action")
        self.advance(t0 + timedelta(seconds=1))  # the outbox sends on the test clock
        [mail] = self.mails_to(customer, "Confirm your payment")
        token = unquote(LINK.search(mail.get_body(("plain",)).get_content()).group(1))
        r = self.page.post(f"/v1/sandbox/charges/{pay['gateway_reference']}/authenticate", {"result": "approve"})
        self.assertStatus(r, 200)
        r = self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": token})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "succeeded")
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 3100))
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded"])

    def test_without_a_payment_method_it_waits_for_one(self):
        customer = self.make.customer(card=None)
        inv = self.issued(customer, [{"description": "Bespoke order", "unit_amount": 4200}])
        self.assertEqual((inv["status"], inv["attempt_count"], inv["amount_due"]), ("open", 1, 4200))
        [refused] = self.payments(inv)
        self.assertEqual((refused["status"], refused["failure_code"]), ("failed", "no_payment_method"))
        self.attach(customer, "pm_card_visa")  # the first method becomes the default
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 4200))
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded", "failed"])


class SentInvoiceTest(OneOffCase):

    def test_a_sent_invoice_is_emailed_with_its_pdf_and_a_pay_link_and_never_charged(self):
        # A good default card: nothing stops a charge but the collection method.
        customer = self.make.customer(card="pm_card_visa")
        t0 = self.now()
        due = t0 + 14 * DAY
        r = self.issue(customer, [{"description": "Corporate gift boxes", "unit_amount": 4500, "quantity": 2}],
                       collection_method="send_invoice", due_date=format_time(due))
        self.assertStatus(r, 201)
        inv = r.json()
        self.assert_one_off_shape(inv, customer, t0)
        self.assertEqual((inv["status"], inv["collection_method"], inv["attempt_count"], inv["next_attempt_at"],
                          inv["first_failed_at"], inv["paid_at"]),
                         ("open", "send_invoice", 0, None, None, None))
        self.assertEqual(parse_time(inv["due_date"]), due)
        self.assertEqual((inv["subtotal"], inv["total"], inv["amount_due"], inv["amount_paid"]), (9000, 9000, 9000, 0))
        self.assertEqual(self.payments(inv), [])

        # The delivery record: an invoice_issued e-mail about it, naming its PDF.
        [record] = self.notifications(customer=customer["id"], template="invoice_issued")
        self.assertEqual((record["resource"], record["to"], record["channel"]), (inv["id"], customer["email"], "email"))
        self.assertEqual(record["attachments"], [{"kind": "invoice_pdf", "id": inv["id"]}])
        self.assertIn("90.00 USD", record["subject"])
        self.assertIn(format_time(due)[:10], record["subject"])
        self.assertIsNone(LINK.search(record["text"]), "the record shows the one-time token")
        self.assertIn("https://shop.example.com/account/payment?token=[redacted]", record["text"])

        # The e-mail itself: the PDF attached and a link to pay.
        self.advance(t0 + timedelta(seconds=1))  # the outbox sends on the test clock
        [mail] = self.mails_to(customer, "Your invoice")
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        self.assertIn(inv["number"], text)
        self.assertIn("90.00 USD", text)
        found = LINK.search(text)
        self.assertIsNotNone(found, text)
        self.assertIn(found.group(0), html.replace("&amp;", "&"))
        [pdf] = list(mail.iter_attachments())
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertEqual(pdf.get_filename(), f"invoice-{inv['number']}.pdf")
        content = pdf.get_content()
        self.assertTrue(content.startswith(b"%PDF-"))
        pdf_text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, check=True,
                                  capture_output=True).stdout.decode()
        self.assertIn(inv["number"], pdf_text)
        self.assertIn("90.00 USD", pdf_text)
        # The link is the hosted page's for this invoice.
        r = self.page.post("/v1/payment-updates/lookup", {"token": unquote(found.group(1))})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["customer"], r.json()["invoices"], r.json()["amount_due"]),
                         (customer["id"], [inv["id"]], [{"amount": 9000, "currency": "usd"}]))

        # Past its due date nothing is charged: still one open invoice, no payment.
        self.advance(due + 2 * DAY)
        self.assertEqual([(i["id"], i["status"]) for i in self.customer_invoices(customer)], [(inv["id"], "open")])
        self.assertEqual(self.customer_payments(customer), [])
        again = self.invoice(inv)
        self.assertEqual((again["attempt_count"], again["next_attempt_at"], again["amount_due"]), (0, None, 9000))
        # And it was sent once.
        self.assertEqual(len(self.notifications(customer=customer["id"], template="invoice_issued")), 1)

    def test_without_a_due_date_it_is_due_in_thirty_days(self):
        customer = self.make.customer(card="pm_card_visa")
        t0 = self.now()
        inv = self.issued(customer, [{"description": "Corporate gift boxes", "unit_amount": 4500}],
                          collection_method="send_invoice")
        self.assertEqual((inv["status"], inv["attempt_count"]), ("open", 0))
        self.assertEqual(parse_time(inv["due_date"]), t0 + 30 * DAY)
        self.assertEqual(self.payments(inv), [])

    def test_the_link_pays_it_with_a_new_card(self):
        customer = self.make.customer(card=None)
        t0 = self.now()
        inv = self.issued(customer, [{"description": "Bespoke order", "unit_amount": 2500}],
                          collection_method="send_invoice", due_date=format_time(t0 + 7 * DAY))
        self.advance(t0 + timedelta(seconds=1))
        [mail] = self.mails_to(customer, "Your invoice")
        token = unquote(LINK.search(mail.get_body(("plain",)).get_content()).group(1))
        r = self.page.post("/v1/payment-updates", {"token": token, "gateway": "sandbox",
                                                   "payment_method": "pm_card_visa"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["retry"], {"invoices": [{"id": inv["id"], "status": "paid", "amount_due": 0,
                                                           "currency": "usd"}],
                                             "paid": 1, "still_open": 0})
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["attempt_count"]), ("paid", 2500, 1))
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded"])

    def test_an_operator_may_charge_it_and_a_refusal_is_not_retried(self):
        customer = self.make.customer(card="pm_card_visa")
        t0 = self.now()
        inv = self.issued(customer, [{"description": "Bespoke order", "unit_amount": 2500}],
                          collection_method="send_invoice", due_date=format_time(t0 + 7 * DAY))
        r = self.api.post(f"/v1/invoices/{inv['id']}/pay")
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["amount_paid"], r.json()["attempt_count"]), ("paid", 2500, 1))

        refused = self.make.customer(card="pm_card_chargeDeclined")
        inv = self.issued(refused, [{"description": "Bespoke order", "unit_amount": 2500}],
                          collection_method="send_invoice", due_date=format_time(t0 + 7 * DAY))
        r = self.api.post(f"/v1/invoices/{inv['id']}/pay")
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["attempt_count"], r.json()["next_attempt_at"]),
                         ("open", 1, None))
        self.advance(t0 + 10 * DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"]), ("open", 1, None))
        self.assertEqual([p["status"] for p in self.payments(inv)], ["failed"])


class RefusedRequestTest(OneOffCase):

    def test_errors_change_nothing_and_take_no_number(self):
        customer = self.make.customer(card="pm_card_visa")
        first = self.issued(customer, [{"description": "Shipping fee", "unit_amount": 700}])
        now = self.now()

        def refused(r, status, code, fields=()):
            doc = self.assertProblem(r, status, code)
            if fields:
                self.assertIn("errors", doc, doc)
                got = {e["field"] for e in doc["errors"]}
                for field in fields:
                    self.assertIn(field, got, doc["errors"])
            return doc

        box = {"description": "Box", "unit_amount": 1000}
        # Inside the contract, so through Prism: the server's own rules.
        doc = refused(self.issue(customer, [box, {"description": "Refund", "unit_amount": -1000}]), 422,
                      "validation_failed")
        self.assertFieldErrors(doc, {"lines": "nothing_owed"})
        doc = refused(self.issue(customer, [{"description": "Credit", "unit_amount": -300}]), 422, "validation_failed")
        self.assertFieldErrors(doc, {"lines": "nothing_owed"})
        refused(self.issue(customer, [box], due_date=format_time(now + 7 * DAY)), 422, "validation_failed",
                ["due_date"])
        refused(self.issue(customer, [box], collection_method="charge_automatically",
                           due_date=format_time(now + 7 * DAY)), 422, "validation_failed", ["due_date"])
        refused(self.issue(customer, [box], collection_method="send_invoice", due_date=format_time(now - DAY)), 422,
                "validation_failed", ["due_date"])
        refused(self.issue(customer, [box], collection_method="send_invoice", due_date=format_time(now)), 422,
                "validation_failed", ["due_date"])
        refused(self.issue(customer, [box, {"description": "Nothing", "unit_amount": 0}]), 422, "validation_failed",
                ["lines[1]"])
        # |unit_amount| ≤ 2^40 is the contract's, the line's amount (× quantity) ≤ 2^50 the server's.
        for unit in (1 << 40, -(1 << 40)):
            refused(self.issue(customer, [box, {"description": "Huge", "unit_amount": unit, "quantity": 10000}]),
                    422, "validation_failed", ["lines[1]"])
        refused(self.issue(UNKNOWN_CUSTOMER, [box]), 422, "customer_not_found")
        # Outside the contract, so straight to the server (Prism would refuse them itself).
        for body, fields in (
                ({"customer": customer["id"], "currency": "usd", "lines": [box], "colour": "red"},
                 {"colour": "unknown_field"}),
                ({"customer": customer["id"], "currency": "usd", "lines": [dict(box, colour="red")]},
                 {"lines[0].colour": "unknown_field"}),
                ({"customer": customer["id"], "currency": "usd", "lines": []}, {"lines": "required"}),
                ({"customer": customer["id"], "lines": [box]}, {"currency": "required"}),
                ({"currency": "usd", "lines": [box]}, {"customer": "required"}),
                ({"customer": customer["id"], "currency": "usd", "lines": [dict(box, quantity=0)]},
                 {"lines[0].quantity": "out_of_range"}),
                ({"customer": customer["id"], "currency": "usd", "lines": [box],
                  "collection_method": "invoice_later"}, {"collection_method": "invalid_value"})):
            doc = refused(self.raw.post("/v1/invoices", body), 422, "validation_failed")
            self.assertFieldErrors(doc, fields)
        refused(self.raw.post("/v1/invoices", {"customer": customer["id"], "currency": "usd",
                                               "lines": [{"unit_amount": 1000}]}), 422, "validation_failed",
                ["lines[0].description"])
        # An erased customer is sold nothing.
        erased = self.make.customer(card=None)
        self.assertStatus(self.api.post(f"/v1/customers/{erased['id']}/erase", {"reason": "GDPR ticket 1"}), 200)
        refused(self.issue(erased, [box]), 409, "customer_erased")
        refused(self.issue(erased, [box], collection_method="send_invoice"), 409, "customer_erased")

        # Nothing changed: one invoice, one payment, nothing sent; and no number was taken.
        self.assertEqual([i["id"] for i in self.customer_invoices(customer)], [first["id"]])
        self.assertEqual(len(self.customer_payments(customer)), 1)
        self.assertEqual(self.list_all("/v1/invoices", {"customer": erased["id"]}), [])
        self.assertEqual(self.notifications(customer=customer["id"], template="invoice_issued"), [])
        after = self.issued(customer, [box])
        self.assertEqual(number_of(after), number_of(first) + 1)


class IdempotencyTest(OneOffCase):

    def test_a_retry_with_the_same_key_returns_the_same_invoice_and_charges_once(self):
        customer = self.make.customer(card="pm_card_visa")
        key = str(uuid.uuid4())
        lines = [{"description": "Replacement box", "unit_amount": 1500, "quantity": 2}]
        first = self.issue(customer, lines, idempotency_key=key)
        self.assertStatus(first, 201)
        self.assertEqual(first.json()["status"], "paid")
        again = self.issue(customer, lines, idempotency_key=key)
        self.assertStatus(again, 201)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(again.json(), first.json())
        self.assertEqual([i["id"] for i in self.customer_invoices(customer)], [first.json()["id"]])
        [pay] = self.customer_payments(customer)
        self.assertEqual((pay["status"], pay["invoice"]), ("succeeded", first.json()["id"]))
        # The same key with another body is refused and changes nothing.
        self.assertProblem(self.issue(customer, [{"description": "Other", "unit_amount": 100}], idempotency_key=key),
                           422, "idempotency_key_reused")
        self.assertEqual(len(self.customer_invoices(customer)), 1)
        self.assertEqual(len(self.customer_payments(customer)), 1)
        # A new key is a new invoice.
        other = self.issued(customer, lines, idempotency_key=str(uuid.uuid4()))
        self.assertNotEqual(other["id"], first.json()["id"])
        self.assertEqual(len(self.customer_payments(customer)), 2)

    def test_a_retried_sent_invoice_is_sent_once(self):
        customer = self.make.customer(card="pm_card_visa")
        key = str(uuid.uuid4())
        due = format_time(self.now() + 10 * DAY)
        kw = dict(collection_method="send_invoice", due_date=due)
        lines = [{"description": "Gift boxes", "unit_amount": 4500}]
        first = self.issue(customer, lines, idempotency_key=key, **kw)
        self.assertStatus(first, 201)
        again = self.issue(customer, lines, idempotency_key=key, **kw)
        self.assertStatus(again, 201)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json()["id"], first.json()["id"])
        self.assertEqual(len(self.customer_invoices(customer)), 1)
        self.assertEqual(len(self.notifications(customer=customer["id"], template="invoice_issued")), 1)
        self.assertEqual(self.customer_payments(customer), [])


class RefundAndCreditTest(OneOffCase):

    def test_a_paid_one_off_invoice_is_refunded_never_credited(self):
        customer = self.make.customer(card="pm_card_visa")
        inv = self.issued(customer, [{"description": "Replacement box", "unit_amount": 1500, "quantity": 2}])
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 3000))
        [charge] = self.payments(inv)

        # No next invoice to take a credit off.
        self.assertProblem(self.api.post("/v1/credit-notes", {"invoice": inv["id"], "amount": 500, "reason": "other"}),
                           409, "no_next_invoice")
        self.assertEqual(self.list_all("/v1/credit-notes", {"invoice": inv["id"]}), [])
        self.assertEqual(self.invoice(inv)["amount_credited"], 0)

        # A refund gives the money back, its credit note of no subscription.
        r = self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 1000, "reason": "requested_by_customer"})
        self.assertStatus(r, 201)
        refund = r.json()
        self.assertEqual((refund["status"], refund["invoice"], refund["payment"], refund["customer"], refund["amount"],
                          refund["currency"]),
                         ("succeeded", inv["id"], charge["id"], customer["id"], 1000, "usd"))
        r = self.api.get(f"/v1/credit-notes/{refund['credit_note']}")
        self.assertStatus(r, 200)
        note = r.json()
        self.assertEqual((note["type"], note["refund"], note["invoice"], note["customer"], note["subscription"],
                          note["amount"]), ("refund", refund["id"], inv["id"], customer["id"], None, 1000))
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_refunded"], inv["amount_credited"]),
                         ("paid", 3000, 1000, 0))
        # The rest, then nothing is left.
        rest = self.api.post("/v1/refunds", {"invoice": inv["id"]})
        self.assertStatus(rest, 201)
        self.assertEqual((rest.json()["amount"], rest.json()["status"]), (2000, "succeeded"))
        self.assertEqual(self.invoice(inv)["amount_refunded"], 3000)
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": inv["id"]}), 409, "nothing_to_refund")
