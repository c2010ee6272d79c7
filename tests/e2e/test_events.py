"""GET /v1/events and /v1/events/{id}: every committed change read out newest first, with
the resource after the change and the old values of what changed, within the retention
window (decision 0014)."""
from __future__ import annotations

from datetime import timedelta

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeApi, TestModeCase, setUpModule, tearDownModule  # noqa: F401


class EventsApiTest(TestModeCase):

    def events(self, **params):
        r = self.api.get("/v1/events", params=params)
        self.assertStatus(r, 200)
        return r.json()

    def test_a_change_is_an_event_with_the_resource_and_what_changed(self):
        sub = self.make.subscription()
        r = self.api.patch(f"/v1/subscriptions/{sub['id']}", {"quantity": 3, "version": sub["version"]})
        self.assertStatus(r, 200)
        listed = self.events(resource=sub["id"])
        types = [e["type"] for e in listed["data"]]
        self.assertEqual(types[0], "subscription.updated")  # newest first
        self.assertIn("subscription.created", types)
        ids = [e["id"] for e in listed["data"]]
        self.assertEqual(ids, sorted(ids, reverse=True))
        updated = listed["data"][0]
        self.assertEqual(updated["resource"], {"type": "subscription", "id": sub["id"]})
        self.assertEqual(updated["data"]["object"]["quantity"], 3)
        self.assertEqual(updated["data"]["previous_attributes"]["quantity"], sub["quantity"])
        self.assertEqual(updated["data"]["previous_attributes"]["version"], sub["version"])
        self.assertNotIn("customer", updated["data"]["previous_attributes"])  # unchanged: not there
        created = [e for e in listed["data"] if e["type"] == "subscription.created"][0]
        self.assertIsNone(created["data"]["previous_attributes"])
        self.assertEqual(created["data"]["object"]["id"], sub["id"])
        # A retrieve is the same object.
        one = self.api.get(f"/v1/events/{updated['id']}")
        self.assertStatus(one, 200)
        self.assertEqual(one.json(), updated)

    def test_type_filters_take_exact_types_and_a_resources_wildcard(self):
        sub = self.make.subscription()
        exact = self.events(resource=sub["id"], type="subscription.created")["data"]
        self.assertEqual([e["type"] for e in exact], ["subscription.created"])
        every = self.events(resource=sub["id"], type="subscription.*")["data"]
        self.assertGreaterEqual(len(every), 2)
        self.assertTrue(all(e["type"].startswith("subscription.") for e in every))
        invoices = self.events(type="invoice.*,subscription.created", limit=100)["data"]
        self.assertTrue(invoices)
        self.assertTrue(all(e["type"].startswith("invoice.") or e["type"] == "subscription.created"
                            for e in invoices))
        r = self.raw.get("/v1/events", params={"type": "subscription.exploded"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"type": "invalid_value"})
        self.assertIn("subscription.created", doc["errors"][0]["message"])  # says what it takes

    def test_pages_newest_first_without_gaps_or_repeats(self):
        sub = self.make.subscription()
        for quantity in (2, 3, 4):
            current = self.subscription(sub)
            self.assertStatus(self.api.patch(f"/v1/subscriptions/{sub['id']}",
                                              {"quantity": quantity, "version": current["version"]}), 200)
        everything = self.events(resource=sub["id"], limit=100)["data"]
        paged = self.list_all("/v1/events", {"resource": sub["id"]}, limit=2)
        self.assertEqual([e["id"] for e in paged], [e["id"] for e in everything])

    def test_roles_and_unknown_ids(self):
        self.assertStatus(TestModeApi("analyst").get("/v1/events"), 200)
        self.assertProblem(TestModeApi("support").get("/v1/events"), 403, "permission_denied")
        self.assertProblem(self.api.get("/v1/events/evt_01m89weh30fz1n4q7s9v2x5z8b"), 404, "event_not_found")
        self.assertProblem(self.raw.get("/v1/events", params={"color": "red"}), 422, "validation_failed")


class RetentionTest(TestModeCase):
    """Runs last in this module: it moves the clock past the window."""

    def test_events_older_than_the_window_are_not_shown_but_history_keeps_them(self):
        sub = self.make.subscription()
        first = self.api.get("/v1/events", params={"resource": sub["id"]}).json()["data"]
        self.assertTrue(first)
        self.advance(self.now() + timedelta(days=31))
        self.assertProblem(self.api.get(f"/v1/events/{first[-1]['id']}"), 404, "event_not_found")
        shown = self.api.get("/v1/events", params={"resource": sub["id"], "limit": 100}).json()["data"]
        self.assertNotIn(first[-1]["id"], [e["id"] for e in shown])
        # The subscription's own history is the log, kept whole.
        history = self.list_all(f"/v1/subscriptions/{sub['id']}/history")
        self.assertIn(first[-1]["id"], [e["id"] for e in history])
