// Invoice and credit-note PDFs: the records, the shop's profile and the customer read in one
// read-only transaction, the document model built (billing/document.h) and drawn
// (billing/pdf.h). Nothing is stored: a PDF is drawn from the records each time it is asked.
#pragma once

#include <string>

#include "billing/pdf.h"
#include "notify/service.h"
#include "platform/db/database.h"
#include "platform/result.h"

namespace recur::billing {

struct RenderedPdf {
  std::string filename;  // "invoice-INV-000001.pdf"
  std::string bytes;
};

// Also the notifier's source of attachments: "invoice_pdf" is the invoice's PDF as it is
// when the e-mail is sent.
class Documents final : public notify::AttachmentSource {
 public:
  Documents(db::Database& db, PdfFonts fonts) : db_(db), fonts_(std::move(fonts)) {}

  // 404 invoice_not_found / credit_note_not_found; 503 pdf_render_failed when the font or
  // libharu fails.
  Result<RenderedPdf> invoice_pdf(const std::string& id);
  Result<RenderedPdf> credit_note_pdf(const std::string& id);

  Result<notify::EmailAttachment> attachment(const notify::AttachmentRef& ref) override;

 private:
  db::Database& db_;
  PdfFonts fonts_;
};

}  // namespace recur::billing
