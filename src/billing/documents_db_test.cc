// Invoice and credit-note PDFs against a real database (SQLite or PostgreSQL per
// RECUR_TEST_ENGINE): the records, the shop's profile and the customer read together, drawn,
// and read back with pdftotext; the receipt of a paid invoice carries its PDF.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "testing/fixtures.h"
#include "testing/local_servers.h"

namespace recur::billing {
namespace {
using testing::at;

std::string pdf_text(const std::string& pdf) {
  auto dir = testing::fresh_temp_dir("pdf");
  std::ofstream(dir / "doc.pdf", std::ios::binary) << pdf;
  std::string cmd = "pdftotext -enc UTF-8 '" + (dir / "doc.pdf").string() + "' - 2>/dev/null";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  for (std::size_t n; pipe && (n = fread(buf, 1, sizeof buf, pipe.get())) > 0;) out.append(buf, n);
  std::filesystem::remove_all(dir);
  return out;
}

class DocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override { t = testing::make_app(at("2026-01-31T10:00:00Z")); }
  Billing& billing() { return t.app->billing(); }

  Invoice paid_invoice() {
    auto plan = testing::make_plan(t, 2999, Interval::kMonth);
    auto customer = testing::make_customer(t, "zoe@example.com");
    auto renamed = t.app->customers().update(customer.id, {.name = std::string("Zoë Ångström")}, customer.version, t.actor);
    EXPECT_TRUE(renamed.ok()) << (renamed.ok() ? "" : renamed.error().message);
    auto pm = t.app->customers().attach_payment_method(customer.id, {std::string("sandbox"), "pm_card_visa", false},
                                                       t.actor);
    EXPECT_TRUE(pm.ok());
    auto sub = testing::subscribe(t, customer.id, plan.id);
    auto run = billing().runs.run("test");
    EXPECT_TRUE(run.ok());
    auto page = billing().service.list_invoices({sub.id, std::nullopt, std::nullopt, {}, {.limit = 10}});
    EXPECT_TRUE(page.ok() && page->items.size() == 1u);
    Invoice inv = page->items.at(0);
    EXPECT_EQ(inv.status, InvoiceStatus::kPaid);
    return inv;
  }

  testing::TestApp t;
};

TEST_F(DocumentsTest, InvoicePdfShowsTheShopsProfileTheCustomerAndTheFigures) {
  ShopPatch patch;
  patch.name = "Box Shop GmbH";
  patch.address = customers::Address{"Marktplatz 1", std::nullopt, "München", "80331", std::nullopt, "DE"};
  patch.tax_id = "DE123456789";
  auto shop = billing().service.update_shop(patch, 1, t.actor);
  ASSERT_TRUE(shop.ok()) << shop.error().message;
  EXPECT_EQ(shop->version, 2);
  EXPECT_EQ(billing().service.update_shop(patch, 1, t.actor).error().code, "version_conflict");

  Invoice inv = paid_invoice();
  auto pdf = billing().documents.invoice_pdf(inv.id);
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  EXPECT_EQ(pdf->filename, "invoice-" + inv.number + ".pdf");
  std::string text = pdf_text(pdf->bytes);
  for (const std::string& expected : {std::string("Box Shop GmbH"), std::string("80331 München"),
                                      std::string("Tax ID: DE123456789"), std::string("Zoë Ångström"), inv.number,
                                      std::string("29.99 USD"), std::string("Amount due"), std::string("Paid")})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << " not in\n" << text;
  EXPECT_EQ(billing().documents.invoice_pdf("in_nope").error().code, "invoice_not_found");
  EXPECT_EQ(billing().documents.credit_note_pdf("cn_nope").error().code, "credit_note_not_found");
}

TEST_F(DocumentsTest, CreditNotePdfNamesTheInvoiceItReduces) {
  Invoice inv = paid_invoice();
  auto refund = billing().refunds.refund({inv.id, 1000, "requested_by_customer", {}, {}}, t.actor);
  ASSERT_TRUE(refund.ok()) << refund.error().message;
  ASSERT_FALSE(refund->credit_note.empty());
  auto note = billing().service.get_credit_note(refund->credit_note);
  auto pdf = billing().documents.credit_note_pdf(refund->credit_note);
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  std::string text = pdf_text(pdf->bytes);
  for (const std::string& expected : {std::string("Credit note"), note->number, inv.number, std::string("-10.00 USD"),
                                      std::string("Zoë Ångström")})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << " not in\n" << text;
}

TEST_F(DocumentsTest, TheReceiptOfAPaidInvoiceCarriesItsPdfMadeWhenSent) {
  Invoice inv = paid_invoice();
  auto page = t.app->notifications().list({.template_name = std::string("receipt"), .resource = inv.id,
                                           .page = {.limit = 10}});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  const auto& receipt = page->items[0];
  ASSERT_EQ(receipt.attachments, (std::vector<notify::AttachmentRef>{{"invoice_pdf", inv.id}}));
  auto file = billing().documents.attachment(receipt.attachments[0]);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->content_type, "application/pdf");
  EXPECT_EQ(file->filename, "invoice-" + inv.number + ".pdf");
  EXPECT_NE(pdf_text(file->bytes).find(inv.number), std::string::npos);
  // The failed-payment message carries nothing (only receipts do).
  auto failed = t.app->notifications().list({.template_name = std::string("payment_failed"), .page = {.limit = 10}});
  ASSERT_TRUE(failed.ok());
  for (const auto& n : failed->items) EXPECT_TRUE(n.attachments.empty());
}

}  // namespace
}  // namespace recur::billing
