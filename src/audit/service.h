// The audit log's use cases: read it, chain what was appended, verify the chain.
#pragma once

#include "audit/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::audit {

class AuditLog {
 public:
  AuditLog(db::Database& db, IdGenerator& ids, const Clock& clock) : db_(db), ids_(ids), clock_(clock) {}

  Result<Page<Entry>> list(const Filter& filter);
  // Places every committed unchained entry on the chain, in transactions of up to `batch`
  // entries; returns how many. `recur serve` calls it every 2 seconds; several nodes may:
  // one chains at a time (chain_pending), the others find nothing to do.
  Result<int> chain(int batch = 500);
  // Chains what is pending, then walks the chain.
  Result<Verification> verify();
  // An entry for something that is not an event: a read of personal data (an export), an
  // erasure's reason, an operator's command. Fills id and created.
  // Requires: called inside the transaction of what it records.
  Status add_entry(db::Tx& tx, Entry entry);

 private:
  db::Database& db_;
  IdGenerator& ids_;
  const Clock& clock_;
};

}  // namespace recur::audit
