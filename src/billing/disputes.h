// Disputes (chargebacks) as Recur keeps them (decision 0021): a record of its own per
// gateway dispute, the invoice's amounts under dispute and lost to disputes, and what the
// merchant's setting `disputes.on_open` does to the subscription. Pure: the webhook
// handler (webhooks.cc) stores these and acts on them.
#pragma once

#include <optional>
#include <string>

#include "billing/model.h"
#include "platform/json.h"
#include "platform/money.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::billing {

enum class DisputeStatus { kOpen, kWon, kLost };
std::string_view to_string(DisputeStatus status);
std::optional<DisputeStatus> dispute_status_from(std::string_view text);

// What a dispute's opening does to the subscription of the disputed invoice.
enum class DisputeOnOpen { kNone, kPause, kCancel };
std::string_view to_string(DisputeOnOpen action);
std::optional<DisputeOnOpen> dispute_on_open_from(std::string_view text);

struct DisputeSettings {
  DisputeOnOpen on_open = DisputeOnOpen::kPause;  // a box shop ships nothing until it is decided
  std::int64_t version = 1;
  Timestamp updated = 0;
};
Json to_json(const DisputeSettings& settings);
DisputeSettings dispute_settings_from_doc(const Json& doc);

struct Dispute {
  std::string id;                 // "dp_..."
  std::string gateway;            // "stripe", "square", "paypal", "sandbox"
  std::string gateway_reference;  // the gateway's id of the dispute
  std::string charge;             // the gateway's id of the disputed charge
  std::string payment;            // "pay_..."
  std::string invoice;            // "in_..."
  std::string customer;
  std::string subscription;
  std::int64_t amount = 0;  // minor units, the invoice's currency
  std::string currency;
  std::string reason;  // the gateway's reason, as it sent it
  DisputeStatus status = DisputeStatus::kOpen;
  // What opening it did to the subscription: "none", "paused" or "canceled" ("none" also
  // when the setting's step did not apply, e.g. the subscription had ended already).
  std::string subscription_action = "none";
  std::optional<Timestamp> paused_at;  // the subscription's pause this dispute made
  std::optional<Timestamp> closed_at;
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  Json metadata = Json::object();
};
Json to_json(const Dispute& dispute);
Dispute dispute_from_doc(const Json& doc);

// What a dispute notice does, given the dispute Recur has for the gateway's id (if any) and
// the notice's outcome (none: opened or still open). Settle once: a replay, an update that
// says nothing new and a notice about a dispute already closed change nothing; a closing
// notice that arrives before the opening one creates the dispute closed (no subscription
// step: it is decided already), and the late opening notice then finds it and changes nothing.
enum class DisputeChange { kNothing, kOpen, kClose, kOpenClosed };
DisputeChange dispute_change(const std::optional<Dispute>& existing, std::optional<DisputeStatus> outcome);

// The disputed amount: the gateway's when it sent one in the invoice's currency, at most the
// payment's amount; otherwise the payment's.
std::int64_t disputed_amount(const Payment& payment, const std::optional<Money>& notice_amount);

// The invoice's amounts as the dispute opens (`amount_disputed` grows by its amount) and as
// it closes with `outcome` (won or lost): the amount leaves `amount_disputed`, and a lost
// one is added to `amount_disputed_lost` (the money went back to the customer's bank).
// `was_open`: false for a dispute created closed (it never counted as under dispute).
void open_on_invoice(Invoice& invoice, const Dispute& dispute);
void close_on_invoice(Invoice& invoice, const Dispute& dispute, DisputeStatus outcome, bool was_open);

}  // namespace recur::billing
