// Invoicing billable periods; closing an ended subscription's invoices.
#include "billing/invoicer.h"

#include "billing/store.h"
#include "billing/upcoming.h"
#include "catalog/store.h"
#include "customers/service.h"

namespace recur::billing {

recur::Status Invoicer::period_began(db::Tx& tx, const subscriptions::Subscription& sub,
                                     const subscriptions::LifecycleEvent& e) {
  // The lifecycle read the plan in this transaction: its name is on the event.
  std::string plan_name = e.plan_name;
  if (plan_name.empty()) {
    RECUR_ASSIGN(auto plan, catalog::find_plan(tx, e.plan));
    plan_name = plan ? plan->name : e.plan;
  }
  // A box an earlier prepaid charge (or a gift) paid for is invoiced only when the items
  // waiting owe something (its add-ons); credits wait for the next charge.
  if (e.covered()) {
    RECUR_ASSIGN(auto waiting, take_pending_items(tx, sub.id, true));
    std::int64_t owed = 0;
    for (const auto& line : waiting) owed += line.amount;
    if (owed <= 0) return Ok{};
  }
  RECUR_ASSIGN(auto pending, take_pending_items(tx, sub.id));
  RECUR_ASSIGN(std::int64_t tax_bp, tax_rate_bp_for(tx, sub));
  BuiltInvoice built = build_invoice(sub, e, plan_name, std::move(pending), tax_bp);
  return issue(tx, sub, built, e.sequence);
}

Result<std::string> Invoicer::invoice_pending_items(db::Tx& tx, const subscriptions::Subscription& sub,
                                                    std::int64_t key, Timestamp at) {
  std::vector<std::string> ids;
  RECUR_ASSIGN(auto pending, take_pending_items(tx, sub.id, true, &ids));
  std::int64_t owed = 0;
  for (const auto& line : pending) owed += line.amount;
  if (pending.empty() || owed <= 0) return std::string();
  RECUR_TRY(delete_pending_items(tx, ids));
  RECUR_ASSIGN(std::int64_t tax_bp, tax_rate_bp_for(tx, sub));
  BuiltInvoice built = build_items_invoice(sub, std::move(pending), tax_bp, at);
  RECUR_TRY(issue(tx, sub, built, -key));
  return built.invoice.id;
}

recur::Status Invoicer::issue(db::Tx& tx, const subscriptions::Subscription& sub, BuiltInvoice& built,
                              std::int64_t key) {
  Invoice& inv = built.invoice;
  inv.id = ids_.next("in");
  if (built.carried < 0) {
    // Credits the invoice cannot absorb wait for the next one, as a pending item.
    subscriptions::PendingItem carry{ids_.next("ii"), sub.id, "Unused credit from the previous invoice",
                                     built.carried, inv.currency, 1, inv.period, false};
    RECUR_TRY(insert_pending_invoice_item(tx, carry, inv.created));
  }
  // Stored now without its number, numbered (and its events recorded) as the transaction's
  // last statements: a batch of renewals holds the counter's row lock for its commit only.
  RECUR_ASSIGN(bool inserted, insert_invoice(tx, inv, key));
  if (!inserted)
    return Error::internal("invoice " + std::to_string(key) + " of " + sub.id + " (period " +
                           format_rfc3339(inv.period.start) + ") is issued already");
  auto& issued = tx.local<UnnumberedInvoices>();
  if (issued.empty()) tx.before_commit([this](db::Tx& t) { return number_issued(t); });
  issued.push_back({inv, inv.status == InvoiceStatus::kPaid});
  return Ok{};
}

recur::Status Invoicer::number_issued(db::Tx& tx) {
  UnnumberedInvoices issued = std::move(tx.local<UnnumberedInvoices>());
  tx.local<UnnumberedInvoices>().clear();
  if (issued.empty()) return Ok{};
  RECUR_ASSIGN(auto numbers, next_invoice_numbers(tx, issued.size()));
  for (std::size_t i = 0; i < issued.size(); ++i) {
    // As this transaction last stored it (update_invoice keeps the copy current).
    Invoice& inv = issued[i].invoice;
    inv.number = numbers[i];
    RECUR_TRY(set_invoice_number(tx, inv));
    Json shown = to_json(inv);
    // An invoice of 0 is issued paid: both events show it as issued.
    if (!issued[i].paid) {
      RECUR_TRY(events_.record(tx, "invoice.finalized", inv.id, events::Actor::system(), nullptr, std::move(shown)));
      continue;
    }
    RECUR_TRY(events_.record(tx, "invoice.finalized", inv.id, events::Actor::system(), nullptr, shown));
    RECUR_TRY(events_.record(tx, "invoice.paid", inv.id, events::Actor::system(), nullptr, std::move(shown),
                             {{"amount", 0}}));
  }
  return Ok{};
}

Result<std::int64_t> tax_rate_bp_for(db::Tx& tx, const subscriptions::Subscription& sub) {
  // The customer is read only when rates are configured.
  RECUR_ASSIGN(auto tax, load_tax(tx, false));
  if (!tax || tax->rates_bp.empty()) return std::int64_t{0};
  if (sub.shipping_address) return tax_rate_for(*tax, sub.shipping_address->country);  // where this box goes
  RECUR_ASSIGN(auto customer, customers::find_customer(tx, sub.customer));
  if (!customer) return tax_rate_for(*tax, std::nullopt);
  return tax_rate_bp_for_customer(tx, *customer);
}

Result<std::int64_t> tax_rate_bp_for_customer(db::Tx& tx, const customers::Customer& customer) {
  RECUR_ASSIGN(auto tax, load_tax(tx, false));
  if (!tax || tax->rates_bp.empty()) return std::int64_t{0};
  std::optional<std::string> country;
  if (customer.shipping_address) country = customer.shipping_address->country;
  return tax_rate_for(*tax, country);
}

recur::Status Invoicer::subscription_ended(db::Tx& tx, const subscriptions::Subscription& sub,
                                           const std::string& settling) {
  // An invoice this transaction issued is finalized before it can be voided (its events in
  // that order): the numbers are taken now, not at commit.
  RECUR_TRY(number_issued(tx));
  Timestamp now = sub.ended_at.value_or(clock_.now());
  RECUR_ASSIGN(auto open, open_invoices_of_subscription(tx, sub.id));
  for (const auto& id : open) {
    if (id == settling) continue;
    RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
    if (!found || found->status != InvoiceStatus::kOpen || found->collection_ended) continue;
    Invoice inv = std::move(*found);
    RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
    if (!in_flight) {
      RECUR_TRY(void_ended(tx, events_, inv, now));
      RECUR_TRY(update_invoice(tx, inv));
      continue;
    }
    // The gateway may have taken the money already: the invoice stays open until the next
    // run asks again with the same key (next_attempt_at is kept); its answer closes it.
    Json before = to_json(inv);
    inv.collection_ended = true;
    inv.updated = now;
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "invoice.collection_ended", inv.id, events::Actor::system(), std::move(before),
                             to_json(inv), {{"reason", "subscription_canceled"}, {"payment_in_flight", in_flight->id}}));
  }
  return Ok{};
}

Result<bool> Invoicer::remove_pending_item(db::Tx& tx, const std::string& subscription, const std::string& id) {
  RECUR_ASSIGN(auto n,
               tx.exec("DELETE FROM pending_invoice_items WHERE id = $1 AND subscription_id = $2", {id, subscription}));
  return n == 1;
}

recur::Status Invoicer::add_pending_item(db::Tx& tx, const subscriptions::PendingItem& item, Timestamp created) {
  return insert_pending_invoice_item(tx, item, created);
}

Result<std::string> Invoicer::latest_invoice(db::Tx& tx, const std::string& subscription) {
  return latest_invoice_of(tx, subscription);
}

Result<Json> Invoicer::invoice_after_change(db::Tx& tx, const std::string& subscription, const std::string& before,
                                            const std::optional<subscriptions::NextPeriod>& next) {
  RECUR_ASSIGN(std::string latest, latest_invoice_of(tx, subscription));
  if (latest != before) {
    RECUR_ASSIGN(auto issued, find_invoice(tx, latest, false));
    if (issued) {  // shown as a draft: the preview issues nothing
      issued->status = InvoiceStatus::kDraft;
      issued->paid_at.reset();
      return upcoming_json(*issued);
    }
  }
  if (!next) return Json(nullptr);
  RECUR_ASSIGN(Invoice upcoming, upcoming_invoice(tx, *next));
  return upcoming_json(upcoming);
}

recur::Status void_ended(db::Tx& tx, events::Recorder& events, Invoice& inv, Timestamp now) {
  Json before = to_json(inv);
  inv.status = InvoiceStatus::kVoid;
  inv.next_attempt_at.reset();
  inv.updated = now;
  ++inv.version;
  return events.record(tx, "invoice.voided", inv.id, events::Actor::system(), std::move(before), to_json(inv),
                       {{"reason", "subscription_canceled"}});
}

}  // namespace recur::billing
