#!/usr/bin/python3
"""The event stream across a crash (issue 14, decision 0015): two `recur serve` on one PostgreSQL,
both with --nats-url, while writers create and rename customers through both; one server is
killed with SIGKILL at random moments (restarted after each but the last), the other finishes.
Then a JetStream consumer (@nats-io/jetstream, tests/webhooks/read_stream.js) reads the stream:
  - the set of Nats-Msg-Id equals the set of event ids in the database; no id twice,
  - each message's body is the event its Nats-Msg-Id names, on subject recur.events.<type>,
  - per resource, the stream's order is the order the changes were committed in: the customer's
    `version` after each change (1 for customer.created, +1 per rename). Not the events table's
    (created_at, id) order: ids carry each node's whole-second clock, so two nodes' events of
    one second sort by chance (what decision 0015's sequence fixed).

Usage: stream_kill9.py path/to/recur
  Needs the harness's PostgreSQL (PG* variables, scripts/with-postgres.sh) and NATS
  (RECUR_TEST_NATS_URL, scripts/with-nats.sh). Stops by itself (bounded by DEADLINE seconds).
"""
import collections
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serve_process import Server  # noqa: E402  (tests/serve_process.py)

RECUR = os.path.abspath(sys.argv[1])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NATS = os.environ.get("RECUR_TEST_NATS_URL")
WRITERS = 4
KILLS = 3
DEADLINE = 100  # seconds for the whole test


def call(port, key, method, path, body=None):
    """One try: (status, json) or None when the server gave no answer."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, json.dumps(body) if body is not None else None,
                     {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, (json.loads(data) if data else None)
    except (OSError, http.client.HTTPException, ValueError):
        return None


def writer(n, servers, key, stop_writing, counts):
    """Creates customers and renames each a few times, each request on a server picked at random."""
    rng = random.Random(n)
    while not stop_writing.is_set():
        got = call(rng.choice(servers).port, key, "POST", "/v1/customers",
                   {"email": f"w{n}-{uuid.uuid4().hex[:8]}@example.com", "name": "Stream"})
        if not got or got[0] != 201:
            time.sleep(0.05)
            continue
        counts["created"] += 1
        customer = got[1]
        for rename in range(rng.randint(1, 4)):
            if stop_writing.is_set():
                return
            got = call(rng.choice(servers).port, key, "PATCH", f"/v1/customers/{customer['id']}",
                       {"name": f"Stream {rename}", "version": customer["version"]})
            if got and got[0] == 200:
                customer = got[1]
                counts["renamed"] += 1
                continue
            # No answer or a conflict (an unanswered rename may have committed): read it again.
            for _ in range(50):
                fresh = call(rng.choice(servers).port, key, "GET", f"/v1/customers/{customer['id']}")
                if fresh and fresh[0] == 200:
                    customer = fresh[1]
                    break
                time.sleep(0.05)


class Database:
    def __init__(self):
        self.name = "stream_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", "-qAt", "-c", f"CREATE DATABASE {self.name}"], check=True)
        host, port, user = os.environ["PGHOST"], os.environ["PGPORT"], os.environ.get("PGUSER", "postgres")
        self.url = f"postgresql://{user}@{host}:{port}/{self.name}"

    def rows(self, sql):
        out = subprocess.run(["psql", "-qAt", "-F", "\t", "-d", self.name, "-c", sql], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def drop(self):
        subprocess.run(["psql", "-qAt", "-c", f"DROP DATABASE IF EXISTS {self.name}"], check=False)


def wait_drained(db, stop_at):
    """Until fan-out and the publisher have taken every event (bounded)."""
    while time.monotonic() < stop_at:
        left = db.rows("SELECT (SELECT COUNT(*) FROM event_outbox) + (SELECT COUNT(*) FROM stream_outbox)")
        if left[0][0] == "0":
            return
        time.sleep(0.2)
    raise SystemExit("the outboxes did not drain in time: " + repr(left))


def check(db, stream, before):
    # Events recorded before any node published (the CLI's api_key.created) are not the
    # stream's: its history starts when the first publisher runs (decision 0015).
    events = [e for e in db.rows("SELECT id, type, resource_id, payload::json->'after'->>'version' FROM events"
                                 " ORDER BY created_at, id") if e[0] not in before]
    ids = [e[0] for e in events]
    published = [m["msg_id"] for m in stream]
    problems = []
    twice = [i for i, c in collections.Counter(published).items() if c > 1]
    if twice:
        problems.append(f"{len(twice)} events in the stream more than once, e.g. {twice[:3]}")
    missing = set(ids) - set(published)
    if missing:
        problems.append(f"{len(missing)} events never reached the stream, e.g. {sorted(missing)[:3]}")
    # An event recorded before may still be fanned out after the first publisher turned the
    # stream on (by the other node): it may appear, it need not.
    unknown = set(published) - set(ids) - before
    if unknown:
        problems.append(f"{len(unknown)} messages name no event, e.g. {sorted(unknown)[:3]}")
    by_id = {e[0]: e for e in events}
    for m in stream:
        e = by_id.get(m["msg_id"])
        if e and (m["id"] != e[0] or m["subject"] != "recur.events." + e[1] or m["resource_id"] != e[2]):
            problems.append(f"message {m['seq']} does not carry event {m['msg_id']}: {m}")
            break
    unversioned = [e for e in events if not e[3].isdigit()]
    if unversioned:
        problems.append(f"{len(unversioned)} events carry no resource version, e.g. {unversioned[:1]}")
        return problems, len(ids), 0
    expected, seen = collections.defaultdict(list), collections.defaultdict(list)
    for e in sorted(events, key=lambda e: (e[2], int(e[3]))):
        expected[e[2]].append(e[0])
    for m in stream:
        if m["msg_id"] not in seen[m["resource_id"]]:
            seen[m["resource_id"]].append(m["msg_id"])
    disordered = [r for r in expected if seen[r] != expected[r] and set(seen[r]) == set(expected[r])]
    if disordered:
        r = disordered[0]
        problems.append(f"{len(disordered)} resources out of order, e.g. {r}: stream {seen[r]} vs commit order {expected[r]}")
    return problems, len(ids), len(expected)


def main():
    if not NATS or "PGHOST" not in os.environ:
        raise SystemExit("stream_kill9: run under scripts/with-postgres.sh and scripts/with-nats.sh")
    stop_at = time.monotonic() + DEADLINE
    db = Database()
    workdir = tempfile.mkdtemp(prefix="recur-stream-")
    servers = [Server(RECUR, db.url, workdir, ["--tick", "86400", "--nats-url", NATS], name)
               for name in ("a", "b")]
    passed = False
    try:
        subprocess.run([RECUR, "migrate", "--db", db.url], check=True, capture_output=True)
        key = subprocess.run([RECUR, "keys", "create", "--role", "admin", "--db", db.url], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        before = {e[0] for e in db.rows("SELECT id FROM events")}
        for s in servers:
            s.start()
        stop_writing = threading.Event()
        counts = collections.Counter()
        threads = [threading.Thread(target=writer, args=(n, servers, key, stop_writing, counts), daemon=True)
                   for n in range(WRITERS)]
        for t in threads:
            t.start()
        rng = random.Random(14)
        victim = servers[0]
        for kill in range(KILLS):
            time.sleep(rng.uniform(1.5, 3.5))  # the delivery loop publishes every second
            victim.kill()
            if kill < KILLS - 1:
                time.sleep(rng.uniform(0.2, 1.0))
                victim.start()
        time.sleep(2)  # the survivor alone, writers still going
        stop_writing.set()
        for t in threads:
            t.join(timeout=20)
        wait_drained(db, stop_at)
        read = subprocess.run(["node", os.path.join(ROOT, "tests/webhooks/read_stream.js"), NATS], cwd=ROOT,
                              check=True, capture_output=True, text=True, timeout=60)
        stream = json.loads(read.stdout)
        problems, events, resources = check(db, stream, before)
        if problems:
            print("stream_kill9: FAILED (logs in " + workdir + ")\n  " + "\n  ".join(problems))
            sys.exit(1)
        if counts["created"] == 0 or counts["renamed"] == 0:
            raise SystemExit("stream_kill9: the writers made no events; the test proved nothing")
        print(f"stream_kill9: {KILLS} kills; {events} events of {resources} resources ({counts['created']} customers "
              f"created, {counts['renamed']} renames acknowledged), each in the stream once, in order per resource")
        passed = True
    finally:
        for s in servers:
            s.stop()
        db.drop()
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
