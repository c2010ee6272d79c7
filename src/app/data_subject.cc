#include "app/data_subject.h"

#include "access/actor.h"
#include "access/model.h"
#include "app/app.h"
#include "billing/store.h"
#include "customers/store.h"
#include "events/store.h"
#include "inventory/store.h"
#include "notify/store.h"
#include "platform/http/rest.h"
#include "subscriptions/store.h"

namespace recur::app {
namespace {

constexpr int kPage = 100;

// Every item of a paged list, page by page (the lists page newest first by id).
template <typename T, typename Fetch, typename Render>
Result<Json> all_of(Fetch fetch, Render render) {
  Json out = Json::array();
  ListParams page;
  page.limit = kPage;
  while (true) {
    RECUR_ASSIGN(auto got, fetch(page));
    for (const auto& item : got.items) out.push_back(render(item));
    if (!got.has_more || got.items.empty()) return out;
    page.starting_after = got.items.back().id;
  }
}

// A payment method as the export shows it: what identifies the card to its holder, not the
// gateway's token.
Json exported(const customers::PaymentMethod& pm) {
  return Json{{"id", pm.id},
              {"object", "payment_method"},
              {"gateway", pm.gateway},
              {"type", pm.type},
              {"card", customers::card_json(pm)},
              {"paypal", customers::wallet_json(pm, "paypal")},
              {"venmo", customers::wallet_json(pm, "venmo")},
              {"detached", pm.detached},
              {"created", format_rfc3339(pm.created)}};
}

// The audit entry of a data-subject request about `customer_id`: who, when, from where;
// never what was read or erased.
audit::Entry data_subject_entry(const events::Actor& actor, const std::string& customer_id, std::string action) {
  audit::Entry e;
  e.actor_type = audit::actor_kind(actor.type, actor.role);
  e.actor_id = actor.id;
  e.actor_role = actor.role;
  e.request_id = actor.request_id;
  e.source_ip = actor.source_ip;
  e.resource_type = "customer";
  e.resource_id = customer_id;
  e.action = std::move(action);
  return e;
}

}  // namespace

Result<Json> export_customer(App& app, const std::string& id, const events::Actor& actor) {
  return db::transact(app.database(), [&](db::Tx& tx) -> Result<Json> {
    RECUR_ASSIGN(auto customer, customers::find_customer(tx, id));
    if (!customer) return Error::not_found("customer_not_found", no_object_message("customer", "cus", id));
    // A read of everything about a person is recorded, in the transaction that reads it.
    RECUR_TRY(app.audit().add_entry(tx, data_subject_entry(actor, id, "customer.exported")));
    Json doc = {{"object", "customer_export"}, {"customer", customers::to_json(*customer)}};
    doc["generated"] = format_rfc3339(app.clock().now());
    doc["consents"] = Json{{"marketing", customer->marketing_consent
                                             ? customers::to_json(*customer->marketing_consent)
                                             : Json(nullptr)},
                           {"sms_opt_in", customer->sms_opt_in}};
    RECUR_ASSIGN(doc["payment_methods"], all_of<customers::PaymentMethod>(
        [&](const ListParams& p) { return customers::list_payment_methods(tx, id, p); }, exported));
    // With detached ones too: the list above shows attached methods only.
    RECUR_ASSIGN(doc["subscriptions"], all_of<subscriptions::Subscription>(
        [&](const ListParams& p) { return subscriptions::list(tx, subscriptions::ListFilter{id, {}, {}, p}); },
        [](const subscriptions::Subscription& s) { return subscriptions::to_json(s); }));
    for (auto& sub : doc["subscriptions"]) {
      ListParams p;
      p.limit = kPage;
      Json history = Json::array();
      while (true) {
        RECUR_ASSIGN(auto page, events::list_for_resource(tx, sub.at("id"), p));
        for (const auto& e : page.items) history.push_back(events::to_json(e));
        if (!page.has_more || page.items.empty()) break;
        p.starting_after = page.items.back().id;
      }
      sub["history"] = std::move(history);
    }
    RECUR_ASSIGN(doc["invoices"], all_of<billing::Invoice>(
        [&](const ListParams& p) { return billing::list_invoices(tx, billing::InvoiceFilter{{}, id, {}, {}, p}); },
        [](const billing::Invoice& i) { return billing::to_json(i); }));
    RECUR_ASSIGN(doc["payments"], all_of<billing::Payment>(
        [&](const ListParams& p) { return billing::list_payments(tx, billing::PaymentFilter{{}, id, {}, p}); },
        [](const billing::Payment& x) { return billing::to_json(x); }));
    RECUR_ASSIGN(doc["refunds"], all_of<billing::Refund>(
        [&](const ListParams& p) { return billing::list_refunds(tx, billing::RefundFilter{{}, id, p}); },
        [](const billing::Refund& r) { return billing::to_json(r); }));
    RECUR_ASSIGN(doc["credit_notes"], all_of<billing::CreditNote>(
        [&](const ListParams& p) { return billing::list_credit_notes(tx, billing::RefundFilter{{}, id, p}); },
        [](const billing::CreditNote& n) { return billing::to_json(n); }));
    RECUR_ASSIGN(doc["shipments"], all_of<inventory::Shipment>(
        [&](const ListParams& p) {
          inventory::ShipmentFilter f;
          f.customer = id;
          f.page = p;
          return inventory::list_shipments(tx, f);
        },
        [](const inventory::Shipment& s) { return inventory::to_json(s); }));
    RECUR_ASSIGN(doc["notifications"], all_of<notify::Notification>(
        [&](const ListParams& p) {
          notify::ListFilter f;
          f.customer = id;
          f.page = p;
          return notify::list(tx, f);
        },
        [](const notify::Notification& n) { return notify::to_json(n); }));
    return doc;
  });
}

namespace {

// Whether the customer can be erased now: none of their subscriptions is live and, with
// `ended_by`, the last one ended at or before it. Inside the erasing transaction, after the
// customer's row is locked (a subscription's creation locks it too).
Result<bool> erasable(db::Tx& tx, const std::string& id, std::optional<Timestamp> ended_by) {
  ListParams p;
  p.limit = kPage;
  while (true) {
    RECUR_ASSIGN(auto page, subscriptions::list(tx, subscriptions::ListFilter{id, {}, {}, p}));
    for (const auto& sub : page.items) {
      if (sub.status != subscriptions::Status::kCanceled) return false;
      Timestamp ended = sub.ended_at.value_or(sub.canceled_at.value_or(sub.created));
      if (ended_by && ended > *ended_by) return false;
    }
    if (!page.has_more || page.items.empty()) return true;
    p.starting_after = page.items.back().id;
  }
}

// The erasure's one transaction; none when a subscription stands in the way (erasable).
Result<std::optional<Json>> erase_if_erasable(App& app, const std::string& id, const std::string& reason,
                                              const events::Actor& actor, std::optional<Timestamp> ended_by) {
  return db::transact(app.database(), [&](db::Tx& tx) -> Result<std::optional<Json>> {
    RECUR_ASSIGN(auto customer, customers::lock_customer(tx, id));
    if (!customer) return Error::not_found("customer_not_found", no_object_message("customer", "cus", id));
    if (!customer->erased_at) {
      RECUR_ASSIGN(bool ok, erasable(tx, id, ended_by));
      if (!ok) return std::optional<Json>();
    }
    if (!customer->erased_at) {
      // Who asked and why, beside customer.erased's own entry (the fields it cleared).
      auto request = data_subject_entry(actor, id, "customer.erasure_requested");
      request.reason = reason;
      RECUR_TRY(app.audit().add_entry(tx, std::move(request)));
    }
    RECUR_TRY(app.notifications().drop_pending_for_customer(tx, id));
    RECUR_TRY(app.customer_sessions().end_all(tx, id));  // their sessions and sign-in links stop working
    RECUR_ASSIGN(auto erased, app.customers().erase(tx, id, actor));
    return std::optional<Json>(customers::to_json(erased));
  });
}

}  // namespace

Result<Json> erase_customer(App& app, const std::string& id, const std::string& reason, const events::Actor& actor) {
  // Its live subscriptions end now, each with its usual events, voided invoices and
  // released boxes (the subscriptions module's own rules), before anything is erased. One
  // started meanwhile is canceled on the next pass.
  for (int pass = 0; pass < 3; ++pass) {
    RECUR_ASSIGN(auto customer, app.customers().get(id));
    if (!customer.erased_at) {
      ListParams p;
      p.limit = kPage;
      while (true) {
        RECUR_ASSIGN(auto page, app.subscriptions().list(subscriptions::ListFilter{id, {}, {}, p}));
        for (const auto& sub : page.items) {
          if (sub.status == subscriptions::Status::kCanceled) continue;
          subscriptions::CancelInput cancel{false, "other", std::nullopt};
          RECUR_TRY(app.subscriptions().cancel(sub.id, cancel, std::nullopt, actor));
        }
        if (!page.has_more || page.items.empty()) break;
        p.starting_after = page.items.back().id;
      }
    }
    RECUR_ASSIGN(auto erased, erase_if_erasable(app, id, reason, actor, std::nullopt));
    if (erased) return std::move(*erased);
  }
  return Error::conflict("version_conflict", "customer " + id + " kept starting subscriptions while being erased: try again");
}

Result<int> erase_lapsed_customers(App& app, int days) {
  if (days <= 0) return 0;
  const Timestamp ended_by = app.clock().now() - Timestamp{days} * 86400;
  RECUR_ASSIGN(auto candidates, db::transact(app.database(), [&](db::Tx& tx) -> Result<std::vector<std::string>> {
    RECUR_ASSIGN(auto lapsed, subscriptions::lapsed_customers(tx));
    return customers::not_erased(tx, lapsed);
  }, db::TxMode::kReadOnly));
  const std::string reason = "retention: last subscription ended " + std::to_string(days) + " days ago or more";
  int erased = 0;
  for (const auto& id : candidates) {
    RECUR_ASSIGN(auto done, erase_if_erasable(app, id, reason, events::Actor{"system", "retention", ""}, ended_by));
    if (done) ++erased;
  }
  return erased;
}

void add_data_subject_routes(http::Router& router, App& app) {
  using namespace access::perm;
  router.add("GET", "/v1/customers/{id}/export", std::string(kCustomersExport), [&app](http::Request& req) {
    return http::respond(req, export_customer(app, req.path_params["id"], access::actor_of(req)), 200,
                         [](const Json& doc) { return doc; });
  });
  router.add("POST", "/v1/customers/{id}/erase", std::string(kCustomersErase), [&app](http::Request& req) {
    auto body = parse_json_object(req.body);
    if (!body.ok()) return http::error_response(req, body.error());
    FieldReader f(*body);
    auto reason = f.text("reason", true, 500);
    if (auto done = f.finish(); !done.ok()) return http::error_response(req, done.error());
    return http::respond(req, erase_customer(app, req.path_params["id"], *reason, access::actor_of(req)), 200,
                         [](const Json& doc) { return doc; });
  });
}

}  // namespace recur::app
