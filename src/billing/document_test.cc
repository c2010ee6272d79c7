// The document model of invoice and credit-note PDFs: what each record puts on the page.
#include "billing/document.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "platform/time.h"

namespace recur::billing {
namespace {

Timestamp at(const char* text) { return *parse_rfc3339(text); }

Invoice sample_invoice() {
  Invoice inv;
  inv.id = "in_1";
  inv.number = "INV-000042";
  inv.subscription = "sub_1";
  inv.customer = "cus_1";
  inv.status = InvoiceStatus::kPaid;
  inv.period = {at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z")};
  inv.currency = "eur";
  inv.lines = {{"Crème brûlée box", 2500, 1, inv.period, false},
               {"Upgrade to Large", 800, 1, {at("2026-01-15T00:00:00Z"), at("2026-02-01T00:00:00Z")}, true}};
  inv.subtotal = 3300;
  inv.discount = 330;
  inv.discount_source = subscriptions::DiscountSource{"coupon", "WELCOME10"};
  inv.tax = 564;
  inv.total = 3534;
  inv.amount_paid = 3534;
  inv.created = at("2026-01-01T00:00:05Z");
  inv.paid_at = at("2026-01-02T09:00:00Z");
  return inv;
}

customers::Customer sample_customer() {
  customers::Customer c;
  c.id = "cus_1";
  c.name = "Zoë Ångström";
  c.email = "zoe@example.com";
  c.shipping_address = customers::Address{"Hauptstraße 5", std::nullopt, "Köln", "50667", std::nullopt, "DE"};
  return c;
}

std::string fact(const InvoiceDocument& d, const std::string& label) {
  for (const auto& [l, v] : d.facts)
    if (l == label) return v;
  return "<none>";
}

std::string total(const InvoiceDocument& d, const std::string& label) {
  for (const auto& t : d.totals)
    if (t.label == label) return t.value;
  return "<none>";
}

TEST(InvoiceDocument, PaidInvoiceShowsEveryFigureWithTheCurrencysExponent) {
  ShopProfile shop;
  shop.name = "Box Shop GmbH";
  shop.address = customers::Address{"Marktplatz 1", std::string("2. OG"), "München", "80331", std::nullopt, "DE"};
  shop.tax_id = "DE123456789";
  auto d = invoice_document(sample_invoice(), shop, sample_customer());
  EXPECT_EQ(d.title, "Invoice");
  EXPECT_EQ(d.filename, "invoice-INV-000042.pdf");
  EXPECT_EQ(d.seller.name, "Box Shop GmbH");
  EXPECT_EQ(d.seller.lines,
            (std::vector<std::string>{"Marktplatz 1", "2. OG", "80331 München", "DE", "Tax ID: DE123456789"}));
  EXPECT_EQ(d.bill_to.name, "Zoë Ångström");
  EXPECT_EQ(d.bill_to.lines, (std::vector<std::string>{"Hauptstraße 5", "50667 Köln", "DE", "zoe@example.com"}));
  EXPECT_EQ(fact(d, "Invoice number"), "INV-000042");
  EXPECT_EQ(fact(d, "Date of issue"), "2026-01-01");
  EXPECT_EQ(fact(d, "Billing period"), "2026-01-01 – 2026-01-31");
  EXPECT_EQ(fact(d, "Date paid"), "2026-01-02");
  EXPECT_EQ(fact(d, "Date due"), "<none>");  // paid: nothing is due
  EXPECT_EQ(fact(d, "Status"), "Paid");
  ASSERT_EQ(d.rows.size(), 2u);
  EXPECT_EQ(d.rows[0].description, "Crème brûlée box");
  EXPECT_EQ(d.rows[0].amount, "25.00 EUR");
  EXPECT_EQ(d.rows[0].detail, "2026-01-01 – 2026-01-31");
  EXPECT_EQ(d.rows[1].detail, "2026-01-15 – 2026-01-31 (proration)");
  EXPECT_EQ(total(d, "Subtotal"), "33.00 EUR");
  EXPECT_EQ(total(d, "Discount (coupon WELCOME10)"), "-3.30 EUR");
  EXPECT_EQ(total(d, "Tax"), "5.64 EUR");
  EXPECT_EQ(total(d, "Total"), "35.34 EUR");
  EXPECT_EQ(total(d, "Amount paid"), "35.34 EUR");
  EXPECT_EQ(total(d, "Amount due"), "0.00 EUR");
  EXPECT_EQ(total(d, "Amount refunded"), "<none>");
}

TEST(InvoiceDocument, TableOfStatusesAndCurrencies) {
  struct Case {
    InvoiceStatus status;
    std::string currency;
    std::int64_t total, paid, refunded;
    std::string amount_due, status_text, total_text, due_fact;
    bool has_refunded;
  };
  const Case cases[] = {
      {InvoiceStatus::kOpen, "usd", 2999, 0, 0, "29.99 USD", "Open", "29.99 USD", "2026-01-01", false},
      {InvoiceStatus::kOpen, "jpy", 1500, 0, 0, "1500 JPY", "Open", "1500 JPY", "2026-01-01", false},
      {InvoiceStatus::kOpen, "kwd", 12345, 0, 0, "12.345 KWD", "Open", "12.345 KWD", "2026-01-01", false},
      {InvoiceStatus::kPaid, "usd", 2999, 2999, 1000, "0.00 USD", "Paid", "29.99 USD", "<none>", true},
      {InvoiceStatus::kVoid, "eur", 2999, 0, 0, "0.00 EUR", "Void", "29.99 EUR", "<none>", false},
      {InvoiceStatus::kUncollectible, "eur", 500, 0, 0, "0.00 EUR", "Uncollectible", "5.00 EUR", "<none>", false},
  };
  for (const auto& c : cases) {
    Invoice inv = sample_invoice();
    inv.status = c.status;
    inv.currency = c.currency;
    inv.total = c.total;
    inv.amount_paid = c.paid;
    inv.amount_refunded = c.refunded;
    if (c.status != InvoiceStatus::kPaid) inv.paid_at.reset();
    auto d = invoice_document(inv, ShopProfile{}, sample_customer());
    SCOPED_TRACE(c.status_text + " " + c.currency);
    EXPECT_EQ(total(d, "Amount due"), c.amount_due);
    EXPECT_EQ(total(d, "Total"), c.total_text);
    EXPECT_EQ(fact(d, "Status"), c.status_text);
    EXPECT_EQ(fact(d, "Date due"), c.due_fact);
    EXPECT_EQ(total(d, "Amount refunded") != "<none>", c.has_refunded);
    EXPECT_EQ(d.seller.name, "Recur");  // no shop profile set
    EXPECT_TRUE(d.seller.lines.empty());
  }
}

TEST(InvoiceDocument, NoDiscountRowWithoutADiscountAndNoPeriodWithoutOne) {
  Invoice inv = sample_invoice();
  inv.discount = 0;
  inv.discount_source.reset();
  inv.period = {0, 0};
  inv.subscription.clear();
  inv.lines = {{"Gift card", 5000, 2, {0, 0}, false}};
  auto d = invoice_document(inv, ShopProfile{}, sample_customer());
  EXPECT_EQ(fact(d, "Billing period"), "<none>");
  EXPECT_EQ(fact(d, "Subscription"), "<none>");
  EXPECT_TRUE(std::none_of(d.totals.begin(), d.totals.end(),
                           [](const DocumentTotal& t) { return t.label.starts_with("Discount"); }));
  ASSERT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.rows[0].quantity, "2");
  EXPECT_EQ(d.rows[0].detail, "");
}

TEST(InvoiceDocument, ErasedOrMissingCustomerIsNamedByIdOnly) {
  customers::Customer erased = sample_customer();
  erased.erased_at = 1;
  for (const auto& customer : {std::optional<customers::Customer>(erased), std::optional<customers::Customer>()}) {
    auto d = invoice_document(sample_invoice(), ShopProfile{}, customer);
    EXPECT_EQ(d.bill_to.name, "Customer cus_1");
    EXPECT_TRUE(d.bill_to.lines.empty());
  }
}

TEST(InvoiceDocument, DraftAndOddNumbersMakeSafeFileNames) {
  struct Case {
    std::string number, id, filename, number_fact;
  };
  const Case cases[] = {
      {"", "in_9", "invoice-in_9.pdf", "draft"},
      {"INV-000001", "in_9", "invoice-INV-000001.pdf", "INV-000001"},
      {"INV/2026\"x\"", "in_9", "invoice-INV2026x.pdf", "INV/2026\"x\""},
  };
  for (const auto& c : cases) {
    Invoice inv = sample_invoice();
    inv.number = c.number;
    inv.id = c.id;
    auto d = invoice_document(inv, ShopProfile{}, std::nullopt);
    EXPECT_EQ(d.filename, c.filename);
    EXPECT_EQ(fact(d, "Invoice number"), c.number_fact);
  }
}

TEST(CreditNoteDocument, RefundAndCreditNotes) {
  Invoice inv = sample_invoice();
  CreditNote note;
  note.id = "cn_1";
  note.number = "CN-000007";
  note.invoice = inv.id;
  note.customer = "cus_1";
  note.amount = 1000;
  note.currency = "eur";
  note.reason = "requested_by_customer";
  note.type = "refund";
  note.memo = "Box arrived damaged";
  note.created = at("2026-01-10T12:00:00Z");
  auto d = credit_note_document(note, inv, ShopProfile{}, sample_customer());
  EXPECT_EQ(d.title, "Credit note");
  EXPECT_EQ(d.filename, "credit-note-CN-000007.pdf");
  EXPECT_EQ(fact(d, "Credit note number"), "CN-000007");
  EXPECT_EQ(fact(d, "Invoice"), "INV-000042");
  EXPECT_EQ(fact(d, "Date of issue"), "2026-01-10");
  EXPECT_EQ(fact(d, "Type"), "Refund to the original payment method");
  ASSERT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.rows[0].amount, "-10.00 EUR");
  EXPECT_EQ(total(d, "Invoice total"), "35.34 EUR");
  EXPECT_EQ(total(d, "Total credit"), "10.00 EUR");
  EXPECT_EQ(d.notes, (std::vector<std::string>{"Box arrived damaged"}));
  note.type = "credit";
  note.memo.clear();
  d = credit_note_document(note, inv, ShopProfile{}, sample_customer());
  EXPECT_EQ(fact(d, "Type"), "Credit to the next invoice");
  EXPECT_TRUE(d.notes.empty());
}

TEST(ShopProfile, RoundTripsThroughItsDocument) {
  ShopProfile shop;
  shop.name = "Kaffeeröster Müller";
  shop.address = customers::Address{"Weg 2", std::nullopt, "Wien", "1010", std::string("W"), "AT"};
  shop.email = "billing@example.com";
  shop.tax_id = "ATU12345678";
  shop.version = 3;
  shop.updated = at("2026-01-01T00:00:00Z");
  ShopProfile back = shop_from_doc(to_json(shop));
  EXPECT_EQ(back.name, shop.name);
  ASSERT_TRUE(back.address);
  EXPECT_EQ(address_lines(*back.address), (std::vector<std::string>{"Weg 2", "1010 Wien", "W", "AT"}));
  EXPECT_EQ(back.email, shop.email);
  EXPECT_EQ(back.tax_id, shop.tax_id);
  EXPECT_EQ(back.version, 3);
  EXPECT_EQ(back.updated, shop.updated);
  EXPECT_EQ(shop_from_doc(Json::object()).name, "Recur");
}

// The hosted invoice page draws the JSON form: the same text as the PDF, in order.
TEST(InvoiceDocument, JsonKeepsTheTextAndOrderOfThePdf) {
  auto d = invoice_document(sample_invoice(), ShopProfile{}, sample_customer());
  Json j = to_json(d);
  EXPECT_EQ(j["title"], "Invoice");
  ASSERT_EQ(j["facts"].size(), d.facts.size());
  for (std::size_t i = 0; i < d.facts.size(); ++i) {
    EXPECT_EQ(j["facts"][i]["label"], d.facts[i].first);
    EXPECT_EQ(j["facts"][i]["value"], d.facts[i].second);
  }
  EXPECT_EQ(j["bill_to"]["name"], "Zoë Ångström");
  EXPECT_EQ(j["bill_to"]["lines"].size(), d.bill_to.lines.size());
  ASSERT_EQ(j["rows"].size(), d.rows.size());
  EXPECT_EQ(j["rows"][0]["amount"], d.rows[0].amount);
  EXPECT_EQ(j["rows"][0]["detail"], d.rows[0].detail);
  ASSERT_EQ(j["totals"].size(), d.totals.size());
  EXPECT_EQ(j["totals"].back()["label"], "Amount due");
  EXPECT_EQ(j["totals"].back()["strong"], true);
  EXPECT_EQ(j["totals"][0]["strong"], false);
  EXPECT_TRUE(j["notes"].is_array());
}

}  // namespace
}  // namespace recur::billing
