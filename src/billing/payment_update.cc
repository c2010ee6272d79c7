// Update-payment tokens: issue (hash only), look up, use once.
#include "billing/payment_update.h"

#include "billing/collector.h"

#include <algorithm>
#include <map>

#include "billing/store.h"
#include "platform/digest.h"
#include "platform/ids.h"

namespace recur::billing {
namespace {

// One answer for unknown, expired and used tokens: the caller learns nothing about which.
Error token_invalid() {
  return Error::not_found("payment_update_token_invalid", "this payment-update link is not valid (unknown, expired or used)");
}

db::Value optional_text(const std::optional<std::string>& text) {
  return text ? db::Value(*text) : db::Value(nullptr);
}

// A token that is neither used nor expired, and what it was issued for.
struct LiveToken {
  std::string customer;
  Timestamp expires_at = 0;
  std::optional<std::string> invoice;
};

Result<std::optional<LiveToken>> live_token(db::Tx& tx, const std::string& token, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT customer_id, expires_at, invoice_id FROM payment_update_tokens"
                                   " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                                   {sha256_hex(token), now}));
  if (rows.empty()) return std::optional<LiveToken>{};
  LiveToken t{rows[0].text(0), rows[0].int64(1), std::nullopt};
  if (!rows[0].is_null(2)) t.invoice = rows[0].text(2);
  return std::optional<LiveToken>{std::move(t)};
}

}  // namespace

std::string new_payment_update_token() { return random_token(24); }

recur::Status issue_payment_update_token(db::Tx& tx, const std::string& token, const PaymentUpdateGrant& grant,
                                         Timestamp now, std::int64_t ttl_seconds) {
  RECUR_TRY(tx.exec("INSERT INTO payment_update_tokens (token_hash, customer_id, invoice_id, payment_method_id,"
                    " created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    {sha256_hex(token), grant.customer, optional_text(grant.invoice), optional_text(grant.payment_method),
                     now, now + ttl_seconds}));
  return Ok{};
}

Json to_json(const PaymentUpdateView& v) {
  Json due = Json::array();
  for (const auto& a : v.amount_due) due.push_back({{"amount", a.amount}, {"currency", a.currency}});
  Json waiting = Json::array();
  for (const auto& p : v.action_required)
    waiting.push_back({{"payment", p.id},
                       {"invoice", p.invoice},
                       {"amount", p.amount},
                       {"currency", p.currency},
                       {"gateway", p.gateway},
                       {"gateway_reference", p.gateway_reference},
                       {"url", text_or_null(p.action_url)}});
  Json documents = Json::array();
  for (const auto& d : v.documents)
    documents.push_back({{"invoice", d.invoice},
                         {"status", to_string(d.status)},
                         {"amount_due", d.amount_due},
                         {"currency", d.currency},
                         {"document", to_json(d.document)}});
  return Json{{"object", "payment_update"},
              {"customer", v.customer},
              {"customer_name", v.customer_name},
              {"amount_due", std::move(due)},
              {"invoices", v.invoices},
              {"action_required", std::move(waiting)},
              {"documents", std::move(documents)},
              {"expires_at", format_rfc3339(v.expires_at)}};
}

Json to_json(const PaymentUpdateResult& r) {
  Json invoices = Json::array();
  int paid = 0;
  for (const auto& i : r.invoices) {
    if (i.status == InvoiceStatus::kPaid) ++paid;
    invoices.push_back({{"id", i.id}, {"status", to_string(i.status)}, {"amount_due", i.amount_due}, {"currency", i.currency}});
  }
  return Json{{"object", "payment_update_result"},
              {"payment_method", customers::to_public_json(r.payment_method, true)},
              {"retry", {{"invoices", std::move(invoices)},
                         {"paid", paid},
                         {"still_open", static_cast<int>(r.invoices.size()) - paid}}}};
}

Result<PaymentUpdateView> PaymentUpdates::lookup(const std::string& token) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<PaymentUpdateView> {
    RECUR_ASSIGN(auto live, live_token(tx, token, now));
    if (!live) return token_invalid();
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, live->customer));
    if (!customer) return token_invalid();  // erased since
    PaymentUpdateView v{customer->id, customer->name, {}, {}, live->expires_at};
    RECUR_ASSIGN(auto shop_profile, load_shop(tx, false));
    const ShopProfile shop = shop_profile.value_or(ShopProfile{});
    auto add_page = [&](const Invoice& inv) {
      v.documents.push_back({inv.id, inv.status, amount_due(inv), inv.currency, invoice_document(inv, shop, customer)});
    };
    RECUR_ASSIGN(auto ids, open_invoices_of(tx, customer->id));
    if (live->invoice && std::find(ids.begin(), ids.end(), *live->invoice) == ids.end()) {
      RECUR_ASSIGN(auto inv, find_invoice(tx, *live->invoice, false));
      if (inv && inv->customer == customer->id) add_page(*inv);
    }
    std::map<std::string, std::int64_t> due;  // by currency
    for (const auto& id : ids) {
      RECUR_ASSIGN(auto inv, find_invoice(tx, id, false));
      if (!inv) continue;
      v.invoices.push_back(inv->id);
      due[inv->currency] += amount_due(*inv);
      add_page(*inv);
      RECUR_ASSIGN(auto waiting, pending_payment(tx, id));
      // Not for an ended subscription's invoice: its payment would only be refunded.
      if (waiting && waiting->status == PaymentStatus::kRequiresAction && !inv->collection_ended)
        v.action_required.push_back(std::move(*waiting));
    }
    for (const auto& [currency, amount] : due) v.amount_due.push_back({amount, currency});
    return v;
  }, db::TxMode::kReadOnly);
}

Result<std::string> PaymentUpdates::invoice_of(const std::string& token, const std::string& invoice) {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::string> {
    RECUR_ASSIGN(auto live, live_token(tx, token, now));
    if (!live) return token_invalid();
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, live->customer));
    if (!customer) return token_invalid();  // erased since, as lookup answers
    RECUR_ASSIGN(auto inv, find_invoice(tx, invoice, false));
    // Another customer's invoice is answered as one that does not exist.
    if (!inv || inv->customer != live->customer) return invoice_not_found(invoice);
    return inv->id;
  }, db::TxMode::kReadOnly);
}

Result<PaymentUpdates::Claim> PaymentUpdates::claim(const std::string& token_hash, Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Claim> {
    // The conditional update is the single-use guarantee: of two requests at once, the
    // second finds used_at set (PostgreSQL re-checks the row after the first commits).
    RECUR_ASSIGN(auto rows, tx.query("UPDATE payment_update_tokens SET used_at = $2"
                                     " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
                                     " RETURNING customer_id",
                                     {token_hash, now}));
    if (rows.empty()) return token_invalid();
    Claim c{rows[0].text(0), {}};
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, c.customer));
    if (!customer) return token_invalid();  // rolls the claim back
    RECUR_ASSIGN(c.open_invoices, open_invoices_of(tx, c.customer));
    return c;
  });
}

void PaymentUpdates::release(const std::string& token_hash, Timestamp claimed_at) {
  // Only our own claim: nobody else can have used the token while it was marked used.
  (void)db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_TRY(tx.exec("UPDATE payment_update_tokens SET used_at = NULL WHERE token_hash = $1 AND used_at = $2",
                      {token_hash, claimed_at}));
    return Ok{};
  });
}

Result<PaymentUpdateResult> PaymentUpdates::apply(const PaymentUpdateInput& in) {
  const std::string token_hash = sha256_hex(in.token);
  const Timestamp now = clock_.now();
  RECUR_ASSIGN(Claim claim, this->claim(token_hash, now));
  const events::Actor actor{"customer", claim.customer, "payment_update_token", in.request_id, in.source_ip};
  customers::AttachInput attach{in.gateway, in.payment_method, true};
  // A new default payment method: CustomerService's listener charges the open invoices
  // (oldest first) before this returns.
  auto attached = customers_.attach_payment_method(claim.customer, attach, actor);
  if (!attached.ok()) {
    release(token_hash, now);
    return std::move(attached).error();
  }
  // The customer's own link also pays what was sent to them to pay (send_invoice).
  (void)collector_.retry_customer(claim.customer, true);
  PaymentUpdateResult result{*attached, {}};
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    for (const auto& id : claim.open_invoices) {
      RECUR_ASSIGN(auto inv, find_invoice(tx, id, false));
      if (inv) result.invoices.push_back({inv->id, inv->status, amount_due(*inv), inv->currency});
    }
    return Ok{};
  }, db::TxMode::kReadOnly));
  return result;
}

}  // namespace recur::billing
