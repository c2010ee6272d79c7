"""Products, plans and customers: create, read, list, filter, and versioned updates."""
import uuid

from recur_api import ApiTestCase, parse_time


class ProductsTest(ApiTestCase):

    def test_create_returns_201_with_id_object_version_and_etag(self):
        sku = f"BEANS-{uuid.uuid4().hex[:8]}"
        r = self.api.post("/v1/products", {"name": "Beans", "sku": sku, "description": "Whole beans",
                                           "amount": 1299, "currency": "USD",
                                           "metadata": {"origin": "ET"}})
        self.assertStatus(r, 201)
        p = r.json()
        self.assertTrue(p["id"].startswith("prod_"), p)
        self.assertEqual(p["object"], "product")
        self.assertEqual(p["version"], 1)
        self.assertEqual(self.etag_version(r), 1)
        self.assertEqual((p["amount"], p["currency"]), (1299, "usd"))  # stored lower case
        self.assertNotIn("price", p)  # money is flat: amount and currency, no nested object
        self.assertEqual(p["metadata"], {"origin": "ET"})
        self.assertTrue(p["active"])
        parse_time(p["created"])
        got = self.api.get(f"/v1/products/{p['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), p)
        self.assertEqual([x["id"] for x in self.api.get("/v1/products", params={"sku": sku}).json()["data"]], [p["id"]])

    def test_patch_with_current_version_applies_and_bumps_version(self):
        p = self.make.product(amount=1000, currency="usd")
        r = self.api.patch(f"/v1/products/{p['id']}", {"name": "Renamed", "amount": None, "currency": None,
                                                       "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["name"], "Renamed")
        self.assertEqual((r.json()["amount"], r.json()["currency"]), (None, None))
        self.assertEqual(r.json()["version"], 2)
        self.assertEqual(self.etag_version(r), 2)
        self.assertEqual(r.json()["sku"], p["sku"])

    def test_a_product_without_a_price_has_amount_and_currency_null(self):
        p = self.make.product()
        self.assertEqual((p["amount"], p["currency"]), (None, None))
        r = self.api.patch(f"/v1/products/{p['id']}", {"amount": 750, "currency": "eur", "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["amount"], r.json()["currency"]), (750, "eur"))

    def test_an_amount_without_a_currency_or_the_reverse_is_422_naming_the_missing_field(self):
        sku = f"HALF-{uuid.uuid4().hex[:8]}"
        r = self.api.post("/v1/products", {"name": "Half a price", "sku": sku, "amount": 500})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"currency": "required"})
        r = self.api.post("/v1/products", {"name": "Half a price", "sku": sku, "currency": "usd"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"amount": "required"})
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku}).json()["data"], [])
        p = self.make.product(amount=1000, currency="usd")
        r = self.api.patch(f"/v1/products/{p['id']}", {"amount": 1200, "version": 1})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"currency": "required"})
        r = self.api.patch(f"/v1/products/{p['id']}", {"amount": None, "currency": "usd", "version": 1})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"amount": "null_not_allowed"})
        r = self.raw.post("/v1/products", {"name": "Nested", "sku": sku, "price": {"amount": 5, "currency": "usd"}})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"price": "unknown_field"})
        self.assertEqual(self.api.get(f"/v1/products/{p['id']}").json()["version"], 1)

    def test_a_sku_may_not_look_like_a_product_id(self):
        r = self.raw.post("/v1/products", {"name": "Confusing", "sku": f"prod_{uuid.uuid4().hex[:8]}"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"sku": "invalid_value"})

    def test_patch_with_stale_version_is_409_version_conflict_and_changes_nothing(self):
        p = self.make.product()
        self.assertStatus(self.api.patch(f"/v1/products/{p['id']}", {"name": "First", "version": 1}), 200)
        r = self.api.patch(f"/v1/products/{p['id']}", {"name": "Lost update", "version": 1})
        self.assertProblem(r, 409, "version_conflict")
        now = self.api.get(f"/v1/products/{p['id']}").json()
        self.assertEqual((now["name"], now["version"]), ("First", 2))

    def test_if_match_carries_the_version(self):
        p = self.make.product()
        r = self.api.patch(f"/v1/products/{p['id']}", {"active": False}, headers={"If-Match": '"1"'})
        self.assertStatus(r, 200)
        self.assertFalse(r.json()["active"])
        stale = self.api.patch(f"/v1/products/{p['id']}", {"active": True}, headers={"If-Match": '"1"'})
        self.assertProblem(stale, 409, "version_conflict")
        weak = self.api.patch(f"/v1/products/{p['id']}", {"active": True}, headers={"If-Match": 'W/"2"'})
        self.assertStatus(weak, 200)
        self.assertEqual(weak.json()["version"], 3)

    def test_if_match_and_body_version_must_agree(self):
        p = self.make.product()
        r = self.api.patch(f"/v1/products/{p['id']}", {"name": "X", "version": 1}, headers={"If-Match": '"2"'})
        self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(self.api.get(f"/v1/products/{p['id']}").json()["version"], 1)

    def test_archived_products_are_filtered_by_active(self):
        p = self.make.product()
        self.assertStatus(self.api.patch(f"/v1/products/{p['id']}", {"active": False, "version": 1}), 200)
        inactive = {x["id"] for x in self.list_all("/v1/products", {"active": "false"})}
        active = {x["id"] for x in self.list_all("/v1/products", {"active": "true"})}
        self.assertIn(p["id"], inactive)
        self.assertNotIn(p["id"], active)


class PlansTest(ApiTestCase):

    def test_create_plan_with_items_trial_and_tier(self):
        product = self.make.product()
        gold = self.make.tier()["id"]
        r = self.api.post("/v1/plans", {"name": "Coffee box", "amount": 2500, "currency": "eur", "interval": "week",
                                        "interval_count": 2, "trial_days": 14, "tier": gold,
                                        "items": [{"product": product["id"], "quantity": 3}]})
        self.assertStatus(r, 201)
        plan = r.json()
        self.assertTrue(plan["id"].startswith("plan_"))
        self.assertEqual(plan["object"], "plan")
        self.assertEqual((plan["amount"], plan["currency"], plan["interval"], plan["interval_count"],
                          plan["trial_days"], plan["tier"]), (2500, "eur", "week", 2, 14, gold))
        self.assertEqual(plan["items"], [{"product": product["id"], "quantity": 3}])
        self.assertEqual(plan["renewal_reminder_days"], 3)  # the default
        self.assertEqual(self.api.get(f"/v1/plans/{plan['id']}").json(), plan)
        self.assertIn(plan["id"], {p["id"] for p in self.list_all("/v1/plans", {"tier": gold})})

    def test_no_trial_and_no_reminder_are_null_never_0(self):
        product = self.make.product()
        r = self.api.post("/v1/plans", {"name": "No trial", "amount": 100, "currency": "usd", "interval": "month",
                                        "renewal_reminder_days": None,
                                        "items": [{"product": product["sku"], "quantity": 1}]})
        self.assertStatus(r, 201)
        plan = r.json()
        self.assertEqual((plan["trial_days"], plan["renewal_reminder_days"]), (None, None))
        # A body names a product by its id or its SKU; the plan keeps the id.
        self.assertEqual(plan["items"], [{"product": product["id"], "quantity": 1}])
        r = self.raw.post("/v1/plans", {"name": "Zero", "amount": 100, "currency": "usd", "interval": "month",
                                        "trial_days": 0, "renewal_reminder_days": 0})  # outside the schema too
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"),
                               {"trial_days": "out_of_range", "renewal_reminder_days": "out_of_range"})
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"trial_days": 7, "renewal_reminder_days": 2, "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["trial_days"], r.json()["renewal_reminder_days"]), (7, 2))
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"trial_days": None, "version": 2})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["trial_days"], r.json()["renewal_reminder_days"]), (None, 2))
        r = self.api.post("/v1/plans", {"name": "Unknown item", "amount": 100, "currency": "usd", "interval": "month",
                                        "items": [{"product": "NO-SUCH-SKU", "quantity": 1}]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"items[0].product": "not_found"})

    def test_patch_plan_name_with_if_match_and_stale_version_409(self):
        plan = self.make.plan()
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"name": "Renamed box"}, headers={"If-Match": '"1"'})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["name"], r.json()["version"]), ("Renamed box", 2))
        self.assertProblem(self.api.patch(f"/v1/plans/{plan['id']}", {"name": "Again", "version": 1}), 409,
                           "version_conflict")

    def test_price_and_cadence_of_a_plan_are_immutable(self):
        plan = self.make.plan()
        r = self.raw.patch(f"/v1/plans/{plan['id']}", {"amount": 1, "interval": "day", "version": 1})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"amount": "immutable", "interval": "immutable"})
        self.assertEqual(self.api.get(f"/v1/plans/{plan['id']}").json()["amount"], plan["amount"])

    def test_archived_plan_takes_no_new_subscriptions(self):
        plan = self.make.plan()
        self.assertStatus(self.api.patch(f"/v1/plans/{plan['id']}", {"active": False, "version": 1}), 200)
        customer = self.make.customer()
        r = self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": plan["id"]})
        doc = self.assertProblem(r, 422, "plan_inactive")
        self.assertFieldErrors(doc, {"plan": "inactive"})
        self.assertEqual(self.api.get("/v1/subscriptions", params={"customer": customer["id"]}).json()["data"], [])


class CustomersTest(ApiTestCase):

    def test_create_get_and_filter_by_email(self):
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        r = self.api.post("/v1/customers", {"email": email, "name": "Grace Hopper", "phone": "+14155550123",
                                            "shipping_address": {"line1": "1 Navy Way", "line2": "Apt 2",
                                                                 "city": "Arlington", "postal_code": "22201",
                                                                 "state": "VA", "country": "us"},
                                            "metadata": {"crm": "42"}})
        self.assertStatus(r, 201)
        c = r.json()
        self.assertTrue(c["id"].startswith("cus_"))
        self.assertEqual(c["object"], "customer")
        self.assertEqual(c["shipping_address"]["country"], "US")
        self.assertEqual(c["phone"], "+14155550123")
        self.assertEqual(self.api.get(f"/v1/customers/{c['id']}").json(), c)
        found = self.api.get("/v1/customers", params={"email": email}).json()["data"]
        self.assertEqual([x["id"] for x in found], [c["id"]])

    def test_patch_customer_with_version_then_stale_version_409(self):
        c = self.make.customer(card=None, phone="+442071838750")
        r = self.api.patch(f"/v1/customers/{c['id']}", {"name": "Renamed", "phone": None, "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["name"], r.json()["phone"], r.json()["version"]), ("Renamed", None, 2))
        self.assertEqual(r.json()["email"], c["email"])
        r = self.api.patch(f"/v1/customers/{c['id']}", {"name": "Lost", "version": 1})
        self.assertProblem(r, 409, "version_conflict")
        self.assertEqual(self.api.get(f"/v1/customers/{c['id']}").json()["name"], "Renamed")

    def test_patch_customer_email_moves_the_email_filter(self):
        c = self.make.customer(card=None)
        new_email = f"{uuid.uuid4().hex[:10]}@example.org"
        self.assertStatus(self.api.patch(f"/v1/customers/{c['id']}", {"email": new_email},
                                         headers={"If-Match": '"1"'}), 200)
        self.assertEqual([x["id"] for x in self.api.get("/v1/customers", params={"email": new_email}).json()["data"]],
                         [c["id"]])
        self.assertEqual(self.api.get("/v1/customers", params={"email": c["email"]}).json()["data"], [])
