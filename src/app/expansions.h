// expand[] (docs/api-conventions.md): which fields each route may expand, and how the app,
// which sees every module, fetches what they name.
#pragma once

#include "billing/service.h"
#include "catalog/service.h"
#include "customers/service.h"
#include "platform/http/pipeline.h"
#include "platform/http/router.h"
#include "subscriptions/service.h"

namespace recur::app {

// subscription: customer, plan, latest_invoice; invoice: subscription, payments;
// shipment: invoice. On each resource's retrieve and list routes.
void declare_expansions(http::Router& router);

http::Pipeline::Expander expander(catalog::CatalogService& catalog, customers::CustomerService& customers,
                                  subscriptions::SubscriptionService& subscriptions, billing::BillingService& billing);

}  // namespace recur::app
