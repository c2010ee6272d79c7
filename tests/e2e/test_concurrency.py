"""Lost updates and double submits under real concurrency: many clients at once."""
import threading
import uuid
from collections import Counter

from recur_api import Api, ApiTestCase

THREADS = 20


def race(fn, n=THREADS):
    """Runs fn(i) on n threads released together; returns their results in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as e:  # reported by the test, not lost in the thread
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            raise AssertionError(f"thread {i} failed: {r!r}") from r
    return results


class ConcurrencyTest(ApiTestCase):

    def test_concurrent_patches_with_one_version_let_exactly_one_win(self):
        sub = self.make.subscription()
        clients = [Api("admin") for _ in range(THREADS)]
        responses = race(lambda i: clients[i].patch(f"/v1/subscriptions/{sub['id']}",
                                                    {"quantity": i + 2, "version": sub["version"]}))
        statuses = Counter(r.status_code for r in responses)
        self.assertEqual(statuses, Counter({200: 1, 409: THREADS - 1}), [r.text[:200] for r in responses])
        for r in responses:
            if r.status_code == 409:
                self.assertProblem(r, 409, "version_conflict")
        winner = next(r.json() for r in responses if r.status_code == 200)
        now = self.api.get(f"/v1/subscriptions/{sub['id']}").json()
        self.assertEqual((now["version"], now["quantity"]), (sub["version"] + 1, winner["quantity"]))
        updates = [e for e in self.list_all(f"/v1/subscriptions/{sub['id']}/history")
                   if e["type"] == "subscription.updated"]
        self.assertEqual(len(updates), 1)

    def test_concurrent_pauses_pause_once(self):
        sub = self.make.subscription()
        clients = [Api("support") for _ in range(THREADS)]
        responses = race(lambda i: clients[i].post(f"/v1/subscriptions/{sub['id']}/pause", {}))
        statuses = Counter(r.status_code for r in responses)
        self.assertEqual(statuses, Counter({200: 1, 409: THREADS - 1}), [r.text[:200] for r in responses])
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["version"], sub["version"] + 1)

    def test_concurrent_retries_with_one_idempotency_key_create_one_object(self):
        key = uuid.uuid4().hex
        sku = f"RACE-{uuid.uuid4().hex[:8]}"
        body = {"name": "Raced beans", "sku": sku}
        clients = [Api("admin") for _ in range(THREADS)]
        responses = race(lambda i: clients[i].post("/v1/products", body, idempotency_key=key))
        created = [r for r in responses if r.status_code == 201]
        in_flight = [r for r in responses if r.status_code == 409]
        self.assertEqual(len(created) + len(in_flight), THREADS, [r.text[:200] for r in responses])
        for r in in_flight:
            self.assertProblem(r, 409, "idempotency_key_in_use")
        self.assertEqual(len({r.json()["id"] for r in created}), 1)
        self.assertEqual(sum(1 for r in created if r.headers.get("Idempotent-Replayed") != "true"), 1)
        self.assertEqual(len(self.api.get("/v1/products", params={"sku": sku}).json()["data"]), 1)
