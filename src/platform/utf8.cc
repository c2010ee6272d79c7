// UTF-8 well-formedness by the ranges of Unicode's table 3-7.
#include "platform/utf8.h"

namespace recur {
namespace {

bool in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

// The allowed range of the second byte after a lead byte; the others are 80..BF.
struct Lead {
  int length;  // bytes in the sequence, 0 if `c` cannot start one
  unsigned char second_lo = 0x80, second_hi = 0xBF;
};

Lead lead(unsigned char c) {
  if (c <= 0x7F) return {1};
  if (in(c, 0xC2, 0xDF)) return {2};
  if (c == 0xE0) return {3, 0xA0, 0xBF};  // below: overlong
  if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) return {3};
  if (c == 0xED) return {3, 0x80, 0x9F};  // above: surrogates
  if (c == 0xF0) return {4, 0x90, 0xBF};  // below: overlong
  if (in(c, 0xF1, 0xF3)) return {4};
  if (c == 0xF4) return {4, 0x80, 0x8F};  // above: beyond U+10FFFF
  return {0};  // 80..C1 (continuation, overlong 2-byte) and F5..FF
}

}  // namespace

bool is_well_formed_utf8(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    Lead l = lead(static_cast<unsigned char>(bytes[i]));
    if (l.length == 0 || bytes.size() - i < static_cast<std::size_t>(l.length)) return false;
    if (l.length > 1 && !in(static_cast<unsigned char>(bytes[i + 1]), l.second_lo, l.second_hi)) return false;
    for (int k = 2; k < l.length; ++k)
      if (!in(static_cast<unsigned char>(bytes[i + k]), 0x80, 0xBF)) return false;
    i += static_cast<std::size_t>(l.length);
  }
  return true;
}

bool is_acceptable_text(std::string_view bytes) {
  return bytes.find('\0') == std::string_view::npos && is_well_formed_utf8(bytes);
}

}  // namespace recur
