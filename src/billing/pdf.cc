// The drawing of invoice and credit-note PDFs with libharu.
#include "billing/pdf.h"

#include <hpdf.h>

#include <fmt/format.h>

#include <algorithm>
#include <memory>

namespace recur::billing {
namespace {

constexpr float kPageWidth = 595.276f;  // A4 in points
constexpr float kPageHeight = 841.89f;
constexpr float kMargin = 50;
constexpr float kBottom = 60;

// libharu reports errors through a callback; the first one is kept and checked at the end.
struct HaruErrors {
  HPDF_STATUS first = HPDF_OK;
  HPDF_STATUS detail = 0;
};

void on_haru_error(HPDF_STATUS error, HPDF_STATUS detail, void* user) {
  auto* e = static_cast<HaruErrors*>(user);
  if (e->first == HPDF_OK) {
    e->first = error;
    e->detail = detail;
  }
}

std::size_t utf8_char_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

class Writer {
 public:
  Writer(HPDF_Doc pdf, HPDF_Font regular, HPDF_Font bold) : pdf_(pdf), regular_(regular), bold_(bold) { new_page(); }

  float y() const { return y_; }
  void at(float y) { y_ = y; }
  void down(float by) {
    y_ -= by;
    if (y_ < kBottom) new_page();
  }
  // Makes sure `height` points fit on this page (else starts a new one).
  void keep(float height) {
    if (y_ - height < kBottom) new_page();
  }

  float width(const std::string& text, float size, bool bold) {
    HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
    return HPDF_Page_TextWidth(page_, text.c_str());
  }

  void text(float x, const std::string& s, float size, bool bold = false, float gray = 0) {
    if (s.empty()) return;
    HPDF_Page_SetGrayFill(page_, gray);
    HPDF_Page_BeginText(page_);
    HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
    HPDF_Page_TextOut(page_, x, y_, s.c_str());
    HPDF_Page_EndText(page_);
  }
  void text_right(float right, const std::string& s, float size, bool bold = false, float gray = 0) {
    text(right - width(s, size, bold), s, size, bold, gray);
  }

  // Splits `s` into lines no wider than `max` points: at spaces, and inside a word too long
  // for a line at character (never byte) boundaries.
  std::vector<std::string> wrap(const std::string& s, float max, float size, bool bold = false) {
    std::vector<std::string> lines;
    std::string line;
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t end = s.find(' ', i);
      if (end == std::string::npos) end = s.size();
      std::string word = s.substr(i, end - i);
      i = end + 1;
      std::string candidate = line.empty() ? word : line + " " + word;
      if (width(candidate, size, bold) <= max) {
        line = std::move(candidate);
        continue;
      }
      if (!line.empty()) lines.push_back(std::move(line));
      line.clear();
      // The word alone: cut it where it overflows.
      std::string piece;
      for (std::size_t k = 0; k < word.size();) {
        std::size_t n = std::min(utf8_char_length(static_cast<unsigned char>(word[k])), word.size() - k);
        std::string next = piece + word.substr(k, n);
        if (!piece.empty() && width(next, size, bold) > max) {
          lines.push_back(std::move(piece));
          piece = word.substr(k, n);
        } else {
          piece = std::move(next);
        }
        k += n;
      }
      line = std::move(piece);
    }
    if (!line.empty() || lines.empty()) lines.push_back(std::move(line));
    return lines;
  }

  void rule(float x0, float x1) {
    HPDF_Page_SetGrayStroke(page_, 0.75f);
    HPDF_Page_SetLineWidth(page_, 0.5f);
    HPDF_Page_MoveTo(page_, x0, y_);
    HPDF_Page_LineTo(page_, x1, y_);
    HPDF_Page_Stroke(page_);
  }

 private:
  void new_page() {
    page_ = HPDF_AddPage(pdf_);
    HPDF_Page_SetSize(page_, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    y_ = kPageHeight - kMargin;
  }

  HPDF_Doc pdf_;
  HPDF_Font regular_;
  HPDF_Font bold_;
  HPDF_Page page_ = nullptr;
  float y_ = 0;
};

void draw(Writer& w, const InvoiceDocument& d) {
  const float left = kMargin, right = kPageWidth - kMargin, middle = kPageWidth / 2 + 60;
  // The title, then the facts on the left and the seller on the right.
  w.down(10);
  w.text(left, d.title, 22, true);
  w.down(30);
  const float top = w.y();
  for (const auto& [label, value] : d.facts) {
    w.text(left, label, 9, false, 0.4f);
    w.text(left + 110, value, 9);
    w.down(13);
  }
  const float after_facts = w.y();
  w.at(top);
  w.text(middle, d.seller.name, 11, true);
  w.down(14);
  for (const auto& line : d.seller.lines) {
    w.text(middle, line, 9);
    w.down(12);
  }
  w.at(std::min(w.y(), after_facts));
  w.down(16);
  // Bill to.
  w.text(left, "Bill to", 9, false, 0.4f);
  w.down(13);
  w.text(left, d.bill_to.name, 10, true);
  w.down(13);
  for (const auto& line : d.bill_to.lines) {
    w.text(left, line, 9);
    w.down(12);
  }
  w.down(18);
  // The lines table.
  const float qty_right = right - 110, desc_max = qty_right - 40 - left;
  auto header = [&] {
    w.text(left, "Description", 9, true, 0.3f);
    w.text_right(qty_right, "Qty", 9, true, 0.3f);
    w.text_right(right, "Amount", 9, true, 0.3f);
    w.down(5);
    w.rule(left, right);
    w.down(13);
  };
  header();
  for (const auto& row : d.rows) {
    auto lines = w.wrap(row.description, desc_max, 10);
    w.keep(static_cast<float>(lines.size()) * 13 + (row.detail.empty() ? 0 : 12));
    w.text_right(qty_right, row.quantity, 10);
    w.text_right(right, row.amount, 10);
    for (const auto& line : lines) {
      w.text(left, line, 10);
      w.down(13);
    }
    if (!row.detail.empty()) {
      w.text(left, row.detail, 8, false, 0.45f);
      w.down(12);
    }
    w.down(3);
  }
  w.rule(left, right);
  w.down(16);
  // Totals, right-aligned.
  w.keep(static_cast<float>(d.totals.size()) * 15);
  for (const auto& t : d.totals) {
    w.text_right(right - 130, t.label, 10, t.strong, t.strong ? 0 : 0.25f);
    w.text_right(right, t.value, 10, t.strong);
    w.down(15);
  }
  w.down(10);
  for (const auto& note : d.notes) {
    for (const auto& line : w.wrap(note, right - left, 9)) {
      w.text(left, line, 9, false, 0.3f);
      w.down(12);
    }
  }
}

}  // namespace

Result<std::string> render_pdf(const InvoiceDocument& document, const PdfFonts& fonts) {
  HaruErrors errors;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, decltype(&HPDF_Free)> doc(HPDF_New(on_haru_error, &errors), HPDF_Free);
  if (!doc) return Error::unavailable("pdf_render_failed", "could not start a PDF document");
  HPDF_Doc pdf = doc.get();
  HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
  HPDF_UseUTFEncodings(pdf);
  HPDF_SetCurrentEncoder(pdf, "UTF-8");
  const char* regular_name = HPDF_LoadTTFontFromFile(pdf, fonts.regular.c_str(), HPDF_TRUE);
  const char* bold_name =
      fonts.bold.empty() ? regular_name : HPDF_LoadTTFontFromFile(pdf, fonts.bold.c_str(), HPDF_TRUE);
  if (!regular_name || !bold_name || errors.first != HPDF_OK)
    return Error::unavailable("pdf_render_failed",
                              fmt::format("could not load the PDF font (libharu error {:#x}, detail {})",
                                          errors.first, errors.detail));
  HPDF_Font regular = HPDF_GetFont(pdf, regular_name, "UTF-8");
  HPDF_Font bold = HPDF_GetFont(pdf, bold_name, "UTF-8");
  HPDF_SetInfoAttr(pdf, HPDF_INFO_CREATOR, "Recur");
  HPDF_SetInfoAttr(pdf, HPDF_INFO_TITLE, document.title.c_str());
  if (regular && bold && errors.first == HPDF_OK) {
    Writer w(pdf, regular, bold);
    draw(w, document);
  }
  if (errors.first == HPDF_OK) HPDF_SaveToStream(pdf);
  if (errors.first != HPDF_OK)
    return Error::unavailable("pdf_render_failed",
                              fmt::format("libharu error {:#x} (detail {}) while drawing a PDF", errors.first,
                                          errors.detail));
  std::string bytes(HPDF_GetStreamSize(pdf), '\0');
  HPDF_UINT32 size = static_cast<HPDF_UINT32>(bytes.size());
  HPDF_ReadFromStream(pdf, reinterpret_cast<HPDF_BYTE*>(bytes.data()), &size);
  bytes.resize(size);
  return bytes;
}

}  // namespace recur::billing
