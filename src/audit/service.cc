// The audit log's use cases.
#include "audit/service.h"

namespace recur::audit {

Result<Page<Entry>> AuditLog::list(const Filter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return audit::list(tx, filter); }, db::TxMode::kReadOnly);
}

Result<int> AuditLog::chain(int batch) {
  int total = 0;
  while (true) {
    RECUR_ASSIGN(int placed, db::transact(db_, [&](db::Tx& tx) { return chain_pending(tx, batch); }));
    total += placed;
    if (placed < batch) return total;
  }
}

Result<Verification> AuditLog::verify() {
  RECUR_TRY(chain());
  return db::transact(db_, [&](db::Tx& tx) { return audit::verify(tx); }, db::TxMode::kReadOnly);
}

Status AuditLog::add_entry(db::Tx& tx, Entry entry) {
  entry.id = ids_.next("aud");
  entry.created = clock_.now();
  return audit::record(tx, entry);
}

}  // namespace recur::audit
