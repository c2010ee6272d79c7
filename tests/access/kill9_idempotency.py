#!/usr/bin/python3
"""Kill -9 of `recur serve` under writers that retry with Idempotency-Key (decision 0009).

Eight writers create customers, attach payment methods, create subscriptions, adjust stock, pay
open invoices, refund paid ones (1 cent each), issue one-off invoices (charged in the request) and
change subscriptions' plans with an invoice at once (charged in the request), each request under
its own Idempotency-Key, while the server is killed with SIGKILL at random
moments and restarted, and its scheduler charges the subscriptions' invoices. A writer retries
every request that got no answer (or 409 idempotency_key_in_use, or a 5xx) with the same key
until it is answered, also after the lease (--idempotency-lease 2), when a retry takes over a
key left in progress. Afterwards:
  - exactly one customer, subscription, payment method, stock adjustment, refund and one-off
    invoice per key, and the object each acknowledged (2xx) answer named is that one; at most
    one plan change per key (and exactly one for an acknowledged one),
  - no invoice has more than one succeeded payment or gateway charge, no pay request made two
    attempts, and the gateway refunded exactly what the refunds record,
  - some retry took over a key left in progress by a kill (else the test proved too little).

Usage: kill9_idempotency.py path/to/recur [postgres]
  postgres: a new database on the harness's server (PG* variables, scripts/with-postgres.sh);
  otherwise SQLite in a temporary folder. Stops by itself (bounded by DEADLINE seconds).
"""
import collections
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serve_process import Server  # noqa: E402  (tests/serve_process.py)

RECUR = os.path.abspath(sys.argv[1])
ENGINE = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
WRITERS = 8
KILLS = 12
LEASE = 2
DEADLINE = 240  # seconds for the whole test


def call(port, key, method, path, body, idem):
    """One try: (status, json) or None when the server gave no answer."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if idem:
            headers["Idempotency-Key"] = idem
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, json.loads(data) if data else {}
    except (OSError, http.client.HTTPException):
        return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.Counter()
        self.acked = []  # (kind, key, id)
        self.pays = []  # keys of pay requests that were answered
        self.problems = []

    def add(self, name, n=1):
        with self.lock:
            self.c[name] += n


def until_answered(server, key, method, path, body, idem, stats, stop_at):
    """Retries one request with the same key until it has a final answer."""
    first = True
    while time.monotonic() < stop_at:
        got = call(server.port, key, method, path, body, idem)
        if got is None:
            stats.add("unanswered")
        elif got[0] == 409 and got[1].get("code") == "idempotency_key_in_use":
            stats.add("in_use_409")
        elif got[0] >= 500:
            stats.add("server_error")
        else:
            if not first:
                stats.add("answered_after_retry")
            return got
        first = False
        time.sleep(0.05 if got is None else 0.2)
    stats.problems.append(f"{method} {path} ({idem}) never answered")
    return None


def writer(n, server, key, product_sku, plan_id, stats, stop_writing, stop_at, other_plan_id):
    rng = random.Random(n)
    customers = []
    subscriptions = []
    i = 0
    while not stop_writing.is_set() and time.monotonic() < stop_at:
        i += 1
        tag = f"w{n}-{i}-{uuid.uuid4().hex[:8]}"
        op = "customer" if not customers else rng.choice(["customer", "payment_method", "subscription", "adjustment",
                                                          "pay", "refund", "one_off", "change_plan"])
        if op == "change_plan" and not subscriptions:
            op = "subscription"
        target = None
        if op in ("pay", "refund"):
            listed = call(server.port, key, "GET", f"/v1/invoices?status={'open' if op == 'pay' else 'paid'}&limit=20",
                          None, None)
            if listed is None or listed[0] != 200 or not listed[1]["data"]:
                continue
            target = rng.choice(listed[1]["data"])["id"]
        if op == "customer":
            got = until_answered(server, key, "POST", "/v1/customers",
                                 {"email": f"{tag}@example.com", "name": "Kill Nine", "metadata": {"k": tag},
                                  "shipping_address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}}, tag, stats,
                                 stop_at)
        elif op == "payment_method":
            got = until_answered(server, key, "POST", f"/v1/customers/{rng.choice(customers)}/payment-methods",
                                 {"token": "pm_card_visa", "default": True}, tag, stats, stop_at)
        elif op == "subscription":
            got = until_answered(server, key, "POST", "/v1/subscriptions",
                                 {"customer": rng.choice(customers), "plan": plan_id, "metadata": {"k": tag}}, tag, stats,
                                 stop_at)
        elif op == "adjustment":
            got = until_answered(server, key, "POST", f"/v1/inventory/{product_sku}/adjustments",
                                 {"quantity_delta": 1, "reason": tag}, tag, stats, stop_at)
        elif op == "pay":
            got = until_answered(server, key, "POST", f"/v1/invoices/{target}/pay", {}, tag, stats, stop_at)
        elif op == "one_off":
            got = until_answered(server, key, "POST", "/v1/invoices",
                                 {"customer": rng.choice(customers), "currency": "usd", "metadata": {"k": tag},
                                  "lines": [{"description": "Extra box", "unit_amount": 700}]}, tag, stats, stop_at)
        elif op == "change_plan":
            # Between the two plans, invoicing the proration at once: charged in the request.
            sub, on_other = subscriptions[rng.randrange(len(subscriptions))]
            got = until_answered(server, key, "POST", f"/v1/subscriptions/{sub}/change-plan",
                                 {"plan": plan_id if on_other else other_plan_id, "proration": "always_invoice"}, tag,
                                 stats, stop_at)
            if got is not None and got[0] == 409:
                continue  # e.g. ended, or changed by another writer meanwhile
            if got is not None and 200 <= got[0] < 300:
                subscriptions[subscriptions.index((sub, on_other))] = (sub, got[1].get("plan") == other_plan_id)
        else:
            got = until_answered(server, key, "POST", "/v1/refunds", {"invoice": target, "amount": 1}, tag, stats,
                                 stop_at)
        if got is None:
            continue
        status, doc = got
        if op == "pay" and status == 409 and doc.get("code") == "invoice_not_open":
            continue  # the scheduler paid it first
        if op == "pay":
            with stats.lock:
                stats.pays.append(tag)
        if not 200 <= status < 300:
            stats.problems.append(f"{op} {tag}: {status} {doc.get('code')} {doc.get('detail')}")
            continue
        stats.add(op)
        with stats.lock:
            stats.acked.append((op, tag, doc.get("id")))
        if op == "customer":
            customers.append(doc["id"])
        if op == "subscription" and doc.get("status") == "active":
            subscriptions.append((doc["id"], False))


class Database:
    def __init__(self, workdir):
        if ENGINE == "postgres":
            self.name = "kill9_" + uuid.uuid4().hex[:8]
            subprocess.run(["psql", "-qAt", "-c", f"CREATE DATABASE {self.name}"], check=True)
            host, port, user = os.environ["PGHOST"], os.environ["PGPORT"], os.environ.get("PGUSER", "postgres")
            self.url = f"postgresql://{user}@{host}:{port}/{self.name}"
        else:
            self.path = os.path.join(workdir, "kill9.db")
            self.url = f"sqlite:{self.path}"

    def rows(self, sql):
        if ENGINE == "postgres":
            out = subprocess.run(["psql", "-qAt", "-F", "\t", "-d", self.name, "-c", sql], check=True,
                                 capture_output=True, text=True).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        db = sqlite3.connect(self.path)
        try:
            return [tuple(str(v) for v in r) for r in db.execute(sql).fetchall()]
        finally:
            db.close()

    def drop(self):
        if ENGINE == "postgres":
            subprocess.run(["psql", "-qAt", "-c", f"DROP DATABASE IF EXISTS {self.name}"], check=False)


def check(db, stats, workdir):
    problems = list(stats.problems)
    per_key = collections.defaultdict(list)  # (kind, key) -> ids made for it
    for (object_id, doc) in db.rows("SELECT id, doc FROM customers"):
        per_key[("customer", json.loads(doc).get("metadata", {}).get("k"))].append(object_id)
    for (object_id, doc) in db.rows("SELECT id, doc FROM subscriptions"):
        per_key[("subscription", json.loads(doc).get("metadata", {}).get("k"))].append(object_id)
    request_tag = lambda request_key: request_key.split("/", 1)[1].split("#")[0]
    for (object_id, request_key) in db.rows("SELECT id, request_key FROM payment_methods WHERE request_key IS NOT NULL"):
        per_key[("payment_method", request_tag(request_key))].append(object_id)
    for (object_id, request_key) in db.rows("SELECT id, request_key FROM refunds WHERE request_key IS NOT NULL"):
        per_key[("refund", request_tag(request_key))].append(object_id)
    for (object_id, reason) in db.rows("SELECT id, reason FROM stock_movements WHERE kind = 'adjustment'"):
        per_key[("adjustment", reason)].append(object_id)
    for (object_id, doc) in db.rows("SELECT id, doc FROM invoices WHERE subscription_id IS NULL"):
        per_key[("one_off", json.loads(doc).get("metadata", {}).get("k"))].append(object_id)
    changes = collections.Counter(request_tag(k) for (k,) in
                                  db.rows("SELECT request_key FROM subscription_requests WHERE request_key IS NOT NULL"))
    duplicates = {k: ids for k, ids in per_key.items() if len(ids) > 1 and k[1] is not None and k[1] != "stock"}
    if duplicates:
        problems.append(f"{len(duplicates)} keys made more than one object: {list(duplicates.items())[:5]}")
    # Each answer names the one object its key made (stock movements answer with the level).
    changed_twice = {tag: n for tag, n in changes.items() if n > 1}
    if changed_twice:
        problems.append(f"plan-change keys that changed more than once: {list(changed_twice.items())[:5]}")
    unrecorded = [tag for (op, tag, _) in stats.acked if op == "change_plan" and changes.get(tag) != 1]
    if unrecorded:
        problems.append(f"acknowledged plan changes without their one request row: {unrecorded[:5]}")
    wrong = [(op, tag, object_id, per_key.get((op, tag))) for (op, tag, object_id) in stats.acked
             if op not in ("pay", "change_plan") and (per_key.get((op, tag)) is None or len(per_key[(op, tag)]) != 1
             or (op != "adjustment" and per_key[(op, tag)] != [object_id]))]
    if wrong:
        problems.append(f"{len(wrong)} acknowledged writes are not the one object of their key: {wrong[:5]}")
    more = len([1 for (op, _), ids in per_key.items() if op == "refund"]) - sum(1 for a in stats.acked if a[0] == "refund")
    if more < 0:
        problems.append("acknowledged refunds are missing")
    twice = db.rows("SELECT invoice_id, COUNT(*) FROM payments WHERE status = 'succeeded'"
                    " GROUP BY invoice_id HAVING COUNT(*) > 1")
    if twice:
        problems.append(f"invoices paid twice: {twice[:5]}")
    paid_by_request = collections.Counter(request_tag(k) for (k,) in
                                          db.rows("SELECT request_key FROM payments WHERE request_key IS NOT NULL"))
    if any(n > 1 for n in paid_by_request.values()) or set(paid_by_request) - set(stats.pays):
        problems.append(f"pay requests with more than one attempt, or unknown: {paid_by_request.most_common(3)}")
    charges = collections.Counter(k.split(":")[0] for (k,) in
                                  db.rows("SELECT idempotency_key FROM sandbox_charges WHERE status = 'succeeded'"))
    charged_twice = {i: n for i, n in charges.items() if n > 1}
    if charged_twice:
        problems.append(f"invoices charged twice at the gateway: {list(charged_twice.items())[:5]}")
    refunded_at_gateway = int(db.rows("SELECT COALESCE(SUM(amount), 0) FROM sandbox_refunds")[0][0])
    refunds = db.rows("SELECT status, doc FROM refunds")
    recorded = sum(json.loads(doc)["amount"] for (status, doc) in refunds if status == "succeeded")
    if refunded_at_gateway != recorded or any(status == "pending" for (status, _) in refunds):
        problems.append(f"the gateway refunded {refunded_at_gateway}, the refunds record {recorded} "
                        f"({sum(1 for r in refunds if r[0] == 'pending')} pending)")
    takeovers = 0
    for name in os.listdir(workdir):
        if name.startswith("serve-"):
            with open(os.path.join(workdir, name), errors="replace") as f:
                takeovers += sum(1 for line in f if "taken over by a retry" in line)
    paid = len(db.rows("SELECT id FROM invoices WHERE status = 'paid'"))
    return problems, len(duplicates), paid, sum(charges.values()), len(refunds), takeovers


def main():
    stop_at = time.monotonic() + DEADLINE
    rng = random.Random(20261202)
    with tempfile.TemporaryDirectory() as workdir:
        db = Database(workdir)
        try:
            subprocess.run([RECUR, "migrate", "--db", db.url], check=True, capture_output=True)
            key = subprocess.run([RECUR, "keys", "create", "--role", "admin", "--db", db.url], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            server = Server(RECUR, db.url, workdir, ["--tick", "1", "--idempotency-lease", str(LEASE)])
            server.start()
            setup = lambda path, body: until_answered(server, key, "POST", path, body, uuid.uuid4().hex, Stats(),
                                                      stop_at)[1]
            product = setup("/v1/products", {"sku": "K9-BOX", "name": "Box"})
            setup("/v1/inventory/K9-BOX/adjustments", {"quantity_delta": 100000, "reason": "stock"})
            plan = setup("/v1/plans", {"name": "Box", "amount": 1500, "currency": "usd", "interval": "month",
                                       "items": [{"product": product["id"], "quantity": 1}]})
            other = setup("/v1/plans", {"name": "Big box", "amount": 2500, "currency": "usd", "interval": "month",
                                        "items": [{"product": product["id"], "quantity": 1}]})
            stats = Stats()
            stop_writing = threading.Event()
            threads = [threading.Thread(target=writer, args=(n, server, key, "K9-BOX", plan["id"], stats, stop_writing,
                                                             stop_at, other["id"])) for n in range(WRITERS)]
            for t in threads:
                t.start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.4, 1.2))
                server.kill()
                time.sleep(rng.uniform(0.0, 0.3))
                server.start()
            time.sleep(0.5)
            stop_writing.set()
            for t in threads:  # each finishes its request in flight: retried until answered
                t.join(timeout=max(1, stop_at - time.monotonic()))
            # The scheduler asks the gateway again about refunds a kill left pending: wait for
            # that (bounded) rather than for a fixed time.
            settle_by = time.monotonic() + 20
            while (int(db.rows("SELECT COUNT(*) FROM refunds WHERE status = 'pending'")[0][0]) > 0
                   and time.monotonic() < settle_by):
                time.sleep(0.2)
            server.stop()
            problems, duplicates, paid, charged, refunds, takeovers = check(db, stats, workdir)
            c = stats.c
            print(f"kill9_idempotency ({ENGINE}): {KILLS} kills; acknowledged {c['customer']} customers, "
                  f"{c['payment_method']} payment methods, {c['subscription']} subscriptions, {c['adjustment']} "
                  f"adjustments, {len(stats.pays)} pay requests, {c['refund']} refunds, {c['one_off']} one-off "
                  f"invoices, {c['change_plan']} plan changes; {c['unanswered']} tries unanswered, {c['in_use_409']} answered 409 in use, "
                  f"{c['server_error']} 5xx, {c['answered_after_retry']} requests answered after retrying, "
                  f"{takeovers} keys taken over after the lease; "
                  f"{paid} invoices paid, {charged} gateway charges; {duplicates} duplicates")
            if c["unanswered"] == 0 or c["answered_after_retry"] == 0 or takeovers == 0:
                problems.append("no request was cut off by a kill and taken over after the lease: "
                                "the test proves too little")
            if problems:
                print("\n".join(problems[:20]))
                raise SystemExit(1)
            print("kill9_idempotency: one object per key, every acknowledged write kept, nothing paid twice")
        finally:
            db.drop()


if __name__ == "__main__":
    main()
