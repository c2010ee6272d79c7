#!/usr/bin/env python3
"""Helpers of bench/webhooks.sh (benchmark of outbound webhooks, issue 14).

  generate DSN TEMPLATE PREFIX RATE SECONDS BATCH_MS OUT
      Commits events at RATE events/s for SECONDS s, one transaction every BATCH_MS ms
      (events + event_outbox rows, copies of event TEMPLATE under ids evt_PREFIX<20 digits>),
      and writes "event_id commit_epoch_ms" per event to OUT (the time COMMIT returned).
      Needs psycopg2 (Debian: python3-psycopg2).
  latency COMMITS LOG OFFSET PATHS WAITED_UNTIL
      Joins COMMITS with the receiver's access log (from byte OFFSET) on webhook-id, per
      endpoint path (PATHS: comma-separated, e.g. /e/1,/e/2): commit-to-receipt p50/p99/max.
      A delivery not received by WAITED_UNTIL (epoch s) counts as at least that late.
  throughput LOG OFFSET PATHS START EXPECTED END
      Deliveries received on PATHS since byte OFFSET until END (epoch s): count, rate from START
      (epoch s, when the deliverer started) to the last receipt, rate between first and last receipt, and
      the gaps between consecutive receipts (how the deliverer paces itself).
  body LOG OFFSET TEMPLATE_JSON OUT
      A request body for the wrk ceiling: the template event's JSON (as GET /v1/events/{id}
      returns it) padded with spaces to the median Content-Length of the deliveries logged
      since OFFSET; prints the size and the median webhook header sizes seen.

The access log's format (bench/webhooks.sh): "$msec $uri $http_webhook_id $content_length
$request_length $connection".
"""
import json
import statistics
import sys
import time


def read_log(path, offset):
    with open(path, "rb") as f:
        f.seek(int(offset))
        for raw in f:
            parts = raw.decode("utf-8", "replace").split()
            if len(parts) < 6:
                continue
            yield float(parts[0]), parts[1], parts[2], parts[3], parts[4], parts[5]


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def generate(dsn, template, prefix, rate, seconds, batch_ms, out):
    import psycopg2  # only this mode needs it

    rate, seconds, batch_ms = float(rate), float(seconds), float(batch_ms)
    per_batch = max(1, round(rate * batch_ms / 1000))
    conn = psycopg2.connect(dsn, application_name="bench-webhooks-generator")
    cur = conn.cursor()
    cur.execute("SELECT type, resource_type, resource_id, actor_type, actor_id, actor_role, payload"
                " FROM events WHERE id = %s", (template,))
    row = cur.fetchone()
    if row is None:
        sys.exit(f"generate: no template event {template}")
    conn.commit()
    insert = ("INSERT INTO events (id, type, resource_type, resource_id, actor_type, actor_id, actor_role,"
              " created_at, payload) SELECT unnest(%(ids)s::text[]), %(type)s, %(rtype)s, %(rid)s, %(atype)s,"
              " %(aid)s, %(arole)s, %(created)s, %(payload)s;"
              " INSERT INTO event_outbox (event_id, created_at) SELECT unnest(%(ids)s::text[]), %(created)s")
    fields = dict(type=row[0], rtype=row[1], rid=row[2], atype=row[3], aid=row[4], arole=row[5], payload=row[6])
    batches = int(seconds * 1000 / batch_ms)
    seq, late, worst_lag = 0, 0, 0.0
    lines = []
    start = time.time()
    for k in range(batches):
        due = start + k * batch_ms / 1000
        now = time.time()
        if due > now:
            time.sleep(due - now)
        else:
            lag = now - due
            worst_lag = max(worst_lag, lag)
            if lag > batch_ms / 1000:
                late += 1
        ids = [f"evt_{prefix}{seq + i:020d}" for i in range(per_batch)]
        seq += per_batch
        cur.execute(insert, dict(fields, ids=ids, created=int(time.time())))
        conn.commit()
        committed = int(time.time() * 1000)
        lines.extend(f"{i} {committed}\n" for i in ids)
    elapsed = time.time() - start
    with open(out, "w") as f:
        f.writelines(lines)
    print(f"GEN events={seq} seconds={elapsed:.2f} rate={seq / elapsed:.1f} batches={batches} "
          f"per_batch={per_batch} late_batches={late} worst_lag_ms={worst_lag * 1000:.0f}")


def latency(commits, log, offset, paths, waited_until):
    paths = paths.split(",")
    committed = {}
    with open(commits) as f:
        for line in f:
            event_id, ms = line.split()
            committed[event_id] = int(ms) / 1000
    waited_until = float(waited_until)
    received = {}
    duplicates = 0
    for msec, uri, hook_id, *_ in read_log(log, offset):
        # Receipts after the wait ended (the deliverer finishing its step as it stops) do not count.
        if hook_id in committed and uri in paths and msec <= waited_until:
            key = (uri, hook_id)
            if key in received:
                duplicates += 1
            else:
                received[key] = msec
    lat, censored = [], 0
    for event_id, t in committed.items():
        for p in paths:
            got = received.get((p, event_id))
            if got is None:
                censored += 1
                lat.append((max(0.0, waited_until - t), True))
            else:
                lat.append((max(0.0, got - t), False))
    lat.sort()
    values = [v for v, _ in lat]

    def show(p):
        v, cut = lat[min(len(lat) - 1, int(len(lat) * p / 100))]
        return (">" if cut else "") + f"{v * 1000:.0f}"

    delivered = len(lat) - censored
    print(f"LAT events={len(committed)} expected={len(lat)} delivered={delivered} undelivered={censored} "
          f"duplicates={duplicates} p50_ms={show(50)} p90_ms={show(90)} p99_ms={show(99)} max_ms={show(100)} "
          f"p99_s={values[min(len(values) - 1, int(len(values) * 0.99))]:.3f}")


def throughput(log, offset, paths, start, expected, end):
    paths = set(paths.split(","))
    end = float(end)  # receipts after the run's window (the deliverer finishing its step as it stops) do not count
    seen = [(msec, conn) for msec, uri, _, _, _, conn in read_log(log, offset) if uri in paths and msec <= end]
    times = sorted(msec for msec, _ in seen)
    connections = len({conn for _, conn in seen})
    start, expected = float(start), int(expected)
    n = len(times)
    if n == 0:
        print(f"TP delivered=0 expected={expected} rate_from_start=0 rate_first_last=0 first_s=- last_s=-")
        return
    span = times[-1] - times[0]
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    long_gaps = [g for g in gaps if g >= 0.5]
    print(f"TP delivered={n} expected={expected} rate_from_start={n / max(times[-1] - start, 1e-3):.1f} "
          f"rate_first_last={(n - 1) / span if span > 0 else 0:.1f} first_s={times[0] - start:.2f} "
          f"last_s={times[-1] - start:.2f} gap_p50_ms={pct(gaps, 50) * 1000:.1f} "
          f"gap_p90_ms={pct(gaps, 90) * 1000:.1f} gaps_over_500ms={len(long_gaps)} "
          f"time_in_long_gaps_s={sum(long_gaps):.1f} tcp_connections={connections}")


def body(log, offset, template_json, out):
    lengths, requests = [], []
    for _, uri, _, content_length, request_length, _ in read_log(log, offset):
        if uri.startswith("/e/") and content_length.isdigit():
            lengths.append(int(content_length))
            requests.append(int(request_length))
    with open(template_json) as f:
        text = json.dumps(json.load(f), separators=(",", ":"), ensure_ascii=False)
    data = text.encode()
    target = int(statistics.median(lengths)) if lengths else len(data)
    if len(data) < target:
        data = data[:-1] + b" " * (target - len(data)) + data[-1:]
    with open(out, "wb") as f:
        f.write(data)
    print(f"BODY bytes={len(data)} delivered_body_median={target} "
          f"delivered_request_median={int(statistics.median(requests)) if requests else 0}")


if __name__ == "__main__":
    modes = {"generate": generate, "latency": latency, "throughput": throughput, "body": body}
    if len(sys.argv) < 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](*sys.argv[2:])
