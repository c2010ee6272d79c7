// The shared reading of gateway answers.
#include "gateways/exchange.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

namespace recur::gateways {
namespace {

Error unavailable(std::string code, std::string message) {
  return Error::unavailable(std::move(code), std::move(message));
}

// Recur's card brands: Stripe's names for them (a PaymentMethod's card.brand), and "unknown".
// api/openapi.yaml's CardDetails.brand lists the same (ctest payment_enums).
constexpr std::string_view kCardBrands[] = {"amex",     "cartes_bancaires", "diners",   "discover", "eftpos_au",
                                            "girocard", "interac",          "jcb",      "mastercard", "unionpay",
                                            "visa",     "unknown"};

// Square's and PayPal's names (lower-cased) for brands Stripe names otherwise.
constexpr std::pair<std::string_view, std::string_view> kBrandAliases[] = {
    {"american_express", "amex"}, {"discover_diners", "diners"}, {"china_unionpay", "unionpay"},
    {"china_union_pay", "unionpay"}, {"eftpos", "eftpos_au"}, {"cb_nationale", "cartes_bancaires"},
};

}  // namespace

Result<Reply> read_reply(const Result<net::HttpResponse>& response) {
  if (!response.ok()) {
    // The transport's "timeout" stays; every other transport failure is one code.
    const Error& e = response.error();
    return unavailable(e.code == "timeout" ? "timeout" : "gateway_error", e.message);
  }
  long status = response->status;
  if (status >= 500 || status == 429)
    return unavailable("gateway_error", "the gateway answered HTTP " + std::to_string(status));
  Json body = Json::parse(response->body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return unavailable("gateway_error",
                       "the gateway answered HTTP " + std::to_string(status) + " with a body that is not JSON");
  return Reply{status, std::move(body)};
}

ChargeResult unknown_charge(const Error& why) { return {Outcome::kUnknown, "", why.code, why.message}; }

RefundResult unknown_refund(const Error& why) { return {Outcome::kUnknown, "", why.code, why.message}; }

const Json& member_of(const Json& object, std::string_view key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string text_of(const Json& object, std::string_view key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::int64_t integer_of(const Json& object, std::string_view key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return 0;
  const auto& s = it->get_ref<const std::string&>();
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size() ? value : 0;
}

std::string lower_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string upper_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

std::string truncated_utf8(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

std::string card_brand(std::string_view gateway_brand) {
  std::string brand = lower_case(std::string(gateway_brand));
  for (const auto& [alias, name] : kBrandAliases)
    if (brand == alias) return std::string(name);
  for (auto name : kCardBrands)
    if (brand == name) return brand;
  return "unknown";
}

}  // namespace recur::gateways
