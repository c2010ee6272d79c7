"""Backorder choices end to end: a renewal short of stock is backordered on the test-mode
server (the clock moves it to the renewal), and the customer's choice names products by id
or by SKU, as every body that names a product may; the renewal's box is marked paid when the
run's charge of its invoice settles.

The time-driven part needs the test clock, so this module starts its own test-mode server
(billing_server.py) in setUpModule and stops it in tearDownModule.
"""
from __future__ import annotations

from datetime import timedelta

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import parse_time, unique

DAY = timedelta(days=1)


class BackorderChoiceTest(TestModeCase):

    def tracked(self, category: str, stock: int) -> dict:
        product = self.make.product(category=category, track_inventory=True, amount=1400, currency="usd")
        if stock:
            self.assertStatus(self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": stock}), 201)
        return product

    def backordered_box(self):
        """A subscription whose first box took the last two units of `short`: its renewal's
        box is backordered. `spare`, of the same category and price, is in stock."""
        category = unique("cat")
        short, spare = self.tracked(category, 2), self.tracked(category, 5)
        r = self.api.post("/v1/plans", {"name": unique("Box"), "amount": 2400, "currency": "usd", "interval": "month",
                                        "items": [{"product": short["sku"], "quantity": 2}]})  # by SKU
        self.assertStatus(r, 201)
        plan = r.json()
        self.assertEqual(plan["items"], [{"product": short["id"], "quantity": 2}])  # stored by id
        customer, _ = self.customer_with("pm_card_visa")
        sub = self.make.subscription(plan=plan, customer=customer)
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)
        [box] = self.list_all("/v1/shipments", {"subscription": sub["id"], "status": "backordered"})
        self.assertEqual((box["items"][0]["product"], box["items"][0]["backordered"]), (short["id"], 2))
        return box, short, spare

    def test_the_renewal_the_run_charges_makes_a_paid_box_of_its_invoice(self):
        box, _, _ = self.backordered_box()
        [renewal] = [i for i in self.list_all("/v1/invoices", {"subscription": box["subscription"]})
                     if i["period"] == box["period"]]
        # Made unpaid with the renewal, marked paid (version 2) when the run's charge settled.
        self.assertEqual((box["invoice"], box["paid"], box["version"], renewal["status"]),
                         (renewal["id"], True, 2, "paid"))
        due = self.list_all("/v1/shipments", {"subscription": box["subscription"], "paid": "true",
                                              "status": "backordered"})
        self.assertEqual([s["id"] for s in due], [box["id"]])

    def choose(self, box, body, status=200):
        r = self.api.post(f"/v1/shipments/{box['id']}/backorder-choice", body)
        self.assertStatus(r, status)
        return r.json()

    def test_a_swap_names_the_item_and_its_replacement_by_sku(self):
        box, short, spare = self.backordered_box()
        swapped = self.choose(box, {"choice": "swap", "item": short["sku"], "swap_to": spare["sku"]})
        self.assertEqual(swapped["status"], "pending")
        [item] = swapped["items"]
        self.assertEqual((item["product"], item["sku"], item["swapped_from"], item["reserved"]),
                         (spare["id"], spare["sku"], short["id"], 2))

    def test_cancel_item_takes_the_product_id_as_well(self):
        box, short, _ = self.backordered_box()
        canceled = self.choose(box, {"choice": "cancel_item", "item": short["id"]})
        self.assertEqual((canceled["status"], canceled["items"]), ("canceled", []))

    def test_a_key_that_names_no_item_or_no_product_is_422_saying_which_keys_it_takes(self):
        box, short, spare = self.backordered_box()
        doc = self.assertProblem(self.api.post(f"/v1/shipments/{box['id']}/backorder-choice",
                                               {"choice": "cancel_item", "item": spare["sku"]}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"item": "not_found"})
        self.assertIn("id or SKU", doc["errors"][0]["message"])
        doc = self.assertProblem(self.api.post(f"/v1/shipments/{box['id']}/backorder-choice",
                                               {"choice": "swap", "item": short["sku"], "swap_to": "NO-SUCH-SKU"}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"swap_to": "not_found"})
        self.assertIn("id or SKU", doc["errors"][0]["message"])
        r = self.api.get(f"/v1/shipments/{box['id']}")
        self.assertEqual((r.json()["status"], r.json()["version"]), ("backordered", box["version"]))
