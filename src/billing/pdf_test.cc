// Invoice PDFs drawn with libharu, read back with pdftotext (poppler-utils): the text a
// finance team sees, accents included, and a long invoice running onto more pages.
#include "billing/pdf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <filesystem>

namespace recur::billing {
namespace {

// pdftotext's reading of `pdf` (UTF-8), or a failure naming why.
std::string pdf_text(const std::string& pdf) {
  auto dir = std::filesystem::temp_directory_path() / ("recur_pdf_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / "doc.pdf";
  std::ofstream(path, std::ios::binary) << pdf;
  std::string cmd = "pdftotext -enc UTF-8 '" + path.string() + "' - 2>/dev/null";
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  std::size_t n;
  while (pipe && (n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  std::filesystem::remove_all(dir);
  return out;
}

InvoiceDocument sample() {
  InvoiceDocument d;
  d.title = "Invoice";
  d.filename = "invoice-INV-000042.pdf";
  d.facts = {{"Invoice number", "INV-000042"}, {"Date of issue", "2026-01-01"}, {"Status", "Paid"}};
  d.seller = {"Box Shop GmbH", {"Marktplatz 1", "80331 München", "DE"}};
  d.bill_to = {"Zoë Ångström", {"Hauptstraße 5", "50667 Köln"}};
  d.rows = {{"Crème brûlée box", "2026-01-01 – 2026-01-31", "1", "25.00 EUR"},
            {"Ωμέγα Привет", "", "2", "8.00 EUR"}};
  d.totals = {{"Subtotal", "33.00 EUR"}, {"Tax", "5.64 EUR"}, {"Total", "38.64 EUR", true},
              {"Amount paid", "38.64 EUR"}, {"Amount due", "0.00 EUR", true}};
  d.notes = {"Thank you."};
  return d;
}

TEST(InvoicePdf, PdftotextReadsEveryFigureAndTheAccents) {
  auto pdf = render_pdf(sample(), PdfFonts{});
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  ASSERT_TRUE(pdf->starts_with("%PDF-"));
  std::string text = pdf_text(*pdf);
  for (const char* expected :
       {"Invoice", "INV-000042", "2026-01-01", "Box Shop GmbH", "80331 München", "Zoë Ångström", "Hauptstraße 5",
        "Crème brûlée box", "Ωμέγα Привет", "25.00 EUR", "33.00 EUR", "5.64 EUR", "38.64 EUR", "Amount due",
        "0.00 EUR", "Thank you."})
    EXPECT_NE(text.find(expected), std::string::npos) << "missing " << expected << " in:\n" << text;
}

TEST(InvoicePdf, ALongInvoiceRunsOntoMorePagesAndWrapsLongLines) {
  InvoiceDocument d = sample();
  d.rows.clear();
  for (int i = 0; i < 80; ++i) d.rows.push_back({"Item " + std::to_string(i), "", "1", "1.00 EUR"});
  d.rows.push_back({std::string(300, 'x'), "", "1", "2.00 EUR"});
  auto pdf = render_pdf(d, PdfFonts{});
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  std::string text = pdf_text(*pdf);
  EXPECT_NE(text.find("Item 0"), std::string::npos);
  EXPECT_NE(text.find("Item 79"), std::string::npos);
  EXPECT_NE(text.find("Amount due"), std::string::npos);
  EXPECT_NE(text.find('\f'), std::string::npos);  // pdftotext ends each page with a form feed
  EXPECT_EQ(text.find(std::string(300, 'x')), std::string::npos);  // wrapped, not one line
}

TEST(InvoicePdf, AMissingFontIsAnErrorNotACrash) {
  PdfFonts fonts;
  fonts.regular = "/nonexistent/font.ttf";
  auto pdf = render_pdf(sample(), fonts);
  ASSERT_FALSE(pdf.ok());
  EXPECT_EQ(pdf.error().code, "pdf_render_failed");
}

}  // namespace
}  // namespace recur::billing
