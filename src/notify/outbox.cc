// The SMS copy of a customer's e-mail.
#include "notify/outbox.h"

namespace recur::notify {

Result<std::string> enqueue_sms_copy(Outbox& outbox, db::Tx& tx, Message email,
                                     const std::optional<std::string>& phone) {
  if (!phone || !also_by_sms(email.template_name)) return std::string();
  email.channel = Channel::kSms;
  email.to = *phone;
  if (email.data.is_object()) email.data.erase("update_payment_token");
  email.attachments.clear();  // a text carries no files
  return outbox.enqueue(tx, email);
}

}  // namespace recur::notify
