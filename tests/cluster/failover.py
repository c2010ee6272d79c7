#!/usr/bin/env python3
"""`make test-failover`: the cluster of `make cluster` (ops/cluster/up.sh) under a steady load of
creates, while trials end and billing runs charge them on every node:

1. SIGKILL of the PostgreSQL primary (its postmaster and its Patroni: the machine is gone).
   Patroni promotes the replica; HAProxy's PostgreSQL front follows Patroni's /primary; the
   nodes' pools drop the dead connections and reconnect.
2. SIGKILL of one recur node: HAProxy takes it out on its failed /readyz checks; the others
   carry on, and take over its billing claims once their lease runs out.

Reported: seconds without a successful write, requests failed meanwhile. Checked afterwards,
on the new primary: every create answered 2xx is there (no acknowledged write lost), no invoice
paid by two charges, no period invoiced twice, and every trial that ended is invoiced once.

Usage: failover.py PATH/TO/recur     (brings the cluster up and down itself; CLUSTER_DIR may
       name the folder, default /tmp/recur-failover)
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

ADDRESS = {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
LEASE = 15  # --billing-lease of the nodes
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def load_env(path):
    env = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            env[k] = v.strip('"')
    return env


class Api:
    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None, idempotency_key=None, timeout=10):
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, None
        except Exception:  # refused, reset, timed out: the request failed
            return 0, None


class Writers:
    """Threads creating customers as fast as they are answered; a failed create is retried with
    its Idempotency-Key until answered, as a client would."""

    def __init__(self, api, threads=6):
        self.api, self.stop = api, threading.Event()
        self.lock = threading.Lock()
        self.acknowledged = {}  # id -> email
        self.events = []  # (monotonic time, ok)
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        while not self.stop.is_set():
            key, email = str(uuid.uuid4()), f"{uuid.uuid4().hex[:12]}@example.com"
            while not self.stop.is_set():
                status, doc = self.api.call("POST", "/v1/customers", {"email": email, "name": "Load Test"}, key)
                with self.lock:
                    self.events.append((time.monotonic(), status in (200, 201), status))
                if status in (200, 201):
                    with self.lock:
                        self.acknowledged[doc["id"]] = email
                    break
                time.sleep(0.2)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def failures_after(self, since):
        """The failed requests since `since`, by status (0: no answer: refused, reset, timed out)."""
        counts = {}
        with self.lock:
            for t, ok, status in self.events:
                if t >= since and not ok:
                    counts[status] = counts.get(status, 0) + 1
        return counts

    def outage_after(self, since):
        """(seconds from `since` to the first success after the first failure, failed requests)."""
        with self.lock:
            after = [(t, ok) for t, ok, _ in self.events if t >= since]
        failed = sum(1 for _, ok in after if not ok)
        first_fail = next((t for t, ok in after if not ok), None)
        if first_fail is None:
            return 0.0, 0
        back = next((t for t, ok in after if ok and t > first_fail), None)
        return (back - since) if back else None, failed


def psql(env, sql):
    out = subprocess.run([f"{env['PG_BIN']}/psql", env["DB_URL"], "-qtA", "-c", sql], capture_output=True,
                         text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr}")
    return [line.split("|") for line in out.stdout.strip().splitlines() if line]


def wait_for(condition, timeout, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return condition()


def main():
    recur = os.path.realpath(sys.argv[1])
    cluster_dir = os.environ.get("CLUSTER_DIR", "/tmp/recur-failover")
    # Every charge takes 2 s, so each node's billing run holds claims most of the time (the
    # node killed dies holding some), and a claim lasts 15 s instead of 5 minutes.
    env_vars = dict(os.environ, CLUSTER_DIR=cluster_dir,
                    RECUR_NODE_FLAGS=f"--sandbox-faults latency_ms=2000 --billing-lease {LEASE}")
    started = time.monotonic()
    subprocess.run(["bash", os.path.join(ROOT, "ops/cluster/down.sh")], env=env_vars, capture_output=True)
    up = subprocess.run(["bash", os.path.join(ROOT, "ops/cluster/up.sh"), recur], env=env_vars, text=True,
                        capture_output=True, timeout=600)
    if up.returncode != 0:
        print(up.stdout, up.stderr)
        return 1
    try:
        env = load_env(os.path.join(cluster_dir, "cluster.env"))
        key = subprocess.run([recur, "keys", "create", "--role", "admin", "--db", env["DB_URL"], "--master-key-file",
                              env["MASTER_KEY_FILE"]], capture_output=True, text=True, check=True,
                             timeout=60).stdout.strip().splitlines()[-1]
        api = Api(env["API_URL"], key)
        subs = seed_trials(api)
        check_replica_reads(env, api)
        with Writers(api) as writers:
            time.sleep(3)  # steady load first
            primary_killed = kill_primary(env)
            # Until writes fail and come back (or never fail for 30 s).
            def back():
                outage_now, failed_now = writers.outage_after(primary_killed)
                if failed_now == 0:
                    return (0.0, 0) if time.monotonic() - primary_killed > 30 else None
                return (outage_now, failed_now) if outage_now is not None else None
            outage, failed = wait_for(back, 120) or (None, None)
            print(f"info  primary killed: writes back after {outage} s, {failed} requests failed meanwhile "
                  f"(by status: {writers.failures_after(primary_killed)})", flush=True)
            check(outage is not None and outage < 60, f"writes resume after the primary's SIGKILL ({outage} s)")
            time.sleep(3)
            claimed = claimed_invoices(env)
            node_killed = kill_node(env)
            watch_claims(env, claimed, node_killed)
            time.sleep(max(0.0, node_killed + 10 - time.monotonic()))
            node_outage, node_failed = writers.outage_after(node_killed)
            print(f"info  one recur node killed: {node_failed} requests failed "
                  f"(by status: {writers.failures_after(node_killed)}), "
                  f"{node_outage if node_outage is not None else 'no'} s without a write", flush=True)
            check(node_outage is None or node_outage < 10, "the other nodes carry on after a node's SIGKILL")
        verify(env, api, writers, subs)
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "ops/cluster/down.sh")], env=env_vars, capture_output=True)
    print(f"failover: {time.monotonic() - started:.1f} s")
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


def seed_trials(api):
    """Subscriptions whose trials end during the test: billing runs on every node charge them."""
    status, product = api.call("POST", "/v1/products", {"name": "Beans", "sku": f"SKU-{uuid.uuid4().hex[:8]}"})
    status, plan = api.call("POST", "/v1/plans", {"name": "Monthly", "amount": 1500, "currency": "usd",
                                                  "interval": "month", "interval_count": 1,
                                                  "items": [{"product": product["id"], "quantity": 1}]})
    subs = []
    for i in range(30):
        _, cus = api.call("POST", "/v1/customers", {"email": f"trial{i}-{uuid.uuid4().hex[:6]}@example.com",
                                                    "name": "Trial", "shipping_address": ADDRESS})
        api.call("POST", f"/v1/customers/{cus['id']}/payment-methods", {"token": "pm_card_visa"})
        ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 + i))
        status, sub = api.call("POST", "/v1/subscriptions", {"customer": cus["id"], "plan": plan["id"],
                                                             "trial_end": ends})
        if status == 201:
            subs.append(sub["id"])
    check(len(subs) == 30, f"30 subscriptions on trials ending over the next 35 s ({len(subs)})")
    return subs


def metric_sum(env, family, label=""):
    total = 0.0
    for port in env["METRICS_PORTS"].split():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(family) and label in line:
                    total += float(line.rsplit(" ", 1)[1])
    return total


def check_replica_reads(env, api):
    """--db-replica: every node probes the streaming replica; the merchant's lists are served
    from it, and a single resource (read-your-writes) from the primary."""
    port = env["METRICS_PORTS"].split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        exposition = r.read()
    promtool = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=exposition, capture_output=True)
    check(promtool.returncode == 0 and b"recur_db_replica_usable" in exposition
          and b"recur_db_stale_reads_total" in exposition and b"recur_db_replica_pool_connections" in exposition,
          f"a cluster node's /metrics (replica families included) passes promtool check metrics "
          f"({promtool.stdout.decode()[:200]}{promtool.stderr.decode()[:200]})")
    usable = wait_for(lambda: metric_sum(env, "recur_db_replica_usable") == len(env["NODE_PORTS"].split()), 20)
    check(bool(usable), "every node reads the replica as usable (recur_db_replica_usable)")
    before = metric_sum(env, "recur_db_stale_reads_total", 'served_by="replica"')
    lists = [api.call("GET", "/v1/customers?limit=5")[0] for _ in range(9)]
    after = metric_sum(env, "recur_db_stale_reads_total", 'served_by="replica"')
    check(all(s == 200 for s in lists) and after - before >= 9,
          f"the merchant's lists are read from the replica ({after - before:.0f} replica reads for 9 lists)")
    status, created = api.call("POST", "/v1/customers", {"email": f"ryw-{uuid.uuid4().hex[:8]}@example.com",
                                                         "name": "Read Back"})
    status_read, read = api.call("GET", f"/v1/customers/{created['id']}") if status in (200, 201) else (0, None)
    check(status_read == 200, f"a customer just created is read back at once (from the primary: {status_read})")


def claimed_invoices(env):
    """Invoices a billing run holds now: open, their next attempt pushed out by a claim's lease."""
    return [r[0] for r in psql(env, "SELECT id FROM invoices WHERE status = 'open' AND next_attempt_at >"
                                    " EXTRACT(EPOCH FROM now())::bigint")]


def watch_claims(env, claimed, since):
    """Waits until every invoice claimed at the node's SIGKILL is paid: those of the live nodes
    within seconds, the dead node's after its claims' lease, by another node. Returns how many
    were paid only after the lease had run out (taken over)."""
    if not claimed:
        print("info  no billing claim was held when the node was killed", flush=True)
        return 0
    quoted = ",".join("'" + i + "'" for i in claimed)
    paid_after = {}
    deadline = since + LEASE + 60
    while time.monotonic() < deadline and len(paid_after) < len(claimed):
        for (invoice,) in psql(env, f"SELECT id FROM invoices WHERE id IN ({quoted}) AND status = 'paid'"):
            paid_after.setdefault(invoice, time.monotonic() - since)
        time.sleep(1)
    late = sorted(t for t in paid_after.values() if t >= LEASE - 1)
    print(f"info  {len(claimed)} invoices claimed by billing runs at the node's SIGKILL: "
          f"{len(paid_after) - len(late)} paid within seconds, {len(late)} only after the {LEASE} s lease "
          f"(the dead node's, taken over; {', '.join(f'{t:.0f} s' for t in late) or 'none'})", flush=True)
    check(len(paid_after) == len(claimed), f"every invoice claimed when the node died is paid ({len(paid_after)} of "
                                           f"{len(claimed)})")
    return len(late)


def kill_primary(env):
    cluster = env["CLUSTER_DIR"]
    for name in ("pg1", "pg2"):
        port = env["PATRONI1" if name == "pg1" else "PATRONI2"]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/primary", timeout=2) as r:
                if r.status != 200:
                    continue
        except Exception:
            continue
        postmaster = int(open(f"{cluster}/{name}/data/postmaster.pid").readline())
        patroni = subprocess.run(["pgrep", "-f", f"patroni {cluster}/{name}.yml"], capture_output=True,
                                 text=True).stdout.split()
        when = time.monotonic()
        for pid in [postmaster, *map(int, patroni)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        print(f"info  SIGKILL to the primary {name} (postmaster {postmaster} and its Patroni)", flush=True)
        return when
    raise RuntimeError("no PostgreSQL primary found")


def kill_node(env):
    port = env["NODE_PORTS"].split()[0]
    pid = subprocess.run(["pgrep", "-f", "--", f"--listen 127.0.0.1:{port} "], capture_output=True,
                         text=True).stdout.split()
    when = time.monotonic()
    for p in pid:
        os.kill(int(p), signal.SIGKILL)
    print(f"info  SIGKILL to recur node 1 (pid {' '.join(pid)})", flush=True)
    return when


def verify(env, api, writers, subs):
    ids = list(writers.acknowledged)
    found = set()
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        quoted = ",".join("'" + i + "'" for i in part)
        found.update(r[0] for r in psql(env, f"SELECT id FROM customers WHERE id IN ({quoted})"))
    lost = [i for i in ids if i not in found]
    check(ids and not lost, f"every create answered 2xx is in the database ({len(ids)} acknowledged, "
                            f"{len(lost)} lost: {lost[:3]})")
    quoted = ",".join("'" + s + "'" for s in subs)

    def all_billed():
        rows = psql(env, f"SELECT COUNT(*) FROM invoices WHERE subscription_id IN ({quoted}) AND status = 'paid'")
        return int(rows[0][0]) == len(subs) and rows
    billed = wait_for(all_billed, 90, every=2)
    check(bool(billed), f"every trial that ended is invoiced and paid once, by whichever node ({billed})")
    twice = psql(env, "SELECT p.invoice_id, COUNT(*) FROM payments p JOIN sandbox_charges c"
                      " ON c.idempotency_key = p.idempotency_key WHERE c.status = 'succeeded'"
                      " GROUP BY p.invoice_id HAVING COUNT(*) > 1")
    check(not twice, f"no invoice charged twice ({twice[:3]})")
    periods = psql(env, "SELECT subscription_id, period_seq, COUNT(*) FROM invoices"
                        " GROUP BY subscription_id, period_seq HAVING COUNT(*) > 1")
    check(not periods, f"no period invoiced twice ({periods[:3]})")
    charged = int(psql(env, "SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")[0][0])
    paid = int(psql(env, "SELECT COUNT(*) FROM invoices WHERE status = 'paid'")[0][0])
    check(charged == paid, f"as many successful charges as paid invoices ({charged} charges, {paid} paid)")


if __name__ == "__main__":
    sys.exit(main())
