"""Gift subscriptions end to end (api/openapi.yaml, tags Gifts; docs/subscription-boxes.md,
"Gifts"): a purchaser pays once, on one invoice charged in the request, for N deliveries of
a plan; the recipient is e-mailed a claim code at `send_at` (read here from a real SMTP
server's maildir); the claim starts a prepaid subscription whose boxes that invoice paid
for; after the last box it ends (`gift_ended`) unless converted to a paid subscription.

Runs on its own test-mode server (billing_server.py) that sends e-mail, so the clock is
this module's alone; every test reads the time from it and only moves it forward.
"""
from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parseaddr

import billing_server
from billing_server import TestModeApi, TestModeCase
from recur_api import add_months_to_anchor, format_time, parse_time, round_half_up, unique
from wait_for import poll

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CLAIM_CODE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")
# Well-formed, never issued: past Prism, unknown to the server.
UNKNOWN_PLAN = "plan_00000000000000000000000000"
UNKNOWN_PAYMENT_METHOD = "pmt_00000000000000000000000000"
PLAN_PRICE = 2400
PERCENT_OFF = 15


def setUpModule():
    billing_server.setUpModule(mail=True)


def tearDownModule():
    billing_server.tearDownModule()


def typed(code: str) -> str:
    """The code as a person types it: lower case, spaces for the dashes."""
    return code.lower().replace("-", " ")


class GiftCase(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=PLAN_PRICE)

    # -- fixtures

    def coupon(self, percent_off=PERCENT_OFF) -> dict:
        r = self.api.post("/v1/coupons", {"name": unique("Gift coupon"), "percent_off": percent_off})
        self.assertStatus(r, 201)
        return r.json()

    def recipient(self, **fields) -> dict:
        body = {"name": "Ada Byron", "email": f"{unique('gift').lower()}@example.com",
                "shipping_address": {"line1": "12 Analytical Row", "city": "London", "postal_code": "N1 9GU",
                                     "country": "GB"}}
        body.update(fields)
        return body

    def gift_body(self, purchaser: dict, deliveries: int, **fields) -> dict:
        body = {"purchaser": purchaser["id"], "plan": self.plan["id"], "deliveries": deliveries,
                "recipient": self.recipient(), "message": "Happy birthday!"}
        body.update(fields)
        return body

    def create_gift(self, purchaser: dict, deliveries: int, **fields) -> dict:
        r = self.api.post("/v1/gifts", self.gift_body(purchaser, deliveries, **fields))
        self.assertStatus(r, 201)
        return r.json()

    def gift(self, gift: dict) -> dict:
        r = self.api.get(f"/v1/gifts/{gift['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def claim(self, code: str, **fields) -> dict:
        r = self.api.post("/v1/gifts/claim", dict(claim_code=code, **fields))
        self.assertStatus(r, 200)
        return r.json()

    def customer(self, cid: str) -> dict:
        r = self.api.get(f"/v1/customers/{cid}")
        self.assertStatus(r, 200)
        return r.json()

    def sub_by_id(self, sid: str) -> dict:
        return self.subscription({"id": sid})

    def gifts_of(self, purchaser: dict, **params) -> list[dict]:
        return self.list_all("/v1/gifts", dict(params, purchaser=purchaser["id"]))

    def invoices_of(self, cid: str) -> list[dict]:
        return self.list_all("/v1/invoices", {"customer": cid})

    def notifications(self, **params) -> list[dict]:
        """The delivery records of the gift templates, through Prism (their templates are in
        the spec's NotificationTemplate)."""
        r = self.api.get("/v1/notifications", params=dict(params, limit=100))
        self.assertStatus(r, 200)
        self.assertFalse(r.json()["has_more"])
        return r.json()["data"]

    def event_types(self, resource: str) -> list[str]:
        return [e["type"] for e in self.list_all("/v1/events", {"resource": resource})]

    # -- e-mail

    def mails_to(self, address: str) -> list:
        return [m for m in billing_server.SERVER.messages() if parseaddr(m["To"] or "")[1] == address]

    def wait_for_mail(self, address: str, subject: str):
        """The one e-mail to `address` whose subject holds `subject`, once it arrived (the
        outbox sends on the test clock: the caller has moved it)."""
        def mailed():
            return [m for m in self.mails_to(address) if subject in (m["Subject"] or "")]
        self.assertTrue(poll(lambda: len(mailed()) >= 1, 10),
                        f"no e-mail with {subject!r} to {address}: "
                        f"{[(m['To'], m['Subject']) for m in billing_server.SERVER.messages()]}")
        found = mailed()
        self.assertEqual(len(found), 1, [m["Subject"] for m in found])
        return found[0]

    def claimed_gift(self, deliveries: int, purchaser: dict | None = None, **claim_fields):
        """A gift sold now and claimed at once: (gift as claimed, its subscription)."""
        gift = self.create_gift(purchaser or self.make.customer(card="pm_card_visa"), deliveries)
        self.assertEqual(gift["status"], "sent", gift)
        claimed = self.claim(gift["claim_code"], **claim_fields)
        self.assertEqual(claimed["status"], "claimed", claimed)
        return claimed, self.sub_by_id(claimed["subscription"])


class GiftSaleTest(GiftCase):

    def test_a_gift_is_sold_on_one_invoice_charged_at_once_less_the_coupon(self):
        purchaser = self.make.customer(card="pm_card_visa", name="Grace Hopper")
        coupon = self.coupon()
        now = self.now()
        body = self.gift_body(purchaser, 3, coupon=coupon["id"], metadata={"order": "G-1"})
        key = unique("gift-key")
        r = self.api.post("/v1/gifts", body, idempotency_key=key)
        self.assertStatus(r, 201)
        gift = r.json()

        full = 3 * PLAN_PRICE
        discount = round_half_up(full * PERCENT_OFF, 100)
        self.assertRegex(gift["id"], r"^gift_[0-9a-z]{26}$")
        self.assertEqual((gift["object"], gift["purchaser"], gift["plan"], gift["quantity"], gift["deliveries"],
                          gift["amount"], gift["currency"], gift["message"], gift["metadata"]),
                         ("gift", purchaser["id"], self.plan["id"], 1, 3, full - discount, "usd", "Happy birthday!",
                          {"order": "G-1"}))
        self.assertEqual(gift["recipient"], {**body["recipient"],
                                             "shipping_address": {**body["recipient"]["shipping_address"],
                                                                  "line2": None, "state": None}})
        # No send_at: due now, and paid in the request, so sent in it.
        self.assertEqual(gift["status"], "sent", gift)
        self.assertEqual(parse_time(gift["send_at"]), now)
        self.assertEqual(parse_time(gift["sent_at"]), now)
        self.assertEqual(parse_time(gift["expires_at"]), now + timedelta(days=365))
        self.assertRegex(gift["claim_code"], CLAIM_CODE)
        self.assertRegex(gift["notification"] or "", r"^ntf_[0-9a-z]{26}$")
        self.assertEqual((gift["subscription"], gift["recipient_customer"], gift["claimed_at"],
                          gift["ending_reminded"]), (None, None, None, False))
        # A read shows everything but the code, which only the sale's answer and the e-mail carry.
        self.assertEqual(self.gift(gift), dict(gift, claim_code=None))

        # The purchaser's one invoice: paid, a gift's, the plan's price for every box less the coupon.
        inv = self.invoice({"id": gift["invoice"]})
        self.assertEqual((inv["status"], inv["billing_reason"], inv["customer"], inv["subscription"],
                          inv["currency"]), ("paid", "gift", purchaser["id"], None, "usd"))
        self.assertEqual((inv["subtotal"], inv["discount"], inv["total"], inv["amount_paid"], inv["amount_due"]),
                         (full, discount, full - discount, full - discount, 0))
        [line] = inv["lines"]
        self.assertEqual((line["amount"], line["quantity"]), (full, 3))
        self.assertEqual(line["description"], f"Gift: {self.plan['name']} × 1, 3 deliveries")
        [pay] = self.payments(inv)
        self.assertEqual((pay["status"], pay["amount"], pay["customer"], pay["payment_method"]),
                         ("succeeded", full - discount, purchaser["id"], purchaser["default_payment_method"]))
        self.assertEqual([i["id"] for i in self.invoices_of(purchaser["id"])], [inv["id"]])

        # A retry under the same key answers the same gift and charges nothing more.
        again = self.api.post("/v1/gifts", body, idempotency_key=key)
        self.assertStatus(again, 201)
        self.assertEqual(again.json()["id"], gift["id"])
        self.assertEqual([g["id"] for g in self.gifts_of(purchaser)], [gift["id"]])
        self.assertEqual(len(self.payments(inv)), 1)
        self.assertEqual(self.event_types(gift["id"]), ["gift.sent", "gift.created"])


class GiftDeliveryTest(GiftCase):

    def test_a_gift_waits_for_send_at_then_the_recipient_is_mailed_the_code(self):
        purchaser = self.make.customer(card="pm_card_visa", name="Grace Hopper")
        now = self.now()
        send_at = now + 2 * DAY
        gift = self.create_gift(purchaser, 2, send_at=format_time(send_at))
        recipient = gift["recipient"]["email"]
        self.assertEqual(gift["status"], "pending", gift)
        self.assertEqual(parse_time(gift["send_at"]), send_at)
        self.assertEqual((gift["sent_at"], gift["notification"]), (None, None))
        self.assertEqual(parse_time(gift["expires_at"]), send_at + timedelta(days=365))
        self.assertEqual(self.invoice({"id": gift["invoice"]})["status"], "paid", "charged at once, sent later")

        # A day on: the outbox ran (the purchaser's receipt went out), the gift did not.
        self.advance(now + DAY)
        self.wait_for_mail(purchaser["email"], "Your receipt")
        self.assertEqual(self.gift(gift)["status"], "pending")
        self.assertEqual(self.mails_to(recipient), [])
        self.assertEqual(self.notifications(resource=gift["id"], template="gift_received"), [])

        # Past send_at: sent, at send_at (the clock stops there), and the recipient has the code.
        self.advance(send_at + HOUR)
        sent = self.gift(gift)
        self.assertEqual(sent["status"], "sent", sent)
        self.assertEqual(parse_time(sent["sent_at"]), send_at)
        self.assertIsNone(sent["claim_code"])  # reads never show the code
        mail = self.wait_for_mail(recipient, self.plan["name"])
        self.assertIn("Grace Hopper", mail["Subject"])
        text = mail.get_body(("plain",)).get_content()
        self.assertIn(gift["claim_code"], text)
        self.assertIn(f"https://shop.example.com/gift?code={gift['claim_code']}", text)
        self.assertIn("Happy birthday!", text)
        self.assertIn(format_time(send_at + timedelta(days=365))[:10], text)  # claim it by
        self.assertIn(gift["claim_code"], mail.get_body(("html",)).get_content())
        # Once, and only to the recipient.
        [record] = self.notifications(resource=gift["id"], template="gift_received")
        self.assertEqual((record["id"], record["to"], record["status"]), (sent["notification"], recipient, "sent"))
        self.assertNotIn(gift["claim_code"], record["text"], "the code is kept out of the stored body")
        self.assertNotIn(gift["claim_code"], record["html"] or "", "the code is kept out of the stored body")
        self.advance(send_at + 2 * HOUR)
        self.assertEqual(len([m for m in self.mails_to(recipient) if self.plan["name"] in m["Subject"]]), 1)
        self.assertEqual(len(self.notifications(resource=gift["id"], template="gift_received")), 1)
        self.assertEqual(self.event_types(gift["id"]), ["gift.sent", "gift.created"])


class GiftClaimTest(GiftCase):

    def test_the_code_as_typed_claims_a_prepaid_subscription_once(self):
        purchaser = self.make.customer(card="pm_card_visa")
        gift = self.create_gift(purchaser, 3, coupon=self.coupon()["id"])
        self.assertEqual(gift["status"], "sent", gift)
        self.advance(self.now())  # the claim e-mail goes out
        mail = self.wait_for_mail(gift["recipient"]["email"], self.plan["name"])
        # The code as the recipient reads it in the e-mail.
        found = re.search(r"enter the code (\S+) at the shop", mail.get_body(("plain",)).get_content())
        self.assertIsNotNone(found, mail.get_body(("plain",)).get_content())
        code = found.group(1)
        self.assertRegex(code, CLAIM_CODE)
        self.assertEqual(code, gift["claim_code"])
        now = self.now()

        r = self.api.post("/v1/gifts/claim", {"claim_code": typed(code)})
        self.assertStatus(r, 200)
        claimed = r.json()
        self.assertEqual((claimed["id"], claimed["status"]), (gift["id"], "claimed"))
        self.assertRegex(claimed["subscription"] or "", r"^sub_[0-9a-z]{26}$")
        self.assertRegex(claimed["recipient_customer"] or "", r"^cus_[0-9a-z]{26}$")
        self.assertNotEqual(claimed["recipient_customer"], purchaser["id"])
        self.assertEqual(parse_time(claimed["claimed_at"]), now)
        self.assertEqual(claimed["version"], gift["version"] + 1)
        self.assertEqual(self.gift(gift), claimed)

        # The recipient became a customer, from the gift's name, e-mail and address.
        recipient = self.customer(claimed["recipient_customer"])
        self.assertEqual((recipient["email"], recipient["name"]),
                         (gift["recipient"]["email"], gift["recipient"]["name"]))
        self.assertEqual((recipient["shipping_address"]["line1"], recipient["shipping_address"]["country"]),
                         ("12 Analytical Row", "GB"))

        # Its subscription: the gift's, every box paid by the purchaser's invoice.
        sub = self.sub_by_id(claimed["subscription"])
        self.assertEqual((sub["status"], sub["customer"], sub["plan"], sub["quantity"]),
                         ("active", recipient["id"], self.plan["id"], 1))
        self.assertEqual(sub["gift"], {"id": gift["id"], "converted": False, "converted_at": None})
        self.assertEqual(sub["prepaid"]["invoice"], gift["invoice"])
        self.assertEqual((sub["prepaid"]["deliveries"], sub["prepaid"]["remaining"]), (3, 2))
        self.assertEqual(sub["current_period_amount"], 0)
        self.assertEqual(parse_time(sub["current_period"]["start"]), now)
        self.assertFalse(sub["cancel_at_period_end"], "two boxes are still to come")
        self.assertEqual(self.invoices_of(recipient["id"]), [], "the recipient is invoiced nothing")
        self.assertEqual([i["id"] for i in self.invoices_of(purchaser["id"])], [gift["invoice"]])
        [box] = self.list_all("/v1/shipments", {"subscription": sub["id"]})
        self.assertEqual((box["invoice"], box["paid"], box["address"]["line1"]),
                         (gift["invoice"], True, "12 Analytical Row"))
        self.assertEqual([g["id"] for g in self.gifts_of(purchaser, status="claimed")], [gift["id"]])
        self.assertEqual(self.gifts_of(purchaser, status="sent"), [])

        # Claimed once: the code again, in any form, is a conflict; nothing more is made.
        for again in (code, typed(code)):
            doc = self.assertProblem(self.api.post("/v1/gifts/claim", {"claim_code": again}), 409, "gift_claimed")
            self.assertNotIn(code, doc["detail"])
        self.assertEqual(self.gift(gift), claimed)
        self.assertEqual([s["id"] for s in self.list_all("/v1/subscriptions", {"customer": recipient["id"]})],
                         [sub["id"]])
        self.assertEqual(self.event_types(gift["id"]), ["gift.claimed", "gift.sent", "gift.created"])

    def test_a_code_no_gift_has_is_not_found(self):
        for code in ("AAAA-AAAA-AAAA-AAAA", "zzzz zzzz zzzz zzzz", "not a code"):
            self.assertProblem(self.api.post("/v1/gifts/claim", {"claim_code": code}), 404, "gift_not_found")


class GiftConversionTest(GiftCase):

    def test_a_gift_claimed_by_a_customer_with_a_card_carries_on_paid_after_converting(self):
        recipient = self.make.customer(card="pm_card_visa")
        first_card = recipient["default_payment_method"]
        second = self.attach(recipient, "pm_card_mastercard")
        self.assertFalse(second["default"])
        gift = self.create_gift(self.make.customer(card="pm_card_visa"), 2)
        claimed = self.claim(typed(gift["claim_code"]), customer=recipient["id"])
        self.assertEqual(claimed["recipient_customer"], recipient["id"])
        sub = self.sub_by_id(claimed["subscription"])
        self.assertEqual((sub["customer"], sub["gift"]["converted"], sub["prepaid"]["remaining"]),
                         (recipient["id"], False, 1))

        # A payment method the customer does not have is refused, and nothing changes.
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {"payment_method": UNKNOWN_PAYMENT_METHOD})
        self.assertProblem(r, 422, "payment_method_not_found")
        self.assertEqual(self.sub_by_id(sub["id"]), sub)

        now = self.now()
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {"payment_method": second["id"]})
        self.assertStatus(r, 200)
        converted = r.json()
        self.assertEqual(converted["gift"]["id"], gift["id"])
        self.assertTrue(converted["gift"]["converted"])
        self.assertEqual(parse_time(converted["gift"]["converted_at"]), now)
        self.assertEqual((converted["status"], converted["cancel_at_period_end"], converted["cancellation"]),
                         ("active", False, None))
        self.assertEqual(self.sub_by_id(sub["id"]), converted)
        # The chosen card is the customer's default from now on.
        self.assertNotEqual(second["id"], first_card)
        self.assertEqual(self.customer(recipient["id"])["default_payment_method"], second["id"])

        # Converted already: a conflict, with or without a payment method.
        self.assertProblem(self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {"payment_method": second["id"]}),
                           409, "not_a_gift")
        self.assertProblem(self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {}), 409, "not_a_gift")
        self.assertEqual(self.sub_by_id(sub["id"]), converted)

        # The gift's two boxes cost the recipient nothing; the third is charged to the chosen card.
        anchor = parse_time(sub["current_period"]["start"])
        self.advance(add_months_to_anchor(anchor, 1) + HOUR)
        self.assertEqual(self.invoices_of(recipient["id"]), [])
        self.advance(add_months_to_anchor(anchor, 2) + HOUR)
        [inv] = self.invoices_of(recipient["id"])
        self.assertEqual((inv["status"], inv["total"], inv["subscription"]), ("paid", PLAN_PRICE, sub["id"]))
        self.assertEqual(parse_time(inv["period"]["start"]), add_months_to_anchor(anchor, 2))
        [pay] = self.payments(inv)
        self.assertEqual(pay["payment_method"], second["id"])
        self.assertEqual(self.sub_by_id(sub["id"])["status"], "active")

    def test_a_paid_subscription_is_not_a_gift(self):
        sub = self.make.subscription(plan=self.plan, customer=self.make.customer(card="pm_card_visa"))
        self.assertProblem(self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {}), 409, "not_a_gift")


class GiftEndTest(GiftCase):

    def test_a_gift_run_out_ends_its_subscription_unless_converted(self):
        now = self.now()
        claimed, sub = self.claimed_gift(1)
        # The only box is the last: both were told, and the subscription ends after it.
        self.assertTrue(claimed["ending_reminded"], claimed)
        self.assertEqual((sub["status"], sub["prepaid"]["remaining"], sub["current_period_amount"]), ("active", 0, 0))
        self.assertTrue(sub["cancel_at_period_end"], sub)
        self.assertEqual(sub["cancellation"]["reason"], "gift_ended")
        period_end = parse_time(sub["current_period"]["end"])
        self.assertEqual(period_end, add_months_to_anchor(now, 1))
        self.assertEqual(len(self.notifications(resource=sub["id"], template="gift_ending")), 1)
        self.assertEqual(len(self.notifications(resource=claimed["id"], template="gift_ending_purchaser")), 1)

        # Its end is not withdrawn by reactivate: a gift is converted instead.
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/reactivate", {})
        doc = self.assertProblem(r, 409, "gift_not_converted")
        self.assertIn("convert", doc["detail"])
        self.assertEqual(self.sub_by_id(sub["id"]), sub)

        # Still on a day before the end; ended a day after it.
        self.advance(period_end - DAY)
        self.assertEqual(self.sub_by_id(sub["id"])["status"], "active")
        self.advance(period_end + DAY)
        ended = self.sub_by_id(sub["id"])
        self.assertEqual(ended["status"], "canceled", ended)
        self.assertEqual(ended["cancellation"]["reason"], "gift_ended")
        self.assertEqual(parse_time(ended["ended_at"]), period_end)
        self.assertEqual(self.invoices_of(sub["customer"]), [], "nothing charged to the recipient")
        self.assertEqual(self.gift(claimed)["status"], "claimed")
        # Ended: too late to convert, even with a card.
        card = self.attach({"id": sub["customer"]}, "pm_card_visa")
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/convert", {"payment_method": card["id"]})
        self.assertProblem(r, 409, "invalid_state_transition")
        self.assertEqual(self.sub_by_id(sub["id"]), ended)


class GiftValidationTest(GiftCase):

    def test_bad_input_stores_nothing_and_the_list_shows_what_was_sold(self):
        purchaser = self.make.customer(card="pm_card_visa")
        good = self.create_gift(purchaser, 2)
        sub_count = len(self.list_all("/v1/subscriptions"))

        # Out of range or missing: refused naming the field (sent direct: Prism refuses these itself).
        for deliveries in (0, 25):
            doc = self.assertProblem(self.raw.post("/v1/gifts", self.gift_body(purchaser, deliveries)), 422,
                                     "validation_failed")
            self.assertIn("deliveries", {e["field"] for e in doc["errors"]}, doc)
        body = self.gift_body(purchaser, 2)
        del body["recipient"]["shipping_address"]
        doc = self.assertProblem(self.raw.post("/v1/gifts", body), 422, "validation_failed")
        self.assertIn("recipient.shipping_address", {e["field"] for e in doc["errors"]}, doc)
        # An unknown plan, through Prism (well-formed): not found, as at a signup.
        doc = self.assertProblem(self.api.post("/v1/gifts", self.gift_body(purchaser, 2, plan=UNKNOWN_PLAN)), 422,
                                 "plan_not_found")
        self.assertFieldErrors(doc, {"plan": "not_found"})
        # A role without subscriptions:write sells nothing.
        self.assertProblem(TestModeApi("analyst").post("/v1/gifts", self.gift_body(purchaser, 2)), 403,
                           "permission_denied")

        self.assertEqual([g["id"] for g in self.gifts_of(purchaser)], [good["id"]])
        self.assertEqual([i["id"] for i in self.invoices_of(purchaser["id"])], [good["invoice"]])
        self.assertEqual(len(self.payments({"id": good["invoice"]})), 1)
        self.assertEqual(len(self.list_all("/v1/subscriptions")), sub_count)
        # The list's filters.
        self.assertEqual(self.gifts_of(purchaser, status="pending"), [])
        self.assertEqual([g["id"] for g in self.gifts_of(purchaser, status="sent")], [good["id"]])
        self.assertEqual(self.gifts_of(self.make.customer(card=None)), [])
        doc = self.assertProblem(self.raw.get("/v1/gifts", params={"status": "lost"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"status": "invalid_value"})
