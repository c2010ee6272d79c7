#!/usr/bin/env python3
"""`recur serve`'s observability (issue 19), against the real binary on 127.0.0.1:

1. /healthz (liveness, with the version) and /readyz (readiness, with the schema version;
   503 `not_ready` with a `reason` otherwise), without a key.
2. /metrics: the Prometheus text format 0.0.4 that `promtool check metrics` accepts, fresh and
   after traffic, with every family of the contract. Request counters and latency histograms
   by route TEMPLATE, method and status class go up by exactly the requests made (no raw id
   in any label); the database pool, the process, the build, the outboxes and SQLite's disk.
3. Billing in --test-mode: charges at signup and at renewal, renewals and billing runs, a
   declined renewal and the dunning gauge (read from the database, cached up to 5 s: polled
   with a bound, never a fixed sleep).
4. --tick: the scheduler's tick counter, period and last-tick age.
5. --metrics-listen: /metrics (and the health checks) on a port of their own, 404 on the API's.
6. --drain-seconds: after SIGTERM the node answers /readyz 503 `draining` (and everything
   else as before) for that long, then exits 0.

Three servers (one per group of flags), each on a fresh SQLite database in a temp dir,
started together and always stopped. Usage: observability.py PATH/TO/recur
"""
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from recur_server import ROOT, Recur, free_port  # beside this file

PROMTOOL = "/usr/bin/promtool"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DB_CACHE_BOUND = 12  # seconds to wait for a database-derived gauge (cached up to 5 s)
failures = []

# Every family recur exposes, as the alert rules and dashboard know them (scripts/check-ops.sh).
with open(os.path.join(ROOT, "ops/prometheus/metrics.txt")) as listed:
    FAMILIES = [line.strip() for line in listed if line.strip() and not line.startswith("#")]
# Exposed only with a replica (PostgreSQL; --db-replica: tests/cluster/failover.py), an alert
# sink, or after the scheduler's first tick.
REPLICA_ONLY = {"recur_db_replica_lag_seconds", "recur_db_stale_reads_total", "recur_db_replica_usable",
                "recur_db_replica_probe_lag_seconds", "recur_db_replica_pool_connections",
                "recur_db_replica_pool_waiters"}
OPTIONAL = REPLICA_ONLY | {"recur_alerts_sent_total", "recur_alerts_failed_total", "recur_alerts_dropped_total",
                           "recur_alerts_suppressed_total", "recur_scheduler_last_tick_age_seconds"}
HISTOGRAMS = {"recur_http_request_duration_seconds", "recur_charge_duration_seconds"}
OUTBOXES = ("events", "webhooks", "notifications", "stream")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)
    return condition



def poll(condition, timeout, every=0.1):
    """condition()'s first truthy value within `timeout` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


# ------------------------------------------------------------------ the exposition format

class Exposition:
    """A /metrics body: samples {(name, frozenset(labels.items())): value} and # TYPE lines."""

    def __init__(self, text):
        self.text = text
        self.samples, self.types, self.duplicates = {}, {}, []
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) == 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            name, labels, value = parse_sample(line, number)
            key = (name, frozenset(labels.items()))
            if key in self.samples:
                self.duplicates.append(line)
            self.samples[key] = value

    def get(self, name, default=None, **labels):
        return self.samples.get((name, frozenset(labels.items())), default)

    def series(self, name):
        """[(labels dict, value)] of every sample named `name`."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def family_present(self, family):
        return family in self.types or any(k[0] == family for k in self.samples)

    def label_values(self):
        return [v for (_, labels) in self.samples for (_, v) in labels]


def parse_sample(line, number):
    """name{label="value",...} value [timestamp], with \\\\, \\" and \\n escapes in label values."""
    m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
    if not m:
        raise ValueError(f"line {number}: no metric name: {line!r}")
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            while i < len(line) and line[i] in " ,":
                i += 1
            if i < len(line) and line[i] == "}":
                i += 1
                break
            lm = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(line, i)
            if not lm or line[lm.end():lm.end() + 2] != '="':
                raise ValueError(f"line {number}: bad label at column {i}: {line!r}")
            label, i, value = lm.group(0), lm.end() + 2, []
            while True:
                if i >= len(line):
                    raise ValueError(f"line {number}: unterminated label value: {line!r}")
                c = line[i]
                if c == "\\":
                    nxt = line[i + 1:i + 2]
                    value.append({"\\": "\\", '"': '"', "n": "\n"}.get(nxt, "\\" + nxt))
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    value.append(c)
                    i += 1
            labels[label] = "".join(value)
    fields = line[i:].split()
    if not fields:
        raise ValueError(f"line {number}: no value: {line!r}")
    return name, labels, float(fields[0])


def promtool_accepts(body, what):
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
    output = (done.stdout + done.stderr).decode(errors="replace").strip()
    return check(done.returncode == 0, f"promtool check metrics accepts {what}"
                 + ("" if done.returncode == 0 else f" (exit {done.returncode}):\n{output}"))


def histograms_cumulative(exp, family):
    """[] when every series of a histogram family has non-decreasing buckets ending in
    +Inf == _count; else what is wrong."""
    problems, by_series = [], {}
    for labels, value in exp.series(family + "_bucket"):
        le = labels.pop("le", None)
        by_series.setdefault(frozenset(labels.items()), []).append((float(le), value))
    for series, buckets in by_series.items():
        buckets.sort()
        values = [v for _, v in buckets]
        count = exp.samples.get((family + "_count", series))
        if any(b > a for a, b in zip(values[1:], values)):
            problems.append(f"{dict(series)}: buckets decrease {values}")
        if buckets[-1][0] != float("inf") or values[-1] != count:
            problems.append(f"{dict(series)}: +Inf {buckets[-1]} != _count {count}")
    return problems


# ------------------------------------------------------------------ a server and a client

class Client:
    """One keep-alive connection (so that a request's metrics are recorded before the next
    request on it is read), reopened if the server closed it while idle."""

    def __init__(self, port, key=None):
        self.port, self.key, self.conn = port, key, None

    def request(self, method, path, body=None, auth=True):
        headers = {}
        if auth and self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if not reused or attempt:
                    raise

    def json(self, method, path, body=None, auth=True):
        status, headers, raw = self.request(method, path, body, auth)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return status, headers, doc

    def scrape(self):
        status, headers, body = self.request("GET", "/metrics", auth=False)
        if status != 200:
            raise AssertionError(f"GET /metrics -> {status}: {body[:500]!r}")
        return Exposition(body.decode()), headers, body

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def once(port, method, path, key=None):
    """A request on a connection of its own: (status, headers, parsed JSON or None)."""
    c = Client(port, key)
    try:
        return c.json(method, path)
    finally:
        c.close()


def is_problem(headers, doc, code, reason=None):
    return (headers.get("content-type", "").startswith("application/problem+json") and isinstance(doc, dict)
            and doc.get("code") == code and (reason is None or doc.get("reason") == reason))


# ------------------------------------------------------------------ server 1: traffic, gauges, tick

def test_exposition_parser():
    exp = Exposition('# TYPE x counter\nx{a="q\\"uote",b="back\\\\slash",c="new\\nline",d="{,}"} 3 1700000000\n'
                     'y 1.5e+06\nz{le="+Inf"} +Inf\n')
    check(exp.get("x", a='q"uote', b="back\\slash", c="new\nline", d="{,}") == 3 and exp.get("y") == 1.5e6
          and exp.get("z", le="+Inf") == float("inf") and exp.types == {"x": "counter"},
          "the exposition parser reads escaped label values, exponents and +Inf")


def test_main_server(server, workers, tick):
    key = server.key()
    c = Client(server.port, key)
    try:
        # Health and readiness, without a key.
        status, headers, doc = once(server.port, "GET", "/healthz")
        version = (doc or {}).get("version", "")
        check(status == 200 and headers.get("content-type", "").startswith("application/json")
              and doc.get("status") == "ok" and SEMVER.match(version) is not None and set(doc) == {"status", "version"},
              f"/healthz without a key: 200 {{status: ok, version: semver}} ({status} {doc})")
        status, _, doc = once(server.port, "GET", "/readyz")
        check(status == 200 and doc.get("status") == "ready" and isinstance(doc.get("schema_version"), int)
              and doc["schema_version"] >= 43, f"/readyz without a key: 200 ready with schema_version >= 43 "
              f"({status} {doc})")
        schema_version = (doc or {}).get("schema_version")

        # A fresh server's exposition.
        status, headers, body = c.request("GET", "/metrics", auth=False)
        check(status == 200 and headers.get("content-type") == CONTENT_TYPE,
              f"/metrics without a key: 200 {CONTENT_TYPE} ({status} {headers.get('content-type')})")
        promtool_accepts(body, "a fresh server's /metrics")
        fresh = Exposition(body.decode())
        check(not fresh.duplicates, f"no series is written twice ({fresh.duplicates[:3]})")
        missing = [f for f in FAMILIES if f not in OPTIONAL and not fresh.family_present(f)]
        check(not missing, f"every family of ops/prometheus/metrics.txt is exposed ({len(FAMILIES)}; missing: {missing})")
        unlisted = sorted(f for f in fresh.types if f not in FAMILIES)
        check(not unlisted, f"every family exposed is in ops/prometheus/metrics.txt (not: {unlisted})")
        wrong_types = {f: fresh.types.get(f) for f in HISTOGRAMS if fresh.types.get(f) != "histogram"}
        wrong_types.update({f: fresh.types.get(f) for f in FAMILIES
                            if f.endswith("_total") and fresh.family_present(f) and fresh.types.get(f) != "counter"})
        check(not wrong_types, f"histograms are histograms and *_total are counters ({wrong_types or 'all'})")

        # Known traffic on one keep-alive connection, between two scrapes on it.
        before, _, _ = c.scrape()
        drive = [("GET", "/v1/customers/cus_does_not_exist", 404, 5),
                 ("GET", "/v1/products", 200, 3),
                 ("GET", "/nope", 404, 2)]
        statuses = {}
        for method, path, _, times in drive:
            statuses[path] = [c.request(method, path)[0] for _ in range(times)]
        check(statuses == {p: [s] * n for _, p, s, n in drive}, f"the driven requests answered as expected ({statuses})")
        after, _, body = c.scrape()
        promtool_accepts(body, "/metrics after traffic")
        expected = [("/v1/customers/{id}", "GET", "4xx", 5), ("/v1/products", "GET", "2xx", 3),
                    ("(unmatched)", "GET", "4xx", 2)]
        for route, method, klass, n in expected:
            b = before.get("recur_http_requests_total", 0, route=route, method=method, status=klass)
            a = after.get("recur_http_requests_total", None, route=route, method=method, status=klass)
            check(a is not None and a - b == n, f'recur_http_requests_total{{route="{route}",method="{method}",'
                  f'status="{klass}"}} went up by exactly {n} ({b} -> {a})')
            b = before.get("recur_http_request_duration_seconds_count", 0, route=route, method=method)
            a = after.get("recur_http_request_duration_seconds_count", None, route=route, method=method)
            check(a is not None and a - b == n, f'recur_http_request_duration_seconds_count{{route="{route}"}} '
                  f'went up by exactly {n} ({b} -> {a})')
        other_classes = {(labels["route"], labels["status"]): v for labels, v in
                         after.series("recur_http_requests_total")
                         if labels["route"] in ("/v1/customers/{id}", "/v1/products", "(unmatched)")
                         and (labels["route"], labels["method"], labels["status"]) not in
                         {(r, m, k) for r, m, k, _ in expected}}
        check(not any(other_classes.values()), f"no other status class counted for those routes ({other_classes})")
        problems = histograms_cumulative(after, "recur_http_request_duration_seconds")
        check(not problems and after.series("recur_http_request_duration_seconds_bucket"),
              f"request-duration buckets are cumulative and +Inf equals _count ({problems[:3] or 'all series'})")
        raw = [v for v in after.label_values() if "cus_does_not_exist" in v or "/nope" in v]
        check(not raw, f"no raw id or path in any label value ({raw})")
        routes = sorted({labels["route"] for labels, _ in after.series("recur_http_requests_total")})
        check(all(r.startswith("/") or r in ("(unmatched)", "(refused)") for r in routes),
              f"route labels are templates ({routes})")

        # Gauges: database, build, process, pool, outboxes, SQLite's disk.
        check(after.get("recur_db_up") == 1, f"recur_db_up is 1 ({after.get('recur_db_up')})")
        build = after.series("recur_build_info")
        check(len(build) == 1 and build[0][1] == 1 and build[0][0].get("version") == version
              and build[0][0].get("commit"), f"recur_build_info{{version=/healthz's {version!r},commit}} = 1 ({build})")
        fds, max_fds = after.get("process_open_fds", 0), after.get("process_max_fds", 0)
        check(fds > 0 and max_fds > fds, f"process_open_fds > 0 and below process_max_fds ({fds}, {max_fds})")
        rss, vsz = after.get("process_resident_memory_bytes", 0), after.get("process_virtual_memory_bytes", 0)
        check(rss > 1e6 and vsz >= rss, f"process_resident_memory_bytes > 1 MB, virtual >= resident ({rss}, {vsz})")
        heap = {labels["state"]: v for labels, v in after.series("recur_process_heap_bytes")}
        check(heap.get("in_use", 0) > 0 and heap.get("free", -1) >= 0,
              f"recur_process_heap_bytes: in_use > 0, free >= 0 ({heap})")
        start = after.get("process_start_time_seconds", 0)
        check(abs(start - server.started_wall) < 120 and after.get("process_cpu_seconds_total", -1) >= 0,
              f"process_start_time_seconds is when the server started ({start} vs {server.started_wall:.0f}) "
              f"and process_cpu_seconds_total is there")
        check(after.get("recur_db_pool_max_connections") == workers,
              f"recur_db_pool_max_connections equals --workers {workers} ({after.get('recur_db_pool_max_connections')})")
        pool = {labels.get("state"): v for labels, v in after.series("recur_db_pool_connections")}
        check(pool and all(v >= 0 for v in pool.values()) and sum(pool.values()) <= workers
              and after.get("recur_db_pool_waiters") is not None and after.get("recur_db_pool_acquires_total", 0) > 0
              and after.get("recur_db_pool_wait_seconds_total", -1) >= 0,
              f"the pool's connections by state, waiters, acquires and wait seconds ({pool}, "
              f"acquires {after.get('recur_db_pool_acquires_total')})")
        in_flight = after.get("recur_http_requests_in_flight")
        check(in_flight is not None and in_flight >= 1 and after.get("recur_http_worker_queue_depth", -1) >= 0
              and after.get("recur_http_connections_open", 0) >= 1,
              f"in flight (the scrape itself) >= 1, queue depth >= 0, connections open >= 1 "
              f"({in_flight}, {after.get('recur_http_worker_queue_depth')}, {after.get('recur_http_connections_open')})")
        depth = {o: after.get("recur_outbox_depth", None, outbox=o) for o in OUTBOXES}
        age = {o: after.get("recur_outbox_oldest_age_seconds", None, outbox=o) for o in OUTBOXES}
        check(all(v is not None and v >= 0 for v in list(depth.values()) + list(age.values())),
              f"recur_outbox_depth and _oldest_age_seconds for all four outboxes, >= 0 ({depth}, {age})")
        file_bytes = after.get("recur_sqlite_file_bytes", 0)
        free, size = after.get("recur_sqlite_filesystem_free_bytes", 0), after.get("recur_sqlite_filesystem_size_bytes", 0)
        on_disk = os.path.getsize(server.db_file)
        check(file_bytes >= on_disk > 0 and 0 < free <= size,
              f"SQLite file bytes (>= the file's {on_disk}) and its filesystem's free <= size ({file_bytes}, {free}, {size})")
        for family in ("recur_stock_outs", "recur_backorders", "recur_backorder_oldest_age_seconds",
                       "recur_dunning_invoices_retrying"):
            check(after.get(family, -1) >= 0, f"{family} is there, >= 0 ({after.get(family)})")
        dunning = {labels.get("status"): v for labels, v in after.series("recur_dunning_subscriptions")}
        check(set(dunning) == {"past_due", "unpaid", "incomplete"},
              f"recur_dunning_subscriptions by past_due, unpaid, incomplete ({dunning})")

        # --tick: the scheduler's figures, polled with a bound.
        def ticked():
            exp = c.scrape()[0]
            return exp if exp.get("recur_scheduler_ticks_total", 0) >= 1 else None
        exp = poll(ticked, tick + 10, 0.2)
        check(exp is not None, f"recur_scheduler_ticks_total >= 1 within {tick + 10} s of --tick {tick}")
        if exp:
            tick_age = exp.get("recur_scheduler_last_tick_age_seconds")
            last = exp.get("recur_scheduler_last_tick_timestamp_seconds", 0)
            check(exp.get("recur_scheduler_tick_seconds") == tick,
                  f"recur_scheduler_tick_seconds = {tick} ({exp.get('recur_scheduler_tick_seconds')})")
            check(tick_age is not None and 0 <= tick_age < tick + 5 and abs(time.time() - last) < tick + 5,
                  f"the last tick's age is small (< {tick + 5} s) and its timestamp is recent "
                  f"(age {tick_age}, timestamp {last}, now {time.time():.0f})")
            check(exp.get("recur_billing_runs_total", 0, outcome="ok") >= 1
                  and exp.get("recur_billing_run_last_success_timestamp_seconds", 0) > server.started_wall - 5,
                  f"the scheduler's billing runs count (ok {exp.get('recur_billing_runs_total', None, outcome='ok')}, "
                  f"last success {exp.get('recur_billing_run_last_success_timestamp_seconds')})")

        # Readiness follows the schema: a version this binary does not know is schema_mismatch.
        if schema_version:
            db = sqlite3.connect(server.db_file, timeout=10)
            try:
                cols = [r[1] for r in db.execute("PRAGMA table_info(schema_migrations)")]
                values = ["version + 1000" if col == "version" else col for col in cols]
                db.execute(f"INSERT INTO schema_migrations ({', '.join(cols)}) SELECT {', '.join(values)} "
                           f"FROM schema_migrations WHERE version = ?", (schema_version,))
                db.commit()
                status, headers, doc = once(server.port, "GET", "/readyz")
                check(status == 503 and is_problem(headers, doc, "not_ready", "schema_mismatch"),
                      f"/readyz with the schema ahead of the binary: 503 not_ready schema_mismatch ({status} {doc})")
                db.execute("DELETE FROM schema_migrations WHERE version = ?", (schema_version + 1000,))
                db.commit()
            finally:
                db.close()
            status, _, doc = once(server.port, "GET", "/readyz")
            check(status == 200, f"/readyz is 200 again once the schema is current ({status} {doc})")
    finally:
        c.close()


# ------------------------------------------------------------------ server 2: billing in test mode

def test_billing(server):
    c = Client(server.port, server.key())
    try:
        def created(path, body):
            status, _, doc = c.json("POST", path, body)
            if status != 201:
                raise AssertionError(f"POST {path} -> {status}: {doc}")
            return doc

        def customer(token):
            cus = created("/v1/customers", {"email": f"{os.urandom(5).hex()}@example.com", "name": "Ada Lovelace",
                                            "shipping_address": {"line1": "1 Main St", "city": "Springfield",
                                                                 "postal_code": "12345", "country": "US"}})
            created(f"/v1/customers/{cus['id']}/payment-methods", {"token": token})
            return cus

        def advance(to):
            status, _, doc = c.json("POST", "/v1/test-clock/advance", {"to": to})
            if status != 200:
                raise AssertionError(f"POST /v1/test-clock/advance -> {status}: {doc}")
            return doc

        def sandbox(exp, outcome):
            return exp.get("recur_charges_total", 0, gateway="sandbox", outcome=outcome)

        def durations_match(exp):
            total = sum(v for labels, v in exp.series("recur_charges_total") if labels.get("gateway") == "sandbox")
            count = exp.get("recur_charge_duration_seconds_count", None, gateway="sandbox")
            return count == total, count, total

        m0 = c.scrape()[0]
        product = created("/v1/products", {"name": "Coffee beans", "sku": f"SKU-{os.urandom(6).hex()}"})
        plan = created("/v1/plans", {"name": f"Plan-{os.urandom(6).hex()}", "amount": 2000, "currency": "usd",
                                     "interval": "month", "interval_count": 1,
                                     "items": [{"product": product["id"], "quantity": 1}]})
        good = customer("pm_card_visa")
        sub = created("/v1/subscriptions", {"customer": good["id"], "plan": plan["id"]})
        m1 = c.scrape()[0]
        check(sub.get("status") == "active" and sandbox(m1, "succeeded") - sandbox(m0, "succeeded") == 1,
              f'a subscription paid at signup: recur_charges_total{{gateway="sandbox",outcome="succeeded"}} +1 '
              f'({sub.get("status")}, {sandbox(m0, "succeeded")} -> {sandbox(m1, "succeeded")})')

        renewal = sub["current_period"]["end"]
        advanced_at = time.time()
        ran = advance(renewal)
        m2 = c.scrape()[0]
        d_adv = m2.get("recur_renewals_total", 0, outcome="advanced") - m1.get("recur_renewals_total", 0, outcome="advanced")
        d_runs = m2.get("recur_billing_runs_total", 0, outcome="ok") - m1.get("recur_billing_runs_total", 0, outcome="ok")
        check(d_adv >= 1, f'advancing the test clock past a renewal: recur_renewals_total{{outcome="advanced"}} >= +1 '
              f'(+{d_adv}; the advance answered {ran})')
        check(d_runs >= 1, f'... and recur_billing_runs_total{{outcome="ok"}} goes up (+{d_runs})')
        check(sandbox(m2, "succeeded") - sandbox(m1, "succeeded") == 1,
              f"... and the renewal's charge succeeded +1 ({sandbox(m1, 'succeeded')} -> {sandbox(m2, 'succeeded')})")
        last_success = m2.get("recur_billing_run_last_success_timestamp_seconds", 0)
        check(last_success >= advanced_at - 0.01, f"... and recur_billing_run_last_success_timestamp_seconds is the "
              f"advance's run, not an earlier one ({last_success} vs the advance at {advanced_at:.3f})")
        ok, count, total = durations_match(m2)
        check(ok, f'recur_charge_duration_seconds_count{{gateway="sandbox"}} equals the sandbox charges ({count} vs {total})')

        # A renewal charged to a declined card: the signup is paid with a good card, then the
        # declined one becomes the default (a refused first payment would leave it incomplete).
        bad = customer("pm_card_visa")
        bad_sub = created("/v1/subscriptions", {"customer": bad["id"], "plan": plan["id"]})
        created(f"/v1/customers/{bad['id']}/payment-methods", {"token": "pm_card_chargeDeclined", "default": True})
        m3 = c.scrape()[0]
        check(bad_sub.get("status") == "active" and sandbox(m3, "succeeded") - sandbox(m2, "succeeded") == 1,
              f"the second subscription is paid at signup (+1 succeeded: {sandbox(m2, 'succeeded')} -> "
              f"{sandbox(m3, 'succeeded')})")
        ran = advance(bad_sub["current_period"]["end"])
        status, _, doc = c.json("GET", f"/v1/subscriptions/{bad_sub['id']}")
        sub_status = (doc or {}).get("status")
        m4 = c.scrape()[0]
        d_failed = m4.get("recur_renewals_total", 0, outcome="failed") - m3.get("recur_renewals_total", 0, outcome="failed")
        d_adv = m4.get("recur_renewals_total", 0, outcome="advanced") - m3.get("recur_renewals_total", 0, outcome="advanced")
        check(sub_status == "past_due", f"the declined renewal leaves its subscription past_due ({status} {sub_status})")
        check(sandbox(m4, "failed") - sandbox(m3, "failed") == 1,
              f'the declined renewal: recur_charges_total{{gateway="sandbox",outcome="failed"}} +1 '
              f'({sandbox(m3, "failed")} -> {sandbox(m4, "failed")})')
        # A decline is the charge's outcome, not the renewal's: the renewal's step ran (the
        # subscription moved on to past_due), so it counts as advanced; `failed` counts steps
        # that errored and are retried by the next run (none here).
        check(d_adv >= 1 and d_failed == 0,
              f'the declined renewal counts as advanced, not failed: recur_renewals_total advanced +{d_adv}, '
              f'failed +{d_failed} (the advance answered {ran})')
        ok, count, total = durations_match(m4)
        check(ok, f"charge-duration _count still equals the sandbox charges ({count} vs {total})")
        problems = histograms_cumulative(m4, "recur_charge_duration_seconds")
        check(not problems and m4.series("recur_charge_duration_seconds_bucket"),
              f"charge-duration buckets are cumulative and +Inf equals _count ({problems[:3] or 'all series'})")

        def past_due():
            exp = c.scrape()[0]
            return exp if exp.get("recur_dunning_subscriptions", 0, status="past_due") >= 1 else None
        started = time.monotonic()
        exp = poll(past_due, DB_CACHE_BOUND, 0.25)
        check(exp is not None, f'recur_dunning_subscriptions{{status="past_due"}} >= 1 within {DB_CACHE_BOUND} s '
              f'(took {time.monotonic() - started:.1f} s)')
        if exp:
            check(exp.get("recur_dunning_invoices_retrying", 0) >= 1,
                  f"recur_dunning_invoices_retrying >= 1 ({exp.get('recur_dunning_invoices_retrying')})")
            depth = {o: exp.get("recur_outbox_depth", None, outbox=o) for o in OUTBOXES}
            check(all(v is not None and v >= 0 for v in depth.values()),
                  f"after billing, recur_outbox_depth for all four outboxes >= 0 ({depth})")
        missing = [f for f in FAMILIES if f not in REPLICA_ONLY | {"recur_scheduler_last_tick_age_seconds"}
                   and not m4.family_present(f)]
        check(not missing and m4.series("recur_charges_total") and m4.series("recur_charge_duration_seconds_count"),
              f"after charges, every family is exposed, with charge series (missing: {missing})")
        _, _, body = c.scrape()
        promtool_accepts(body, "/metrics after billing")
    finally:
        c.close()


# ------------------------------------------------------------------ server 3: --metrics-listen, --drain-seconds

def test_metrics_listen_and_drain(server, metrics_port, drain):
    key = server.key()
    api = Client(server.port, key)
    try:
        m = Client(metrics_port)
        status, headers, body = m.request("GET", "/metrics", auth=False)
        m.close()
        check(status == 200 and headers.get("content-type") == CONTENT_TYPE and b"recur_build_info" in body,
              f"--metrics-listen: /metrics on its own port, 200 {CONTENT_TYPE} ({status} {headers.get('content-type')})")
        status_h, _, doc_h = once(metrics_port, "GET", "/healthz")
        status_r, _, doc_r = once(metrics_port, "GET", "/readyz")
        check(status_h == 200 and (doc_h or {}).get("status") == "ok" and status_r == 200
              and (doc_r or {}).get("status") == "ready",
              f"--metrics-listen: /healthz and /readyz on that port too ({status_h} {doc_h}, {status_r} {doc_r})")
        status, headers, doc = api.json("GET", "/metrics", auth=False)
        check(status == 404 and headers.get("content-type", "").startswith("application/problem+json"),
              f"--metrics-listen: the API's port answers /metrics 404 application/problem+json "
              f"({status} {headers.get('content-type')} {doc})")
        status, _, _ = api.json("GET", "/v1/products")
        check(status == 200, f"the API's port serves the API as before ({status})")
        status, _, _ = once(metrics_port, "GET", "/v1/products")
        status_key, _, _ = once(metrics_port, "GET", "/v1/products", key)
        check(status == 404 and status_key == 404,
              f"the metrics port is no way into the API: GET /v1/products answers 404 without a key and with one "
              f"({status}, {status_key})")

        # SIGTERM: not ready at once, still answering for --drain-seconds, then a clean exit.
        api.close()
        server.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()

        def draining():
            try:
                status, headers, doc = once(server.port, "GET", "/readyz")
            except OSError:
                return None
            return (status, headers, doc) if status != 200 else None
        seen = poll(draining, 1.0, 0.02)
        first_503 = time.monotonic() - sent
        check(seen is not None and seen[0] == 503 and is_problem(seen[1], seen[2], "not_ready", "draining")
              and first_503 <= 1.0, f"after SIGTERM /readyz is 503 not_ready reason draining within 1 s "
              f"({first_503:.2f} s: {seen and (seen[0], seen[2])})")
        status, headers, doc = once(metrics_port, "GET", "/readyz")
        check(status == 503 and is_problem(headers, doc, "not_ready", "draining"),
              f"... on the metrics port too ({status} {doc})")
        while time.monotonic() - sent < drain - 1.0:
            time.sleep(0.1)
        at = time.monotonic() - sent
        answers = {}
        for path, k in (("/healthz", None), ("/v1/products", key), ("/readyz", None)):
            try:
                answers[path] = once(server.port, "GET", path, k)[0]
            except OSError as e:
                answers[path] = repr(e)
        check(answers == {"/healthz": 200, "/v1/products": 200, "/readyz": 503} and server.proc.poll() is None,
              f"{at:.1f} s into the {drain} s drain the node still answers, readiness still 503 ({answers})")
        try:
            code = server.proc.wait(timeout=max(0.1, drain + 15 - (time.monotonic() - sent)))
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - sent
        check(code == 0 and drain - 0.5 <= took <= drain + 15,
              f"then it exits cleanly: code {code} after {took:.1f} s (drain {drain} s, bound {drain + 15} s)")
        if code != 0:
            print(server.tail())
    finally:
        api.close()


def test_split_modules(api_node, worker):
    """--modules: an API node that never bills beside a billing worker that serves no API, on
    one database: a trial ending a few seconds from now is billed by the worker alone."""
    c = Client(api_node.port, api_node.key())
    w = Client(worker.port)
    try:
        status, _, _ = once(worker.port, "GET", "/v1/products", c.key)
        check(status == 404, f"--modules billing-worker: --listen is no API (GET /v1/products {status})")
        status_h, _, _ = once(worker.port, "GET", "/healthz")
        status_r, _, doc_r = once(worker.port, "GET", "/readyz")
        check(status_h == 200 and status_r == 200,
              f"--modules billing-worker: /healthz and /readyz answer ({status_h}, {status_r} {doc_r})")

        def created(path, body):
            status, _, doc = c.json("POST", path, body)
            if status != 201:
                raise AssertionError(f"POST {path} -> {status}: {doc}")
            return doc

        product = created("/v1/products", {"name": "Tea", "sku": f"SKU-{os.urandom(6).hex()}"})
        plan = created("/v1/plans", {"name": f"Plan-{os.urandom(6).hex()}", "amount": 1500, "currency": "usd",
                                     "interval": "month", "interval_count": 1,
                                     "items": [{"product": product["id"], "quantity": 1}]})
        cus = created("/v1/customers", {"email": f"{os.urandom(5).hex()}@example.com", "name": "Grace Hopper",
                                        "shipping_address": {"line1": "1 Main St", "city": "Springfield",
                                                             "postal_code": "12345", "country": "US"}})
        created(f"/v1/customers/{cus['id']}/payment-methods", {"token": "pm_card_visa"})
        trial_end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
        sub = created("/v1/subscriptions", {"customer": cus["id"], "plan": plan["id"], "trial_end": trial_end})
        check(sub.get("status") == "trialing", f"a subscription on a 3-second trial ({sub.get('status')})")

        # The trial ends on its own (a read on the API node may move the lifecycle on too); the
        # charge of the first period is the billing worker's: its run collects open invoices.
        def charged_by_worker():
            m = w.scrape()[0]
            return m.get("recur_charges_total", 0, gateway="sandbox", outcome="succeeded") >= 1 and m
        worker_m = poll(charged_by_worker, 25, every=0.25)
        check(bool(worker_m) and worker_m.get("recur_billing_runs_total", 0, outcome="ok") >= 1,
              "the billing worker charged the first period after the trial within 25 s, in its billing runs")

        def paid():
            status, _, doc = c.json("GET", f"/v1/invoices?subscription={sub['id']}")
            items = (doc or {}).get("data", []) if status == 200 else []
            return any(i.get("status") == "paid" for i in items) and items
        done = poll(paid, 10, every=0.25)
        check(bool(done), f"the API node shows the invoice paid ({done})")
        api_m = c.scrape()[0]
        check(api_m.get("recur_billing_runs_total", 0, outcome="ok") == 0
              and api_m.get("recur_charges_total", 0, gateway="sandbox", outcome="succeeded") == 0
              and api_m.get("recur_scheduler_ticks_total", 0) == 0,
              "the API node ran no billing and no scheduler ticks (--modules api)")
    finally:
        c.close()
        w.close()


def main():
    recur = os.path.realpath(sys.argv[1])
    started = time.monotonic()
    test_exposition_parser()
    tmps, servers = [], []
    workers, tick, drain = 3, 1, 3
    metrics_port = free_port()
    try:
        for name in ("main", "billing", "drain", "split"):
            tmps.append(tempfile.mkdtemp(prefix=f"recur-observability-{name}-"))
        wall = time.time()
        main_server = Recur(recur, tmps[0], ["--workers", str(workers), "--tick", str(tick)], wait=False)
        # With an alert sink (nothing listens there: none is sent here), whose counters /metrics shows.
        billing = Recur(recur, tmps[1], ["--workers", "2", "--tick", "86400", "--test-mode",
                                         "--clock-start", "2026-01-01T00:00:00Z",
                                         "--alert-webhook", f"http://127.0.0.1:{free_port()}/hooks/alerts"], wait=False)
        drainer = Recur(recur, tmps[2], ["--workers", "2", "--tick", "3600", "--drain-seconds", str(drain),
                                         "--metrics-listen", f"127.0.0.1:{metrics_port}"], wait=False)
        # Two processes on one database: the worker first (it migrates), then the API node.
        worker = Recur(recur, tmps[3], ["--workers", "2", "--tick", "1", "--modules", "billing-worker"], wait=False)
        servers = [main_server, billing, drainer, worker]
        for s in servers:
            s.started_wall = wall
            s.wait_listening()
        api_node = Recur(recur, tmps[3], ["--workers", "2", "--tick", "1", "--modules", "api"], wait=False)
        servers.append(api_node)
        api_node.wait_listening()
        drainer.wait_listening(metrics_port)
        for name, run in (("main", lambda: test_main_server(main_server, workers, tick)),
                          ("billing", lambda: test_billing(billing)),
                          ("metrics-listen and drain", lambda: test_metrics_listen_and_drain(drainer, metrics_port,
                                                                                             drain)),
                          ("split modules", lambda: test_split_modules(api_node, worker))):
            try:
                run()
            except Exception as e:  # a broken step fails its group; the others still run
                check(False, f"{name}: {type(e).__name__}: {e}")
    finally:
        for s in servers:
            s.stop()
        for t in tmps:
            shutil.rmtree(t, ignore_errors=True)
    print(f"observability: {time.monotonic() - started:.1f} s")
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
