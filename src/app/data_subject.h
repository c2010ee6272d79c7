// A person's rights over their data (GDPR arts. 15, 17, 20; CCPA): the export of everything
// Recur holds about a customer, and erasure by crypto-shredding. They cut across every
// module, so they live here, with the one place that sees them all. docs/PRIVACY.md.
#pragma once

#include <string>

#include "events/model.h"
#include "platform/http/router.h"
#include "platform/json.h"
#include "platform/result.h"

namespace recur::app {

class App;

// One JSON document: the profile, consent, payment methods (brand, last 4, expiry only),
// subscriptions with their history, invoices, payments, refunds, credit notes, shipments
// and notifications. Read in one transaction, so it is one consistent picture.
Result<Json> export_customer(App& app, const std::string& customer_id, const events::Actor& actor);

// Cancels the customer's live subscriptions now (with their usual events and the voiding of
// what they leave unpaid), drops messages not yet sent, then in one transaction clears the
// customer's personal fields, destroys their data key (every sealed copy anywhere becomes
// unreadable: rows, events, stored answers, backups once the master key is rotated) and
// records `customer.erased`. Financial records stay, without personal data. Idempotent:
// erasing an erased customer answers it as it is.
Result<Json> erase_customer(App& app, const std::string& customer_id, const std::string& reason,
                            const events::Actor& actor);

// The retention setting (--erase-after-days): erases every customer whose subscriptions
// are all canceled, the last of them ended `days` ago or more, as erase_customer would
// (actor: system "retention"). Customers who never subscribed are not touched. 0 or less:
// nothing. Returns how many were erased.
Result<int> erase_lapsed_customers(App& app, int days);

void add_data_subject_routes(http::Router& router, App& app);

}  // namespace recur::app
