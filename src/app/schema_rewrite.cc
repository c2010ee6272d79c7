#include "app/schema_rewrite.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "analytics/service.h"
#include "billing/failure_codes.h"
#include "catalog/model.h"
#include "gateways/exchange.h"
#include "privacy/privacy.h"
#include "subscriptions/subscription.h"

namespace recur::app {

Status rewrite_documents(db::Tx& tx, std::string_view table, std::string_view resource_type,
                         const std::function<void(Json&)>& fix) {
  const std::string name(table);
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM " + name));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object()) continue;
    Json fixed = doc;
    fix(fixed);
    if (fixed == doc) continue;
    RECUR_TRY(tx.exec("UPDATE " + name + " SET doc = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  return rewrite_event_payloads(tx, resource_type, [&fix](std::string_view, Json& payload) {
    for (const char* side : {"before", "after"})
      if (payload.contains(side) && payload[side].is_object()) fix(payload[side]);
  });
}

Status rewrite_event_payloads(db::Tx& tx, std::string_view resource_type,
                              const std::function<void(std::string_view type, Json& payload)>& fix) {
  RECUR_ASSIGN(auto events, tx.query("SELECT id, type, payload FROM events WHERE resource_type = $1",
                                     {std::string(resource_type)}));
  for (const auto& row : events) {
    Json payload = Json::parse(row.text(2), nullptr, false);
    if (!payload.is_object()) continue;
    Json fixed = payload;
    fix(row.text(1), fixed);
    if (fixed == payload) continue;
    RECUR_TRY(tx.exec("UPDATE events SET payload = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  return Ok{};
}

void rename_key(Json& doc, const char* from, const char* to) {
  if (!doc.contains(from) || doc.contains(to)) return;
  doc[to] = std::move(doc[from]);
  doc.erase(from);
}

void period_to_object(Json& doc, const char* start, const char* end, const char* to) {
  if (!doc.is_object() || !doc.contains(start) || !doc.contains(end) || doc.contains(to)) return;
  doc[to] = Json{{"start", std::move(doc[start])}, {"end", std::move(doc[end])}};
  doc.erase(start);
  doc.erase(end);
}

Status fill_created_at(db::Tx& tx, std::string_view table) {
  const std::string name(table);
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM " + name + " WHERE created_at IS NULL"));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object() || !doc.contains("created")) continue;
    RECUR_TRY(tx.exec("UPDATE " + name + " SET created_at = $1 WHERE id = $2",
                      {doc_required_time(doc, "created"), row.text(0)}));
  }
  return Ok{};
}

Status fill_tracking_numbers(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM shipments WHERE tracking_number IS NULL"));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    if (!doc.is_object() || !doc.value("tracking_number", Json()).is_string()) continue;
    RECUR_TRY(tx.exec("UPDATE shipments SET tracking_number = $1 WHERE id = $2",
                      {doc["tracking_number"].get<std::string>(), row.text(0)}));
  }
  return Ok{};
}

Status fill_scheduled_trial_ends(db::Tx& tx) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT s.id, s.doc, p.doc FROM subscriptions s JOIN plans p ON p.id = s.plan_id"
                                   " WHERE s.status = 'scheduled'"));
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(1), nullptr, false);
    Json plan = Json::parse(row.text(2), nullptr, false);
    if (!doc.is_object() || !plan.is_object()) continue;
    Json days = plan.value("trial_days", Json());
    if (!doc.value("trial_end", Json()).is_null() || !days.is_number_integer() || days.get<std::int64_t>() <= 0) continue;
    // What the binary before gave it at its start: start + the (current) plan's trial_days.
    auto start = parse_rfc3339(doc.value("start_date", std::string()));
    if (!start) continue;
    doc["trial_end"] = format_rfc3339(*start + days.get<std::int64_t>() * kSecondsPerDay);
    RECUR_TRY(tx.exec("UPDATE subscriptions SET doc = $1 WHERE id = $2", {doc.dump(), row.text(0)}));
  }
  return Ok{};
}

// ------------------------------------------------------------ migration 21: shipments' invoices

namespace {

// What migration 21 knows of one shipment's invoice.
struct BoxInvoice {
  std::optional<std::string> invoice;
  bool paid = false;                 // now (the column, just filled)
  std::optional<Timestamp> paid_at;  // when the invoice was paid

  // Whether the box was paid for at `at`: nothing to pay, or paid by then.
  bool paid_as_of(Timestamp at) const { return !invoice || (paid && (!paid_at || *paid_at <= at)); }
};

// Adds what `copy` (a shipment's document, or a copy of it) lacks; `paid` as it stands.
void add_invoice(Json& copy, const BoxInvoice& box, bool paid) {
  if (!copy.contains("invoice")) copy["invoice"] = box.invoice ? Json(*box.invoice) : Json(nullptr);
  if (!copy.contains("paid")) copy["paid"] = paid;
}

Result<std::map<std::string, BoxInvoice>> box_invoices(db::Tx& tx) {
  std::map<std::string, BoxInvoice> out;
  RECUR_ASSIGN(auto rows, tx.query("SELECT s.id, s.invoice_id, s.paid, i.doc FROM shipments s"
                                   " LEFT JOIN invoices i ON i.id = s.invoice_id"));
  for (const auto& row : rows) {
    BoxInvoice& box = out[row.text(0)];
    box.invoice = row.opt_text(1);
    box.paid = row.boolean(2);
    if (auto doc = row.opt_text(3)) {
      Json invoice = Json::parse(*doc, nullptr, false);
      if (invoice.is_object()) box.paid_at = doc_time(invoice, "paid_at");
    }
  }
  return out;
}

}  // namespace

Status fill_shipment_invoices(db::Tx& tx) {
  // Set-based, in the SQL both engines accept; billing::period_payment's rule.
  RECUR_TRY(tx.exec("UPDATE shipments SET invoice_id = (SELECT i.id FROM invoices i"
                    " WHERE i.subscription_id = shipments.subscription_id AND i.period_seq = shipments.period_seq)"
                    " WHERE invoice_id IS NULL"));
  RECUR_TRY(tx.exec("UPDATE shipments SET paid = CASE WHEN invoice_id IS NULL THEN 1"
                    " WHEN invoice_id IN (SELECT id FROM invoices WHERE status = 'paid') THEN 1 ELSE 0 END"));
  RECUR_ASSIGN(auto boxes, box_invoices(tx));
  // The events' copies first, each as of its event; rewrite_documents then finds them done.
  RECUR_ASSIGN(auto events, tx.query("SELECT id, resource_id, created_at, payload FROM events"
                                     " WHERE resource_type = 'shipment'"));
  for (const auto& row : events) {
    auto box = boxes.find(row.text(1));
    Json payload = Json::parse(row.text(3), nullptr, false);
    if (box == boxes.end() || !payload.is_object()) continue;
    Json fixed = payload;
    for (const char* side : {"before", "after"})
      if (fixed.contains(side) && fixed[side].is_object())
        add_invoice(fixed[side], box->second, box->second.paid_as_of(row.int64(2)));
    if (fixed == payload) continue;
    RECUR_TRY(tx.exec("UPDATE events SET payload = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  return rewrite_documents(tx, "shipments", "shipment", [&boxes](Json& doc) {
    auto box = boxes.find(doc.value("id", std::string()));
    if (box != boxes.end()) add_invoice(doc, box->second, box->second.paid);
  });
}

// ------------------------------------------------------------ migration 18: billing

namespace {

bool has_text(const Json& doc, const char* key) { return doc.contains(key) && doc[key].is_string(); }

// A discount source packed in one string ("promotion_code:promo_1") -> {"type", "id"}; an
// empty string -> null. An object (the new shape) or null stays as it is.
void unpack_discount_source(Json& doc, const char* key) {
  if (!has_text(doc, key)) return;
  const std::string packed = doc[key];
  auto colon = packed.find(':');
  if (packed.empty()) doc[key] = nullptr;
  else if (colon != std::string::npos)
    doc[key] = subscriptions::to_json(subscriptions::DiscountSource{packed.substr(0, colon), packed.substr(colon + 1)});
}

// The members of the envelope a document lacked: no metadata, and the version its changes
// imply (`changed`: at least one after it was made; the exact count was never stored).
void add_envelope(Json& doc, bool changed) {
  if (!doc.contains("metadata")) doc["metadata"] = Json::object();
  if (!doc.contains("updated") && doc.contains("created")) doc["updated"] = doc["created"];
  if (!doc.contains("version")) doc["version"] = changed ? 2 : 1;
}

void reshape_invoice(Json& doc) {
  period_to_object(doc, "period_start", "period_end", "period");
  rename_key(doc, "next_payment_attempt", "next_attempt_at");
  unpack_discount_source(doc, "discount_source");
  if (doc.contains("lines") && doc["lines"].is_array())
    for (auto& line : doc["lines"]) period_to_object(line, "period_start", "period_end", "period");
}

void reshape_payment(Json& doc) {
  rename_key(doc, "charge_id", "gateway_reference");
  // Inserted pending (or failed at once without a payment method), then changed by each
  // answer of the gateway recorded.
  const bool answered = doc.value("status", "") == "pending"
                            ? has_text(doc, "failure_code") || has_text(doc, "gateway_reference")
                            : doc.value("failure_code", Json()) != "no_payment_method";
  add_envelope(doc, answered);
}

// `gateways`: the gateway of each payment a refund gives money back on.
void reshape_refund(Json& doc, const std::map<std::string, std::string>& gateways) {
  rename_key(doc, "gateway_refund_id", "gateway_reference");
  if (!doc.contains("gateway")) {
    auto it = gateways.find(doc.value("payment", ""));
    doc["gateway"] = it == gateways.end() ? Json(nullptr) : Json(it->second);
  }
  const bool answered = doc.value("status", "") != "pending" || has_text(doc, "failure_code") ||
                        has_text(doc, "gateway_reference");
  add_envelope(doc, answered);
}

// A subscription's discount: its source as {type, id}, and null for the kind of amount that
// does not apply (percent_off of an amount off; amount_off and currency of a percentage).
void reshape_discount(Json& sub) {
  if (!sub.contains("discount") || !sub["discount"].is_object()) return;
  Json& d = sub["discount"];
  unpack_discount_source(d, "source");
  const bool amount = d.contains("amount_off") && d["amount_off"].is_number() && d["amount_off"] > 0;
  if (amount) {
    d["percent_off"] = nullptr;
  } else {
    d["amount_off"] = nullptr;
    d["currency"] = nullptr;
  }
}

// The payload's member `key` when it is an object; nullptr otherwise (nothing to fix).
Json* object_in(Json& payload, const char* key) {
  return payload.contains(key) && payload[key].is_object() ? &payload[key] : nullptr;
}

// The gateway of every payment that a refund names.
Result<std::map<std::string, std::string>> refunded_payment_gateways(db::Tx& tx) {
  std::map<std::string, std::string> gateways;
  RECUR_ASSIGN(auto refunds, tx.query("SELECT doc FROM refunds"));
  for (const auto& row : refunds) {
    Json doc = Json::parse(row.text(0), nullptr, false);
    if (doc.is_object() && has_text(doc, "payment")) gateways.emplace(doc["payment"].get<std::string>(), "");
  }
  for (auto& [payment, gateway] : gateways) {
    RECUR_ASSIGN(auto rows, tx.query("SELECT doc FROM payments WHERE id = $1", {payment}));
    if (rows.empty()) continue;
    Json doc = Json::parse(rows[0].text(0), nullptr, false);
    if (doc.is_object() && has_text(doc, "gateway")) gateway = doc["gateway"].get<std::string>();
  }
  std::erase_if(gateways, [](const auto& entry) { return entry.second.empty(); });
  return gateways;
}

// A payment's or refund's failure code as the gateway gave it becomes its gateway_failure_code,
// and failure_code Recur's name for it (`name` is charge_failure_code or
// refund_failure_code). Billing's own no_payment_method stays. Done once: a document with a
// gateway_failure_code is left as it is.
void name_failure_code(Json& doc, std::string (*name)(std::string_view, bool)) {
  if (!doc.is_object() || doc.contains("gateway_failure_code")) return;
  const Json code = doc.value("failure_code", Json());
  if (!code.is_string() || code == "no_payment_method") {
    doc["gateway_failure_code"] = nullptr;
    return;
  }
  doc["gateway_failure_code"] = code;
  doc["failure_code"] = name(code.get<std::string>(), doc.value("status", "") != "pending");
}

// A payment method's copy in an event: its card's brand in Recur's names.
void name_card_brand(Json* method) {
  if (!method) return;
  Json* card = object_in(*method, "card");
  if (card && card->contains("brand") && (*card)["brand"].is_string())
    (*card)["brand"] = gateways::card_brand((*card)["brand"].get<std::string>());
}

}  // namespace

Status add_dispute_amounts_33(db::Tx& tx) {
  return rewrite_documents(tx, "invoices", "invoice", [](Json& doc) {
    if (!doc.is_object()) return;
    if (!doc.contains("amount_disputed")) doc["amount_disputed"] = 0;
    if (!doc.contains("amount_disputed_lost")) doc["amount_disputed_lost"] = 0;
  });
}

namespace {

// `table`.`column` (declared "<column> TEXT NOT NULL") may be NULL from now on.
Status drop_not_null(db::Tx& tx, const std::string& table, const std::string& column) {
  if (tx.engine() == db::Engine::kPostgres) {
    RECUR_TRY(tx.exec("ALTER TABLE " + table + " ALTER COLUMN " + column + " DROP NOT NULL"));
    return Ok{};
  }
  // SQLite's documented way (https://sqlite.org/lang_altertable.html#otheralter): a new
  // table of the new definition, the rows copied, the old one dropped, the new one renamed,
  // the indexes made again. The definition is the stored one (every ADD COLUMN is in it),
  // with only the constraint taken out; the columns keep their order, so SELECT * copies.
  RECUR_ASSIGN(auto defined, tx.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1", {table}));
  if (defined.empty()) return Error::internal("migration 37: no table " + table);
  std::string sql = defined[0].text(0);
  const std::string from = column + " TEXT NOT NULL";
  const auto at = sql.find(from);
  if (at == std::string::npos) return Ok{};  // done before
  sql.replace(at, from.size(), column + " TEXT");
  const auto open = sql.find('(');
  if (open == std::string::npos) return Error::internal("migration 37: cannot read the definition of " + table);
  sql.replace(0, open, "CREATE TABLE " + table + "_37 ");
  RECUR_ASSIGN(auto indexes, tx.query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
                                      " AND sql IS NOT NULL ORDER BY name",
                                      {table}));
  RECUR_TRY(tx.exec(sql));
  RECUR_TRY(tx.exec("INSERT INTO " + table + "_37 SELECT * FROM " + table));
  RECUR_TRY(tx.exec("DROP TABLE " + table));
  RECUR_TRY(tx.exec("ALTER TABLE " + table + "_37 RENAME TO " + table));
  for (const auto& index : indexes) RECUR_TRY(tx.exec(index.text(0)));
  return Ok{};
}

}  // namespace

Status one_off_invoices_37(db::Tx& tx) {
  RECUR_TRY(drop_not_null(tx, "invoices", "subscription_id"));
  RECUR_TRY(drop_not_null(tx, "analytics_invoices", "subscription_id"));
  return rewrite_documents(tx, "invoices", "invoice", [](Json& doc) {
    if (!doc.is_object()) return;
    if (!doc.contains("collection_method")) doc["collection_method"] = "charge_automatically";
    if (!doc.contains("due_date")) doc["due_date"] = nullptr;
  });
}

Status payment_method_types_38(db::Tx& tx) {
  return rewrite_event_payloads(tx, "customer", [](std::string_view, Json& payload) {
    if (!payload.is_object()) return;
    auto details = payload.find("details");
    if (details == payload.end() || !details->is_object()) return;
    auto pm = details->find("payment_method");
    if (pm == details->end() || !pm->is_object() || pm->contains("type")) return;
    (*pm)["type"] = "card";
    (*pm)["paypal"] = nullptr;
    (*pm)["venmo"] = nullptr;
  });
}

Status tiers_40(db::Tx& tx) {
  // Texts that are no tier's id (a second run finds none).
  RECUR_ASSIGN(auto rows, tx.query("SELECT tier, created_at, doc FROM plans WHERE tier IS NOT NULL"
                                   " AND tier NOT IN (SELECT id FROM tiers)"));
  if (rows.empty()) return Ok{};
  // Each text's first plan, and its dearest plan's price a month: the ranks follow the
  // prices (a dearer tier ranks higher), ties in the texts' byte order (the same on both
  // engines, whose collations differ).
  struct Text {
    double monthly = 0;
    std::string text;
    Timestamp first_created = 0;
  };
  std::map<std::string, Text> by_text;
  for (const auto& row : rows) {
    Json doc = Json::parse(row.text(2), nullptr, false);
    double monthly = 0;
    if (doc.is_object() && doc.contains("amount") && doc.contains("interval")) {
      const double count = std::max(1.0, doc.value("interval_count", 1.0));
      const std::string interval = doc.value("interval", "month");
      const double per_month = interval == "day"    ? 30.4375
                               : interval == "week" ? 30.4375 / 7
                               : interval == "year" ? 1.0 / 12
                                                    : 1.0;
      monthly = doc.value("amount", 0.0) * per_month / count;
    }
    auto [it, fresh] = by_text.try_emplace(row.text(0), Text{monthly, row.text(0), row.int64(1)});
    if (!fresh) {
      it->second.monthly = std::max(it->second.monthly, monthly);
      it->second.first_created = std::min(it->second.first_created, row.int64(1));
    }
  }
  std::vector<Text> texts;
  for (auto& [_, t] : by_text) texts.push_back(std::move(t));
  std::sort(texts.begin(), texts.end(),
            [](const Text& a, const Text& b) { return std::tie(a.monthly, a.text) < std::tie(b.monthly, b.text); });
  std::map<std::string, std::string> ids;  // the old text -> the tier's id
  std::set<std::string> taken;
  RECUR_ASSIGN(auto existing, tx.query("SELECT id FROM tiers"));
  for (const auto& row : existing) taken.insert(row.text(0));
  RECUR_ASSIGN(auto top, tx.query("SELECT COALESCE(MAX(rank), 0) FROM tiers"));
  std::int64_t rank = top.at(0).int64(0);
  // Steps of 10 (room to rank new tiers between), closer when that would pass the limit.
  const std::int64_t room = catalog::kMaxTierRank - rank;
  const std::int64_t step = std::min<std::int64_t>(10, room / static_cast<std::int64_t>(texts.size()));
  if (step < 1)
    return Error::internal("migration 40: too many tier texts to rank within " + std::to_string(catalog::kMaxTierRank));
  for (const auto& [monthly, text, first_created] : texts) {
    std::string slug;
    for (char c : text)
      if (std::isalnum(static_cast<unsigned char>(c)))
        slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      else if (!slug.empty() && slug.back() != '_')
        slug += '_';
    if (slug.size() > 40) slug.resize(40);
    if (slug.empty()) slug = "tier";
    std::string id = "tier_" + slug;
    for (int n = 2; taken.count(id); ++n) id = "tier_" + slug + "_" + std::to_string(n);
    taken.insert(id);
    ids[text] = id;
    rank += step;
    catalog::Tier tier;
    tier.id = id;
    tier.name = text;
    tier.rank = rank;
    tier.created = tier.updated = first_created;
    RECUR_TRY(tx.exec("INSERT INTO tiers (id, rank, version, doc, created_at) VALUES ($1, $2, 1, $3, $4)",
                      {id, rank, catalog::to_json(tier).dump(), tier.created}));
    RECUR_TRY(tx.exec("UPDATE plans SET tier = $1 WHERE tier = $2", {id, text}));
  }
  auto rename = [&ids](Json& list) {
    if (!list.is_array()) return;
    for (auto& t : list)
      if (t.is_string())
        if (auto it = ids.find(t.get<std::string>()); it != ids.end()) t = it->second;
  };
  RECUR_TRY(rewrite_documents(tx, "plans", "plan", [&ids](Json& doc) {
    auto t = doc.find("tier");
    if (t == doc.end() || !t->is_string()) return;
    if (auto it = ids.find(t->get<std::string>()); it != ids.end()) *t = it->second;
  }));
  RECUR_TRY(rewrite_documents(tx, "coupons", "coupon", [&rename](Json& doc) {
    if (doc.contains("applies_to_tiers")) rename(doc["applies_to_tiers"]);
  }));
  return rewrite_documents(tx, "subscriptions", "subscription", [&rename](Json& doc) {
    if (doc.contains("discount") && doc["discount"].is_object() && doc["discount"].contains("applies_to_tiers"))
      rename(doc["discount"]["applies_to_tiers"]);
  });
}

Status sequence_outboxes_34(db::Tx& tx) {
  const bool pg = tx.engine() == db::Engine::kPostgres;
  RECUR_ASSIGN(auto done, tx.query(pg ? "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                                        " AND table_name = 'event_outbox' AND column_name = 'seq'"
                                      : "SELECT 1 FROM pragma_table_info('event_outbox') WHERE name = 'seq'"));
  if (!done.empty()) return Ok{};
  // Nothing may enter or leave either outbox meanwhile (a node still serving): the copies
  // below would miss it. SQLite's write transaction holds the whole database already.
  if (pg) RECUR_TRY(tx.exec("LOCK TABLE event_outbox, stream_outbox IN ACCESS EXCLUSIVE MODE"));
  // One numbering over both, in the order the publisher used, (created_at, event_id): a newer
  // event may wait in the stream outbox while an older one still waits for fan-out.
  RECUR_TRY(tx.exec("CREATE TABLE outbox_order_34 (event_id TEXT PRIMARY KEY, seq BIGINT NOT NULL)"));
  RECUR_TRY(tx.exec("INSERT INTO outbox_order_34 (event_id, seq)"
                    " SELECT event_id, ROW_NUMBER() OVER (ORDER BY created_at, event_id) FROM"
                    " (SELECT event_id, created_at FROM stream_outbox UNION SELECT event_id, created_at FROM event_outbox) w"));
  RECUR_ASSIGN(auto numbered, tx.query("SELECT COUNT(*) FROM outbox_order_34"));
  const std::int64_t last = numbered.at(0).int64(0);
  // `table` made again with `columns` (seq among them), its rows' `copied` columns kept and
  // each row numbered as above.
  auto rebuild = [&](const std::string& table, const std::string& columns,
                     const std::vector<std::string>& copied) -> Status {
    std::string names, values;
    for (const auto& c : copied) {
      names += c + ", ";
      values += table + "." + c + ", ";
    }
    RECUR_TRY(tx.exec("CREATE TABLE " + table + "_34 (" + columns + ")"));
    RECUR_TRY(tx.exec("INSERT INTO " + table + "_34 (" + names + "seq) SELECT " + values + "o.seq FROM " + table +
                      " JOIN outbox_order_34 o ON o.event_id = " + table + ".event_id"));
    RECUR_TRY(tx.exec("DROP TABLE " + table));
    RECUR_TRY(tx.exec("ALTER TABLE " + table + "_34 RENAME TO " + table));
    return Ok{};
  };
  RECUR_TRY(rebuild("stream_outbox", "event_id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, seq BIGINT NOT NULL",
                    {"event_id", "created_at"}));
  RECUR_TRY(tx.exec("CREATE UNIQUE INDEX stream_outbox_order ON stream_outbox (seq)"));
  RECUR_TRY(rebuild("event_outbox",
                    std::string("seq ") + (pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT") +
                        ", event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL",
                    {"event_id", "type", "created_at"}));
  RECUR_TRY(tx.exec("DROP TABLE outbox_order_34"));
  // New events are numbered after every row waiting in either outbox, also when the event
  // outbox was empty (SQLite's counter follows only the rows copied into it).
  if (pg) {
    RECUR_TRY(tx.query("SELECT setval(pg_get_serial_sequence('event_outbox', 'seq'), $1, false)", {last + 1}));
  } else {
    RECUR_TRY(tx.exec("DELETE FROM sqlite_sequence WHERE name IN ('event_outbox', 'event_outbox_34')"));
    RECUR_TRY(tx.exec("INSERT INTO sqlite_sequence (name, seq) VALUES ('event_outbox', $1)", {last}));
  }
  return Ok{};
}

Status name_payment_codes_22(db::Tx& tx) {
  RECUR_TRY(rewrite_documents(tx, "payments", "payment",
                              [](Json& doc) { name_failure_code(doc, billing::charge_failure_code); }));
  RECUR_TRY(rewrite_documents(tx, "refunds", "refund",
                              [](Json& doc) { name_failure_code(doc, billing::refund_failure_code); }));
  RECUR_ASSIGN(auto methods, tx.query("SELECT id, brand FROM payment_methods"));
  for (const auto& row : methods) {
    std::string brand = gateways::card_brand(row.text(1));
    if (brand != row.text(1))
      RECUR_TRY(tx.exec("UPDATE payment_methods SET brand = $1 WHERE id = $2", {brand, row.text(0)}));
  }
  return rewrite_event_payloads(tx, "customer", [](std::string_view type, Json& payload) {
    if (type == "customer.payment_method_attached") {
      if (Json* details = object_in(payload, "details")) name_card_brand(object_in(*details, "payment_method"));
    } else if (type == "customer.payment_method_detached") {
      name_card_brand(object_in(payload, "before"));
    }
  });
}

Status reshape_billing_18(db::Tx& tx) {
  RECUR_TRY(rewrite_documents(tx, "invoices", "invoice", reshape_invoice));
  RECUR_TRY(rewrite_event_payloads(tx, "invoice", [](std::string_view, Json& payload) {
    if (Json* details = object_in(payload, "details")) rename_key(*details, "next_payment_attempt", "next_attempt_at");
  }));
  RECUR_TRY(rewrite_documents(tx, "payments", "payment", reshape_payment));
  RECUR_ASSIGN(auto gateways, refunded_payment_gateways(tx));
  RECUR_TRY(rewrite_documents(tx, "refunds", "refund", [&gateways](Json& doc) { reshape_refund(doc, gateways); }));
  // Credit notes never change: updated is when they were made.
  RECUR_TRY(rewrite_documents(tx, "credit_notes", "credit_note", [](Json& doc) { add_envelope(doc, false); }));
  RECUR_TRY(rewrite_documents(tx, "subscriptions", "subscription", reshape_discount));
  RECUR_TRY(rewrite_event_payloads(tx, "subscription", [](std::string_view type, Json& payload) {
    Json* details = object_in(payload, "details");
    if (!details) return;
    unpack_discount_source(*details, "discount_dropped");
    if (type != "subscription.discount_applied") return;
    unpack_discount_source(*details, "source");
    unpack_discount_source(*details, "replaced");
  }));
  // Payment methods have no document of their own (their columns got the envelope in the
  // SQL above), but the customer's events carry copies: the attached one in details, the
  // detached one as `before`. Neither had changed when it was copied.
  return rewrite_event_payloads(tx, "customer", [](std::string_view type, Json& payload) {
    Json* method = nullptr;
    if (type == "customer.payment_method_attached") {
      if (Json* details = object_in(payload, "details")) method = object_in(*details, "payment_method");
    } else if (type == "customer.payment_method_detached") {
      method = object_in(payload, "before");
    }
    if (method) add_envelope(*method, false);
  });
}

// ------------------------------------------------------------ migration 18: the others

namespace {

// A value that stood for none (0) becomes null.
void zero_to_null(Json& doc, const char* key) {
  if (doc.contains(key) && doc[key].is_number_integer() && doc[key].get<std::int64_t>() == 0) doc[key] = nullptr;
}

// The first column -> the second, for every row `sql` selects.
Result<std::map<std::string, std::string>> map_query(db::Tx& tx, const std::string& sql) {
  std::map<std::string, std::string> out;
  RECUR_ASSIGN(auto rows, tx.query(sql));
  for (const auto& row : rows) out[row.text(0)] = row.text(1);
  return out;
}

// Subscriptions: current_period_start/_end -> current_period {start, end}; the plan's
// currency beside current_period_amount. (Their discount is billing's part.)
Status reshape_subscriptions(db::Tx& tx) {
  std::map<std::string, std::string> currency_of;
  RECUR_ASSIGN(auto plans, map_query(tx, "SELECT id, doc FROM plans"));
  for (const auto& [id, doc] : plans) {
    Json plan = Json::parse(doc, nullptr, false);
    if (plan.is_object() && plan.contains("currency") && plan["currency"].is_string()) currency_of[id] = plan["currency"];
  }
  RECUR_TRY(rewrite_documents(tx, "subscriptions", "subscription", [&](Json& doc) {
    period_to_object(doc, "current_period_start", "current_period_end", "current_period");
    if (doc.contains("currency") || !doc.contains("plan") || !doc["plan"].is_string()) return;
    if (auto it = currency_of.find(doc["plan"].get<std::string>()); it != currency_of.end()) doc["currency"] = it->second;
  }));
  // The events' facts: a period's lifecycle event and a skip name their period; a plan
  // change carries its preview (lines, new period) and the period it started.
  return rewrite_event_payloads(tx, "subscription", [](std::string_view, Json& payload) {
    if (!payload.contains("details") || !payload["details"].is_object()) return;
    Json& details = payload["details"];
    period_to_object(details, "period_start", "period_end", "period");
    period_to_object(details, "new_period_start", "new_period_end", "new_period");
    // Preview lines take the preview's currency.
    if (details.contains("lines") && details["lines"].is_array())
      for (auto& line : details["lines"]) {
        period_to_object(line, "period_start", "period_end", "period");
        if (line.is_object() && details.contains("currency")) line.erase("currency");
      }
    if (details.contains("period_started")) period_to_object(details["period_started"], "period_start", "period_end", "period");
    if (details.contains("skipped") && details["skipped"].is_object()) {
      rename_key(details["skipped"], "period_start", "start");
      rename_key(details["skipped"], "period_end", "end");
    }
  });
}

// Products: price {amount, currency} -> flat amount and currency (both null without a price).
void flatten_price(Json& doc) {
  if (!doc.contains("price")) return;
  const Json price = doc["price"];
  doc.erase("price");
  if (doc.contains("amount")) return;
  doc["amount"] = price.is_object() ? price.value("amount", Json()) : Json();
  doc["currency"] = price.is_object() ? price.value("currency", Json()) : Json();
}

// Stock movements stored who asked as a bare string: "key_..." (an API key), "system" or
// "scheduler", the CLI's "cli" or operator name. Now the actor object, as JSON.
Status reshape_movement_actors(db::Tx& tx) {
  RECUR_ASSIGN(auto roles, map_query(tx, "SELECT id, role FROM api_keys"));
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, actor FROM stock_movements WHERE actor IS NOT NULL"));
  for (const auto& row : rows) {
    const std::string old = row.text(1);
    if (Json::parse(old, nullptr, false).is_object()) continue;  // already an object
    Json actor;
    if (old.starts_with("key_")) {
      auto role = roles.find(old);
      actor = {{"type", "api_key"}, {"id", old}, {"role", role != roles.end() ? Json(role->second) : Json()}};
    } else if (old == "system" || old == "scheduler") {
      actor = {{"type", "system"}, {"id", "scheduler"}, {"role", nullptr}};
    } else {
      actor = {{"type", "cli"}, {"id", old}, {"role", nullptr}};
    }
    RECUR_TRY(tx.exec("UPDATE stock_movements SET actor = $1 WHERE id = $2", {actor.dump(), row.text(0)}));
  }
  return Ok{};
}

// Inventory items in the events' before/after copies: a low_stock_threshold of 0 (none) is
// null. The level itself keeps 0 in its column; only the JSON says null.
Status reshape_inventory_events(db::Tx& tx) {
  return rewrite_event_payloads(tx, "inventory", [](std::string_view, Json& payload) {
    for (const char* side : {"before", "after"})
      if (payload.contains(side) && payload[side].is_object()) zero_to_null(payload[side], "low_stock_threshold");
  });
}

}  // namespace

Status reshape_others_18(db::Tx& tx) {
  RECUR_TRY(reshape_subscriptions(tx));
  RECUR_TRY(rewrite_documents(tx, "products", "product", flatten_price));
  // Plans: no trial and no renewal reminder are null, not 0.
  RECUR_TRY(rewrite_documents(tx, "plans", "plan", [](Json& doc) {
    zero_to_null(doc, "trial_days");
    zero_to_null(doc, "renewal_reminder_days");
  }));
  RECUR_TRY(reshape_movement_actors(tx));
  return reshape_inventory_events(tx);
}

Status reshape_dispute_events_20(db::Tx& tx) {
  return rewrite_event_payloads(tx, "payment", [](std::string_view type, Json& payload) {
    Json* details = type == "payment.disputed" ? object_in(payload, "details") : nullptr;
    if (!details) return;
    rename_key(*details, "charge", "gateway_reference");
    if (!details->contains("currency")) {  // {"amount": {"amount", "currency"} or null} -> flat
      Json money = details->value("amount", Json());
      (*details)["amount"] = money.is_object() ? money.value("amount", Json()) : Json();
      (*details)["currency"] = money.is_object() ? money.value("currency", Json()) : Json();
    }
  });
}

namespace {

// Seals every `doc` of `table` in place (rows written before encryption hold plain values).
Status seal_docs(db::Tx& tx, const std::string& table) {
  RECUR_ASSIGN(auto rows, tx.query("SELECT id, doc FROM " + table));
  for (const auto& row : rows) {
    auto doc = Json::parse(row.text(1));
    RECUR_TRY(privacy::seal_plain(tx, doc, row.text(0)));
    RECUR_TRY(tx.exec("UPDATE " + table + " SET doc = $2 WHERE id = $1", {row.text(0), doc.dump()}));
  }
  return Ok{};
}

}  // namespace

Status seal_personal_data_28(db::Tx& tx) {
  // Customers: the e-mail column held the address itself; it becomes its blind index.
  RECUR_ASSIGN(auto customers, tx.query("SELECT id, doc FROM customers"));
  for (const auto& row : customers) {
    auto doc = Json::parse(row.text(1));
    db::Value email = nullptr, phone = nullptr;
    if (auto e = doc_text(doc, "email"); e && !privacy::is_sealed(Json(*e))) {
      RECUR_ASSIGN(auto index, privacy::email_index(tx, *e));
      email = index;
    }
    if (auto p = doc_text(doc, "phone"); p && !privacy::is_sealed(Json(*p))) {
      RECUR_ASSIGN(auto index, privacy::phone_index(tx, *p));
      phone = index;
    }
    RECUR_TRY(privacy::seal_plain(tx, doc, row.text(0)));
    if (email.index() == 0 && phone.index() == 0 && doc.dump() == row.text(1)) continue;  // sealed already
    RECUR_TRY(tx.exec("UPDATE customers SET doc = $2, email_index = COALESCE($3, email_index),"
                      " phone_index = COALESCE($4, phone_index) WHERE id = $1",
                      {row.text(0), doc.dump(), email, phone}));
  }
  for (const char* table : {"subscriptions", "shipments", "notifications"}) RECUR_TRY(seal_docs(tx, table));
  RECUR_ASSIGN(auto events, tx.query("SELECT id, payload FROM events"));
  for (const auto& row : events) {
    auto payload = Json::parse(row.text(1), nullptr, false);
    if (!payload.is_object()) continue;
    const auto& after = payload.value("after", Json());
    auto owner = privacy::owner_of(after.is_object() ? after : payload.value("before", Json()), "");
    for (const char* part : {"before", "after"})
      if (payload.contains(part)) RECUR_TRY(privacy::seal_plain(tx, payload[part], row.text(0)));
    if (payload.contains("details"))
      RECUR_TRY(privacy::seal_plain(tx, payload["details"], row.text(0), "event_details", owner));
    RECUR_TRY(tx.exec("UPDATE events SET payload = $2 WHERE id = $1", {row.text(0), payload.dump()}));
  }
  // Stored answers live a day; those kept are sealed as new ones are (access/service.cc).
  RECUR_ASSIGN(auto answers, tx.query("SELECT key, body FROM idempotency_keys WHERE body IS NOT NULL"));
  for (const auto& row : answers) {
    if (privacy::is_sealed(Json(row.text(1)))) continue;
    auto doc = Json::parse(row.text(1), nullptr, false);
    std::string sealed;
    if (doc.is_structured()) {
      RECUR_TRY(privacy::seal_plain(tx, doc, row.text(0)));
      sealed = doc.dump();
    } else {
      RECUR_ASSIGN(sealed, privacy::seal_text(tx, row.text(1), row.text(0)));
    }
    RECUR_TRY(tx.exec("UPDATE idempotency_keys SET body = $2 WHERE key = $1", {row.text(0), sealed}));
  }
  return Ok{};
}

}  // namespace recur::app

namespace recur::app {

Status rebuild_analytics_31(db::Tx& tx) {
  RECUR_TRY(analytics::rebuild(tx));
  return Ok{};
}

}  // namespace recur::app
