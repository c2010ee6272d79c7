"""Auth, health, docs, routing errors, validation problems, idempotency and pagination."""
import os
import uuid
from datetime import timedelta

import billing_server
from billing_server import TestModeCase
from recur_api import KEYS, PRISM_ERROR, Api, ApiTestCase, describe, prism_error, unique

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class ContractProxyTest(ApiTestCase):
    """The proxy really holds traffic to api/openapi.yaml; without it the suite proves little."""

    def test_proxy_refuses_a_request_body_the_spec_does_not_allow(self):
        sku = f"CANARY-{uuid.uuid4().hex[:8]}"
        r = self.api.request("POST", "/v1/products", json_body={"name": "x", "sku": sku, "colour": "red"},
                             check=False)
        self.assertEqual(r.status_code, 422, describe(r))
        self.assertEqual(prism_error(r), PRISM_ERROR + "UNPROCESSABLE_ENTITY", describe(r))
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku}).json()["data"], [])

    def test_proxy_knows_only_the_routes_in_the_spec(self):
        r = self.api.request("GET", "/v1/no-such-things", check=False)
        self.assertEqual(prism_error(r), PRISM_ERROR + "NO_PATH_MATCHED_ERROR", describe(r))


class AuthTest(ApiTestCase):
    # Prism answers a request without valid credentials itself, so these go direct.

    def test_request_without_api_key_is_401_missing_api_key(self):
        r = Api(role=None, direct=True).get("/v1/products")
        self.assertProblem(r, 401, "missing_api_key")
        self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), describe(r))

    def test_request_with_unknown_api_key_is_401_invalid_api_key(self):
        r = Api(direct=True).get("/v1/products", key="rk_live_" + uuid.uuid4().hex)
        self.assertProblem(r, 401, "invalid_api_key")
        self.assertIn("invalid_token", r.headers.get("WWW-Authenticate", ""))

    def test_authorization_with_another_scheme_is_401(self):
        r = Api(role=None, direct=True).get("/v1/products", headers={"Authorization": "Basic " + KEYS["admin"]})
        self.assertProblem(r, 401, "missing_api_key")

    def test_write_endpoints_refuse_missing_key_before_reading_the_body(self):
        r = Api(role=None, direct=True).request("POST", "/v1/products", raw="{not json")
        self.assertProblem(r, 401, "missing_api_key")

    def test_analyst_reads_but_may_not_create_403_permission_denied(self):
        analyst = Api("analyst")
        self.assertStatus(analyst.get("/v1/products"), 200)
        self.assertStatus(analyst.get("/v1/subscriptions"), 200)
        sku = f"DENIED-{uuid.uuid4().hex[:8]}"
        r = analyst.post("/v1/products", {"name": "Nope", "sku": sku})
        doc = self.assertProblem(r, 403, "permission_denied")
        self.assertIn("analyst", doc["detail"])
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku}).json()["data"], [])

    def test_inventory_role_has_no_access_to_customers_403(self):
        r = Api("inventory").get("/v1/customers")
        self.assertProblem(r, 403, "permission_denied")

    def test_inventory_role_may_write_products_but_not_plans_subscriptions(self):
        inventory = Api("inventory")
        self.assertStatus(inventory.post("/v1/products", {"name": "Mug", "sku": f"MUG-{uuid.uuid4().hex[:8]}"}), 201)
        sub_body = {"customer": "cus_01aaaaaaaaaaaaaaaaaaaaaaaa", "plan": "plan_01aaaaaaaaaaaaaaaaaaaaaaaa"}
        self.assertProblem(inventory.post("/v1/subscriptions", sub_body), 403, "permission_denied")

    def test_support_may_not_change_the_catalogue_403(self):
        r = Api("support").post("/v1/products", {"name": "Nope", "sku": f"S-{uuid.uuid4().hex[:8]}"})
        self.assertProblem(r, 403, "permission_denied")

    def test_support_may_not_configure_retention_offers_403(self):
        body = {"reason": "moving", "type": "skip", "description": "Skip a month instead"}
        self.assertProblem(Api("support").post("/v1/retention-offers", body), 403, "permission_denied")


class PlatformRoutesTest(ApiTestCase):

    def test_healthz_answers_ok_without_a_key(self):
        r = Api(role=None).get("/healthz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "ok")
        self.assertRegex(r.json()["version"], r"^\d+\.\d+\.\d+")

    def test_readyz_answers_ready_with_the_schema_version_without_a_key(self):
        r = Api(role=None).get("/readyz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "ready")
        self.assertGreaterEqual(r.json()["schema_version"], 43)

    def test_metrics_are_prometheus_text_without_a_key(self):
        r = Api(role=None).get("/metrics")
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"])
        self.assertIn("# TYPE recur_http_requests_total counter", r.text)
        Api(role=None).get("/healthz")
        again = Api(role=None).get("/metrics")
        self.assertIn('recur_http_requests_total{route="/healthz",method="GET",status="2xx"}', again.text)

    def test_docs_is_swagger_ui_html_in_utf8(self):
        r = Api(role=None).get("/docs")
        self.assertStatus(r, 200)
        content_type = r.headers["Content-Type"].replace(" ", "").lower()
        self.assertTrue(content_type.startswith("text/html"), content_type)
        self.assertIn("charset=utf-8", content_type)
        self.assertIn("swagger-ui", r.text)
        bundle = Api(role=None).get("/docs/swagger-ui-bundle.js")
        self.assertStatus(bundle, 200)
        self.assertIn("charset=utf-8", bundle.headers["Content-Type"].replace(" ", "").lower())

    def test_dashboard_is_html_in_utf8_with_its_script_and_style_as_files(self):
        r = Api(role=None).get("/dashboard")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["Content-Type"].replace(" ", "").lower(), "text/html;charset=utf-8")
        self.assertIn("script-src 'self'", r.headers["Content-Security-Policy"])
        self.assertNotIn("<script>", r.text)  # no inline script: the CSP would refuse it
        for path, media in (("/dashboard/app.js", "application/javascript"), ("/dashboard/app.css", "text/css")):
            asset = Api(role=None).get(path)
            self.assertStatus(asset, 200)
            self.assertEqual(asset.headers["Content-Type"].replace(" ", "").lower(), media + ";charset=utf-8")
            with open(os.path.join(REPO, path.lstrip("/")), "rb") as f:
                self.assertEqual(asset.content, f.read())

    def test_openapi_yaml_served_is_the_repository_spec(self):
        r = Api(role=None).get("/openapi.yaml")
        self.assertStatus(r, 200)
        self.assertIn("yaml", r.headers["Content-Type"])
        with open(os.path.join(REPO, "api", "openapi.yaml"), "rb") as f:
            self.assertEqual(r.content, f.read())
        self.assertTrue(r.text.startswith("openapi: 3.1") or "\nopenapi: 3.1" in r.text)

    def test_unknown_route_is_404_problem(self):
        r = self.raw.get("/v1/no-such-things")
        self.assertProblem(r, 404, "route_not_found")

    def test_wrong_method_is_405_with_allow_header(self):
        r = self.raw.delete("/v1/products")
        self.assertProblem(r, 405, "method_not_allowed")
        # RFC 9110 §15.5.6: a 405 response MUST carry Allow with the supported methods.
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        self.assertEqual(allow & {"GET", "POST"}, {"GET", "POST"}, describe(r) + f" Allow={allow}")

    def test_oversized_body_is_413_problem(self):
        body = '{"name": "x", "sku": "y", "description": "%s"}' % ("a" * (1024 * 1024 + 1))
        r = self.raw.request("POST", "/v1/products", raw=body)
        self.assertProblem(r, 413, "payload_too_large")
        self.assertTrue(r.headers.get("X-Request-Id"), "every response carries X-Request-Id: " + describe(r))

    def test_request_id_is_echoed_or_generated(self):
        r = self.api.get("/v1/products", headers={"X-Request-Id": "e2e-req-42"})
        self.assertEqual(r.headers.get("X-Request-Id"), "e2e-req-42")
        r = self.raw.get("/v1/products/prod_missing")
        self.assertTrue(r.headers.get("X-Request-Id"))
        self.assertEqual(r.json().get("request_id"), r.headers["X-Request-Id"])

    def test_unknown_ids_are_404_with_the_resource_code(self):
        for path, code in [("/v1/products/prod_00000000000000000000000000", "product_not_found"),
                           ("/v1/plans/plan_00000000000000000000000000", "plan_not_found"),
                           ("/v1/customers/cus_00000000000000000000000000", "customer_not_found"),
                           ("/v1/subscriptions/sub_00000000000000000000000000", "subscription_not_found"),
                           ("/v1/subscriptions/sub_00000000000000000000000000/upcoming", "subscription_not_found"),
                           ("/v1/subscriptions/sub_00000000000000000000000000/history", "subscription_not_found"),
                           ("/v1/retention-offers/rof_00000000000000000000000000", "retention_offer_not_found")]:
            with self.subTest(path=path):
                self.assertProblem(self.api.get(path), 404, code)

    def test_actions_on_an_unknown_subscription_are_404(self):
        missing = "/v1/subscriptions/sub_00000000000000000000000000"
        self.assertProblem(self.api.post(missing + "/pause", {}), 404, "subscription_not_found")
        self.assertProblem(self.api.patch(missing, {"quantity": 2, "version": 1}), 404, "subscription_not_found")
        self.assertProblem(self.api.delete(missing), 404, "subscription_not_found")


class ValidationTest(ApiTestCase):
    # Invalid bodies go direct: Prism would refuse them before the server saw them.

    def test_invalid_fields_are_all_reported_in_one_422(self):
        r = self.raw.post("/v1/plans", {"name": "", "amount": -5, "currency": "zzz", "interval": "fortnight"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"name": "invalid_length", "amount": "out_of_range",
                                     "currency": "invalid_currency", "interval": "invalid_value"})

    def test_missing_required_fields_are_named(self):
        doc = self.assertProblem(self.raw.post("/v1/customers", {}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"email": "required", "name": "required"})

    def test_nested_field_errors_carry_their_path(self):
        r = self.raw.post("/v1/customers", {"email": "x@example.com", "name": "X",
                                            "shipping_address": {"line1": "1", "city": "C", "country": "USA"}})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"shipping_address.postal_code": "required",
                                     "shipping_address.country": "invalid_length"})

    def test_wrong_type_is_422_invalid_type_and_creates_nothing(self):
        sku = f"TYPE-{uuid.uuid4().hex[:8]}"
        r = self.raw.post("/v1/products", {"name": "Tea", "sku": sku, "amount": "12.00", "currency": "usd"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"amount": "invalid_type"})
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku}).json()["data"], [])

    def test_unknown_field_is_refused_and_creates_nothing(self):
        sku = f"UNK-{uuid.uuid4().hex[:8]}"
        r = self.raw.post("/v1/products", {"name": "Tea", "sku": sku, "colour": "green"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"colour": "unknown_field"})
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku}).json()["data"], [])

    def test_malformed_json_is_400_invalid_json_and_creates_nothing(self):
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        r = self.raw.request("POST", "/v1/customers", raw='{"email": "%s", "name": "Half' % email)
        self.assertProblem(r, 400, "invalid_json")
        self.assertEqual(self.api.get("/v1/customers", params={"email": email}).json()["data"], [])

    def test_body_that_is_not_an_object_is_400_invalid_json(self):
        self.assertProblem(self.raw.request("POST", "/v1/products", raw="[1, 2]"), 400, "invalid_json")

    def test_invalid_phone_and_email_are_422(self):
        r = self.raw.post("/v1/customers", {"email": "not-an-email", "name": "X", "phone": "555-1234"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"email": "invalid_email", "phone": "invalid_phone"})

    def test_plan_item_with_unknown_product_is_422_and_plan_not_created(self):
        before = len(self.list_all("/v1/plans"))
        r = self.api.post("/v1/plans", {"name": "Ghost box", "amount": 1000, "currency": "usd", "interval": "month",
                                        "interval_count": 1,
                                        "items": [{"product": "prod_00000000000000000000000000", "quantity": 1}]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"items[0].product": "not_found"})
        self.assertEqual(len(self.list_all("/v1/plans")), before)

    def test_out_of_range_query_parameters_are_422(self):
        for params, field, code in [({"limit": "0"}, "limit", "out_of_range"),
                                    ({"limit": "101"}, "limit", "out_of_range"),
                                    ({"limit": "ten"}, "limit", "out_of_range"),
                                    ({"colour": "red"}, "colour", "unknown_parameter"),
                                    ({"status": "sleeping"}, "status", "invalid_value")]:
            with self.subTest(params=params):
                doc = self.assertProblem(self.raw.get("/v1/subscriptions", params=params), 422, "validation_failed")
                self.assertFieldErrors(doc, {field: code})

    def test_update_without_version_is_422_version_required(self):
        product = self.make.product()
        doc = self.assertProblem(self.api.patch(f"/v1/products/{product['id']}", {"name": "New"}), 422,
                                 "version_required")
        self.assertFieldErrors(doc, {"version": "required"})
        self.assertEqual(self.api.get(f"/v1/products/{product['id']}").json()["name"], product["name"])


class IdempotencyTest(ApiTestCase):

    def test_same_key_and_body_replays_the_response_and_creates_once(self):
        key = uuid.uuid4().hex
        sku = f"IDEM-{uuid.uuid4().hex[:8]}"
        body = {"name": "Idempotent beans", "sku": sku, "amount": 1500, "currency": "usd"}
        first = self.api.post("/v1/products", body, idempotency_key=key)
        self.assertStatus(first, 201)
        self.assertNotIn("Idempotent-Replayed", first.headers)
        second = self.api.post("/v1/products", body, idempotency_key=key)
        self.assertStatus(second, 201)
        self.assertEqual(second.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(second.json(), first.json())
        self.assertEqual(second.headers.get("Content-Type"), first.headers.get("Content-Type"))
        self.assertEqual(len(self.api.get("/v1/products", params={"sku": sku}).json()["data"]), 1)
        # The replay is the same response, so a client can use its ETag like the original's.
        self.assertEqual(second.headers.get("ETag"), first.headers.get("ETag"), "replayed response lost its ETag")

    def test_same_key_with_a_different_body_is_422_and_changes_nothing(self):
        key = uuid.uuid4().hex
        sku = f"IDEM-{uuid.uuid4().hex[:8]}"
        self.assertStatus(self.api.post("/v1/products", {"name": "A", "sku": sku}, idempotency_key=key), 201)
        r = self.api.post("/v1/products", {"name": "B", "sku": sku + "-2"}, idempotency_key=key)
        self.assertProblem(r, 422, "idempotency_key_reused")
        self.assertEqual(self.api.get("/v1/products", params={"sku": sku + "-2"}).json()["data"], [])

    def test_same_key_on_another_endpoint_is_refused(self):
        key = uuid.uuid4().hex
        self.assertStatus(self.api.post("/v1/products", {"name": "A", "sku": unique_sku()}, idempotency_key=key), 201)
        customer = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "B"}
        self.assertProblem(self.api.post("/v1/customers", customer, idempotency_key=key), 422, "idempotency_key_reused")
        self.assertEqual(self.api.get("/v1/customers", params={"email": customer["email"]}).json()["data"], [])

    def test_keys_belong_to_the_merchant_not_to_one_api_key(self):
        # As Stripe's belong to the account: another API key of the same Recur replays the
        # request, or is told the key was used for something else.
        key = uuid.uuid4().hex
        body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "A"}
        mine = self.api.post("/v1/customers", body, idempotency_key=key)
        self.assertStatus(mine, 201)
        same = Api("support").post("/v1/customers", body, idempotency_key=key)
        self.assertStatus(same, 201)
        self.assertEqual(same.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(same.json()["id"], mine.json()["id"])
        other = dict(body, email=f"{uuid.uuid4().hex[:8]}@example.com")
        self.assertProblem(Api("support").post("/v1/customers", other, idempotency_key=key), 422,
                           "idempotency_key_reused")
        self.assertEqual(self.api.get("/v1/customers", params={"email": other["email"]}).json()["data"], [])

    def test_the_same_body_in_another_key_order_is_the_same_request(self):
        key = uuid.uuid4().hex
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        first = self.raw.request("POST", "/v1/customers", raw='{"email": "%s", "name": "A", "metadata": {"a": "1", "b": "2"}}' % email,
                              idempotency_key=key)
        self.assertStatus(first, 201)
        again = self.raw.request("POST", "/v1/customers", raw='{"metadata":{"b":"2","a":"1"},"name":"A","email":"%s"}' % email,
                              idempotency_key=key)
        self.assertStatus(again, 201)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json()["id"], first.json()["id"])

    def test_a_request_refused_by_validation_keeps_nothing_under_its_key(self):
        key = uuid.uuid4().hex
        bad = self.api.post("/v1/customers", {"email": "not-an-email", "name": "A"}, idempotency_key=key)
        self.assertProblem(bad, 422, "validation_failed")
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        fixed = self.api.post("/v1/customers", {"email": email, "name": "A"}, idempotency_key=key)
        self.assertStatus(fixed, 201)
        self.assertNotIn("Idempotent-Replayed", fixed.headers)
        again = self.api.post("/v1/customers", {"email": email, "name": "A"}, idempotency_key=key)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json()["id"], fixed.json()["id"])

    def test_action_with_a_key_is_applied_once(self):
        sub = self.make.subscription()
        key = uuid.uuid4().hex
        first = self.api.post(f"/v1/subscriptions/{sub['id']}/pause", {}, idempotency_key=key)
        self.assertStatus(first, 200)
        again = self.api.post(f"/v1/subscriptions/{sub['id']}/pause", {}, idempotency_key=key)
        self.assertStatus(again, 200)
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.json(), first.json())
        self.assertEqual(self.api.get(f"/v1/subscriptions/{sub['id']}").json()["version"], sub["version"] + 1)
        # Without the key the second pause is a new request, and an illegal one.
        self.assertProblem(self.api.post(f"/v1/subscriptions/{sub['id']}/pause", {}), 409,
                           "subscription_already_paused")

    def test_empty_or_overlong_key_is_400(self):
        for key in ("", "k" * 256):
            with self.subTest(length=len(key)):
                r = self.raw.post("/v1/products", {"name": "A", "sku": unique_sku()}, idempotency_key=key)
                self.assertProblem(r, 400, "invalid_idempotency_key")


def unique_sku():
    return f"SKU-{uuid.uuid4().hex[:10]}"


class PaginationTest(ApiTestCase):

    def test_pages_follow_limit_starting_after_and_has_more_without_duplicates(self):
        customer = self.make.customer()
        plan = self.make.plan()
        created = [self.make.subscription(plan=plan, customer=customer)["id"] for _ in range(7)]
        seen, sizes, after = [], [], None
        while True:
            params = {"customer": customer["id"], "limit": 3}
            if after:
                params["starting_after"] = after
            r = self.api.get("/v1/subscriptions", params=params)
            self.assertStatus(r, 200)
            page = r.json()
            self.assertEqual(page["object"], "list")
            sizes.append(len(page["data"]))
            seen += [s["id"] for s in page["data"]]
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        self.assertEqual(sizes, [3, 3, 1])
        self.assertEqual(len(seen), len(set(seen)), "an item appeared on two pages")
        self.assertEqual(set(seen), set(created))
        self.assertEqual(seen, sorted(created, reverse=True), "lists run newest first")

    def test_a_full_last_page_says_has_more_false(self):
        customer = self.make.customer()
        plan = self.make.plan()
        for _ in range(4):
            self.make.subscription(plan=plan, customer=customer)
        first = self.api.get("/v1/subscriptions", params={"customer": customer["id"], "limit": 2}).json()
        self.assertTrue(first["has_more"])
        second = self.api.get("/v1/subscriptions", params={"customer": customer["id"], "limit": 2,
                                                           "starting_after": first["data"][-1]["id"]}).json()
        self.assertEqual(len(second["data"]), 2)
        self.assertFalse(second["has_more"])

    def test_walking_products_two_at_a_time_sees_each_once(self):
        for _ in range(3):
            self.make.product()
        everything = [p["id"] for p in self.list_all("/v1/products", limit=100)]
        walked = [p["id"] for p in self.list_all("/v1/products", limit=2)]
        self.assertEqual(walked, everything)
        self.assertEqual(len(walked), len(set(walked)))

    def test_a_cursor_that_names_no_item_is_refused_and_changes_nothing(self):
        # A paginator handed a cursor of nothing must not get page 1 again (and loop forever).
        sub = self.make.subscription()
        product = self.make.product(sku=unique_sku())
        cases = [
            ("/v1/customers", {"starting_after": "cus_nonexistent"}),
            ("/v1/subscriptions", {"starting_after": "sub_nonexistent"}),
            ("/v1/invoices", {"starting_after": sub["id"]}),  # an id, but not of an invoice
            ("/v1/products", {"starting_after": product["sku"]}),
            ("/v1/inventory", {"starting_after": product["sku"]}),  # a SKU where a product id goes
            ("/v1/inventory", {"starting_after": product["id"]}),  # not tracked: not in this list
            (f"/v1/subscriptions/{sub['id']}/history", {"starting_after": "evt_nonexistent"}),
        ]
        for path, params in cases:
            with self.subTest(path=path, params=params):
                doc = self.assertProblem(self.api.get(path, params=params), 422, "validation_failed")
                self.assertFieldErrors(doc, {"starting_after": "not_found"})

    def test_a_real_cursor_still_pages_even_when_a_filter_excludes_it(self):
        a, b = self.make.customer(), self.make.customer()
        r = self.api.get("/v1/customers", params={"email": a["email"], "starting_after": b["id"]})
        self.assertStatus(r, 200)

    def test_a_query_parameter_given_twice_is_refused(self):
        # Straight to the server: Prism would answer a repeated scalar parameter itself.
        r = self.raw.get("/v1/invoices", params=[("status", "open"), ("status", "paid")])
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"status": "repeated_parameter"})
        r = self.raw.get("/v1/subscriptions", params=[("limit", "2"), ("limit", "2")])
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"limit": "repeated_parameter"})

    def test_default_page_is_ten_items(self):
        customer = self.make.customer()
        plan = self.make.plan()
        for _ in range(11):
            self.make.subscription(plan=plan, customer=customer)
        page = self.api.get("/v1/subscriptions", params={"customer": customer["id"]}).json()
        self.assertEqual(len(page["data"]), 10)
        self.assertTrue(page["has_more"])


class ListFiltersTest(ApiTestCase):
    """docs/api-conventions.md, Lists: one rule for every list."""

    def test_ending_before_pages_back_to_the_same_page(self):
        customer = self.make.customer()
        plan = self.make.plan()
        for _ in range(5):
            self.make.subscription(plan=plan, customer=customer)
        base = {"customer": customer["id"], "limit": 2}
        first = self.api.get("/v1/subscriptions", params=base).json()
        second = self.api.get("/v1/subscriptions", params={**base, "starting_after": first["data"][-1]["id"]}).json()
        back = self.api.get("/v1/subscriptions", params={**base, "ending_before": second["data"][0]["id"]}).json()
        self.assertEqual([s["id"] for s in back["data"]], [s["id"] for s in first["data"]])
        self.assertFalse(back["has_more"], "nothing comes before the first page")
        # From the last item back, a page of 2 with more before it.
        everything = [s["id"] for s in self.list_all("/v1/subscriptions", {"customer": customer["id"]})]
        tail = self.api.get("/v1/subscriptions", params={**base, "ending_before": everything[-1]}).json()
        self.assertEqual([s["id"] for s in tail["data"]], everything[-3:-1])
        self.assertTrue(tail["has_more"])

    def test_both_cursors_or_an_unknown_ending_before_are_refused(self):
        a, b = self.make.customer(), self.make.customer()
        doc = self.assertProblem(self.raw.get("/v1/customers", params={"starting_after": a["id"], "ending_before": b["id"]}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"ending_before": "mutually_exclusive"})
        doc = self.assertProblem(self.api.get("/v1/customers", params={"ending_before": "cus_nonexistent"}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"ending_before": "not_found"})

    def test_malformed_created_or_metadata_filters_are_refused(self):
        cases = [
            ({"created[gte]": "yesterday"}, "created[gte]", "invalid_format"),
            ({"created[after]": "2026-01-01T00:00:00Z"}, "created[after]", "unknown_parameter"),
            ({"metadata[" + "k" * 41 + "]": "v"}, "metadata[" + "k" * 41 + "]", "invalid_metadata"),
        ]
        for params, field, code in cases:
            with self.subTest(params=params):
                doc = self.assertProblem(self.raw.get("/v1/customers", params=params), 422, "validation_failed")
                self.assertFieldErrors(doc, {field: code})
        # A list whose items have no metadata (events) does not pretend to filter on it.
        doc = self.assertProblem(self.raw.get("/v1/events", params={"metadata[a]": "b"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"metadata[a]": "unknown_parameter"})

    def test_suppliers_purchase_orders_and_notifications_filter_on_metadata(self):
        tag = unique("batch")
        product = self.make.product(track_inventory=True)

        def supplier(**metadata):
            return self.make._created(self.api.post("/v1/suppliers", {
                "name": unique("Supplier"), "email": "orders@supplier.example", "metadata": metadata,
                "products": [{"product": product["id"], "unit_cost": 500, "currency": "usd"}]}))

        def order(supplier_id, **metadata):
            return self.make._created(self.api.post("/v1/purchase-orders", {
                "supplier": supplier_id, "lines": [{"product": product["id"], "quantity": 3}], "metadata": metadata}))

        def ids(path, params):
            r = self.api.get(path, params={"limit": 100, **params})
            self.assertStatus(r, 200)
            return [item["id"] for item in r.json()["data"]]

        first, second = supplier(batch=tag), supplier(batch=tag, tier="gold")
        supplier(batch=unique("other"))
        self.assertEqual(ids("/v1/suppliers", {"metadata[batch]": tag}), [second["id"], first["id"]])
        self.assertEqual(ids("/v1/suppliers", {"metadata[batch]": tag, "metadata[tier]": "gold"}), [second["id"]])
        draft, rush = order(first["id"], batch=tag), order(first["id"], batch=tag, rush="yes")
        order(first["id"])
        self.assertEqual(ids("/v1/purchase-orders", {"metadata[batch]": tag}), [rush["id"], draft["id"]])
        self.assertEqual(ids("/v1/purchase-orders", {"metadata[rush]": "yes", "supplier": first["id"]}), [rush["id"]])
        # Notifications carry metadata too (none that Recur queues today sets any): the filter
        # is taken, and a value nothing has matches nothing.
        self.assertEqual(ids("/v1/notifications", {"metadata[batch]": tag}), [])

    def test_a_status_filter_takes_several_statuses(self):
        customer = self.make.customer()
        plan = self.make.plan()
        active = self.make.subscription(plan=plan, customer=customer)
        trialing = self.make.subscription(plan=self.make.plan(trial_days=7), customer=customer)
        canceled = self.make.subscription(plan=plan, customer=customer)
        self.assertStatus(self.api.post(f"/v1/subscriptions/{canceled['id']}/cancel", {"at": "now", "reason": "moving"}),
                          200)
        self.assertEqual(trialing["status"], "trialing")

        def ids(status):
            r = self.api.get("/v1/subscriptions", params={"customer": customer["id"], "status": status})
            self.assertStatus(r, 200)
            return {s["id"] for s in r.json()["data"]}

        self.assertEqual(ids("active,trialing"), {active["id"], trialing["id"]})
        self.assertEqual(ids("canceled"), {canceled["id"]})
        self.assertEqual(ids("active,canceled"), {active["id"], canceled["id"]})

    def test_an_unknown_status_lists_the_allowed_ones(self):
        r = self.raw.get("/v1/invoices", params={"status": "open,bogus"})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"status": "invalid_value"})
        for allowed in ("draft", "open", "paid", "void", "uncollectible"):
            self.assertIn(allowed, doc["errors"][0]["message"])

    def test_a_retrieve_refuses_query_parameters_it_does_not_take(self):
        customer = self.make.customer()
        plan = self.make.plan()
        sub = self.make.subscription(plan=plan, customer=customer)
        for path in (f"/v1/customers/{customer['id']}", f"/v1/subscriptions/{sub['id']}", f"/v1/plans/{plan['id']}"):
            with self.subTest(path=path):
                doc = self.assertProblem(self.raw.get(path, params={"expand": "x"}), 422, "validation_failed")
                self.assertFieldErrors(doc, {"expand": "unknown_parameter"})
        r = self.raw.get(f"/v1/subscriptions/{sub['id']}/upcoming", params=[("count", "2"), ("count", "3")])
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"count": "repeated_parameter"})
        self.assertStatus(self.api.get(f"/v1/subscriptions/{sub['id']}/upcoming", params={"count": 2}), 200)


class CreatedFilterTest(TestModeCase):
    """created[...] filters split at whole seconds, so this runs on a test-mode server of its
    own (billing_server.py, started for this class only) and moves its clock a second rather
    than waiting for the real one."""

    @classmethod
    def setUpClass(cls):
        billing_server.setUpModule()
        cls.addClassCleanup(billing_server.tearDownModule)
        super().setUpClass()

    def test_metadata_and_created_filters_narrow_the_list(self):
        tag = unique("tag")
        first = self.make.customer(metadata={"batch": tag})
        self.advance(self.now() + timedelta(seconds=1))
        second = self.make.customer(metadata={"batch": tag, "tier": "gold"})
        self.make.customer(metadata={"batch": unique("other")})
        self.assertLess(first["created"], second["created"])

        def ids(params):
            r = self.api.get("/v1/customers", params={"limit": 100, **params})
            self.assertStatus(r, 200)
            return [c["id"] for c in r.json()["data"]]

        self.assertEqual(ids({"metadata[batch]": tag}), [second["id"], first["id"]])
        self.assertEqual(ids({"metadata[batch]": tag, "metadata[tier]": "gold"}), [second["id"]])
        self.assertEqual(ids({"metadata[batch]": tag, "created[gte]": second["created"]}), [second["id"]])
        self.assertEqual(ids({"metadata[batch]": tag, "created[lt]": second["created"]}), [first["id"]])
        self.assertEqual(ids({"metadata[batch]": tag, "created[gt]": second["created"]}), [])
        self.assertEqual(ids({"metadata[batch]": tag, "created[lte]": first["created"]}), [first["id"]])


class ExpandTest(ApiTestCase):
    """expand[] (Stripe's): the named fields become the objects, on retrieves and lists."""

    def test_a_subscription_expands_its_customer_plan_and_latest_invoice(self):
        plan = self.make.plan(amount=2100)
        customer = self.make.customer()
        sub = self.make.subscription(plan=plan, customer=customer)
        r = self.api.get(f"/v1/subscriptions/{sub['id']}",
                         params=[("expand[]", "customer"), ("expand[]", "plan,latest_invoice")])
        self.assertStatus(r, 200)
        got = r.json()
        self.assertEqual((got["customer"]["object"], got["customer"]["id"]), ("customer", customer["id"]))
        self.assertEqual((got["plan"]["object"], got["plan"]["id"]), ("plan", plan["id"]))
        self.assertEqual((got["latest_invoice"]["object"], got["latest_invoice"]["total"]), ("invoice", 2100))
        self.assertEqual(r.headers["ETag"], f'"{got["version"]}"')
        listed = self.api.get("/v1/subscriptions", params={"customer": customer["id"], "expand[]": "customer"}).json()
        self.assertEqual([s["customer"]["email"] for s in listed["data"]], [customer["email"]])
        plain = self.api.get(f"/v1/subscriptions/{sub['id']}").json()
        self.assertEqual(plain["customer"], customer["id"])
        self.assertNotIn("latest_invoice", plain)

    def test_an_invoice_expands_its_subscription_and_payments(self):
        sub = self.make.subscription()
        [invoice] = self.list_all("/v1/invoices", {"subscription": sub["id"]})
        got = self.api.get(f"/v1/invoices/{invoice['id']}", params={"expand[]": "subscription,payments"}).json()
        self.assertEqual(got["subscription"]["id"], sub["id"])
        [paid] = got["payments"]  # the first invoice, charged at signup
        self.assertEqual((paid["object"], paid["status"], paid["invoice"]), ("payment", "succeeded", invoice["id"]))

    def test_an_unknown_expansion_is_refused_never_ignored(self):
        sub = self.make.subscription()
        for path in (f"/v1/subscriptions/{sub['id']}", "/v1/subscriptions"):
            with self.subTest(path=path):
                doc = self.assertProblem(self.raw.get(path, params={"expand[]": "customer,colour"}), 422,
                                         "validation_failed")
                self.assertFieldErrors(doc, {"expand[]": "invalid_value"})
                self.assertIn("latest_invoice", doc["errors"][0]["message"])
        customer = self.make.customer()
        doc = self.assertProblem(self.raw.get(f"/v1/customers/{customer['id']}", params={"expand[]": "subscriptions"}),
                                 422, "validation_failed")
        self.assertFieldErrors(doc, {"expand[]": "unknown_parameter"})
