#!/usr/bin/env python3
"""Seeds the renewals-with-box-features benchmark (bench/billing_mix.sh) through the API:
for each kind=count argument, that many customers with a sandbox card and a subscription,
tagged metadata.kind: `plain` (the plain plan), `chosen` (the selection plan, two of its
options chosen for the next box), `prepaid` (the plain plan, prepaid_deliveries 3).
Every row is the API's own (sealed personal data, blind indexes, checkout at signup).
Usage: seed_mix.py URL KEY PLAIN_PLAN BOX_PLAN CHOICE1 CHOICE2 TAG kind=N [kind=N ...]"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

url, key, plain_plan, box_plan, c1, c2, tag = sys.argv[1:8]
wanted = [(k, int(n)) for k, n in (a.split("=") for a in sys.argv[8:])]


def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def one(job):
    kind, i = job
    cus = call("POST", "/v1/customers", {"email": f"{tag}{kind}{i}@example.com", "name": "Ada Lovelace",
                                         "shipping_address": {"line1": "12 Analytical Row", "city": "London",
                                                              "postal_code": "N1 9GU", "country": "GB"}})["id"]
    call("POST", f"/v1/customers/{cus}/payment-methods", {"token": "pm_card_visa", "default": True})
    body = {"customer": cus, "plan": box_plan if kind == "chosen" else plain_plan, "quantity": 1,
            "metadata": {"kind": kind, "run": tag}}
    if kind == "prepaid":
        body["prepaid_deliveries"] = 3
    sub = call("POST", "/v1/subscriptions", body)
    if kind == "chosen":
        start = call("GET", f"/v1/subscriptions/{sub['id']}/boxes?count=1")["data"][0]["period"]["start"]
        call("PUT", f"/v1/subscriptions/{sub['id']}/boxes/{start}/selection",
             {"items": [{"product": c1, "quantity": 1}, {"product": c2, "quantity": 1}]})


jobs = [(k, i) for k, n in wanted for i in range(n)]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, jobs))
print(len(jobs))
