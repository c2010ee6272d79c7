"""Tax settings over HTTP: read, replace with the version read, refuse a bad table whole."""
from recur_api import ApiTestCase


class TaxSettingsTest(ApiTestCase):

    def test_rates_are_replaced_whole_with_the_version_read_and_bad_tables_change_nothing(self):
        before = self.api.get("/v1/settings/tax")
        self.assertStatus(before, 200)
        version = before.json()["version"]
        # A country the suite's customers never ship to, so no other test sees tax.
        r = self.api.patch("/v1/settings/tax", {"rates": {"nz": 1500}, "version": version})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["rates"], {"NZ": 1500})
        self.assertEqual(r.json()["version"], version + 1)
        # Outside the contract, so sent past Prism (which would refuse it itself).
        doc = self.assertProblem(self.raw.patch("/v1/settings/tax", {"rates": {"NZL": 1, "FR": 20000},
                                                                     "version": version + 1}),
                                 422, "validation_failed")
        self.assertEqual(sorted(e["field"] for e in doc["errors"]), ["rates.FR", "rates.NZL"])
        self.assertProblem(self.api.patch("/v1/settings/tax", {"rates": {}, "version": version}), 409,
                           "version_conflict")
        self.assertEqual(self.api.get("/v1/settings/tax").json()["rates"], {"NZ": 1500})
        r = self.api.patch("/v1/settings/tax", {"rates": {}, "version": version + 1})
        self.assertStatus(r, 200)
