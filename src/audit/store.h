// The audit log in SQL (audit_log, audit_chain; migration 30).
#pragma once

#include <optional>
#include <string>

#include "audit/model.h"
#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::audit {

// Inserts the entry unchained (seq, prev_hash and hash null): the chainer places it.
// Requires: called inside the transaction that made the change (or read), so the entry
// commits with it or not at all.
Status record(db::Tx& tx, const Entry& entry);

// GET /v1/audit-log: newest first (by id), filtered on the resource's id, the actor's id
// and the action, each exact; created bounds and cursors from the page.
struct Filter {
  std::optional<std::string> resource;
  std::optional<std::string> actor;
  std::optional<std::string> action;
  ListParams page;
};
Result<Page<Entry>> list(db::Tx& tx, const Filter& filter);

// Places up to `limit` committed unchained entries at the end of the chain, oldest id
// first, and returns how many. Holds the audit_chain row while it does: on PostgreSQL a
// chainer that finds the row held by another one returns 0 at once (SKIP LOCKED), so that
// of several nodes one chains at a time. Requires: a read-write transaction of its own.
Result<int> chain_pending(db::Tx& tx, int limit);

// The result of walking the whole chain.
struct Verification {
  std::int64_t checked = 0;      // chained entries that hold
  std::int64_t unchained = 0;    // entries the chainer has not placed yet
  std::optional<std::string> broken_id;  // the first entry where the chain breaks
  std::optional<std::int64_t> broken_seq;
  std::string reason;
};
// Walks the chain in seq order in pages of `batch`, then compares its end with audit_chain's.
Result<Verification> verify(db::Tx& tx, int batch = 1000);

}  // namespace recur::audit
