// Webhook use cases: endpoints and their secrets; fan-out from the event outbox into
// deliveries; delivery with Standard Webhooks signatures and retries on the injected clock.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"
#include "platform/net/http_client.h"
#include "webhooks/model.h"
#include "webhooks/store.h"

namespace recur::webhooks {

struct EndpointInput {
  std::string url;
  std::vector<std::string> enabled_events;
  std::optional<std::string> description;
  Json metadata = Json::object();
};

// Fields a PATCH names; absent ones stay. description: inner nullopt clears it.
struct EndpointPatch {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> enabled_events;
  std::optional<std::string> status;
  std::optional<std::optional<std::string>> description;
  std::optional<Json> metadata;
};

// POST /v1/webhook-endpoints/{id}/replay: the events of [from, to) again, with their ids.
struct ReplayRequest {
  Timestamp from = 0;
  std::optional<Timestamp> to;         // exclusive; absent: every event up to now
  std::optional<std::string> status;   // only events whose delivery is "failed" | "succeeded"
};
struct ReplayResult {
  std::string endpoint_id;
  Timestamp from = 0;
  Timestamp to = 0;
  std::optional<std::string> status;
  int deliveries = 0;  // made, each pending
};
inline constexpr int kMaxReplayEvents = 10000;

// A supplier's webhook_url as purchasing stores it: what its endpoint follows.
struct SupplierWebhook {
  std::string supplier_id;               // "sup_..."
  std::string supplier_name;             // named in the endpoint's description
  std::optional<std::string> url;        // none: the supplier has no webhook_url (any more)
};

struct WebhookOptions {
  int fan_out_batch = 100;           // outbox entries one fan-out transaction takes
  int delivery_batch = 100;          // deliveries one claim takes at most
  int senders = 8;                   // attempts in flight at once (threads) in this process
  int per_endpoint = 4;              // of them, at most this many to one endpoint
  int lane_depth = 16;               // deliveries of one endpoint claimed at once (sending or waiting)
  std::int64_t lease_seconds = 60;   // a claim older than this is due again (a crashed worker)
  std::string ops_email;             // told when an endpoint is disabled for failing ("": log only)
  // The SSRF guard: false refuses URLs whose host resolves to a loopback, link-local or
  // private address (is_private_address), on create and update and before every attempt.
  bool allow_private_urls = false;
};

struct DeliveryReport {
  int fanned_out = 0;  // events taken from the outbox
  int created = 0;     // deliveries they made
  int succeeded = 0;
  int retrying = 0;
  int failed = 0;      // failed for good
  int lost = 0;        // another worker took the delivery over after our lease ran out
};

// A claimed delivery with what its attempt needs.
struct Claim {
  Delivery delivery;
  Endpoint endpoint;
  std::string body;
};

class WebhookService {
 public:
  using Transport = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;
  using RandomBytes = std::function<std::string(std::size_t)>;
  // A host's addresses (getaddrinfo by default); an error when it does not resolve.
  using Resolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;

  // `transport` defaults to net::send; `random` to libsodium's CSPRNG.
  WebhookService(db::Database& db, const Clock& clock, IdGenerator& ids, WebhookOptions options = {},
                 Transport transport = {}, RandomBytes random = {}, Resolver resolver = {});
  // Where the "endpoint disabled" alert to options().ops_email is queued (none: log only).
  void set_ops_outbox(notify::Outbox& outbox) { ops_ = &outbox; }

  Result<Endpoint> create(const EndpointInput& input);
  Result<Endpoint> get(const std::string& id);
  Result<Page<Endpoint>> list(const ListParams& page);
  Result<Endpoint> update(const std::string& id, const EndpointPatch& patch, std::int64_t expected_version);
  Status remove(const std::string& id);
  // The endpoint behind a supplier's webhook_url follows it, inside the caller's transaction
  // (purchasing's supplier writes, through App): created (enabled_events
  // [kSupplierEventType]) when the supplier gets a URL, its url and description updated when
  // they change, deleted with its deliveries when the URL is cleared. Answers the endpoint's
  // id, none once there is no URL. A new URL passes the SSRF guard first (422 on the field
  // `webhook_url`); the name lookup runs inside the transaction, as supplier writes are rare.
  // Requires: inside tx, the supplier's row locked by the caller.
  Result<std::optional<std::string>> sync_supplier_endpoint(db::Tx& tx, const SupplierWebhook& supplier);
  // A new secret; the old one signs beside it for kPreviousSecretSeconds.
  Result<Endpoint> rotate_secret(const std::string& id);
  Result<Page<Delivery>> deliveries(const DeliveryFilter& filter);
  // A new pending delivery of the event to the endpoint (origin "resend"), whatever was
  // sent before. 404 for an unknown event or endpoint.
  Result<Delivery> resend(const std::string& event_id, const std::string& endpoint_id);
  // A new pending delivery (origin "replay") of each event of the window the endpoint wants;
  // more than kMaxReplayEvents is refused (422 replay_too_large): replay a shorter window.
  Result<ReplayResult> replay(const std::string& endpoint_id, const ReplayRequest& request);

  // Moves events from the outbox into a pending delivery per enabled endpoint that wants
  // them, oldest first, in small transactions. Safe on several threads or nodes at once.
  Result<DeliveryReport> fan_out();
  // Sends every delivery due now and waits for the outcomes: batches claimed with a lease,
  // POSTed outside any transaction on `senders` threads (at most `per_endpoint` to one
  // endpoint at once), each outcome recorded after. Safe on several threads or nodes. The
  // test clock's path; `serve` sends through a Dispatcher, which never waits.
  Result<DeliveryReport> deliver_due();
  // Claims up to `limit` deliveries due at `now`, at most `depth` of one endpoint, in one
  // transaction: attempts counted, a lease taken. `in_flight`: deliveries of an endpoint
  // this process already holds (claimed, not recorded), which count against `depth`.
  Result<std::vector<Claim>> claim_due(Timestamp now, int limit, int depth,
                                       const std::vector<std::pair<std::string, int>>& in_flight = {});
  // The claimed delivery's POST (no transaction open), its outcome not yet recorded.
  Attempt attempt(const Claim& claim);
  // Records the outcomes in one transaction, the endpoints' health with them. One whose
  // claim was taken over (our lease ran out) or whose endpoint was deleted counts as lost.
  Status record(const std::vector<std::pair<Claim, Attempt>>& outcomes, DeliveryReport& report);
  const WebhookOptions& options() const { return options_; }
  Timestamp now() const { return clock_.now(); }
  // fan_out, then deliver_due.
  Result<DeliveryReport> run();
  // When something is next due: now when the outbox holds events, else the next pending
  // delivery's time; none when there is nothing to do (test clock stops).
  Result<std::optional<Timestamp>> next_due_at();

 private:
  Delivery pending_delivery(const std::string& endpoint_id, const events::OutboxEntry& event, std::string origin,
                            Timestamp now);
  // Requires: s.url set.
  Endpoint new_supplier_endpoint(const SupplierWebhook& s, std::string description, Timestamp now);
  // The endpoint's failing_since after an attempt (`failing_since`: as this transaction last
  // left it); disables it after kDisableAfterFailingSeconds.
  Status track_health(db::Tx& tx, const Endpoint& endpoint, std::optional<Timestamp>& failing_since, bool delivered,
                      Timestamp at);
  // Ok, or why the SSRF guard refuses `url` (none when private URLs are allowed).
  Status check_destination(const std::string& url, const std::string& field = "url");
  // For each kSupplierEventType event among `entries`, its purchase order's supplier (the
  // event's data.object.supplier), read in one query; empty when no endpoint is a supplier's,
  // so the common path reads nothing more.
  Result<std::map<std::string, std::string>> po_suppliers(db::Tx& tx, const std::vector<Endpoint>& endpoints,
                                                          const std::vector<events::OutboxEntry>& entries);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  WebhookOptions options_;
  Transport transport_;
  RandomBytes random_;
  Resolver resolver_;
  notify::Outbox* ops_ = nullptr;
};

}  // namespace recur::webhooks
