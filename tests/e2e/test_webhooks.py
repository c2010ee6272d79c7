"""Outbound webhooks (docs/webhooks.md): endpoints, Standard Webhooks signatures checked with
the `standardwebhooks` npm package on every delivery received, retries on the test clock,
secret rotation, the deliveries list, and validation. The receiver is a local HTTP server in
a thread that records each request and answers per a programmable plan."""
from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeApi, TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import parse_time
import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


class Receiver:
    """Records every POST; answers each path with the next status of its plan (200 after)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.plans: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                with receiver.lock:
                    plan = receiver.plans.get(self.path, [])
                    status = plan.pop(0) if plan else 200
                    receiver.requests.append({"path": self.path, "body": body,
                                              "headers": {k.lower(): v for k, v in self.headers.items()}})
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", "/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def wait(self, path: str, count: int, timeout: float = 20) -> list[dict]:
        if not wait_for.poll(lambda: len(self.at(path)) >= count, timeout):
            raise AssertionError(f"{path}: {len(self.at(path))} requests, expected {count}")
        return self.at(path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def verify(items: list[dict]) -> list[dict]:
    """Each {secret, request, now} checked by the standardwebhooks npm package."""
    payload = [{"secret": i["secret"], "body": i["request"]["body"], "now": i["now"],
                "headers": {k: i["request"]["headers"][k]
                            for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}}
               for i in items]
    done = subprocess.run(["node", os.path.join(HERE, "verify_webhook.js")], input=json.dumps(payload),
                          capture_output=True, text=True, cwd=REPO, timeout=60, check=True)
    return json.loads(done.stdout)


class ReceiverCase(TestModeCase):
    """A test-mode case with a Receiver for its class (test_supplier_webhooks.py shares it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.stop()


class WebhooksTest(ReceiverCase):

    def endpoint(self, path: str, events: list[str], **fields) -> dict:
        r = self.api.post("/v1/webhook-endpoints", dict(url=self.receiver.url + path, enabled_events=events,
                                                         **fields))
        self.assertStatus(r, 201)
        return r.json()

    def deliveries(self, endpoint: dict, **params) -> list[dict]:
        return self.list_all(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params)

    def assert_verified(self, secret: str, requests: list[dict]):
        # Each as its receiver verified it on arrival: the server's clock then was the
        # attempt's timestamp (the test clock stands still while a delivery is made).
        results = verify([{"secret": secret, "request": r, "now": int(r["headers"]["webhook-timestamp"])}
                          for r in requests])
        for request, result in zip(requests, results):
            self.assertTrue(result["ok"], f"{result.get('error')}: {request['headers']}")

    def test_an_endpoint_gets_each_matching_event_signed_per_standard_webhooks(self):
        hook = self.endpoint("/customers", ["customer.*"], description="CRM", metadata={"team": "crm"})
        self.assertTrue(hook["id"].startswith("we_"))
        self.assertEqual(hook["object"], "webhook_endpoint")
        self.assertEqual(hook["status"], "enabled")
        self.assertTrue(hook["secret"].startswith("whsec_"))
        self.assertEqual(hook["enabled_events"], ["customer.*"])
        self.assertEqual(hook["description"], "CRM")
        self.endpoint("/invoices-only", ["invoice.*"])
        customer = self.make.customer(card=None)

        received = self.receiver.wait("/customers", 1)
        self.assertEqual(self.receiver.at("/invoices-only"), [])
        request = received[0]
        self.assertEqual(request["headers"]["content-type"], "application/json")
        event = json.loads(request["body"])
        self.assertEqual(event["type"], "customer.created")
        self.assertEqual(event["data"]["object"]["id"], customer["id"])
        self.assertEqual(request["headers"]["webhook-id"], event["id"])
        self.assertEqual(int(request["headers"]["webhook-timestamp"]), int(self.now().timestamp()))
        # The body is the events API's object.
        same = self.api.get(f"/v1/events/{event['id']}")
        self.assertStatus(same, 200)
        self.assertEqual(same.json(), event)
        self.assert_verified(hook["secret"], received)

        # A tampered body, a wrong secret: refused by the library.
        tampered = dict(request, body=request["body"].replace(customer["id"], "cus_forged"))
        other = self.endpoint("/other", ["plan.created"])
        now = int(self.now().timestamp())
        results = verify([{"secret": hook["secret"], "request": tampered, "now": now},
                          {"secret": other["secret"], "request": request, "now": now}])
        self.assertEqual([r["ok"] for r in results], [False, False])

        # The secret is shown on creation only.
        got = self.api.get(f"/v1/webhook-endpoints/{hook['id']}")
        self.assertStatus(got, 200)
        self.assertIsNone(got.json()["secret"])
        self.assertTrue(all(e["secret"] is None for e in self.list_all("/v1/webhook-endpoints")))
        listed = self.deliveries(hook)
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["status"], "succeeded")
        self.assertEqual(listed[0]["event"], event["id"])
        self.assertEqual(listed[0]["attempt_count"], 1)
        self.assertEqual(listed[0]["last_status_code"], 200)
        self.assertIsNone(listed[0]["next_attempt_at"])

    def test_a_failing_receiver_is_retried_on_schedule_as_the_test_clock_moves(self):
        self.receiver.plans["/flaky"] = [500, 302, 503]
        hook = self.endpoint("/flaky", ["customer.created"])
        self.make.customer()
        first = self.receiver.wait("/flaky", 1)[0]
        start = int(first["headers"]["webhook-timestamp"])
        pending = self.deliveries(hook, status="pending")
        self.assertEqual(len(pending), 1)
        self.assertEqual(pending[0]["last_status_code"], 500)
        self.assertEqual(parse_time(pending[0]["next_attempt_at"]).timestamp(), start + 5)

        self.advance(self.now() + timedelta(hours=1))
        received = self.receiver.wait("/flaky", 4)
        stamps = [int(r["headers"]["webhook-timestamp"]) for r in received]
        # 5 s after the 500, 5 min after the 302, 30 min after the 503: each from its failure.
        self.assertEqual([s - start for s in stamps], [0, 5, 5 + 300, 5 + 300 + 1800])
        self.assertEqual({r["headers"]["webhook-id"] for r in received}, {first["headers"]["webhook-id"]})
        self.assert_verified(hook["secret"], received)
        done = self.deliveries(hook)
        self.assertEqual(len(done), 1)
        self.assertEqual(done[0]["status"], "succeeded")
        self.assertEqual(done[0]["attempt_count"], 4)
        self.assertEqual([a["status_code"] for a in done[0]["attempts"]], [500, 302, 503, 200])
        self.assertEqual(self.deliveries(hook, status="failed"), [])

    def test_a_rotated_secret_signs_beside_the_new_one(self):
        hook = self.endpoint("/rotating", ["customer.created"])
        r = self.api.post(f"/v1/webhook-endpoints/{hook['id']}/rotate-secret")
        self.assertStatus(r, 200)
        rotated = r.json()
        self.assertNotEqual(rotated["secret"], hook["secret"])
        self.assertIsNotNone(rotated["previous_secret_expires_at"])
        self.make.customer()
        received = self.receiver.wait("/rotating", 1)
        self.assertEqual(len(received[0]["headers"]["webhook-signature"].split(" ")), 2)
        self.assert_verified(rotated["secret"], received)
        self.assert_verified(hook["secret"], received)

    def test_endpoints_are_validated_updated_with_their_version_and_deleted(self):
        r = self.raw.post("/v1/webhook-endpoints", {"url": "ftp://example.com/x", "enabled_events": ["*"]})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"url": "invalid_url"})
        r = self.raw.post("/v1/webhook-endpoints", {"url": "https://example.com/x",
                                                    "enabled_events": ["invoice.paid", "invoice.exploded"]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"enabled_events[1]": "invalid_value"})
        self.assertIn("invoice.*", doc["errors"][0]["message"])  # says what it takes
        r = self.raw.post("/v1/webhook-endpoints", {"url": "https://example.com/x", "enabled_events": []})
        self.assertProblem(r, 422, "validation_failed")
        r = TestModeApi("support").post("/v1/webhook-endpoints", {"url": "https://example.com/x",
                                                                   "enabled_events": ["*"]})
        self.assertProblem(r, 403, "permission_denied")

        hook = self.endpoint("/x", ["*"])
        r = self.api.patch(f"/v1/webhook-endpoints/{hook['id']}", {"status": "disabled", "version": hook["version"] + 1})
        self.assertProblem(r, 409, "version_conflict")
        r = self.api.patch(f"/v1/webhook-endpoints/{hook['id']}",
                           {"status": "disabled", "enabled_events": ["plan.*"], "description": None,
                            "version": hook["version"]})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "disabled")
        self.assertEqual(r.json()["enabled_events"], ["plan.*"])
        self.assertIsNone(r.json()["secret"])
        self.assertEqual(r.json()["version"], hook["version"] + 1)
        r = self.api.delete(f"/v1/webhook-endpoints/{hook['id']}")
        self.assertStatus(r, 200)
        self.assertEqual(r.json(), {"id": hook["id"], "object": "webhook_endpoint", "deleted": True})
        self.assertProblem(self.api.get(f"/v1/webhook-endpoints/{hook['id']}"), 404, "webhook_endpoint_not_found")

    def test_resend_and_replay_send_events_again_with_their_ids(self):
        hook = self.endpoint("/again", ["customer.created"])
        # Other tests' customers were made at this same simulated time: move past them.
        start = self.now() + timedelta(minutes=1)
        self.advance(start)
        self.make.customer()
        first = self.receiver.wait("/again", 1)[0]
        event_id = first["headers"]["webhook-id"]

        r = self.api.post(f"/v1/events/{event_id}/resend", {"endpoint": hook["id"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["object"], "webhook_delivery")
        self.assertEqual(r.json()["origin"], "resend")
        self.assertEqual(r.json()["status"], "pending")
        resent = self.receiver.wait("/again", 2)[1]
        self.assertEqual(resent["headers"]["webhook-id"], event_id)
        self.assertProblem(self.api.post("/v1/events/evt_nope/resend", {"endpoint": hook["id"]}), 404,
                           "event_not_found")

        r = self.api.post(f"/v1/webhook-endpoints/{hook['id']}/replay", {"from": start.strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["object"], "webhook_replay")
        self.assertEqual(r.json()["deliveries"], 1)
        replayed = self.receiver.wait("/again", 3)[2]
        self.assertEqual(replayed["headers"]["webhook-id"], event_id)
        self.assert_verified(hook["secret"], [first, resent, replayed])
        r = self.raw.post(f"/v1/webhook-endpoints/{hook['id']}/replay",
                          {"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})
        self.assertFieldErrors(self.assertProblem(r, 422, "validation_failed"), {"to": "invalid_value"})
        origins = sorted(d["origin"] for d in self.deliveries(hook))
        self.assertEqual(origins, ["event", "replay", "resend"])
