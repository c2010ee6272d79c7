// Which parts of recur one `serve` process runs (--modules): the same binary deploys as API
// nodes apart from billing and delivery workers, each scaled by count (docs/OPERATIONS.md,
// "Deployment shapes"). The parts share nothing in memory: they meet in the database (rows
// claimed with SKIP LOCKED and leases) and the event stream.
#pragma once

#include <string>

#include "platform/result.h"

namespace recur::app {

struct Modules {
  bool api = true;        // the REST API, the portal and the pages on --listen
  bool billing = true;    // billing-worker: billing runs every --tick (renewals, dunning, gifts)
  bool delivery = true;   // delivery-worker: webhooks, notifications, the event stream
  bool scheduler = true;  // scheduler: reordering, retention erasure, the audit chain
};

// "all" (every part) or a comma list of api, billing-worker, delivery-worker, scheduler;
// an unknown or empty name is refused (invalid_modules).
Result<Modules> parse_modules(const std::string& text);
// The list back, in the order above ("api,billing-worker").
std::string describe(const Modules& modules);

}  // namespace recur::app
