// What an invoice or credit-note PDF shows, computed purely from the records (the document
// model), apart from its drawing (billing/pdf.h). Table-tested in document_test.cc.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "billing/model.h"
#include "customers/model.h"
#include "platform/json.h"
#include "platform/result.h"

namespace recur::billing {

// Who issues the documents: the shop's name and address (setting "shop", GET/PATCH
// /v1/settings/shop). Until it is set, documents say "Recur" and show no address.
struct ShopProfile {
  std::string name = "Recur";
  std::optional<customers::Address> address;
  std::string email;   // shown under the address when set
  std::string tax_id;  // the shop's VAT or tax number, shown when set
  std::int64_t version = 1;
  Timestamp updated = 0;
};

Json to_json(const ShopProfile& shop);
ShopProfile shop_from_doc(const Json& doc);

// The address as printed lines: line1, line2, "postal_code city", state, country.
std::vector<std::string> address_lines(const customers::Address& address);

// A block of text at the top: a heading (a name) and lines under it.
struct DocumentParty {
  std::string name;
  std::vector<std::string> lines;
};

// One row of the lines table: text as printed.
struct DocumentRow {
  std::string description;
  std::string detail;  // "2026-01-01 – 2026-02-01", "proration" ... (may be empty)
  std::string quantity;
  std::string amount;
};

struct DocumentTotal {
  std::string label;
  std::string value;
  bool strong = false;  // drawn in bold weight (the total, the amount due)
};

struct InvoiceDocument {
  std::string title;     // "Invoice" | "Credit note"
  std::string filename;  // "invoice-INV-000001.pdf": [A-Za-z0-9._-] only
  std::vector<std::pair<std::string, std::string>> facts;  // label, value: number, dates, status
  DocumentParty seller;
  DocumentParty bill_to;
  std::vector<DocumentRow> rows;
  std::vector<DocumentTotal> totals;
  std::vector<std::string> notes;  // under the totals
};
// The document as the hosted invoice page draws it (the same text as the PDF): title, facts
// as [{label, value}], seller and bill_to as {name, lines}, rows, totals and notes.
Json to_json(const InvoiceDocument& document);

// The customer as the document names them. An erased customer (none, or erased_at set) is
// shown by id only: their personal data stays gone.
DocumentParty bill_to_party(const std::string& customer_id, const std::optional<customers::Customer>& customer);

// "29.99 USD", with the currency's exponent (platform/money.h).
std::string document_money(std::int64_t amount, const std::string& currency);
// "2026-01-05" (UTC).
std::string document_date(Timestamp t);

// An invoice: facts (number, issued, period when it has one, due, status), the lines
// (quantity and period of each, prorations marked), subtotal, discount, tax, total, paid,
// refunded and credited when any, amount due. A draft has no number yet ("draft").
InvoiceDocument invoice_document(const Invoice& invoice, const ShopProfile& shop,
                                 const std::optional<customers::Customer>& customer);
// A credit note: facts (number, issued, the invoice it reduces, type, reason), one line
// for the amount, the invoice's total, the amount of the note, memo.
InvoiceDocument credit_note_document(const CreditNote& note, const Invoice& invoice, const ShopProfile& shop,
                                     const std::optional<customers::Customer>& customer);

}  // namespace recur::billing
