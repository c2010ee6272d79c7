"""Billing end to end: payment methods, invoices, payments, dunning, billing runs and the
test clock, through Prism like every other suite.

The suite's own server (started by run.sh) runs on the real clock and is not in test mode,
so the time-driven flows run against a second server this module starts in test mode
(`recur serve --test-mode --clock-start ...`), with its own database and its own Prism
proxy in front, and stops in tearDownModule (see billing_server.py, shared with
test_refunds.py).
"""
from __future__ import annotations

import uuid
from datetime import timedelta

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import CLOCK_START, TestModeApi, TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import Api, ApiTestCase, add_months_to_anchor, format_time, parse_time

DAY = timedelta(days=1)
UNKNOWN_INVOICE = "in_00000000000000000000000000"


# ------------------------------------------------------------------ the suite's server

class PaymentMethodsTest(ApiTestCase):
    """Attaching, listing and detaching cards on the suite's server (any mode)."""

    def methods(self, customer):
        r = self.api.get(f"/v1/customers/{customer['id']}/payment-methods")
        self.assertStatus(r, 200)
        page = r.json()
        self.assertEqual((page["object"], page["url"], page["has_more"]),
                         ("list", f"/v1/customers/{customer['id']}/payment-methods", False))
        return page["data"]

    def attach(self, customer, token, **fields):
        r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", dict(token=token, **fields))
        self.assertStatus(r, 201)
        return r.json()

    def test_first_method_becomes_the_default_and_later_ones_do_not(self):
        customer = self.make.customer(card=None)
        self.assertIsNone(customer["default_payment_method"])
        visa = self.attach(customer, "pm_card_visa")
        self.assertTrue(visa["id"].startswith("pmt_"), visa)
        self.assertEqual((visa["object"], visa["customer"], visa["gateway"], visa["token"], visa["default"]),
                         ("payment_method", customer["id"], "sandbox", "pm_card_visa", True))
        self.assertEqual((visa["card"]["brand"], visa["card"]["last4"]), ("visa", "4242"))
        parse_time(visa["created"])
        self.assertEqual((visa["updated"], visa["version"], visa["metadata"]), (visa["created"], 1, {}))
        c = self.api.get(f"/v1/customers/{customer['id']}").json()
        self.assertEqual((c["default_payment_method"], c["version"]), (visa["id"], 2))

        amex = self.attach(customer, "pm_card_amex", metadata={"label": "work card"})
        self.assertFalse(amex["default"])
        self.assertEqual(amex["metadata"], {"label": "work card"})
        bad = self.raw.post(f"/v1/customers/{customer['id']}/payment-methods",
                            {"token": "pm_card_visa", "metadata": {"label": 7}})
        self.assertFieldErrors(self.assertProblem(bad, 422, "validation_failed"), {"metadata.label": "invalid_metadata"})
        listed = self.methods(customer)
        self.assertEqual(listed[0]["metadata"], {"label": "work card"})
        self.assertEqual([m["id"] for m in listed], [amex["id"], visa["id"]])  # newest first
        self.assertEqual([m["default"] for m in listed], [False, True])
        self.assertEqual(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"], visa["id"])

        master = self.attach(customer, "pm_card_mastercard", default=True)
        self.assertTrue(master["default"])
        self.assertEqual({m["id"]: m["default"] for m in self.methods(customer)},
                         {master["id"]: True, amex["id"]: False, visa["id"]: False})
        self.assertEqual(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"],
                         master["id"])

    def test_paypal_wallets_and_venmo_show_their_email_and_pay_like_cards(self):
        customer = self.make.customer(card=None)
        paypal = self.attach(customer, "pm_paypal")
        self.assertEqual((paypal["type"], paypal["card"], paypal["paypal"], paypal["venmo"], paypal["default"]),
                         ("paypal", None, {"email": "buyer@example.com"}, None, True))
        venmo = self.attach(customer, "pm_venmo")
        self.assertEqual((venmo["type"], venmo["card"], venmo["paypal"], venmo["venmo"]),
                         ("venmo", None, None, {"email": "venmo-buyer@example.com"}))
        visa = self.attach(customer, "pm_card_visa")
        self.assertEqual((visa["type"], visa["paypal"], visa["venmo"]), ("card", None, None))
        self.assertEqual({m["id"]: m["type"] for m in self.methods(customer)},
                         {paypal["id"]: "paypal", venmo["id"]: "venmo", visa["id"]: "card"})
        # The default wallet pays the first invoice at signup, as a card would.
        plan = self.make.plan(amount=1900)
        sub = self.make.subscription(plan=plan, customer=customer)
        self.assertEqual(sub["status"], "active")
        [inv] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        payments = self.list_all("/v1/payments", {"invoice": inv["id"]})
        self.assertEqual([(p["status"], p["payment_method"]) for p in payments], [("succeeded", paypal["id"])])
        # A wallet the gateway declines leaves the signup incomplete.
        declining = self.make.customer(card=None)
        self.attach(declining, "pm_paypal_chargeDeclined")
        refused = self.make.subscription(plan=plan, customer=declining)
        self.assertEqual(refused["status"], "incomplete")

    def test_unknown_token_or_card_number_is_refused_and_nothing_is_attached(self):
        customer = self.make.customer(card=None)
        r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_bogus"})
        doc = self.assertProblem(r, 422, "payment_method_refused")
        self.assertFieldErrors(doc, {"token": "unknown_payment_method"})
        # A card number never reaches the gateway, and the answer never quotes it.
        for pan in ("4242424242424242", "4242 4242 4242 4242"):
            r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": pan})
            doc = self.assertProblem(r, 422, "validation_failed")
            self.assertFieldErrors(doc, {"token": "card_number_not_accepted"})
            self.assertNotIn("4242", r.text)
        # A gateway the spec names but this deployment lacks, and one the spec does not name
        # (Prism would refuse that itself, so it goes direct).
        for api, gateway in ((self.api, "paypal"), (self.raw, "adyen")):
            r = api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_visa", "gateway": gateway})
            self.assertFieldErrors(self.assertProblem(r, 422, "unknown_gateway"), {"gateway": "unknown_gateway"})
        doc = self.assertProblem(self.raw.post(f"/v1/customers/{customer['id']}/payment-methods", {}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"token": "required"})
        self.assertEqual(self.methods(customer), [])
        self.assertIsNone(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"])

    def test_methods_are_a_cursor_paged_list_filtered_by_created_and_metadata(self):
        customer = self.make.customer(card=None)
        attached = [self.attach(customer, token, metadata={"label": label})
                    for token, label in (("pm_card_visa", "home"), ("pm_card_amex", "work"),
                                         ("pm_card_mastercard", "home"))]
        newest_first = [m["id"] for m in reversed(attached)]
        path = f"/v1/customers/{customer['id']}/payment-methods"

        def page(params):
            r = self.api.get(path, params=params)
            self.assertStatus(r, 200)
            self.assertEqual((r.json()["object"], r.json()["url"]), ("list", path))
            return [m["id"] for m in r.json()["data"]], r.json()["has_more"]

        self.assertEqual(page({"limit": 2}), (newest_first[:2], True))
        self.assertEqual(page({"limit": 2, "starting_after": newest_first[1]}), (newest_first[2:], False))
        self.assertEqual(page({"limit": 2, "ending_before": newest_first[2]}), (newest_first[:2], False))
        self.assertEqual(page({"metadata[label]": "home"}), ([newest_first[0], newest_first[2]], False))
        self.assertEqual(page({"created[gte]": attached[0]["created"], "metadata[label]": "work"}),
                         ([attached[1]["id"]], False))
        self.assertEqual(page({"created[lt]": attached[0]["created"]}), ([], False))
        doc = self.assertProblem(self.raw.get(path, params={"starting_after": "pmt_00000000000000000000000000"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"starting_after": "not_found"})
        doc = self.assertProblem(self.raw.get(path, params={"brand": "visa"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"brand": "unknown_parameter"})

    def test_unknown_customer_is_404(self):
        missing = "cus_00000000000000000000000000"
        self.assertProblem(self.api.post(f"/v1/customers/{missing}/payment-methods", {"token": "pm_card_visa"}), 404,
                           "customer_not_found")
        self.assertProblem(self.api.get(f"/v1/customers/{missing}/payment-methods"), 404, "customer_not_found")

    def test_detaching_the_default_clears_it_and_a_second_detach_is_404(self):
        customer = self.make.customer(card=None)
        visa = self.attach(customer, "pm_card_visa")
        r = self.api.delete(f"/v1/customers/{customer['id']}/payment-methods/{visa['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"id": visa["id"], "object": "payment_method", "deleted": True})
        self.assertEqual(self.methods(customer), [])
        self.assertIsNone(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"])
        self.assertProblem(self.api.delete(f"/v1/customers/{customer['id']}/payment-methods/{visa['id']}"), 404,
                           "payment_method_not_found")
        # Another customer's method is not this customer's to detach.
        other = self.make.customer(card=None)
        theirs = self.attach(other, "pm_card_visa")
        self.assertProblem(self.api.delete(f"/v1/customers/{customer['id']}/payment-methods/{theirs['id']}"), 404,
                           "payment_method_not_found")
        self.assertEqual([m["id"] for m in self.methods(other)], [theirs["id"]])

    def test_patch_default_payment_method_must_be_an_attached_method_of_the_customer(self):
        customer = self.make.customer(card=None)
        visa = self.attach(customer, "pm_card_visa")
        amex = self.attach(customer, "pm_card_amex")
        version = self.api.get(f"/v1/customers/{customer['id']}").json()["version"]
        r = self.api.patch(f"/v1/customers/{customer['id']}", {"default_payment_method": amex["id"], "version": version})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["default_payment_method"], r.json()["version"]), (amex["id"], version + 1))
        other = self.attach(self.make.customer(card=None), "pm_card_visa")
        for bad in (other["id"], "pmt_00000000000000000000000000"):
            r = self.api.patch(f"/v1/customers/{customer['id']}", {"default_payment_method": bad, "version": version + 1})
            doc = self.assertProblem(r, 422, "payment_method_not_found")
            self.assertFieldErrors(doc, {"default_payment_method": "not_found"})
        self.assertEqual(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"], amex["id"])
        self.assertNotEqual(visa["id"], amex["id"])

    def test_roles(self):
        customer = self.make.customer(card=None)
        self.assertProblem(Api("analyst").post(f"/v1/customers/{customer['id']}/payment-methods",
                                               {"token": "pm_card_visa"}), 403, "permission_denied")
        self.assertStatus(Api("analyst").get(f"/v1/customers/{customer['id']}/payment-methods"), 200)
        self.assertProblem(Api("inventory").get(f"/v1/customers/{customer['id']}/payment-methods"), 403,
                           "permission_denied")
        self.assertStatus(Api("support").post(f"/v1/customers/{customer['id']}/payment-methods",
                                              {"token": "pm_card_visa"}), 201)


class BillingOnTheSuiteServerTest(ApiTestCase):
    """Reads and permissions on the suite's server, which is not in test mode."""

    def test_a_new_subscription_has_an_open_numbered_invoice(self):
        plan = self.make.plan(amount=2500)
        sub = self.make.subscription(plan=plan, customer=self.make.customer(card=None))
        self.assertEqual(sub["status"], "incomplete")  # nothing could pay the first invoice
        invoices = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        self.assertEqual(len(invoices), 1, invoices)
        inv = invoices[0]
        self.assertRegex(inv["number"], r"^INV-\d{6}$")
        by_number = self.list_all("/v1/invoices", {"number": inv["number"]})
        self.assertEqual([i["id"] for i in by_number], [inv["id"]])
        self.assertEqual((inv["customer"], inv["billing_reason"], inv["total"], inv["currency"]),
                         (sub["customer"], "subscription_create", 2500, "usd"))
        self.assertIn(inv["status"], ("open",))  # no payment method: it cannot be paid
        got = self.api.get(f"/v1/invoices/{inv['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(self.etag_version(got), got.json()["version"])

    def test_test_clock_is_404_when_not_in_test_mode(self):
        self.assertProblem(self.api.get("/v1/test-clock"), 404, "route_not_found")
        self.assertProblem(self.api.post("/v1/test-clock/advance", {"to": "2030-01-01T00:00:00Z"}), 404,
                           "route_not_found")

    def test_roles_without_billing_read_get_403(self):
        for path in ("/v1/invoices", "/v1/payments", "/v1/billing/runs", f"/v1/invoices/{UNKNOWN_INVOICE}"):
            self.assertProblem(Api("inventory").get(path), 403, "permission_denied")
        for role in ("analyst", "support"):
            self.assertStatus(Api(role).get("/v1/invoices", params={"limit": 1}), 200)
            self.assertStatus(Api(role).get("/v1/settings/dunning"), 200)
        self.assertProblem(Api("analyst").post(f"/v1/invoices/{UNKNOWN_INVOICE}/pay"), 403, "permission_denied")
        self.assertProblem(Api("support").post(f"/v1/invoices/{UNKNOWN_INVOICE}/void"), 403, "permission_denied")
        self.assertProblem(Api("support").patch("/v1/settings/dunning", {"final_action": "pause", "version": 1}), 403,
                           "permission_denied")
        self.assertProblem(Api("inventory").get("/v1/settings/dunning"), 403, "permission_denied")

    def test_unknown_ids_are_404_and_unknown_filters_422(self):
        self.assertProblem(self.api.get(f"/v1/invoices/{UNKNOWN_INVOICE}"), 404, "invoice_not_found")
        self.assertProblem(self.api.post(f"/v1/invoices/{UNKNOWN_INVOICE}/pay"), 404, "invoice_not_found")
        self.assertProblem(self.api.post(f"/v1/invoices/{UNKNOWN_INVOICE}/void"), 404, "invoice_not_found")
        self.assertProblem(self.api.get("/v1/payments/pay_00000000000000000000000000"), 404, "payment_not_found")
        for path, status in (("/v1/invoices", "late"), ("/v1/payments", "refunded")):
            doc = self.assertProblem(self.raw.get(path, params={"status": status}), 422, "validation_failed")
            self.assertFieldErrors(doc, {"status": "invalid_value"})
        doc = self.assertProblem(self.raw.get("/v1/invoices", params={"subscriptoin": "sub_x"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"subscriptoin": "unknown_parameter"})


# ------------------------------------------------------------------ the test-mode server

class TestClockTest(TestModeCase):

    def test_the_clock_starts_where_told_and_only_moves_forward(self):
        now = self.now()
        self.assertGreaterEqual(now, parse_time(CLOCK_START))
        ran = self.advance(now)  # to now: runs what is due, moves nothing
        self.assertGreaterEqual(ran["runs"], 1)
        self.assertEqual(self.now(), now)
        later = now + timedelta(hours=1)
        self.advance(later)
        self.assertEqual(self.now(), later)
        doc = self.assertProblem(self.api.post("/v1/test-clock/advance", {"to": format_time(now)}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"to": "in_the_past"})
        doc = self.assertProblem(self.raw.post("/v1/test-clock/advance", {}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"to": "required"})
        self.assertEqual(self.now(), later)

    def test_the_test_clock_needs_test_clock_write(self):
        support = TestModeApi("support")
        self.assertProblem(support.get("/v1/test-clock"), 403, "permission_denied")
        self.assertProblem(support.post("/v1/test-clock/advance", {"to": "2099-01-01T00:00:00Z"}), 403,
                           "permission_denied")


class InvoicingTest(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=3000)

    def test_subscribing_charges_the_first_period_at_once_and_the_clock_collects_every_month(self):
        customer, visa = self.customer_with("pm_card_visa")
        now = self.now()
        sub = self.make.subscription(plan=self.plan, customer=customer, quantity=2)
        # The first invoice is charged inside the signup request (payment_behavior's default,
        # allow_incomplete): the answer is already active and the invoice paid.
        self.assertEqual(sub["status"], "active")
        [first] = self.invoices(sub)
        self.assertTrue(first["id"].startswith("in_"), first)
        self.assertRegex(first["number"], r"^INV-\d{6}$")
        self.assertEqual((first["object"], first["status"], first["billing_reason"], first["customer"]),
                         ("invoice", "paid", "subscription_create", customer["id"]))
        period = sub["current_period"]
        self.assertEqual(first["period"], period)
        self.assertEqual(first["lines"], [{"description": f"{self.plan['name']} × 2", "amount": 6000, "quantity": 2,
                                           "period": period, "proration": False}])
        self.assertIsNone(first["discount_source"])
        self.assertEqual((first["subtotal"], first["discount"], first["tax"], first["total"], first["amount_due"],
                          first["amount_paid"], first["currency"], first["attempt_count"]),
                         (6000, 0, 0, 6000, 0, 6000, "usd", 1))
        self.assertEqual((parse_time(first["paid_at"]), first["next_attempt_at"], first["first_failed_at"]),
                         (now, None, None))
        [pay] = self.payments(first)
        self.assertTrue(pay["id"].startswith("pay_"), pay)
        self.assertEqual((pay["status"], pay["attempt"], pay["amount"], pay["currency"], pay["customer"],
                          pay["gateway"], pay["payment_method"], pay["idempotency_key"], pay["failure_code"],
                          pay["gateway_failure_code"]),
                         ("succeeded", 1, 6000, "usd", customer["id"], "sandbox", visa["id"],
                          f"{first['id']}:attempt:1", None, None))
        self.assertTrue(pay["gateway_reference"])
        # Every object carries the envelope: a payment was written pending, then settled once.
        self.assertEqual((pay["metadata"], pay["version"]), ({}, 2))
        self.assertGreaterEqual(parse_time(pay["updated"]), parse_time(pay["created"]))
        self.assertNotIn("charge_id", pay)
        got = self.api.get(f"/v1/payments/{pay['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), pay)

        # A month and a day later the renewal is invoiced and paid when it falls due.
        anchor = parse_time(sub["billing_cycle_anchor"])
        renewal = add_months_to_anchor(anchor, 1)
        self.assertEqual(parse_time(sub["current_period"]["end"]), renewal)
        self.advance(renewal + DAY)
        second, first_again = self.invoices(sub)  # newest first
        self.assertEqual(first_again["id"], first["id"])
        self.assertEqual((second["status"], second["billing_reason"], second["total"], second["amount_paid"]),
                         ("paid", "subscription_cycle", 6000, 6000))
        self.assertEqual((parse_time(second["period"]["start"]), parse_time(second["period"]["end"])),
                         (renewal, add_months_to_anchor(anchor, 2)))
        self.assertEqual(parse_time(second["paid_at"]), renewal)  # charged at the renewal, not at the clock's stop
        self.assertGreater(second["number"], first["number"])
        self.assertEqual([(p["status"], p["attempt"]) for p in self.payments(second)], [("succeeded", 1)])
        renewed = self.subscription(sub)
        self.assertEqual((renewed["status"], renewed["billed_periods"]), ("active", 2))
        self.assertEqual(parse_time(renewed["current_period"]["start"]), renewal)

        # The filters agree with each other.
        paid = {i["id"] for i in self.list_all("/v1/invoices", {"customer": customer["id"], "status": "paid"})}
        self.assertEqual(paid, {first["id"], second["id"]})
        self.assertEqual(self.list_all("/v1/invoices", {"customer": customer["id"], "status": "open"}), [])
        succeeded = self.list_all("/v1/payments", {"customer": customer["id"], "status": "succeeded"})
        self.assertEqual({p["invoice"] for p in succeeded}, {first["id"], second["id"]})
        self.assertEqual(self.list_all("/v1/payments", {"customer": customer["id"], "status": "failed"}), [])

        # The runs that did it are in the history, the renewal's at its own time.
        runs = self.list_all("/v1/billing/runs")
        at_renewal = [r for r in runs if parse_time(r["as_of"]) == renewal and r["trigger"] == "test_clock"]
        self.assertTrue(at_renewal, runs)
        self.assertGreaterEqual(at_renewal[0]["subscriptions_advanced"], 1)
        self.assertGreaterEqual(at_renewal[0]["payments"]["succeeded"], 1)

    def test_pay_an_open_invoice_now(self):
        customer, _ = self.customer_with("pm_card_mastercard")
        sub = self.make.subscription(plan=self.plan, customer=customer, payment_behavior="default_incomplete")
        self.assertEqual(sub["status"], "incomplete")
        [inv] = self.invoices(sub)
        self.assertEqual(inv["status"], "open")
        r = self.api.post(f"/v1/invoices/{inv['id']}/pay")
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["amount_paid"], r.json()["attempt_count"]), ("paid", 3000, 1))
        self.assertEqual(self.etag_version(r), r.json()["version"])
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/pay"), 409, "invoice_not_open")
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/void"), 409, "invoice_not_voidable")
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded"])
        self.assertEqual(self.subscription(sub)["status"], "active")  # paid: no longer incomplete

    def test_void_an_open_invoice(self):
        customer = self.make.customer(card=None)  # no payment method: nothing can pay it
        sub = self.make.subscription(plan=self.plan, customer=customer)
        self.assertEqual(sub["status"], "incomplete")
        [inv] = self.invoices(sub)
        r = self.api.post(f"/v1/invoices/{inv['id']}/void", idempotency_key=str(uuid.uuid4()))
        self.assertStatus(r, 200)
        voided = r.json()
        self.assertEqual((voided["status"], voided["amount_due"], voided["next_attempt_at"], voided["version"]),
                         ("void", 0, None, inv["version"] + 1))
        self.assertEqual(self.invoice(inv), voided)
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/void"), 409, "invoice_not_voidable")
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/pay"), 409, "invoice_not_open")
        # A void invoice is never charged: the refused attempt at signup stays the only one.
        [refused] = self.payments(inv)
        self.assertEqual((refused["status"], refused["failure_code"]), ("failed", "no_payment_method"))
        self.advance(self.now() + timedelta(hours=1))
        self.assertEqual([p["id"] for p in self.payments(inv)], [refused["id"]])
        self.assertIn(inv["id"], {i["id"] for i in self.list_all("/v1/invoices", {"customer": customer["id"],
                                                                                  "status": "void"})})

    def test_canceling_now_before_the_first_charge_voids_the_invoice_and_nothing_is_charged(self):
        customer, _ = self.customer_with("pm_card_visa")
        sub = self.make.subscription(plan=self.plan, customer=customer, payment_behavior="default_incomplete")
        [inv] = self.invoices(sub)
        self.assertEqual((inv["status"], inv["collection_ended"]), ("open", False))
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at": "now", "reason": "other"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "canceled")
        voided = self.invoice(inv)
        self.assertEqual((voided["status"], voided["amount_due"], voided["next_attempt_at"]), ("void", 0, None))
        # The billing runs that would have charged it (now, and at the next renewal) charge nothing.
        self.advance(self.now() + timedelta(hours=1))
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)
        self.assertEqual(self.payments(inv), [])
        self.assertEqual([i["id"] for i in self.invoices(sub)], [inv["id"]])
        self.assertEqual(self.invoice(inv)["status"], "void")

    def test_lists_page_with_starting_after(self):
        customer, _ = self.customer_with("pm_card_visa")
        for _ in range(3):
            self.make.subscription(plan=self.plan, customer=customer)
        first = self.api.get("/v1/invoices", params={"customer": customer["id"], "limit": 2}).json()
        self.assertEqual((first["url"], len(first["data"]), first["has_more"]), ("/v1/invoices", 2, True))
        rest = self.api.get("/v1/invoices", params={"customer": customer["id"], "limit": 2,
                                                    "starting_after": first["data"][-1]["id"]}).json()
        self.assertEqual((len(rest["data"]), rest["has_more"]), (1, False))
        ids = [i["id"] for i in first["data"] + rest["data"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        runs = self.api.get("/v1/billing/runs", params={"limit": 1}).json()
        self.assertEqual((runs["url"], len(runs["data"])), ("/v1/billing/runs", 1))


class DunningTest(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2000)

    def tearDown(self):
        self.set_dunning(retry_days=[1, 3, 5, 7], final_action="cancel")

    def test_settings_read_and_update_with_versions(self):
        r = self.api.get("/v1/settings/dunning")
        self.assertStatus(r, 200)
        settings = r.json()
        self.assertEqual(settings["object"], "dunning_settings")
        self.assertEqual(self.etag_version(r), settings["version"])
        v = settings["version"]
        r = self.api.patch("/v1/settings/dunning", {"retry_days": [2, 4, 8], "final_action": "pause", "version": v})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["retry_days"], r.json()["final_action"], r.json()["version"]),
                         ([2, 4, 8], "pause", v + 1))
        self.assertEqual(self.etag_version(r), v + 1)
        self.assertEqual(parse_time(r.json()["updated"]), self.now())
        # A stale version, by body or If-Match, changes nothing.
        doc = self.assertProblem(self.api.patch("/v1/settings/dunning", {"final_action": "unpaid", "version": v}),
                                 409, "version_conflict")
        self.assertEqual(doc["current_version"], v + 1)
        self.assertProblem(self.api.patch("/v1/settings/dunning", {"final_action": "unpaid"},
                                          headers={"If-Match": f'"{v}"'}), 409, "version_conflict")
        self.assertProblem(self.api.patch("/v1/settings/dunning", {"final_action": "unpaid"}), 422,
                           "version_required")
        # Bad schedules: not ascending (valid JSON for the contract, refused by the server),
        # out of range, empty.
        doc = self.assertProblem(self.api.patch("/v1/settings/dunning", {"retry_days": [3, 2], "version": v + 1}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"retry_days[1]": "out_of_range"})
        doc = self.assertProblem(self.raw.patch("/v1/settings/dunning", {"retry_days": [0, 61], "version": v + 1}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"retry_days[0]": "out_of_range"})
        doc = self.assertProblem(self.raw.patch("/v1/settings/dunning", {"retry_days": [], "version": v + 1}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"retry_days": "out_of_range"})
        doc = self.assertProblem(self.raw.patch("/v1/settings/dunning", {"final_action": "shrug", "version": v + 1}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"final_action": "invalid_value"})
        now = self.api.get("/v1/settings/dunning").json()
        self.assertEqual((now["retry_days"], now["final_action"], now["version"]), ([2, 4, 8], "pause", v + 1))

    def test_declined_card_goes_past_due_retries_on_schedule_and_a_new_default_pays_at_once(self):
        self.set_dunning(retry_days=[2, 5], final_action="cancel")
        customer, declined, sub, t0 = self.renewing_with("pm_card_chargeDeclined", self.plan)
        self.advance(t0)
        inv = self.invoices(sub)[0]  # the renewal's (newest first)
        self.assertEqual(inv["billing_reason"], "subscription_cycle")
        self.assertEqual((inv["status"], inv["attempt_count"], inv["amount_due"]), ("open", 1, 2000))
        self.assertEqual(parse_time(inv["first_failed_at"]), t0)
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + 2 * DAY)
        self.assertEqual(self.subscription(sub)["status"], "past_due")
        [failed] = self.payments(inv)
        self.assertEqual((failed["status"], failed["attempt"], failed["failure_code"], failed["payment_method"]),
                         ("failed", 1, "card_declined", declined["id"]))
        self.assertEqual(failed["gateway_failure_code"], "card_declined")  # the sandbox's own, Stripe's name
        self.assertTrue(failed["failure_message"])

        # Nothing is retried before its day; the first retry comes on day 2.
        self.advance(t0 + 2 * DAY - timedelta(seconds=1))
        self.assertEqual(len(self.payments(inv)), 1)
        self.advance(t0 + 3 * DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"]), ("open", 2))
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + 5 * DAY)
        retry = self.payments(inv)[0]
        self.assertEqual((retry["attempt"], retry["status"], parse_time(retry["created"])), (2, "failed", t0 + 2 * DAY))
        self.assertEqual(self.subscription(sub)["status"], "past_due")

        # A second card attached without `default` changes nothing yet...
        visa = self.attach(customer, "pm_card_visa")
        self.assertFalse(visa["default"])
        self.assertEqual(self.invoice(inv)["status"], "open")
        # ...making it the default pays the open invoice before the PATCH answers.
        version = self.api.get(f"/v1/customers/{customer['id']}").json()["version"]
        r = self.api.patch(f"/v1/customers/{customer['id']}", {"default_payment_method": visa["id"]},
                           headers={"If-Match": f'"{version}"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["default_payment_method"], visa["id"])
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["amount_due"], inv["attempt_count"],
                          inv["next_attempt_at"]), ("paid", 2000, 0, 3, None))
        self.assertEqual(parse_time(inv["paid_at"]), t0 + 3 * DAY)
        self.assertEqual(self.subscription(sub)["status"], "active")
        paid = self.payments(inv)[0]
        self.assertEqual((paid["attempt"], paid["status"], paid["payment_method"]), (3, "succeeded", visa["id"]))
        # The old schedule is over: no retry on day 5.
        self.advance(t0 + 6 * DAY)
        self.assertEqual([p["attempt"] for p in self.payments(inv)], [3, 2, 1])

    def test_when_the_retries_run_out_the_subscription_is_canceled_for_payment_failed(self):
        self.set_dunning(retry_days=[1], final_action="cancel")
        customer, _, sub, t0 = self.renewing_with("pm_card_chargeDeclinedInsufficientFunds", self.plan)
        self.advance(t0)
        inv = self.invoices(sub)[0]
        self.advance(t0 + DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"], inv["amount_due"]),
                         ("uncollectible", 2, None, 0))
        self.assertEqual([(p["attempt"], p["status"], p["failure_code"]) for p in self.payments(inv)],
                         [(2, "failed", "insufficient_funds"), (1, "failed", "insufficient_funds")])
        ended = self.subscription(sub)
        self.assertEqual(ended["status"], "canceled")
        self.assertEqual(ended["cancellation"]["reason"], "payment_failed")  # a reason only Recur sets
        self.assertEqual(parse_time(ended["ended_at"]), t0 + DAY)
        # The customer's own reasons remain the only ones a request may send.
        other = self.make.subscription(plan=self.plan, customer=self.make.customer())
        doc = self.assertProblem(self.raw.post(f"/v1/subscriptions/{other['id']}/cancel",
                                               {"at": "now", "reason": "payment_failed"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"reason": "invalid_value"})
        # An uncollectible invoice can still be voided.
        r = self.api.post(f"/v1/invoices/{inv['id']}/void")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "void")

    def test_final_action_pause_keeps_the_invoice_open_until_a_new_card_pays_it(self):
        self.set_dunning(retry_days=[1], final_action="pause")
        customer, _, sub, t0 = self.renewing_with("pm_card_chargeCustomerFail", self.plan)
        self.advance(t0)
        inv = self.invoices(sub)[0]
        self.advance(t0 + DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"], inv["amount_due"]),
                         ("open", 2, None, 2000))
        paused = self.subscription(sub)
        self.assertEqual(paused["status"], "paused")
        self.assertIsNone(paused["pause"]["resumes_at"])
        self.attach(customer, "pm_card_visa", default=True)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"], inv["attempt_count"]), ("paid", 2000, 3))


class DeclineAwareDunningTest(TestModeCase):
    """Smart dunning reads the decline (docs/billing-rules.md): the sandbox's Stripe decline
    test ids through Prism."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=2000)

    def setUp(self):
        self.set_dunning(retry_days=[1, 3, 5, 7], final_action="cancel", mode="smart")

    def tearDown(self):
        self.set_dunning(retry_days=[1, 3, 5, 7], final_action="cancel")

    def subscribe(self, token, **customer_fields):
        """A subscription whose renewal is charged to `token`, advanced to that renewal:
        (customer, card, subscription, the renewal's invoice, the renewal's time)."""
        customer, pm, sub, t0 = self.renewing_with(token, self.plan, **customer_fields)
        self.advance(t0)
        inv = self.invoices(sub)[0]
        self.assertEqual(inv["billing_reason"], "subscription_cycle")
        return customer, pm, sub, inv, t0

    def test_settings_have_a_mode(self):
        r = self.api.get("/v1/settings/dunning")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["mode"], "smart")
        fixed = self.set_dunning(mode="fixed")
        self.assertEqual(fixed["mode"], "fixed")
        doc = self.assertProblem(self.raw.patch("/v1/settings/dunning", {"mode": "clever", "version": fixed["version"]}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"mode": "invalid_value"})

    def test_a_hard_decline_stops_retrying_the_card_and_a_new_card_is_charged_at_once(self):
        customer, stolen, sub, inv, t0 = self.subscribe("pm_card_visa_chargeDeclinedStolenCard")
        [failed] = self.payments(inv)
        self.assertEqual((failed["failure_code"], failed["gateway_failure_code"], failed["decline_code"],
                          failed["decline_type"]), ("card_declined", "stolen_card", "stolen_card", "hard"))
        self.assertEqual(inv["hard_declined_payment_method"], stolen["id"])
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + 7 * DAY)  # the window's end
        self.assertEqual(self.subscription(sub)["status"], "past_due")
        # The scheduled days pass without charging the card.
        self.advance(t0 + 5 * DAY)
        self.assertEqual(len(self.payments(inv)), 1)
        # A new default card is charged at once.
        visa = self.attach(customer, "pm_card_visa", default=True)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["amount_paid"]), ("paid", 2000))
        paid = self.payments(inv)[0]
        self.assertEqual((paid["status"], paid["payment_method"], paid["decline_code"], paid["decline_type"]),
                         ("succeeded", visa["id"], None, None))
        self.assertEqual(self.subscription(sub)["status"], "active")

    def test_without_a_new_card_the_final_action_applies_at_the_windows_end(self):
        _, _, sub, inv, t0 = self.subscribe("pm_card_chargeDeclinedExpiredCard")
        self.assertEqual(self.payments(inv)[0]["decline_type"], "hard")
        self.advance(t0 + 7 * DAY - timedelta(seconds=1))
        self.assertEqual(self.invoice(inv)["status"], "open")
        self.advance(t0 + 7 * DAY)
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["next_attempt_at"]), ("uncollectible", None))
        self.assertEqual(len(self.payments(inv)), 1)  # the gateway was not asked again
        self.assertEqual(self.subscription(sub)["status"], "canceled")

    def test_a_soft_decline_follows_the_schedule(self):
        _, _, _, inv, t0 = self.subscribe("pm_card_chargeDeclinedProcessingError")
        self.assertEqual((self.payments(inv)[0]["decline_code"], self.payments(inv)[0]["decline_type"]),
                         ("processing_error", "soft"))
        self.assertIsNone(inv["hard_declined_payment_method"])
        self.assertEqual(parse_time(inv["next_attempt_at"]), t0 + DAY)

    def test_insufficient_funds_is_retried_at_nine_in_the_customers_morning(self):
        from zoneinfo import ZoneInfo
        _, _, _, inv, t0 = self.subscribe("pm_card_chargeDeclinedInsufficientFunds", time_zone="America/New_York")
        self.assertEqual(self.payments(inv)[0]["decline_type"], "soft")
        retry = parse_time(inv["next_attempt_at"])
        local = retry.astimezone(ZoneInfo("America/New_York"))
        self.assertEqual((local.hour, local.minute), (9, 0))
        self.assertGreater(retry, t0)
        self.assertLessEqual(retry.astimezone(ZoneInfo("America/New_York")).date(),
                             (t0 + 7 * DAY).astimezone(ZoneInfo("America/New_York")).date())
        self.advance(retry - timedelta(seconds=1))
        self.assertEqual(len(self.payments(inv)), 1)
        self.advance(retry)
        self.assertEqual(len(self.payments(inv)), 2)

    def test_time_zones_are_iana_names(self):
        customer = self.make.customer(time_zone="Europe/Berlin")
        self.assertEqual(customer["time_zone"], "Europe/Berlin")
        doc = self.assertProblem(self.raw.post("/v1/customers", {"email": "tz@example.com", "name": "Tz",
                                                                  "time_zone": "Mars/Olympus_Mons"}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"time_zone": "invalid_time_zone"})
        r = self.api.patch(f"/v1/customers/{customer['id']}", {"time_zone": None, "version": customer["version"]})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json()["time_zone"])
