"""A subscription's own delivery schedule and its next date over HTTP (issue 18, flexible
schedules): create with `delivery`, change it by PATCH (change-plan's rules, previewed
first), move the next date, and the 422s that change nothing."""
from datetime import timedelta

from recur_api import Api, ApiTestCase, format_time, now, parse_time, unique

DAY = timedelta(days=1)
THURSDAY = 4


class DeliveryScheduleTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.monthly = cls.make.plan(amount=2800)

    def path(self, sub, action=""):
        return f"/v1/subscriptions/{sub['id']}" + (f"/{action}" if action else "")

    def upcoming(self, sub, count=4):
        r = self.api.get(self.path(sub, "upcoming"), params={"count": count})
        self.assertStatus(r, 200)
        return r.json()["data"]

    def history_types(self, sub):
        return [e["type"] for e in self.list_all(self.path(sub, "history"))]

    def test_every_two_weeks_on_thursday_bills_the_plans_price_per_delivery(self):
        delivery = {"interval": "week", "interval_count": 2, "day_of_week": THURSDAY}
        sub = self.make.subscription(plan=self.monthly, delivery=delivery)
        self.assertEqual(sub["delivery"], dict(delivery, day_of_month=None))
        self.assertEqual((sub["status"], sub["current_period_amount"]), ("active", 2800))
        periods = self.upcoming(sub, 5)
        first_end = parse_time(periods[0]["period"]["end"])
        self.assertEqual(first_end.isoweekday(), THURSDAY)
        # The nearest Thursday to two weeks on: never more than 3 days from it.
        start = parse_time(sub["current_period"]["start"])
        self.assertLessEqual(abs((first_end - (start + 14 * DAY)).total_seconds()), 3.5 * 86400)
        for prev, cur in zip(periods[1:], periods[2:]):
            self.assertEqual(parse_time(cur["period"]["start"]) - parse_time(prev["period"]["start"]), 14 * DAY)
        for p in periods:
            self.assertEqual(p["amount"], 2800, p)
            self.assertEqual(parse_time(p["period"]["end"]).isoweekday(), THURSDAY, p)

    def test_a_schedule_that_breaks_the_rules_is_refused_and_nothing_is_created(self):
        customer = self.make.customer()
        bad = {
            "delivery.day_of_week": {"interval": "month", "day_of_week": 2},
            "delivery.day_of_month": {"interval": "month", "day_of_month": 29},
            "delivery.interval_count": {"interval": "week", "interval_count": 53},
            "delivery.interval": {"interval": "fortnight"},
        }
        for field, delivery in bad.items():
            r = self.raw.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                    "delivery": delivery})
            doc = self.assertProblem(r, 422, "validation_failed")
            self.assertIn(field, {e["field"] for e in doc["errors"]}, doc)
        both = {"interval": "week", "day_of_week": 1, "day_of_month": 3}
        r = self.raw.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                "delivery": both})
        self.assertProblem(r, 422, "validation_failed")
        r = self.api.get("/v1/subscriptions", params={"customer": customer["id"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["data"], [])

    def test_patching_the_schedule_is_a_change_of_cadence_as_previewed(self):
        sub = self.make.subscription(plan=self.monthly)
        weekly = {"interval": "week", "interval_count": 1, "day_of_week": 1}
        r = self.api.post(self.path(sub, "change-plan/preview"), {"delivery": weekly})
        self.assertStatus(r, 200)
        preview = r.json()
        self.assertEqual(preview["plan"], self.monthly["id"])
        self.assertEqual(preview["delivery"], dict(weekly, day_of_month=None))
        self.assertTrue(preview["resets_billing_cycle_anchor"])
        self.assertEqual(parse_time(preview["new_period"]["end"]).isoweekday(), 1)
        self.assertEqual(self.api.get(self.path(sub)).json()["version"], sub["version"], "a preview changes nothing")

        # Other fields of a PATCH go in a PATCH of their own; nothing changes.
        r = self.api.patch(self.path(sub), {"delivery": weekly, "metadata": {"a": "b"}, "version": sub["version"]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"metadata": "conflicting"})
        r = self.api.patch(self.path(sub), {"delivery": weekly})
        self.assertProblem(r, 422, "version_required")

        r = self.api.patch(self.path(sub), {"delivery": weekly, "version": sub["version"]})
        self.assertStatus(r, 200)
        changed = r.json()
        self.assertEqual(changed["delivery"], preview["delivery"])
        # The same calendar as previewed, from the request's own "now" (a second or so later).
        end = parse_time(changed["current_period"]["end"])
        self.assertLessEqual(abs((end - parse_time(preview["new_period"]["end"])).total_seconds()), 5)
        self.assertEqual(changed["billing_cycle_anchor"], changed["current_period"]["end"])
        self.assertEqual(changed["billed_periods"], 2)
        self.assertIn("subscription.plan_changed", self.history_types(sub))

        # Back to the plan's cadence at the end of the period: a pending change with delivery null.
        r = self.api.patch(self.path(sub), {"delivery": None, "effective": "period_end", "version": changed["version"]})
        self.assertStatus(r, 200)
        pending = r.json()["pending_plan_change"]
        self.assertEqual((pending["plan"], pending["delivery"]), (self.monthly["id"], None))
        self.assertEqual(pending["effective_at"], changed["current_period"]["end"])

    def test_the_same_schedule_again_is_no_change(self):
        every_10_days = {"interval": "day", "interval_count": 10}
        sub = self.make.subscription(plan=self.monthly, delivery=every_10_days)
        r = self.api.post(self.path(sub, "change-plan"), {"delivery": every_10_days})
        self.assertProblem(r, 422, "no_change")

    def test_moving_the_next_date_moves_the_calendar_and_keeps_skips_in_place(self):
        sub = self.make.subscription(plan=self.monthly)
        before = self.upcoming(sub, 4)
        skipped = before[2]["period"]["start"]  # the second box from now
        r = self.api.post(self.path(sub, "skip"), {"period_start": skipped})
        self.assertStatus(r, 200)
        new_date = format_time(parse_time(before[1]["period"]["start"]) - 9 * DAY)
        r = self.api.post(self.path(sub, "next-date"), {"date": new_date})
        self.assertStatus(r, 200)
        moved = r.json()
        self.assertEqual((moved["current_period"]["end"], moved["billing_cycle_anchor"]), (new_date, new_date))
        after = self.upcoming(sub, 4)
        self.assertEqual(after[1]["period"]["start"], new_date)
        self.assertTrue(after[2]["skipped"], after)
        self.assertEqual(moved["skipped_periods"], [after[2]["period"]["start"]])
        self.assertNotEqual(after[2]["period"]["start"], skipped)
        events = self.list_all(self.path(sub, "history"))
        event = next(e for e in events if e["type"] == "subscription.next_date_moved")
        self.assertEqual(event["details"]["to"], new_date, event)
        self.assertEqual(event["details"]["skips_moved"],
                         [{"from": skipped, "to": after[2]["period"]["start"]}], event)

    def test_a_next_date_too_early_too_late_or_unchanged_is_refused_and_changes_nothing(self):
        sub = self.make.subscription(plan=self.monthly)
        periods = self.upcoming(sub, 3)
        cases = {
            format_time(now()): "invalid_date",            # today (UTC): tomorrow at the earliest
            periods[2]["period"]["start"]: "invalid_date",  # the delivery after next
            periods[1]["period"]["start"]: "no_change",
        }
        for date, code in cases.items():
            r = self.api.post(self.path(sub, "next-date"), {"date": date})
            doc = self.assertProblem(r, 422, code)
            self.assertEqual(doc["errors"][0]["field"], "date", doc)
        r = self.raw.post(self.path(sub, "next-date"), {})  # past Prism, which knows `date` is required
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"date": "required"})
        self.assertEqual(self.api.get(self.path(sub)).json()["version"], sub["version"])
        # An ending subscription has no next date to move.
        r = self.api.post(self.path(sub, "cancel"), {"reason": "moving"})
        self.assertStatus(r, 200)
        r = self.api.post(self.path(sub, "next-date"), {"date": format_time(now() + 5 * DAY)})
        self.assertProblem(r, 409, "subscription_ending")


class BlackoutDateTest(ApiTestCase):
    """The shop's blackout dates: a delivery due on one moves to the next open day."""

    def test_a_blackout_date_moves_the_deliveries_due_that_day_and_is_listed(self):
        plan = self.make.plan(amount=1900, interval="day", interval_count=9)
        sub = self.make.subscription(plan=plan)
        day = sub["current_period"]["end"][:10]  # the next delivery's day
        r = self.api.request("PUT", f"/v1/settings/blackout-dates/{day}", json_body={"reason": "stocktake"})
        self.assertStatus(r, 201)
        put = r.json()
        self.assertEqual((put["object"], put["date"], put["reason"]), ("blackout_date", day, "stocktake"))
        self.assertGreaterEqual(put["deliveries_moved"], 1)
        moved = self.api.get(f"/v1/subscriptions/{sub['id']}").json()
        self.assertEqual(parse_time(moved["current_period"]["end"]), parse_time(sub["current_period"]["end"]) + DAY)
        history = self.list_all(f"/v1/subscriptions/{sub['id']}/history")
        event = next(e for e in history if e["type"] == "subscription.delivery_moved")
        self.assertEqual(event["details"]["from"], sub["current_period"]["end"])
        self.assertEqual(event["details"]["reason"], "blackout_date")
        # Later deliveries keep their days: nine days after the original date.
        periods = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 3}).json()["data"]
        self.assertEqual(parse_time(periods[2]["period"]["start"]), parse_time(sub["current_period"]["end"]) + 9 * DAY)
        # Put again: 200, the reason changes, nothing moves twice.
        r = self.api.request("PUT", f"/v1/settings/blackout-dates/{day}", json_body={"reason": "inventory"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["reason"], r.json()["deliveries_moved"]), ("inventory", 0))
        listed = self.api.get("/v1/settings/blackout-dates").json()["data"]
        self.assertIn(day, [d["date"] for d in listed])
        # The next date cannot be moved onto a closed day.
        other = self.make.subscription(plan=plan)
        r = self.api.post(f"/v1/subscriptions/{other['id']}/next-date", {"date": day + "T12:00:00Z"})
        self.assertIn("blackout date", self.assertProblem(r, 422, "invalid_date")["detail"])
        r = self.api.delete(f"/v1/settings/blackout-dates/{day}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"date": day, "object": "blackout_date", "deleted": True})
        self.assertProblem(self.api.delete(f"/v1/settings/blackout-dates/{day}"), 404, "blackout_date_not_found")

    def test_a_bad_or_past_date_is_refused_and_only_admins_close_the_shop(self):
        for bad in ("2026-13-01", "2026-02-30", "tomorrow", "2026-1-05"):  # past Prism, which checks the format
            r = self.raw.request("PUT", f"/v1/settings/blackout-dates/{bad}", json_body={})
            self.assertProblem(r, 422, "validation_failed")
        past = (now() - 3 * DAY).date().isoformat()
        doc = self.assertProblem(self.api.request("PUT", f"/v1/settings/blackout-dates/{past}", json_body={}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"date": "in_the_past"})
        self.assertNotIn(past, [d["date"] for d in self.api.get("/v1/settings/blackout-dates").json()["data"]])
        support = Api("support")
        future = (now() + 40 * DAY).date().isoformat()
        self.assertProblem(support.request("PUT", f"/v1/settings/blackout-dates/{future}", json_body={}), 403,
                           "permission_denied")
        self.assertStatus(support.get("/v1/settings/blackout-dates"), 200)


class AddOnTest(ApiTestCase):
    """One-time extras for the next box: charged on its invoice, refused when out of stock."""

    def test_an_add_on_waits_for_the_next_box_and_a_short_one_is_refused_with_alternatives(self):
        sku = unique("MUG")
        mug = self.make.product(name="Mug", sku=sku, amount=900, currency="usd", track_inventory=True)
        self.assertStatus(self.api.post(f"/v1/inventory/{sku}/receipts", {"quantity": 3}), 201)
        sub = self.make.subscription(plan=self.make.plan(amount=2400))
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/add-ons", {"product": sku, "quantity": 4})
        doc = self.assertProblem(r, 409, "out_of_stock")
        self.assertIn("alternatives", doc)
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["version"], sub["version"])
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/add-ons", {"product": mug["id"], "quantity": 2,
                                                                     "period": "next"})
        self.assertStatus(r, 200)
        added = r.json()["add_ons"]
        self.assertEqual([(a["product"], a["quantity"], a["unit_amount"], a["currency"]) for a in added],
                         [(mug["id"], 2, 900, "usd")])
        r = self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]})
        self.assertStatus(r, 200)
        upcoming = r.json()
        self.assertIn(1800, [line["amount"] for line in upcoming["lines"]], upcoming["lines"])
        r = self.raw.post(f"/v1/subscriptions/{sub['id']}/add-ons", {"product": "NO-SUCH-SKU"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"product": "not_found"})

        # Taken back before its box: off the subscription and the next invoice.
        r = self.api.delete(f"/v1/subscriptions/{sub['id']}/add-ons/{added[0]['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["add_ons"], [])
        r = self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]})
        self.assertNotIn(1800, [line["amount"] for line in r.json()["lines"]])
        r = self.api.delete(f"/v1/subscriptions/{sub['id']}/add-ons/{added[0]['id']}")
        self.assertProblem(r, 404, "add_on_not_found")


class PrepaidTest(ApiTestCase):
    """Prepaid deliveries: one charge for N boxes, each shipped on the schedule."""

    def test_one_paid_invoice_covers_three_boxes_and_the_calendar_shows_which(self):
        sub = self.make.subscription(plan=self.make.plan(amount=2400), prepaid_deliveries=3)
        self.assertEqual(sub["status"], "active")
        self.assertEqual(sub["prepaid"], {"deliveries": 3, "remaining": 2, "charged_period": 1, "invoice": None})
        self.assertEqual(sub["current_period_amount"], 7200)
        r = self.api.get("/v1/invoices", params={"subscription": sub["id"]})
        self.assertStatus(r, 200)
        invoices = r.json()["data"]
        self.assertEqual([(i["total"], i["status"]) for i in invoices], [(7200, "paid")])
        self.assertEqual(invoices[0]["lines"][0]["description"].split(", ")[-1], "3 prepaid deliveries")
        r = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 5})
        self.assertStatus(r, 200)
        periods = r.json()["data"]
        self.assertEqual([(p["amount"], p["prepaid"]) for p in periods],
                         [(7200, False), (0, True), (0, True), (7200, False), (0, True)])
        # The next invoice is the next charge, three deliveries on.
        r = self.api.get("/v1/invoices/upcoming", params={"subscription": sub["id"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["period"]["start"], periods[3]["period"]["start"])

    def test_the_boxes_paid_for_keep_their_terms_and_bad_counts_change_nothing(self):
        sub = self.make.subscription(plan=self.make.plan(amount=2400), prepaid_deliveries=2)
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/change-plan", {"quantity": 2})
        self.assertProblem(r, 409, "prepaid_deliveries_remaining")
        for bad in (1, 25, "3"):
            r = self.raw.patch(f"/v1/subscriptions/{sub['id']}", {"prepaid_deliveries": bad, "version": sub["version"]})
            doc = self.assertProblem(r, 422, "validation_failed")
            self.assertIn("prepaid_deliveries", {e["field"] for e in doc["errors"]}, doc)
        r = self.raw.patch(f"/v1/subscriptions/{sub['id']}", {"prepaid_deliveries": 4, "metadata": {},
                                                              "delivery": None, "version": sub["version"]})
        self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["version"], sub["version"])
        # Back to one charge per box from the next charge: the box already paid for still ships.
        r = self.api.patch(f"/v1/subscriptions/{sub['id']}", {"prepaid_deliveries": None, "version": sub["version"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["prepaid"]["deliveries"], 1)
        periods = self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 4}).json()["data"]
        self.assertEqual([(p["amount"], p["prepaid"]) for p in periods],
                         [(4800, False), (0, True), (2400, False), (2400, False)])
