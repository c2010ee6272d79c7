#include "billing/upcoming.h"

#include "billing/invoicer.h"
#include "billing/store.h"
#include "catalog/store.h"
#include "customers/service.h"
#include "platform/ids.h"

namespace recur::billing {

namespace {

Result<Invoice> build(db::Tx& tx, const std::optional<subscriptions::NextPeriod>& next, const std::string& whose) {
  if (!next) return Error::not_found("no_upcoming_invoice", whose + " has no period left to invoice");
  return upcoming_invoice(tx, *next);
}

}  // namespace

Result<Invoice> upcoming_invoice(db::Tx& tx, const subscriptions::NextPeriod& next) {
  const auto& [sub, e] = next;
  std::string plan_name = e.plan_name;
  if (plan_name.empty()) {
    RECUR_ASSIGN(auto plan, catalog::find_plan(tx, e.plan));
    plan_name = plan ? plan->name : e.plan;
  }
  RECUR_ASSIGN(auto pending, take_pending_items(tx, sub.id, true));
  RECUR_ASSIGN(std::int64_t tax_bp, tax_rate_bp_for(tx, sub));
  Invoice inv = build_invoice(sub, e, plan_name, std::move(pending), tax_bp).invoice;
  inv.status = InvoiceStatus::kDraft;
  inv.paid_at.reset();
  return inv;
}

Result<Invoice> UpcomingInvoices::of_subscription(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto next, subscriptions_.next_billable_period(tx, id, true));
    return build(tx, next, "subscription " + id);
  }, db::TxMode::kReadOnly);
}

Result<Invoice> UpcomingInvoices::of_customer(const std::string& customer) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, customers::find_customer(tx, customer));
    if (!found) return Error::not_found("customer_not_found", no_object_message("customer", "cus", customer));
    RECUR_ASSIGN(auto next, subscriptions_.next_billable_period_of_customer(tx, customer, true));
    return build(tx, next, "customer " + customer);
  }, db::TxMode::kReadOnly);
}

Json upcoming_json(const Invoice& invoice) {
  Json doc = to_json(invoice);
  doc["id"] = nullptr;
  doc["number"] = nullptr;
  return doc;
}

}  // namespace recur::billing
