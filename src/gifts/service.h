// Gift subscriptions' use cases (docs/subscription-boxes.md, "Gifts"): a gift is sold on a
// one-off invoice (billing's OneOffInvoices, charged in the request, the gift stored in the
// invoice's transaction), e-mailed to its recipient once paid and due (run_due), claimed
// into a prepaid subscription (subscriptions' create_in, one transaction with the gift), and
// its last box announced to both (GiftReminders, in the transaction that begins the box
// before it).
#pragma once

#include <optional>
#include <string>

#include "billing/one_off.h"
#include "customers/service.h"
#include "events/store.h"
#include "gifts/store.h"
#include "notify/outbox.h"
#include "subscriptions/service.h"

namespace recur::gifts {

inline constexpr std::string_view kDefaultClaimUrl = "https://shop.example.com/gift";

struct GiftInput {
  std::string purchaser;
  std::string plan;
  std::int64_t quantity = 1;
  std::int64_t deliveries = 1;
  Recipient recipient;
  std::optional<std::string> message;
  std::optional<Timestamp> send_at;  // none: now
  std::optional<std::string> coupon;
  std::optional<std::string> promotion_code;
  Json metadata = Json::object();
  std::string request_key;  // the request's scoped Idempotency-Key ("" for none)
};

struct ClaimInput {
  std::string claim_code;
  std::optional<std::string> customer;  // the recipient as an existing customer; none: a new one
  std::optional<Timestamp> start_date;  // the first box; none: now
};

struct GiftRunReport {
  int sent = 0;
  int expired = 0;
  int failures = 0;
};

class GiftService {
 public:
  // `claim_url`: the shop's page that claims a gift; "?code=" (or "&code=") and the code are
  // appended in the recipient's e-mail.
  GiftService(db::Database& db, const Clock& clock, IdGenerator& ids, billing::OneOffInvoices& invoices,
              subscriptions::SubscriptionService& subscriptions, customers::CustomerService& customers,
              notify::Outbox& outbox, std::string claim_url = std::string(kDefaultClaimUrl))
      : db_(db),
        clock_(clock),
        ids_(ids),
        events_(ids, clock),
        invoices_(invoices),
        subscriptions_(subscriptions),
        customers_(customers),
        outbox_(outbox),
        claim_url_(std::move(claim_url)) {}

  // Sells the gift: the purchaser's invoice (the plan's price × quantity × deliveries, less
  // the coupon) and the gift are stored together, then the invoice is charged in the request;
  // a gift paid and due is e-mailed at once. A retry under the same key answers the first
  // try's gift. Errors (nothing stored): 422 validation_failed, plan or coupon not found /
  // not applicable (as at a signup), 422 customer_not_found, 409 customer_erased.
  Result<Gift> create(const GiftInput& input, const events::Actor& actor);
  Result<Gift> get(const std::string& id);
  Result<Page<Gift>> list(const GiftFilter& filter);
  // Claims the gift with `claim_code`: its prepaid subscription for the recipient (a new
  // customer from the gift's recipient unless `customer` is given; the gift's shipping
  // address), the gift `claimed` with it, in one transaction. Errors: 404 gift_not_found (no
  // gift has that code), 409 gift_claimed / gift_expired / gift_unpaid, 422
  // customer_not_found, 409 customer_erased, 409 out_of_stock (the first box), 422 on dates.
  Result<Gift> claim(const ClaimInput& input, const events::Actor& actor);
  // Sends the gifts that are paid and due, expires the ones past their claim window (or
  // whose invoice was voided), each in its own transaction.
  Result<GiftRunReport> run_due();
  // The soonest time run_due has something to send (the test clock stops there).
  Result<std::optional<Timestamp>> next_due_at();

 private:
  Result<std::optional<Gift>> created_by_request(const std::string& request_key);
  // The gift's claim e-mail, queued in `tx` (its notification id).
  Result<std::string> queue_claim_email(db::Tx& tx, const Gift& gift);
  recur::Status step(const std::string& id, Timestamp now, GiftRunReport& report);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  events::Recorder events_;
  billing::OneOffInvoices& invoices_;
  subscriptions::SubscriptionService& subscriptions_;
  customers::CustomerService& customers_;
  notify::Outbox& outbox_;
  std::string claim_url_;
};

// The reminder before a gift's last box: when the box before it begins (or the first box of
// a one-box gift), the recipient and the purchaser are e-mailed, once, in that transaction.
// An events::AppendObserver attached to the database: it hears the subscription's events.
class GiftReminders : public events::AppendObserver {
 public:
  GiftReminders(notify::Outbox& outbox, const Clock& clock) : outbox_(outbox), clock_(clock) {}
  Status appended(db::Tx& tx, const events::Event& event) override;

 private:
  notify::Outbox& outbox_;
  const Clock& clock_;
};

// The claim link of `code` under the shop's `base` page.
std::string claim_link(std::string_view base, std::string_view code);

}  // namespace recur::gifts
