"""Retention: merchant-configured offers per cancellation reason, shown before a
cancellation, accepted or declined, with the outcome recorded."""
from recur_api import ApiTestCase, add_months_to_anchor, parse_time


class RetentionTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=3000)
        cls.cheaper = cls.make.plan(amount=2000)

        def offer(**body):
            r = cls.api.post("/v1/retention-offers", body)
            assert r.status_code == 201, r.text
            return r.json()

        cls.discount = offer(reason="too_expensive", type="discount", description="20% off your next 3 boxes",
                             percent_off=20, duration_in_cycles=3)
        cls.downgrade = offer(reason="too_expensive", type="change_plan", description="Try the smaller box",
                              plan=cls.cheaper["id"])
        cls.pause = offer(reason="not_using", type="pause", description="Take two months off", pause_cycles=2)
        cls.skip = offer(reason="not_using", type="skip", description="Skip your next box")
        retired = offer(reason="too_expensive", type="discount", description="Old deal", percent_off=50,
                        duration_in_cycles=1)
        r = cls.api.patch(f"/v1/retention-offers/{retired['id']}", {"active": False, "version": 1})
        assert r.status_code == 200, r.text
        cls.retired = r.json()

    def path(self, sub, action=""):
        return f"/v1/subscriptions/{sub['id']}" + (f"/{action}" if action else "")

    def offers(self, sub, reason):
        r = self.api.post(self.path(sub, "cancellation-offers"), {"reason": reason})
        self.assertStatus(r, 200)
        return r.json()["data"]

    def answer(self, sub, offer, verdict, status=200):
        r = self.api.post(self.path(sub, f"cancellation-offers/{offer['id']}/{verdict}"), {})
        self.assertStatus(r, status)
        return r.json()

    def history_types(self, sub):
        return [e["type"] for e in self.list_all(self.path(sub, "history"))]

    def test_offer_configuration_is_readable_and_versioned(self):
        got = self.api.get(f"/v1/retention-offers/{self.discount['id']}")
        self.assertStatus(got, 200)
        self.assertEqual(got.json(), self.discount)
        self.assertEqual((self.discount["object"], self.discount["percent_off"], self.discount["duration_in_cycles"]),
                         ("retention_offer", 20, 3))
        listed = {o["id"] for o in self.api.get("/v1/retention-offers", params={"reason": "not_using"}).json()["data"]}
        self.assertTrue({self.pause["id"], self.skip["id"]} <= listed)
        self.assertNotIn(self.discount["id"], listed)
        self.assertFalse(self.retired["active"])
        stale = self.api.patch(f"/v1/retention-offers/{self.retired['id']}", {"active": True, "version": 1})
        self.assertProblem(stale, 409, "version_conflict")

    def test_offer_without_its_terms_is_422(self):
        r = self.api.post("/v1/retention-offers", {"reason": "too_expensive", "type": "discount",
                                                   "description": "Half off"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"percent_off": "required", "duration_in_cycles": "required"})
        r = self.api.post("/v1/retention-offers", {"reason": "moving", "type": "change_plan", "description": "x",
                                                   "plan": "plan_00000000000000000000000000"})
        self.assertProblem(r, 422, "plan_not_found")

    def test_offers_for_a_reason_are_the_active_ones_configured_for_it(self):
        sub = self.make.subscription(plan=self.plan)
        shown = self.offers(sub, "too_expensive")
        ids = {o["id"] for o in shown}
        self.assertIn(self.discount["id"], ids)
        self.assertIn(self.downgrade["id"], ids)
        self.assertNotIn(self.retired["id"], ids, "an inactive offer was shown")
        self.assertNotIn(self.pause["id"], ids, "an offer for another reason was shown")
        configured = self.api.get("/v1/retention-offers", params={"reason": "too_expensive"}).json()["data"]
        self.assertEqual(ids, {o["id"] for o in configured if o["active"]})
        self.assertEqual({o["id"] for o in self.offers(sub, "not_using")} & {self.pause["id"], self.skip["id"]},
                         {self.pause["id"], self.skip["id"]})
        offered = [e for e in self.list_all(self.path(sub, "history")) if e["type"] == "subscription.retention_offered"]
        self.assertEqual(offered[0]["details"]["reason"], "too_expensive")
        self.assertEqual(set(offered[0]["details"]["offers"]), ids)

    def test_accepting_a_discount_discounts_the_next_cycles(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "too_expensive")
        accepted = self.answer(sub, self.discount, "accept")
        discount = accepted["discount"]
        self.assertEqual((discount["percent_off"], discount["cycles_remaining"], discount["source"]),
                         (20, 3, {"type": "retention_offer", "id": self.discount["id"]}))
        self.assertIsNone(discount["amount_off"])  # a retention discount is a percentage
        self.assertEqual(accepted["version"], sub["version"] + 1)
        periods = self.api.get(self.path(sub, "upcoming"), params={"count": 5}).json()["data"]
        self.assertEqual([p["amount"] for p in periods], [3000, 2400, 2400, 2400, 3000])
        self.assertIn("subscription.retention_accepted", self.history_types(sub))
        # An answered offer cannot be answered again.
        self.assertProblem(self.api.post(self.path(sub, f"cancellation-offers/{self.discount['id']}/accept"), {}),
                           409, "offer_not_open")

    def test_an_offer_never_shown_cannot_be_accepted(self):
        sub = self.make.subscription(plan=self.plan)
        r = self.api.post(self.path(sub, f"cancellation-offers/{self.discount['id']}/accept"), {})
        self.assertProblem(r, 409, "offer_not_open")
        self.assertIsNone(self.api.get(self.path(sub)).json()["discount"])

    def test_accepting_a_pause_pauses_for_the_offered_cycles(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "not_using")
        accepted = self.answer(sub, self.pause, "accept")
        self.assertEqual(accepted["status"], "paused")
        anchor = parse_time(sub["billing_cycle_anchor"])
        # The paid period runs out, then two whole periods off.
        self.assertEqual(parse_time(accepted["pause"]["resumes_at"]), add_months_to_anchor(anchor, 3))

    def test_accepting_a_skip_skips_the_next_period(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "not_using")
        accepted = self.answer(sub, self.skip, "accept")
        self.assertEqual(accepted["skipped_periods"], [sub["current_period"]["end"]])

    def test_accepting_a_cheaper_plan_changes_it_at_period_end(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "too_expensive")
        accepted = self.answer(sub, self.downgrade, "accept")
        self.assertEqual(accepted["plan"], self.plan["id"])
        self.assertEqual(accepted["pending_plan_change"]["plan"], self.cheaper["id"])
        self.assertEqual(accepted["pending_plan_change"]["effective_at"], sub["current_period"]["end"])

    def test_declining_records_the_outcome_and_changes_nothing(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "too_expensive")
        declined = self.answer(sub, self.discount, "decline")
        self.assertEqual(declined["version"], sub["version"])
        self.assertIsNone(declined["discount"])
        events = [e for e in self.list_all(self.path(sub, "history")) if e["type"] == "subscription.retention_declined"]
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["details"], {"offer": self.discount["id"], "reason": "too_expensive"})
        self.assertProblem(self.api.post(self.path(sub, f"cancellation-offers/{self.discount['id']}/accept"), {}),
                           409, "offer_not_open")

    def test_cancel_after_being_offered(self):
        sub = self.make.subscription(plan=self.plan)
        self.offers(sub, "too_expensive")
        r = self.api.post(self.path(sub, "cancel"), {"at": "now", "reason": "too_expensive", "comment": "no thanks"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "canceled")
        self.assertEqual(r.json()["cancellation"]["reason"], "too_expensive")
        self.assertProblem(self.api.post(self.path(sub, "cancellation-offers"), {"reason": "too_expensive"}), 409,
                           "subscription_canceled")
        self.assertProblem(self.api.post(self.path(sub, f"cancellation-offers/{self.discount['id']}/accept"), {}),
                           409, "offer_not_open")

    def test_accepting_an_offer_withdraws_a_scheduled_cancellation(self):
        sub = self.make.subscription(plan=self.plan)
        r = self.api.post(self.path(sub, "cancel"), {"at": "period_end", "reason": "too_expensive"})
        self.assertTrue(r.json()["cancel_at_period_end"])
        self.offers(sub, "too_expensive")
        accepted = self.answer(sub, self.discount, "accept")
        self.assertEqual((accepted["cancel_at_period_end"], accepted["cancellation"], accepted["canceled_at"]),
                         (False, None, None))
        self.assertIsNotNone(accepted["discount"])

    def test_offers_need_a_documented_reason(self):
        sub = self.make.subscription(plan=self.plan)
        r = self.raw.post(self.path(sub, "cancellation-offers"), {"reason": "bored"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"reason": "invalid_value"})
