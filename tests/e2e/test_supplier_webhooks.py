"""Supplier webhooks (docs/webhooks.md, Supplier endpoints): a supplier's webhook_url is a
webhook endpoint of its own; a sent purchase order reaches it signed per Standard Webhooks
(checked with the `standardwebhooks` npm package, with the secret from rotate-secret), and
only its own supplier's orders do. The endpoint follows the supplier's URL and cannot be
repointed or deleted through /v1/webhook-endpoints."""
from __future__ import annotations

import json

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import setUpModule, tearDownModule  # noqa: F401
from recur_api import unique
import wait_for
from test_webhooks import ReceiverCase, verify


class SupplierWebhooksTest(ReceiverCase):

    def ok(self, r, status=200):
        self.assertStatus(r, status)
        return r.json()

    def supplier(self, product: dict, path: str | None) -> dict:
        body = {"name": unique("Roastery"), "email": "orders@roastery.example", "lead_time_days": 5,
                "products": [{"product": product["id"], "unit_cost": 650, "currency": "usd"}]}
        if path:
            body["webhook_url"] = self.receiver.url + path
        return self.ok(self.api.post("/v1/suppliers", body), 201)

    def send_order(self, supplier: dict, product: dict) -> dict:
        po = self.ok(self.api.post("/v1/purchase-orders", {
            "supplier": supplier["id"], "lines": [{"product": product["id"], "quantity": 24}]}), 201)
        return self.ok(self.api.post(f"/v1/purchase-orders/{po['id']}/send", {}))

    def test_a_suppliers_webhook_url_gets_its_sent_orders_signed(self):
        product = self.make.product(track_inventory=True)
        hill = self.supplier(product, "/suppliers/hill")
        vale = self.supplier(product, "/suppliers/vale")
        self.assertTrue(hill["webhook_endpoint"].startswith("we_"))

        endpoint = self.ok(self.api.get(f"/v1/webhook-endpoints/{hill['webhook_endpoint']}"))
        self.assertEqual(endpoint["supplier"], hill["id"])
        self.assertEqual(endpoint["url"], self.receiver.url + "/suppliers/hill")
        self.assertEqual(endpoint["enabled_events"], ["purchase_order.sent"])
        self.assertIsNone(endpoint["secret"])
        listed = {e["id"]: e for e in self.list_all("/v1/webhook-endpoints")}
        self.assertEqual(listed[vale["webhook_endpoint"]]["supplier"], vale["id"])

        # The merchant hands the supplier the secret rotate-secret shows.
        rotated = self.ok(self.api.post(f"/v1/webhook-endpoints/{hill['webhook_endpoint']}/rotate-secret", {}))
        secret = rotated["secret"]
        self.assertTrue(secret.startswith("whsec_"))
        merchant = self.ok(self.api.post("/v1/webhook-endpoints", {
            "url": self.receiver.url + "/merchant/all", "enabled_events": ["*"]}), 201)
        self.assertIsNone(merchant["supplier"])

        order = self.send_order(hill, product)
        received = self.receiver.wait("/suppliers/hill", 1)
        self.assertEqual(len(received), 1)
        event = json.loads(received[0]["body"])
        self.assertEqual(event["type"], "purchase_order.sent")
        self.assertEqual(event["data"]["object"]["id"], order["id"])
        self.assertEqual(event["data"]["object"]["supplier"], hill["id"])
        results = verify([{"secret": secret, "request": received[0],
                           "now": int(received[0]["headers"]["webhook-timestamp"])}])
        self.assertTrue(results[0]["ok"], results[0].get("error"))
        # The merchant's `*` endpoint gets it too; the other supplier does not.
        # (It may also get earlier tests' events the pump fans out after it was made.)
        self.assertTrue(wait_for.poll(lambda: event["id"] in [r["headers"]["webhook-id"]
                                                             for r in self.receiver.at("/merchant/all")], 20))
        self.assertEqual(self.receiver.at("/suppliers/vale"), [])
        deliveries = self.list_all(f"/v1/webhook-endpoints/{hill['webhook_endpoint']}/deliveries")
        self.assertEqual([d["event_type"] for d in deliveries], ["purchase_order.sent"])

    def test_a_supplier_endpoint_follows_the_supplier_and_refuses_direct_changes(self):
        product = self.make.product(track_inventory=True)
        supplier = self.supplier(product, "/suppliers/moving")
        endpoint_id = supplier["webhook_endpoint"]
        endpoint = self.ok(self.api.get(f"/v1/webhook-endpoints/{endpoint_id}"))

        r = self.api.patch(f"/v1/webhook-endpoints/{endpoint_id}",
                           {"url": self.receiver.url + "/elsewhere", "version": endpoint["version"]})
        self.assertStatus(r, 409)
        self.assertEqual(r.json()["code"], "supplier_endpoint")
        r = self.api.delete(f"/v1/webhook-endpoints/{endpoint_id}")
        self.assertStatus(r, 409)
        self.assertEqual(r.json()["code"], "supplier_endpoint")
        described = self.ok(self.api.patch(f"/v1/webhook-endpoints/{endpoint_id}",
                                           {"metadata": {"team": "buying"}, "version": endpoint["version"]}))
        self.assertEqual(described["metadata"], {"team": "buying"})

        moved = self.ok(self.api.patch(f"/v1/suppliers/{supplier['id']}", {
            "webhook_url": self.receiver.url + "/suppliers/moved", "version": supplier["version"]}))
        self.assertEqual(moved["webhook_endpoint"], endpoint_id)
        self.assertEqual(self.ok(self.api.get(f"/v1/webhook-endpoints/{endpoint_id}"))["url"],
                         self.receiver.url + "/suppliers/moved")

        cleared = self.ok(self.api.patch(f"/v1/suppliers/{supplier['id']}",
                                         {"webhook_url": None, "version": moved["version"]}))
        self.assertIsNone(cleared["webhook_endpoint"])
        self.assertStatus(self.api.get(f"/v1/webhook-endpoints/{endpoint_id}"), 404)
