"""Documents finance teams ask for, end to end through Prism: the shop's profile, invoice and
credit-note PDFs (read back with pdftotext), and the receipt e-mail carrying the invoice's
PDF (read from a real SMTP server, aiosmtpd).

Runs on its own test-mode server (billing_server.py) that sends e-mail, so invoices are
paid by the clock's billing run as in test_refunds.py.
"""
from __future__ import annotations

import subprocess
import tempfile

import billing_server
from billing_server import TestModeApi, TestModeCase, tearDownModule  # noqa: F401

UNKNOWN_INVOICE = "in_00000000000000000000000000"
UNKNOWN_CREDIT_NOTE = "cn_00000000000000000000000000"


def setUpModule():
    billing_server.setUpModule(mail=True)


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        return subprocess.run(["pdftotext", "-enc", "UTF-8", f.name, "-"], check=True, capture_output=True,
                              text=True).stdout


class DocumentsCase(TestModeCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.plan = cls.make.plan(amount=3000)

    def shop(self):
        r = self.api.get("/v1/settings/shop")
        self.assertStatus(r, 200)
        return r.json()

    def set_shop(self, **fields):
        r = self.api.patch("/v1/settings/shop", dict(fields, version=self.shop()["version"]))
        self.assertStatus(r, 200)
        return r.json()

    def pdf_bytes(self, path):
        """The PDF's bytes, read direct: Prism checks the status and headers of a PDF answer,
        but its proxy re-encodes a binary body as UTF-8 text, so the bytes come from the server."""
        r = self.raw.get(path)
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["Content-Type"], "application/pdf")
        self.assertTrue(r.content.startswith(b"%PDF-"))
        return r.content

    def paid_invoice(self, name="Zoë Ångström-Müller"):
        customer = self.make.customer(name=name)
        self.attach(customer, "pm_card_visa")
        sub = self.make.subscription(plan=self.plan, customer=customer)
        self.advance(self.now())  # the first charge is due at once
        [inv] = self.invoices(sub)
        inv = self.invoice(inv)
        self.assertEqual(inv["status"], "paid")
        return customer, sub, inv


class ShopSettingsTest(DocumentsCase):

    def test_profile_is_changed_with_its_version_and_bad_input_changes_nothing(self):
        shop = self.set_shop(name="Box Shop GmbH",
                             address={"line1": "Marktplatz 1", "city": "München", "postal_code": "80331",
                                      "country": "de"},
                             email="billing@boxshop.example", tax_id="DE123456789")
        self.assertEqual((shop["object"], shop["name"], shop["address"]["country"], shop["address"]["city"],
                          shop["email"], shop["tax_id"]),
                         ("shop_settings", "Box Shop GmbH", "DE", "München", "billing@boxshop.example", "DE123456789"))
        # Bad input, sent direct (Prism would refuse it itself): 422 naming each field, nothing changed.
        r = self.raw.patch("/v1/settings/shop", {"name": "", "email": "not-an-address",
                                                 "address": {"line1": "x", "city": "y", "postal_code": "1",
                                                             "country": "D1"},
                                                 "version": shop["version"]})
        doc = self.assertProblem(r, 422, "validation_failed")
        self.assertFieldErrors(doc, {"name": "invalid_length", "address.country": "invalid_country"})
        self.assertIn("email", {e["field"] for e in doc["errors"]})
        self.assertEqual(self.shop(), shop)
        # A stale version is a conflict, and nothing changes either.
        r = self.api.patch("/v1/settings/shop", {"name": "Other", "version": shop["version"] - 1})
        self.assertProblem(r, 409, "version_conflict")
        self.assertEqual(self.shop(), shop)
        # null clears what may be cleared.
        cleared = self.set_shop(tax_id=None)
        self.assertIsNone(cleared["tax_id"])
        self.assertEqual(cleared["name"], "Box Shop GmbH")
        self.set_shop(tax_id="DE123456789")

    def test_roles(self):
        # (Every operation's 401 and 403 are also checked by test_authorization.py.)
        self.assertStatus(TestModeApi("support").get("/v1/settings/shop"), 200)
        self.assertProblem(TestModeApi("analyst").patch("/v1/settings/shop", {"name": "x", "version": 1}), 403,
                           "permission_denied")


class InvoicePdfTest(DocumentsCase):

    def test_a_paid_invoice_as_pdf_names_the_shop_the_customer_and_every_figure(self):
        self.set_shop(name="Box Shop GmbH",
                      address={"line1": "Marktplatz 1", "city": "München", "postal_code": "80331", "country": "DE"})
        customer, sub, inv = self.paid_invoice()
        r = self.api.get(f"/v1/invoices/{inv['id']}/pdf")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["Content-Type"], "application/pdf")
        self.assertEqual(r.headers["Content-Disposition"], f'inline; filename="invoice-{inv["number"]}.pdf"')
        text = pdf_text(self.pdf_bytes(f"/v1/invoices/{inv['id']}/pdf"))
        for expected in ("Invoice", inv["number"], "Box Shop GmbH", "80331 München", "Zoë Ångström-Müller",
                         customer["email"], "30.00 USD", "Subtotal", "Tax", "Total", "Amount paid", "Amount due",
                         "0.00 USD", "Paid", inv["created"][:10]):
            self.assertIn(expected, text)
        # Read permission is enough (analyst has billing:read only).
        self.assertStatus(TestModeApi("analyst").get(f"/v1/invoices/{inv['id']}/pdf"), 200)

    def test_unknown_ids_are_problems(self):
        self.assertProblem(self.api.get(f"/v1/invoices/{UNKNOWN_INVOICE}/pdf"), 404, "invoice_not_found")
        self.assertProblem(self.api.get(f"/v1/credit-notes/{UNKNOWN_CREDIT_NOTE}/pdf"), 404, "credit_note_not_found")

    def test_a_credit_note_as_pdf(self):
        customer, sub, inv = self.paid_invoice(name="Ørjan Łukasz")
        r = self.api.post("/v1/refunds", {"invoice": inv["id"], "amount": 1250, "reason": "requested_by_customer"})
        self.assertStatus(r, 201)
        note_id = r.json()["credit_note"]
        note = self.api.get(f"/v1/credit-notes/{note_id}").json()
        r = self.api.get(f"/v1/credit-notes/{note_id}/pdf")
        self.assertStatus(r, 200)
        self.assertEqual(r.headers["Content-Type"], "application/pdf")
        self.assertEqual(r.headers["Content-Disposition"], f'inline; filename="credit-note-{note["number"]}.pdf"')
        text = pdf_text(self.pdf_bytes(f"/v1/credit-notes/{note_id}/pdf"))
        for expected in ("Credit note", note["number"], inv["number"], "Ørjan Łukasz", "-12.50 USD", "12.50 USD",
                         "30.00 USD", "Refund to the original payment method"):
            self.assertIn(expected, text)


class ReceiptAttachmentTest(DocumentsCase):

    def test_the_receipt_email_carries_the_invoice_pdf(self):
        customer, sub, inv = self.paid_invoice(name="Søren Kierkegård")
        mails = [m for m in billing_server.SERVER.messages()
                 if m["To"] == customer["email"] and "receipt" in m["Subject"].lower()]
        self.assertEqual(len(mails), 1, [m["Subject"] for m in billing_server.SERVER.messages()])
        mail = mails[0]
        self.assertEqual(mail.get_content_type(), "multipart/mixed")
        self.assertIn("Thank you for your payment", mail.get_body(("plain",)).get_content())
        [pdf] = list(mail.iter_attachments())
        self.assertEqual(pdf.get_content_type(), "application/pdf")
        self.assertEqual(pdf.get_filename(), f"invoice-{inv['number']}.pdf")
        text = pdf_text(pdf.get_content())
        for expected in (inv["number"], "Søren Kierkegård", "30.00 USD", "Amount paid"):
            self.assertIn(expected, text)
        # The delivery record names the file, never holds its bytes.
        r = self.api.get("/v1/notifications", params={"resource": inv["id"], "template": "receipt"})
        self.assertStatus(r, 200)
        [record] = r.json()["data"]
        self.assertEqual(record["status"], "sent")
        self.assertEqual(record["attachments"], [{"kind": "invoice_pdf", "id": inv["id"]}])
