#!/usr/bin/python3
"""Kill -9 loop of the billing runner: `recur bill` is killed at random moments while the
sandbox gateway loses answers and fails, then restarted, many times. Afterwards every
period must be invoiced exactly once (gapless numbers), every invoice paid, and the
gateway must have charged each invoice exactly once for its total.

Each run renews and charges in batches of BATCH (decision 0033: one transaction per batch of
renewals, one per batch of pending charges, one per batch of answers), so a kill lands
inside a batch as often as between two.

Usage: kill9.py path/to/recur [BATCH]  (SQLite, in a temporary folder; stops by itself)
"""
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

RECUR = os.path.abspath(sys.argv[1])
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 50
SUBSCRIPTIONS = 150
START = "2026-01-31T10:00:00Z"
PERIODS = 4  # Jan 31, Feb 28, Mar 31, Apr 30
KILLS = 25


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port, key, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def seed(db_url, workdir):
    """Customers with a card and a monthly subscription each, made through the API."""
    key = subprocess.run([RECUR, "keys", "create", "--role", "admin", "--db", db_url], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([RECUR, "serve", "--db", db_url, "--listen", f"127.0.0.1:{port}", "--test-mode",
                               "--clock-start", START, "--tick", "86400", "--no-access-log", "--docs-dir", "",
                               "--spec", ""], stderr=open(os.path.join(workdir, "serve.log"), "w"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("recur serve did not start")
                time.sleep(0.05)
        product = api(port, key, "POST", "/v1/products", {"sku": "BOX", "name": "Box"})
        plans = [api(port, key, "POST", "/v1/plans", {"name": f"Box {i}", "amount": 1000 + i, "currency": "usd",
                                                      "interval": "month",
                                                      "items": [{"product": product["id"], "quantity": 1}]})
                 for i in range(4)]
        for i in range(SUBSCRIPTIONS):
            c = api(port, key, "POST", "/v1/customers", {"email": f"k{i}@example.com", "name": f"K {i}",
                                                        "shipping_address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}})
            api(port, key, "POST", f"/v1/customers/{c['id']}/payment-methods", {"token": "pm_card_visa"})
            api(port, key, "POST", "/v1/subscriptions", {"customer": c["id"], "plan": plans[i % 4]["id"]})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def bill(db_url, until, faults, kill_after=None):
    proc = subprocess.Popen([RECUR, "bill", "--db", db_url, "--until", until, "--lease", "0", "--no-progress",
                             "--batch", str(BATCH), "--sandbox-faults", faults], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is None:
        return proc.wait(timeout=120)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return "killed"
    return None


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def main():
    rng = random.Random(20261125)
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "kill9.db")
        db_url = f"sqlite:{path}"
        subprocess.run([RECUR, "migrate", "--db", db_url], check=True, capture_output=True)
        seed(db_url, workdir)
        # Renewals fall due up to Apr 30; each restart bills a little later, so answers lost
        # to faults (asked again after 5 minutes) come due too.
        t = int(time.mktime(time.strptime("2026-04-30T12:00:00", "%Y-%m-%dT%H:%M:%S"))) - time.timezone
        killed = 0
        in_flight = 0  # kills that left a charge asked but not recorded
        for i in range(KILLS):
            t += 600
            # 3 ms of gateway latency after each charge: a kill lands on a charge in flight.
            faults = f"timeout_after_charge=0.2,server_error=0.1,timeout_before_charge=0.05,seed={i + 1},latency_ms=3"
            if bill(db_url, iso(t), faults, kill_after=rng.uniform(0.05, 0.6)) == "killed":
                killed += 1
                db = sqlite3.connect(path)
                in_flight += db.execute("SELECT COUNT(*) FROM payments WHERE status = 'pending'").fetchone()[0] > 0
                db.close()
        for _ in range(20):  # no more faults or kills: everything must settle
            t += 600
            if bill(db_url, iso(t), "seed=1") != 0:
                raise SystemExit("recur bill failed after the kill loop")
            db = sqlite3.connect(path)
            open_left = db.execute("SELECT COUNT(*) FROM invoices WHERE status <> 'paid'").fetchone()[0]
            db.close()
            if open_left == 0:
                break
        db = sqlite3.connect(path)
        q = lambda sql: db.execute(sql).fetchall()
        problems = []
        invoices = q("SELECT id, subscription_id, number, status, doc FROM invoices")
        if len(invoices) != SUBSCRIPTIONS * PERIODS:
            problems.append(f"{len(invoices)} invoices, expected {SUBSCRIPTIONS * PERIODS}")
        per_sub = q("SELECT subscription_id, COUNT(*) FROM invoices GROUP BY subscription_id HAVING COUNT(*) <> 4")
        if per_sub:
            problems.append(f"subscriptions without exactly {PERIODS} invoices: {per_sub[:3]}")
        numbers = sorted(int(n.split("-")[1]) for (_, _, n, _, _) in invoices)
        if numbers != list(range(1, len(invoices) + 1)):
            problems.append("invoice numbers have gaps or repeats")
        unpaid = [i for i in invoices if i[3] != "paid"]
        if unpaid:
            problems.append(f"{len(unpaid)} invoices not paid")
        for inv_id, _, _, _, doc in invoices:
            total = json.loads(doc)["total"]
            charges = q(f"SELECT status, amount FROM sandbox_charges WHERE idempotency_key LIKE '{inv_id}:%'")
            ok = [a for (s, a) in charges if s == "succeeded"]
            if len(ok) != 1 or ok[0] != total:
                problems.append(f"{inv_id}: gateway charges {charges}, invoice total {total}")
        pending = q("SELECT COUNT(*) FROM payments WHERE status = 'pending'")[0][0]
        if pending:
            problems.append(f"{pending} payments still pending")
        charged = q("SELECT COALESCE(SUM(amount), 0) FROM sandbox_charges WHERE status = 'succeeded'")[0][0]
        billed = sum(json.loads(doc)["total"] for (*_, doc) in invoices)
        print(f"kill9 (batches of {BATCH}): {killed} kills ({in_flight} with a charge in flight), {len(invoices)} invoices, {charged} charged, {billed} billed")
        if charged != billed:
            problems.append(f"charged {charged} but invoiced {billed}")
        if killed < KILLS // 3 or in_flight == 0:
            problems.append(f"only {killed} of {KILLS} runs were killed mid-run ({in_flight} with a charge in flight):"
                            " the test proves too little")
        if problems:
            print("\n".join(problems[:20]))
            raise SystemExit(1)
        print("kill9: no double and no missed charge")


if __name__ == "__main__":
    main()
