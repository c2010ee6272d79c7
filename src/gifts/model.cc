// Gift subscriptions: the record and its rules.
#include "gifts/model.h"

#include <array>

namespace recur::gifts {
namespace {

constexpr std::array<std::string_view, 4> kStatusNames = {"pending", "sent", "claimed", "expired"};
// 31 characters, none that reads like another (no 0, O, 1, I, L): about 79 bits in 16.
constexpr std::string_view kAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
constexpr std::size_t kCodeLength = 16;

Json recipient_json(const Recipient& r) {
  return Json{{"name", r.name},
              {"email", r.email},
              {"shipping_address", r.shipping_address ? customers::to_json(*r.shipping_address) : Json(nullptr)}};
}

Error invalid(const std::string& field, const std::string& message) {
  return Error::invalid("validation_failed", message, {{field, "invalid_value", message}});
}

}  // namespace

std::string_view to_string(GiftStatus status) { return kStatusNames[static_cast<std::size_t>(status)]; }

std::optional<GiftStatus> parse_gift_status(std::string_view text) {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i)
    if (kStatusNames[i] == text) return static_cast<GiftStatus>(i);
  return std::nullopt;
}

Json to_json(const Gift& g, bool with_code) {
  // An erased purchaser's sealed values read back empty: shown as null.
  const bool erased = g.recipient.email.empty();
  return with_envelope(Json{{"id", g.id},
                            {"object", "gift"},
                            {"status", to_string(g.status)},
                            {"purchaser", g.purchaser},
                            {"plan", g.plan},
                            {"quantity", g.quantity},
                            {"deliveries", g.deliveries},
                            {"recipient", erased ? Json(nullptr) : recipient_json(g.recipient)},
                            {"message", to_json_text(g.message)},
                            {"send_at", format_rfc3339(g.send_at)},
                            {"claim_code", with_code && !g.claim_code.empty() ? Json(g.claim_code) : Json(nullptr)},
                            {"invoice", g.invoice},
                            {"amount", g.amount},
                            {"currency", g.currency},
                            {"sent_at", to_json_time(g.sent_at)},
                            {"claimed_at", to_json_time(g.claimed_at)},
                            {"expires_at", format_rfc3339(g.expires_at)},
                            {"subscription", to_json_text(g.subscription)},
                            {"recipient_customer", to_json_text(g.recipient_customer)},
                            {"notification", to_json_text(g.notification)},
                            {"ending_reminded", g.ending_reminded}},
                       g);
}

Gift gift_from_doc(const Json& d) {
  Gift g;
  g.id = d.at("id");
  g.purchaser = d.at("purchaser");
  g.plan = d.at("plan");
  g.quantity = d.at("quantity");
  g.deliveries = d.at("deliveries");
  const Json& r = d.at("recipient");
  // An erased purchaser's sealed values read as null: nothing of the recipient is kept.
  if (r.is_object()) {
    g.recipient.name = doc_text(r, "name").value_or("");
    g.recipient.email = doc_text(r, "email").value_or("");
    if (const auto& a = r.value("shipping_address", Json()); a.is_object())
      g.recipient.shipping_address = customers::address_from_json(a);
  }
  g.message = doc_text(d, "message");
  g.send_at = doc_required_time(d, "send_at");
  g.status = parse_gift_status(d.at("status").get<std::string>()).value_or(GiftStatus::kPending);
  g.claim_code = doc_text(d, "claim_code").value_or("");
  g.invoice = d.at("invoice");
  g.amount = d.at("amount");
  g.currency = d.at("currency");
  g.sent_at = doc_time(d, "sent_at");
  g.claimed_at = doc_time(d, "claimed_at");
  g.expires_at = doc_required_time(d, "expires_at");
  g.subscription = doc_text(d, "subscription");
  g.recipient_customer = doc_text(d, "recipient_customer");
  g.notification = doc_text(d, "notification");
  g.ending_reminded = d.value("ending_reminded", false);
  read_envelope(d, g);
  return g;
}

std::string claim_code_from(std::string_view random) {
  std::string code;
  for (std::size_t i = 0; i < kCodeLength && i < random.size(); ++i) {
    if (i > 0 && i % 4 == 0) code += '-';
    code += kAlphabet[static_cast<unsigned char>(random[i]) % kAlphabet.size()];
  }
  return code;
}

std::string normalize_claim_code(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (kAlphabet.find(c) == std::string_view::npos) return "";
    out += c;
  }
  return out.size() == kCodeLength ? out : "";
}

recur::Status check_gift(const Gift& g, Timestamp now) {
  if (g.deliveries < 1 || g.deliveries > kMaxGiftDeliveries)
    return invalid("deliveries", "deliveries must be 1.." + std::to_string(kMaxGiftDeliveries));
  if (g.quantity < 1 || g.quantity > 100) return invalid("quantity", "quantity must be 1..100");
  if (g.message && g.message->size() > kMaxGiftMessage)
    return invalid("message", "message must be at most " + std::to_string(kMaxGiftMessage) + " bytes");
  if (g.send_at < now - 300) return invalid("send_at", "send_at must be now or later");
  return Ok{};
}

GiftStep due_step(const Gift& g, std::string_view invoice_status, Timestamp now, bool refunded) {
  if (g.status == GiftStatus::kClaimed || g.status == GiftStatus::kExpired) return GiftStep::kNone;
  if (g.status == GiftStatus::kPending && (invoice_status == "void" || invoice_status == "uncollectible" || refunded))
    return GiftStep::kExpire;
  if (now >= g.expires_at) return GiftStep::kExpire;
  if (g.status == GiftStatus::kPending && invoice_status == "paid" && now >= g.send_at) return GiftStep::kSend;
  return GiftStep::kNone;
}

recur::Status check_claimable(const Gift& g, std::string_view invoice_status, Timestamp now, bool refunded) {
  if (g.status == GiftStatus::kClaimed) return Error::conflict("gift_claimed", "this gift was claimed already");
  if (refunded)
    return Error::conflict("gift_refunded", "this gift's purchase was refunded: it can no longer be claimed");
  if (g.status == GiftStatus::kExpired || now >= g.expires_at)
    return Error::conflict("gift_expired", "this gift can no longer be claimed");
  if (invoice_status != "paid")
    return Error::conflict("gift_unpaid", "this gift is not paid for yet: it can be claimed once its invoice is paid");
  return Ok{};
}

}  // namespace recur::gifts
