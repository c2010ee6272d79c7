// The disputes table and the dispute settings (a row of billing_settings), read and
// written inside the caller's transaction.
#pragma once

#include <optional>
#include <string>

#include "billing/disputes.h"
#include "platform/db/database.h"

namespace recur::billing {

recur::Status insert_dispute(db::Tx& tx, const Dispute& dispute);
recur::Status update_dispute(db::Tx& tx, const Dispute& dispute);
// The dispute Recur keeps for a gateway's dispute id, locked for update when asked.
Result<std::optional<Dispute>> find_dispute_by_reference(db::Tx& tx, const std::string& gateway,
                                                         const std::string& gateway_dispute_id, bool for_update);
Result<std::optional<Dispute>> find_dispute(db::Tx& tx, const std::string& id);

// The stored settings, or the defaults (on_open pause, version 1) when none are stored.
Result<DisputeSettings> load_dispute_settings(db::Tx& tx);
// Locks the stored settings row; false when none is stored yet.
Result<bool> lock_dispute_settings(db::Tx& tx);
recur::Status save_dispute_settings(db::Tx& tx, const DisputeSettings& settings, bool existed);

}  // namespace recur::billing
