"""Inventory end to end: tracked products, stock receipts and adjustments through the
movement ledger, availability answers with alternatives, signups refused when the first box
cannot be shipped, the shipment each billed period reserves (with its invoice, paid or not),
and moving it to shipped.

Every product here gets a category of its own (alternatives are looked up by category
across the whole catalogue, which other suites share), and every check of the ledger
counts movements of one product only.
"""
from __future__ import annotations

import uuid

from recur_api import Api, ApiTestCase, describe, unique

UNKNOWN_SHIPMENT = "shp_00000000000000000000000000"
UNKNOWN_PRODUCT = "prod_00000000000000000000000000"


class InventoryCase(ApiTestCase):

    # ---------------------------------------------------------------- fixtures

    def category(self) -> str:
        return unique("cat")

    def tracked(self, category: str | None = None, amount: int = 1400, stock: int = 0, **fields) -> dict:
        body = {"category": category or self.category(), "track_inventory": True, "amount": amount,
                "currency": "usd"}
        body.update(fields)
        product = self.make.product(**body)
        if stock:
            self.receive(product["sku"], stock)
        return product

    def plan_of(self, product: dict, quantity: int = 1, amount: int = 2400) -> dict:
        r = self.api.post("/v1/plans", {"name": unique("Box"), "amount": amount, "currency": "usd",
                                        "interval": "month", "interval_count": 1,
                                        "items": [{"product": product["id"], "quantity": quantity}]})
        self.assertStatus(r, 201)
        return r.json()

    def receive(self, sku: str, quantity: int, api: Api | None = None) -> dict:
        r = (api or self.api).post(f"/v1/inventory/{sku}/receipts", {"quantity": quantity})
        self.assertStatus(r, 201)
        return r.json()

    def stock(self, sku: str) -> dict:
        r = self.api.get(f"/v1/inventory/{sku}")
        self.assertStatus(r, 200)
        return r.json()

    def movements(self, sku: str, **params) -> list[dict]:
        return self.list_all(f"/v1/inventory/{sku}/movements", params)

    def availability(self, product: dict, **params) -> dict:
        r = self.api.get(f"/v1/products/{product['id']}/availability", params=params)
        self.assertStatus(r, 200)
        return r.json()

    def shipments_of(self, sub: dict) -> list[dict]:
        return self.list_all("/v1/shipments", {"subscription": sub["id"]})

    def inventory_list(self, **params) -> list[dict]:
        """Every page of /v1/inventory (paged by the `product` of the last item)."""
        items, after = [], None
        for _ in range(1000):
            p = dict(params, limit=100)
            if after:
                p["starting_after"] = after
            r = self.api.get("/v1/inventory", params=p)
            self.assertStatus(r, 200)
            page = r.json()
            self.assertEqual((page["object"], page["url"]), ("list", "/v1/inventory"))
            items += page["data"]
            if not page["has_more"]:
                return items
            after = page["data"][-1]["product"]
        self.fail("/v1/inventory never stopped paging")

    def pay_first_invoice(self, sub: dict) -> None:
        [inv] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        if inv["status"] == "open":
            r = self.api.post(f"/v1/invoices/{inv['id']}/pay")
            self.assertStatus(r, 200)
            self.assertEqual(r.json()["status"], "paid", describe(r))


class StockTest(InventoryCase):

    def test_tracked_product_with_category_receives_stock(self):
        category = self.category()
        product = self.tracked(category)
        self.assertEqual((product["category"], product["track_inventory"]), (category, True))
        got = self.api.get(f"/v1/products/{product['id']}").json()
        self.assertEqual((got["category"], got["track_inventory"]), (category, True))
        plain = self.make.product()
        self.assertEqual((plain["category"], plain["track_inventory"]), (None, False))

        sku = product["sku"]
        before = self.stock(sku)
        self.assertEqual((before["object"], before["sku"], before["product"], before["name"], before["track_inventory"],
                          before["warehouse"], before["on_hand"], before["reserved"], before["available"],
                          before["low_stock"], before["low_stock_threshold"]),
                         ("inventory_item", sku, product["id"], product["name"], True, "main", 0, 0, 0, False, None))

        received = self.receive(sku, 12)
        self.assertEqual((received["on_hand"], received["reserved"], received["available"], received["incoming"]),
                         (12, 0, 12, 0))
        self.assertIsNotNone(received["updated"])
        self.assertEqual(self.stock(sku), received)

        [receipt] = self.movements(sku)
        self.assertRegex(receipt["id"], r"^mv_[0-9a-z]{26}$")
        self.assertEqual((receipt["object"], receipt["product"], receipt["sku"], receipt["kind"],
                          receipt["on_hand_delta"], receipt["reserved_delta"], receipt["reason"], receipt["reference"]),
                         ("stock_movement", product["id"], sku, "receipt", 12, 0, None, None))
        # The actor is the same object as an event's: type, id and role.
        self.assertEqual((receipt["actor"]["type"], receipt["actor"]["role"]), ("api_key", "admin"), receipt)
        self.assertTrue(receipt["actor"]["id"].startswith("key_"), receipt)
        self.assertEqual(self.movements(sku, kind="adjustment"), [])
        self.assertEqual([m["id"] for m in self.movements(sku, kind="receipt")], [receipt["id"]])

        listed = [i for i in self.inventory_list() if i["sku"] == sku]
        self.assertEqual(listed, [received])
        self.assertNotIn(plain["sku"], [i["sku"] for i in self.inventory_list()])  # untracked: not listed

    def test_adjustment_below_what_is_there_is_409_and_changes_nothing(self):
        product = self.tracked(stock=5)
        sku = product["sku"]
        before, ledger = self.stock(sku), self.movements(sku)

        r = self.api.post(f"/v1/inventory/{sku}/adjustments", {"quantity_delta": -6, "reason": "count correction"})
        self.assertProblem(r, 409, "insufficient_stock")
        self.assertEqual(self.stock(sku), before)
        self.assertEqual(self.movements(sku), ledger)

        r = self.api.post(f"/v1/inventory/{sku}/adjustments", {"quantity_delta": -2, "reason": "damaged"},
                          idempotency_key=str(uuid.uuid4()))
        self.assertStatus(r, 201)
        self.assertEqual((r.json()["on_hand"], r.json()["available"]), (3, 3))
        newest = self.movements(sku)
        self.assertEqual(len(newest), len(ledger) + 1)
        self.assertEqual((newest[0]["kind"], newest[0]["on_hand_delta"], newest[0]["reason"]), ("adjustment", -2, "damaged"))
        self.assertEqual(sum(m["on_hand_delta"] for m in newest), 3)

    def test_low_stock_settings_and_the_low_stock_filter(self):
        product = self.tracked(stock=4)
        sku = product["sku"]
        r = self.api.patch(f"/v1/inventory/{sku}", {"low_stock_threshold": 5, "alert_email": "warehouse@example.com"})
        self.assertStatus(r, 200)
        item = r.json()
        self.assertEqual((item["low_stock_threshold"], item["low_stock"], item["alert_email"]),
                         (5, True, "warehouse@example.com"))
        self.assertIn(sku, [i["sku"] for i in self.inventory_list(low_stock="true")])

        self.receive(sku, 10)
        self.assertNotIn(sku, [i["sku"] for i in self.inventory_list(low_stock="true")])
        r = self.api.patch(f"/v1/inventory/{sku}", {"alert_email": None})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["alert_email"], r.json()["low_stock_threshold"]), (None, 5))
        # No threshold is null (never low), not 0.
        r = self.api.patch(f"/v1/inventory/{sku}", {"low_stock_threshold": None})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["low_stock_threshold"], r.json()["low_stock"]), (None, False))
        self.assertProblem(self.raw.patch(f"/v1/inventory/{sku}", {"low_stock_threshold": 0}), 422, "validation_failed")

    def test_receipts_against_a_sent_purchase_order_count_on_it_and_refuse_beyond_it(self):
        product = self.tracked()
        supplier = self.api.post("/v1/suppliers", {
            "name": "Hill Roastery", "email": "orders@roastery.example", "lead_time_days": 5,
            "products": [{"product": product["id"], "unit_cost": 650, "currency": "usd"}]})
        self.assertEqual(supplier.status_code, 201, supplier.text)
        order = self.api.post("/v1/purchase-orders", {
            "supplier": supplier.json()["id"], "lines": [{"product": product["id"], "quantity": 10}]})
        self.assertEqual(order.status_code, 201, order.text)
        po = order.json()["id"]
        # A draft has not been sent: nothing can arrive against it, and nothing changes.
        r = self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": 3, "purchase_order": po})
        self.assertProblem(r, 409, "purchase_order_not_receivable")
        self.assertEqual(self.stock(product["sku"])["on_hand"], 0)
        sent = self.api.post(f"/v1/purchase-orders/{po}/send", {})
        self.assertEqual(sent.status_code, 200, sent.text)
        self.assertEqual(self.stock(product["sku"])["incoming"], 10)
        r = self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": 4, "purchase_order": po})
        self.assertEqual(r.status_code, 201, r.text)
        self.assertEqual(r.json()["on_hand"], 4)
        self.assertEqual(r.json()["incoming"], 6)
        after = self.api.get(f"/v1/purchase-orders/{po}").json()
        self.assertEqual(after["status"], "partially_received")
        self.assertEqual(after["lines"][0]["received"], 4)
        # More than is outstanding is refused whole.
        r = self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": 7, "purchase_order": po})
        self.assertEqual(r.status_code, 409, r.text)
        self.assertEqual(self.stock(product["sku"])["on_hand"], 4)
        r = self.api.post(f"/v1/inventory/{product['sku']}/receipts",
                          {"quantity": 3, "purchase_order": "po_01m8a1b3c5d7e9f1g3h5j7k9m1"})
        self.assertProblem(r, 404, "purchase_order_not_found")
        self.assertEqual(self.stock(product["sku"])["on_hand"], 4)

    def test_supplier_purchase_order_and_receipt_bodies_name_products_by_id_or_sku(self):
        beans, filters = self.tracked(), self.tracked()
        r = self.api.post("/v1/suppliers", {
            "name": "Hill Roastery", "email": "orders@roastery.example",
            "products": [{"product": beans["sku"], "unit_cost": 650, "currency": "usd"},
                         {"product": filters["id"], "unit_cost": 90, "currency": "usd"}]})
        self.assertStatus(r, 201)
        supplier = r.json()
        self.assertEqual([p["product"] for p in supplier["products"]], [beans["id"], filters["id"]])  # stored by id
        # The same product twice, once by id and once by SKU, is one product listed twice.
        r = self.api.post("/v1/purchase-orders", {"supplier": supplier["id"], "lines": [
            {"product": beans["sku"], "quantity": 2}, {"product": beans["id"], "quantity": 3}]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"lines[1].product": "duplicate"})
        r = self.api.post("/v1/purchase-orders", {"supplier": supplier["id"], "lines": [
            {"product": "NO-SUCH-SKU", "quantity": 1}]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"lines[0].product": "not_found"})
        self.assertIn("id or SKU", doc["errors"][0]["message"])
        r = self.api.post("/v1/purchase-orders", {"supplier": supplier["id"], "lines": [
            {"product": beans["sku"], "quantity": 10}, {"product": filters["id"], "quantity": 5}]})
        self.assertStatus(r, 201)
        po = r.json()
        self.assertEqual([(l["product"], l["sku"]) for l in po["lines"]],
                         [(beans["id"], beans["sku"]), (filters["id"], filters["sku"])])
        self.assertStatus(self.api.post(f"/v1/purchase-orders/{po['id']}/send", {}), 200)
        r = self.api.post(f"/v1/purchase-orders/{po['id']}/receive", {"lines": [
            {"product": beans["sku"], "quantity": 4}, {"product": filters["id"], "quantity": 5}]})
        self.assertStatus(r, 200)
        self.assertEqual([l["received"] for l in r.json()["lines"]], [4, 5])
        self.assertEqual((self.stock(beans["sku"])["on_hand"], self.stock(filters["sku"])["on_hand"]), (4, 5))

    def test_unknown_sku_product_and_shipment_are_404(self):
        self.assertProblem(self.api.get("/v1/inventory/NO-SUCH-SKU-0"), 404, "sku_not_found")
        self.assertProblem(self.api.post("/v1/inventory/NO-SUCH-SKU-0/receipts", {"quantity": 1}), 404,
                           "sku_not_found")
        self.assertProblem(self.api.get("/v1/inventory/NO-SUCH-SKU-0/movements"), 404, "sku_not_found")
        self.assertProblem(self.api.get(f"/v1/products/{UNKNOWN_PRODUCT}/availability"), 404, "product_not_found")
        self.assertProblem(self.api.get(f"/v1/shipments/{UNKNOWN_SHIPMENT}"), 404, "shipment_not_found")
        product = self.tracked()
        r = self.api.post(f"/v1/inventory/{product['sku']}/returns", {"quantity": 1, "shipment": UNKNOWN_SHIPMENT})
        self.assertProblem(r, 404, "shipment_not_found")
        self.assertEqual(self.movements(product["sku"]), [])


class AvailabilityTest(InventoryCase):

    def test_enough_stock_then_not_enough_with_alternatives_of_the_same_category(self):
        category = self.category()
        wanted = self.tracked(category, amount=1400, stock=5)
        similar = self.tracked(category, amount=1300, stock=50)
        too_few = self.tracked(category, amount=1400, stock=2)
        elsewhere = self.tracked(self.category(), amount=1400, stock=50)

        a = self.availability(wanted, quantity=3)
        self.assertEqual((a["object"], a["product"], a["sku"], a["tracked"], a["quantity"], a["date"],
                          a["available"], a["available_by_date"], a["can_fulfill"], a["available_on"],
                          a["alternatives"]),
                         ("availability", wanted["id"], wanted["sku"], True, 3, None, 5, 5, True, None, []))

        a = self.availability(wanted, quantity=10, date="2027-01-31")
        self.assertEqual((a["can_fulfill"], a["available"], a["date"], a["available_on"]),
                         (False, 5, "2027-01-31T00:00:00Z", None))
        offered = {alt["product"]: alt for alt in a["alternatives"]}
        self.assertEqual(offered.get(similar["id"]),
                         {"product": similar["id"], "name": similar["name"], "available": 50, "amount": 1300,
                          "currency": "usd"})
        self.assertNotIn(too_few["id"], offered)    # has fewer than asked
        self.assertNotIn(elsewhere["id"], offered)  # another category
        self.assertNotIn(wanted["id"], offered)     # nothing is on its way

    def test_untracked_products_are_always_available(self):
        product = self.make.product(category=self.category())
        a = self.availability(product, quantity=1000)
        self.assertEqual((a["tracked"], a["available"], a["available_by_date"], a["can_fulfill"], a["alternatives"]),
                         (False, None, None, True, []))


class ShipmentTest(InventoryCase):

    def test_signup_whose_first_box_is_short_is_409_out_of_stock_and_creates_nothing(self):
        category = self.category()
        short = self.tracked(category, stock=1)
        spare = self.tracked(category, amount=1450, stock=20)
        plan = self.plan_of(short, quantity=2)
        customer = self.make.customer()

        r = self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": plan["id"]},
                          idempotency_key=str(uuid.uuid4()))
        doc = self.assertProblem(r, 409, "out_of_stock")
        self.assertEqual(doc["skus"], [short["sku"]])
        self.assertIn({"product": spare["id"], "name": spare["name"], "available": 20, "amount": 1450,
                       "currency": "usd"}, doc["alternatives"])
        self.assertEqual(self.list_all("/v1/subscriptions", {"customer": customer["id"]}), [])
        self.assertEqual(self.list_all("/v1/shipments", {"customer": customer["id"]}), [])
        self.assertEqual((self.stock(short["sku"])["reserved"], len(self.movements(short["sku"]))), (0, 1))

        # An untracked product never blocks a signup.
        untracked = self.plan_of(self.make.product(category=category), quantity=5)
        self.assertEqual(self.make.subscription(plan=untracked, customer=customer)["status"], "active")

    def test_a_subscription_reserves_a_pending_shipment_and_shipping_takes_the_stock(self):
        product = self.tracked(stock=10)
        sku = product["sku"]
        customer = self.make.customer()  # with a card: paid at signup
        sub = self.make.subscription(plan=self.plan_of(product, quantity=2, amount=2400), customer=customer)

        [shp] = self.shipments_of(sub)
        self.assertRegex(shp["id"], r"^shp_[0-9a-z]{26}$")
        self.assertEqual((shp["object"], shp["subscription"], shp["customer"], shp["period_seq"], shp["status"],
                          shp["value"], shp["currency"], shp["backorder_choice"], shp["tracking_number"]),
                         ("shipment", sub["id"], customer["id"], 1, "pending", 2400, "usd", None, None))
        self.assertEqual(shp["items"], [{"product": product["id"], "sku": sku, "name": product["name"], "quantity": 2,
                                         "reserved": 2, "backordered": 0, "tracked": True, "swapped_from": None}])
        self.assertEqual(shp["address"]["line1"], "1 Main St")
        stock = self.stock(sku)
        self.assertEqual((stock["on_hand"], stock["reserved"], stock["available"]), (10, 2, 8))
        [reservation] = self.movements(sku, kind="reservation")
        self.assertEqual((reservation["reserved_delta"], reservation["on_hand_delta"], reservation["reference"],
                          reservation["actor"]), (2, 0, shp["id"], {"type": "system", "id": "scheduler", "role": None}))
        self.assertIn(shp["id"], [s["id"] for s in self.list_all("/v1/shipments", {"customer": customer["id"],
                                                                                  "status": "pending"})])

        self.pay_first_invoice(sub)
        got = self.api.get(f"/v1/shipments/{shp['id']}")
        self.assertStatus(got, 200)
        version = self.etag_version(got)

        r = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "ready", "version": version})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], self.etag_version(r)), ("ready", version + 1))
        self.assertEqual(self.stock(sku)["on_hand"], 10)
        stale = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "shipped", "version": version})
        self.assertEqual(self.assertProblem(stale, 409, "version_conflict")["current_version"], version + 1)

        r = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "shipped", "tracking_number": "1Z999AA10123456784"},
                           headers={"If-Match": f'"{version + 1}"'})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["tracking_number"]), ("shipped", "1Z999AA10123456784"))
        stock = self.stock(sku)
        self.assertEqual((stock["on_hand"], stock["reserved"], stock["available"]), (8, 0, 8))
        [shipped] = self.movements(sku, kind="shipment")
        self.assertEqual((shipped["on_hand_delta"], shipped["reserved_delta"], shipped["reference"]), (-2, -2, shp["id"]))
        self.assertIn(shp["id"], [s["id"] for s in self.list_all("/v1/shipments", {"status": "shipped",
                                                                                  "customer": customer["id"]})])
        # The box's invoice comes with it on asking (a "ship paid boxes" job needs no second call).
        got = self.api.get(f"/v1/shipments/{shp['id']}", params={"expand[]": "invoice"})
        self.assertStatus(got, 200)
        invoice = got.json()["invoice"]
        self.assertEqual((invoice["object"], invoice["subscription"], invoice["status"]),
                         ("invoice", shp["subscription"], "paid"))
        # A carrier's tracking number finds its shipment in one call.
        found = self.list_all("/v1/shipments", {"tracking_number": "1Z999AA10123456784", "customer": customer["id"]})
        self.assertEqual([s["id"] for s in found], [shp["id"]])
        self.assertEqual(self.list_all("/v1/shipments", {"tracking_number": "1Z-NONE", "customer": customer["id"]}), [])

        self.assertProblem(self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "ready"}), 409,
                           "invalid_shipment_transition")
        self.assertProblem(self.api.post(f"/v1/shipments/{shp['id']}/backorder-choice", {"choice": "wait"}), 409,
                           "shipment_not_backordered")

        # A unit comes back from the box.
        r = self.api.post(f"/v1/inventory/{sku}/returns", {"quantity": 1, "shipment": shp["id"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["on_hand"], 9)
        [back] = self.movements(sku, kind="return")
        self.assertEqual((back["on_hand_delta"], back["reference"]), (1, shp["id"]))

    def test_cancelling_a_pending_shipment_releases_its_reservation(self):
        product = self.tracked(stock=3)
        sub = self.make.subscription(plan=self.plan_of(product, quantity=3))
        [shp] = self.shipments_of(sub)
        self.assertEqual(self.stock(product["sku"])["available"], 0)
        r = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "canceled"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "canceled")
        stock = self.stock(product["sku"])
        self.assertEqual((stock["on_hand"], stock["reserved"], stock["available"]), (3, 0, 3))
        [release] = self.movements(product["sku"], kind="release")
        self.assertEqual((release["reserved_delta"], release["reference"]), (-3, shp["id"]))

    def test_a_shipment_carries_its_invoice_and_paid_so_shipping_paid_boxes_is_one_list_call(self):
        product = self.tracked(stock=10)
        customer = self.make.customer(card=None)  # no card yet: the first invoice stays open
        sub = self.make.subscription(plan=self.plan_of(product, amount=2400), customer=customer)
        self.assertEqual(sub["status"], "incomplete")
        [inv] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        self.assertEqual(inv["status"], "open")
        [shp] = self.shipments_of(sub)
        self.assertEqual((shp["invoice"], shp["paid"], shp["version"]), (inv["id"], False, 1))
        mine = {"customer": customer["id"]}
        self.assertEqual([s["id"] for s in self.list_all("/v1/shipments", dict(mine, paid="false"))], [shp["id"]])
        self.assertEqual(self.list_all("/v1/shipments", dict(mine, paid="true")), [])
        self.assertEqual([s["id"] for s in self.list_all("/v1/shipments", {"invoice": inv["id"]})], [shp["id"]])
        self.assertProblem(self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "ready"}), 409, "period_unpaid")

        # A card pays the open invoice at once; the box is paid in the same step.
        r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_visa"})
        self.assertStatus(r, 201)
        self.assertEqual(self.api.get(f"/v1/invoices/{inv['id']}").json()["status"], "paid")
        got = self.api.get(f"/v1/shipments/{shp['id']}")
        self.assertStatus(got, 200)
        self.assertEqual((got.json()["invoice"], got.json()["paid"], self.etag_version(got)), (inv["id"], True, 2))
        self.assertEqual(self.list_all("/v1/shipments", dict(mine, paid="false")), [])

        # The job: every paid box still to ship, with its invoice, in one call; then ship it.
        r = self.api.get("/v1/shipments", params=dict(mine, status="pending,ready", paid="true",
                                                      **{"expand[]": "invoice"}))
        self.assertStatus(r, 200)
        [due] = r.json()["data"]
        self.assertEqual((due["id"], due["invoice"]["id"], due["invoice"]["status"]), (shp["id"], inv["id"], "paid"))
        r = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "ready", "version": 2})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["paid"]), ("ready", True))
        self.assertEqual([s["id"] for s in self.list_all("/v1/shipments", {"invoice": inv["id"], "paid": "true"})],
                         [shp["id"]])

    def test_a_period_that_owes_nothing_ships_paid_from_the_start(self):
        product = self.tracked(stock=2)
        sub = self.make.subscription(plan=self.plan_of(product, amount=0))
        [inv] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        [shp] = self.shipments_of(sub)
        self.assertEqual((inv["status"], shp["invoice"], shp["paid"], shp["version"]), ("paid", inv["id"], True, 1))
        r = self.api.patch(f"/v1/shipments/{shp['id']}", {"status": "ready"})
        self.assertStatus(r, 200)


class ValidationAndAccessTest(InventoryCase):
    # Bodies and queries Prism would refuse itself go straight to the server (self.raw).

    def test_bad_bodies_and_queries_are_422_and_change_nothing(self):
        product = self.tracked(stock=2)
        sku = product["sku"]
        sub = self.make.subscription(plan=self.plan_of(product))
        [shp] = self.shipments_of(sub)

        cases = [
            ("POST", f"/v1/inventory/{sku}/receipts", {"quantity": 0}, {"quantity": "out_of_range"}),
            ("POST", f"/v1/inventory/{sku}/receipts", {"quantity": 1, "colour": "red"}, {"colour": "unknown_field"}),
            ("POST", f"/v1/inventory/{sku}/returns", {}, {"quantity": "required"}),
            ("POST", f"/v1/inventory/{sku}/adjustments", {"quantity_delta": 0, "reason": "x"},
             {"quantity_delta": "out_of_range"}),
            ("POST", f"/v1/inventory/{sku}/adjustments", {"quantity_delta": 1}, {"reason": "required"}),
            ("PATCH", f"/v1/inventory/{sku}", {"low_stock_threshold": -1}, {"low_stock_threshold": "out_of_range"}),
            ("PATCH", f"/v1/inventory/{sku}", {"low_stock_threshold": 0}, {"low_stock_threshold": "out_of_range"}),
            ("PATCH", f"/v1/inventory/{sku}", {"alert_email": "nope"}, {"alert_email": "invalid_email"}),
            ("PATCH", f"/v1/shipments/{shp['id']}", {"status": "pending"}, {"status": "invalid_value"}),
            ("POST", f"/v1/shipments/{shp['id']}/backorder-choice", {"choice": "later"}, {"choice": "invalid_value"}),
        ]
        for method, path, body, fields in cases:
            with self.subTest(method=method, path=path, body=body):
                doc = self.assertProblem(self.raw.request(method, path, json_body=body), 422, "validation_failed")
                self.assertFieldErrors(doc, fields)

        for path, params, field in [
            ("/v1/inventory", {"low_stock": "maybe"}, "low_stock"),
            (f"/v1/inventory/{sku}/movements", {"kind": "theft"}, "kind"),
            (f"/v1/products/{product['id']}/availability", {"quantity": "0"}, "quantity"),
            (f"/v1/products/{product['id']}/availability", {"date": "next tuesday"}, "date"),
            ("/v1/shipments", {"status": "lost"}, "status"),
            ("/v1/shipments", {"paid": "yes"}, "paid"),
            ("/v1/shipments", {"invoice": "INV-000001"}, "invoice"),
        ]:
            with self.subTest(path=path, params=params):
                doc = self.assertProblem(self.raw.get(path, params=params), 422, "validation_failed")
                self.assertEqual([e["field"] for e in doc["errors"]], [field])

        # The filters' errors say what they take.
        doc = self.assertProblem(self.raw.get("/v1/shipments", params={"paid": "yes"}), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["message"], "paid takes true or false")
        doc = self.assertProblem(self.raw.get("/v1/shipments", params={"invoice": "INV-000001"}), 422,
                                 "validation_failed")
        self.assertIn("an invoice's id (in_", doc["errors"][0]["message"])

        # Valid to the schema, refused by the server's rules: checked through Prism too.
        doc = self.assertProblem(self.api.post(f"/v1/shipments/{shp['id']}/backorder-choice", {"choice": "swap"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"item": "required", "swap_to": "required"})
        doc = self.assertProblem(self.api.get(f"/v1/inventory/{sku}/movements", params={"colour": "red"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"colour": "unknown_parameter"})

        stock = self.stock(sku)
        self.assertEqual((stock["on_hand"], stock["reserved"], stock["low_stock_threshold"], stock["alert_email"]),
                         (2, 1, None, None))
        self.assertEqual(self.api.get(f"/v1/shipments/{shp['id']}").json()["status"], "pending")

    def test_permissions_by_role(self):
        product = self.tracked(stock=2)
        sku = product["sku"]
        sub = self.make.subscription(plan=self.plan_of(product))
        [shp] = self.shipments_of(sub)
        analyst, support, inventory = Api("analyst"), Api("support"), Api("inventory")

        # analyst: reads stock and shipments, changes neither.
        self.assertStatus(analyst.get(f"/v1/inventory/{sku}"), 200)
        self.assertStatus(analyst.get(f"/v1/shipments/{shp['id']}"), 200)
        self.assertProblem(analyst.post(f"/v1/inventory/{sku}/receipts", {"quantity": 5}), 403, "permission_denied")
        self.assertProblem(analyst.patch(f"/v1/inventory/{sku}", {"low_stock_threshold": 1}), 403, "permission_denied")
        self.assertProblem(analyst.patch(f"/v1/shipments/{shp['id']}", {"status": "canceled"}), 403,
                           "permission_denied")
        # support: shipments, not stock.
        self.assertProblem(support.get("/v1/inventory"), 403, "permission_denied")
        self.assertProblem(support.get(f"/v1/inventory/{sku}/movements"), 403, "permission_denied")
        self.assertStatus(support.get("/v1/shipments", params={"subscription": sub["id"]}), 200)
        self.assertProblem(support.post(f"/v1/shipments/{shp['id']}/backorder-choice", {"choice": "wait"}), 409,
                           "shipment_not_backordered")  # allowed in: refused by the shipment's state
        # inventory: stock and shipments; availability through catalog:read.
        self.receive(sku, 5, api=inventory)
        self.assertStatus(inventory.get("/v1/shipments", params={"subscription": sub["id"]}), 200)
        self.assertStatus(inventory.get(f"/v1/products/{product['id']}/availability"), 200)
        self.assertStatus(support.get(f"/v1/products/{product['id']}/availability"), 200)

        stock = self.stock(sku)
        self.assertEqual((stock["on_hand"], stock["low_stock_threshold"]), (7, None))
        self.assertEqual(self.api.get(f"/v1/shipments/{shp['id']}").json()["status"], "pending")
