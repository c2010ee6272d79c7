// Webhook use cases: endpoints and their secrets; fan-out from the event outbox into
// deliveries; delivery with Standard Webhooks signatures and retries on the injected clock.
#pragma once

#include <functional>
#include <string>
#include <vector>

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

struct WebhookOptions {
  int fan_out_batch = 100;           // outbox entries one fan-out transaction takes
  int delivery_batch = 100;          // deliveries one deliver_due run sends at most
  std::int64_t lease_seconds = 60;   // a claim older than this is due again (a crashed worker)
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

class WebhookService {
 public:
  using Transport = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;
  using RandomBytes = std::function<std::string(std::size_t)>;
  // A host's addresses (getaddrinfo by default); an error when it does not resolve.
  using Resolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;

  // `transport` defaults to net::send; `random` to libsodium's CSPRNG.
  WebhookService(db::Database& db, const Clock& clock, IdGenerator& ids, WebhookOptions options = {},
                 Transport transport = {}, RandomBytes random = {}, Resolver resolver = {});

  Result<Endpoint> create(const EndpointInput& input);
  Result<Endpoint> get(const std::string& id);
  Result<Page<Endpoint>> list(const ListParams& page);
  Result<Endpoint> update(const std::string& id, const EndpointPatch& patch, std::int64_t expected_version);
  Status remove(const std::string& id);
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
  // Sends the deliveries due now, each claimed with a lease in its own transaction, POSTed
  // outside any transaction, its outcome recorded after. Safe on several threads or nodes.
  Result<DeliveryReport> deliver_due();
  // fan_out, then deliver_due.
  Result<DeliveryReport> run();
  // When something is next due: now when the outbox holds events, else the next pending
  // delivery's time; none when there is nothing to do (test clock stops).
  Result<std::optional<Timestamp>> next_due_at();

 private:
  struct Claim {
    Delivery delivery;
    Endpoint endpoint;
    std::string body;
  };
  Result<std::optional<Claim>> claim(Timestamp now);
  Delivery pending_delivery(const std::string& endpoint_id, const std::string& event_id, std::string origin,
                            Timestamp now);
  Attempt attempt(const Claim& claim);
  Result<bool> record(const Delivery& claimed, Attempt attempt, DeliveryReport& report);
  // Ok, or why the SSRF guard refuses `url` (none when private URLs are allowed).
  Status check_destination(const std::string& url);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  WebhookOptions options_;
  Transport transport_;
  RandomBytes random_;
  Resolver resolver_;
};

}  // namespace recur::webhooks
