// The next invoice before it exists (Stripe's upcoming invoice): built by the same code as
// the invoice the lifecycle will issue (build_invoice), from the period the lifecycle will
// begin next, the items waiting for it and today's tax rates, with nothing written.
#pragma once

#include <string>

#include "billing/model.h"
#include "platform/db/database.h"
#include "subscriptions/service.h"

namespace recur::billing {

class UpcomingInvoices {
 public:
  UpcomingInvoices(db::Database& db, subscriptions::SubscriptionService& subscriptions)
      : db_(db), subscriptions_(subscriptions) {}

  // The next invoice of the subscription (404 subscription_not_found), or the soonest of
  // the customer's subscriptions' (404 customer_not_found). 404 no_upcoming_invoice when
  // no period will be billed again. It has no id or number yet, status `draft`, and
  // `created` is when it will be issued.
  Result<Invoice> of_subscription(const std::string& id);
  Result<Invoice> of_customer(const std::string& customer);

 private:
  db::Database& db_;
  subscriptions::SubscriptionService& subscriptions_;
};

// The invoice the lifecycle will issue for `next` (see UpcomingInvoices), read in `tx`.
Result<Invoice> upcoming_invoice(db::Tx& tx, const subscriptions::NextPeriod& next);

// The JSON of an upcoming invoice: an invoice's, with null id and number.
Json upcoming_json(const Invoice& invoice);

}  // namespace recur::billing
