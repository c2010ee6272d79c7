// Webhook use cases.
#include "webhooks/service.h"

#include <netdb.h>
#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
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

std::optional<std::string> supplier_of(const std::map<std::string, std::string>& suppliers,
                                       const std::string& event_id) {
  auto it = suppliers.find(event_id);
  if (it == suppliers.end()) return std::nullopt;
  return it->second;
}

Error supplier_endpoint(const Endpoint& e, const std::string& what) {
  return Error::conflict("supplier_endpoint", "webhook endpoint " + e.id + " delivers supplier " + *e.supplier_id +
                                                  "'s purchase orders: " + what);
}

}  // namespace

Status WebhookService::check_destination(const std::string& url, const std::string& field) {
  if (options_.allow_private_urls) return Ok{};
  std::string host = url_host(url);
  RECUR_ASSIGN(auto addresses, resolver_(host));
  for (const auto& address : addresses)
    if (is_private_address(address))
      return Error::invalid("validation_failed", field + " resolves to a private address",
                            {{field, "private_address",
                              field + "'s host " + host + " resolves to " + address +
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
    if (e.supplier_id && (patch.url || patch.enabled_events))
      return supplier_endpoint(e, std::string(patch.url ? "its url" : "its enabled_events") +
                                      " cannot change here: change the supplier's webhook_url instead");
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
    if (found->supplier_id)
      return supplier_endpoint(*found, "it cannot be deleted here: clear the supplier's webhook_url instead");
    return remove_endpoint(tx, id);
  });
}

Endpoint WebhookService::new_supplier_endpoint(const SupplierWebhook& s, std::string description, Timestamp now) {
  Endpoint e;
  e.id = ids_.next("we");
  e.url = *s.url;
  e.enabled_events = {std::string(kSupplierEventType)};
  e.secret = secret_from_bytes(random_(kSecretBytes));
  e.description = std::move(description);
  e.created = e.updated = now;
  e.supplier_id = s.supplier_id;
  return e;
}

Result<std::optional<std::string>> WebhookService::sync_supplier_endpoint(db::Tx& tx, const SupplierWebhook& s) {
  RECUR_ASSIGN(auto found, find_supplier_endpoint(tx, s.supplier_id));
  if (!s.url) {
    if (found) RECUR_TRY(remove_endpoint(tx, found->id));
    return std::optional<std::string>();
  }
  if (!is_webhook_url(*s.url))
    return Error::invalid("validation_failed", "webhook_url is not a webhook URL",
                          {{"webhook_url", "invalid_url",
                            "webhook_url must be an absolute http:// or https:// URL with a host and no credentials"}});
  std::string description = "Purchase orders sent to supplier " + s.supplier_name + " (" + s.supplier_id + ")";
  if (found && found->url == *s.url && found->description == description) return std::optional<std::string>(found->id);
  if (!found || found->url != *s.url)
    if (auto refused = check_destination(*s.url, "webhook_url");
        !refused.ok() && refused.error().kind == ErrorKind::kInvalid)
      return refused.error();
  Timestamp now = clock_.now();
  if (!found) {
    Endpoint e = new_supplier_endpoint(s, std::move(description), now);
    RECUR_TRY(insert(tx, e));
    return std::optional<std::string>(e.id);
  }
  Endpoint e = std::move(*found);
  std::int64_t stored_version = e.version;
  e.url = *s.url;
  e.description = std::move(description);
  e.updated = now;
  ++e.version;
  RECUR_ASSIGN(bool stored, webhooks::update(tx, e, stored_version));
  if (!stored) return version_conflict("the webhook endpoint", stored_version, e.version);
  return std::optional<std::string>(e.id);
}

Result<std::map<std::string, std::string>> WebhookService::po_suppliers(
    db::Tx& tx, const std::vector<Endpoint>& endpoints, const std::vector<events::OutboxEntry>& entries) {
  std::map<std::string, std::string> out;
  bool any_supplier = std::any_of(endpoints.begin(), endpoints.end(), [](const Endpoint& e) { return e.supplier_id; });
  if (!any_supplier) return out;
  std::vector<std::string> ids;
  for (const auto& entry : entries)
    if (entry.type == kSupplierEventType) ids.push_back(entry.event_id);
  // A fan-out batch is one query; a replay's window (up to kMaxReplayEvents) a few, each
  // well under the engines' limits on bound parameters.
  constexpr std::size_t kPerQuery = 500;
  for (std::size_t from = 0; from < ids.size(); from += kPerQuery) {
    std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), from + kPerQuery)));
    RECUR_ASSIGN(auto found, events::find_events(tx, chunk));
    for (const auto& event : found) {
      Json supplier = event.after.is_object() ? event.after.value("supplier", Json()) : Json();
      if (supplier.is_string()) out.emplace(event.id, supplier.get<std::string>());
    }
  }
  return out;
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
    events::OutboxEntry entry{event->id, event->type, event->created};
    // A supplier sees its own purchase orders and nothing else of the merchant's.
    if (endpoint->supplier_id) {
      RECUR_ASSIGN(auto suppliers, po_suppliers(tx, {*endpoint}, {entry}));
      if (!wants(*endpoint, entry.type, supplier_of(suppliers, entry.event_id)))
        return supplier_endpoint(*endpoint, "it receives only its own supplier's purchase_order.sent events");
    }
    Delivery d = pending_delivery(endpoint_id, entry, "resend", clock_.now());
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
    RECUR_ASSIGN(auto suppliers, po_suppliers(tx, {*endpoint}, window));
    for (const auto& e : window) {
      if (!wants(*endpoint, e.type, supplier_of(suppliers, e.event_id))) continue;
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
      RECUR_ASSIGN(auto suppliers, po_suppliers(tx, endpoints, entries));
      Timestamp now = clock_.now();
      for (const auto& entry : entries) {
        for (const auto& endpoint : endpoints) {
          if (!wants(endpoint, entry.type, supplier_of(suppliers, entry.event_id))) continue;
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
