// Billing's HTTP mapping: invoices, payments, runs, dunning settings, and (test mode
// only) the test clock.
#pragma once

#include "gateways/sandbox.h"

#include <functional>

#include "billing/collector.h"
#include "billing/documents.h"
#include "billing/payment_update.h"
#include "billing/refunds.h"
#include "billing/service.h"
#include "billing/upcoming.h"
#include "billing/one_off.h"
#include "billing/webhooks.h"
#include "platform/clock.h"
#include "platform/http/router.h"

namespace recur::billing {

// Reads and settings through `service`; paying an invoice through `collector`; refunds
// and credit notes through `refunds`.
// PDFs of invoices and credit notes through `documents`; one-off invoices through `one_off`.
void add_routes(http::Router& router, BillingService& service, Collector& collector, Refunds& refunds,
                UpcomingInvoices& upcoming, Documents& documents, OneOffInvoices& one_off);
// POST /v1/gateway-webhooks/{gateway}: public, authenticated by the gateway's signature.
void add_gateway_webhook_routes(http::Router& router, GatewayWebhooks& webhooks);

// The merchant's hosted update-payment page: public routes (no API key), authorized by
// the one-time token in the body alone (never in the URL, so never in access logs).
// POST /v1/payments/{id}/confirm: the same token confirms a charge the customer authenticated.
// POST /v1/payment-updates/invoice-pdf: the PDF of one of the token's customer's invoices.
void add_payment_update_routes(http::Router& router, PaymentUpdates& updates, Collector& collector,
                               Documents& documents);

// Test mode only: POST /v1/sandbox/charges/{id}/authenticate {"result": "approve"|"fail"},
// the customer's answer to the sandbox's 3-D Secure challenge (what the bank's page does in
// Stripe's test mode). Public, like that page: the sandbox moves no money.
void add_sandbox_routes(http::Router& router, gateways::SandboxGateway& sandbox);

// Moves the simulated clock to `to`, stopping at every moment something is due and
// running it, so renewals, retries and resumptions happen in order. Serialized with the
// scheduler by the caller's `run_exclusive`.
struct TestClock {
  SimulatedClock& clock;
  std::function<Result<Json>(Timestamp to)> advance;  // returns a summary of what ran
};
void add_test_clock_routes(http::Router& router, TestClock clock);

}  // namespace recur::billing
