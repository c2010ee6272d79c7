// The one thing other modules ask of notifications: queue a message inside their own
// transaction. Notifier stores it for dispatch; NullNotifier drops it (a module wired
// without notifications, a test that does not look at messages).
#pragma once

#include <optional>
#include <string>

#include "notify/model.h"
#include "platform/db/database.h"
#include "platform/result.h"

namespace recur::notify {

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Queues `message`; returns its id ("ntf_..."), or "" when nothing was queued. Nothing is
  // sent unless the caller's transaction commits. Requires: called inside `tx`.
  virtual Result<std::string> enqueue(db::Tx& tx, const Message& message) = 0;
};

// A notifier that does nothing: every message is accepted and dropped, no SQL runs.
class NullNotifier final : public Outbox {
 public:
  Result<std::string> enqueue(db::Tx&, const Message&) override { return std::string(); }
};

// Queues the SMS copy of `email`, a message to a customer (the same template, data,
// customer and resource), to `phone` when the customer opted in to SMS (`phone` is then
// customers::sms_number) and the template is one customers get by SMS too (also_by_sms);
// returns "" when nothing was queued. An update-payment token in the data is dropped: a
// text never carries one (a template whose SMS wanted it would be refused, not sent).
// Requires: called inside `tx`, the transaction that queues the e-mail.
Result<std::string> enqueue_sms_copy(Outbox& outbox, db::Tx& tx, Message email,
                                     const std::optional<std::string>& phone);

}  // namespace recur::notify
