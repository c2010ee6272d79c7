// Webhook use cases.
#include "webhooks/service.h"

#include <netdb.h>
#include <sodium.h>
#include <sys/socket.h>

#include <chrono>

#include "events/store.h"
#include "webhooks/stream.h"

namespace recur::webhooks {
namespace {

Error endpoint_not_found(const std::string& id) {
  return Error::not_found("webhook_endpoint_not_found", "no webhook endpoint with id '" + id + "'");
}

std::string libsodium_bytes(std::size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

Result<std::vector<std::string>> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    return Error::unavailable("transport_error", "cannot resolve " + host + ": " + gai_strerror(rc));
  std::vector<std::string> out;
  for (addrinfo* a = found; a; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0)
      out.emplace_back(text);
  }
  freeaddrinfo(found);
  return out;
}

}  // namespace

Status WebhookService::check_destination(const std::string& url) {
  if (options_.allow_private_urls) return Ok{};
  std::string host = url_host(url);
  RECUR_ASSIGN(auto addresses, resolver_(host));
  for (const auto& address : addresses)
    if (is_private_address(address))
      return Error::invalid("validation_failed", "url resolves to a private address",
                            {{"url", "private_address",
                              "url's host " + host + " resolves to " + address +
                                  " (loopback, link-local or private): refused outside test mode unless the server"
                                  " runs with --allow-private-webhook-urls"}});
  return Ok{};
}

WebhookService::WebhookService(db::Database& db, const Clock& clock, IdGenerator& ids, WebhookOptions options,
                               Transport transport, RandomBytes random, Resolver resolver)
    : db_(db),
      clock_(clock),
      ids_(ids),
      options_(options),
      transport_(transport ? std::move(transport) : Transport(net::send)),
      random_(random ? std::move(random) : RandomBytes(libsodium_bytes)),
      resolver_(resolver ? std::move(resolver) : Resolver(resolve_host)) {}

Result<Endpoint> WebhookService::create(const EndpointInput& input) {
  if (auto refused = check_destination(input.url); !refused.ok() && refused.error().kind == ErrorKind::kInvalid)
    return refused.error();
  Endpoint e;
  e.id = ids_.next("we");
  e.url = input.url;
  e.enabled_events = input.enabled_events;
  e.secret = secret_from_bytes(random_(kSecretBytes));
  e.description = input.description;
  e.metadata = input.metadata;
  e.created = e.updated = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Endpoint> {
    RECUR_TRY(insert(tx, e));
    return e;
  });
}

Result<Endpoint> WebhookService::get(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Endpoint> {
    RECUR_ASSIGN(auto found, find_endpoint(tx, id, false));
    if (!found) return endpoint_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Endpoint>> WebhookService::list(const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) { return list_endpoints(tx, page); }, db::TxMode::kReadOnly);
}

Result<Endpoint> WebhookService::update(const std::string& id, const EndpointPatch& patch,
                                        std::int64_t expected_version) {
  if (patch.url)
    if (auto refused = check_destination(*patch.url); !refused.ok() && refused.error().kind == ErrorKind::kInvalid)
      return refused.error();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Endpoint> {
    RECUR_ASSIGN(auto found, find_endpoint(tx, id, true));
    if (!found) return endpoint_not_found(id);
    Endpoint e = std::move(*found);
    if (e.version != expected_version) return version_conflict("the webhook endpoint", expected_version, e.version);
    if (patch.url) e.url = *patch.url;
    if (patch.enabled_events) e.enabled_events = *patch.enabled_events;
    if (patch.status) e.status = *patch.status;
    if (patch.description) e.description = *patch.description;
    if (patch.metadata) e.metadata = *patch.metadata;
    e.updated = clock_.now();
    ++e.version;
    RECUR_ASSIGN(bool stored, webhooks::update(tx, e, expected_version));
    if (!stored) return version_conflict("the webhook endpoint", expected_version, e.version);
    return e;
  });
}

Status WebhookService::remove(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Status {
    RECUR_ASSIGN(auto found, find_endpoint(tx, id, true));
    if (!found) return endpoint_not_found(id);
    return remove_endpoint(tx, id);
  });
}

Result<Endpoint> WebhookService::rotate_secret(const std::string& id) {
  std::string secret = secret_from_bytes(random_(kSecretBytes));
  return db::transact(db_, [&](db::Tx& tx) -> Result<Endpoint> {
    RECUR_ASSIGN(auto found, find_endpoint(tx, id, true));
    if (!found) return endpoint_not_found(id);
    Endpoint e = std::move(*found);
    std::int64_t stored_version = e.version;
    Timestamp now = clock_.now();
    e.previous_secret = e.secret;
    e.previous_secret_expires_at = now + kPreviousSecretSeconds;
    e.secret = secret;
    e.updated = now;
    ++e.version;
    RECUR_ASSIGN(bool stored, webhooks::update(tx, e, stored_version));
    if (!stored) return version_conflict("the webhook endpoint", stored_version, e.version);
    return e;
  });
}

Result<Page<Delivery>> WebhookService::deliveries(const DeliveryFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<Delivery>> {
    RECUR_ASSIGN(auto found, find_endpoint(tx, filter.endpoint_id, false));
    if (!found) return endpoint_not_found(filter.endpoint_id);
    return list_deliveries(tx, filter);
  }, db::TxMode::kReadOnly);
}

Delivery WebhookService::pending_delivery(const std::string& endpoint_id, const std::string& event_id,
                                          std::string origin, Timestamp now) {
  Delivery d;
  d.id = ids_.next("whd");
  d.endpoint_id = endpoint_id;
  d.event_id = event_id;
  d.origin = std::move(origin);
  d.next_attempt_at = now;
  d.created = d.updated = now;
  return d;
}

Result<Delivery> WebhookService::resend(const std::string& event_id, const std::string& endpoint_id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Delivery> {
    RECUR_ASSIGN(auto event, events::find_event(tx, event_id));
    if (!event) return Error::not_found("event_not_found", "no event with id '" + event_id + "'");
    RECUR_ASSIGN(auto endpoint, find_endpoint(tx, endpoint_id, false));
    if (!endpoint) return endpoint_not_found(endpoint_id);
    Delivery d = pending_delivery(endpoint_id, event_id, "resend", clock_.now());
    d.event_type = event->type;
    RECUR_TRY(insert(tx, d));
    return d;
  });
}

Result<ReplayResult> WebhookService::replay(const std::string& endpoint_id, const ReplayRequest& request) {
  Timestamp now = clock_.now();
  ReplayResult result{endpoint_id, request.from, request.to.value_or(now), request.status, 0};
  return db::transact(db_, [&](db::Tx& tx) -> Result<ReplayResult> {
    RECUR_ASSIGN(auto endpoint, find_endpoint(tx, endpoint_id, false));
    if (!endpoint) return endpoint_not_found(endpoint_id);
    // Without `to`, every event up to now, those of this very second included.
    Timestamp end = request.to ? *request.to : now + 1;
    RECUR_ASSIGN(auto events, replay_events(tx, ReplayWindow{endpoint_id, result.from, end, request.status,
                                                             kMaxReplayEvents + 1}));
    if (events.size() > static_cast<std::size_t>(kMaxReplayEvents))
      return Error::invalid("replay_too_large", "the window holds more than " + std::to_string(kMaxReplayEvents) +
                                                    " events: replay a shorter one");
    for (const auto& e : events) {
      if (!matches(endpoint->enabled_events, e.type)) continue;
      RECUR_TRY(insert(tx, pending_delivery(endpoint_id, e.event_id, "replay", now)));
      ++result.deliveries;
    }
    return result;
  });
}

Result<DeliveryReport> WebhookService::fan_out() {
  DeliveryReport report;
  for (;;) {
    RECUR_ASSIGN(int taken, db::transact(db_, [&](db::Tx& tx) -> Result<int> {
      RECUR_ASSIGN(auto entries, lock_outbox(tx, options_.fan_out_batch));
      if (entries.empty()) return 0;
      RECUR_ASSIGN(auto endpoints, enabled_endpoints(tx));
      Timestamp now = clock_.now();
      for (const auto& entry : entries) {
        for (const auto& endpoint : endpoints) {
          if (!matches(endpoint.enabled_events, entry.type)) continue;
          RECUR_TRY(insert(tx, pending_delivery(endpoint.id, entry.event_id, "event", now)));
          ++report.created;
        }
        RECUR_TRY(add_to_stream_outbox(tx, entry.event_id));  // when a node publishes the stream
        RECUR_TRY(remove_from_outbox(tx, entry.event_id));
      }
      return static_cast<int>(entries.size());
    }));
    report.fanned_out += taken;
    if (taken < options_.fan_out_batch) return report;
  }
}

Result<std::optional<WebhookService::Claim>> WebhookService::claim(Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Claim>> {
    RECUR_ASSIGN(auto due, lock_next_due(tx, now));
    if (!due) return std::optional<Claim>();
    Delivery d = std::move(*due);
    std::int64_t stored_version = d.version;
    ++d.attempts;  // counted at the claim, so a delivery that crashes its worker still runs out of tries
    d.next_attempt_at = now + options_.lease_seconds;
    d.updated = now;
    ++d.version;
    RECUR_ASSIGN(bool stored, webhooks::update(tx, d, stored_version));
    if (!stored) return Error::conflict("webhook_delivery_claim_conflict", "another worker claimed " + d.id);
    RECUR_ASSIGN(auto endpoint, find_endpoint(tx, d.endpoint_id, false));
    RECUR_ASSIGN(auto event, events::find_event(tx, d.event_id));
    if (!endpoint || !event) return Error::internal("delivery " + d.id + " names a missing endpoint or event");
    std::string body = events::to_json(*event).dump();
    return std::optional<Claim>(Claim{std::move(d), std::move(*endpoint), std::move(body)});
  });
}

Attempt WebhookService::attempt(const Claim& c) {
  Timestamp timestamp = clock_.now();
  net::HttpRequest request;
  request.method = "POST";
  request.url = c.endpoint.url;
  request.headers = {{"content-type", "application/json"},
                     {"webhook-id", c.delivery.event_id},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", signature_header(signing_secrets(c.endpoint, timestamp),
                                                            c.delivery.event_id, timestamp, c.body)},
                     {"user-agent", "Recur-Webhooks/1"}};
  request.body = c.body;
  request.timeout = std::chrono::seconds(kTimeoutSeconds);
  request.connect_timeout = std::chrono::seconds(kConnectTimeoutSeconds);
  // Wall time of the request, for the deliveries list; the schedule uses the injected clock.
  auto started = std::chrono::steady_clock::now();
  // The guard again at each attempt: the host's addresses may have changed since creation.
  Status allowed = check_destination(c.endpoint.url);
  auto response = allowed.ok() ? transport_(request) : Result<net::HttpResponse>(allowed.error());
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  Attempt a;
  a.at = clock_.now();
  a.duration_ms = elapsed.count();
  if (!response.ok()) {
    a.error = response.error().code + ": " + response.error().message;
    return a;
  }
  a.status_code = static_cast<int>(response->status);
  if (!is_delivered(*a.status_code)) a.error = "HTTP " + std::to_string(response->status);
  return a;
}

Result<bool> WebhookService::record(const Delivery& claimed, Attempt outcome, DeliveryReport& report) {
  RECUR_ASSIGN(auto settled, db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Delivery>> {
    RECUR_ASSIGN(auto stored, find_delivery(tx, claimed.id, true));
    // Gone (its endpoint was deleted) or re-claimed after our lease ran out.
    if (!stored || stored->version != claimed.version) return std::optional<Delivery>();
    Delivery d = std::move(*stored);
    apply_attempt(d, outcome);
    ++d.version;
    RECUR_ASSIGN(bool written, webhooks::update(tx, d, claimed.version));
    if (!written) return std::optional<Delivery>();
    return std::optional<Delivery>(std::move(d));
  }));
  if (!settled) {
    ++report.lost;
    return false;
  }
  if (settled->status == "succeeded") ++report.succeeded;
  else if (settled->status == "failed") ++report.failed;
  else ++report.retrying;
  return true;
}

Result<DeliveryReport> WebhookService::deliver_due() {
  Timestamp now = clock_.now();
  DeliveryReport report;
  for (int i = 0; i < options_.delivery_batch; ++i) {
    auto claimed = claim(now);
    // A conflict means another worker got there first: look for the next one.
    if (!claimed.ok() && claimed.error().kind == ErrorKind::kConflict) continue;
    if (!claimed.ok()) return std::move(claimed).error();
    if (!*claimed) break;
    RECUR_TRY(record((*claimed)->delivery, attempt(**claimed), report));
  }
  return report;
}

Result<DeliveryReport> WebhookService::run() {
  RECUR_ASSIGN(auto fanned, fan_out());
  RECUR_ASSIGN(auto delivered, deliver_due());
  delivered.fanned_out = fanned.fanned_out;
  delivered.created = fanned.created;
  return delivered;
}

Result<std::optional<Timestamp>> WebhookService::next_due_at() {
  Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Timestamp>> {
    RECUR_ASSIGN(bool empty, outbox_empty(tx));
    if (!empty) return std::optional<Timestamp>(now);
    return webhooks::next_due_at(tx);
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::webhooks
