// Billing SQL.
#include "billing/store.h"

#include <fmt/format.h>

#include <algorithm>

#include "platform/db/list_query.h"
#include "platform/db/tx_memo.h"

namespace recur::billing {
namespace {

db::Value time_or_null(std::optional<Timestamp> t) { return t ? db::Value(*t) : db::Value(nullptr); }

// The first row's document, parsed; none when there is no row.
template <typename T>
Result<std::optional<T>> one_doc(db::Tx& tx, const std::string& sql, const db::Params& params,
                                 T (*from_doc)(const Json&)) {
  RECUR_ASSIGN(auto rows, tx.query(sql, params));
  if (rows.empty()) return std::optional<T>();
  return std::optional<T>(from_doc(Json::parse(rows[0].text(0))));
}

using Filters = std::vector<std::pair<const char*, std::optional<std::string>>>;

// A cursor page of `table`'s documents, newest first.
template <typename T>
Result<Page<T>> list_docs(db::Tx& tx, const std::string& table, const Filters& filters,
                          const std::vector<std::string>& statuses, const ListParams& page, T (*from_doc)(const Json&)) {
  db::ListQuery query("SELECT doc FROM " + table);
  for (const auto& [column, value] : filters) query.where_equal(column, value);
  query.where_in("status", statuses);
  RECUR_ASSIGN(auto rows, query.fetch(tx, page));
  return page_of(rows, page.limit, [from_doc](const db::Row& r) { return from_doc(Json::parse(r.text(0))); });
}

}  // namespace

Result<bool> insert_invoice(db::Tx& tx, const Invoice& inv, std::int64_t period_seq, const std::string& request_key) {
  // A key lives kRequestKeyLifetime (decision 0009): an older invoice gives it up.
  RECUR_TRY(db::release_stale_request_key(tx, "invoices", request_key, inv.created));
  auto null_if_empty = [](const std::string& s) { return s.empty() ? db::Value(nullptr) : db::Value(s); };
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO invoices (id, number, subscription_id, customer_id, period_seq, status,"
                               " next_attempt_at, created_at, version, doc, request_key)"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                               " ON CONFLICT (subscription_id, period_seq) DO NOTHING",
                               {inv.id, null_if_empty(inv.number), null_if_empty(inv.subscription), inv.customer,
                                period_seq, std::string(to_string(inv.status)), time_or_null(inv.next_attempt_at),
                                inv.created, inv.version, to_json(inv).dump(), null_if_empty(request_key)}));
  return n == 1;
}

Result<std::optional<Invoice>> find_invoice_by_request(db::Tx& tx, const std::string& request_key, Timestamp now) {
  return one_doc(tx, "SELECT doc FROM invoices WHERE request_key = $1 AND created_at >= $2",
                 {request_key, now - db::kRequestKeyLifetime}, invoice_from_doc);
}

recur::Status update_invoice(db::Tx& tx, const Invoice& inv, std::optional<Timestamp> held_until) {
  RECUR_ASSIGN(auto n,
               tx.exec("UPDATE invoices SET number = $2, status = $3, next_attempt_at = $4, version = $5, doc = $6"
                       " WHERE id = $1",
                       {inv.id, inv.number.empty() ? db::Value(nullptr) : db::Value(inv.number),
                        std::string(to_string(inv.status)), time_or_null(held_until ? held_until : inv.next_attempt_at),
                        inv.version, to_json(inv).dump()}));
  if (n != 1) return Error::internal("invoice " + inv.id + " vanished while being updated");
  // Issued by this transaction and not numbered yet: numbered as it is now.
  for (auto& u : tx.local<UnnumberedInvoices>())
    if (u.invoice.id == inv.id) u.invoice = inv;
  return Ok{};
}

Result<std::optional<Invoice>> find_invoice(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM invoices WHERE id = $1";
  if (for_update) sql += tx.for_update();
  return one_doc(tx, sql, {id}, invoice_from_doc);
}

Result<std::string> latest_invoice_of(db::Tx& tx, const std::string& subscription) {
  // One this very transaction issued (numbered at its commit) is the latest, the last issued first.
  const auto& unnumbered = tx.local<UnnumberedInvoices>();
  for (auto it = unnumbered.rbegin(); it != unnumbered.rend(); ++it)
    if (it->invoice.subscription == subscription) return it->invoice.id;
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM invoices WHERE subscription_id = $1"
                                   // Numbers are given in the order invoices are issued (gapless,
                                   // under one lock): the highest is the latest, whatever the clocks.
                                   " ORDER BY (number IS NULL), LENGTH(number) DESC, number DESC LIMIT 1",
                                   {subscription}));
  return rows.empty() ? std::string() : rows[0].text(0);
}

Result<Page<Invoice>> list_invoices(db::Tx& tx, const InvoiceFilter& f) {
  return list_docs(tx, "invoices", {{"subscription_id", f.subscription}, {"customer_id", f.customer}, {"number", f.number}},
                   f.statuses, f.page, invoice_from_doc);
}

Result<std::vector<std::string>> claim_due_invoices(db::Tx& tx, Timestamp now, int limit, Timestamp lease_until) {
  if (tx.engine() == db::Engine::kPostgres) {
    // One round trip: lock the due rows no one else holds and push them out by the lease.
    RECUR_ASSIGN(auto rows, tx.query(
        "UPDATE invoices SET next_attempt_at = $3 WHERE id IN ("
        "SELECT id FROM invoices WHERE status = 'open' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1"
        " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id",
        {now, std::int64_t{limit}, lease_until}));
    std::vector<std::string> ids;
    ids.reserve(rows.size());
    for (const auto& r : rows) ids.push_back(r.text(0));
    std::sort(ids.begin(), ids.end());  // RETURNING has no order; ids are time-ordered
    return ids;
  }
  std::string sql =
      "SELECT id FROM invoices WHERE status = 'open' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1"
      " ORDER BY next_attempt_at, id LIMIT $2";
  if (tx.engine() == db::Engine::kPostgres) sql += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto rows, tx.query(sql, {now, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& r : rows) {
    ids.push_back(r.text(0));
    // Only the column moves: the document keeps the real schedule for readers.
    RECUR_TRY(tx.exec("UPDATE invoices SET next_attempt_at = $2 WHERE id = $1", {ids.back(), lease_until}));
  }
  return ids;
}

recur::Status release_invoice_claim(db::Tx& tx, const std::string& id, Timestamp held_until) {
  RECUR_ASSIGN(auto inv, find_invoice(tx, id, true));
  if (!inv || inv->status != InvoiceStatus::kOpen || !inv->next_attempt_at) return Ok{};
  RECUR_TRY(tx.exec("UPDATE invoices SET next_attempt_at = $2 WHERE id = $1 AND next_attempt_at = $3",
                    {id, *inv->next_attempt_at, held_until}));
  return Ok{};
}

Result<PeriodPayment> period_payment(db::Tx& tx, const std::string& subscription, std::int64_t period_seq) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, status FROM invoices WHERE subscription_id = $1 AND period_seq = $2",
                                   {subscription, period_seq}));
  if (rows.empty()) return PeriodPayment{};
  return PeriodPayment{rows[0].text(0), rows[0].text(1) == to_string(InvoiceStatus::kPaid)};
}

Result<std::int64_t> count_due_invoices(db::Tx& tx, Timestamp now) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM invoices WHERE status = 'open' AND next_attempt_at <= $1", {now}));
  return rows.at(0).int64(0);
}

namespace {

// Ids of the open invoices whose `column` is `value`, oldest first.
Result<std::vector<std::string>> open_invoices_where(db::Tx& tx, std::string_view column, const std::string& value) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM invoices WHERE " + std::string(column) +
                                       " = $1 AND status = 'open' ORDER BY id",
                                   {value}));
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.text(0));
  return ids;
}

}  // namespace

Result<std::vector<std::string>> open_invoices_of(db::Tx& tx, const std::string& customer) {
  return open_invoices_where(tx, "customer_id", customer);
}

Result<std::vector<std::string>> open_invoices_of_subscription(db::Tx& tx, const std::string& subscription) {
  return open_invoices_where(tx, "subscription_id", subscription);
}

Result<std::int64_t> count_other_open_invoices(db::Tx& tx, const std::string& subscription, const std::string& except) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM invoices WHERE subscription_id = $1 AND status = 'open'"
                                   " AND id <> $2",
                                   {subscription, except}));
  return rows.at(0).int64(0);
}

Result<std::optional<Timestamp>> next_attempt_due(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT MIN(next_attempt_at) FROM invoices WHERE status = 'open'"));
  if (rows.empty() || rows[0].is_null(0)) return std::optional<Timestamp>();
  return std::optional<Timestamp>(rows[0].int64(0));
}

namespace {

// One row holds each counter; its row lock orders concurrent writers, and a rollback
// returns the numbers, so numbers have no gaps. `count` numbers at once, in order.
Result<std::vector<std::string>> next_numbers(db::Tx& tx, const std::string& sequence, std::string_view prefix,
                                              std::size_t count) {
  std::vector<std::string> numbers;
  if (count == 0) return numbers;
  const auto n = static_cast<std::int64_t>(count);
  RECUR_ASSIGN(auto rows, tx.query("UPDATE invoice_numbers SET next_value = next_value + $2 WHERE name = $1"
                                   " RETURNING next_value - $2",
                                   {sequence, n}));
  if (rows.empty()) return Error::internal("the " + sequence + " number sequence is missing");
  const std::int64_t first = rows[0].int64(0);
  for (std::int64_t i = 0; i < n; ++i) numbers.push_back(fmt::format("{}-{:06d}", prefix, first + i));
  return numbers;
}

Result<std::string> next_number(db::Tx& tx, const std::string& sequence, std::string_view prefix) {
  RECUR_ASSIGN(auto numbers, next_numbers(tx, sequence, prefix, 1));
  return numbers.at(0);
}

}  // namespace

Result<std::string> next_invoice_number(db::Tx& tx) { return next_number(tx, "invoice", "INV"); }
Result<std::string> next_credit_note_number(db::Tx& tx) { return next_number(tx, "credit_note", "CN"); }
Result<std::vector<std::string>> next_invoice_numbers(db::Tx& tx, std::size_t count) {
  return next_numbers(tx, "invoice", "INV", count);
}

recur::Status set_invoice_number(db::Tx& tx, const Invoice& inv) {
  return tx.exec_later("UPDATE invoices SET number = $2, doc = $3 WHERE id = $1",
                       {inv.id, inv.number, to_json(inv).dump()});
}

recur::Status insert_refund(db::Tx& tx, const Refund& r, const std::string& request_key) {
  RECUR_TRY(db::release_stale_request_key(tx, "refunds", request_key, r.created));
  RECUR_TRY(tx.exec("INSERT INTO refunds (id, invoice_id, customer_id, status, created_at, doc, request_key)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    {r.id, r.invoice, r.customer, std::string(to_string(r.status)), r.created, to_json(r).dump(),
                     request_key.empty() ? db::Value(nullptr) : db::Value(request_key)}));
  return Ok{};
}

Result<std::optional<Refund>> find_refund_by_request(db::Tx& tx, const std::string& request_key, Timestamp now) {
  return one_doc(tx, "SELECT doc FROM refunds WHERE request_key = $1 AND created_at >= $2",
                 {request_key, now - db::kRequestKeyLifetime}, refund_from_doc);
}

Result<std::optional<Payment>> find_payment_by_request(db::Tx& tx, const std::string& request_key, Timestamp now) {
  return one_doc(tx, "SELECT doc FROM payments WHERE request_key = $1 AND created_at >= $2",
                 {request_key, now - db::kRequestKeyLifetime}, payment_from_doc);
}

recur::Status update_refund(db::Tx& tx, const Refund& r) {
  RECUR_TRY(tx.exec("UPDATE refunds SET status = $2, doc = $3 WHERE id = $1",
                    {r.id, std::string(to_string(r.status)), to_json(r).dump()}));
  return Ok{};
}

Result<std::optional<Refund>> find_refund(db::Tx& tx, const std::string& id, bool for_update) {
  std::string sql = "SELECT doc FROM refunds WHERE id = $1";
  if (for_update) sql += tx.for_update();
  return one_doc(tx, sql, {id}, refund_from_doc);
}

Result<std::vector<Refund>> pending_refunds_of(db::Tx& tx, const std::string& invoice) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM refunds WHERE invoice_id = $1 AND status = 'pending' ORDER BY id",
                                   {invoice}));
  std::vector<Refund> out;
  for (const auto& r : rows) out.push_back(refund_from_doc(Json::parse(r.text(0))));
  return out;
}

Result<std::vector<std::string>> pending_refunds(db::Tx& tx, Timestamp created_before, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id FROM refunds WHERE status = 'pending' AND created_at <= $1"
                                   " ORDER BY created_at, id LIMIT $2",
                                   {created_before, std::int64_t{limit}}));
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.text(0));
  return ids;
}

recur::Status insert_credit_note(db::Tx& tx, const CreditNote& n) {
  RECUR_TRY(tx.exec("INSERT INTO credit_notes (id, number, invoice_id, customer_id, created_at, doc)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    {n.id, n.number, n.invoice, n.customer, n.created, to_json(n).dump()}));
  return Ok{};
}

Result<std::optional<CreditNote>> find_credit_note(db::Tx& tx, const std::string& id) {
  return one_doc(tx, "SELECT doc FROM credit_notes WHERE id = $1", {id}, credit_note_from_doc);
}

Result<Page<Refund>> list_refunds(db::Tx& tx, const RefundFilter& f) {
  return list_docs(tx, "refunds", {{"invoice_id", f.invoice}, {"customer_id", f.customer}}, {}, f.page, refund_from_doc);
}

Result<Page<CreditNote>> list_credit_notes(db::Tx& tx, const RefundFilter& f) {
  return list_docs(tx, "credit_notes", {{"invoice_id", f.invoice}, {"customer_id", f.customer}}, {}, f.page,
                   credit_note_from_doc);
}

namespace {
db::Value text_or_null(const std::string& text) { return text.empty() ? db::Value(nullptr) : db::Value(text); }
}  // namespace

recur::Status insert_payment(db::Tx& tx, const Payment& p, const std::string& request_key) {
  RECUR_TRY(db::release_stale_request_key(tx, "payments", request_key, p.created));
  RECUR_TRY(tx.exec("INSERT INTO payments (id, invoice_id, customer_id, attempt, status, idempotency_key, created_at, doc,"
                    " charge_id, request_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    {p.id, p.invoice, p.customer, p.attempt, std::string(to_string(p.status)), p.idempotency_key,
                     p.created, to_json(p).dump(), text_or_null(p.gateway_reference), text_or_null(request_key)}));
  return Ok{};
}

recur::Status update_payment(db::Tx& tx, const Payment& p) {
  // action_expires_at only while the charge waits: the run's deadline looks at no other.
  const bool waits = p.status == PaymentStatus::kRequiresAction && p.action_expires_at;
  RECUR_TRY(tx.exec("UPDATE payments SET status = $2, doc = $3, charge_id = $4, action_expires_at = $5 WHERE id = $1",
                    {p.id, std::string(to_string(p.status)), to_json(p).dump(), text_or_null(p.gateway_reference),
                     waits ? db::Value(*p.action_expires_at) : db::Value(nullptr)}));
  return Ok{};
}

Result<std::optional<Payment>> find_payment_by_key(db::Tx& tx, const std::string& idempotency_key) {
  return one_doc(tx, "SELECT doc FROM payments WHERE idempotency_key = $1", {idempotency_key}, payment_from_doc);
}

Result<std::optional<Payment>> find_payment_by_charge(db::Tx& tx, const std::string& gateway_reference) {
  // The column keeps its first name (migration 14); the document calls it gateway_reference.
  return one_doc(tx, "SELECT doc FROM payments WHERE charge_id = $1 ORDER BY id LIMIT 1", {gateway_reference},
                 payment_from_doc);
}

Result<bool> claim_gateway_event(db::Tx& tx, const std::string& gateway, const std::string& event_id,
                                 const std::string& type, Timestamp now) {
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO gateway_events (gateway, event_id, type, received_at, outcome)"
                               " VALUES ($1, $2, $3, $4, 'received') ON CONFLICT (gateway, event_id) DO NOTHING",
                               {gateway, event_id, type, now}));
  return n == 1;
}

recur::Status set_gateway_event_outcome(db::Tx& tx, const std::string& gateway, const std::string& event_id,
                                        const std::string& outcome, const std::string& resource) {
  RECUR_TRY(tx.exec("UPDATE gateway_events SET outcome = $3, resource_id = $4 WHERE gateway = $1 AND event_id = $2",
                    {gateway, event_id, outcome, text_or_null(resource)}));
  return Ok{};
}

Result<std::optional<Payment>> pending_payment(db::Tx& tx, const std::string& invoice) {
  return one_doc(tx,
                 "SELECT doc FROM payments WHERE invoice_id = $1 AND status IN ('pending', 'requires_action')"
                 " ORDER BY attempt DESC LIMIT 1",
                 {invoice}, payment_from_doc);
}

Result<std::vector<Payment>> payments_waiting_expired(db::Tx& tx, Timestamp now, int limit) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM payments WHERE action_expires_at <= $1"
                                   " AND status = 'requires_action' ORDER BY action_expires_at, id LIMIT $2",
                                   {now, static_cast<std::int64_t>(limit)}));
  std::vector<Payment> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(payment_from_doc(Json::parse(row.text(0))));
  return out;
}

Result<std::optional<Timestamp>> next_waiting_expiry(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT MIN(action_expires_at) FROM payments WHERE status = 'requires_action'"));
  if (rows.empty() || rows[0].is_null(0)) return std::optional<Timestamp>();
  return std::optional<Timestamp>(rows[0].int64(0));
}

Result<std::optional<Payment>> find_payment(db::Tx& tx, const std::string& id) {
  return one_doc(tx, "SELECT doc FROM payments WHERE id = $1", {id}, payment_from_doc);
}

Result<Page<Payment>> list_payments(db::Tx& tx, const PaymentFilter& f) {
  return list_docs(tx, "payments", {{"invoice_id", f.invoice}, {"customer_id", f.customer}}, f.statuses, f.page,
                   payment_from_doc);
}

Result<DunningSettings> load_dunning(db::Tx& tx, bool for_update) {
  std::string sql = "SELECT doc FROM billing_settings WHERE name = 'dunning'";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql));
  if (rows.empty()) return DunningSettings{};
  return dunning_from_doc(Json::parse(rows[0].text(0)));
}

Result<bool> lock_dunning(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT 1 FROM billing_settings WHERE name = 'dunning'" + std::string(tx.for_update())));
  return !rows.empty();
}

Result<bool> insert_reminder(db::Tx& tx, const std::string& key, const std::string& subscription,
                             std::string_view kind, Timestamp due_at, Timestamp now) {
  RECUR_ASSIGN(auto n, tx.exec("INSERT INTO reminders (key, subscription_id, kind, due_at, created_at)"
                               " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
                               {key, subscription.empty() ? db::Value(nullptr) : db::Value(subscription),
                                std::string(kind), due_at, now}));
  return n == 1;
}

Result<std::set<std::pair<std::string, Timestamp>>> claimed_renewal_reminders(
    db::Tx& tx, const std::vector<std::string>& subscriptions) {
  std::set<std::pair<std::string, Timestamp>> claimed;
  if (subscriptions.empty()) return claimed;
  std::string sql = "SELECT subscription_id, due_at FROM reminders WHERE kind = 'renewal' AND subscription_id IN (";
  db::Params params;
  for (const auto& id : subscriptions) {
    params.emplace_back(id);
    sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
  }
  RECUR_ASSIGN(auto rows, tx.query(sql + ")", params));
  for (const auto& r : rows) claimed.emplace(r.text(0), r.int64(1));
  return claimed;
}

recur::Status save_dunning(db::Tx& tx, const DunningSettings& s, bool existed) {
  if (existed)
    RECUR_TRY(tx.exec("UPDATE billing_settings SET doc = $1 WHERE name = 'dunning'", {to_json(s).dump()}));
  else
    RECUR_TRY(tx.exec("INSERT INTO billing_settings (name, doc) VALUES ('dunning', $1)", {to_json(s).dump()}));
  return Ok{};
}

Result<std::optional<ShopProfile>> load_shop(db::Tx& tx, bool for_update) {
  std::string sql = "SELECT doc FROM billing_settings WHERE name = 'shop'";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql));
  if (rows.empty()) return std::optional<ShopProfile>();
  return std::optional<ShopProfile>(shop_from_doc(Json::parse(rows[0].text(0))));
}

recur::Status save_shop(db::Tx& tx, const ShopProfile& s, bool existed) {
  if (existed) RECUR_TRY(tx.exec("UPDATE billing_settings SET doc = $1 WHERE name = 'shop'", {to_json(s).dump()}));
  else RECUR_TRY(tx.exec("INSERT INTO billing_settings (name, doc) VALUES ('shop', $1)", {to_json(s).dump()}));
  return Ok{};
}

namespace {
struct TaxTag;  // every invoice reads the shop's tax settings: once a transaction (TxMemo)
using TxTax = db::TxMemo<TaxTag, std::optional<TaxSettings>>;
}  // namespace

Result<std::optional<TaxSettings>> load_tax(db::Tx& tx, bool for_update) {
  if (!for_update)
    if (const auto* mine = TxTax::find(tx, "")) return *mine;
  std::string sql = "SELECT doc FROM billing_settings WHERE name = 'tax'";
  if (for_update) sql += tx.for_update();
  RECUR_ASSIGN(auto rows, tx.query(sql));
  std::optional<TaxSettings> tax;
  if (!rows.empty()) tax = tax_from_doc(Json::parse(rows[0].text(0)));
  TxTax::put(tx, "", tax);
  return tax;
}

recur::Status save_tax(db::Tx& tx, const TaxSettings& s, bool existed) {
  TxTax::forget(tx, "");
  if (existed) RECUR_TRY(tx.exec("UPDATE billing_settings SET doc = $1 WHERE name = 'tax'", {to_json(s).dump()}));
  else RECUR_TRY(tx.exec("INSERT INTO billing_settings (name, doc) VALUES ('tax', $1)", {to_json(s).dump()}));
  return Ok{};
}

Result<std::vector<InvoiceLine>> take_pending_items(db::Tx& tx, const std::string& subscription, bool keep,
                                                    std::vector<std::string>* ids) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, description, amount, quantity, period_start, period_end, proration"
                                   " FROM pending_invoice_items WHERE subscription_id = $1 ORDER BY created_at, id",
                                   {subscription}));
  std::vector<InvoiceLine> lines;
  std::vector<std::string> read;
  for (const auto& r : rows) {
    lines.push_back({r.text(1), r.int64(2), r.int64(3), {r.int64(4), r.int64(5)}, r.boolean(6)});
    read.push_back(r.text(0));
  }
  // Exactly the rows read: an item another transaction adds meanwhile (a credit note, a
  // backorder credit) waits for the next invoice rather than vanishing uninvoiced.
  if (!keep) RECUR_TRY(delete_pending_items(tx, read));
  if (ids) *ids = std::move(read);
  return lines;
}

recur::Status delete_pending_items(db::Tx& tx, const std::vector<std::string>& ids) {
  for (const auto& id : ids) RECUR_TRY(tx.exec("DELETE FROM pending_invoice_items WHERE id = $1", {id}));
  return Ok{};
}

recur::Status insert_pending_invoice_item(db::Tx& tx, const subscriptions::PendingItem& i, Timestamp created) {
  RECUR_TRY(tx.exec("INSERT INTO pending_invoice_items (id, subscription_id, description, amount, currency, quantity,"
                    " period_start, period_end, proration, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    {i.id, i.subscription, i.description, i.amount, i.currency, i.quantity, i.period.start,
                     i.period.end, std::int64_t{i.proration}, created}));
  return Ok{};
}

Result<Page<BillingRun>> list_runs(db::Tx& tx, const ListParams& page) {
  RECUR_ASSIGN(auto rows,
               db::ListQuery("SELECT doc FROM billing_runs").created_column("started_at").doc_column("").fetch(tx, page));
  return page_of(rows, page.limit, [](const db::Row& r) { return run_from_doc(Json::parse(r.text(0))); });
}

recur::Status insert_run(db::Tx& tx, const BillingRun& r) {
  RECUR_TRY(tx.exec("INSERT INTO billing_runs (id, started_at, doc) VALUES ($1, $2, $3)",
                    {r.id, r.started, to_json(r).dump()}));
  return Ok{};
}

Result<DunningCounts> dunning_counts(db::Tx& tx) {
  DunningCounts out;
  for (const char* status : {"past_due", "unpaid", "incomplete"}) {
    RECUR_ASSIGN(auto rows, tx.query("SELECT COUNT(*) FROM subscriptions WHERE status = $1", {std::string(status)}));
    out.subscriptions.emplace_back(status, rows.at(0).int64(0));
  }
  RECUR_ASSIGN(auto open,
               tx.query("SELECT COUNT(*) FROM invoices WHERE status = 'open' AND next_attempt_at IS NOT NULL"));
  out.invoices_retrying = open.at(0).int64(0);
  return out;
}

}  // namespace recur::billing
