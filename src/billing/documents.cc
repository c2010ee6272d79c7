// Invoice and credit-note PDFs.
#include "billing/documents.h"

#include "billing/store.h"
#include "customers/store.h"
#include "platform/ids.h"

namespace recur::billing {
namespace {

Result<RenderedPdf> draw(const InvoiceDocument& document, const PdfFonts& fonts) {
  RECUR_ASSIGN(std::string bytes, render_pdf(document, fonts));
  return RenderedPdf{document.filename, std::move(bytes)};
}

}  // namespace

Result<RenderedPdf> Documents::invoice_pdf(const std::string& id) {
  RECUR_ASSIGN(InvoiceDocument document, db::transact(db_, [&](db::Tx& tx) -> Result<InvoiceDocument> {
    RECUR_ASSIGN(auto inv, find_invoice(tx, id, false));
    if (!inv) return invoice_not_found(id);
    RECUR_ASSIGN(auto shop, load_shop(tx, false));
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, inv->customer));
    return invoice_document(*inv, shop.value_or(ShopProfile{}), customer);
  }, db::TxMode::kReadOnly));
  return draw(document, fonts_);
}

Result<RenderedPdf> Documents::credit_note_pdf(const std::string& id) {
  RECUR_ASSIGN(InvoiceDocument document, db::transact(db_, [&](db::Tx& tx) -> Result<InvoiceDocument> {
    RECUR_ASSIGN(auto note, find_credit_note(tx, id));
    if (!note) return Error::not_found("credit_note_not_found", no_object_message("credit note", "cn", id));
    RECUR_ASSIGN(auto inv, find_invoice(tx, note->invoice, false));
    if (!inv) return invoice_not_found(note->invoice);
    RECUR_ASSIGN(auto shop, load_shop(tx, false));
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, note->customer));
    return credit_note_document(*note, *inv, shop.value_or(ShopProfile{}), customer);
  }, db::TxMode::kReadOnly));
  return draw(document, fonts_);
}

Result<notify::EmailAttachment> Documents::attachment(const notify::AttachmentRef& ref) {
  if (ref.kind != "invoice_pdf") return Error::invalid("attachment_unavailable", "no attachment of kind " + ref.kind);
  RECUR_ASSIGN(RenderedPdf pdf, invoice_pdf(ref.id));
  return notify::EmailAttachment{std::move(pdf.filename), "application/pdf", std::move(pdf.bytes)};
}

}  // namespace recur::billing
