"""GET /v1/invoices/upcoming: the next invoice before it exists, equal to the invoice the
lifecycle then issues, across coupons, tax, pending prorations and cadence changes."""
from __future__ import annotations

from datetime import timedelta

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import parse_time, unique

# What an upcoming invoice promises: everything about the money and what it is for. Not
# what only exists once it is issued (id, number, status, version, attempts, payments).
PROMISED = ("object", "subscription", "customer", "billing_reason", "currency", "subtotal", "discount",
            "discount_source", "tax", "total", "lines", "period", "created")


def promised(invoice: dict) -> dict:
    return {k: invoice[k] for k in PROMISED if k in invoice}


class UpcomingInvoiceTest(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Tax where these customers live (the server is this module's own: nothing else sees it).
        tax = cls.api.get("/v1/settings/tax")
        r = cls.api.patch("/v1/settings/tax", {"rates": {"DE": 1900, "US": 825}},
                          headers={"If-Match": tax.headers["ETag"]})
        assert r.status_code == 200, r.text

    def upcoming(self, **params):
        r = self.api.get("/v1/invoices/upcoming", params=params)
        self.assertStatus(r, 200)
        return r.json()

    def issued_after(self, sub: dict, at) -> dict:
        """Moves the clock to `at` (the renewal runs) and returns the newest invoice of `sub`."""
        before = {i["id"] for i in self.invoices(sub)}
        self.advance(at)
        new = [i for i in self.invoices(sub) if i["id"] not in before]
        self.assertEqual(len(new), 1, new)
        return new[0]

    def customer_in(self, country: str) -> dict:
        """A customer whose boxes go to `country`, paying by card (so dunning never ends the
        subscription before the previewed renewal)."""
        customer = self.make.customer(shipping_address={"line1": "1 Main St", "city": "Springfield",
                                                        "postal_code": "12345", "country": country})
        self.attach(customer, "pm_card_visa")
        return customer

    def test_the_renewal_with_a_coupon_tax_and_a_proration_is_the_preview(self):
        monthly = self.make.plan(amount=3000)
        premium = self.make.plan(amount=4500)
        coupon = self.api.post("/v1/coupons", {"name": unique("Twenty"), "percent_off": 20, "duration": "repeating",
                                               "duration_in_cycles": 3})
        self.assertStatus(coupon, 201)
        customer = self.customer_in("DE")
        sub = self.make.subscription(plan=monthly, customer=customer, coupon=coupon.json()["id"])
        # Half-way through, an upgrade with a proration waiting for the next invoice.
        start = parse_time(sub["created"])
        self.advance(start + timedelta(days=10))
        changed = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan",
                                {"plan": premium["id"], "proration": "create_prorations",
                                 "version": self.subscription(sub)["version"]})
        self.assertStatus(changed, 200)

        preview = self.upcoming(subscription=sub["id"])
        self.assertEqual((preview["object"], preview["id"], preview["number"], preview["status"]),
                         ("invoice", None, None, "draft"))
        self.assertEqual(preview["billing_reason"], "subscription_cycle")
        self.assertGreater(preview["tax"], 0, "Germany's 19 % applies")
        self.assertGreater(preview["discount"], 0, "the coupon's second cycle")
        self.assertEqual(preview["discount_source"], {"type": "coupon", "id": coupon.json()["id"]})
        self.assertEqual(set(preview["period"]), {"start", "end"})
        self.assertGreaterEqual(len(preview["lines"]), 2, "the plan line and the proration")
        # Reading it changed nothing: the same answer again.
        self.assertEqual(self.upcoming(subscription=sub["id"]), preview)

        issued = self.issued_after(sub, parse_time(preview["created"]) + timedelta(hours=1))
        self.assertEqual(promised(issued), promised(preview))

    def test_a_cadence_change_at_period_end_is_in_the_preview(self):
        monthly = self.make.plan(amount=2000)
        yearly = self.make.plan(amount=20000, interval="year")
        sub = self.make.subscription(plan=monthly, customer=self.customer_in("US"))
        changed = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan",
                                {"plan": yearly["id"], "effective": "period_end", "version": sub["version"]})
        self.assertStatus(changed, 200)
        preview = self.upcoming(subscription=sub["id"])
        self.assertEqual(preview["subtotal"], 20000, "the yearly plan's price")
        self.assertEqual(preview["tax"], 1650, "8.25 % of 200.00")
        issued = self.issued_after(sub, parse_time(preview["created"]) + timedelta(hours=1))
        self.assertEqual(promised(issued), promised(preview))

    def test_a_scheduled_start_is_previewed_and_by_customer_the_soonest(self):
        plan = self.make.plan(amount=1500)
        customer = self.customer_in("FR")  # no rate configured: no tax
        now = self.now()
        later = self.make.subscription(plan=plan, customer=customer, start_date=(now + timedelta(days=20)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"))
        sooner = self.make.subscription(plan=plan, customer=customer, start_date=(now + timedelta(days=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(later["status"], "scheduled")
        preview = self.upcoming(subscription=later["id"])
        self.assertEqual((preview["billing_reason"], preview["total"], preview["tax"]), ("subscription_create", 1500, 0))
        by_customer = self.upcoming(customer=customer["id"])
        self.assertEqual(by_customer["subscription"], sooner["id"])
        issued = self.issued_after(sooner, parse_time(by_customer["created"]) + timedelta(minutes=1))
        self.assertEqual(promised(issued), promised(by_customer))

    def test_nothing_left_to_bill_and_bad_queries_are_refused(self):
        sub = self.make.subscription(plan=self.make.plan(amount=1000))
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at": "period_end", "reason": "moving"})
        self.assertStatus(r, 200)
        self.assertProblem(self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]}), 404,
                           "no_upcoming_invoice")
        self.assertProblem(self.api.get("/v1/invoices/upcoming", params={"subscription": "sub_nonexistent"}), 404,
                           "subscription_not_found")
        self.assertProblem(self.api.get("/v1/invoices/upcoming", params={"customer": "cus_nonexistent"}), 404,
                           "customer_not_found")
        doc = self.assertProblem(self.raw.get("/v1/invoices/upcoming"), 422, "validation_failed")
        self.assertFieldErrors(doc, {"subscription": "required"})
        doc = self.assertProblem(self.raw.get("/v1/invoices/upcoming", params={"subscription": sub["id"],
                                                                                "customer": sub["customer"]}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"customer": "not_allowed"})


class ChangePlanPreviewTest(TestModeCase):
    """POST /v1/subscriptions/{id}/change-plan/preview shows the invoice the change produces."""

    def customer(self) -> dict:
        customer = self.make.customer()
        self.attach(customer, "pm_card_visa")
        return customer

    def preview_then_change(self, sub: dict, body: dict) -> dict:
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan/preview", body)
        self.assertStatus(r, 200)
        preview = r.json()
        self.assertEqual(preview["object"], "plan_change_preview")
        # A preview changes nothing: the subscription and its invoices are as they were.
        self.assertEqual(self.subscription(sub)["version"], sub["version"])
        self.assertEqual(len(self.invoices(sub)), 1)
        changed = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan", dict(body, version=sub["version"]))
        self.assertStatus(changed, 200)
        return preview

    def test_a_cadence_change_now_previews_the_invoice_it_issues_at_once(self):
        sub = self.make.subscription(plan=self.make.plan(amount=3000), customer=self.customer())
        yearly = self.make.plan(amount=30000, interval="year")
        preview = self.preview_then_change(self.subscription(sub), {"plan": yearly["id"]})
        invoice = preview["invoice"]
        self.assertEqual((invoice["id"], invoice["status"], invoice["billing_reason"]),
                         (None, "draft", "subscription_update"))
        issued = [i for i in self.invoices(sub) if i["billing_reason"] == "subscription_update"]
        self.assertEqual(len(issued), 1)
        self.assertEqual(promised(issued[0]), promised(invoice))

    def test_an_upgrade_previews_the_next_invoice_with_its_prorations(self):
        sub = self.make.subscription(plan=self.make.plan(amount=3000), customer=self.customer())
        self.advance(self.now() + timedelta(days=9))
        premium = self.make.plan(amount=6000)
        preview = self.preview_then_change(self.subscription(sub), {"plan": premium["id"]})
        invoice = preview["invoice"]
        self.assertEqual(invoice["billing_reason"], "subscription_cycle")
        self.assertTrue(any(line["proration"] for line in invoice["lines"]), invoice["lines"])
        before = {i["id"] for i in self.invoices(sub)}
        self.advance(parse_time(invoice["created"]) + timedelta(hours=1))
        [issued] = [i for i in self.invoices(sub) if i["id"] not in before]
        self.assertEqual(promised(issued), promised(invoice))

    def test_always_invoice_issues_the_previewed_invoice_at_once_and_the_request_charges_it(self):
        sub = self.make.subscription(plan=self.make.plan(amount=3000), customer=self.customer())
        self.advance(self.now() + timedelta(days=9))
        premium = self.make.plan(amount=6000)
        preview = self.preview_then_change(self.subscription(sub), {"plan": premium["id"],
                                                                   "proration": "always_invoice"})
        invoice = preview["invoice"]
        self.assertEqual((invoice["status"], invoice["billing_reason"]), ("draft", "subscription_update"))
        self.assertTrue(all(line["proration"] for line in invoice["lines"]), invoice["lines"])
        issued = [i for i in self.invoices(sub) if i["billing_reason"] == "subscription_update"]
        self.assertEqual(len(issued), 1)
        self.assertEqual(promised(issued[0]), promised(invoice))
        # Charged in the change's request (docs/billing-rules.md, "Plan changes"), once.
        self.assertEqual(issued[0]["status"], "paid")
        self.assertEqual([p["status"] for p in self.payments(issued[0])], ["succeeded"])
        changed = [e for e in self.list_all(f"/v1/subscriptions/{sub['id']}/history")
                   if e["type"] == "subscription.plan_changed"]
        self.assertEqual(changed[0]["details"]["invoice"], issued[0]["id"])
        # Nothing waits for the next invoice: the renewal owes the new plan alone.
        upcoming = self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]})
        self.assertStatus(upcoming, 200)
        self.assertEqual([line["proration"] for line in upcoming.json()["lines"]], [False])
        # The billing run has nothing more to charge.
        self.advance(self.now() + timedelta(minutes=5))
        self.assertEqual(len(self.payments(issued[0])), 1)

    def test_a_refused_upgrade_charge_keeps_the_change_and_default_incomplete_charges_nothing(self):
        customer = self.customer()
        sub = self.make.subscription(plan=self.make.plan(amount=3000), customer=customer)
        self.advance(self.now() + timedelta(days=9))
        self.attach(customer, "pm_card_chargeDeclined", default=True)
        premium = self.make.plan(amount=6000)
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan",
                          {"plan": premium["id"], "proration": "always_invoice", "payment_behavior": "allow_incomplete"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["plan"], r.json()["status"]), (premium["id"], "past_due"))
        [issued] = [i for i in self.invoices(sub) if i["billing_reason"] == "subscription_update"]
        self.assertEqual(issued["status"], "open")
        self.assertEqual([p["status"] for p in self.payments(issued)], ["failed"])

        other = self.make.subscription(plan=self.make.plan(amount=3000), customer=self.customer())
        r = self.api.post(f"/v1/subscriptions/{other['id']}/change-plan",
                          {"plan": premium["id"], "proration": "always_invoice", "payment_behavior": "default_incomplete"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "active")
        [waiting] = [i for i in self.invoices(other) if i["billing_reason"] == "subscription_update"]
        self.assertEqual((waiting["status"], self.payments(waiting)), ("open", []))
        # error_if_incomplete is not offered for a change: refused (outside the contract, so
        # sent direct), and nothing changes.
        before = self.subscription(other)
        doc = self.assertProblem(self.raw.post(f"/v1/subscriptions/{other['id']}/change-plan",
                                               {"plan": self.make.plan(amount=9000)["id"],
                                                "payment_behavior": "error_if_incomplete"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"payment_behavior": "invalid_value"})
        self.assertEqual(self.subscription(other)["version"], before["version"])
