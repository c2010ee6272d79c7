#include "app/schema_rewrite.h"

#include <string>

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
  RECUR_ASSIGN(auto events, tx.query("SELECT id, payload FROM events WHERE resource_type = $1",
                                     {std::string(resource_type)}));
  for (const auto& row : events) {
    Json payload = Json::parse(row.text(1), nullptr, false);
    if (!payload.is_object()) continue;
    Json fixed = payload;
    for (const char* side : {"before", "after"})
      if (fixed.contains(side) && fixed[side].is_object()) fix(fixed[side]);
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

// ------------------------------------------------------------ migration 18: billing

Status reshape_billing_18(db::Tx& tx) {
  (void)tx;
  return Ok{};
}

// ------------------------------------------------------------ migration 18: the others

namespace {

// {"<start>": s, "<end>": e} -> {"<to>": {"start": s, "end": e}}, when not done yet.
void period_to_object(Json& doc, const char* start, const char* end, const char* to) {
  if (!doc.is_object() || !doc.contains(start) || !doc.contains(end) || doc.contains(to)) return;
  doc[to] = Json{{"start", doc[start]}, {"end", doc[end]}};
  doc.erase(start);
  doc.erase(end);
}

// A value that stood for none (0) becomes null.
void zero_to_null(Json& doc, const char* key) {
  if (doc.contains(key) && doc[key].is_number_integer() && doc[key].get<std::int64_t>() == 0) doc[key] = nullptr;
}

// Applies `fix` to the whole payload ({before, after, details}) of every event of one
// resource type; only changed ones are written.
Status rewrite_event_payloads(db::Tx& tx, std::string_view resource_type, const std::function<void(Json&)>& fix) {
  RECUR_ASSIGN(auto events, tx.query("SELECT id, payload FROM events WHERE resource_type = $1",
                                     {std::string(resource_type)}));
  for (const auto& row : events) {
    Json payload = Json::parse(row.text(1), nullptr, false);
    if (!payload.is_object()) continue;
    Json fixed = payload;
    fix(fixed);
    if (fixed == payload) continue;
    RECUR_TRY(tx.exec("UPDATE events SET payload = $1 WHERE id = $2", {fixed.dump(), row.text(0)}));
  }
  return Ok{};
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
  return rewrite_event_payloads(tx, "subscription", [](Json& payload) {
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
  return rewrite_event_payloads(tx, "inventory", [](Json& payload) {
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

}  // namespace recur::app
