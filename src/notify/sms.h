// SMS delivery port: a Twilio-style HTTP form API, or the log for `make run`.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "platform/result.h"

namespace recur::notify {

struct Sms {
  std::string id;  // the notification's id
  std::string to;  // E.164
  std::string body;
  std::vector<std::string> secrets;  // in the body: sent, never logged
  std::string template_name;
};

class SmsSender {
 public:
  virtual ~SmsSender() = default;
  // kInvalid: refused for good (no retry); any other error is worth retrying.
  virtual Status send(const Sms& sms) = 0;
};

struct HttpSmsOptions {
  std::string url;      // the provider's messages endpoint, POSTed as a form
  std::string account;  // HTTP basic auth user (Twilio: the account SID)
  std::string token;    // HTTP basic auth password (Twilio: the auth token)
  std::string from;     // the sending number or sender id
  std::chrono::milliseconds timeout{10000};
};

// POSTs To, From and Body as application/x-www-form-urlencoded with basic auth. A 2xx is
// sent; 408, 429 and 5xx are retried; any other status is a refusal for good.
class HttpSmsSender final : public SmsSender {
 public:
  explicit HttpSmsSender(HttpSmsOptions options) : options_(std::move(options)) {}
  Status send(const Sms& sms) override;

 private:
  HttpSmsOptions options_;
};

// Logs the id, the template and a masked number (see mask_phone), never the body.
class LogSmsSender final : public SmsSender {
 public:
  Status send(const Sms& sms) override;
};

}  // namespace recur::notify
