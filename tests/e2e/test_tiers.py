"""Tiers with entitlements over HTTP: a tier ranks plans and gives their subscribers a
discount on one-time add-ons and free extras in every box. Plans and coupons name tiers by
id; a plan change between tiers of different ranks is an upgrade or a downgrade; a tier
that plans are on is not deleted."""
from recur_api import Api, ApiTestCase, unique

# Well-formed, never issued: passes Prism, unknown to the server.
UNKNOWN_TIER = "tier_01m89w8zq0a0b0c0d0e0f0g0h0"


class TierTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.make.product(name="Tea sample")

    def tier(self, ranks=(0, 1000), **fields) -> dict:
        return self.make.tier(ranks, **fields)

    def get_tier(self, tier: dict) -> dict:
        r = self.api.get(f"/v1/tiers/{tier['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def tier_ids(self) -> set:
        return {t["id"] for t in self.list_all("/v1/tiers")}

    def change_plan(self, sub: dict, plan: dict) -> dict:
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan", {"plan": plan["id"]})
        self.assertStatus(r, 200)
        return r.json()

    # ------------------------------------------------------------------ the resource

    def test_create_read_list_rename_and_delete_a_tier(self):
        a = self.tier(entitlements={"add_on_discount_percent": 5})
        b = self.tier()
        for t in (a, b):
            self.assertTrue(t["id"].startswith("tier_"), t)
            self.assertEqual((t["object"], t["version"], t["metadata"]), ("tier", 1, {}), t)
            self.assertTrue(0 <= t["rank"] <= 1000, t)
        self.assertEqual(a["entitlements"], {"add_on_discount_percent": 5, "extras": [], "extra_choices": 0})
        self.assertEqual(b["entitlements"], {"add_on_discount_percent": 0, "extras": [], "extra_choices": 0})
        self.assertNotEqual(a["rank"], b["rank"])

        r = self.api.get(f"/v1/tiers/{a['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), a)
        self.assertEqual(self.etag_version(r), 1)
        self.assertLessEqual({a["id"], b["id"]}, self.tier_ids())

        # A PATCH needs the version read; the answer's version is one more.
        path = f"/v1/tiers/{a['id']}"
        name = unique("Renamed")
        self.assertProblem(self.api.patch(path, {"name": name}), 422, "version_required")
        r = self.api.patch(path, {"name": name, "version": a["version"]})
        self.assertStatus(r, 200)
        renamed = r.json()
        self.assertEqual((renamed["name"], renamed["version"]), (name, a["version"] + 1))
        self.assertEqual((renamed["rank"], renamed["entitlements"]), (a["rank"], a["entitlements"]))
        self.assertEqual(self.etag_version(r), renamed["version"])
        doc = self.assertProblem(self.api.patch(path, {"name": unique("Stale"), "version": a["version"]}), 409,
                                 "version_conflict")
        self.assertEqual(doc["current_version"], renamed["version"])
        self.assertEqual(self.get_tier(a), renamed)

        # entitlements replaces the whole object: what is left out takes its default.
        r = self.api.patch(path, {"entitlements": {"extras": [{"product": self.product["sku"], "quantity": 2}]},
                                  "version": renamed["version"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["entitlements"],
                         {"add_on_discount_percent": 0, "extras": [{"product": self.product["id"], "quantity": 2}],
                          "extra_choices": 0})
        a = r.json()

        # A rank another tier has is refused, on a PATCH and on a POST, and changes nothing.
        doc = self.assertProblem(self.api.patch(f"/v1/tiers/{b['id']}", {"rank": a["rank"], "version": b["version"]}),
                                 409, "tier_rank_taken")
        self.assertIn(str(a["rank"]), doc["detail"])
        self.assertEqual(self.get_tier(b), b)
        clash = unique("Clash")
        self.assertProblem(self.api.post("/v1/tiers", {"name": clash, "rank": a["rank"]}), 409, "tier_rank_taken")
        self.assertNotIn(clash, {t["name"] for t in self.list_all("/v1/tiers")})

        # A tier no plan is on is deleted (If-Match, when sent, must be the version); then it is gone.
        stale = self.api.delete(f"/v1/tiers/{b['id']}", headers={"If-Match": f'"{b["version"] + 1}"'})
        self.assertProblem(stale, 409, "version_conflict")
        r = self.api.delete(f"/v1/tiers/{b['id']}", headers={"If-Match": f'"{b["version"]}"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"id": b["id"], "object": "tier", "deleted": True})
        self.assertProblem(self.api.get(f"/v1/tiers/{b['id']}"), 404, "tier_not_found")
        self.assertProblem(self.api.delete(f"/v1/tiers/{b['id']}"), 404, "tier_not_found")
        self.assertNotIn(b["id"], self.tier_ids())
        # Its rank is free again.
        self.tier(ranks=(b["rank"], b["rank"]))

        events = self.api.get("/v1/events", params={"resource": b["id"]})
        self.assertStatus(events, 200)
        self.assertEqual([e["type"] for e in events.json()["data"]], ["tier.deleted", "tier.created"])
        events = self.api.get("/v1/events", params={"resource": a["id"], "type": "tier.updated"})
        self.assertStatus(events, 200)
        self.assertEqual(len(events.json()["data"]), 2)

    def test_invalid_tiers_are_refused_naming_the_field_and_nothing_is_created(self):
        name = unique("Bad")
        cases = {  # past Prism, which checks the ranges itself
            "name": {"rank": 7},
            "rank": {"name": name, "rank": 1001},
            "entitlements.add_on_discount_percent": {"name": name, "rank": 7,
                                                     "entitlements": {"add_on_discount_percent": 101}},
            "entitlements.extras[0].quantity": {"name": name, "rank": 7, "entitlements": {
                "extras": [{"product": self.product["id"], "quantity": 0}]}},
        }
        for field, body in cases.items():
            doc = self.assertProblem(self.raw.post("/v1/tiers", body), 422, "validation_failed")
            self.assertIn(field, {e["field"] for e in doc["errors"]}, doc)
        unknown = {"name": name, "rank": 7, "entitlements": {"extras": [{"product": unique("NO-SUCH-SKU")}]}}
        doc = self.assertProblem(self.raw.post("/v1/tiers", unknown), 422, "validation_failed")
        self.assertFieldErrors(doc, {"entitlements.extras[0].product": "not_found"})
        self.assertNotIn(name, {t["name"] for t in self.list_all("/v1/tiers")})

    def test_reading_tiers_takes_catalog_read_and_writing_catalog_write(self):
        support = Api("support")
        self.assertStatus(support.get("/v1/tiers"), 200)
        r = support.post("/v1/tiers", {"name": unique("Tier"), "rank": 3})
        self.assertProblem(r, 403, "permission_denied")

    # ------------------------------------------------------------------ plans and coupons

    def test_plans_and_coupons_name_tiers_by_id_and_a_tier_in_use_is_not_deleted(self):
        r = self.api.post("/v1/plans", {"name": unique("Plan"), "amount": 2000, "currency": "usd",
                                        "interval": "month", "tier": UNKNOWN_TIER})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"tier": "not_found"})
        r = self.api.post("/v1/coupons", {"name": unique("Coupon"), "percent_off": 10,
                                          "applies_to_tiers": [UNKNOWN_TIER]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"applies_to_tiers[0]": "not_found"})

        tier = self.tier()
        plan = self.make.plan(tier=tier["id"])
        self.assertEqual(plan["tier"], tier["id"])
        self.assertEqual([p["id"] for p in self.list_all("/v1/plans", {"tier": tier["id"]})], [plan["id"]])
        r = self.api.post("/v1/coupons", {"name": unique("Coupon"), "percent_off": 10,
                                          "applies_to_tiers": [tier["id"]]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["applies_to_tiers"], [tier["id"]])

        r = self.api.patch(f"/v1/plans/{plan['id']}", {"tier": UNKNOWN_TIER, "version": plan["version"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"tier": "not_found"})

        # A plan is on it: not deleted.
        self.assertProblem(self.api.delete(f"/v1/tiers/{tier['id']}"), 409, "tier_in_use")
        self.assertEqual(self.get_tier(tier), tier)
        # Off the tier, the plan no longer holds it.
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"tier": None, "version": plan["version"]})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json()["tier"])
        self.assertStatus(self.api.delete(f"/v1/tiers/{tier['id']}"), 200)

    # ------------------------------------------------------------------ entitlements

    def test_a_plan_change_to_a_higher_ranked_tier_is_an_upgrade_and_back_a_downgrade(self):
        low = self.tier(ranks=(0, 499))
        high = self.tier(ranks=(500, 1000))
        basic = self.make.plan(amount=2000, tier=low["id"])
        plus = self.make.plan(amount=3500, tier=high["id"])
        untiered = self.make.plan(amount=2500)
        sub = self.make.subscription(plan=basic)
        self.assertEqual(self.change_plan(sub, plus)["plan"], plus["id"])
        self.change_plan(sub, basic)
        self.change_plan(sub, untiered)
        changes = [e for e in self.list_all(f"/v1/subscriptions/{sub['id']}/history")
                   if e["type"] == "subscription.plan_changed"]
        self.assertEqual(len(changes), 3, changes)
        self.assertEqual(changes[0]["details"].get("direction"), "upgrade", changes[0])
        self.assertEqual(changes[1]["details"].get("direction"), "downgrade", changes[1])
        self.assertNotIn("direction", changes[2]["details"], "a plan on no tier: no direction")

    def test_members_get_the_tiers_discount_on_add_ons(self):
        tier = self.tier(entitlements={"add_on_discount_percent": 10})
        plan = self.make.plan(amount=2400, tier=tier["id"])
        sku = unique("MUG")
        mug = self.make.product(name="Mug", sku=sku, amount=1000, currency="usd", track_inventory=True)
        self.assertStatus(self.api.post(f"/v1/inventory/{sku}/receipts", {"quantity": 5}), 201)
        sub = self.make.subscription(plan=plan)
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/add-ons", {"product": mug["id"], "quantity": 2})
        self.assertStatus(r, 200)
        [added] = r.json()["add_ons"]
        self.assertEqual((added["product"], added["quantity"], added["unit_amount"], added["discount_percent"]),
                         (mug["id"], 2, 1000, 10))
        r = self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]})
        self.assertStatus(r, 200)
        lines = r.json()["lines"]
        self.assertIn(1800, [line["amount"] for line in lines], lines)  # 2 × 1000 less 10 %
        self.assertNotIn(2000, [line["amount"] for line in lines], lines)

    def test_the_tiers_extras_ship_free_in_every_box(self):
        sku = unique("SAMPLE")
        sample = self.make.product(name="Tea sample", sku=sku, track_inventory=True)
        self.assertStatus(self.api.post(f"/v1/inventory/{sku}/receipts", {"quantity": 5}), 201)
        tier = self.tier(entitlements={"extras": [{"product": sku, "quantity": 1}]})
        self.assertEqual(tier["entitlements"]["extras"], [{"product": sample["id"], "quantity": 1}])
        plan = self.make.plan(amount=2400, tier=tier["id"])
        sub = self.make.subscription(plan=plan, quantity=2)
        self.assertEqual(sub["current_period_amount"], 4800, "extras are free")
        boxes = self.list_all("/v1/shipments", {"subscription": sub["id"]})
        first = min(boxes, key=lambda b: b["period_seq"])
        items = {i["product"]: i for i in first["items"]}
        self.assertIn(sample["id"], items, first["items"])
        self.assertEqual((items[sample["id"]]["quantity"], items[sample["id"]]["reserved"]), (2, 2),
                         "each of the delivery's two boxes gets the extra")
        self.assertEqual(items[plan["items"][0]["product"]]["quantity"], plan["items"][0]["quantity"] * 2)
        r = self.api.get(f"/v1/inventory/{sku}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["reserved"], 2)
