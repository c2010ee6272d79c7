// Currency codes, minor-unit exponents and the one rounding rule for money.
#include "platform/money.h"

#include <algorithm>
#include <iterator>
#include <cstdint>
#include <stdexcept>

namespace recur {
namespace {

// ISO 4217 list one: currencies and funds in active use, lower-case, sorted for
// binary search. Codes in an announced transition are kept on both sides (ANG and
// XCG, SLL and SLE, ZWL and ZWG, CUC) so stored prices keep validating. Left out on
// purpose: precious metals (XAU XAG XPD XPT), bond-market units (XBA..XBD), SDR-like
// units of account (XDR XSU XUA), "testing" (XTS) and "no currency" (XXX): none of
// them can price a subscription, and ISO gives most of them no minor unit.
constexpr std::string_view kKnownCurrencies[] = {
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd",
    "bdt", "bgn", "bhd", "bif", "bmd", "bnd", "bob", "bov", "brl", "bsd", "btn", "bwp",
    "byn", "bzd", "cad", "cdf", "che", "chf", "chw", "clf", "clp", "cny", "cop", "cou",
    "crc", "cuc", "cup", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "ern", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "ghs", "gip", "gmd", "gnf", "gtq", "gyd", "hkd",
    "hnl", "htg", "huf", "idr", "ils", "inr", "iqd", "irr", "isk", "jmd", "jod", "jpy",
    "kes", "kgs", "khr", "kmf", "kpw", "krw", "kwd", "kyd", "kzt", "lak", "lbp", "lkr",
    "lrd", "lsl", "lyd", "mad", "mdl", "mga", "mkd", "mmk", "mnt", "mop", "mru", "mur",
    "mvr", "mwk", "mxn", "mxv", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr", "nzd",
    "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sdg", "sek", "sgd", "shp", "sle", "sll", "sos", "srd",
    "ssp", "stn", "svc", "syp", "szl", "thb", "tjs", "tmt", "tnd", "top", "try", "ttd",
    "twd", "tzs", "uah", "ugx", "usd", "usn", "uyi", "uyu", "uyw", "uzs", "ved", "ves",
    "vnd", "vuv", "wst", "xaf", "xcd", "xcg", "xof", "xpf", "yer", "zar", "zmw", "zwg",
    "zwl",
};

constexpr std::string_view kZeroDecimal[] = {
    "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "pyg",
    "rwf", "ugx", "uyi", "vnd", "vuv", "xaf", "xof", "xpf"};
constexpr std::string_view kThreeDecimal[] = {"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"};
constexpr std::string_view kFourDecimal[] = {"clf", "uyw"};

template <std::size_t N>
bool contains(const std::string_view (&list)[N], std::string_view code) {
  return std::find(std::begin(list), std::end(list), code) != std::end(list);
}

}  // namespace

std::string normalize_currency(std::string_view code) {
  std::string out(code);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

bool is_known_currency(std::string_view code) {
  if (code.size() != 3) return false;
  const std::string lower = normalize_currency(code);
  return std::binary_search(std::begin(kKnownCurrencies), std::end(kKnownCurrencies),
                            std::string_view(lower));
}

int currency_exponent(std::string_view code) {
  const std::string lower = normalize_currency(code);
  if (contains(kZeroDecimal, lower)) return 0;
  if (contains(kThreeDecimal, lower)) return 3;
  if (contains(kFourDecimal, lower)) return 4;
  return 2;
}

// Rounds the magnitude half up and re-applies the sign, so -2.5 becomes -3 and a
// credit is always the exact mirror of the same charge.
std::int64_t mul_div_round_half_up(std::int64_t value, std::int64_t numerator,
                                   std::int64_t denominator) {
  if (denominator <= 0) throw std::invalid_argument("mul_div_round_half_up: denominator <= 0");
  // |value * numerator| < 2^126, so 2 * |product| + denominator still fits in 128 bits.
  const __int128 product = static_cast<__int128>(value) * numerator;
  const bool negative = product < 0;
  const __int128 magnitude = negative ? -product : product;
  const __int128 d = denominator;
  const __int128 rounded = (2 * magnitude + d) / (2 * d);
  const __int128 result = negative ? -rounded : rounded;
  if (result > INT64_MAX || result < INT64_MIN) {
    throw std::overflow_error("mul_div_round_half_up: result does not fit in 64 bits");
  }
  return static_cast<std::int64_t>(result);
}

std::string format_amount(std::int64_t amount, std::string_view currency) {
  int exp = currency_exponent(currency);
  std::string code = normalize_currency(currency);
  for (auto& c : code) c = static_cast<char>(c - 'a' + 'A');
  std::string sign = amount < 0 ? "-" : "";
  std::uint64_t magnitude = amount < 0 ? 0 - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  if (exp == 0) return sign + std::to_string(magnitude) + " " + code;
  std::uint64_t scale = exp == 3 ? 1000 : 100;
  std::string fraction = std::to_string(magnitude % scale);
  fraction.insert(0, static_cast<std::size_t>(exp) - fraction.size(), '0');
  return sign + std::to_string(magnitude / scale) + "." + fraction + " " + code;
}

}  // namespace recur
