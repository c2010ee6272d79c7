// Billing, wired: the parts, each a plain class taking only what it uses, built in the
// order they depend on each other. App owns one; tests reach the part they exercise.
//
//   Invoicer         subscriptions::PeriodBilling: invoices from billable periods, pending
//                    items, closing an ended subscription's invoices (invoicer.h)
//   Collector        attempts and their settlement, exactly once (decision 0005; collector.h)
//   Checkout         a new subscription's first invoice charged in the request (checkout.h)
//   OneOffInvoices   invoices of no subscription: charged in the request or sent (one_off.h)
//   Refunds          refunds, credit notes, resuming pending refunds (refunds.h)
//   GatewayWebhooks  gateway events settling what is pending, disputes (decisions 0007, 0021; webhooks.h)
//   Reminders        renewal and card-expiring reminders (reminders.h)
//   BillingRuns      runs, the failure-rate alert, the next due time (runs.h)
//   BillingService   reads and settings (service.h)
//   UpcomingInvoices the next invoice before it exists (upcoming.h)
//   PaymentMessages  receipts, failed-payment messages, update-payment links (messages.h)
//   Documents        invoice and credit-note PDFs (documents.h)
#pragma once

#include <string>

#include "billing/checkout.h"
#include "billing/collector.h"
#include "billing/documents.h"
#include "billing/invoicer.h"
#include "billing/messages.h"
#include "billing/one_off.h"
#include "billing/payment_update.h"
#include "billing/refunds.h"
#include "billing/reminders.h"
#include "billing/runs.h"
#include "billing/service.h"
#include "billing/upcoming.h"
#include "billing/webhooks.h"
#include "gateways/registry.h"
#include "notify/outbox.h"
#include "subscriptions/service.h"

namespace recur::billing {

struct BillingOptions {
  std::int64_t attempt_lease_seconds = 300;  // a claimed attempt not recorded by then is asked again
  std::int64_t unknown_retry_seconds = 300;  // after a timeout or 5xx, ask again (same key) after this
  // Renewals, and charges, a transaction in a run (RunOptions::batch, decision 0033).
  int batch = RunOptions::kDefaultBatch;
  // Runs advance subscriptions and charge invoices on this many threads (PostgreSQL only;
  // SQLite runs one). Claims skip rows another worker holds, so workers, like nodes,
  // never attempt the same invoice at once; the pool needs one connection per worker.
  int workers = 1;
  // Operators' address: a run whose failure rate jumps, and each new dispute, is e-mailed
  // here ("": event and log only).
  std::string ops_email;
  // How long the update-payment link of a failed-payment or card-expiring message works; a
  // charge waiting for the customer's authentication waits as long (Collector::expire_waiting).
  std::int64_t payment_update_token_seconds = kDefaultPaymentUpdateTtl;
  // The sandbox signs its webhooks with a well-known secret: accept them only where
  // nothing real is at stake (test mode).
  bool sandbox_webhooks = false;
  // The TrueType fonts of invoice PDFs (--pdf-font, --pdf-font-bold).
  PdfFonts pdf_fonts;
  // How long a signup waits for the first charge's answer (--checkout-timeout).
  std::chrono::milliseconds checkout_timeout = kDefaultCheckoutTimeout;
};

struct Billing {
  // outbox: where customer and operator messages are queued (notify::NullNotifier: nowhere).
  Billing(db::Database& db, const Clock& clock, IdGenerator& ids, gateways::Gateways& gateways,
          subscriptions::SubscriptionService& subscriptions, notify::Outbox& outbox, const BillingOptions& options = {})
      : messages(clock, outbox, options.payment_update_token_seconds),
        invoicer(clock, ids),
        collector(db, clock, ids, gateways, subscriptions, messages, options.unknown_retry_seconds,
                  options.payment_update_token_seconds),
        checkout(db, subscriptions, collector, gateways, options.checkout_timeout),
        one_off(db, clock, ids, collector, messages, options.checkout_timeout),
        refunds(db, clock, ids, gateways, options.unknown_retry_seconds, options.batch),
        webhooks(db, clock, ids, gateways, collector, refunds, subscriptions, outbox, options.ops_email,
                 options.sandbox_webhooks),
        reminders(db, clock, outbox, messages),
        runs(db, clock, ids, subscriptions, collector, refunds, reminders, outbox,
             {options.batch, options.attempt_lease_seconds, options.workers, options.ops_email}),
        service(db, clock, ids),
        upcoming(db, subscriptions),
        documents(db, options.pdf_fonts) {}
  Billing(const Billing&) = delete;
  Billing& operator=(const Billing&) = delete;

  PaymentMessages messages;
  Invoicer invoicer;
  Collector collector;
  Checkout checkout;
  OneOffInvoices one_off;
  Refunds refunds;
  GatewayWebhooks webhooks;
  Reminders reminders;
  BillingRuns runs;
  BillingService service;
  UpcomingInvoices upcoming;
  Documents documents;
};

}  // namespace recur::billing
