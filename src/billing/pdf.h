// Draws an InvoiceDocument (billing/document.h) as a PDF with libharu: A4, a TrueType font
// embedded with libharu's UTF-8 encoding, so any text the font covers prints as given
// (DejaVu Sans by default: Latin, Greek, Cyrillic and more; CJK needs a font that has it,
// --pdf-font). No browser, no network.
#pragma once

#include <string>

#include "billing/document.h"
#include "platform/result.h"

namespace recur::billing {

struct PdfFonts {
  std::string regular = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  std::string bold = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";  // empty: the regular one
};

// The PDF's bytes. Fails (kUnavailable, pdf_render_failed) when a font cannot be read or
// libharu reports an error; the message names the libharu error code, never the content.
Result<std::string> render_pdf(const InvoiceDocument& document, const PdfFonts& fonts);

}  // namespace recur::billing
