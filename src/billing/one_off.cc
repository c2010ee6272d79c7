// One-off invoices: issue (and send) in one transaction, then charge in the request.
#include "billing/one_off.h"

#include "billing/invoicer.h"
#include "billing/store.h"
#include "customers/store.h"

namespace recur::billing {

Result<Invoice> OneOffInvoices::issue(const OneOffInput& input, const events::Actor& actor) {
  const Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    const std::string& customer_id = input.spec.customer;
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, customer_id));
    if (!customer)
      return Error::invalid("customer_not_found", no_object_message("customer", "cus", customer_id),
                            {{"customer", "not_found", "no such customer"}});
    if (customer->erased_at)
      return Error::conflict("customer_erased", "customer " + customer_id + " was erased: nothing can be sold to them");
    RECUR_ASSIGN(std::int64_t tax_bp, tax_rate_bp_for_customer(tx, *customer));
    OneOffSpec spec = input.spec;
    if (input.prepare) RECUR_TRY(input.prepare(tx, spec));
    RECUR_ASSIGN(Invoice inv, build_one_off_invoice(std::move(spec), tax_bp, now));
    inv.id = ids_.next("in");
    RECUR_ASSIGN(inv.number, next_invoice_number(tx));
    // Period key 0: no subscription, so nothing can clash with it (NULL subscription_id).
    RECUR_ASSIGN(bool inserted, insert_invoice(tx, inv, 0, input.request_key));
    if (!inserted) return Error::internal("one-off invoice " + inv.id + " could not be stored");
    RECUR_TRY(events_.record(tx, "invoice.finalized", inv.id, actor, nullptr, to_json(inv)));
    if (inv.collection_method == CollectionMethod::kSendInvoice) RECUR_TRY(messages_.send_invoice(tx, inv));
    if (input.with_issued) RECUR_TRY(input.with_issued(tx, inv));
    return inv;
  });
}

Result<std::optional<Invoice>> OneOffInvoices::issued_by_request(const std::string& request_key) {
  if (request_key.empty()) return std::optional<Invoice>();
  return db::transact(
      db_, [&](db::Tx& tx) { return find_invoice_by_request(tx, request_key, clock_.now()); }, db::TxMode::kReadOnly);
}

Result<Invoice> OneOffInvoices::create(const OneOffInput& input, const events::Actor& actor) {
  RECUR_ASSIGN(std::optional<Invoice> earlier, issued_by_request(input.request_key));
  Invoice inv;
  if (earlier) {
    inv = std::move(*earlier);
    if (inv.collection_method != CollectionMethod::kChargeAutomatically) return inv;
    // The first try's charge: made now if the first try ended before it, asked about again
    // (same gateway key) if it is still in flight, never made twice.
    RECUR_ASSIGN(auto in_flight, db::transact(db_, [&](db::Tx& tx) { return pending_payment(tx, inv.id); },
                                              db::TxMode::kReadOnly));
    const bool asked = inv.attempt_count > 0;
    if (asked && !(in_flight && in_flight->status == PaymentStatus::kPending)) return inv;
  } else {
    RECUR_ASSIGN(inv, issue(input, actor));
    if (inv.collection_method != CollectionMethod::kChargeAutomatically) return inv;
  }
  RECUR_TRY(collector_.attempt(inv.id, "", timeout_));
  return collector_.read_invoice(inv.id);
}

}  // namespace recur::billing
