// The customers module's SQL: customer rows, payment methods, gateway customers, and the
// lookups other modules make inside their own transactions (billing reads what to charge).
#pragma once

#include <optional>
#include <vector>

#include "customers/model.h"
#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::customers {

// `email` and `phone` match through their blind indexes (privacy/privacy.h); an e-mail
// matches whatever its case.
struct ListFilter {
  std::optional<std::string> email;
  ListParams page;
  std::optional<std::string> phone;
};

// Customer rows. find_customer is also the lookup other modules make (subscriptions,
// billing, inventory), inside the caller's transaction.
Result<std::optional<Customer>> find_customer(db::Tx& tx, const std::string& id);
// The same, locking the row until the transaction ends (FOR UPDATE on PostgreSQL).
Result<std::optional<Customer>> lock_customer(db::Tx& tx, const std::string& id);
recur::Status insert_customer(db::Tx& tx, const Customer& c);
// Stores `c` (its version already incremented) if the stored row is still at
// `expected_version`; false when another writer got there first.
Result<bool> update_customer(db::Tx& tx, const Customer& c, std::int64_t expected_version);
// Those of `ids` not erased, in the order given.
Result<std::vector<std::string>> not_erased(db::Tx& tx, const std::vector<std::string>& ids);
// Newest first.
Result<Page<Customer>> list_customers(db::Tx& tx, const ListFilter& filter);

// request_key: the Idempotency-Key of the request that attached it ("" for none), unique.
recur::Status insert_payment_method(db::Tx& tx, const PaymentMethod& pm, const std::string& request_key = "");
// The method a request with this Idempotency-Key attached, if it committed, while the key lives.
Result<std::optional<PaymentMethod>> find_payment_method_by_request(db::Tx& tx, const std::string& request_key,
                                                                   Timestamp now);
Result<std::optional<PaymentMethod>> find_payment_method(db::Tx& tx, const std::string& id);
// A page of the attached (not detached) methods of a customer, newest first.
Result<Page<PaymentMethod>> list_payment_methods(db::Tx& tx, const std::string& customer, const ListParams& page);
// Stores `pm` as detached, with its new `updated` and `version`.
recur::Status mark_detached(db::Tx& tx, const PaymentMethod& pm);

// The gateway's id for a customer, once created there.
Result<std::optional<std::string>> find_gateway_customer(db::Tx& tx, const std::string& customer,
                                                         const std::string& gateway);
// Stores the mapping unless one exists; returns the stored one (first writer wins).
Result<std::string> remember_gateway_customer(db::Tx& tx, const std::string& customer, const std::string& gateway,
                                              const std::string& gateway_customer, Timestamp now);

// Attached methods whose card expires in `month` (year * 12 + month) or earlier, by id.
Result<std::vector<std::string>> cards_expiring_by(db::Tx& tx, std::int64_t month, int limit);

// What a renewal charges: the customer's default method if it is still attached.
Result<std::optional<PaymentMethod>> default_payment_method(db::Tx& tx, const std::string& customer);

}  // namespace recur::customers
