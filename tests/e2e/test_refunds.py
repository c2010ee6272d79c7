"""Refunds and credit notes end to end, through Prism like every other suite.

Money only comes back from a paid invoice, and invoices are paid by billing runs, so the
flows run on a test-mode server of this module's own (billing_server.py, shared with
test_billing.py): subscribe with a card, let the clock's billing run collect the first
invoice, then refund or credit it. Reads, permissions and unknown ids also run on the
suite's own server.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeApi, TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import Api, ApiTestCase, add_months_to_anchor, parse_time

UNKNOWN_INVOICE = "in_00000000000000000000000000"
CN_NUMBER = r"^CN-\d{6}$"


class RefundsCase(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=3000)

    def paid_invoice(self, token="pm_card_visa"):
        """A new subscription whose first invoice was charged at signup (or, with a declining
        card, refused: the subscription is then incomplete and the invoice open)."""
        customer, _ = self.customer_with(token)
        sub = self.make.subscription(plan=self.plan, customer=customer)
        [inv] = self.invoices(sub)
        return customer, sub, inv

    def refund(self, body, status=201, **kw):
        r = self.api.post("/v1/refunds", body, **kw)
        self.assertStatus(r, status)
        return r.json()

    def credit(self, body, status=201, **kw):
        r = self.api.post("/v1/credit-notes", body, **kw)
        self.assertStatus(r, status)
        return r.json()

    def credit_note(self, note_id):
        r = self.api.get(f"/v1/credit-notes/{note_id}")
        self.assertStatus(r, 200)
        return r.json()


class RefundTest(RefundsCase):

    def test_partial_refunds_up_to_what_was_paid_each_with_a_credit_note(self):
        customer, sub, inv = self.paid_invoice()
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_refunded"], inv["amount_credited"]),
                         ("paid", 3000, 0, 0))
        [charge] = self.payments(inv)

        # A part of it, with a key: the gateway refunds it and a credit note records it.
        key = str(uuid.uuid4())
        first = self.refund({"invoice": inv["id"], "amount": 1000, "reason": "requested_by_customer"},
                            idempotency_key=key)
        self.assertRegex(first["id"], r"^re_[0-9a-z]{26}$")
        self.assertEqual((first["object"], first["invoice"], first["payment"], first["customer"], first["amount"],
                          first["currency"], first["reason"], first["status"], first["failure_code"]),
                         ("refund", inv["id"], charge["id"], customer["id"], 1000, "usd", "requested_by_customer",
                          "succeeded", None))
        self.assertTrue(first["gateway_reference"])
        self.assertEqual((first["gateway"], first["metadata"], first["version"]), ("sandbox", {}, 2))
        self.assertNotIn("gateway_refund_id", first)
        note = self.credit_note(first["credit_note"])
        self.assertRegex(note["number"], CN_NUMBER)
        self.assertEqual((note["object"], note["type"], note["refund"], note["invoice"], note["customer"],
                          note["subscription"], note["amount"], note["currency"], note["reason"], note["memo"]),
                         ("credit_note", "refund", first["id"], inv["id"], customer["id"], sub["id"], 1000, "usd",
                          "requested_by_customer", None))
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_refunded"], inv["amount_credited"]),
                         ("paid", 3000, 1000, 0))

        # The same key replays the first answer; nothing is refunded twice.
        again = self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 1000, "reason": "requested_by_customer"},
                              idempotency_key=key)
        self.assertStatus(again, 201)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json(), first)
        self.assertEqual(self.invoice(inv)["amount_refunded"], 1000)

        # More than the 2000 left is refused, and changes nothing.
        doc = self.assertProblem(self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 2001}), 422,
                                 "amount_too_large")
        self.assertFieldErrors(doc, {"amount": "out_of_range"})
        self.assertEqual(self.invoice(inv)["amount_refunded"], 1000)

        # Without an amount: the rest. Its credit note takes the next number.
        rest = self.refund({"invoice": inv["id"], "reason": "duplicate", "metadata": {"ticket": "T-42"}})
        self.assertEqual((rest["metadata"], rest["gateway"]), ({"ticket": "T-42"}, "sandbox"))
        self.assertEqual(self.api.get(f"/v1/refunds/{rest['id']}").json()["metadata"], {"ticket": "T-42"})
        self.assertEqual((rest["amount"], rest["reason"], rest["status"], rest["payment"]),
                         (2000, "duplicate", "succeeded", charge["id"]))
        rest_note = self.credit_note(rest["credit_note"])
        self.assertEqual((rest_note["type"], rest_note["refund"], rest_note["amount"], rest_note["reason"]),
                         ("refund", rest["id"], 2000, "duplicate"))
        self.assertEqual(int(rest_note["number"][3:]), int(note["number"][3:]) + 1)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_refunded"]), ("paid", 3000, 3000))

        # Nothing is left to give back, by refund or by credit.
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": inv["id"]}), 409, "nothing_to_refund")
        self.assertProblem(self.api.post("/v1/credit-notes", {"invoice": inv["id"], "amount": 1, "reason": "other"}),
                           409, "nothing_to_refund")

        # Reads: one by id, lists newest first by invoice and by customer.
        got = self.api.get(f"/v1/refunds/{first['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), first)
        for params in ({"invoice": inv["id"]}, {"customer": customer["id"]}):
            self.assertEqual([r["id"] for r in self.list_all("/v1/refunds", params)], [rest["id"], first["id"]])
            self.assertEqual([n["id"] for n in self.list_all("/v1/credit-notes", params)],
                             [rest_note["id"], note["id"]])
        r = self.api.get("/v1/refunds", params={"invoice": inv["id"], "limit": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["object"], r.json()["url"], r.json()["has_more"], [x["id"] for x in r.json()["data"]]),
                         ("list", "/v1/refunds", True, [rest["id"]]))
        r = self.api.get("/v1/credit-notes", params={"invoice": inv["id"], "limit": 1, "starting_after": rest_note["id"]})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["url"], r.json()["has_more"], [x["id"] for x in r.json()["data"]]),
                         ("/v1/credit-notes", False, [note["id"]]))

        # Another customer's lists do not show them.
        other, _, other_inv = self.paid_invoice()
        self.assertEqual(self.list_all("/v1/refunds", {"customer": other["id"]}), [])
        self.assertEqual(self.list_all("/v1/credit-notes", {"invoice": other_inv["id"]}), [])

    def test_an_invoice_that_is_not_paid_cannot_be_refunded_or_credited(self):
        _, _, inv = self.paid_invoice("pm_card_chargeDeclined")
        self.assertEqual((inv["status"], inv["attempt_count"], inv["amount_paid"]), ("open", 1, 0))
        for path, body in (("/v1/refunds", {"invoice": inv["id"]}),
                           ("/v1/refunds", {"invoice": inv["id"], "amount": 100}),
                           ("/v1/credit-notes", {"invoice": inv["id"], "amount": 100, "reason": "other"})):
            self.assertProblem(self.api.post(path, body), 409, "invoice_not_paid")
        # Nor once voided.
        self.assertStatus(self.api.post(f"/v1/invoices/{inv['id']}/void"), 200)
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": inv["id"]}), 409, "invoice_not_paid")
        self.assertEqual(self.list_all("/v1/refunds", {"invoice": inv["id"]}), [])
        self.assertEqual(self.list_all("/v1/credit-notes", {"invoice": inv["id"]}), [])
        inv = self.invoice(inv)
        self.assertEqual((inv["amount_refunded"], inv["amount_credited"]), (0, 0))

    def test_unknown_invoice_is_404_and_a_bad_body_422(self):
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": UNKNOWN_INVOICE}), 404, "invoice_not_found")
        self.assertProblem(self.api.post("/v1/credit-notes", {"invoice": UNKNOWN_INVOICE, "amount": 100,
                                                              "reason": "other"}), 404, "invoice_not_found")
        # Bodies Prism would refuse itself go straight to the server.
        for body, errors in (({}, {"invoice": "required"}),
                             ({"invoice": UNKNOWN_INVOICE, "amount": 0}, {"amount": "out_of_range"}),
                             ({"invoice": UNKNOWN_INVOICE, "reason": "order_change"}, {"reason": "invalid_value"}),
                             ({"invoice": UNKNOWN_INVOICE, "colour": "red"}, {"colour": "unknown_field"}),
                             ({"invoice": UNKNOWN_INVOICE, "metadata": {"n": 1}}, {"metadata.n": "invalid_metadata"}),
                             ({"invoice": UNKNOWN_INVOICE, "metadata": "x"}, {"metadata": "invalid_type"})):
            doc = self.assertProblem(self.raw.post("/v1/refunds", body), 422, "validation_failed")
            self.assertFieldErrors(doc, errors)
        for body, errors in (({"invoice": UNKNOWN_INVOICE}, {"amount": "required", "reason": "required"}),
                             ({"invoice": UNKNOWN_INVOICE, "amount": 5, "reason": "requested_by_customer"},
                              {"reason": "invalid_value"}),
                             ({"invoice": UNKNOWN_INVOICE, "amount": 5, "reason": "other", "memo": "x" * 501},
                              {"memo": "invalid_length"}),
                             ({"invoice": UNKNOWN_INVOICE, "amount": 5, "reason": "other",
                               "metadata": {str(i): "v" for i in range(51)}}, {"metadata": "too_many_keys"})):
            doc = self.assertProblem(self.raw.post("/v1/credit-notes", body), 422, "validation_failed")
            self.assertFieldErrors(doc, errors)

    def test_refunds_and_credits_need_billing_write(self):
        _, _, inv = self.paid_invoice()
        for role in ("analyst", "support"):
            caller = TestModeApi(role)
            self.assertProblem(caller.post("/v1/refunds", {"invoice": inv["id"], "amount": 100}), 403,
                               "permission_denied")
            self.assertProblem(caller.post("/v1/credit-notes", {"invoice": inv["id"], "amount": 100,
                                                                "reason": "other"}), 403, "permission_denied")
            self.assertStatus(caller.get("/v1/refunds", params={"invoice": inv["id"]}), 200)
            self.assertStatus(caller.get("/v1/credit-notes", params={"invoice": inv["id"]}), 200)
        inv = self.invoice(inv)
        self.assertEqual((inv["amount_refunded"], inv["amount_credited"]), (0, 0))
        self.assertEqual(self.list_all("/v1/refunds", {"invoice": inv["id"]}), [])


class CreditNoteTest(RefundsCase):

    def test_a_credit_note_comes_off_next_months_invoice(self):
        customer, sub, inv = self.paid_invoice()
        note = self.credit({"invoice": inv["id"], "amount": 700, "reason": "product_unsatisfactory",
                            "memo": "Two bags arrived crushed.", "metadata": {"ticket": "T-700"}})
        self.assertRegex(note["id"], r"^cn_[0-9a-z]{26}$")
        self.assertRegex(note["number"], CN_NUMBER)
        self.assertEqual((note["object"], note["type"], note["refund"], note["invoice"], note["customer"],
                          note["subscription"], note["amount"], note["currency"], note["reason"], note["memo"]),
                         ("credit_note", "credit", None, inv["id"], customer["id"], sub["id"], 700, "usd",
                          "product_unsatisfactory", "Two bags arrived crushed."))
        self.assertEqual((note["metadata"], note["version"], note["updated"]), ({"ticket": "T-700"}, 1, note["created"]))
        self.assertEqual(self.credit_note(note["id"]), note)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_refunded"], inv["amount_credited"]),
                         ("paid", 3000, 0, 700))
        self.assertEqual(self.list_all("/v1/refunds", {"invoice": inv["id"]}), [])  # no money moved
        self.assertEqual([n["id"] for n in self.list_all("/v1/credit-notes", {"customer": customer["id"]})],
                         [note["id"]])
        # What is left to give back is what was paid less the credit.
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 2301}), 422,
                           "amount_too_large")

        # A month on, the renewal's invoice is 700 less, and that is what is charged.
        renewal = add_months_to_anchor(parse_time(sub["billing_cycle_anchor"]), 1)
        self.advance(renewal + timedelta(hours=1))
        second, first = self.invoices(sub)  # newest first
        self.assertEqual(first["id"], inv["id"])
        self.assertEqual((second["billing_reason"], second["status"], second["total"], second["amount_paid"]),
                         ("subscription_cycle", "paid", 2300, 2300))
        self.assertIn(-700, [line["amount"] for line in second["lines"]], second["lines"])
        self.assertEqual(second["amount_credited"], 0)
        self.assertEqual(self.invoice(inv)["amount_credited"], 700)


class RefundsOnTheSuiteServerTest(ApiTestCase):
    """Reads, permissions and unknown ids on the suite's server (not in test mode)."""

    def test_unknown_ids_are_404_and_unknown_filters_422(self):
        self.assertProblem(self.api.get("/v1/refunds/re_00000000000000000000000000"), 404, "refund_not_found")
        self.assertProblem(self.api.get("/v1/credit-notes/cn_00000000000000000000000000"), 404,
                           "credit_note_not_found")
        self.assertProblem(self.api.post("/v1/refunds", {"invoice": UNKNOWN_INVOICE, "amount": 1}), 404,
                           "invoice_not_found")
        for path in ("/v1/refunds", "/v1/credit-notes"):
            doc = self.assertProblem(self.raw.get(path, params={"status": "succeeded"}), 422, "validation_failed")
            self.assertFieldErrors(doc, {"status": "unknown_parameter"})
            r = self.api.get(path, params={"invoice": UNKNOWN_INVOICE})
            self.assertStatus(r, 200)
            self.assertEqual((r.json()["object"], r.json()["url"], r.json()["data"]), ("list", path, []))

    def test_roles(self):
        for path in ("/v1/refunds", "/v1/credit-notes"):
            self.assertProblem(Api("inventory").get(path), 403, "permission_denied")
            for role in ("analyst", "support"):
                self.assertStatus(Api(role).get(path, params={"limit": 1}), 200)
        self.assertProblem(Api("analyst").post("/v1/refunds", {"invoice": UNKNOWN_INVOICE}), 403, "permission_denied")
        self.assertProblem(Api("support").post("/v1/credit-notes", {"invoice": UNKNOWN_INVOICE, "amount": 1,
                                                                    "reason": "other"}), 403, "permission_denied")
