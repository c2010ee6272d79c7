// Gift subscriptions (issue 18, docs/subscription-boxes.md "Gifts"): a purchaser pays once
// for N deliveries of a plan; the recipient is e-mailed a claim link at `send_at` and claims
// a prepaid subscription whose boxes that one invoice paid for. Pure: the record, its JSON
// and the rules of its lifecycle (pending → sent → claimed, or expired).
#pragma once

#include <optional>
#include <string>

#include "customers/model.h"
#include "platform/json.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::gifts {

enum class GiftStatus { kPending, kSent, kClaimed, kExpired };
std::string_view to_string(GiftStatus status);
std::optional<GiftStatus> parse_gift_status(std::string_view text);

// A gift can be claimed for this long after it was sent; then it expires (the purchaser's
// money is the merchant's to refund: Recur refunds nothing on its own).
inline constexpr Timestamp kClaimWindow = 365 * kSecondsPerDay;
inline constexpr std::int64_t kMaxGiftDeliveries = 24;
inline constexpr std::size_t kMaxGiftMessage = 1000;

struct Recipient {
  std::string name;
  std::string email;
  std::optional<customers::Address> shipping_address;
};

struct Gift {
  std::string id;         // "gift_..."
  std::string purchaser;  // "cus_..."
  std::string plan;
  std::int64_t quantity = 1;
  std::int64_t deliveries = 1;
  Recipient recipient;
  std::optional<std::string> message;
  Timestamp send_at = 0;
  GiftStatus status = GiftStatus::kPending;
  std::string claim_code;   // "XXXX-XXXX-XXXX-XXXX"; sealed at rest, found by its hash
  std::string invoice;      // the purchaser's one invoice ("in_...")
  std::int64_t amount = 0;  // what that invoice charges, discounts and tax included
  std::string currency;
  std::optional<Timestamp> sent_at;
  std::optional<Timestamp> claimed_at;
  Timestamp expires_at = 0;                       // unclaimed by then: expired
  std::optional<std::string> subscription;        // once claimed
  std::optional<std::string> recipient_customer;  // once claimed
  std::optional<std::string> notification;        // the claim e-mail, once sent
  bool ending_reminded = false;                   // the last box's reminder went out
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
};

// `with_code`: the claim code is shown only to the caller that sold the gift (POST
// /v1/gifts) and e-mailed to the recipient; reads and events show null, so that nobody who
// can read events or webhooks can take the gift.
Json to_json(const Gift& gift, bool with_code = false);
Gift gift_from_doc(const Json& doc);

// A new claim code: 16 characters of an alphabet without look-alikes (no 0/O, 1/I/L), in
// four groups, from `random` (16 bytes or more; each byte picks one character).
std::string claim_code_from(std::string_view random);
// The form a claim code is looked up by: upper-cased, dashes and spaces dropped; "" when it
// cannot be one (wrong length or characters).
std::string normalize_claim_code(std::string_view code);

// The checks of POST /v1/gifts that need nothing stored (the route reads the recipient's
// name, e-mail and address as a customer's): deliveries 1..24, quantity 1..100, a message of
// at most 1000 bytes, a send_at not in the past (5 minutes of slack). 422 validation_failed
// naming the field. Pure.
recur::Status check_gift(const Gift& gift, Timestamp now);

// What the scheduler does with a gift at `now`, given its invoice's state.
enum class GiftStep { kNone, kSend, kExpire };
// Pending: sent once its invoice is paid and send_at has come; expired when its invoice
// was voided or written off (never paid). Sent and pending: expired after expires_at.
// `refunded`: the invoice's money went back (refunds and lost disputes cover its total):
// a pending gift is expired instead of sent.
GiftStep due_step(const Gift& gift, std::string_view invoice_status, Timestamp now, bool refunded = false);

// Whether the gift may be claimed now: its invoice is paid (409 gift_unpaid), it is not
// claimed (409 gift_claimed) or expired (409 gift_expired). A pending gift whose invoice is
// paid may be claimed before send_at (the purchaser may hand the code over in person). One
// whose invoice was refunded in full is 409 gift_refunded.
recur::Status check_claimable(const Gift& gift, std::string_view invoice_status, Timestamp now, bool refunded = false);

}  // namespace recur::gifts
