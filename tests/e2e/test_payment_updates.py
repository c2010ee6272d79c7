"""Update-payment links end to end: a declined renewal e-mails the customer a link with a
one-time token (read here from a real SMTP server's maildir), the merchant's hosted page
looks it up and sets a new card with it (no API key), which pays the open invoice at once;
the token then works no more, nor once expired, and never shows in the API or the log.

Runs on its own test-mode server (billing_server.py) that sends e-mail to aiosmtpd.
"""
from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from urllib.parse import unquote

import billing_server
from billing_server import TestModeCase
from recur_api import Api, format_time, parse_time
from wait_for import poll

DAY = timedelta(days=1)
LINK = re.compile(r"https://shop\.example\.com/account/payment\?token=([A-Za-z0-9_.~%-]+)")


def setUpModule():
    billing_server.setUpModule(mail=True)


def tearDownModule():
    billing_server.tearDownModule()


class HostedPage(Api):
    """The merchant's hosted update-payment page: no API key, through Prism unless direct."""

    def __init__(self, direct: bool = False):
        super().__init__(None, direct)
        self.base = billing_server.SERVER.direct if direct else billing_server.SERVER.proxy


class HostedPageCase(TestModeCase):
    """The hosted page's view (through Prism and direct), a plan, and the one-time token read
    out of the newest e-mail to a customer (text and HTML alike)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.page = HostedPage()
        cls.page_raw = HostedPage(direct=True)
        cls.plan = cls.make.plan(amount=2000)

    def token_mailed_to(self, customer, subject: str = "failed") -> str:
        def mailed():
            return [m for m in billing_server.SERVER.messages()
                    if m["To"] == customer["email"] and subject in m["Subject"]]
        self.assertTrue(poll(lambda: bool(mailed()), 5), f"no e-mail with '{subject}' reached the SMTP server")
        mails = mailed()
        text = mails[-1].get_body(("plain",)).get_content()
        html = mails[-1].get_body(("html",)).get_content()
        found = LINK.search(text)
        self.assertIsNotNone(found, text)
        token = unquote(found.group(1))
        self.assertIn(found.group(0), html.replace("&amp;", "&"))
        return token


class PaymentUpdateLinkTest(HostedPageCase):

    def failed_renewal(self):
        """A customer whose card is declined at a renewal: the charge fails and the e-mail goes
        out (a signup's refused first charge sends none: the customer is still at checkout)."""
        customer, _, sub, renewal = self.renewing_with("pm_card_chargeDeclined", self.plan)
        self.advance(renewal)
        inv = self.invoices(sub)[0]
        self.assertEqual(self.invoice(inv)["status"], "open")
        return customer, sub, inv

    def test_a_link_shows_what_is_due_and_a_new_card_pays_it_once(self):
        customer, sub, inv = self.failed_renewal()
        token = self.token_mailed_to(customer)

        # The API's record of the e-mail and the server's log never show the token.
        r = self.api.get("/v1/notifications", params={"customer": customer["id"], "template": "payment_failed"})
        self.assertStatus(r, 200)
        self.assertTrue(r.json()["data"])
        self.assertNotIn(token, r.text)
        with open(billing_server.SERVER.logs["server"], encoding="utf-8", errors="replace") as log:
            self.assertNotIn(token, log.read())

        r = self.page.post("/v1/payment-updates/lookup", {"token": token})
        self.assertStatus(r, 200)
        view = r.json()
        self.assertEqual((view["object"], view["customer"], view["customer_name"]),
                         ("payment_update", customer["id"], "Ada Lovelace"))
        self.assertEqual(view["invoices"], [inv["id"]])
        self.assertEqual(view["amount_due"], [{"amount": 2000, "currency": "usd"}])
        self.assertEqual(parse_time(view["expires_at"]), self.now() + 7 * DAY)

        r = self.page.post("/v1/payment-updates", {"token": token, "gateway": "sandbox", "payment_method": "pm_card_visa"})
        self.assertStatus(r, 200)
        done = r.json()
        self.assertEqual(done["object"], "payment_update_result")
        self.assertTrue(done["payment_method"]["default"])
        self.assertEqual((done["payment_method"]["type"], done["payment_method"]["card"]["last4"]), ("card", "4242"))
        # The link sees its card, not the gateway's token, the merchant's metadata or the customer id.
        self.assertEqual(set(done["payment_method"]),
                         {"id", "object", "type", "card", "paypal", "venmo", "default", "created"})
        self.assertEqual(self.api.get(f"/v1/customers/{customer['id']}").json()["default_payment_method"],
                         done["payment_method"]["id"])
        self.assertEqual(done["retry"], {"invoices": [{"id": inv["id"], "status": "paid", "amount_due": 0,
                                                       "currency": "usd"}],
                                         "paid": 1, "still_open": 0})
        self.assertEqual(self.invoice(inv)["status"], "paid")
        self.assertEqual(self.subscription(sub)["status"], "active")
        succeeded = [p for p in self.payments(inv) if p["status"] == "succeeded"]
        self.assertEqual(len(succeeded), 1)

        # Used: the same answer as an unknown token, and nothing changes.
        self.assertProblem(self.page.post("/v1/payment-updates/lookup", {"token": token}), 404,
                           "payment_update_token_invalid")
        self.assertProblem(self.page.post("/v1/payment-updates", {"token": token, "payment_method": "pm_card_amex"}),
                           404, "payment_update_token_invalid")
        methods = self.api.get(f"/v1/customers/{customer['id']}/payment-methods").json()["data"]
        self.assertEqual(len(methods), 3)  # the signup's visa, the declined one and the page's new card

    def test_b_bad_input_and_unknown_tokens_are_problems(self):
        unknown = self.assertProblem(self.page.post("/v1/payment-updates/lookup", {"token": "no-such-token"}), 404,
                                     "payment_update_token_invalid")
        self.assertNotIn("no-such-token", unknown["detail"])
        doc = self.assertProblem(self.page_raw.post("/v1/payment-updates", {"token": "x"}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"payment_method": "required"})
        doc = self.assertProblem(self.page_raw.post("/v1/payment-updates/lookup", {}), 422, "validation_failed")
        self.assertFieldErrors(doc, {"token": "required"})
        # An API key is not needed, and not a substitute for the token.
        self.assertProblem(self.api.post("/v1/payment-updates/lookup", {"token": "no-such-token"}), 404,
                           "payment_update_token_invalid")

    def test_c_a_refused_card_leaves_the_link_usable(self):
        customer, _, inv = self.failed_renewal()
        token = self.token_mailed_to(customer)
        self.assertProblem(self.page.post("/v1/payment-updates", {"token": token, "payment_method": "pm_card_bogus"}),
                           422, "payment_method_refused")
        r = self.page.post("/v1/payment-updates/lookup", {"token": token})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["invoices"], [inv["id"]])

    def test_d_an_unpaid_subscription_is_active_again_once_the_link_pays_its_invoice(self):
        self.set_dunning(retry_days=[1], final_action="unpaid")
        customer, sub, inv = self.failed_renewal()
        self.advance(self.now() + DAY)  # the only retry fails: retries are over
        self.assertEqual(self.subscription(sub)["status"], "unpaid")
        inv = self.invoice(inv)
        self.assertEqual((inv["status"], inv["attempt_count"], inv["next_attempt_at"]), ("open", 2, None))
        token = self.token_mailed_to(customer)
        r = self.page.post("/v1/payment-updates", {"token": token, "payment_method": "pm_card_visa"})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["retry"]["paid"], r.json()["retry"]["still_open"]), (1, 0))
        self.assertEqual(self.subscription(sub)["status"], "active")

    def test_z_a_link_expires_after_seven_days(self):
        customer, _, _ = self.failed_renewal()
        token = self.token_mailed_to(customer)
        expires = parse_time(self.page.post("/v1/payment-updates/lookup", {"token": token}).json()["expires_at"])
        self.advance(expires)
        self.assertProblem(self.page.post("/v1/payment-updates/lookup", {"token": token}), 404,
                           "payment_update_token_invalid")
        self.assertProblem(self.page.post("/v1/payment-updates", {"token": token, "payment_method": "pm_card_visa"}),
                           404, "payment_update_token_invalid")


class AuthenticationTest(HostedPageCase):
    """Strong customer authentication (3-D Secure) end to end: the sandbox's
    pm_card_authenticationRequired makes the bank ask; the payment waits in requires_action,
    the customer is e-mailed the link, the page completes the challenge (the sandbox's
    stand-in for the bank's page) and confirms with the token; one charge, then paid."""

    def challenged_signup(self):
        customer = self.make.customer(card="pm_card_authenticationRequired")
        r = self.api.post("/v1/subscriptions", {"customer": customer["id"], "plan": self.plan["id"]})
        self.assertStatus(r, 201)
        sub = r.json()
        self.assertEqual(sub["status"], "incomplete")
        [inv] = self.invoices(sub)
        [pay] = self.payments(inv)
        self.advance(self.now() + timedelta(seconds=1))  # the outbox sends on the test clock
        return customer, sub, inv, pay

    def test_a_challenged_signup_is_paid_once_the_customer_authenticates(self):
        customer, sub, inv, pay = self.challenged_signup()
        self.assertEqual(pay["status"], "requires_action")
        # Waits as long as the link sent with it works (7 days by default).
        self.assertEqual(pay["next_action"], {"type": "authenticate", "url": None,
                                              "expires_at": format_time(parse_time(pay["created"]) + 7 * DAY)})
        self.assertTrue(pay["gateway_reference"].startswith("pi_sandbox_"))
        self.assertEqual(self.invoice(inv)["next_attempt_at"], None)
        token = self.token_mailed_to(customer, "Confirm your payment")

        r = self.page.post("/v1/payment-updates/lookup", {"token": token})
        self.assertStatus(r, 200)
        [waiting] = r.json()["action_required"]
        self.assertEqual((waiting["payment"], waiting["invoice"], waiting["gateway_reference"], waiting["amount"]),
                         (pay["id"], inv["id"], pay["gateway_reference"], 2000))

        # Before the customer answered the bank: nothing changes, nothing is charged again.
        r = self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": token})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["next_action"]), ("requires_action", pay["next_action"]))
        self.assertEqual(self.payments(inv)[0]["version"], pay["version"])
        # The customer's view of a payment: no gateway reference, key or payment method.
        self.assertEqual(set(r.json()), {"id", "object", "invoice", "status", "amount", "currency", "failure_code",
                                         "decline_code", "next_action"})
        self.assertProblem(self.api.post(f"/v1/invoices/{inv['id']}/pay", {}), 409, "payment_requires_action")

        r = self.page.post(f"/v1/sandbox/charges/{pay['gateway_reference']}/authenticate", {"result": "approve"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "succeeded")
        r = self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": token})
        self.assertStatus(r, 200)
        self.assertEqual((r.json()["status"], r.json()["next_action"]), ("succeeded", None))
        self.assertEqual(self.invoice(inv)["status"], "paid")
        self.assertEqual(self.subscription(sub)["status"], "active")
        self.assertEqual([p["status"] for p in self.payments(inv)], ["succeeded"])
        # Confirmed again (a double click): the same payment, unchanged.
        version = self.payments(inv)[0]["version"]
        again = self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": token})
        self.assertStatus(again, 200)
        self.assertEqual(again.json(), r.json())
        self.assertEqual([(p["status"], p["version"]) for p in self.payments(inv)], [("succeeded", version)])
        # The link is not used up by confirming, and nothing waits any more. Its own invoice
        # is still shown, now paid, as its PDF shows it.
        r = self.page.post("/v1/payment-updates/lookup", {"token": token})
        self.assertStatus(r, 200)
        view = r.json()
        self.assertEqual((view["action_required"], view["invoices"], view["amount_due"]), ([], [], []))
        [page] = view["documents"]
        self.assertEqual((page["invoice"], page["status"], page["amount_due"]), (inv["id"], "paid", 0))
        facts = {f["label"]: f["value"] for f in page["document"]["facts"]}
        self.assertEqual((facts["Invoice number"], facts["Status"]), (self.invoice(inv)["number"], "Paid"))
        totals = {t["label"]: t["value"] for t in page["document"]["totals"]}
        self.assertEqual((totals["Total"], totals["Amount paid"], totals["Amount due"]),
                         ("20.00 USD", "20.00 USD", "0.00 USD"))

    def test_the_link_gives_its_customers_invoice_pdfs_and_no_others(self):
        customer, sub, inv, pay = self.challenged_signup()
        token = self.token_mailed_to(customer, "Confirm your payment")
        r = self.page.post("/v1/payment-updates/lookup", {"token": token})
        self.assertStatus(r, 200)
        [page] = r.json()["documents"]
        self.assertEqual((page["invoice"], page["status"], page["amount_due"]), (inv["id"], "open", 2000))
        self.assertEqual(page["document"]["bill_to"]["name"], "Ada Lovelace")

        r = self.page.post("/v1/payment-updates/invoice-pdf", {"token": token, "invoice": inv["id"]})
        self.assertStatus(r, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/pdf"))
        direct = self.page_raw.post("/v1/payment-updates/invoice-pdf", {"token": token, "invoice": inv["id"]})
        self.assertStatus(direct, 200)
        self.assertTrue(direct.content.startswith(b"%PDF-"))
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=direct.content, check=True,
                              capture_output=True).stdout.decode()
        self.assertIn(self.invoice(inv)["number"], text)
        self.assertIn("20.00 USD", text)

        # Another customer's invoice is one that does not exist; a bad token is refused alike.
        _, _, other_inv, _ = self.challenged_signup()
        self.assertProblem(self.page.post("/v1/payment-updates/invoice-pdf", {"token": token, "invoice": other_inv["id"]}),
                           404, "invoice_not_found")
        self.assertProblem(self.page.post("/v1/payment-updates/invoice-pdf", {"token": "no-such-token",
                                                                              "invoice": inv["id"]}),
                           404, "payment_update_token_invalid")
        self.assertProblem(self.page_raw.post("/v1/payment-updates/invoice-pdf", {"token": token}), 422,
                           "validation_failed")

    def test_a_new_card_from_the_link_cancels_the_waiting_charge_then_pays(self):
        customer, sub, inv, pay = self.challenged_signup()
        token = self.token_mailed_to(customer, "Confirm your payment")
        r = self.page.post("/v1/payment-updates", {"token": token, "gateway": "sandbox", "payment_method": "pm_card_visa"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["retry"]["paid"], 1)
        payments = {p["id"]: p for p in self.payments(inv)}
        self.assertEqual(len(payments), 2)
        self.assertEqual((payments[pay["id"]]["status"], payments[pay["id"]]["gateway_failure_code"]),
                         ("failed", "canceled"))
        self.assertEqual(self.subscription(sub)["status"], "active")
        # The bank's page can no longer complete the first charge.
        r = self.page.post(f"/v1/sandbox/charges/{pay['gateway_reference']}/authenticate", {"result": "approve"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["status"], "failed")

    def test_bad_confirmations_are_problems_and_change_nothing(self):
        customer, sub, inv, pay = self.challenged_signup()
        token = self.token_mailed_to(customer, "Confirm your payment")
        self.assertProblem(self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": "no-such-token"}), 404,
                           "payment_update_token_invalid")
        doc = self.assertProblem(self.page_raw.post(f"/v1/payments/{pay['id']}/confirm", {}), 422,
                                 "validation_failed")
        self.assertFieldErrors(doc, {"token": "required"})
        # Another customer's link does not reach this payment.
        other, _, _, _ = self.challenged_signup()
        other_token = self.token_mailed_to(other, "Confirm your payment")
        self.assertProblem(self.page.post(f"/v1/payments/{pay['id']}/confirm", {"token": other_token}), 404,
                           "payment_not_found")
        doc = self.assertProblem(self.page_raw.post(
            f"/v1/sandbox/charges/{pay['gateway_reference']}/authenticate", {"result": "maybe"}), 422,
            "validation_failed")
        self.assertFieldErrors(doc, {"result": "invalid_value"})
        self.assertProblem(self.page.post("/v1/sandbox/charges/pi_sandbox_nope/authenticate", {"result": "approve"}),
                           404, "charge_not_found")
        self.assertEqual(self.payments(inv)[0]["status"], "requires_action")
        self.assertEqual(self.subscription(sub)["status"], "incomplete")

