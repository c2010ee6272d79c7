// PAN detection: digit runs, separators, Luhn.
#include "platform/card_number.h"

#include <vector>

namespace recur {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_separator(char c) { return c == ' ' || c == '-'; }

// Luhn over digits[from, from + n).
bool luhn(const std::vector<int>& digits, std::size_t from, std::size_t n) {
  int sum = 0;
  for (std::size_t k = 0; k < n; ++k) {
    int d = digits[from + n - 1 - k];
    if (k % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

constexpr std::size_t kShortest = 13, kLongest = 19;

// A run of digits in which single separators may stand between two digits, from `start`
// (a digit); returns its end and collects its digits.
std::size_t digit_run(std::string_view text, std::size_t start, std::vector<int>& digits) {
  digits.clear();
  std::size_t i = start, end = start;
  while (i < text.size()) {
    if (is_digit(text[i])) {
      digits.push_back(text[i] - '0');
      end = ++i;
    } else if (is_separator(text[i]) && i + 1 < text.size() && is_digit(text[i + 1]) && i > start) {
      ++i;
    } else {
      break;
    }
  }
  return end;
}

// Any 13..19-digit window of the run passes Luhn: a PAN may hide in a longer run of digits.
bool holds_pan(const std::vector<int>& digits) {
  if (digits.size() < kShortest) return false;
  for (std::size_t n = kShortest; n <= kLongest && n <= digits.size(); ++n)
    for (std::size_t from = 0; from + n <= digits.size(); ++from)
      if (luhn(digits, from, n)) return true;
  return false;
}

}  // namespace

bool looks_like_pan(std::string_view text) {
  while (!text.empty() && is_separator(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_separator(text.back())) text.remove_suffix(1);
  if (text.empty() || !is_digit(text.front())) return false;
  std::vector<int> digits;
  if (digit_run(text, 0, digits) != text.size()) return false;
  return digits.size() >= kShortest && digits.size() <= kLongest && luhn(digits, 0, digits.size());
}

std::string redact_pans(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::vector<int> digits;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t end = digit_run(text, i, digits);
    if (holds_pan(digits)) out += "[redacted card number]";
    else out.append(text.substr(i, end - i));
    i = end;
  }
  return out;
}

}  // namespace recur
