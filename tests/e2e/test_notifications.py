"""Notifications: the delivery record is readable with notifications:read, filtered, and its errors are problems."""
from recur_api import Api, ApiTestCase


class NotificationsTest(ApiTestCase):

    def test_list_is_a_page_and_filters_validate(self):
        r = self.api.get("/v1/notifications", params={"status": "failed", "template": "receipt", "limit": 5})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["url"], "/v1/notifications")
        self.assertTrue(all(n["status"] == "failed" for n in r.json()["data"]))
        doc = self.assertProblem(self.raw.get("/v1/notifications", params={"status": "lost"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"status": "invalid_value"})

    def test_unknown_notification_is_404(self):
        self.assertProblem(self.api.get("/v1/notifications/ntf_01m8a2k4p6r8t0v2x4z6b8d0f2"), 404,
                           "notification_not_found")

    def test_roles_without_notifications_read_get_403(self):
        self.assertProblem(Api("inventory").get("/v1/notifications"), 403, "permission_denied")
        self.assertStatus(Api("analyst").get("/v1/notifications"), 200)
