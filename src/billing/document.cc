// The document model of invoice and credit-note PDFs. Pure.
#include "billing/document.h"

#include "platform/money.h"
#include "platform/time.h"

namespace recur::billing {
namespace {

Json party_json(const DocumentParty& p) { return Json{{"name", p.name}, {"lines", p.lines}}; }

bool has_period(const Period& p) { return p.end > p.start; }

std::string period_text(const Period& p) {
  // The end is exclusive: the last day billed is the day before it.
  return document_date(p.start) + " – " + document_date(p.end - 1);
}

// A file name that needs no quoting in Content-Disposition or a mail part header.
std::string safe_file_part(std::string_view s) {
  std::string out;
  for (char c : s)
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
      out += c;
  return out;
}

std::string status_text(InvoiceStatus s) {
  switch (s) {
    case InvoiceStatus::kDraft: return "Draft";
    case InvoiceStatus::kOpen: return "Open";
    case InvoiceStatus::kPaid: return "Paid";
    case InvoiceStatus::kVoid: return "Void";
    case InvoiceStatus::kUncollectible: return "Uncollectible";
  }
  return "Unknown";
}

std::string discount_label(const Invoice& inv) {
  if (!inv.discount_source) return "Discount";
  const auto& s = *inv.discount_source;
  std::string kind = s.type == "promotion_code" ? "promotion code" : s.type == "retention_offer" ? "retention offer"
                                                                                                  : s.type;
  return "Discount (" + kind + " " + s.id + ")";
}

DocumentParty seller_party(const ShopProfile& shop) {
  DocumentParty p{shop.name.empty() ? std::string("Recur") : shop.name, {}};
  if (shop.address) p.lines = address_lines(*shop.address);
  if (!shop.email.empty()) p.lines.push_back(shop.email);
  if (!shop.tax_id.empty()) p.lines.push_back("Tax ID: " + shop.tax_id);
  return p;
}

std::string file_name(std::string_view kind, const std::string& number, const std::string& id) {
  std::string part = safe_file_part(number.empty() ? id : number);
  return std::string(kind) + "-" + (part.empty() ? std::string("document") : part) + ".pdf";
}

}  // namespace

Json to_json(const ShopProfile& s) {
  return {{"object", "shop_settings"},
          {"name", s.name},
          {"address", s.address ? customers::to_json(*s.address) : Json(nullptr)},
          {"email", text_or_null(s.email)},
          {"tax_id", text_or_null(s.tax_id)},
          {"version", s.version},
          {"updated", format_rfc3339(s.updated)}};
}

ShopProfile shop_from_doc(const Json& d) {
  ShopProfile s;
  s.name = d.value("name", std::string("Recur"));
  if (d.contains("address") && d["address"].is_object()) s.address = customers::address_from_json(d["address"]);
  if (d.contains("email") && d["email"].is_string()) s.email = d["email"].get<std::string>();
  if (d.contains("tax_id") && d["tax_id"].is_string()) s.tax_id = d["tax_id"].get<std::string>();
  s.version = d.value("version", std::int64_t{1});
  if (d.contains("updated") && d["updated"].is_string()) {
    if (auto t = parse_rfc3339(d["updated"].get<std::string>())) s.updated = *t;
  }
  return s;
}

Json to_json(const InvoiceDocument& d) {
  Json facts = Json::array();
  for (const auto& [label, value] : d.facts) facts.push_back({{"label", label}, {"value", value}});
  Json rows = Json::array();
  for (const auto& r : d.rows)
    rows.push_back(
        {{"description", r.description}, {"detail", r.detail}, {"quantity", r.quantity}, {"amount", r.amount}});
  Json totals = Json::array();
  for (const auto& t : d.totals) totals.push_back({{"label", t.label}, {"value", t.value}, {"strong", t.strong}});
  return Json{{"title", d.title},
              {"facts", std::move(facts)},
              {"seller", party_json(d.seller)},
              {"bill_to", party_json(d.bill_to)},
              {"rows", std::move(rows)},
              {"totals", std::move(totals)},
              {"notes", d.notes}};
}

std::vector<std::string> address_lines(const customers::Address& a) {
  std::vector<std::string> out;
  if (!a.line1.empty()) out.push_back(a.line1);
  if (a.line2 && !a.line2->empty()) out.push_back(*a.line2);
  std::string city = a.postal_code;
  if (!a.city.empty()) city += (city.empty() ? "" : " ") + a.city;
  if (!city.empty()) out.push_back(city);
  if (a.state && !a.state->empty()) out.push_back(*a.state);
  if (!a.country.empty()) out.push_back(a.country);
  return out;
}

DocumentParty bill_to_party(const std::string& customer_id, const std::optional<customers::Customer>& customer) {
  if (!customer || customer->erased_at) return {"Customer " + customer_id, {}};
  DocumentParty p{customer->name.empty() ? customer->email : customer->name, {}};
  if (customer->shipping_address) p.lines = address_lines(*customer->shipping_address);
  if (!customer->name.empty() && !customer->email.empty()) p.lines.push_back(customer->email);
  return p;
}

std::string document_money(std::int64_t amount, const std::string& currency) { return format_amount(amount, currency); }

std::string document_date(Timestamp t) { return format_rfc3339(t).substr(0, 10); }

InvoiceDocument invoice_document(const Invoice& inv, const ShopProfile& shop,
                                 const std::optional<customers::Customer>& customer) {
  InvoiceDocument d;
  d.title = "Invoice";
  d.filename = file_name("invoice", inv.number, inv.id);
  d.seller = seller_party(shop);
  d.bill_to = bill_to_party(inv.customer, customer);
  d.facts.emplace_back("Invoice number", inv.number.empty() ? std::string("draft") : inv.number);
  d.facts.emplace_back("Date of issue", document_date(inv.created));
  if (has_period(inv.period)) d.facts.emplace_back("Billing period", period_text(inv.period));
  if (inv.status == InvoiceStatus::kOpen || inv.status == InvoiceStatus::kDraft)
    // A sent invoice is due when it says; the others are due when issued (charged then).
    d.facts.emplace_back("Date due", document_date(inv.due_date.value_or(inv.created)));
  if (inv.paid_at) d.facts.emplace_back("Date paid", document_date(*inv.paid_at));
  d.facts.emplace_back("Status", status_text(inv.status));
  if (!inv.subscription.empty()) d.facts.emplace_back("Subscription", inv.subscription);

  const std::string& cur = inv.currency;
  for (const auto& l : inv.lines) {
    DocumentRow row{l.description, "", std::to_string(l.quantity), document_money(l.amount, cur)};
    if (has_period(l.period)) row.detail = period_text(l.period);
    if (l.proration) row.detail += row.detail.empty() ? "proration" : " (proration)";
    d.rows.push_back(std::move(row));
  }
  d.totals.push_back({"Subtotal", document_money(inv.subtotal, cur)});
  if (inv.discount != 0) d.totals.push_back({discount_label(inv), document_money(-inv.discount, cur)});
  d.totals.push_back({"Tax", document_money(inv.tax, cur)});
  d.totals.push_back({"Total", document_money(inv.total, cur), true});
  d.totals.push_back({"Amount paid", document_money(inv.amount_paid, cur)});
  if (inv.amount_refunded) d.totals.push_back({"Amount refunded", document_money(inv.amount_refunded, cur)});
  if (inv.amount_credited) d.totals.push_back({"Amount credited", document_money(inv.amount_credited, cur)});
  d.totals.push_back({"Amount due", document_money(amount_due(inv), cur), true});
  if (inv.status == InvoiceStatus::kVoid) d.notes.push_back("This invoice was voided: nothing is owed.");
  if (inv.status == InvoiceStatus::kUncollectible) d.notes.push_back("This invoice was marked uncollectible.");
  return d;
}

InvoiceDocument credit_note_document(const CreditNote& note, const Invoice& inv, const ShopProfile& shop,
                                     const std::optional<customers::Customer>& customer) {
  InvoiceDocument d;
  d.title = "Credit note";
  d.filename = file_name("credit-note", note.number, note.id);
  d.seller = seller_party(shop);
  d.bill_to = bill_to_party(note.customer, customer);
  d.facts.emplace_back("Credit note number", note.number);
  d.facts.emplace_back("Date of issue", document_date(note.created));
  d.facts.emplace_back("Invoice", inv.number.empty() ? inv.id : inv.number);
  d.facts.emplace_back("Invoice date", document_date(inv.created));
  d.facts.emplace_back("Type", note.type == "refund" ? "Refund to the original payment method"
                                                     : "Credit to the next invoice");
  if (!note.reason.empty()) d.facts.emplace_back("Reason", note.reason);
  const std::string& cur = note.currency;
  d.rows.push_back({"Credit for invoice " + (inv.number.empty() ? inv.id : inv.number), "", "1",
                    document_money(-note.amount, cur)});
  d.totals.push_back({"Invoice total", document_money(inv.total, cur)});
  d.totals.push_back({"Credited by this note", document_money(-note.amount, cur)});
  d.totals.push_back({"Total credit", document_money(note.amount, cur), true});
  if (!note.memo.empty()) d.notes.push_back(note.memo);
  return d;
}

}  // namespace recur::billing
