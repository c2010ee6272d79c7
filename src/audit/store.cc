// Audit log persistence and the chainer.
#include "audit/store.h"

#include "platform/db/list_query.h"

namespace recur::audit {
namespace {

constexpr const char* kColumns =
    "SELECT id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type, resource_id,"
    " action, fields, event_id, reason, seq, prev_hash, hash FROM audit_log";

Entry entry_from_row(const db::Row& row) {
  Entry e;
  e.id = row.text(0);
  e.created = row.int64(1);
  e.actor_type = row.text(2);
  e.actor_id = row.text(3);
  e.actor_role = row.text(4);
  e.request_id = row.text(5);
  e.source_ip = row.text(6);
  e.resource_type = row.text(7);
  e.resource_id = row.text(8);
  e.action = row.text(9);
  Json fields = Json::parse(row.text(10), nullptr, false);
  if (fields.is_array())
    for (const auto& f : fields)
      if (f.is_string()) e.fields.push_back(f.get<std::string>());
  e.event_id = row.opt_text(11).value_or("");
  e.reason = row.opt_text(12).value_or("");
  e.seq = row.opt_int64(13);
  e.prev_hash = row.opt_text(14).value_or("");
  e.hash = row.opt_text(15).value_or("");
  return e;
}

std::vector<Entry> entries_from_rows(const db::Rows& rows) {
  std::vector<Entry> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(entry_from_row(row));
  return out;
}

constexpr const char* kChainName = "audit";

}  // namespace

Status record(db::Tx& tx, const Entry& e) {
  return tx.exec_later(
      "INSERT INTO audit_log (id, created_at, actor_type, actor_id, actor_role, request_id, source_ip, resource_type,"
      " resource_id, action, fields, event_id, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      {e.id, e.created, e.actor_type, e.actor_id, e.actor_role, e.request_id, e.source_ip, e.resource_type,
       e.resource_id, e.action, Json(e.fields).dump(), e.event_id.empty() ? db::Value(nullptr) : db::Value(e.event_id),
       e.reason.empty() ? db::Value(nullptr) : db::Value(e.reason)});
}

Result<Page<Entry>> list(db::Tx& tx, const Filter& f) {
  db::ListQuery query(kColumns);
  query.where_equal("resource_id", f.resource).where_equal("actor_id", f.actor).where_equal("action", f.action);
  query.doc_column("");
  RECUR_ASSIGN(auto rows, query.fetch(tx, f.page));
  return page_of(entries_from_rows(rows), f.page.limit);
}

Result<int> chain_pending(db::Tx& tx, int limit) {
  std::string lock = "SELECT last_seq, last_hash FROM audit_chain WHERE name = $1";
  if (tx.engine() == db::Engine::kPostgres) lock += " FOR UPDATE SKIP LOCKED";
  RECUR_ASSIGN(auto head, tx.query(lock, {std::string(kChainName)}));
  if (head.empty()) return 0;  // another chainer holds it
  std::int64_t seq = head[0].int64(0);
  std::string prev = head[0].text(1);
  // Only committed entries are visible here; one whose transaction commits later, with an
  // older id than those placed now, is placed by a later pass after them: the chain's order
  // is seq, the order entries were placed in, not id (docs/decisions/0017-audit-chain.md).
  RECUR_ASSIGN(auto rows, tx.query(std::string(kColumns) + " WHERE seq IS NULL ORDER BY id LIMIT " +
                                   std::to_string(limit)));
  int placed = 0;
  for (const auto& row : rows) {
    Entry e = entry_from_row(row);
    e.seq = ++seq;
    e.prev_hash = prev;
    e.hash = chain_hash(prev, e);
    RECUR_TRY(tx.exec_later("UPDATE audit_log SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4",
                            {*e.seq, e.prev_hash, e.hash, e.id}));
    prev = e.hash;
    ++placed;
  }
  if (placed > 0)
    RECUR_TRY(tx.exec("UPDATE audit_chain SET last_seq = $1, last_hash = $2 WHERE name = $3",
                      {seq, prev, std::string(kChainName)}));
  return placed;
}

Result<Verification> verify(db::Tx& tx, int batch) {
  Verification v;
  std::string prev = kGenesisHash;
  std::int64_t prev_seq = 0;
  while (true) {
    RECUR_ASSIGN(auto rows, tx.query(std::string(kColumns) + " WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT " +
                                     std::to_string(batch),
                                     {prev_seq}));
    auto entries = entries_from_rows(rows);
    if (auto broken = first_break(entries, prev, prev_seq)) {
      const Entry& e = entries[broken->index];
      v.checked += static_cast<std::int64_t>(broken->index);
      v.broken_id = e.id;
      v.broken_seq = e.seq;
      v.reason = broken->reason;
      return v;
    }
    v.checked += static_cast<std::int64_t>(entries.size());
    if (!entries.empty()) {
      prev = entries.back().hash;
      prev_seq = *entries.back().seq;
    }
    if (static_cast<int>(entries.size()) < batch) break;
  }
  // The end of the chain must be where audit_chain says it is: entries cut off the end, or a
  // head rewritten to match a shortened chain, show here.
  RECUR_ASSIGN(auto head, tx.query("SELECT last_seq, last_hash FROM audit_chain WHERE name = $1",
                                   {std::string(kChainName)}));
  if (head.empty()) {
    v.reason = "the chain's head row (audit_chain) is missing";
    v.broken_id = "";
    return v;
  }
  if (head[0].int64(0) != prev_seq || head[0].text(1) != prev) {
    v.reason = "the chain ends at seq " + std::to_string(prev_seq) + " but its head says " +
               std::to_string(head[0].int64(0)) + " (entries at the end were removed)";
    v.broken_seq = prev_seq + 1;
    v.broken_id = "";
  }
  RECUR_ASSIGN(auto pending, tx.query("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL"));
  v.unchained = pending[0].int64(0);
  return v;
}

}  // namespace recur::audit
