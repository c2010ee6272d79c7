// Notification use cases: enqueue inside the caller's transaction (outbox), dispatch after
// commit with retries, and read the delivery record.
#pragma once

#include <string>

#include "notify/email.h"
#include "notify/model.h"
#include "notify/outbox.h"
#include "notify/sms.h"
#include "notify/store.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/ids.h"

namespace recur::notify {

// Makes an attachment's file when its e-mail is sent (billing draws invoice PDFs). A failure
// of kind kNotFound or kInvalid gives the message up; any other is retried like a refused
// delivery.
class AttachmentSource {
 public:
  virtual ~AttachmentSource() = default;
  virtual Result<EmailAttachment> attachment(const AttachmentRef& ref) = 0;
};

struct NotifierOptions {
  std::string update_payment_url;    // base of the link in payment_failed and card_expiring
  int batch = 100;                   // messages one dispatch_due run sends at most
  std::int64_t lease_seconds = 600;  // a claim older than this is due again (a crashed dispatcher)
};

struct DispatchReport {
  int sent = 0;
  int failed = 0;  // failed this time, retry scheduled
  int dead = 0;    // failed for good (refused, or the last attempt)
  int lost = 0;    // another dispatcher took the message over after our lease expired
  std::string first_error;
};

class Notifier final : public Outbox {
 public:
  Notifier(db::Database& db, const Clock& clock, IdGenerator& ids, EmailSender& email, SmsSender& sms,
           NotifierOptions options = {})
      : db_(db), clock_(clock), ids_(ids), email_(email), sms_(sms), options_(std::move(options)) {}

  // Renders the message and stores it queued; returns its id ("ntf_..."). Nothing is sent
  // unless the caller's transaction commits. Bad input (unknown template, bad recipient,
  // missing data) is refused with kInvalid before any SQL runs, so the caller's
  // transaction stays usable if it chooses to go on without the message.
  // Requires: called inside the caller's transaction.
  Result<std::string> enqueue(db::Tx& tx, const Message& message) override;

  // Where attachments are made when a message is sent; without one, a message with
  // attachments is retried (attachment_unavailable) until a source is set.
  void set_attachment_source(AttachmentSource& source) { attachments_ = &source; }

  // Sends the messages due now, each claimed and recorded in its own small transaction, and
  // schedules retries (retry_delay). Safe to run on several threads or nodes at once: a
  // message is claimed by one dispatcher only.
  Result<DispatchReport> dispatch_due();

  Result<Notification> get(const std::string& id);
  // Erasure: the customer's messages not sent yet are given up (dead, "the customer was
  // erased"), inside the caller's transaction, before their data key goes. Returns how many.
  Result<int> drop_pending_for_customer(db::Tx& tx, const std::string& customer);
  Result<Page<Notification>> list(const ListFilter& filter);

 private:
  Result<Notification> prepare(const Message& message);
  Result<std::optional<Notification>> claim(Timestamp now);
  Status deliver(const Notification& n);
  // Records the outcome of the attempt `claimed` made; false when the claim was lost.
  Result<bool> record(const Notification& claimed, const Status& outcome, DispatchReport& report);

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  EmailSender& email_;
  SmsSender& sms_;
  NotifierOptions options_;
  AttachmentSource* attachments_ = nullptr;
};

}  // namespace recur::notify
