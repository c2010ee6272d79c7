// The gifts module's SQL: table `gifts` (migration 41), its personal fields sealed under the
// purchaser's key (privacy/model.h), found by id, by the hash of its claim code, by invoice.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gifts/model.h"
#include "platform/db/database.h"
#include "platform/page.h"

namespace recur::gifts {

struct GiftFilter {
  std::optional<std::string> purchaser;
  std::optional<std::string> status;
  ListParams page;
};

// The hash a claim code is found by (of normalize_claim_code's form).
std::string claim_code_hash(std::string_view normalized_code);

recur::Status insert_gift(db::Tx& tx, const Gift& gift);
// False when the stored version is not `expected_version` (another change came first).
Result<bool> update_gift(db::Tx& tx, const Gift& gift, std::int64_t expected_version);
Result<std::optional<Gift>> find_gift(db::Tx& tx, const std::string& id, bool for_update = false);
Result<std::optional<Gift>> find_gift_by_code(db::Tx& tx, const std::string& normalized_code, bool for_update);
Result<std::optional<Gift>> find_gift_by_invoice(db::Tx& tx, const std::string& invoice);
Result<std::optional<Gift>> find_gift_by_subscription(db::Tx& tx, const std::string& subscription);
Result<Page<Gift>> list_gifts(db::Tx& tx, const GiftFilter& filter);
// Gifts the scheduler may have to act on at `now` (pending and due to be sent, or unclaimed
// past their claim window), by id after `after`.
Result<std::vector<std::string>> due_gifts(db::Tx& tx, Timestamp now, int limit, const std::string& after);
// The soonest send_at after `now` of a pending gift (the test clock stops there).
Result<std::optional<Timestamp>> next_send_at(db::Tx& tx, Timestamp now);

}  // namespace recur::gifts
