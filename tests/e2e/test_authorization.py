"""Authorization of every operation, generated from api/openapi.yaml (issue 15), and API keys
and custom roles over the API.

For EVERY operation of the spec one test (test_op_<operationId>) calls it three times: with no
key (401 missing_api_key), with a revoked key (401 api_key_revoked) and with a key of a custom
role that holds every permission but the operation's `x-permission` (403 permission_denied);
each call carries the operation's example body, and path parameters name resources this
module creates (a product, plan, customer, subscription, API key, event), else the spec's
example ids. After the calls the event log is as it was, and test_zz_nothing_changed compares
the resource lists with what they were before any forbidden call. Public operations
(`security: []`) are skipped, each with its reason. These calls go straight to the server:
Prism answers a request without credentials itself.

Runs on its own test-mode server (billing_server), so that /v1/test-clock exists too."""
from __future__ import annotations

import copy
import json
import os
import re
import unittest
import uuid
from datetime import timedelta

import requests
import yaml

import billing_server
# setUpModule and tearDownModule start and stop this module's test-mode server.
from billing_server import TestModeCase, setUpModule, tearDownModule  # noqa: F401
from recur_api import describe, format_time, parse_time, unique

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
METHODS = ("get", "post", "put", "patch", "delete")
SPEC = yaml.safe_load(open(os.path.join(REPO, "api", "openapi.yaml"), encoding="utf-8"))
PERMISSIONS = SPEC["components"]["schemas"]["Permission"]["enum"]


def resolve(node):
    """Follows a local $ref (#/components/...)."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations():
    """(path, method, operation, path-level parameters) of every operation of the spec."""
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def is_public(op) -> bool:
    return op.get("security") == []


def example_body(op):
    """The first example of the operation's JSON body, or {} when it takes none."""
    body = op.get("requestBody")
    if not body:
        return None
    media = resolve(body).get("content", {}).get("application/json")
    if not media:
        return None
    if "example" in media:
        return media["example"]
    for example in media.get("examples", {}).values():
        return copy.deepcopy(resolve(example).get("value", {}))
    return {}


def example_of(param) -> str:
    param = resolve(param)
    if "example" in param:
        return str(param["example"])
    schema = resolve(param.get("schema", {}))
    if "example" in schema:
        return str(schema["example"])
    if schema.get("examples"):
        return str(schema["examples"][0])
    return "example"


# The resource a path's parameter names, by the path up to it: ids this module creates.
RESOURCE_OF = [
    (r"^/v1/products/\{id\}", "id", "product"),
    (r"^/v1/plans/\{id\}", "id", "plan"),
    (r"^/v1/customers/\{id\}", "id", "customer"),
    (r"^/v1/subscriptions/\{id\}", "id", "subscription"),
    (r"^/v1/api-keys/\{id\}", "id", "api_key"),
    (r"^/v1/events/\{id\}", "id", "event"),
    (r"^/v1/inventory/\{sku\}", "sku", "sku"),
]


class AuthorizationTest(TestModeCase):
    """One test per operation of api/openapi.yaml (added below the class)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.direct = billing_server.SERVER.direct
        made = cls.make
        product = made.product()
        plan = made.plan()
        customer = made.customer()
        subscription = made.subscription(plan=plan, customer=customer)
        cls.ids = {"product": product["id"], "sku": product["sku"], "plan": plan["id"], "customer": customer["id"],
                   "subscription": subscription["id"]}
        cls.ids["api_key"] = cls.create_key("support", "spare")["id"]
        revoked = cls.create_key("support", "revoked")
        r = cls.api.post(f"/v1/api-keys/{revoked['id']}/revoke")
        assert r.status_code == 200, describe(r)
        cls.revoked = revoked["key"]
        # For each permission, a role holding every other one, and a key of it.
        suffix = uuid.uuid4().hex[:6]
        cls.lacking = {}
        for permission in PERMISSIONS:
            name = f"lacks-{permission.replace(':', '-').replace('_', '-')}-{suffix}"
            others = [p for p in PERMISSIONS if p != permission]
            r = cls.api.post("/v1/roles", {"name": name, "permissions": others})
            assert r.status_code == 201, describe(r)
            cls.lacking[permission] = cls.create_key(name, "lacks " + permission)["key"]
        cls.ids["event"] = cls.newest_event()
        cls.before = cls.snapshot()

    @classmethod
    def create_key(cls, role, name):
        r = cls.api.post("/v1/api-keys", {"role": role, "name": name})
        assert r.status_code == 201, describe(r)
        return r.json()

    @classmethod
    def newest_event(cls):
        r = cls.api.get("/v1/events", params={"limit": 1})
        assert r.status_code == 200, describe(r)
        return r.json()["data"][0]["id"]

    # Every list a forbidden call could have added to or changed, read in full.
    LISTS = ["/v1/products", "/v1/plans", "/v1/customers", "/v1/subscriptions", "/v1/coupons", "/v1/promotion-codes",
             "/v1/retention-offers", "/v1/invoices", "/v1/payments", "/v1/refunds", "/v1/credit-notes",
             "/v1/shipments", "/v1/inventory", "/v1/webhook-endpoints", "/v1/suppliers", "/v1/purchase-orders",
             "/v1/notifications", "/v1/api-keys", "/v1/events"]

    @classmethod
    def snapshot(cls):
        state = {}
        for path in cls.LISTS:
            items, after = [], None
            while True:
                params = {"limit": 100}
                if after:
                    params["starting_after"] = after
                r = cls.api.get(path, params=params)
                assert r.status_code == 200, describe(r)
                page = r.json()
                items += page["data"]
                if not page["has_more"]:
                    break
                after = page["data"][-1]["id"]
            for item in items:
                item.pop("last_used_at", None)  # the keys used here: written at most once a minute
            state[path] = items
        for path in ("/v1/roles", "/v1/settings/dunning", "/v1/settings/tax", "/v1/test-clock"):
            r = cls.api.get(path)
            assert r.status_code == 200, describe(r)
            state[path] = r.json()
        return state

    def call(self, method, path, body, key):
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        else:
            data = None
        return requests.request(method.upper(), self.direct + path, data=data, headers=headers, timeout=15)

    def path_for(self, template, path_params):
        def value(match):
            name = match.group(1)
            for prefix, param, resource in RESOURCE_OF:
                if param == name and re.match(prefix, template):
                    return self.ids[resource]
            return path_params[name]
        return re.sub(r"\{(\w+)\}", value, template)

    def check_operation(self, template, method, op, shared_params):
        permission = op.get("x-permission")
        self.assertIn(permission, PERMISSIONS, f"{method.upper()} {template}: no known x-permission")
        responses = op.get("responses", {})
        for status in ("401", "403"):
            self.assertIn(status, responses, f"{method.upper()} {template} declares no {status} response")
        params = {}
        for p in list(shared_params) + list(op.get("parameters", [])):
            p = resolve(p)
            if p.get("in") == "path":
                params[p["name"]] = example_of(p)
        path = self.path_for(template, params)
        body = example_body(op)
        events_before = self.newest_event()

        r = self.call(method, path, body, None)
        self.assertProblem(r, 401, "missing_api_key")
        self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), describe(r))

        r = self.call(method, path, body, self.revoked)
        self.assertProblem(r, 401, "api_key_revoked")
        self.assertIn('error="invalid_token"', r.headers.get("WWW-Authenticate", ""), describe(r))

        r = self.call(method, path, body, self.lacking[permission])
        doc = self.assertProblem(r, 403, "permission_denied")
        self.assertIn(permission, doc["detail"])

        self.assertEqual(self.newest_event(), events_before, f"{method.upper()} {path}: an event was recorded")

    def test_zz_nothing_changed(self):
        """Runs last (by name): every list as it was before the first forbidden call."""
        after = self.snapshot()
        for path, items in self.before.items():
            self.assertEqual(after[path], items, f"{path} changed")


def _add_operation_tests():
    for path, method, op, shared in operations():
        name = "test_op_" + re.sub(r"\W", "_", op.get("operationId") or f"{method}_{path}")

        if is_public(op):
            reason = f"{method.upper()} {path} is public (security: []): {op.get('summary', '')}"

            @unittest.skip(reason)
            def skipped(self):
                pass

            setattr(AuthorizationTest, name, skipped)
            continue

        def test(self, path=path, method=method, op=op, shared=shared):
            self.check_operation(path, method, op, shared)

        test.__doc__ = f"{method.upper()} {path}: 401 without a key and with a revoked one, 403 without {op.get('x-permission')}"
        setattr(AuthorizationTest, name, test)


_add_operation_tests()


class ApiKeysTest(TestModeCase):
    """POST/GET /v1/api-keys, revoke, expiry, custom roles (through Prism unless refused there)."""

    def create(self, role="support", name="Help desk", **fields):
        r = self.api.post("/v1/api-keys", dict(role=role, name=name, **fields))
        self.assertStatus(r, 201)
        return r.json()

    def as_key(self, secret, method, path, body=None):
        headers = {"Authorization": f"Bearer {secret}"}
        return requests.request(method, billing_server.SERVER.direct + path, headers=headers,
                                data=json.dumps(body) if body is not None else None, timeout=15)

    def test_a_key_is_shown_once_and_listed_without_its_secret(self):
        key = self.create(name=unique("desk"))
        self.assertTrue(key["id"].startswith("key_"))
        self.assertTrue(key["key"].startswith("rk_test_"), key)  # a test-mode server
        self.assertEqual(key["object"], "api_key")
        self.assertIsNone(key["revoked_at"])
        self.assertIsNone(key["last_used_at"])
        got = self.api.get(f"/v1/api-keys/{key['id']}")
        self.assertStatus(got, 200)
        self.assertNotIn("key", got.json())
        listed = self.api.get("/v1/api-keys", params={"limit": 100}).json()["data"]
        self.assertIn(key["id"], [k["id"] for k in listed])
        self.assertNotIn(key["key"], str(listed))
        # The key works for its role, and its event holds no secret.
        self.assertStatus(self.as_key(key["key"], "GET", "/v1/customers"), 200)
        events = self.api.get("/v1/events", params={"resource": key["id"]}).json()["data"]
        self.assertEqual([e["type"] for e in events], ["api_key.created"])
        self.assertNotIn(key["key"], str(events))
        self.assertNotIn(key["key"][8:], str(events))

    def test_last_used_at_is_set_by_a_request(self):
        key = self.create()
        self.assertStatus(self.as_key(key["key"], "GET", "/v1/products"), 200)
        self.assertIsNotNone(self.api.get(f"/v1/api-keys/{key['id']}").json()["last_used_at"])

    def test_a_revoked_key_is_refused_at_once_with_its_own_code(self):
        key = self.create()
        self.assertStatus(self.as_key(key["key"], "GET", "/v1/customers"), 200)  # cached now
        r = self.api.post(f"/v1/api-keys/{key['id']}/revoke")
        self.assertStatus(r, 200)
        self.assertIsNotNone(r.json()["revoked_at"])
        refused = self.as_key(key["key"], "GET", "/v1/customers")
        self.assertProblem(refused, 401, "api_key_revoked")
        self.assertIn("invalid_token", refused.headers.get("WWW-Authenticate", ""))
        again = self.api.post(f"/v1/api-keys/{key['id']}/revoke")  # answered as it is
        self.assertStatus(again, 200)
        self.assertEqual(again.json()["revoked_at"], r.json()["revoked_at"])
        types = [e["type"] for e in self.api.get("/v1/events", params={"resource": key["id"]}).json()["data"]]
        self.assertEqual(sorted(types), ["api_key.created", "api_key.revoked"])

    def test_an_expired_key_is_refused_with_api_key_expired(self):
        now = self.now()
        key = self.create(expires_at=format_time(now + timedelta(days=1)))
        self.assertStatus(self.as_key(key["key"], "GET", "/v1/customers"), 200)
        self.advance(now + timedelta(days=1))
        self.assertProblem(self.as_key(key["key"], "GET", "/v1/customers"), 401, "api_key_expired")
        self.assertEqual(parse_time(self.api.get(f"/v1/api-keys/{key['id']}").json()["expires_at"]),
                         now + timedelta(days=1))

    def test_expires_at_in_the_past_and_an_unknown_role_are_422(self):
        now = self.now()
        r = self.raw.post("/v1/api-keys", {"role": "support", "name": "x", "expires_at": format_time(now)})
        self.assertProblem(r, 422, "validation_failed")
        r = self.raw.post("/v1/api-keys", {"role": "root", "name": "x"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["field"], "role")

    def test_unknown_api_key_is_404(self):
        self.assertProblem(self.api.get("/v1/api-keys/key_01m8c0d2e4f6g8h0j2k4m6n8p0"), 404, "api_key_not_found")

    def test_roles_lists_the_five_built_in_ones_then_custom_ones(self):
        name = "shop-" + uuid.uuid4().hex[:8]
        r = self.api.post("/v1/roles", {"name": name, "permissions": ["customers:write", "catalog:read"]})
        self.assertStatus(r, 201)
        self.assertEqual(r.json()["permissions"], ["catalog:read", "customers:write"])  # the list's order
        self.assertFalse(r.json()["builtin"])
        roles = self.api.get("/v1/roles").json()["data"]
        self.assertEqual([x["name"] for x in roles[:5]], ["admin", "support", "billing", "inventory", "analyst"])
        self.assertTrue(all(x["builtin"] for x in roles[:5]))
        self.assertIn(name, [x["name"] for x in roles[5:]])
        self.assertEqual(sorted(x["name"] for x in roles[5:]), [x["name"] for x in roles[5:]])
        # A key of the custom role holds exactly its permissions.
        key = self.create(role=name)
        self.assertStatus(self.as_key(key["key"], "GET", "/v1/products"), 200)
        self.assertProblem(self.as_key(key["key"], "GET", "/v1/subscriptions"), 403, "permission_denied")
        self.assertProblem(self.as_key(key["key"], "GET", "/v1/customers"), 403, "permission_denied")
        events = self.api.get("/v1/events", params={"resource": name}).json()["data"]
        self.assertEqual([e["type"] for e in events], ["role.created"])

    def test_a_role_with_an_unknown_permission_or_a_built_in_name_is_refused(self):
        # Prism refuses a permission outside the enum itself: direct, for the server's answer.
        r = self.raw.post("/v1/roles", {"name": "x-" + uuid.uuid4().hex[:6], "permissions": ["catalog:delete"]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["field"], "permissions[0]")
        r = self.raw.post("/v1/roles", {"name": "admin", "permissions": []})
        self.assertProblem(r, 422, "validation_failed")
        name = "dup-" + uuid.uuid4().hex[:6]
        self.assertStatus(self.api.post("/v1/roles", {"name": name, "permissions": []}), 201)
        self.assertProblem(self.api.post("/v1/roles", {"name": name, "permissions": []}), 409, "role_taken")

    def test_a_key_without_api_keys_manage_cannot_make_keys(self):
        support = billing_server.TestModeApi("support")
        r = support.post("/v1/api-keys", {"role": "admin", "name": "escalate"})
        self.assertProblem(r, 403, "permission_denied")


if __name__ == "__main__":
    unittest.main()
