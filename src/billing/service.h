// Billing's reads and settings: invoices, payments, refunds, credit notes and runs as
// stored, the tax, dunning and dispute settings, and voiding an invoice by hand. The use cases that
// move money or time live in their own classes (billing.h lists them).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "billing/document.h"
#include "billing/disputes.h"
#include "billing/model.h"
#include "billing/store.h"
#include "events/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::billing {


struct DunningPatch {
  std::optional<std::vector<std::int64_t>> retry_days;
  std::optional<FinalAction> final_action;
  std::optional<DunningMode> mode;
};

// A change of the shop's profile: each field given replaces the stored one (null clears
// address, email and tax_id).
struct ShopPatch {
  std::optional<std::string> name;
  std::optional<std::optional<customers::Address>> address;
  std::optional<std::string> email;   // "" clears
  std::optional<std::string> tax_id;  // "" clears
};

class BillingService {
 public:
  BillingService(db::Database& db, const Clock& clock, IdGenerator& ids)
      : db_(db), clock_(clock), events_(ids, clock) {}

  Result<Invoice> get_invoice(const std::string& id);
  Result<Page<Invoice>> list_invoices(const InvoiceFilter& filter);
  // The invoice of the subscription's latest billed period; none when there is none.
  Result<std::optional<Invoice>> latest_invoice(const std::string& subscription);
  // Voids an open or uncollectible invoice; refused while a charge of it awaits its answer.
  Result<Invoice> void_invoice(const std::string& id, const events::Actor& actor);
  Result<Payment> get_payment(const std::string& id);
  Result<Page<Payment>> list_payments(const PaymentFilter& filter);
  Result<Page<BillingRun>> list_runs(const ListParams& page);

  Result<Dispute> get_dispute(const std::string& id);
  Result<Refund> get_refund(const std::string& id);
  Result<Page<Refund>> list_refunds(const RefundFilter& filter);
  Result<CreditNote> get_credit_note(const std::string& id);
  Result<Page<CreditNote>> list_credit_notes(const RefundFilter& filter);

  Result<TaxSettings> tax();
  // Replaces the whole table of rates; applies to invoices made afterwards.
  Result<TaxSettings> update_tax(std::map<std::string, std::int64_t> rates, std::int64_t expected_version,
                                 const events::Actor& actor);
  // The shop's name and address as invoice PDFs show them (defaults until first saved).
  Result<ShopProfile> shop();
  Result<ShopProfile> update_shop(const ShopPatch& patch, std::int64_t expected_version, const events::Actor& actor);
  Result<DunningSettings> dunning();
  Result<DunningSettings> update_dunning(const DunningPatch& patch, std::int64_t expected_version,
                                         const events::Actor& actor);
  // What a new dispute does to its subscription (decision 0021); applies to disputes opened afterwards.
  Result<DisputeSettings> dispute_settings();
  Result<DisputeSettings> update_dispute_settings(DisputeOnOpen on_open, std::int64_t expected_version,
                                                  const events::Actor& actor);

 private:
  db::Database& db_;
  const Clock& clock_;
  events::Recorder events_;
};

}  // namespace recur::billing
