#!/usr/bin/env python3
"""Seeds the forecast-end-to-end benchmark (bench/forecast.sh, BENCH_FORECAST_DB=1) straight
into PostgreSQL with COPY: the API would take hours for a million subscriptions. Every row is
a clone of a document recur itself wrote (`recur demo` runs first): a product, a plan, a
customer and a subscription, with the fields the forecast reads changed. The book mirrors
bench/forecast.cc's generated one: SKUS products, PLANS plans of 2-4 products with mixed
cadences, SUBS live subscriptions at various points of their calendars (1 in 50 with a skipped
next box, 1 in 200 with a plan change pending), and 30 % as many canceled ones for retention.
Runs psql from PATH with the PG* environment; with --sqlite PATH, writes into that SQLite
database instead (one transaction per table). Usage: seed_forecast.py SKUS PLANS SUBS [--sqlite PATH]"""
import calendar
import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone

skus, plans, subs = (int(a) for a in sys.argv[1:4])
lite = None
if sys.argv[4:5] == ["--sqlite"]:
    import sqlite3
    lite = sqlite3.connect(sys.argv[5])
rng = random.Random(42)
now = datetime.now(timezone.utc).replace(microsecond=0)


def psql(sql):
    if lite:
        row = lite.execute(sql).fetchone()
        return row[0] if row else ""
    return subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-Atc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def template(table, where=""):
    doc = psql(f"SELECT doc FROM {table} {where} ORDER BY id LIMIT 1")
    if not doc:
        sys.exit(f"seed_forecast: no {table} row to clone (run `recur demo` first)")
    return json.loads(doc)


def rfc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(t):
    return int(t.timestamp())


def copy(table, columns, rows):
    """COPY rows (tuples; None is NULL) into table, streamed to psql's stdin (or inserted into SQLite)."""
    if lite:
        lite.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        lite.commit()
        return
    proc = subprocess.Popen(["psql", "-v", "ON_ERROR_STOP=1", "-qc", f"COPY {table} ({', '.join(columns)}) FROM STDIN"],
                            stdin=subprocess.PIPE, text=True)
    for row in rows:
        fields = []
        for v in row:
            if v is None:
                fields.append("\\N")
            else:
                fields.append(str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n"))
        proc.stdin.write("\t".join(fields) + "\n")
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit(f"seed_forecast: COPY {table} failed")


def add_months(t, n):
    month = t.month - 1 + n
    year, month = t.year + month // 12, month % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def period_at(anchor, cadence):
    """The period of anchor's calendar that contains now, and its index (0: the first)."""
    unit, count = cadence
    if unit == "week":
        length = timedelta(days=7 * count)
        k = (now - anchor) // length
        return anchor + k * length, anchor + (k + 1) * length, k
    k = ((now.year - anchor.year) * 12 + now.month - anchor.month) // count
    while k > 0 and add_months(anchor, k * count) > now:
        k -= 1
    while add_months(anchor, (k + 1) * count) <= now:
        k += 1
    return add_months(anchor, k * count), add_months(anchor, (k + 1) * count), k


product_t = template("products")
plan_t = template("plans")
sub_t = template("subscriptions", "WHERE status = 'active'")
customer = sub_t["customer"]
stamp = rfc(now)

copy("products", ["id", "sku", "active", "version", "doc", "track_inventory", "created_at"],
     ((f"prod_fc{i}", f"FC-{i}", 1, 1,
       json.dumps(dict(product_t, id=f"prod_fc{i}", sku=f"FC-{i}", name=f"Product {i}", track_inventory=False,
                       created=stamp, updated=stamp, version=1)), 0, epoch(now)) for i in range(skus)))

cadences = [("week", 1), ("week", 2), ("month", 1), ("month", 1), ("month", 2)]
plan_cadence = []


def plan_rows():
    for i in range(plans):
        unit, count = cadences[i % 5]
        plan_cadence.append((unit, count))
        items = [{"product": f"prod_fc{(i + k * plans) % skus}", "quantity": 1 + k % 3} for k in range(2 + i % 3)]
        doc = dict(plan_t, id=f"plan_fc{i}", name=f"Box {i}", interval=unit, interval_count=count, items=items,
                   trial_days=14 if i % 4 == 0 else 0, tier=None, selection=None, created=stamp, updated=stamp,
                   version=1)
        yield f"plan_fc{i}", None, 1, 1, json.dumps(doc), epoch(now)


copy("plans", ["id", "tier", "active", "version", "doc", "created_at"], plan_rows())


def sub_rows():
    base = dict(sub_t, trial_end=None, discount=None, pause=None, cancellation=None, delivery=None, gift=None,
                prepaid=None, add_ons=[], choices=[], shipping_address=None, metadata={})
    n = 0
    for i in range(subs):
        plan = rng.randrange(plans)
        started = now - timedelta(seconds=int(rng.random() * 400 * 86400))
        start, end, index = period_at(started, plan_cadence[plan])
        quantity = 1 + rng.randrange(3)
        doc = dict(base, id=f"sub_fc{i}", plan=f"plan_fc{plan}", quantity=quantity, status="active",
                   start_date=rfc(started), billing_cycle_anchor=rfc(started), created=rfc(started),
                   current_period={"start": rfc(start), "end": rfc(end)}, billed_periods=index + 1,
                   skipped_periods=[], pending_plan_change=None, updated=stamp, version=index + 1)
        if i % 50 == 0:
            doc["skipped_periods"] = [rfc(end)]
        if i % 200 == 0:
            doc["pending_plan_change"] = {"plan": f"plan_fc{(plan + 1) % plans}", "quantity": 1,
                                          "effective_at": rfc(end), "delivery": None}
        yield (f"sub_fc{i}", customer, f"plan_fc{plan}", "active", epoch(end), index + 1, index + 1,
               epoch(started), json.dumps(doc, separators=(",", ":")))
        if rng.random() < 0.3:  # a canceled one, for the retention curves
            n += 1
            billed = 1 + int(rng.random() * 20)
            ended = now - timedelta(seconds=int(rng.random() * 200 * 86400))
            gone = dict(doc, id=f"sub_fcx{n}", status="canceled", billed_periods=billed, canceled_at=rfc(ended),
                        ended_at=rfc(ended), skipped_periods=[], pending_plan_change=None)
            yield (f"sub_fcx{n}", customer, f"plan_fc{plan}", "canceled", None, billed, billed, epoch(started),
                   json.dumps(gone, separators=(",", ":")))


copy("subscriptions", ["id", "customer_id", "plan_id", "status", "next_action_at", "billed_periods", "version",
                       "created_at", "doc"], sub_rows())
psql("ANALYZE")
print(psql("SELECT 'seeded: ' || (SELECT COUNT(*) FROM products) || ' products, ' || (SELECT COUNT(*) FROM plans)"
           " || ' plans, ' || (SELECT COUNT(*) FROM subscriptions WHERE status <> 'canceled') || ' live and '"
           " || (SELECT COUNT(*) FROM subscriptions WHERE status = 'canceled') || ' canceled subscriptions'"))
