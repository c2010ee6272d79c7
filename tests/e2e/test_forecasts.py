"""Forecasts: demand per SKU from live subscriptions, validated by Prism against the spec; roles and bad parameters."""
from recur_api import Api, ApiTestCase, Fixtures, parse_time


class ForecastsTest(ApiTestCase):

    def test_a_products_forecast_counts_its_subscriptions_boxes(self):
        # The catalogue is made directly: only the forecast's contract is checked here.
        make = Fixtures(self.raw)
        plan = make.plan(interval="week")  # 2 units of a fresh product a box
        product = plan["items"][0]["product"]
        for _ in range(3):
            make.subscription(plan=plan)
        r = self.api.get("/v1/forecasts", params={"horizon": "4w", "granularity": "week", "product": product})
        self.assertStatus(r, 200)
        doc = r.json()
        self.assertEqual(doc["horizon_days"], 28)
        self.assertEqual([p["product"] for p in doc["data"]], [product])
        buckets = doc["data"][0]["buckets"]
        self.assertEqual(len(buckets), 4)
        self.assertEqual(parse_time(buckets[0]["start"]), parse_time(doc["as_of"]))
        # A weekly box each week for 3 subscriptions of 2 units, less whatever churn the history shows.
        known = sum(b["from_subscriptions"] for b in buckets)
        self.assertGreater(known, 0)
        self.assertLessEqual(known, 4 * 3 * 2 + 0.01)
        for b in buckets:
            self.assertLessEqual(b["low"], b["expected"])
            self.assertGreaterEqual(b["high"], b["expected"])

    def test_bad_parameters_are_422_and_unknown_sku_404(self):
        doc = self.assertProblem(self.raw.get("/v1/forecasts", params={"horizon": "2y", "granularity": "hour"}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"horizon": "invalid_value", "granularity": "invalid_value"})
        self.assertProblem(self.api.get("/v1/forecasts", params={"sku": "NO-SUCH-SKU"}), 404, "product_not_found")

    def test_inventory_read_is_needed(self):
        self.assertProblem(Api("support").get("/v1/forecasts", params={"horizon": "7d"}), 403, "permission_denied")
        self.assertStatus(Api("inventory").get("/v1/forecasts", params={"horizon": "7d"}), 200)
