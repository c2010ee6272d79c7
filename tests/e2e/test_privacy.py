"""Personal data (issue 15) through the real server: none of what a person gives reaches the
raw database files or the server's log in clear; export and erasure work over HTTP with their
permissions; an erased customer reads as null everywhere the API shows them."""
import os
import subprocess
import uuid

from recur_api import Api, ApiTestCase

DB = os.environ.get("RECUR_E2E_DB_URL", "")
LOG = os.environ.get("RECUR_E2E_SERVER_LOG", "")


def raw_database() -> bytes:
    """Every byte of the database: the SQLite file and its WAL, or a pg_dump."""
    if DB.startswith("sqlite:"):
        path = DB[len("sqlite:"):]
        data = b""
        for p in (path, path + "-wal"):
            if os.path.exists(p):
                with open(p, "rb") as f:
                    data += f.read()
        return data
    # The server's schema only: the db suites make and drop schemas of their own in the same
    # database while this runs, and pg_dump fails on a table dropped under it.
    dump = subprocess.run(["pg_dump", "--data-only", "--schema=public", DB], capture_output=True)
    if dump.returncode != 0:
        raise AssertionError(f"pg_dump failed: {dump.stderr.decode(errors='replace')}")
    return dump.stdout


class PrivacyTest(ApiTestCase):

    def person(self, tag: str) -> tuple[dict, dict, dict[str, str]]:
        m = {k: f"MK{tag}{k}{uuid.uuid4().hex[:6]}" for k in ("email", "name", "line1", "city", "sub", "comment")}
        phone = "+1415" + str(uuid.uuid4().int)[:7]
        m["phone"] = phone[1:]
        c = self.api.post("/v1/customers", {
            "email": f"{m['email']}@example.com", "name": m["name"], "phone": phone, "sms_opt_in": True,
            "shipping_address": {"line1": m["line1"], "city": m["city"], "postal_code": "12345", "country": "US"},
            "marketing_consent": {"granted": True, "source": "checkout"}},
            idempotency_key=str(uuid.uuid4()))
        self.assertStatus(c, 201)
        customer = c.json()
        self.assertEqual(customer["marketing_consent"]["source"], "checkout")
        self.assertStatus(self.api.post(f"/v1/customers/{customer['id']}/payment-methods", {"token": "pm_card_visa"}),
                          201)
        sub = self.make.subscription(customer=customer, shipping_address={
            "line1": m["sub"], "city": "Paris", "postal_code": "75001", "country": "FR"})
        r = self.api.post(f"/v1/subscriptions/{sub['id']}/cancel",
                          {"at": "period_end", "reason": "other", "comment": m["comment"]})
        self.assertStatus(r, 200)
        return customer, sub, m

    def test_what_a_person_gives_is_in_neither_the_database_nor_the_log(self):
        customer, _, markers = self.person("A")
        found = self.api.get("/v1/customers", params={"email": f"{markers['email'].upper()}@EXAMPLE.COM"})
        self.assertStatus(found, 200)
        self.assertEqual([c["id"] for c in found.json()["data"]], [customer["id"]])
        data = raw_database()
        self.assertGreater(len(data), 10000)
        self.assertIn(customer["id"].encode(), data, "the dump holds the server's tables")
        with open(LOG, "rb") as f:
            log = f.read()
        for name, marker in markers.items():
            self.assertNotIn(marker.encode(), data, f"{name} in the database")
            self.assertNotIn(marker.encode(), log, f"{name} in the server log")

    def test_export_and_erase_over_http_with_their_permissions(self):
        customer, sub, markers = self.person("B")
        path = f"/v1/customers/{customer['id']}"
        self.assertProblem(Api("analyst").get(path + "/export"), 403, "permission_denied")
        exported = Api("support").get(path + "/export")
        self.assertStatus(exported, 200)
        doc = exported.json()
        self.assertEqual(doc["customer"]["name"], markers["name"])
        self.assertEqual([s["id"] for s in doc["subscriptions"]], [sub["id"]])
        self.assertNotIn("token", doc["payment_methods"][0])

        self.assertProblem(Api("support").post(path + "/erase", {"reason": "ticket 9"}), 403, "permission_denied")
        self.assertProblem(self.raw.post(path + "/erase", {}), 422, "validation_failed")
        erased = self.api.post(path + "/erase", {"reason": "GDPR ticket 9"})
        self.assertStatus(erased, 200)
        body = erased.json()
        self.assertTrue(body["erased"])
        for field in ("email", "name", "phone", "shipping_address", "marketing_consent"):
            self.assertIsNone(body[field], field)
        again = self.api.post(path + "/erase", {"reason": "GDPR ticket 9"})
        self.assertStatus(again, 200)
        self.assertEqual(again.json()["version"], body["version"])
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["status"], "canceled")
        # Wherever the API shows them, nothing personal is left.
        for url in (path, path + "/export", f"/v1/subscriptions/{sub['id']}",
                    f"/v1/events?resource={customer['id']}", f"/v1/events?resource={sub['id']}"):
            r = self.api.get(url)
            self.assertStatus(r, 200)
            for name, marker in markers.items():
                self.assertNotIn(marker, r.text, f"{name} in {url}")
        self.assertProblem(self.api.patch(path, {"name": "Back", "version": body["version"]}), 409,
                           "customer_erased")
