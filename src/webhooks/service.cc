// Webhook use cases.
#include "webhooks/service.h"

#include <netdb.h>
#include <sodium.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "events/store.h"
#include "platform/parallel.h"
#include "webhooks/stream.h"

namespace recur::webhooks {
namespace {

Error endpoint_not_found(const std::string& id) {
  return Error::not_found("webhook_endpoint_not_found", no_object_message("webhook endpoint", "we", id));
}

// The default transport: one keep-alive connection cache per sender thread, so a busy
// endpoint is not paid a TCP (and TLS) handshake per delivery.
Result<net::HttpResponse> send_keep_alive(const net::HttpRequest& request) {
  thread_local net::Session session;
  return session.send(request);
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
      transport_(transport ? std::move(transport) : Transport(send_keep_alive)),
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
    if (patch.status) {
      // Enabled again by hand: its failures so far no longer count towards disabling it.
      if (*patch.status == "enabled" && e.status != "enabled") e.failing_since.reset();
      e.status = *patch.status;
    }
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

Delivery WebhookService::pending_delivery(const std::string& endpoint_id, const events::OutboxEntry& event,
                                          std::string origin, Timestamp now) {
  Delivery d;
  d.id = ids_.next("whd");
  d.endpoint_id = endpoint_id;
  d.event_id = event.event_id;
  d.event_type = event.type;
  d.event_created = event.created;
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
    Delivery d = pending_delivery(endpoint_id, {event->id, event->type, event->created}, "resend", clock_.now());
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
    std::vector<events::OutboxEntry> window;
    if (request.status) {
      RECUR_ASSIGN(window, replay_events(tx, ReplayWindow{endpoint_id, result.from, end, *request.status,
                                                          kMaxReplayEvents + 1}));
    } else {
      RECUR_ASSIGN(window, events::events_between(tx, result.from, end, kMaxReplayEvents + 1));
    }
    if (window.size() > static_cast<std::size_t>(kMaxReplayEvents))
      return Error::invalid("replay_too_large", "the window holds more than " + std::to_string(kMaxReplayEvents) +
                                                    " events: replay a shorter one");
    for (const auto& e : window) {
      if (!matches(endpoint->enabled_events, e.type)) continue;
      RECUR_TRY(insert(tx, pending_delivery(endpoint_id, e, "replay", now)));
      ++result.deliveries;
    }
    return result;
  });
}

Result<DeliveryReport> WebhookService::fan_out() {
  DeliveryReport report;
  for (;;) {
    RECUR_ASSIGN(int taken, db::transact(db_, [&](db::Tx& tx) -> Result<int> {
      RECUR_ASSIGN(auto entries, events::lock_outbox(tx, options_.fan_out_batch));
      if (entries.empty()) return 0;
      RECUR_ASSIGN(auto endpoints, enabled_endpoints(tx));
      Timestamp now = clock_.now();
      for (const auto& entry : entries) {
        for (const auto& endpoint : endpoints) {
          if (!matches(endpoint.enabled_events, entry.type)) continue;
          RECUR_TRY(insert(tx, pending_delivery(endpoint.id, entry, "event", now)));
          ++report.created;
        }
        RECUR_TRY(add_to_stream_outbox(tx, entry));  // when a node publishes the stream
        RECUR_TRY(events::remove_from_outbox(tx, entry.event_id));
      }
      return static_cast<int>(entries.size());
    }));
    report.fanned_out += taken;
    if (taken < options_.fan_out_batch) return report;
  }
}

Result<std::vector<Claim>> WebhookService::claim_due(Timestamp now, int limit, int depth,
                                                    const std::vector<std::pair<std::string, int>>& in_flight) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<Claim>> {
    RECUR_ASSIGN(auto due, lock_due(tx, DueQuery{now, limit, depth, in_flight}));
    std::vector<Claim> out;
    if (due.empty()) return out;
    std::vector<std::string> event_ids;
    std::map<std::string, Endpoint> endpoints;
    for (auto& d : due) {
      std::int64_t stored_version = d.version;
      ++d.attempts;  // counted at the claim, so a delivery that crashes its worker still runs out of tries
      d.next_attempt_at = now + options_.lease_seconds;
      d.updated = now;
      ++d.version;
      RECUR_ASSIGN(bool stored, webhooks::update(tx, d, stored_version));
      if (!stored) return Error::conflict("webhook_delivery_claim_conflict", "another worker claimed " + d.id);
      event_ids.push_back(d.event_id);
      if (!endpoints.contains(d.endpoint_id)) {
        RECUR_ASSIGN(auto endpoint, find_endpoint(tx, d.endpoint_id, false));
        if (!endpoint) return Error::internal("delivery " + d.id + " names a missing endpoint");
        endpoints.emplace(d.endpoint_id, std::move(*endpoint));
      }
    }
    RECUR_ASSIGN(auto found, events::find_events(tx, event_ids));
    std::map<std::string, std::string> bodies;
    for (const auto& e : found) bodies.emplace(e.id, events::to_json(e).dump());
    out.reserve(due.size());
    for (auto& d : due) {
      auto body = bodies.find(d.event_id);
      if (body == bodies.end()) return Error::internal("delivery " + d.id + " names a missing event");
      const Endpoint& endpoint = endpoints.at(d.endpoint_id);
      out.push_back(Claim{std::move(d), endpoint, body->second});
    }
    return out;
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

Status WebhookService::track_health(db::Tx& tx, const Endpoint& endpoint, std::optional<Timestamp>& failing_since,
                                    bool delivered, Timestamp at) {
  switch (health_after(failing_since, delivered, at)) {
    case Health::kUnchanged:
      return Ok{};
    case Health::kRecovered:
      failing_since.reset();
      return set_failing_since(tx, endpoint.id, std::nullopt);
    case Health::kStartsFailing: {
      failing_since = at;
      return tx.exec_later("UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
                           {endpoint.id, at});
    }
    case Health::kDisable:
      break;
  }
  // The claim's copy may be stale: decide again on the row as it is now.
  RECUR_ASSIGN(auto found, find_endpoint(tx, endpoint.id, true));
  if (!found || found->status != "enabled" || health_after(found->failing_since, delivered, at) != Health::kDisable)
    return Ok{};
  Endpoint e = std::move(*found);
  std::int64_t stored_version = e.version;
  e.status = "disabled";
  e.updated = at;
  ++e.version;
  RECUR_ASSIGN(bool stored, webhooks::update(tx, e, stored_version));
  if (!stored) return Ok{};
  failing_since = e.failing_since;
  spdlog::warn("webhook endpoint {} disabled: every delivery to it has failed since {}", e.id,
               format_rfc3339(*e.failing_since));
  if (options_.ops_email.empty() || !ops_) return Ok{};
  notify::Message m;
  m.template_name = "webhook_endpoint_disabled";
  m.to = options_.ops_email;
  m.resource = e.id;
  m.data = {{"endpoint_id", e.id},
            {"url", e.url},
            {"failing_since", format_rfc3339(*e.failing_since)},
            {"disabled_at", format_rfc3339(at)}};
  // An alert that cannot be queued must not undo the disabling: the log line remains.
  auto queued = ops_->enqueue(tx, m);
  if (!queued.ok()) spdlog::warn("webhooks: alert for {} not queued: {}", e.id, queued.error().message);
  return Ok{};
}

Status WebhookService::record(const std::vector<std::pair<Claim, Attempt>>& outcomes, DeliveryReport& report) {
  if (outcomes.empty()) return Ok{};
  DeliveryReport counted;
  RECUR_TRY(db::transact(db_, [&](db::Tx& tx) -> Status {
    counted = {};
    // Each endpoint's failing_since as this batch leaves it (from the claim's copy).
    std::map<std::string, std::optional<Timestamp>> failing;
    for (const auto& [claim, outcome] : outcomes) {
      // The claim wrote this very state: settle it only if no one has moved it since (the
      // lease ran out and another worker took it, or the endpoint was deleted with it).
      Delivery d = claim.delivery;
      std::int64_t claimed_version = d.version;
      apply_attempt(d, outcome);
      ++d.version;
      RECUR_ASSIGN(bool written, webhooks::update(tx, d, claimed_version));
      if (!written) {
        ++counted.lost;
        continue;
      }
      if (d.status == "succeeded") ++counted.succeeded;
      else if (d.status == "failed") ++counted.failed;
      else ++counted.retrying;
      auto health = failing.try_emplace(claim.endpoint.id, claim.endpoint.failing_since).first;
      bool delivered = outcome.status_code && is_delivered(*outcome.status_code);
      RECUR_TRY(track_health(tx, claim.endpoint, health->second, delivered, outcome.at));
    }
    return Ok{};
  }));
  report.succeeded += counted.succeeded;
  report.retrying += counted.retrying;
  report.failed += counted.failed;
  report.lost += counted.lost;
  return Ok{};
}

Result<DeliveryReport> WebhookService::deliver_due() {
  Timestamp now = clock_.now();
  DeliveryReport report;
  // Each round claims what is due now (at most per_endpoint of an endpoint, so that many
  // are in flight to it), and a claimed delivery is not due again before its lease ends:
  // the rounds end when nothing due is left.
  for (int conflicts = 0;;) {
    auto claimed = claim_due(now, options_.delivery_batch, options_.per_endpoint);
    // A conflict means another worker got there first: claim again.
    if (!claimed.ok() && claimed.error().kind == ErrorKind::kConflict && ++conflicts < 100) continue;
    if (!claimed.ok()) return std::move(claimed).error();
    if (claimed->empty()) return report;
    std::vector<std::pair<Claim, Attempt>> outcomes(claimed->size());
    parallel_for(options_.senders, claimed->size(), [&](std::size_t i) {
      outcomes[i] = {(*claimed)[i], attempt((*claimed)[i])};
    });
    RECUR_TRY(record(outcomes, report));
  }
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
    RECUR_ASSIGN(bool empty, events::outbox_empty(tx));
    if (!empty) return std::optional<Timestamp>(now);
    return webhooks::next_due_at(tx);
  }, db::TxMode::kReadOnly);
}

}  // namespace recur::webhooks
