"""Webhook delivery under faults, on the real clock (docs/webhooks.md "How it runs"):

- a receiver that hangs past the 15 s timeout holds only its own lane: another endpoint's
  deliveries arrive meanwhile, and the hung ones are recorded as timed out and retried;
- `kill -9` of the `recur deliver` process in the middle of a batch loses nothing: a second
  deliverer sends what the first had claimed once its lease ends, with the same webhook-id.

The server here is live (not test mode), with `--allow-private-webhook-urls` since the
receiver is on 127.0.0.1, and `--no-webhook-delivery`: the `recur deliver` processes this
module starts are the only senders. Its database is its own (SQLite, or a fresh database on
the suite's PostgreSQL).
"""
from __future__ import annotations

import os
import signal
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

import billing_server
from billing_server import _TestModeServer, find_recur_binary, free_port, tearDownModule  # noqa: F401
import wait_for

LEASE = 20  # seconds: --webhook-lease of the deliverers (the flag's minimum)


class LiveServer(_TestModeServer):
    def start(self):
        recur = find_recur_binary()
        self.recur = recur
        self.db = self._database()
        self._run([recur, "migrate", "--db", self.db], "migrate")
        out = self._run([recur, "keys", "create", "--role", "admin", "--db", self.db], "keys-admin")
        self.keys["admin"] = out.strip().splitlines()[-1].strip()
        port = free_port()
        server = self._spawn("server", [recur, "serve", "--listen", f"127.0.0.1:{port}", "--db", self.db,
                                        "--no-access-log", "--tick", "86400", "--spec", "api/openapi.yaml",
                                        "--allow-private-webhook-urls", "--no-webhook-delivery"])
        self._wait_http(f"http://127.0.0.1:{port}/healthz", server, 30, "server")
        self.direct = f"http://127.0.0.1:{port}"

    def deliverer(self, name: str):
        return self._spawn(name, [self.recur, "deliver", "--db", self.db, "--allow-private-webhook-urls",
                                  "--webhook-lease", str(LEASE), "--webhook-senders", "8"])


def setUpModule():
    billing_server.setUpModule(server_class=LiveServer)


def server() -> LiveServer:
    return billing_server.SERVER


class Receiver:
    """Records each POST with its arrival time; a path's delay holds the answer that long."""

    def __init__(self):
        self.requests: list[dict] = []
        self.delays: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the senders use it

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "at": time.monotonic(),
                                              "id": self.headers.get("webhook-id")})
                    delay = receiver.delays.get(self.path, 0)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) or died

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class DeliveryFaultsTest(unittest.TestCase):
    def setUp(self):
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server().keys['admin']}"
        self.receiver = Receiver()
        self.addCleanup(self.receiver.stop)
        self.endpoints: list[str] = []

    def tearDown(self):
        for endpoint in self.endpoints:  # no delivery of this test reaches the next one
            self.http.delete(f"{server().direct}/v1/webhook-endpoints/{endpoint}", timeout=10)

    def endpoint(self, path: str) -> str:
        r = self.http.post(f"{server().direct}/v1/webhook-endpoints", timeout=10,
                           json={"url": self.receiver.url + path, "enabled_events": ["customer.created"]})
        self.assertEqual(r.status_code, 201, r.text)
        self.endpoints.append(r.json()["id"])
        return r.json()["id"]

    def customers(self, n: int) -> set[str]:
        """n new customers; the ids of their customer.created events."""
        ids = []
        for i in range(n):
            r = self.http.post(f"{server().direct}/v1/customers", timeout=10,
                               json={"name": f"Delivery {i}", "email": f"d{i}-{uuid.uuid4().hex[:8]}@example.com"})
            self.assertEqual(r.status_code, 201, r.text)
            ids.append(r.json()["id"])
        events = set()
        for customer in ids:
            r = self.http.get(f"{server().direct}/v1/events", params={"resource": customer, "type": "customer.created"},
                              timeout=10)
            self.assertEqual(r.status_code, 200, r.text)
            events |= {e["id"] for e in r.json()["data"]}
        self.assertEqual(len(events), n)
        return events

    def deliveries(self, endpoint: str) -> list[dict]:
        out, after = [], None
        while True:
            params = {"limit": 100, **({"starting_after": after} if after else {})}
            r = self.http.get(f"{server().direct}/v1/webhook-endpoints/{endpoint}/deliveries", params=params,
                              timeout=10)
            self.assertEqual(r.status_code, 200, r.text)
            page = r.json()
            out += page["data"]
            if not page["has_more"]:
                return out
            after = page["data"][-1]["id"]

    def test_a_receiver_that_hangs_past_the_timeout_holds_only_its_own_lane(self):
        self.receiver.delays["/hung"] = 17  # past the 15 s timeout
        hung = self.endpoint("/hung")
        self.endpoint("/fast")
        deliverer = server().deliverer("deliver-slow")
        self.addCleanup(lambda: deliverer.poll() is None and os.killpg(deliverer.pid, signal.SIGTERM))
        started = time.monotonic()
        events = self.customers(10)
        # Every fast delivery arrives while the hung receiver holds its lane (at most 4 of 8 senders).
        self.assertTrue(wait_for.poll(lambda: {r["id"] for r in self.receiver.at("/fast")} >= events, 10),
                        f"fast got {len(self.receiver.at('/fast'))} of 10\n{server().log_tail('deliver-slow')}")
        self.assertLess(time.monotonic() - started, 14, "the fast endpoint waited for the hung one")
        self.assertLessEqual(len(self.receiver.at("/hung")), 4, "more than 4 attempts in flight to one endpoint")
        # The hung attempts end at the 15 s timeout: failed, retried 5 s later.
        def timed_out() -> list[dict]:
            return [d for d in self.deliveries(hung) if d["attempt_count"] >= 1 and d["last_error"]]
        self.assertTrue(wait_for.poll(lambda: len(timed_out()) >= 4, 30), server().log_tail("deliver-slow"))
        for d in timed_out():
            self.assertEqual(d["status"], "pending")
            self.assertIn("timeout", d["last_error"])
            self.assertIsNone(d["last_status_code"])
            self.assertGreaterEqual(d["last_duration_ms"], 14000)
        os.killpg(deliverer.pid, signal.SIGTERM)
        deliverer.wait(timeout=30)

    def test_kill_9_of_the_deliverer_mid_batch_loses_nothing(self):
        self.receiver.delays["/slowish"] = 0.3  # every attempt is in flight a while
        endpoint = self.endpoint("/slowish")
        events = self.customers(30)
        first = server().deliverer("deliver-1")
        # In the middle of the batch: some delivered, some in flight, most still pending.
        self.assertTrue(wait_for.poll(lambda: len(self.receiver.at("/slowish")) >= 6, 20,
                                      give_up=lambda: first.poll() is not None), server().log_tail("deliver-1"))
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        received_before = len(self.receiver.at("/slowish"))
        self.assertLess(received_before, 30, "the first deliverer finished before it was killed")
        second = server().deliverer("deliver-2")
        self.addCleanup(lambda: second.poll() is None and os.killpg(second.pid, signal.SIGTERM))
        # Everything arrives at least once: what the first had claimed after its lease ends.
        self.assertTrue(wait_for.poll(lambda: {r["id"] for r in self.receiver.at("/slowish")} >= events,
                                      LEASE + 40), server().log_tail("deliver-2"))
        ids = [r["id"] for r in self.receiver.at("/slowish")]
        self.assertEqual(set(ids), events)
        # The attempts the kill cut off were sent again (at least once, not lost); each id is
        # sent at most twice (once by each deliverer).
        self.assertGreater(len(ids), len(events) - 1)
        self.assertLessEqual(max(ids.count(i) for i in events), 2)
        self.assertTrue(wait_for.poll(lambda: all(d["status"] == "succeeded" for d in self.deliveries(endpoint)), 20))
        stored = self.deliveries(endpoint)
        self.assertEqual({d["event"] for d in stored}, events)
        # A delivery sent twice counts both attempts (the cut-off one was counted at its claim).
        twice = {i for i in events if ids.count(i) == 2}
        for d in stored:
            if d["event"] in twice:
                self.assertEqual(d["attempt_count"], 2, d)
        os.killpg(second.pid, signal.SIGTERM)
        self.assertEqual(second.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main()
