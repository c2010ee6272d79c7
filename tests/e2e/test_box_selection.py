"""Box customization end to end (api/openapi.yaml: Product `tags`, Plan `selection`, Customer
`preferences`, Subscription `choices`, `GET /v1/subscriptions/{id}/boxes` and `PUT
/v1/subscriptions/{id}/boxes/{period_start}/selection`; docs/subscription-boxes.md,
"Choosing what is in the box"): besides its items, every box of a plan with a selection
holds `choose` units of its options, chosen by the customer until the box's cut-off (its
start less `cutoff_days`), else picked by Recur when the box begins, by the customer's
preferences (never an excluded tag) or the first options in order (`fixed`).

The HTTP version of src/app/subscription_boxes_db_test.cc's
ABoxHoldsWhatTheCustomerChoseByTheCutOffElseWhatTheirPreferencesPick. Runs on its own
test-mode server (billing_server.py), so the clock is this module's alone; every test reads
the time from it, works from its own subscription's calendar and only moves it forward.
"""
from __future__ import annotations

import unittest
from datetime import timedelta

import billing_server
from billing_server import TestModeApi, TestModeCase
from recur_api import add_months_to_anchor, format_time, parse_time, unique

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DEFAULT_CUTOFF_DAYS = 3
# Well-formed, never issued: past Prism, unknown to the server.
UNKNOWN_SUBSCRIPTION = "sub_00000000000000000000000000"


def setUpModule():
    billing_server.setUpModule()


def tearDownModule():
    billing_server.tearDownModule()


class BoxCase(TestModeCase):

    # -- fixtures

    def product(self, name: str, tags: list[str], tracked: bool = False, stock: int = 0) -> dict:
        r = self.api.post("/v1/products", {"name": name, "sku": unique(name.upper()), "tags": tags,
                                           "track_inventory": tracked})
        self.assertStatus(r, 201)
        product = r.json()
        self.assertEqual(product["tags"], tags)
        if stock:
            self.assertStatus(self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": stock}), 201)
        return product

    def plan(self, selection: dict | None, base: dict | None = None, amount: int = 3000) -> dict:
        base = base or self.make.product(name="Pantry staples")
        body = {"name": unique("Pantry"), "amount": amount, "currency": "usd", "interval": "month",
                "items": [{"product": base["sku"], "quantity": 1}]}
        if selection is not None:
            body["selection"] = selection
        r = self.api.post("/v1/plans", body)
        self.assertStatus(r, 201)
        return r.json()

    def pantry(self, **selection) -> tuple[dict, dict[str, dict]]:
        """A plan shipping one unit of a base product a box, plus `choose` (2) units of five
        options named by SKU: tofu (vegan; tracked, in stock), chili (spicy), lentils (vegan),
        rice (no tag) and bread (no tag; tracked, none in stock)."""
        options = {
            "tofu": self.product("Tofu", ["vegan"], tracked=True, stock=50),
            "chili": self.product("Chili", ["spicy"]),
            "lentil": self.product("Lentils", ["vegan", "legume"]),
            "rice": self.product("Rice", []),
            "bread": self.product("Bread", [], tracked=True),
        }
        options["base"] = self.make.product(name="Pantry staples")
        body = {"choose": 2, "from": [options[k]["sku"] for k in ("tofu", "chili", "lentil", "rice", "bread")]}
        body.update(selection)
        return self.plan(body, base=options["base"]), options

    def customer(self, likes=("vegan",), excludes=("spicy",)) -> dict:
        customer = self.make.customer(card="pm_card_visa")
        return self.set_preferences(customer, list(likes), list(excludes))

    def set_preferences(self, customer: dict, likes: list[str], excludes: list[str]) -> dict:
        r = self.api.patch(f"/v1/customers/{customer['id']}",
                           {"preferences": {"likes": likes, "excludes": excludes}, "version": customer["version"]})
        self.assertStatus(r, 200)
        return r.json()

    def get_customer(self, customer: dict) -> dict:
        r = self.api.get(f"/v1/customers/{customer['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def get_plan(self, plan: dict) -> dict:
        r = self.api.get(f"/v1/plans/{plan['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def get_product(self, product: dict) -> dict:
        r = self.api.get(f"/v1/products/{product['id']}")
        self.assertStatus(r, 200)
        return r.json()

    # -- boxes and choices

    def boxes(self, sub: dict, count: int | None = None) -> list[dict]:
        """The first `count` of the next boxes (GET …/boxes without `count`: the server
        refuses the parameter, see BoxCountTest; the default is 12)."""
        r = self.api.get(f"/v1/subscriptions/{sub['id']}/boxes")
        self.assertStatus(r, 200)
        page = r.json()
        self.assertEqual((page["object"], page["has_more"]), ("list", False), page)
        self.assertEqual(len(page["data"]), 12, "12 boxes by default")
        return page["data"][:count]

    def choose(self, sub: dict, start, items: list[dict], api=None, **kw):
        """PUT …/boxes/{start}/selection: the response, for the caller to check."""
        start = start if isinstance(start, str) else format_time(start)
        return (api or self.api).request("PUT", f"/v1/subscriptions/{sub['id']}/boxes/{start}/selection",
                                         json_body={"items": items}, **kw)

    def chosen(self, sub: dict, start, items: list[dict]) -> dict:
        r = self.choose(sub, start, items)
        self.assertStatus(r, 200)
        self.assertEqual(self.etag_version(r), r.json()["version"])
        return r.json()

    def shipments(self, sub: dict) -> dict[int, dict]:
        """The subscription's boxes by period_seq."""
        out = {}
        for box in self.list_all("/v1/shipments", {"subscription": sub["id"]}):
            self.assertNotIn(box["period_seq"], out, "one shipment a period")
            out[box["period_seq"]] = box
        return out

    def contents(self, shipment: dict) -> dict[str, int]:
        out = {}
        for item in shipment["items"]:
            out[item["product"]] = out.get(item["product"], 0) + item["quantity"]
        return out

    def history_of(self, sub: dict, type_: str) -> list[dict]:
        return [e for e in self.list_all(f"/v1/subscriptions/{sub['id']}/history") if e["type"] == type_]

    def next_starts(self, sub: dict, n: int) -> list:
        """The starts of the n boxes after the current one (monthly, from the anchor)."""
        anchor = parse_time(sub["billing_cycle_anchor"])
        return [add_months_to_anchor(anchor, k) for k in range(1, n + 1)]


class ProductTagsTest(BoxCase):

    def test_products_carry_lower_case_tags_and_bad_tags_are_refused(self):
        vegan = self.product("Tempeh", ["vegan", "gluten-free", "soy_2"])
        self.assertEqual(self.get_product(vegan)["tags"], ["vegan", "gluten-free", "soy_2"])
        plain = self.make.product(name="Plain")
        self.assertEqual(plain["tags"], [], "no tags: an empty list, never null")

        # A PATCH replaces the tags.
        r = self.api.patch(f"/v1/products/{vegan['id']}", {"tags": ["organic"], "version": vegan["version"]})
        self.assertStatus(r, 200)
        vegan = r.json()
        self.assertEqual(vegan["tags"], ["organic"])

        # Upper case, too long, empty or repeated (sent direct: Prism refuses these itself).
        sku = unique("BADTAG")
        bad = {"tags[0]": ["Vegan"], "tags[1]": ["ok", "x" * 41], "tags[2]": ["a", "b", ""],
               "tags[3]": ["a", "b", "c", "spicy hot"]}
        for field, tags in bad.items():
            doc = self.assertProblem(self.raw.post("/v1/products", {"name": "Bad", "sku": sku, "tags": tags}), 422,
                                     "validation_failed")
            self.assertFieldErrors(doc, {field: "invalid_value"})
        doc = self.assertProblem(self.raw.post("/v1/products", {"name": "Bad", "sku": sku, "tags": ["a", "a"]}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"tags[1]": "duplicate"})
        doc = self.assertProblem(self.raw.post("/v1/products", {"name": "Bad", "sku": sku,
                                                                "tags": [f"t{i}" for i in range(21)]}),
                                 422, "validation_failed")
        self.assertIn("tags", {e["field"] for e in doc["errors"]}, doc)
        self.assertEqual([p for p in self.list_all("/v1/products") if p["sku"] == sku], [], "nothing created")

        r = self.raw.patch(f"/v1/products/{vegan['id']}", {"tags": ["UPPER"], "version": vegan["version"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"tags[0]": "invalid_value"})
        self.assertEqual(self.get_product(vegan), vegan, "a refused PATCH changes nothing")


class PickTest(BoxCase):

    def spice_plan(self) -> tuple[dict, list[dict]]:
        """One unit a box from 20 untagged, untracked options: every pick is a tie the hash
        of (subscription, box number, product) breaks."""
        spices = [self.product(f"Spice{i}", []) for i in range(20)]
        return self.plan({"choose": 1, "from": [p["sku"] for p in spices]}), spices

    def test_the_pick_shown_for_the_next_box_is_the_one_it_ships(self):
        plan, _ = self.spice_plan()
        subs = [self.make.subscription(plan=plan, customer=self.customer(likes=(), excludes=())) for _ in range(3)]
        shown = [self.boxes(sub, count=1)[0]["selection"]["items"] for sub in subs]
        for sub, items in zip(subs, shown):
            [item] = items
            self.assertNotIn(item["product"], self.contents(self.shipments(sub)[1]), "not the last box's")
        start = self.next_starts(subs[0], 1)[0]
        self.advance(start + HOUR)
        for sub, items in zip(subs, shown):
            box = self.shipments(sub)[2]
            self.assertEqual(parse_time(box["period"]["start"]), start)
            self.assertEqual(self.contents(box), {plan["items"][0]["product"]: 1, items[0]["product"]: 1})

    def test_the_pick_shown_for_the_box_after_a_skipped_one_is_the_one_it_ships(self):
        plan, _ = self.spice_plan()
        subs = [self.make.subscription(plan=plan, customer=self.customer(likes=(), excludes=())) for _ in range(3)]
        second, third = self.next_starts(subs[0], 2)
        shown = []
        for sub in subs:
            self.assertStatus(self.api.post(f"/v1/subscriptions/{sub['id']}/skip",
                                            {"period_start": format_time(second)}), 200)
            boxes = self.boxes(sub, count=2)
            self.assertEqual((boxes[0]["skipped"], boxes[1]["skipped"]), (True, False))
            self.assertEqual(parse_time(boxes[1]["period"]["start"]), third)
            shown.append(boxes[1]["selection"]["items"])
        self.advance(third + HOUR)
        got = []
        for sub in subs:
            box = self.shipments(sub)[2]  # the second box shipped: the third period
            self.assertEqual(parse_time(box["period"]["start"]), third)
            got.append([{"product": p, "quantity": q} for p, q in self.contents(box).items()
                        if p != plan["items"][0]["product"]])
        self.assertEqual(got, shown)


class PlanSelectionTest(BoxCase):

    def test_a_selection_names_its_options_by_sku_and_the_plan_shows_their_ids(self):
        plan, options = self.pantry()
        ids = [options[k]["id"] for k in ("tofu", "chili", "lentil", "rice", "bread")]
        self.assertEqual(plan["selection"], {"choose": 2, "from": ids, "cutoff_days": DEFAULT_CUTOFF_DAYS,
                                             "default": "preferences"})
        self.assertEqual(plan["items"], [{"product": options["base"]["id"], "quantity": 1}])
        self.assertEqual(self.get_plan(plan), plan)

        # Named by id or SKU, mixed, in any order: stored as ids, in that order.
        fixed = self.plan({"choose": 3, "from": [options["rice"]["id"], options["tofu"]["sku"]], "cutoff_days": 0,
                           "default": "fixed"})
        self.assertEqual(fixed["selection"], {"choose": 3, "from": [options["rice"]["id"], options["tofu"]["id"]],
                                              "cutoff_days": 0, "default": "fixed"})

        # An unknown SKU: refused naming its place in `from`, and no plan is made.
        name = unique("Pantry")
        body = {"name": name, "amount": 3000, "currency": "usd", "interval": "month",
                "selection": {"choose": 1, "from": [options["tofu"]["sku"], unique("NO-SUCH-SKU")]}}
        doc = self.assertProblem(self.api.post("/v1/plans", body), 422, "validation_failed")
        self.assertFieldErrors(doc, {"selection.from[1]": "not_found"})
        self.assertNotIn("selection.from[0]", {e["field"] for e in doc["errors"]}, doc)
        # The same product twice (once by SKU, once by id) is refused too.
        body["selection"]["from"] = [options["tofu"]["sku"], options["tofu"]["id"]]
        doc = self.assertProblem(self.api.post("/v1/plans", body), 422, "validation_failed")
        self.assertIn("selection.from", {e["field"] for e in doc["errors"]}, doc)
        # Out of range (direct: Prism checks the ranges itself).
        for field, selection in {"selection.choose": {"choose": 21, "from": [options["tofu"]["id"]]},
                                 "selection.cutoff_days": {"choose": 1, "from": [options["tofu"]["id"]],
                                                           "cutoff_days": 31},
                                 "selection.default": {"choose": 1, "from": [options["tofu"]["id"]],
                                                       "default": "random"}}.items():
            doc = self.assertProblem(self.raw.post("/v1/plans", dict(body, selection=selection)), 422,
                                     "validation_failed")
            self.assertIn(field, {e["field"] for e in doc["errors"]}, doc)
        self.assertNotIn(name, {p["name"] for p in self.list_all("/v1/plans")})

        # An update: an unknown SKU is refused and changes nothing; null removes the selection.
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"selection": {"choose": 1, "from": ["NOPE-" + unique("X")]},
                                                       "version": plan["version"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"selection.from[0]": "not_found"})
        self.assertEqual(self.get_plan(plan), plan)
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"selection": {"choose": 1, "from": [options["chili"]["sku"]],
                                                                     "cutoff_days": 7},
                                                       "version": plan["version"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["selection"], {"choose": 1, "from": [options["chili"]["id"]], "cutoff_days": 7,
                                                 "default": "preferences"})
        r = self.api.patch(f"/v1/plans/{plan['id']}", {"selection": None, "version": r.json()["version"]})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json()["selection"])
        self.assertEqual(r.json()["items"], plan["items"])


class PreferencesTest(BoxCase):

    def test_preferences_are_the_customers_and_a_tag_both_liked_and_excluded_is_refused(self):
        customer = self.make.customer(card=None)
        self.assertEqual(customer["preferences"], {"likes": [], "excludes": []})
        updated = self.set_preferences(customer, ["vegan"], ["spicy"])
        self.assertEqual(updated["preferences"], {"likes": ["vegan"], "excludes": ["spicy"]})
        self.assertEqual(updated["version"], customer["version"] + 1)
        self.assertEqual(self.get_customer(customer), updated)

        r = self.api.patch(f"/v1/customers/{customer['id']}",
                           {"preferences": {"likes": ["vegan", "spicy"], "excludes": ["spicy"]},
                            "version": updated["version"]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"preferences.likes": "conflicting"})
        self.assertIn("spicy", doc["errors"][0]["message"])
        self.assertEqual(self.get_customer(customer), updated, "a refused PATCH changes nothing")

        # The whole object is replaced: what is left out is emptied.
        r = self.api.patch(f"/v1/customers/{customer['id']}", {"preferences": {"excludes": ["nuts"]},
                                                                "version": updated["version"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["preferences"], {"likes": [], "excludes": ["nuts"]})

    def test_the_first_box_holds_the_plans_items_and_the_options_the_preferences_pick(self):
        plan, o = self.pantry()
        customer = self.customer(likes=("vegan",), excludes=("spicy",))
        sub = self.make.subscription(plan=plan, customer=customer)
        self.assertEqual((sub["status"], sub["choices"]), ("active", []))

        # Never the spicy one; the two liked ones before the plain rice (bread has no stock).
        [first] = self.shipments(sub).values()
        self.assertEqual(first["period_seq"], 1)
        self.assertEqual(self.contents(first), {o["base"]["id"]: 1, o["tofu"]["id"]: 1, o["lentil"]["id"]: 1})
        self.assertNotIn(o["chili"]["id"], self.contents(first))
        tofu = next(i for i in first["items"] if i["product"] == o["tofu"]["id"])
        self.assertEqual((tofu["tracked"], tofu["reserved"], tofu["backordered"]), (True, 1, 0))

        # Liking what another customer excludes picks it; with every tagged option excluded,
        # the untagged ones are left (rice before the bread nobody has).
        spicy = self.make.subscription(plan=plan, customer=self.customer(likes=("spicy",), excludes=()))
        self.assertIn(o["chili"]["id"], self.contents(self.shipments(spicy)[1]))
        picky = self.make.subscription(plan=plan, customer=self.customer(likes=(), excludes=("vegan", "spicy")))
        self.assertEqual(self.contents(self.shipments(picky)[1]), {o["base"]["id"]: 1, o["rice"]["id"]: 2},
                         "around again on the one in stock, never the excluded ones")

    def test_a_fixed_default_takes_the_first_options_in_order_times_the_quantity(self):
        plan, o = self.pantry(choose=3, default="fixed", **{"from": [self.product("Oats", [])["sku"],
                                                                      self.product("Salt", ["spicy"])["sku"]]})
        oats, salt = plan["selection"]["from"]
        # Preferences do not count for `fixed`: the excluded salt ships too.
        sub = self.make.subscription(plan=plan, customer=self.customer(excludes=("spicy",)), quantity=2)
        self.assertEqual(self.contents(self.shipments(sub)[1]), {o["base"]["id"]: 2, oats: 4, salt: 2},
                         "one of each, around again: oats 2 and salt 1, times the quantity 2")
        [box] = self.boxes(sub, count=1)
        self.assertEqual(box["quantity"], 2)
        self.assertEqual(box["selection"]["items"], [{"product": oats, "quantity": 2},
                                                     {"product": salt, "quantity": 1}])
        self.assertFalse(box["selection"]["chosen"])


class BoxListTest(BoxCase):

    def test_the_next_boxes_show_their_cutoff_options_and_pick(self):
        plan, o = self.pantry(cutoff_days=5)
        sub = self.make.subscription(plan=plan, customer=self.customer())
        now = self.now()
        self.assertEqual(parse_time(sub["current_period"]["start"]), now)
        starts = self.next_starts(sub, 3)

        boxes = self.boxes(sub, count=3)
        self.assertEqual([parse_time(b["period"]["start"]) for b in boxes], starts, "the next three, not the current")
        self.assertEqual([parse_time(b["period"]["end"]) for b in boxes], starts[1:] + self.next_starts(sub, 4)[3:])
        options = [{"product": o[k]["id"], "sku": o[k]["sku"], "name": o[k]["name"], "tags": o[k]["tags"],
                    "available": k != "bread"} for k in ("tofu", "chili", "lentil", "rice", "bread")]
        self.assertEqual(set(self.contents(self.shipments(sub)[1])),
                         {o["base"]["id"], o["tofu"]["id"], o["lentil"]["id"]}, "the last box")
        for box, start in zip(boxes, starts):
            self.assertEqual((box["object"], box["plan"], box["quantity"], box["skipped"], box["prepaid"]),
                             ("box", plan["id"], 1, False, False), box)
            sel = box["selection"]
            self.assertEqual(parse_time(sel["cutoff_at"]), start - 5 * DAY)
            self.assertEqual((sel["open"], sel["chosen"]), (True, False), box)
            self.assertEqual(sel["options"], options, "in the plan's order, bread (tracked, no stock) unavailable")
            # The pick as things stand: never chili or bread; rice first, as the only option
            # not in the last box; then one of the liked ones.
            picked = [i["product"] for i in sel["items"]]
            self.assertEqual([i["quantity"] for i in sel["items"]], [1, 1], sel)
            self.assertEqual(picked[0], o["rice"]["id"], sel)
            self.assertIn(picked[1], {o["tofu"]["id"], o["lentil"]["id"]}, sel)

        # Stock received for bread makes it available.
        self.assertStatus(self.api.post(f"/v1/inventory/{o['bread']['sku']}/receipts", {"quantity": 5}), 201)
        self.assertTrue(self.boxes(sub, count=1)[0]["selection"]["options"][4]["available"])

        self.assertProblem(self.api.get(f"/v1/subscriptions/{UNKNOWN_SUBSCRIPTION}/boxes"), 404,
                           "subscription_not_found")
        # Every role reads them.
        self.assertStatus(TestModeApi("analyst").get(f"/v1/subscriptions/{sub['id']}/boxes"), 200)

    def test_a_skipped_box_and_a_plan_without_selection_have_no_selection(self):
        plan, _ = self.pantry()
        sub = self.make.subscription(plan=plan, customer=self.customer())
        second = self.next_starts(sub, 2)[1]
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/skip", {"period_start": format_time(second)})
        self.assertStatus(r, 200)
        boxes = self.boxes(sub, count=3)
        self.assertEqual([b["skipped"] for b in boxes], [False, True, False])
        self.assertIsNotNone(boxes[0]["selection"])
        self.assertIsNone(boxes[1]["selection"])
        self.assertIsNotNone(boxes[2]["selection"])

        plain = self.make.subscription(plan=self.plan(None), customer=self.customer())
        boxes = self.boxes(plain, count=2)
        self.assertEqual(len(boxes), 2)
        self.assertEqual([b["selection"] for b in boxes], [None, None])


class BoxCountTest(BoxCase):

    def test_count_limits_the_boxes_to_at_most_12(self):
        plan, _ = self.pantry()
        sub = self.make.subscription(plan=plan, customer=self.customer())
        path = f"/v1/subscriptions/{sub['id']}/boxes"
        every = self.boxes(sub)
        r = self.api.get(path, params={"count": 3})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["data"], every[:3])
        r = self.api.get(path, params={"count": 12})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["data"], every)
        self.assertEqual(len(every), 12)
        # Out of range (direct: Prism checks the range itself).
        for count in (0, 13):
            doc = self.assertProblem(self.raw.get(path, params={"count": count}), 422, "validation_failed")
            self.assertFieldErrors(doc, {"count": "out_of_range"})


class BoxChoiceTest(BoxCase):

    def test_a_choice_for_the_next_box_is_kept_shown_and_recorded(self):
        plan, o = self.pantry()
        sub = self.make.subscription(plan=plan, customer=self.customer())
        start = self.boxes(sub, count=1)[0]["period"]["start"]
        self.assertEqual(parse_time(start), self.next_starts(sub, 1)[0])
        now = self.now()

        # An excluded tag may be chosen by the customer; products by SKU or id, quantity defaulting to 1.
        items = [{"product": o["chili"]["sku"]}, {"product": o["tofu"]["id"], "quantity": 1}]
        chosen = self.chosen(sub, start, items)
        want = [{"product": o["chili"]["id"], "quantity": 1}, {"product": o["tofu"]["id"], "quantity": 1}]
        self.assertEqual(chosen["version"], sub["version"] + 1)
        self.assertEqual(len(chosen["choices"]), 1, chosen["choices"])
        [choice] = chosen["choices"]
        self.assertEqual((choice["period_start"], choice["items"]), (start, want))
        self.assertEqual(parse_time(choice["chosen_at"]), now)
        self.assertEqual(self.subscription(sub), chosen)

        [box] = self.boxes(sub, count=1)
        self.assertEqual((box["selection"]["chosen"], box["selection"]["open"], box["selection"]["items"]),
                         (True, True, want))
        # The box after is still Recur's to pick.
        self.assertFalse(self.boxes(sub, count=2)[1]["selection"]["chosen"])

        [event] = self.history_of(sub, "subscription.box_chosen")
        self.assertEqual(event["details"]["items"], want)
        self.assertEqual(event["details"]["period"]["start"], start)
        self.assertEqual(event["data"]["object"]["choices"], chosen["choices"])
        events = self.list_all("/v1/events", {"resource": sub["id"], "type": "subscription.box_chosen"})
        self.assertEqual([e["id"] for e in events], [event["id"]])

        # A second choice for the same box replaces the first; one for the box after is kept beside it.
        again = self.chosen(sub, start, [{"product": o["lentil"]["sku"], "quantity": 2}])
        self.assertEqual([(c["period_start"], c["items"]) for c in again["choices"]],
                         [(start, [{"product": o["lentil"]["id"], "quantity": 2}])])
        later = self.boxes(sub, count=2)[1]["period"]["start"]
        both = self.chosen(sub, later, [{"product": o["rice"]["sku"]}, {"product": o["tofu"]["sku"]}])
        self.assertEqual([c["period_start"] for c in both["choices"]], [start, later])
        self.assertEqual(len(self.history_of(sub, "subscription.box_chosen")), 3)

    def test_refused_choices_change_nothing(self):
        plan, o = self.pantry()
        sub = self.make.subscription(plan=plan, customer=self.customer())
        current = sub["current_period"]["start"]
        start = self.boxes(sub, count=1)[0]["period"]["start"]
        sub = self.chosen(sub, start, [{"product": o["rice"]["sku"], "quantity": 2}])

        def unchanged():
            self.assertEqual(self.subscription(sub), sub)
            self.assertEqual(len(self.history_of(sub, "subscription.box_chosen")), 1)

        # Wrong unit count, either way: 422 naming items.
        for items in ([{"product": o["tofu"]["sku"]}],
                      [{"product": o["tofu"]["sku"], "quantity": 2}, {"product": o["rice"]["sku"]}]):
            doc = self.assertProblem(self.choose(sub, start, items), 422, "validation_failed")
            self.assertFieldErrors(doc, {"items": "invalid_value"})
            unchanged()
        # A product that is not one of the options (the plan's own item), or no product at all.
        doc = self.assertProblem(self.choose(sub, start, [{"product": o["tofu"]["sku"]},
                                                          {"product": o["base"]["sku"]}]), 422, "validation_failed")
        self.assertFieldErrors(doc, {"items": "invalid_value"})
        doc = self.assertProblem(self.choose(sub, start, [{"product": o["tofu"]["sku"]},
                                                          {"product": unique("NO-SUCH-SKU")}]), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"items[1].product": "not_found"})
        unchanged()
        # No box starts then: an hour after a box's start, the current box (begun), a year on.
        for when in (format_time(parse_time(start) + HOUR), current,
                     format_time(parse_time(start) + timedelta(days=400))):
            doc = self.assertProblem(self.choose(sub, when, [{"product": o["tofu"]["sku"], "quantity": 2}]), 422,
                                     "invalid_period")
            self.assertFieldErrors(doc, {"period_start": "invalid_value"})
        unchanged()
        # Not a time at all (direct: the path's shape is the server's to refuse).
        self.assertProblem(self.choose(sub, "not-a-time", [{"product": o["tofu"]["sku"], "quantity": 2}],
                                       api=self.raw), 422, "validation_failed")
        # A skipped box takes no choice.
        later = self.boxes(sub, count=2)[1]["period"]["start"]
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/skip", {"period_start": later})
        self.assertStatus(r, 200)
        sub = r.json()
        self.assertProblem(self.choose(sub, later, [{"product": o["tofu"]["sku"], "quantity": 2}]), 422,
                           "invalid_period")
        unchanged()
        # An option the stock cannot cover by the box's day: 409 out_of_stock naming its SKU.
        doc = self.assertProblem(self.choose(sub, start, [{"product": o["tofu"]["sku"]},
                                                          {"product": o["bread"]["sku"]}]), 409, "out_of_stock")
        self.assertEqual(doc["skus"], [o["bread"]["sku"]])
        self.assertIsInstance(doc["alternatives"], list)
        unchanged()
        # A stale version, and a role without subscriptions:write.
        stale = self.choose(sub, start, [{"product": o["tofu"]["sku"], "quantity": 2}],
                            headers={"If-Match": f'"{sub["version"] - 1}"'})
        self.assertProblem(stale, 409, "version_conflict")
        denied = self.choose(sub, start, [{"product": o["tofu"]["sku"], "quantity": 2}], api=TestModeApi("analyst"))
        self.assertProblem(denied, 403, "permission_denied")
        unchanged()

        # A plan without a selection: its boxes are not chosen.
        plain = self.make.subscription(plan=self.plan(None), customer=self.customer())
        plain_start = self.boxes(plain, count=1)[0]["period"]["start"]
        doc = self.assertProblem(self.choose(plain, plain_start, [{"product": o["tofu"]["sku"]}]), 409,
                                 "no_selection")
        self.assertIn(plain["plan"], doc["detail"])
        self.assertEqual(self.subscription(plain), plain)
        self.assertProblem(self.choose({"id": UNKNOWN_SUBSCRIPTION}, start, [{"product": o["tofu"]["sku"]}]), 404,
                           "subscription_not_found")

    def jam_plan(self) -> tuple[dict, dict, dict]:
        """A plan of 2 units a box from jam (tracked, one jar in stock, tagged sweet) and
        rice; its subscribers exclude sweet things, so no box of theirs takes the jar."""
        jam = self.product("Jam", ["sweet"], tracked=True, stock=1)
        rice = self.product("Rice", [])
        return self.plan({"choose": 2, "from": [jam["sku"], rice["sku"]]}), jam, rice

    def test_a_choice_the_stock_cannot_cover_by_the_box_is_refused(self):
        plan, jam, rice = self.jam_plan()
        sub = self.make.subscription(plan=plan, customer=self.customer(likes=(), excludes=("sweet",)))
        self.assertEqual(self.contents(self.shipments(sub)[1])[rice["id"]], 2)
        [box] = self.boxes(sub, count=1)
        self.assertEqual([(op["product"], op["available"]) for op in box["selection"]["options"]],
                         [(jam["id"], True), (rice["id"], True)], "one jar for one box")
        # Two jars: one short.
        doc = self.assertProblem(self.choose(sub, box["period"]["start"], [{"product": jam["sku"], "quantity": 2}]),
                                 409, "out_of_stock")
        self.assertEqual(doc["skus"], [jam["sku"]])
        self.assertEqual(self.subscription(sub), sub)
        # One jar: a check, not a reservation, so the jar is still there for others.
        chosen = self.chosen(sub, box["period"]["start"], [{"product": jam["sku"]}, {"product": rice["sku"]}])
        self.assertEqual(len(chosen["choices"]), 1)
        r = self.api.get(f"/v1/inventory/{jam['sku']}")
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["on_hand"], r.json()["reserved"]), (1, 0))

    def test_a_choice_is_checked_against_the_stock_all_the_subscriptions_boxes_need(self):
        plan, jam, rice = self.jam_plan()
        customer = self.customer(likes=(), excludes=("sweet",))
        sub = self.make.subscription(plan=plan, customer=customer, quantity=2)
        [box] = self.boxes(sub, count=1)
        self.assertEqual([(op["product"], op["available"]) for op in box["selection"]["options"]],
                         [(jam["id"], False), (rice["id"], True)], "two jars are needed, one is there")
        r = self.choose(sub, box["period"]["start"], [{"product": jam["sku"]}, {"product": rice["sku"]}])
        doc = self.assertProblem(r, 409, "out_of_stock")
        self.assertEqual(doc["skus"], [jam["sku"]])
        self.assertEqual(self.subscription(sub), sub)


class CutoffTest(BoxCase):

    def test_a_choice_closes_at_the_cutoff_and_the_box_ships_what_was_chosen(self):
        plan, o = self.pantry()
        sub = self.make.subscription(plan=plan, customer=self.customer())
        start = self.next_starts(sub, 1)[0]
        cutoff = start - DEFAULT_CUTOFF_DAYS * DAY
        sub = self.chosen(sub, start, [{"product": o["tofu"]["sku"]}, {"product": o["rice"]["sku"]}])

        # An hour before the cut-off it can still change.
        self.advance(cutoff - HOUR)
        [box] = self.boxes(sub, count=1)
        self.assertEqual(parse_time(box["selection"]["cutoff_at"]), cutoff)
        self.assertTrue(box["selection"]["open"])
        want = [{"product": o["chili"]["id"], "quantity": 1}, {"product": o["tofu"]["id"], "quantity": 1}]
        sub = self.chosen(sub, start, [{"product": o["chili"]["sku"]}, {"product": o["tofu"]["sku"]}])
        self.assertEqual([c["items"] for c in sub["choices"]], [want])

        # At the cut-off it is closed, and the choice stands.
        self.advance(cutoff)
        doc = self.assertProblem(self.choose(sub, start, [{"product": o["lentil"]["sku"], "quantity": 2}]), 409,
                                 "selection_closed")
        self.assertIn(format_time(cutoff), doc["detail"])
        self.assertEqual(self.subscription(sub), sub)
        [box] = self.boxes(sub, count=1)
        self.assertEqual((box["selection"]["open"], box["selection"]["chosen"], box["selection"]["items"]),
                         (False, True, want))
        self.assertTrue(self.boxes(sub, count=2)[1]["selection"]["open"], "the box after is still open")

        # The box begins: it holds the plan's items and what was chosen, the spicy chili too.
        self.advance(start + HOUR)
        renewed = self.subscription(sub)
        self.assertEqual(parse_time(renewed["current_period"]["start"]), start)
        self.assertEqual(renewed["choices"], [], "taken off when its box began")
        shipments = self.shipments(sub)
        self.assertEqual(sorted(shipments), [1, 2])
        self.assertEqual(self.contents(shipments[2]),
                         {o["base"]["id"]: 1, o["chili"]["id"]: 1, o["tofu"]["id"]: 1})
        self.assertEqual(parse_time(shipments[2]["period"]["start"]), start)
        # The next box is Recur's again, and differs from the last where it can: lentils and rice.
        [after] = self.boxes(sub, count=1)
        self.assertEqual(parse_time(after["period"]["start"]), self.next_starts(sub, 2)[1])
        self.assertEqual((after["selection"]["chosen"], after["selection"]["open"]), (False, True))
        self.assertEqual(after["selection"]["items"], [{"product": o["lentil"]["id"], "quantity": 1},
                                                       {"product": o["rice"]["id"], "quantity": 1}])
        # The box that began is no more to choose for.
        self.assertProblem(self.choose(renewed, start, [{"product": o["tofu"]["sku"], "quantity": 2}]), 422,
                           "invalid_period")
