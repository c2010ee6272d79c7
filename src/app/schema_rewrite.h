// Reshaping stored JSON documents in a migration (db::Migration::rewrite), in C++ rather
// than in SQL, which has no JSON functions both engines share.
#pragma once

#include <functional>
#include <string_view>

#include "platform/db/database.h"
#include "platform/json.h"

namespace recur::app {

// Applies `fix` to every document of one resource: the `doc` of each row of `table` (keyed
// by `id`) and the before/after copies of it in the event log (events whose resource_type
// is `resource_type`), so that the history shows the shape the API now serves. `fix` must
// leave a document already in the new shape as it is; only changed rows are written.
Status rewrite_documents(db::Tx& tx, std::string_view table, std::string_view resource_type,
                         const std::function<void(Json&)>& fix);

// Applies `fix(type, payload)` to the payload ({before, after, details}) of every event whose
// resource_type is `resource_type`; `fix` must leave a payload already in the new shape as it
// is, and only changed events are written.
Status rewrite_event_payloads(db::Tx& tx, std::string_view resource_type,
                              const std::function<void(std::string_view type, Json& payload)>& fix);

// Moves doc[from] to doc[to] when `from` is there (and `to` is not).
void rename_key(Json& doc, const char* from, const char* to);
// {"<start>": s, "<end>": e} -> {"<to>": {"start": s, "end": e}}, when not done yet.
void period_to_object(Json& doc, const char* start, const char* end, const char* to);

// Sets `created_at` (Unix seconds) from the document's `created` on the rows of `table`
// that have none.
Status fill_created_at(db::Tx& tx, std::string_view table);

// Sets shipments' `tracking_number` column from their documents where it is not set.
Status fill_tracking_numbers(db::Tx& tx);

// Migration 20: a subscription's trial is fixed when it is created (trial_end on create).
// Scheduled subscriptions stored before have no trial_end; those on a plan with a trial get
// the one the binary before would have given them at their start: start + their plan's
// trial_days (not current_period.end, which a plan change while scheduled left as it was).
Status fill_scheduled_trial_ends(db::Tx& tx);
// And payment.disputed events' details in the one shape: `gateway_reference` (was `charge`),
// flat `amount` + `currency` (was an {amount, currency} object).
Status reshape_dispute_events_20(db::Tx& tx);
// Invoices (and their copies in the event log) gain amount_disputed and amount_disputed_lost,
// 0 for every invoice before disputes were kept (decision 0021).
Status add_dispute_amounts_33(db::Tx& tx);
// Migration 34: event_outbox and stream_outbox gain `seq`, the commit-order sequence the
// publisher orders by (decision 0015): a BIGSERIAL on PostgreSQL, an AUTOINCREMENT rowid on
// SQLite (never reused, also once the outbox was empty). Rows waiting in either are numbered
// together in their old (created_at, event_id) order, and new events after them all. On
// PostgreSQL both tables are locked for the migration; a node still running the binary before
// cannot fan out afterwards (its INSERT has no seq): upgrade every node together.
Status sequence_outboxes_34(db::Tx& tx);
// Migration 37: invoices.subscription_id and analytics_invoices.subscription_id may be NULL
// (a one-off invoice); on SQLite, which cannot drop a NOT NULL, each table is made again
// from its own stored definition with its rows and indexes. Invoices (and their copies in
// the event log) gain collection_method "charge_automatically" and due_date null.
Status one_off_invoices_37(db::Tx& tx);
// Migration 38: the payment methods in the event log (customer.payment_method_attached and
// _detached details) gain type "card" and paypal/venmo null, the shape the API now serves.
Status payment_method_types_38(db::Tx& tx);
// Migration 40: each distinct free-text `tier` of the plans becomes a tier (id "tier_" and
// the text made an id, name the text, no entitlements), ranked 10, 20, ... after any tier
// there is by its dearest plan's price a month (ties in the texts' byte order); plans,
// coupons' applies_to_tiers and subscriptions' discounts then name it by id, in their
// documents and their events' copies.
Status tiers_40(db::Tx& tx);
// Migration 21 (issue 13): each shipment's `invoice_id` and `paid` columns from the invoice
// of its subscription's period (the same period_seq), paid when that invoice is paid or
// there is none; the same two fields in its document, and in the copies of it in its events
// as they were then (paid once the invoice's paid_at had come).
Status fill_shipment_invoices(db::Tx& tx);

// Migration 18 (issue 13, one shape for the same thing): billing's documents (invoices,
// payments, refunds, credit notes), and the others (subscriptions, products, shipments).
Status reshape_billing_18(db::Tx& tx);
Status reshape_others_18(db::Tx& tx);

// Migration 22 (issue 13, enums in the spec): a payment's or refund's failure_code in Recur's
// words, the gateway's own moved to gateway_failure_code; card brands in Recur's names.
Status name_payment_codes_22(db::Tx& tx);
// Migration 28 (issue 15): seals the personal fields of every row written before encryption
// (customers, with their blind indexes; subscriptions, shipments, notifications; the event
// log's copies; stored idempotent answers) under each customer's new data key.
Status seal_personal_data_28(db::Tx& tx);

// Migration 31 (issue 16): analytics' tables from the event history already there.
Status rebuild_analytics_31(db::Tx& tx);

}  // namespace recur::app
