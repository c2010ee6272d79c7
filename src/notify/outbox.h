// The one thing other modules ask of notifications: queue a message inside their own
// transaction. Notifier stores it for dispatch; NullNotifier drops it (a module wired
// without notifications, a test that does not look at messages).
#pragma once

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

}  // namespace recur::notify
