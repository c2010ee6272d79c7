// Notification use cases.
#include "notify/service.h"
#include "platform/ids.h"

#include "platform/phone.h"

#include <algorithm>
#include <iterator>

namespace recur::notify {
namespace {

Error refused(std::string field, std::string code, std::string message) {
  std::string detail = message;
  return Error::invalid("validation_failed", detail, {{std::move(field), std::move(code), std::move(message)}});
}

Status check_recipient(const Message& m) {
  if (m.channel == Channel::kEmail && !is_email_address(m.to))
    return refused("to", "invalid_email", "to must be an e-mail address for the email channel");
  if (m.channel == Channel::kSms && !is_e164(m.to))
    return refused("to", "invalid_phone", "to must be an E.164 phone number (+14155550123) for the sms channel");
  return Ok{};
}

// Settles the claimed attempt: sent, retry later, or give up.
void apply_outcome(Notification& n, const Status& outcome, Timestamp now) {
  n.next_attempt_at.reset();
  if (outcome.ok()) {
    n.status = DeliveryStatus::kSent;
    n.sent_at = now;
    n.last_error.reset();
  } else {
    n.last_error = outcome.error().message;
    auto delay = outcome.error().kind == ErrorKind::kInvalid ? std::nullopt : retry_delay(n.attempts);
    n.status = delay ? DeliveryStatus::kFailed : DeliveryStatus::kDead;
    if (delay) n.next_attempt_at = now + *delay;
  }
  // Tokens are needed only to send: once final, the record keeps the bodies without them.
  if (n.status == DeliveryStatus::kSent || n.status == DeliveryStatus::kDead) scrub_secrets(n);
}

}  // namespace

Result<int> Notifier::drop_pending_for_customer(db::Tx& tx, const std::string& customer) {
  RECUR_ASSIGN(auto pending, pending_for_customer(tx, customer));
  for (auto& n : pending) {
    auto expected = n.version++;
    n.status = DeliveryStatus::kDead;
    n.next_attempt_at.reset();
    n.last_error = "the customer was erased";
    scrub_secrets(n);
    RECUR_ASSIGN(bool stored, update(tx, n, expected));
    if (!stored) return Error::conflict("version_conflict", "notification " + n.id + " changed while being dropped");
  }
  return static_cast<int>(pending.size());
}

Result<Notification> Notifier::prepare(const Message& m) {
  const Template* t = find_template(m.template_name);
  if (!t) return refused("template", "invalid_value", "unknown template '" + m.template_name + "'");
  RECUR_TRY(check_recipient(m));
  if (!m.data.is_object()) return refused("data", "invalid_type", "data must be an object");
  if (m.channel != Channel::kEmail && !m.attachments.empty())
    return refused("attachments", "not_allowed", "only an e-mail carries attachments");
  for (const auto& a : m.attachments)
    if (std::find(std::begin(kAttachmentKinds), std::end(kAttachmentKinds), a.kind) == std::end(kAttachmentKinds) ||
        a.id.empty())
      return refused("attachments", "invalid_value", "unknown attachment kind '" + a.kind + "'");
  RECUR_ASSIGN(auto rendered, render_template(*t, m.channel, m.data, options_.update_payment_url));
  Timestamp now = clock_.now();
  Notification n;
  n.id = ids_.next("ntf");
  n.channel = m.channel;
  n.template_name = m.template_name;
  n.to = m.to;
  n.customer = m.customer;
  n.resource = m.resource;
  n.subject = std::move(rendered.subject);
  n.text = std::move(rendered.text);
  n.html = std::move(rendered.html);
  n.secrets = std::move(rendered.secrets);
  n.attachments = m.attachments;
  n.next_attempt_at = std::max(now, m.send_at.value_or(now));
  n.metadata = m.metadata;
  n.created = n.updated = now;
  return n;
}

Result<std::string> Notifier::enqueue(db::Tx& tx, const Message& message) {
  RECUR_ASSIGN(auto n, prepare(message));
  RECUR_TRY(insert(tx, n));
  return n.id;
}

Result<std::optional<Notification>> Notifier::claim(Timestamp now) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<std::optional<Notification>> {
    RECUR_ASSIGN(auto due, lock_next_due(tx, now));
    if (!due) return due;
    Notification n = std::move(*due);
    std::int64_t stored_version = n.version;
    n.status = DeliveryStatus::kSending;
    ++n.attempts;  // counted at the claim, so a message that crashes its dispatcher still runs out of tries
    n.next_attempt_at = now + options_.lease_seconds;
    n.updated = now;
    ++n.version;
    RECUR_ASSIGN(bool stored, update(tx, n, stored_version));
    if (!stored) return Error::conflict("notification_claim_conflict", "another dispatcher claimed " + n.id);
    return std::optional<Notification>(std::move(n));
  });
}

Status Notifier::deliver(const Notification& n) {
  if (n.channel == Channel::kSms) return sms_.send(Sms{n.id, n.to, n.text, n.secrets, n.template_name});
  Email email{n.id, n.to, n.subject.value_or(""), n.text, n.html.value_or(""), n.secrets, n.template_name, {}};
  for (const auto& ref : n.attachments) {
    if (!attachments_)
      return Error::unavailable("attachment_unavailable", "no attachment source is set to make " + ref.kind);
    auto file = attachments_->attachment(ref);
    if (!file.ok()) {
      // The file's own failure, by kind: gone or refused for good gives the message up.
      auto kind = file.error().kind;
      std::string why = "could not make the " + ref.kind + " attachment: " + file.error().code;
      if (kind == ErrorKind::kNotFound || kind == ErrorKind::kInvalid) return Error::invalid("attachment_unavailable", why);
      return Error::unavailable("attachment_unavailable", why);
    }
    email.attachments.push_back(std::move(*file));
  }
  return email_.send(email);
}

Result<bool> Notifier::record(const Notification& claimed, const Status& outcome, DispatchReport& report) {
  Timestamp now = clock_.now();
  RECUR_ASSIGN(bool recorded, db::transact(db_, [&](db::Tx& tx) -> Result<bool> {
    RECUR_ASSIGN(auto stored, find(tx, claimed.id, true));
    if (!stored || stored->version != claimed.version) return false;  // our lease ran out and it was re-claimed
    Notification n = std::move(*stored);
    apply_outcome(n, outcome, now);
    n.updated = now;
    ++n.version;
    return update(tx, n, claimed.version);
  }));
  if (!recorded) {
    ++report.lost;
    return false;
  }
  if (outcome.ok()) ++report.sent;
  else if (outcome.error().kind != ErrorKind::kInvalid && retry_delay(claimed.attempts)) ++report.failed;
  else ++report.dead;
  if (!outcome.ok() && report.first_error.empty()) report.first_error = claimed.id + ": " + outcome.error().message;
  return true;
}

Result<DispatchReport> Notifier::dispatch_due() {
  Timestamp now = clock_.now();
  DispatchReport report;
  for (int i = 0; i < options_.batch; ++i) {
    auto claimed = claim(now);
    // A conflict means another dispatcher got there first: look for the next one.
    if (!claimed.ok() && claimed.error().kind == ErrorKind::kConflict) continue;
    if (!claimed.ok()) return std::move(claimed).error();
    if (!*claimed) break;
    Status outcome = deliver(**claimed);
    RECUR_TRY(record(**claimed, outcome, report));
  }
  return report;
}

Result<Notification> Notifier::get(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Notification> {
    RECUR_ASSIGN(auto found, find(tx, id, false));
    if (!found) return Error::not_found("notification_not_found", no_object_message("notification", "ntf", id));
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Notification>> Notifier::list(const ListFilter& filter) {
  return db::transact(db_, [&](db::Tx& tx) { return notify::list(tx, filter); }, db::TxMode::kReadOnly);
}

}  // namespace recur::notify
