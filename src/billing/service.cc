// Billing's reads and settings.
#include "billing/service.h"
#include "billing/dispute_store.h"
#include "platform/ids.h"

namespace recur::billing {

Result<std::optional<Invoice>> BillingService::latest_invoice(const std::string& subscription) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Invoice>> {
    RECUR_ASSIGN(std::string id, latest_invoice_of(tx, subscription));
    if (id.empty()) return std::optional<Invoice>();
    return find_invoice(tx, id, false);
  }, db::TxMode::kReadOnly);
}

Result<Invoice> BillingService::get_invoice(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, false));
    if (!found) return invoice_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Invoice>> BillingService::list_invoices(const InvoiceFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return billing::list_invoices(tx, filter); }, db::TxMode::kReadOnly);
}

Result<Invoice> BillingService::void_invoice(const std::string& id, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Invoice> {
    RECUR_ASSIGN(auto found, find_invoice(tx, id, true));
    if (!found) return invoice_not_found(id);
    Invoice inv = std::move(*found);
    if (inv.status != InvoiceStatus::kOpen && inv.status != InvoiceStatus::kUncollectible)
      return Error::conflict("invoice_not_voidable", "invoice " + id + " is " + std::string(to_string(inv.status)) +
                                                         "; only open or uncollectible invoices can be voided");
    RECUR_ASSIGN(auto in_flight, pending_payment(tx, id));
    if (in_flight)
      return Error::conflict("payment_in_flight", "a charge of invoice " + id +
                                                      " awaits the gateway's answer; try again once it is recorded");
    Json before = to_json(inv);
    inv.status = InvoiceStatus::kVoid;
    inv.next_attempt_at.reset();
    inv.updated = clock_.now();
    ++inv.version;
    RECUR_TRY(update_invoice(tx, inv));
    RECUR_TRY(events_.record(tx, "invoice.voided", inv.id, actor, std::move(before), to_json(inv)));
    return inv;
  });
}

Result<Payment> BillingService::get_payment(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Payment> {
    RECUR_ASSIGN(auto found, find_payment(tx, id));
    if (!found) return Error::not_found("payment_not_found", no_object_message("payment", "pay", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Payment>> BillingService::list_payments(const PaymentFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return billing::list_payments(tx, filter); }, db::TxMode::kReadOnly);
}

Result<Page<BillingRun>> BillingService::list_runs(const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) { return billing::list_runs(tx, page); },
                      db::TxMode::kReadOnly);
}

Result<TaxSettings> BillingService::tax() {
  return db::transact(db_, [&](db::Tx& tx) -> Result<TaxSettings> {
    RECUR_ASSIGN(auto found, load_tax(tx, false));
    return found.value_or(TaxSettings{});
  }, db::TxMode::kReadOnly);
}

Result<TaxSettings> BillingService::update_tax(std::map<std::string, std::int64_t> rates, std::int64_t expected_version,
                                               const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<TaxSettings> {
    RECUR_ASSIGN(auto found, load_tax(tx, true));
    TaxSettings s = found.value_or(TaxSettings{});
    if (s.version != expected_version) return version_conflict("the tax settings", expected_version, s.version);
    Json before = to_json(s);
    s.rates_bp = std::move(rates);
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_tax(tx, s, found.has_value()));
    RECUR_TRY(events_.record(tx, "settings.tax_updated", "tax", actor, std::move(before), to_json(s)));
    return s;
  });
}

Result<ShopProfile> BillingService::shop() {
  return db::transact(db_, [&](db::Tx& tx) -> Result<ShopProfile> {
    RECUR_ASSIGN(auto found, load_shop(tx, false));
    return found.value_or(ShopProfile{});
  }, db::TxMode::kReadOnly);
}

Result<ShopProfile> BillingService::update_shop(const ShopPatch& patch, std::int64_t expected_version,
                                                const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<ShopProfile> {
    RECUR_ASSIGN(auto found, load_shop(tx, true));
    ShopProfile s = found.value_or(ShopProfile{});
    if (s.version != expected_version) return version_conflict("the shop settings", expected_version, s.version);
    Json before = to_json(s);
    if (patch.name) s.name = *patch.name;
    if (patch.address) s.address = *patch.address;
    if (patch.email) s.email = *patch.email;
    if (patch.tax_id) s.tax_id = *patch.tax_id;
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_shop(tx, s, found.has_value()));
    RECUR_TRY(events_.record(tx, "settings.shop_updated", "shop", actor, std::move(before), to_json(s)));
    return s;
  });
}

Result<DunningSettings> BillingService::dunning() {
  return db::transact(db_, [&](db::Tx& tx) { return load_dunning(tx, false); }, db::TxMode::kReadOnly);
}

Result<DunningSettings> BillingService::update_dunning(const DunningPatch& patch, std::int64_t expected_version,
                                                       const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<DunningSettings> {
    RECUR_ASSIGN(bool stored, lock_dunning(tx));
    RECUR_ASSIGN(DunningSettings s, load_dunning(tx, false));
    if (s.version != expected_version) return version_conflict("the dunning settings", expected_version, s.version);
    Json before = to_json(s);
    if (patch.retry_days) s.retry_days = *patch.retry_days;
    if (patch.final_action) s.final_action = *patch.final_action;
    if (patch.mode) s.mode = *patch.mode;
    RECUR_TRY(validate(s));
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_dunning(tx, s, stored));
    RECUR_TRY(events_.record(tx, "settings.dunning_updated", "dunning", actor, std::move(before), to_json(s)));
    return s;
  });
}

Result<Dispute> BillingService::get_dispute(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Dispute> {
    RECUR_ASSIGN(auto found, find_dispute(tx, id));
    if (!found) return Error::not_found("dispute_not_found", no_object_message("dispute", "dp", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<DisputeSettings> BillingService::dispute_settings() {
  return db::transact(db_, [&](db::Tx& tx) { return load_dispute_settings(tx); }, db::TxMode::kReadOnly);
}

Result<DisputeSettings> BillingService::update_dispute_settings(DisputeOnOpen on_open, std::int64_t expected_version,
                                                                const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<DisputeSettings> {
    RECUR_ASSIGN(bool stored, lock_dispute_settings(tx));
    RECUR_ASSIGN(DisputeSettings s, load_dispute_settings(tx));
    if (s.version != expected_version)
      return version_conflict("the dispute settings", expected_version, s.version);
    Json before = to_json(s);
    s.on_open = on_open;
    ++s.version;
    s.updated = clock_.now();
    RECUR_TRY(save_dispute_settings(tx, s, stored));
    RECUR_TRY(events_.record(tx, "settings.disputes_updated", "disputes", actor, std::move(before), to_json(s)));
    return s;
  });
}

Result<Refund> BillingService::get_refund(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Refund> {
    RECUR_ASSIGN(auto found, find_refund(tx, id, false));
    if (!found) return Error::not_found("refund_not_found", no_object_message("refund", "re", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Refund>> BillingService::list_refunds(const RefundFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return billing::list_refunds(tx, filter); }, db::TxMode::kReadOnly);
}

Result<CreditNote> BillingService::get_credit_note(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<CreditNote> {
    RECUR_ASSIGN(auto found, find_credit_note(tx, id));
    if (!found) return Error::not_found("credit_note_not_found", no_object_message("credit note", "cn", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<CreditNote>> BillingService::list_credit_notes(const RefundFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return billing::list_credit_notes(tx, filter); }, db::TxMode::kReadOnly);
}

}  // namespace recur::billing
