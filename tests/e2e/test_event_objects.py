"""Every event carries its resource (issue 14): a broad lifecycle on the test clock (sign-up,
trial end, renewals, a failed charge and its recovery, dunning to the end, pause and
resumption, backorders, shipping, a refund, a dispute, stock alerts, purchase orders,
cancellation), then every event stored is read back from GET /v1/events: each has the
resource after the change as `data.object` (docs/events.md), and a change of an existing
resource says what changed in `previous_attributes`."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta

import billing_server
# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import Api, format_time, parse_time, unique

DAY = timedelta(days=1)
SANDBOX_SECRET = "whsec_sandbox"

# Resource types whose object is named otherwise, and the field holding the resource's id.
OBJECT_OF = {"inventory": ("inventory_item", "product"), "billing": ("billing_run", "id")}

# Time-driven steps and facts that used to have no object: each must show up in the run.
EXPECTED_TYPES = {
    "subscription.trial_started", "subscription.trial_ended", "subscription.renewed", "subscription.started",
    "subscription.payment_failed", "subscription.payment_recovered", "subscription.paused",
    "subscription.resumed", "subscription.canceled", "subscription.retention_offered",
    "subscription.retention_declined", "invoice.finalized", "invoice.paid", "invoice.payment_failed",
    "invoice.dunning_exhausted", "payment.succeeded", "payment.failed", "payment.disputed", "refund.created",
    "shipment.created", "shipment.paid", "shipment.ready", "shipment.shipped", "shipment.delivered",
    "shipment.backordered", "shipment.backorder_filled", "inventory.low", "inventory.restocked",
    "inventory.updated", "purchase_order.created", "purchase_order.sent", "purchase_order.received",
    "purchase_order.canceled", "customer.payment_method_attached", "customer.payment_method_detached",
    "settings.dunning_updated",
}


def sandbox_dispute(charge_id: str, amount: int) -> bytes:
    """A Stripe charge.dispute.created event (the sandbox speaks Stripe), compact."""
    dispute = {"id": "dp_" + uuid.uuid4().hex[:20], "object": "dispute", "payment_intent": charge_id,
               "amount": amount, "currency": "usd", "reason": "fraudulent"}
    return json.dumps({"id": "evt_" + uuid.uuid4().hex, "object": "event", "type": "charge.dispute.created",
                       "data": {"object": dispute}}, separators=(",", ":")).encode()


class EventObjectsTest(TestModeCase):

    def setUp(self):
        self.seen: dict[str, dict] = {}

    def sweep(self):
        """Keeps every event GET /v1/events shows now: it shows the last 30 days only, and
        the run moves the clock by months."""
        for e in self.list_all("/v1/events"):
            self.seen[e["id"]] = e

    def advance(self, to):
        self.sweep()
        return super().advance(to)

    def ok(self, r, status=200):
        self.assertStatus(r, status)
        return r.json()

    def tracked(self, stock: int) -> dict:
        product = self.make.product(category=unique("cat"), track_inventory=True, amount=1400, currency="usd")
        if stock:
            self.ok(self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": stock}), 201)
        return product

    def box_plan(self, product: dict, **fields) -> dict:
        return self.ok(self.api.post("/v1/plans", dict(name=unique("Box"), amount=2400, currency="usd",
                                                      interval="month",
                                                      items=[{"product": product["id"], "quantity": 2}], **fields)),
                       201)

    def boxes(self, sub, **params):
        return self.list_all("/v1/shipments", dict(subscription=sub["id"], **params))

    def ship(self, box):
        for status in ("ready", "shipped", "delivered"):
            box = self.ok(self.api.patch(f"/v1/shipments/{box['id']}", {"status": status, "version": box["version"]}))

    def dispute(self, pay):
        body = sandbox_dispute(pay["gateway_reference"], pay["amount"])
        t = int(self.now().timestamp())
        mac = hmac.new(SANDBOX_SECRET.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
        gateway = Api(role=None, direct=True)
        gateway.base = billing_server.SERVER.direct
        r = gateway.request("POST", "/v1/gateway-webhooks/sandbox", raw=body,
                            headers={"Sandbox-Signature": f"t={t},v1={mac}"})
        self.assertStatus(r, 200)

    # ------------------------------------------------------------------ the run

    def stock_and_purchasing(self, product):
        supplier = self.ok(self.api.post("/v1/suppliers", {
            "name": "Hill Roastery", "email": "orders@roastery.example", "lead_time_days": 5,
            "products": [{"product": product["id"], "unit_cost": 650, "currency": "usd"}]}), 201)
        po = self.ok(self.api.post("/v1/purchase-orders", {
            "supplier": supplier["id"], "lines": [{"product": product["id"], "quantity": 20}]}), 201)
        self.ok(self.api.post(f"/v1/purchase-orders/{po['id']}/send", {}))
        self.ok(self.api.post(f"/v1/purchase-orders/{po['id']}/receive",
                              {"lines": [{"product": product["id"], "quantity": 20}]}))
        dropped = self.ok(self.api.post("/v1/purchase-orders", {
            "supplier": supplier["id"], "lines": [{"product": product["id"], "quantity": 5}]}), 201)
        self.ok(self.api.post(f"/v1/purchase-orders/{dropped['id']}/cancel", {}))
        # 20 available: the first box (2) takes it to the threshold.
        self.ok(self.api.patch(f"/v1/inventory/{product['sku']}", {"low_stock_threshold": 18}))

    def trial_renewals_and_a_failed_charge(self, product):
        plan = self.box_plan(product, trial_days=7)
        customer, visa = self.customer_with("pm_card_visa")
        sub = self.make.subscription(plan=plan, customer=customer)
        self.assertEqual(sub["status"], "trialing")
        t0 = self.now()
        self.advance(t0 + 8 * DAY)  # the trial ends: the first box, billed and paid
        [box] = self.boxes(sub)
        self.ship(box)
        # Restocked above the threshold again.
        self.ok(self.api.post(f"/v1/inventory/{product['sku']}/receipts", {"quantity": 10}), 201)

        sub = self.subscription(sub)
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)  # renewed, paid
        renewed = [e for e in self.list_all("/v1/events", {"resource": sub["id"], "type": "subscription.renewed"})]
        now = self.subscription(sub)
        # The scheduler's step shows the subscription as stored: the version GET answers with.
        self.assertEqual(renewed[0]["data"]["object"]["version"], now["version"])
        self.assertEqual(renewed[0]["data"]["object"]["current_period"], now["current_period"])
        self.assertIn("current_period", renewed[0]["data"]["previous_attributes"])

        # A declined card fails the next renewal; a new default card pays it at once.
        declined = self.attach(customer, "pm_card_chargeDeclined", default=True)
        self.advance(parse_time(now["current_period"]["end"]) + timedelta(hours=1))
        self.assertEqual(self.subscription(sub)["status"], "past_due")
        self.attach(customer, "pm_card_visa", default=True)
        self.advance(self.now() + 2 * DAY)
        self.assertEqual(self.subscription(sub)["status"], "active")
        self.assertStatus(self.api.delete(f"/v1/customers/{customer['id']}/payment-methods/{declined['id']}"), 200)

        # A refund, and a dispute of the first charge.
        paid = [i for i in self.invoices(sub) if i["status"] == "paid"]
        first = paid[-1]
        self.ok(self.api.post("/v1/refunds", {"invoice": first["id"], "amount": 500,
                                              "reason": "requested_by_customer"}), 201)
        [charge] = [p for p in self.payments(first) if p["status"] == "succeeded"]
        self.dispute(charge)

        # The dispute paused the subscription (disputes.on_open: pause); resumed by hand.
        sub = self.subscription(sub)
        self.assertEqual(sub["status"], "paused")
        self.ok(self.api.post(f"/v1/subscriptions/{sub['id']}/resume", {}))

        # A pause that ends by itself, offers turned down, a cancellation at period end.
        sub = self.subscription(sub)
        self.ok(self.api.post(f"/v1/subscriptions/{sub['id']}/pause",
                              {"resumes_at": format_time(self.now() + 3 * DAY)}))
        self.advance(self.now() + 4 * DAY)
        self.assertEqual(self.subscription(sub)["status"], "active")
        offers = self.ok(self.api.post(f"/v1/subscriptions/{sub['id']}/cancellation-offers",
                                       {"reason": "too_expensive"}))
        self.ok(self.api.post(f"/v1/subscriptions/{sub['id']}/cancellation-offers/"
                              f"{offers['data'][0]['id']}/decline", {}))
        self.ok(self.api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at": "period_end", "reason": "moving"}))
        sub = self.subscription(sub)
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)
        self.assertEqual(self.subscription(sub)["status"], "canceled")

    def dunning_to_the_end(self):
        self.set_dunning(retry_days=[1], final_action="cancel")
        _, _, sub, renewal = self.renewing_with("pm_card_chargeDeclined", self.box_plan(self.tracked(10)))
        self.advance(renewal)  # the renewal's charge fails
        self.advance(renewal + 2 * DAY)  # so does the one retry: canceled
        self.assertEqual(self.subscription(sub)["status"], "canceled")
        # A signup whose first charge is refused waits incomplete, then expires.
        customer, _ = self.customer_with("pm_card_chargeDeclined")
        sub = self.make.subscription(plan=self.box_plan(self.tracked(10)), customer=customer)
        self.assertEqual(sub["status"], "incomplete")
        self.advance(self.now() + DAY)
        self.assertEqual(self.subscription(sub)["status"], "incomplete_expired")

    def a_backorder_filled(self):
        short = self.tracked(2)
        customer, _ = self.customer_with("pm_card_visa")
        sub = self.make.subscription(plan=self.box_plan(short), customer=customer)
        self.assertEqual(sub["status"], "active")
        self.advance(parse_time(sub["current_period"]["end"]) + DAY)
        [box] = self.boxes(sub, status="backordered")
        self.ok(self.api.post(f"/v1/inventory/{short['sku']}/receipts", {"quantity": 5}), 201)
        self.assertEqual(self.ok(self.api.get(f"/v1/shipments/{box['id']}"))["status"], "pending")

    def test_every_event_has_its_resource_as_data_object(self):
        product = self.tracked(0)
        self.stock_and_purchasing(product)
        self.offer = self.ok(self.api.post("/v1/retention-offers", {
            "reason": "too_expensive", "type": "discount", "description": "20% off your next 3 boxes",
            "percent_off": 20, "duration_in_cycles": 3}), 201)
        self.trial_renewals_and_a_failed_charge(product)
        self.dunning_to_the_end()
        self.a_backorder_filled()
        self.sweep()

        self.assertLessEqual(EXPECTED_TYPES, {e["type"] for e in self.seen.values()})
        for e in self.seen.values():
            with self.subTest(type=e["type"], event=e["id"]):
                obj = e["data"]["object"]
                self.assertIsInstance(obj, dict)
                rtype, rid = e["resource"]["type"], e["resource"]["id"]
                if rtype == "settings":
                    self.assertEqual(obj["object"], f"{rid}_settings")
                    continue
                name, key = OBJECT_OF.get(rtype, (rtype, "id"))
                self.assertEqual((obj["object"], obj[key]), (name, rid))

        # Changes of what existed say what changed; the time-driven ones too.
        for e in self.seen.values():
            if e["type"] in {"subscription.trial_ended", "subscription.renewed", "invoice.paid",
                             "invoice.payment_failed", "payment.succeeded", "payment.failed"}:
                with self.subTest(type=e["type"], event=e["id"]):
                    self.assertTrue(e["data"]["previous_attributes"])
        paid = [e for e in self.seen.values() if e["type"] == "invoice.paid" and e["details"].get("payment")]
        self.assertTrue(paid)
        for e in paid:
            self.assertEqual((e["data"]["object"]["status"], e["data"]["previous_attributes"]["status"]),
                             ("paid", "open"))
