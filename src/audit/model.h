// The audit log's entries and their hash chain (issue 15): pure rules, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/json.h"
#include "platform/time.h"

namespace recur::audit {

// Who acted, in the audit log's words. Each kind a change can come from is its own kind.
namespace kind {
inline constexpr std::string_view kApiKey = "api_key";                       // a request with an API key
inline constexpr std::string_view kCli = "cli";                              // an operator at the command line
inline constexpr std::string_view kSystem = "system";                        // the scheduler, migrations
inline constexpr std::string_view kPaymentUpdatePage = "payment_update_page";  // a customer with a link's token
inline constexpr std::string_view kAnonymous = "anonymous";                  // a request nobody authenticated
}  // namespace kind

// The audit log's kind of an events::Actor's (type, role): the payment-update page acts as
// the customer ("customer", role "payment_update_token").
std::string actor_kind(std::string_view type, std::string_view role);

// One entry: who did what to which resource, when, from where, and which fields changed
// (names only: a personal field's value is never copied here).
struct Entry {
  std::string id;             // "aud_..." (time-sortable)
  Timestamp created = 0;
  std::string actor_type;     // a kind:: above
  std::string actor_id;       // "key_...", the operator's name, "scheduler", the customer's id
  std::string actor_role;     // the API key's role; empty for the others
  std::string request_id;     // "req_..." on the request path, else empty
  std::string source_ip;      // the peer's address on the request path, else empty
  std::string resource_type;  // "customer"
  std::string resource_id;    // "cus_..."
  std::string action;         // the event type ("customer.updated") or a read ("customer.exported")
  std::vector<std::string> fields;  // changed field names, dotted for nested ones, sorted
  std::string event_id;       // the event the change appended, empty for a read
  std::string reason;         // an erasure's reason as the admin gave it, else empty
  // The chain, once the chainer has placed the entry: its place (1, 2, ...), the hash of the
  // entry before it, and its own hash.
  std::optional<std::int64_t> seq;
  std::string prev_hash;
  std::string hash;
};

// The hash the first entry chains from.
inline const std::string kGenesisHash(64, '0');

// The canonical form the hash covers: a JSON object of every field but prev_hash and hash,
// keys sorted, no spaces, UTF-8 as is. Requires: seq is set.
std::string canonical(const Entry& entry);
// hex(SHA-256(prev_hash ‖ canonical(entry))).
std::string chain_hash(std::string_view prev_hash, const Entry& entry);

// The names of the fields that differ between `before` and `after` (null on a create or a
// delete: then every field of the other), as dotted paths into nested objects ("address.city");
// an array or a value that changed type is one field. Sorted, each once.
std::vector<std::string> changed_fields(const Json& before, const Json& after);

// Where a chain read in seq order breaks: the first entry whose seq does not follow, whose
// prev_hash is not the hash before it, or whose hash is not its own.
struct Break {
  std::size_t index = 0;  // into the entries walked
  std::string reason;
};
// `prev_hash`/`prev_seq`: where the walk starts (kGenesisHash, 0 from the first entry).
std::optional<Break> first_break(const std::vector<Entry>& entries, std::string_view prev_hash, std::int64_t prev_seq);

// The API's audit entry object (AuditEntry in api/openapi.yaml).
Json to_json(const Entry& entry);

}  // namespace recur::audit
