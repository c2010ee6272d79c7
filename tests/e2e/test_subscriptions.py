"""The subscription lifecycle over HTTP: create, read, list, update, delete, pause, resume,
skip, change plan, cancel, reactivate, the upcoming calendar and the history."""
from datetime import timedelta

from recur_api import Api, ApiTestCase, add_months_to_anchor, format_time, now, parse_time, round_half_up, unique

DAY = timedelta(days=1)


class SubscriptionTestCase(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.monthly = cls.make.plan(amount=3000)            # $30 a month
        cls.monthly_premium = cls.make.plan(amount=5000)    # $50 a month
        cls.weekly = cls.make.plan(amount=1000, interval="week")
        cls.trial_plan = cls.make.plan(amount=2000, trial_days=14)
        cls.euro_plan = cls.make.plan(amount=3000, currency="eur")

    def sub_path(self, sub, action=""):
        return f"/v1/subscriptions/{sub['id']}" + (f"/{action}" if action else "")

    def fetch(self, sub):
        r = self.api.get(self.sub_path(sub))
        self.assertStatus(r, 200)
        return r.json()

    def upcoming(self, sub, count):
        r = self.api.get(self.sub_path(sub, "upcoming"), params={"count": count})
        self.assertStatus(r, 200)
        return r.json()["data"]

    def history(self, sub):
        return self.list_all(self.sub_path(sub, "history"))

    def act(self, sub, action, body=None, status=200, **kw):
        r = self.api.post(self.sub_path(sub, action), body or {}, **kw)
        self.assertStatus(r, status)
        return r.json()

    def assertContinuous(self, periods):
        for prev, cur in zip(periods, periods[1:]):
            self.assertEqual(cur["period"]["start"], prev["period"]["end"], periods)
        for p in periods:
            self.assertEqual(set(p["period"]), {"start", "end"}, p)
            self.assertFalse({"period_start", "period_end"} & p.keys(), p)
            self.assertLess(parse_time(p["period"]["start"]), parse_time(p["period"]["end"]), p)


class CreateAndReadTest(SubscriptionTestCase):

    def test_create_now_is_active_billed_for_one_month(self):
        before = now()
        r = self.api.post("/v1/subscriptions", {"customer": self.make.customer()["id"], "plan": self.monthly["id"],
                                                "quantity": 2, "metadata": {"channel": "web"}})
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertTrue(sub["id"].startswith("sub_"))
        self.assertEqual(sub["object"], "subscription")
        # Created incomplete (version 1), then activated by its first payment in the request.
        self.assertEqual((sub["status"], sub["quantity"], sub["version"]), ("active", 2, 2))
        self.assertEqual(self.etag_version(r), 2)
        start = parse_time(sub["current_period"]["start"])
        self.assertLessEqual(abs((start - before).total_seconds()), 5)
        self.assertEqual(parse_time(sub["current_period"]["end"]), add_months_to_anchor(start, 1))
        self.assertEqual(sub["billing_cycle_anchor"], sub["current_period"]["start"])
        # One period shape, and the amount's currency beside it.
        self.assertEqual(set(sub["current_period"]), {"start", "end"})
        self.assertFalse({"current_period_start", "current_period_end"} & sub.keys(), sub)
        self.assertEqual((sub["current_period_amount"], sub["currency"]), (6000, "usd"))
        self.assertEqual((sub["cancel_at_period_end"], sub["canceled_at"], sub["pause"]), (False, None, None))
        self.assertEqual(sub["billed_periods"], 1)
        self.assertEqual(sub["metadata"], {"channel": "web"})
        self.assertEqual(self.fetch(sub), sub)

    def test_create_on_a_trial_plan_is_trialing_until_trial_end(self):
        sub = self.make.subscription(plan=self.trial_plan)
        self.assertEqual(sub["status"], "trialing")
        start = parse_time(sub["current_period"]["start"])
        self.assertEqual(parse_time(sub["trial_end"]), start + 14 * DAY)
        self.assertEqual(sub["current_period"]["end"], sub["trial_end"])
        self.assertEqual(sub["billed_periods"], 0)
        periods = self.upcoming(sub, 3)
        self.assertEqual((periods[0]["trial"], periods[0]["amount"]), (True, 0))
        self.assertEqual((periods[1]["trial"], periods[1]["amount"]), (False, 2000))
        # The first paid period is anchored where the trial ends.
        trial_end = parse_time(sub["trial_end"])
        self.assertEqual(parse_time(periods[1]["period"]["end"]), add_months_to_anchor(trial_end, 1))
        self.assertContinuous(periods)

    def test_create_with_future_start_date_is_scheduled(self):
        start = now() + 10 * DAY
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(start))
        self.assertEqual(sub["status"], "scheduled")
        self.assertEqual(parse_time(sub["current_period"]["start"]), start)
        self.assertEqual(parse_time(sub["current_period"]["end"]), add_months_to_anchor(start, 1))
        self.assertEqual(sub["billed_periods"], 0)
        periods = self.upcoming(sub, 2)
        self.assertEqual(parse_time(periods[0]["period"]["start"]), start)
        self.assertEqual(periods[0]["amount"], 3000)
        self.assertContinuous(periods)

    def test_start_date_in_the_past_is_422_and_nothing_created(self):
        customer = self.make.customer()
        r = self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                "start_date": format_time(now() - 3 * DAY)})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"start_date": "in_the_past"})
        self.assertEqual(self.api.get("/v1/subscriptions", params={"customer": customer["id"]}).json()["data"], [])

    def test_unknown_customer_or_plan_is_422_naming_the_field(self):
        r = self.api.post("/v1/subscriptions", {"customer": "cus_00000000000000000000000000",
                                                "plan": self.monthly["id"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "customer_not_found"), {"customer": "not_found"})
        r = self.api.post("/v1/subscriptions", {"customer": self.make.customer()["id"],
                                                "plan": "plan_00000000000000000000000000"})
        self.assertFieldErrors(self.assertProblem(r, 422, "plan_not_found"), {"plan": "not_found"})

    def test_an_id_of_the_wrong_kind_is_named_with_the_kind_wanted(self):
        # The plan's id sent as the customer: the error says what it is and what was wanted.
        r = self.api.post("/v1/subscriptions", {"customer": self.monthly["id"], "plan": self.monthly["id"]})
        doc = self.assertProblem(r, 422, "customer_not_found")
        self.assertIn("that is a plan's id; a customer's id starts with cus_", doc["detail"])
        r = self.api.get(f"/v1/invoices/{self.monthly['id']}")
        self.assertIn("an invoice's id starts with in_", self.assertProblem(r, 404, "invoice_not_found")["detail"])

    def test_a_box_needs_a_shipping_address_from_the_subscription_or_its_customer(self):
        box = self.make.plan()  # its items ship
        r = self.api.post("/v1/customers", {"email": unique("nowhere") + "@example.com", "name": "No Address"})
        self.assertStatus(r, 201)
        homeless = r.json()
        r = self.api.post("/v1/subscriptions", {"customer": homeless["id"], "plan": box["id"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "shipping_address_required"), {"shipping_address": "required"})
        self.assertEqual(self.api.get("/v1/subscriptions", params={"customer": homeless["id"]}).json()["data"], [])
        address = {"line1": "9 Elm St", "city": "Springfield", "postal_code": "12345", "country": "US"}
        r = self.api.post("/v1/subscriptions", {"customer": homeless["id"], "plan": box["id"],
                                                "shipping_address": address})
        self.assertStatus(r, 201)
        # A plan that ships nothing needs no address; moving to a box then does.
        self.assertStatus(self.api.post(f"/v1/customers/{homeless['id']}/payment-methods", {"token": "pm_card_visa"}),
                          201)
        plain = self.api.post("/v1/subscriptions", {"customer": homeless["id"], "plan": self.make.plan(items=False)["id"]})
        self.assertStatus(plain, 201)
        self.assertEqual(plain.json()["status"], "active")
        r = self.api.post(self.sub_path(plain.json(), "change-plan"), {"plan": box["id"],
                                                                       "version": plain.json()["version"]})
        self.assertProblem(r, 422, "shipping_address_required")

    def test_quantity_out_of_range_is_422(self):
        r = self.raw.post("/v1/subscriptions", {"customer": self.make.customer()["id"], "plan": self.monthly["id"],
                                                "quantity": 0})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"quantity": "out_of_range"})

    def test_list_filters_by_customer_status_and_plan(self):
        customer = self.make.customer()
        active = self.make.subscription(plan=self.monthly, customer=customer)
        trialing = self.make.subscription(plan=self.trial_plan, customer=customer)
        scheduled = self.make.subscription(plan=self.monthly, customer=customer,
                                           start_date=format_time(now() + 5 * DAY))
        canceled = self.make.subscription(plan=self.weekly, customer=customer)
        self.act(canceled, "cancel", {"at": "now", "reason": "moving"})
        other = self.make.subscription(plan=self.monthly)

        def ids(**params):
            return {s["id"] for s in self.list_all("/v1/subscriptions", params)}

        self.assertEqual(ids(customer=customer["id"]), {active["id"], trialing["id"], scheduled["id"], canceled["id"]})
        self.assertEqual(ids(customer=customer["id"], status="active"), {active["id"]})
        self.assertEqual(ids(customer=customer["id"], status="trialing"), {trialing["id"]})
        self.assertEqual(ids(customer=customer["id"], status="scheduled"), {scheduled["id"]})
        self.assertEqual(ids(customer=customer["id"], status="canceled"), {canceled["id"]})
        self.assertEqual(ids(customer=customer["id"], plan=self.monthly["id"]), {active["id"], scheduled["id"]})
        self.assertNotIn(other["id"], ids(customer=customer["id"]))
        for s in self.list_all("/v1/subscriptions", {"status": "trialing"}):
            self.assertEqual(s["status"], "trialing")


class UpdateAndDeleteTest(SubscriptionTestCase):

    def test_patch_quantity_and_metadata_with_version(self):
        sub = self.make.subscription(plan=self.monthly)
        v = sub["version"]
        r = self.api.patch(self.sub_path(sub), {"quantity": 3, "metadata": {"gift": "yes"}, "version": v})
        self.assertStatus(r, 200)
        updated = r.json()
        self.assertEqual((updated["quantity"], updated["metadata"], updated["version"]), (3, {"gift": "yes"}, v + 1))
        self.assertEqual(self.etag_version(r), v + 1)
        self.assertEqual(self.upcoming(sub, 2)[1]["amount"], 9000)  # the next renewal bills 3 x $30

    def test_patch_shipping_address_override_then_clear_it(self):
        sub = self.make.subscription(plan=self.monthly)
        address = {"line1": "5 Side St", "city": "Shelbyville", "postal_code": "54321", "country": "us"}
        v = sub["version"]
        r = self.api.patch(self.sub_path(sub), {"shipping_address": address}, headers={"If-Match": f'"{v}"'})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["shipping_address"]["line1"], "5 Side St")
        self.assertEqual(r.json()["shipping_address"]["country"], "US")
        r = self.api.patch(self.sub_path(sub), {"shipping_address": None, "version": v + 1})
        self.assertStatus(r, 200)
        self.assertIsNone(r.json()["shipping_address"])

    def test_patch_with_stale_version_is_409_and_changes_nothing(self):
        sub = self.make.subscription(plan=self.monthly)
        self.assertStatus(self.api.patch(self.sub_path(sub), {"quantity": 2, "version": sub["version"]}), 200)
        r = self.api.patch(self.sub_path(sub), {"quantity": 5, "version": sub["version"]})
        self.assertProblem(r, 409, "version_conflict")
        self.assertEqual(self.fetch(sub)["quantity"], 2)

    def test_patch_refuses_fields_that_need_an_action(self):
        sub = self.make.subscription(plan=self.monthly)
        r = self.raw.patch(self.sub_path(sub), {"plan": self.weekly["id"], "version": 1})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"plan": "unknown_field"})
        self.assertEqual(self.fetch(sub)["plan"], self.monthly["id"])

    def test_delete_a_scheduled_subscription_removes_it(self):
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(now() + 7 * DAY))
        r = self.api.delete(self.sub_path(sub))
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"id": sub["id"], "object": "subscription", "deleted": True})
        self.assertProblem(self.api.get(self.sub_path(sub)), 404, "subscription_not_found")
        self.assertProblem(self.api.delete(self.sub_path(sub)), 404, "subscription_not_found")

    def test_delete_with_stale_if_match_is_409(self):
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(now() + 7 * DAY))
        self.assertStatus(self.api.patch(self.sub_path(sub), {"quantity": 2, "version": 1}), 200)
        self.assertProblem(self.api.delete(self.sub_path(sub), headers={"If-Match": '"1"'}), 409, "version_conflict")
        self.assertStatus(self.api.delete(self.sub_path(sub), headers={"If-Match": '"2"'}), 200)

    def test_delete_a_billed_subscription_is_409_pointing_to_cancel(self):
        sub = self.make.subscription(plan=self.monthly)
        doc = self.assertProblem(self.api.delete(self.sub_path(sub)), 409, "subscription_has_billing_history")
        self.assertIn("cancel", doc["detail"])
        self.assertEqual(self.fetch(sub)["status"], "active")


class TrialEndTest(SubscriptionTestCase):
    """A subscription's own trial: trial_end on create and PATCH, over the plan's trial_days."""

    def test_a_trial_on_a_plan_without_one_then_ended_now_bills_the_first_period(self):
        ends = (now() + 10 * DAY).replace(microsecond=0)
        sub = self.make.subscription(plan=self.monthly, trial_end=format_time(ends))
        self.assertEqual((sub["status"], sub["trial_end"]), ("trialing", format_time(ends)))
        self.assertEqual(sub["current_period"]["end"], format_time(ends))
        self.assertEqual(self.upcoming(sub, 2)[1]["period"]["start"], format_time(ends))
        r = self.api.patch(self.sub_path(sub), {"trial_end": "now", "version": sub["version"]})
        self.assertStatus(r, 200)
        ended = r.json()
        self.assertEqual(ended["status"], "active")
        self.assertEqual(ended["billed_periods"], 1)
        self.assertEqual(ended["current_period_amount"], 3000)
        self.assertIn("subscription.trial_ended", [e["type"] for e in self.history(sub)])
        # Nothing left to move: 409, and nothing changes.
        r = self.api.patch(self.sub_path(sub), {"trial_end": format_time(ends), "version": ended["version"]})
        self.assertProblem(r, 409, "not_trialing")
        self.assertEqual(self.fetch(sub)["version"], ended["version"])

    def test_now_on_create_skips_the_plans_trial(self):
        sub = self.make.subscription(plan=self.trial_plan, trial_end="now")
        self.assertEqual((sub["status"], sub["trial_end"], sub["billed_periods"]), ("active", None, 1))

    def test_a_scheduled_subscription_keeps_its_trial_and_a_patch_moves_it(self):
        start = (now() + 30 * DAY).replace(microsecond=0)
        sub = self.make.subscription(plan=self.trial_plan, start_date=format_time(start))
        self.assertEqual(sub["trial_end"], format_time(start + 14 * DAY))
        r = self.api.patch(self.sub_path(sub), {"trial_end": format_time(start + 3 * DAY), "version": 1})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["current_period"], {"start": format_time(start), "end": format_time(start + 3 * DAY)})
        self.assertTrue(self.upcoming(r.json(), 1)[0]["trial"])
        # "now" on a scheduled subscription removes its trial; it still starts on its date.
        r = self.api.patch(self.sub_path(sub), {"trial_end": "now", "version": r.json()["version"]})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["trial_end"], r.json()["billed_periods"]), ("scheduled", None, 0))
        self.assertFalse(self.upcoming(r.json(), 1)[0]["trial"])

    def test_a_trial_end_not_after_the_start_or_too_far_is_422_and_creates_nothing(self):
        customer = self.make.customer()
        # Times the spec admits go through Prism; what it refuses goes to the server directly.
        for client, bad in ((self.api, format_time(now() - DAY)), (self.api, format_time(now() + 800 * DAY)),
                            (self.raw, "tomorrow"), (self.raw, 5), (self.api, "1970-01-01T00:00:00Z")):
            r = client.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                  "trial_end": bad})
            doc = self.assertProblem(r, 422, "validation_failed")
            self.assertIn("trial_end", [e["field"] for e in doc["errors"]], bad)
        listed = self.api.get("/v1/subscriptions", params={"customer": customer["id"]})
        self.assertStatus(listed, 200)
        self.assertEqual(listed.json()["data"], [])


class PauseResumeSkipTest(SubscriptionTestCase):

    def test_pause_until_a_31st_reanchors_the_calendar_on_the_31st(self):
        sub = self.make.subscription(plan=self.monthly)
        resumes = now().replace(year=now().year + 2, month=1, day=31, hour=0, minute=0, second=0)
        paused = self.act(sub, "pause", {"resumes_at": format_time(resumes), "version": sub["version"]})
        self.assertEqual(paused["status"], "paused")
        self.assertEqual(paused["pause"]["resumes_at"], format_time(resumes))
        self.assertEqual(paused["version"], sub["version"] + 1)
        periods = self.upcoming(sub, 6)
        self.assertEqual(len(periods), 6)
        # The paid period runs out; nothing is billed until the resumption, which starts a
        # new period there and makes it the anchor: Jan 31, Feb 28/29, Mar 31, Apr 30, May 31.
        self.assertEqual(periods[0]["period"]["start"], sub["current_period"]["start"])
        for n, p in enumerate(periods[1:]):
            self.assertEqual(parse_time(p["period"]["start"]), add_months_to_anchor(resumes, n), periods)
            self.assertEqual(parse_time(p["period"]["end"]), add_months_to_anchor(resumes, n + 1), periods)
            self.assertEqual(p["amount"], 3000)
        self.assertEqual(parse_time(periods[2]["period"]["start"]).day in (28, 29), True)
        self.assertEqual(parse_time(periods[3]["period"]["start"]).day, 31)

    def test_pause_twice_is_409_already_paused(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "pause")
        self.assertProblem(self.api.post(self.sub_path(sub, "pause"), {}), 409, "subscription_already_paused")

    def test_pause_with_resumes_at_in_the_past_is_422(self):
        sub = self.make.subscription(plan=self.monthly)
        r = self.api.post(self.sub_path(sub, "pause"), {"resumes_at": format_time(now() - DAY)})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"resumes_at": "in_the_past"})
        self.assertEqual(self.fetch(sub)["status"], "active")

    def test_resume_inside_the_paid_period_carries_on(self):
        sub = self.make.subscription(plan=self.monthly)
        v = sub["version"]
        self.act(sub, "pause", {"version": v})
        resumed = self.act(sub, "resume", {"version": v + 1})
        self.assertEqual((resumed["status"], resumed["pause"], resumed["version"]), ("active", None, v + 2))
        self.assertEqual(resumed["current_period"]["end"], sub["current_period"]["end"])
        periods = self.upcoming(sub, 3)
        self.assertEqual(periods[1]["period"]["start"], sub["current_period"]["end"])
        self.assertContinuous(periods)
        self.assertProblem(self.api.post(self.sub_path(sub, "resume"), {}), 409, "subscription_not_paused")

    def test_paused_forever_has_no_renewals_until_resumed(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "pause")
        self.assertEqual(len(self.upcoming(sub, 5)), 1)

    def test_skip_next_period_bills_zero_for_it(self):
        sub = self.make.subscription(plan=self.monthly)
        skipped = self.act(sub, "skip", {"version": sub["version"]})
        self.assertEqual(skipped["skipped_periods"], [sub["current_period"]["end"]])
        periods = self.upcoming(sub, 4)
        self.assertEqual([p["skipped"] for p in periods], [False, True, False, False])
        self.assertEqual([p["amount"] for p in periods], [3000, 0, 3000, 3000])
        self.assertContinuous(periods)
        # A second skip takes the next period that is not skipped yet.
        self.act(sub, "skip")
        self.assertEqual([p["skipped"] for p in self.upcoming(sub, 4)], [False, True, True, False])

    def test_skip_a_named_period_and_refuse_skipping_it_twice(self):
        sub = self.make.subscription(plan=self.monthly)
        third = self.upcoming(sub, 4)[3]
        self.act(sub, "skip", {"period_start": third["period"]["start"]})
        self.assertEqual([p["skipped"] for p in self.upcoming(sub, 4)], [False, False, False, True])
        [skip] = [e for e in self.history(sub) if e["type"] == "subscription.skipped"]
        self.assertEqual(skip["details"], {"period": third["period"]})
        self.assertProblem(self.api.post(self.sub_path(sub, "skip"), {"period_start": third["period"]["start"]}), 409,
                           "period_already_skipped")
        r = self.api.post(self.sub_path(sub, "skip"), {"period_start": format_time(now() + 3 * DAY)})
        self.assertFieldErrors(self.assertProblem(r, 422, "invalid_period"), {"period_start": "invalid_period"})

    def test_action_with_stale_version_is_409_and_changes_nothing(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "skip", {"version": sub["version"]})
        self.assertProblem(self.api.post(self.sub_path(sub, "pause"), {"version": sub["version"]}), 409,
                           "version_conflict")
        self.assertEqual(self.fetch(sub)["status"], "active")


class ChangePlanTest(SubscriptionTestCase):

    def assertProrated(self, preview, sub, old_amount, new_amount):
        """Stripe's formula to the second, each line rounded half away from zero."""
        at = parse_time(preview["effective_at"])
        start, end = parse_time(sub["current_period"]["start"]), parse_time(sub["current_period"]["end"])
        unused = int((end - at).total_seconds())
        length = int((end - start).total_seconds())
        self.assertEqual(len(preview["lines"]), 2, preview)
        credit, charge = preview["lines"]
        self.assertEqual(credit["amount"], -round_half_up(old_amount * unused, length), preview)
        self.assertEqual(charge["amount"], round_half_up(new_amount * unused, length), preview)
        self.assertEqual(preview["total"], credit["amount"] + charge["amount"])
        self.assertEqual(preview["currency"], "usd")
        for line in preview["lines"]:
            self.assertNotIn("currency", line)  # lines take the preview's currency
            self.assertEqual(line["period"], {"start": preview["effective_at"], "end": sub["current_period"]["end"]})

    def test_preview_returns_prorated_lines_and_changes_nothing(self):
        sub = self.make.subscription(plan=self.monthly)
        r = self.api.post(self.sub_path(sub, "change-plan/preview"), {"plan": self.monthly_premium["id"]})
        self.assertStatus(r, 200)
        preview = r.json()
        self.assertEqual((preview["plan"], preview["quantity"]), (self.monthly_premium["id"], 1))
        self.assertProrated(preview, sub, 3000, 5000)
        self.assertGreater(preview["total"], 0)
        self.assertFalse(preview["resets_billing_cycle_anchor"])
        self.assertEqual(preview["new_period"], sub["current_period"])  # the same calendar
        self.assertFalse({"new_period_start", "new_period_end"} & preview.keys(), preview)
        after = self.fetch(sub)
        self.assertEqual((after["version"], after["plan"], after["pending_plan_change"]),
                         (sub["version"], self.monthly["id"], None))
        self.assertNotIn("subscription.plan_changed", [e["type"] for e in self.history(sub)])

    def test_analyst_may_preview_but_not_change(self):
        sub = self.make.subscription(plan=self.monthly)
        analyst = Api("analyst")
        self.assertStatus(analyst.post(self.sub_path(sub, "change-plan/preview"),
                                       {"plan": self.monthly_premium["id"]}), 200)
        self.assertProblem(analyst.post(self.sub_path(sub, "change-plan"), {"plan": self.monthly_premium["id"]}),
                           403, "permission_denied")

    def test_change_now_with_proration_matches_the_preview(self):
        sub = self.make.subscription(plan=self.monthly)
        body = {"plan": self.monthly_premium["id"], "proration": "create_prorations", "effective": "now"}
        preview = self.act(sub, "change-plan/preview", body)
        changed = self.act(sub, "change-plan", dict(body, version=sub["version"]))
        self.assertEqual((changed["plan"], changed["version"]), (self.monthly_premium["id"], sub["version"] + 1))
        self.assertEqual(changed["current_period"]["end"], sub["current_period"]["end"])
        self.assertEqual(changed["billing_cycle_anchor"], sub["billing_cycle_anchor"])
        event = [e for e in self.history(sub) if e["type"] == "subscription.plan_changed"]
        self.assertEqual(len(event), 1)
        details = event[0]["details"]
        self.assertProrated(details, sub, 3000, 5000)
        if details["effective_at"] == preview["effective_at"]:
            self.assertEqual(details["lines"], preview["lines"])
            self.assertEqual(details["total"], preview["total"])
        self.assertEqual((details["from_plan"], details["from_quantity"]), (self.monthly["id"], 1))
        self.assertEqual(self.upcoming(sub, 2)[1]["amount"], 5000)

    def test_change_without_proration_has_no_lines(self):
        sub = self.make.subscription(plan=self.monthly)
        preview = self.act(sub, "change-plan/preview", {"plan": self.monthly_premium["id"], "proration": "none"})
        self.assertEqual((preview["lines"], preview["total"]), ([], 0))

    def test_change_to_another_cadence_now_resets_the_anchor(self):
        sub = self.make.subscription(plan=self.monthly)
        changed = self.act(sub, "change-plan", {"plan": self.weekly["id"], "version": sub["version"]})
        start = parse_time(changed["current_period"]["start"])
        self.assertEqual(changed["billing_cycle_anchor"], changed["current_period"]["start"])
        self.assertEqual(parse_time(changed["current_period"]["end"]), start + 7 * DAY)
        self.assertEqual(changed["billed_periods"], 2)
        details = [e for e in self.history(sub) if e["type"] == "subscription.plan_changed"][0]["details"]
        self.assertTrue(details["resets_billing_cycle_anchor"])
        credit, charge = details["lines"]
        self.assertLess(credit["amount"], 0)
        self.assertEqual(charge["amount"], 1000)  # the weekly price in full for the new period
        periods = self.upcoming(sub, 3)
        self.assertContinuous(periods)
        self.assertEqual(parse_time(periods[2]["period"]["start"]), start + 14 * DAY)

    def test_change_at_period_end_is_pending_until_then(self):
        sub = self.make.subscription(plan=self.monthly)
        changed = self.act(sub, "change-plan", {"plan": self.monthly_premium["id"], "quantity": 2,
                                                "effective": "period_end", "version": sub["version"]})
        self.assertEqual(changed["plan"], self.monthly["id"])
        self.assertEqual(changed["pending_plan_change"], {"plan": self.monthly_premium["id"], "quantity": 2,
                                                          "effective_at": sub["current_period"]["end"],
                                                          "delivery": None})
        periods = self.upcoming(sub, 3)
        self.assertEqual((periods[0]["plan"], periods[0]["amount"]), (self.monthly["id"], 3000))
        self.assertEqual((periods[1]["plan"], periods[1]["quantity"], periods[1]["amount"]),
                         (self.monthly_premium["id"], 2, 10000))
        self.assertContinuous(periods)

    def test_quantity_change_on_the_same_plan_prorates_by_quantity(self):
        sub = self.make.subscription(plan=self.monthly)
        preview = self.act(sub, "change-plan/preview", {"plan": self.monthly["id"], "quantity": 3})
        self.assertProrated(preview, sub, 3000, 9000)
        self.assertEqual([line["quantity"] for line in preview["lines"]], [1, 3])

    def test_pending_change_to_weekly_reanchors_the_calendar_at_period_end(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "change-plan", {"plan": self.weekly["id"], "effective": "period_end"})
        periods = self.upcoming(sub, 4)
        end = parse_time(sub["current_period"]["end"])
        self.assertEqual([parse_time(p["period"]["start"]) for p in periods[1:]], [end, end + 7 * DAY, end + 14 * DAY])
        self.assertEqual([(p["plan"], p["amount"]) for p in periods],
                         [(self.monthly["id"], 3000)] + [(self.weekly["id"], 1000)] * 3)
        self.assertContinuous(periods)

    def test_change_now_replaces_a_pending_change(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "change-plan", {"plan": self.weekly["id"], "effective": "period_end"})
        changed = self.act(sub, "change-plan", {"plan": self.monthly_premium["id"], "effective": "now"})
        self.assertEqual((changed["plan"], changed["pending_plan_change"]), (self.monthly_premium["id"], None))
        self.assertEqual({p["plan"] for p in self.upcoming(sub, 3)}, {self.monthly_premium["id"]})

    def test_change_to_the_same_plan_and_quantity_is_422_no_change(self):
        sub = self.make.subscription(plan=self.monthly)
        self.assertProblem(self.api.post(self.sub_path(sub, "change-plan"), {"plan": self.monthly["id"]}), 422,
                           "no_change")

    def test_change_to_another_currency_is_422(self):
        sub = self.make.subscription(plan=self.monthly)
        r = self.api.post(self.sub_path(sub, "change-plan"), {"plan": self.euro_plan["id"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "currency_mismatch"), {"plan": "currency_mismatch"})
        self.assertEqual(self.fetch(sub)["version"], sub["version"])

    def test_change_of_a_scheduled_subscription_is_a_plain_switch(self):
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(now() + 5 * DAY))
        preview = self.act(sub, "change-plan/preview", {"plan": self.monthly_premium["id"]})
        self.assertEqual((preview["lines"], preview["total"]), ([], 0))
        changed = self.act(sub, "change-plan", {"plan": self.monthly_premium["id"]})
        self.assertEqual((changed["plan"], changed["status"]), (self.monthly_premium["id"], "scheduled"))
        self.assertEqual(self.upcoming(sub, 1)[0]["amount"], 5000)


class CancelTest(SubscriptionTestCase):

    def test_cancel_at_period_end_then_reactivate(self):
        sub = self.make.subscription(plan=self.monthly)
        canceled = self.act(sub, "cancel", {"at": "period_end", "reason": "too_expensive",
                                            "comment": "Too much coffee", "version": sub["version"]})
        self.assertEqual(canceled["status"], "active")
        self.assertTrue(canceled["cancel_at_period_end"])
        self.assertEqual(canceled["cancel_at"], sub["current_period"]["end"])
        self.assertIsNotNone(canceled["canceled_at"])
        self.assertEqual((canceled["cancellation"]["reason"], canceled["cancellation"]["comment"]),
                         ("too_expensive", "Too much coffee"))
        self.assertEqual(len(self.upcoming(sub, 4)), 1, "nothing renews after a period-end cancellation")
        self.assertProblem(self.api.post(self.sub_path(sub, "cancel"), {"reason": "other"}), 409,
                           "cancellation_already_scheduled")
        back = self.act(sub, "reactivate", {"version": sub["version"] + 1})
        self.assertEqual((back["cancel_at_period_end"], back["cancel_at"], back["canceled_at"], back["cancellation"]),
                         (False, None, None, None))
        self.assertEqual(back["status"], "active")
        self.assertEqual(len(self.upcoming(sub, 4)), 4)
        self.assertProblem(self.api.post(self.sub_path(sub, "reactivate"), {}), 409, "not_scheduled_for_cancellation")

    def test_cancel_now_ends_it_and_refuses_further_actions(self):
        sub = self.make.subscription(plan=self.monthly)
        canceled = self.act(sub, "cancel", {"at": "now", "reason": "moving"})
        self.assertEqual(canceled["status"], "canceled")
        self.assertIsNotNone(canceled["ended_at"])
        self.assertIsNotNone(canceled["canceled_at"])
        self.assertFalse(canceled["cancel_at_period_end"])
        self.assertEqual(self.upcoming(sub, 3), [])
        self.assertProblem(self.api.post(self.sub_path(sub, "pause"), {}), 409, "subscription_canceled")
        self.assertProblem(self.api.post(self.sub_path(sub, "resume"), {}), 409, "subscription_canceled")
        self.assertProblem(self.api.post(self.sub_path(sub, "cancel"), {"reason": "other", "at": "now"}), 409,
                           "subscription_canceled")
        self.assertProblem(self.api.patch(self.sub_path(sub), {"quantity": 2, "version": canceled["version"]}), 409,
                           "subscription_canceled")
        self.assertProblem(self.api.post(self.sub_path(sub, "reactivate"), {}), 409, "subscription_canceled")
        # It was billed once, so it stays on record.
        self.assertProblem(self.api.delete(self.sub_path(sub)), 409, "subscription_has_billing_history")

    def test_cancel_needs_a_documented_reason(self):
        sub = self.make.subscription(plan=self.monthly)
        doc = self.assertProblem(self.raw.post(self.sub_path(sub, "cancel"), {"reason": "bored"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"reason": "invalid_value"})
        doc = self.assertProblem(self.raw.post(self.sub_path(sub, "cancel"), {}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"reason": "required"})
        self.assertFalse(self.fetch(sub)["cancel_at_period_end"])

    def test_cancel_a_paused_subscription_at_period_end(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "pause")
        canceled = self.act(sub, "cancel", {"reason": "not_using"})
        self.assertEqual((canceled["status"], canceled["cancel_at_period_end"]), ("paused", True))


class UpcomingTest(SubscriptionTestCase):

    def test_upcoming_returns_count_continuous_periods_with_amounts(self):
        sub = self.make.subscription(plan=self.monthly, quantity=2)
        periods = self.upcoming(sub, 13)
        self.assertEqual(len(periods), 13)
        self.assertEqual(periods[0]["period"]["start"], sub["current_period"]["start"])
        self.assertEqual(periods[0]["period"]["end"], sub["current_period"]["end"])
        self.assertContinuous(periods)
        anchor = parse_time(sub["billing_cycle_anchor"])
        for n, p in enumerate(periods):
            self.assertEqual(parse_time(p["period"]["start"]), add_months_to_anchor(anchor, n))
            self.assertEqual((p["amount"], p["currency"], p["quantity"]), (6000, "usd", 2))

    def test_weekly_upcoming_adds_seven_days(self):
        sub = self.make.subscription(plan=self.weekly)
        periods = self.upcoming(sub, 5)
        start = parse_time(periods[0]["period"]["start"])
        self.assertEqual([parse_time(p["period"]["start"]) for p in periods], [start + 7 * n * DAY for n in range(5)])

    def test_default_count_and_bounds(self):
        sub = self.make.subscription(plan=self.weekly)
        r = self.api.get(self.sub_path(sub, "upcoming"))
        self.assertStatus(r, 200)
        self.assertEqual(len(r.json()["data"]), 12)
        for count in ("0", "61", "x"):
            with self.subTest(count=count):
                r = self.raw.get(self.sub_path(sub, "upcoming"), params={"count": count})
                self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"count": "out_of_range"})


class HistoryTest(SubscriptionTestCase):

    def test_history_lists_every_change_in_order_with_actor_and_before_after(self):
        sub = self.make.subscription(plan=self.monthly)
        support = Api("support")
        v = sub["version"]  # 2: created incomplete, activated by the first payment
        self.assertStatus(support.patch(self.sub_path(sub), {"quantity": 4, "version": v}), 200)
        self.act(sub, "pause", {"version": v + 1})
        self.assertStatus(support.post(self.sub_path(sub, "resume"), {"version": v + 2}), 200)
        self.act(sub, "cancel", {"reason": "other", "comment": "bye", "version": v + 3})
        events = self.history(sub)
        self.assertEqual([e["type"] for e in events],
                         ["subscription.created", "subscription.started", "subscription.activated",
                          "subscription.updated", "subscription.paused", "subscription.resumed",
                          "subscription.cancellation_requested"])
        self.assertEqual([e["id"] for e in events], sorted(e["id"] for e in events))
        created, started, activated, updated, paused, resumed, cancel = events
        self.assertEqual((created["data"]["object"]["status"], activated["data"]["object"]["status"],
                          activated["data"]["previous_attributes"]["status"]), ("incomplete", "active", "incomplete"))
        for e in events:
            self.assertEqual(e["object"], "event")
            self.assertEqual(e["resource"], {"type": "subscription", "id": sub["id"]})
            parse_time(e["created"])
        self.assertEqual((created["actor"]["type"], created["actor"]["role"]), ("api_key", "admin"))
        self.assertIsNone(created["data"]["previous_attributes"])
        self.assertEqual(created["data"]["object"]["id"], sub["id"])
        self.assertEqual(started["actor"], {"type": "system", "id": "scheduler", "role": None})
        self.assertEqual((started["details"]["amount"], started["details"]["billable"]), (3000, True))
        self.assertEqual(started["details"]["period"], sub["current_period"])
        self.assertEqual((created["data"]["object"]["current_period"], created["data"]["object"]["currency"]),
                         (sub["current_period"], "usd"))
        self.assertEqual((updated["actor"]["type"], updated["actor"]["role"]), ("api_key", "support"))
        self.assertTrue(updated["actor"]["id"].startswith("key_"))
        # previous_attributes: the old value of exactly the fields that changed.
        changed = set(updated["data"]["previous_attributes"])
        self.assertLessEqual({"quantity", "version"}, changed)
        self.assertLessEqual(changed, {"quantity", "version", "updated"})  # updated: when the second moved on
        self.assertEqual((updated["data"]["previous_attributes"]["quantity"], updated["data"]["object"]["quantity"]),
                         (1, 4))
        self.assertEqual((updated["data"]["previous_attributes"]["version"], updated["data"]["object"]["version"]),
                         (v, v + 1))
        self.assertEqual((paused["data"]["previous_attributes"]["status"], paused["data"]["object"]["status"]),
                         ("active", "paused"))
        self.assertEqual(resumed["actor"]["role"], "support")
        self.assertEqual((resumed["data"]["previous_attributes"]["status"], resumed["data"]["object"]["status"]),
                         ("paused", "active"))
        self.assertEqual(cancel["details"]["reason"], "other")
        self.assertEqual((cancel["data"]["previous_attributes"]["cancel_at_period_end"],
                          cancel["data"]["object"]["cancel_at_period_end"]), (False, True))
        for prev, cur in zip([updated, paused, resumed], [paused, resumed, cancel]):
            # Each change starts where the last one ended: the old values are the last ones.
            for field, old in cur["data"]["previous_attributes"].items():
                self.assertEqual(old, prev["data"]["object"].get(field), field)

    def test_history_pages(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "skip")
        self.act(sub, "pause")
        first = self.api.get(self.sub_path(sub, "history"), params={"limit": 2}).json()
        self.assertTrue(first["has_more"])
        rest = self.api.get(self.sub_path(sub, "history"),
                            params={"limit": 10, "starting_after": first["data"][-1]["id"]}).json()
        self.assertFalse(rest["has_more"])
        types = [e["type"] for e in first["data"] + rest["data"]]
        self.assertEqual(types, ["subscription.created", "subscription.started", "subscription.activated",
                                 "subscription.skipped", "subscription.paused"])


class StateMachineTest(SubscriptionTestCase):

    def test_a_scheduled_subscription_cannot_pause_skip_or_cancel_at_period_end(self):
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(now() + 9 * DAY))
        events = len(self.history(sub))
        for action, body in [("pause", {}), ("skip", {}), ("cancel", {"reason": "other", "at": "period_end"}),
                             ("reactivate", {})]:
            with self.subTest(action=action):
                self.assertProblem(self.api.post(self.sub_path(sub, action), body), 409, "invalid_state_transition")
        self.assertProblem(self.api.post(self.sub_path(sub, "resume"), {}), 409, "subscription_not_paused")
        self.assertEqual(self.fetch(sub)["version"], 1)
        self.assertEqual(len(self.history(sub)), events, "a refused action left a trace")

    def test_a_scheduled_subscription_canceled_now_can_be_deleted(self):
        sub = self.make.subscription(plan=self.monthly, start_date=format_time(now() + 9 * DAY))
        self.assertEqual(self.act(sub, "cancel", {"at": "now", "reason": "moving"})["status"], "canceled")
        self.assertStatus(self.api.delete(self.sub_path(sub)), 200)
        self.assertProblem(self.api.get(self.sub_path(sub)), 404, "subscription_not_found")

    def test_a_paused_subscription_cannot_skip_or_change_plan(self):
        sub = self.make.subscription(plan=self.monthly)
        self.act(sub, "pause")
        self.assertProblem(self.api.post(self.sub_path(sub, "skip"), {}), 409, "invalid_state_transition")
        self.assertProblem(self.api.post(self.sub_path(sub, "change-plan"), {"plan": self.monthly_premium["id"]}),
                           409, "invalid_state_transition")
        self.assertEqual(self.fetch(sub)["plan"], self.monthly["id"])

    def test_a_trialing_subscription_skips_its_first_paid_period_and_switches_plan_without_proration(self):
        sub = self.make.subscription(plan=self.trial_plan)
        skipped = self.act(sub, "skip")
        self.assertEqual(skipped["skipped_periods"], [sub["trial_end"]])
        periods = self.upcoming(sub, 3)
        self.assertEqual([(p["trial"], p["skipped"], p["amount"]) for p in periods],
                         [(True, False, 0), (False, True, 0), (False, False, 2000)])
        preview = self.act(sub, "change-plan/preview", {"plan": self.monthly["id"]})
        self.assertEqual((preview["lines"], preview["total"]), ([], 0))

    def test_if_match_guards_actions_too(self):
        sub = self.make.subscription(plan=self.monthly)
        v = sub["version"]
        self.act(sub, "skip", headers={"If-Match": f'"{v}"'})
        self.assertProblem(self.api.post(self.sub_path(sub, "pause"), {}, headers={"If-Match": f'"{v}"'}), 409,
                           "version_conflict")
        self.assertEqual(self.act(sub, "pause", headers={"If-Match": f'"{v + 1}"'})["status"], "paused")


class InputFormsTest(SubscriptionTestCase):

    def test_start_date_with_an_offset_is_stored_in_utc(self):
        local = now() + 20 * DAY
        text = local.replace(hour=9, minute=0, second=0).strftime("%Y-%m-%dT%H:%M:%S") + "+09:00"
        sub = self.make.subscription(plan=self.monthly, start_date=text)
        self.assertEqual(sub["start_date"], format_time(local.replace(hour=0, minute=0, second=0)))
        self.assertEqual(sub["current_period"]["start"], sub["start_date"])

    def test_shipping_address_override_at_create(self):
        sub = self.make.subscription(plan=self.monthly, shipping_address={
            "line1": "9 Dock Rd", "city": "Hamburg", "postal_code": "20457", "country": "de"})
        self.assertEqual(sub["shipping_address"]["country"], "DE")
        self.assertEqual(self.fetch(sub)["shipping_address"]["line1"], "9 Dock Rd")

    def test_metadata_limits_are_enforced(self):
        customer = self.make.customer()
        too_many = {f"k{i}": "v" for i in range(51)}
        r = self.raw.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                "metadata": too_many})
        self.assertProblem(r, 422, "validation_failed")
        r = self.raw.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.monthly["id"],
                                                "metadata": {"n": 5}})
        self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(self.api.get("/v1/subscriptions", params={"customer": customer["id"]}).json()["data"], [])
