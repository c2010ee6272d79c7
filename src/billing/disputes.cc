// Disputes' pure rules.
#include "billing/disputes.h"

#include <algorithm>

namespace recur::billing {

std::string_view to_string(DisputeStatus status) {
  switch (status) {
    case DisputeStatus::kOpen: return "open";
    case DisputeStatus::kWon: return "won";
    case DisputeStatus::kLost: return "lost";
  }
  return "open";
}

std::optional<DisputeStatus> dispute_status_from(std::string_view text) {
  if (text == "open") return DisputeStatus::kOpen;
  if (text == "won") return DisputeStatus::kWon;
  if (text == "lost") return DisputeStatus::kLost;
  return std::nullopt;
}

std::string_view to_string(DisputeOnOpen action) {
  switch (action) {
    case DisputeOnOpen::kNone: return "none";
    case DisputeOnOpen::kPause: return "pause";
    case DisputeOnOpen::kCancel: return "cancel";
  }
  return "pause";
}

std::optional<DisputeOnOpen> dispute_on_open_from(std::string_view text) {
  if (text == "none") return DisputeOnOpen::kNone;
  if (text == "pause") return DisputeOnOpen::kPause;
  if (text == "cancel") return DisputeOnOpen::kCancel;
  return std::nullopt;
}

Json to_json(const DisputeSettings& s) {
  return Json{{"object", "dispute_settings"},
              {"on_open", to_string(s.on_open)},
              {"version", s.version},
              {"updated", format_rfc3339(s.updated)}};
}

DisputeSettings dispute_settings_from_doc(const Json& d) {
  DisputeSettings s;
  s.on_open = dispute_on_open_from(d.value("on_open", "pause")).value_or(DisputeOnOpen::kPause);
  s.version = d.at("version");
  s.updated = doc_required_time(d, "updated");
  return s;
}

Json to_json(const Dispute& d) {
  return with_envelope(Json{{"id", d.id},
                            {"object", "dispute"},
                            {"gateway", d.gateway},
                            {"gateway_reference", d.gateway_reference},
                            {"charge", text_or_null(d.charge)},
                            {"payment", d.payment},
                            {"invoice", d.invoice},
                            {"customer", d.customer},
                            {"subscription", text_or_null(d.subscription)},
                            {"amount", d.amount},
                            {"currency", d.currency},
                            {"reason", text_or_null(d.reason)},
                            {"status", to_string(d.status)},
                            {"subscription_action", d.subscription_action},
                            {"paused_at", to_json_time(d.paused_at)},
                            {"closed_at", to_json_time(d.closed_at)}},
                       d);
}

Dispute dispute_from_doc(const Json& j) {
  Dispute d;
  d.id = j.at("id");
  d.gateway = j.at("gateway");
  d.gateway_reference = j.at("gateway_reference");
  d.charge = doc_text(j, "charge").value_or("");
  d.payment = j.at("payment");
  d.invoice = j.at("invoice");
  d.customer = j.at("customer");
  d.subscription = doc_text(j, "subscription").value_or("");
  d.amount = j.at("amount");
  d.currency = j.at("currency");
  d.reason = doc_text(j, "reason").value_or("");
  d.status = dispute_status_from(j.at("status").get<std::string>()).value_or(DisputeStatus::kOpen);
  d.subscription_action = j.value("subscription_action", "none");
  d.paused_at = doc_time(j, "paused_at");
  d.closed_at = doc_time(j, "closed_at");
  read_envelope(j, d);
  return d;
}

DisputeChange dispute_change(const std::optional<Dispute>& existing, std::optional<DisputeStatus> outcome) {
  const bool closing = outcome && *outcome != DisputeStatus::kOpen;
  if (!existing) return closing ? DisputeChange::kOpenClosed : DisputeChange::kOpen;
  if (existing->status != DisputeStatus::kOpen) return DisputeChange::kNothing;  // decided once
  return closing ? DisputeChange::kClose : DisputeChange::kNothing;
}

std::int64_t disputed_amount(const Payment& payment, const std::optional<Money>& notice_amount) {
  if (!notice_amount || notice_amount->currency != payment.currency || notice_amount->amount <= 0)
    return payment.amount;
  return std::min(notice_amount->amount, payment.amount);
}

void open_on_invoice(Invoice& inv, const Dispute& d) { inv.amount_disputed += d.amount; }

void close_on_invoice(Invoice& inv, const Dispute& d, DisputeStatus outcome, bool was_open) {
  if (was_open) inv.amount_disputed = std::max<std::int64_t>(0, inv.amount_disputed - d.amount);
  if (outcome == DisputeStatus::kLost) inv.amount_disputed_lost += d.amount;
}

}  // namespace recur::billing
