"""Coupons and promotion codes over HTTP: configuration, immutable terms, case-insensitive
codes, redemption at subscription creation and later, the refusals (409 coupon_exhausted,
coupon_expired, coupon_not_applicable) and exact redemption counts under concurrency."""
from datetime import timedelta

from recur_api import Api, ApiTestCase, format_time, now, round_half_up, unique
from test_concurrency import race


class CouponTestCase(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.monthly = cls.make.plan(amount=3000)
        cls.premium_tier = cls.make.tier()["id"]
        cls.premium = cls.make.plan(amount=5000, tier=cls.premium_tier)
        cls.euro = cls.make.plan(amount=3000, currency="eur")
        cls.direct = cls.make

    def customer(self):
        return self.direct.customer()

    def coupon(self, **fields):
        body = {"name": unique("Coupon")}
        body.update(fields)
        r = self.api.post("/v1/coupons", body)
        self.assertStatus(r, 201)
        return r.json()

    def code(self, coupon, **fields):
        body = {"code": unique("CODE").replace("-", ""), "coupon": coupon["id"]}
        body.update(fields)
        r = self.api.post("/v1/promotion-codes", body)
        self.assertStatus(r, 201)
        return r.json()

    def subscribe(self, plan=None, customer=None, **fields):
        body = {"customer": (customer or self.customer())["id"], "plan": (plan or self.monthly)["id"]}
        body.update(fields)
        return self.api.post("/v1/subscriptions", body)

    def get_coupon(self, coupon):
        r = self.api.get(f"/v1/coupons/{coupon['id']}")
        self.assertStatus(r, 200)
        return r.json()


class CouponConfigurationTest(CouponTestCase):

    def test_a_coupon_is_readable_listed_and_only_its_name_metadata_and_active_change(self):
        c = self.coupon(percent_off=20, duration="repeating", duration_in_cycles=3, max_redemptions=10,
                        applies_to_plans=[self.monthly["id"]], metadata={"campaign": "spring"})
        self.assertEqual((c["object"], c["percent_off"], c["amount_off"], c["currency"]), ("coupon", 20, None, None))
        self.assertEqual((c["duration"], c["duration_in_cycles"], c["times_redeemed"], c["active"]),
                         ("repeating", 3, 0, True))
        self.assertEqual(self.get_coupon(c), c)
        listed = {x["id"] for x in self.list_all("/v1/coupons", {"active": "true"})}
        self.assertIn(c["id"], listed)

        r = self.api.patch(f"/v1/coupons/{c['id']}", {"name": "Renamed", "active": False, "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["name"], r.json()["active"], r.json()["version"]), ("Renamed", False, 2))
        # Terms are fixed (Prism would refuse the field itself: ask the server directly).
        r = self.raw.patch(f"/v1/coupons/{c['id']}", {"percent_off": 50, "max_redemptions": 99, "version": 2})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"percent_off": "immutable", "max_redemptions": "immutable"})
        stale = self.api.patch(f"/v1/coupons/{c['id']}", {"active": True, "version": 1})
        self.assertProblem(stale, 409, "version_conflict")

    def test_terms_are_one_of_percent_or_amount_with_currency_and_cycles_only_when_repeating(self):
        r = self.api.post("/v1/coupons", {"name": "Both", "percent_off": 10, "amount_off": 500, "currency": "usd",
                                          "duration": "repeating"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"amount_off": "conflicting", "duration_in_cycles": "required"})
        r = self.api.post("/v1/coupons", {"name": "None", "duration": "once", "duration_in_cycles": 2})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"percent_off": "required", "duration_in_cycles": "not_allowed"})
        r = self.api.post("/v1/coupons", {"name": "No currency", "amount_off": 500})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"currency": "required"})
        r = self.api.post("/v1/coupons", {"name": "Late", "percent_off": 5,
                                          "redeem_by": format_time(now() - timedelta(days=1))})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"redeem_by": "in_the_past"})
        r = self.api.post("/v1/coupons", {"name": "Ghost plan", "percent_off": 5,
                                          "applies_to_plans": ["plan_00000000000000000000000000"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"applies_to_plans[0]": "not_found"})

    def test_promotion_codes_are_unique_in_any_case_and_filtered_by_code_and_coupon(self):
        c = self.coupon(percent_off=10)
        text = unique("Spring").replace("-", "_")
        p = self.code(c, code=text, max_redemptions=5)
        self.assertEqual((p["object"], p["code"], p["coupon"], p["times_redeemed"]),
                         ("promotion_code", text, c["id"], 0))
        r = self.api.post("/v1/promotion-codes", {"code": text.upper(), "coupon": c["id"]})
        self.assertProblem(r, 409, "promotion_code_taken")
        found = self.list_all("/v1/promotion-codes", {"code": text.lower()})
        self.assertEqual([x["id"] for x in found], [p["id"]])
        self.assertEqual([x["id"] for x in self.list_all("/v1/promotion-codes", {"coupon": c["id"]})], [p["id"]])
        got = self.api.get(f"/v1/promotion-codes/{p['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), p)
        r = self.api.post("/v1/promotion-codes", {"code": "NOPE1", "coupon": "coupon_00000000000000000000000000"})
        self.assertProblem(r, 422, "coupon_not_found")
        self.assertProblem(self.api.get("/v1/coupons/coupon_00000000000000000000000000"), 404, "coupon_not_found")

    def test_coupons_are_catalog_write_to_configure_and_catalog_read_to_see(self):
        r = Api("analyst").post("/v1/coupons", {"name": "x", "percent_off": 5})
        self.assertProblem(r, 403, "permission_denied")
        c = self.coupon(percent_off=5)
        self.assertStatus(Api("support").get(f"/v1/coupons/{c['id']}"), 200)
        self.assertStatus(Api("inventory").get("/v1/promotion-codes"), 200)


class RedemptionTest(CouponTestCase):

    def test_a_promotion_code_in_any_case_discounts_the_first_period_once_and_counts(self):
        c = self.coupon(percent_off=15)
        p = self.code(c)
        r = self.subscribe(promotion_code=p["code"].lower())
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertEqual(sub["current_period_amount"], 3000 - round_half_up(3000 * 15, 100))
        self.assertIsNone(sub["discount"], "a once coupon is used up by the first billed period")
        upcoming = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 3}).json()["data"]
        self.assertEqual([x["amount"] for x in upcoming], [2550, 3000, 3000])
        self.assertEqual(self.get_coupon(c)["times_redeemed"], 1)
        self.assertEqual(self.api.get(f"/v1/promotion-codes/{p['id']}").json()["times_redeemed"], 1)
        # The first invoice names where its discount came from as an object, never "type:id".
        [inv] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        self.assertEqual((inv["discount"], inv["discount_source"]),
                         (450, {"type": "promotion_code", "id": p["id"]}))

    def test_a_forever_amount_off_shows_on_the_subscription_and_every_upcoming_period(self):
        c = self.coupon(amount_off=500, currency="usd", duration="forever")
        sub = self.subscribe(coupon=c["id"]).json()
        d = sub["discount"]
        self.assertEqual((d["amount_off"], d["currency"], d["cycles_remaining"], d["coupon"], d["source"]),
                         (500, "usd", None, c["id"], {"type": "coupon", "id": c["id"]}))
        self.assertIsNone(d["percent_off"], "an amount off has no percentage, not 0")
        upcoming = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 4}).json()["data"]
        self.assertEqual([x["amount"] for x in upcoming], [2500] * 4)

    def test_refusals_are_409_with_the_rule_that_failed_and_count_nothing(self):
        once = self.coupon(percent_off=10, max_redemptions=1)
        self.assertStatus(self.subscribe(coupon=once["id"]), 201)
        self.assertProblem(self.subscribe(coupon=once["id"]), 409, "coupon_exhausted")

        premium_only = self.coupon(percent_off=10, applies_to_tiers=[self.premium_tier])
        self.assertProblem(self.subscribe(coupon=premium_only["id"]), 409, "coupon_not_applicable")
        self.assertStatus(self.subscribe(plan=self.premium, coupon=premium_only["id"]), 201)

        dollars = self.coupon(amount_off=500, currency="usd")
        self.assertProblem(self.subscribe(plan=self.euro, coupon=dollars["id"]), 409, "coupon_not_applicable")

        welcome = self.coupon(percent_off=50, first_subscription_only=True)
        ada = self.customer()
        self.assertStatus(self.subscribe(customer=ada, coupon=welcome["id"]), 201)
        self.assertProblem(self.subscribe(customer=ada, coupon=welcome["id"]), 409, "coupon_not_applicable")

        per_customer = self.coupon(percent_off=10, max_redemptions_per_customer=1)
        bob = self.customer()
        self.assertStatus(self.subscribe(customer=bob, coupon=per_customer["id"]), 201)
        self.assertProblem(self.subscribe(customer=bob, coupon=per_customer["id"]), 409, "coupon_exhausted")

        retired = self.coupon(percent_off=10)
        self.assertStatus(self.api.patch(f"/v1/coupons/{retired['id']}", {"active": False, "version": 1}), 200)
        self.assertProblem(self.subscribe(coupon=retired["id"]), 409, "coupon_expired")
        paused_code = self.code(self.coupon(percent_off=10))
        self.assertStatus(self.api.patch(f"/v1/promotion-codes/{paused_code['id']}", {"active": False, "version": 1}),
                          200)
        self.assertProblem(self.subscribe(promotion_code=paused_code["code"]), 409, "coupon_expired")

        counts = [self.get_coupon(c)["times_redeemed"] for c in (once, premium_only, dollars, welcome, per_customer,
                                                                 retired)]
        self.assertEqual(counts, [1, 1, 0, 1, 1, 0])

    def test_unknown_or_both_references_are_422_and_create_nothing(self):
        customer = self.customer()
        r = self.subscribe(customer=customer, coupon="coupon_00000000000000000000000000")
        self.assertProblem(r, 422, "coupon_not_found")
        r = self.subscribe(customer=customer, promotion_code="NO-SUCH-CODE")
        self.assertProblem(r, 422, "promotion_code_not_found")
        c = self.coupon(percent_off=5)
        r = self.subscribe(customer=customer, coupon=c["id"], promotion_code=self.code(c)["code"])
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"promotion_code": "conflicting"})
        self.assertEqual(self.list_all("/v1/subscriptions", {"customer": customer["id"]}), [])
        self.assertEqual(self.get_coupon(c)["times_redeemed"], 0)

    def test_a_discount_applied_later_replaces_the_current_one_from_the_next_period(self):
        first = self.coupon(percent_off=10, duration="forever")
        sub = self.subscribe(coupon=first["id"]).json()
        self.assertEqual(sub["current_period_amount"], 2700)
        half = self.coupon(percent_off=50, duration="repeating", duration_in_cycles=2)
        p = self.code(half)
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/discount", {"promotion_code": p["code"],
                                                                       "version": sub["version"]})
        self.assertStatus(r, 200)
        after = r.json()
        self.assertEqual(after["current_period_amount"], 2700, "no proration: this period keeps what it was billed")
        self.assertEqual((after["discount"]["coupon"], after["discount"]["promotion_code"],
                          after["discount"]["cycles_remaining"]), (half["id"], p["id"], 2))
        upcoming = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 4}).json()["data"]
        self.assertEqual([x["amount"] for x in upcoming], [2700, 1500, 1500, 3000])
        history = self.list_all(f"/v1/subscriptions/{sub['id']}/history")
        applied = [e for e in history if e["type"] == "subscription.discount_applied"]
        self.assertEqual(applied[0]["details"]["replaced"], {"type": "coupon", "id": first["id"]})
        self.assertEqual(applied[0]["details"]["source"], {"type": "promotion_code", "id": p["id"]})
        self.assertEqual(after["discount"]["source"], {"type": "promotion_code", "id": p["id"]})
        self.assertEqual((after["discount"]["percent_off"], after["discount"]["amount_off"],
                          after["discount"]["currency"]), (50, None, None))

        r = self.api.post(f"/v1/subscriptions/{sub['id']}/discount", {})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"coupon": "required"})
        self.assertStatus(self.api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at": "now", "reason": "moving"}),
                          200)
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/discount", {"coupon": half["id"]})
        self.assertProblem(r, 409, "subscription_canceled")
        self.assertEqual(self.get_coupon(half)["times_redeemed"], 1)

    def test_a_removed_discount_stops_at_the_next_period_and_a_second_removal_is_409(self):
        forever = self.coupon(percent_off=10, duration="forever")
        sub = self.subscribe(coupon=forever["id"]).json()
        stale = self.api.delete(f"/v1/subscriptions/{sub['id']}/discount", headers={"If-Match": '"99"'})
        self.assertProblem(stale, 409, "version_conflict")
        r = self.api.delete(f"/v1/subscriptions/{sub['id']}/discount", headers={"If-Match": f'"{sub["version"]}"'})
        self.assertStatus(r, 200)
        after = r.json()
        self.assertIsNone(after["discount"])
        self.assertEqual(after["current_period_amount"], 2700, "this period keeps what it was billed")
        upcoming = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 2}).json()["data"]
        self.assertEqual([x["amount"] for x in upcoming], [2700, 3000])
        self.assertProblem(self.api.delete(f"/v1/subscriptions/{sub['id']}/discount"), 409, "no_discount")
        history = self.list_all(f"/v1/subscriptions/{sub['id']}/history")
        [removed] = [e for e in history if e["type"] == "subscription.discount_removed"]
        self.assertEqual(removed["details"]["source"], {"type": "coupon", "id": forever["id"]})
        self.assertEqual(self.get_coupon(forever)["times_redeemed"], 1, "the redemption stays counted")

    def test_concurrent_subscriptions_redeem_a_limited_coupon_exactly_up_to_its_limit(self):
        c = self.coupon(percent_off=10, max_redemptions=3)
        customers = [self.customer() for _ in range(8)]
        clients = [Api("admin") for _ in range(8)]
        responses = race(lambda i: clients[i].post("/v1/subscriptions", {"customer": customers[i]["id"],
                                                                         "plan": self.monthly["id"],
                                                                         "coupon": c["id"]}), n=8)
        statuses = sorted(r.status_code for r in responses)
        self.assertEqual(statuses, [201] * 3 + [409] * 5, [r.text for r in responses])
        for r in responses:
            if r.status_code == 409:
                self.assertEqual(r.json()["code"], "coupon_exhausted")
        self.assertEqual(self.get_coupon(c)["times_redeemed"], 3)
