// SMS through a Twilio-style form API, and the log sender.
#include "notify/sms.h"

#include <spdlog/spdlog.h>

#include "notify/email.h"
#include "notify/model.h"
#include "platform/net/http_client.h"

namespace recur::notify {
namespace {

bool retryable(long status) { return status == 408 || status == 429 || status >= 500; }

}  // namespace

Status HttpSmsSender::send(const Sms& sms) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = options_.url;
  request.timeout = options_.timeout;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"Authorization", "Basic " + base64(options_.account + ":" + options_.token)}};
  request.body = net::form_encode({{"To", sms.to}, {"From", options_.from}, {"Body", sms.body}});
  RECUR_ASSIGN(auto response, net::send(request));
  if (response.status >= 200 && response.status < 300) return Ok{};
  std::string why = "the SMS provider answered " + std::to_string(response.status) + ": " + response.body.substr(0, 200);
  if (retryable(response.status)) return Error::unavailable("sms_provider_error", why);
  return Error::invalid("sms_rejected", why);
}

Status LogSmsSender::send(const Sms& sms) {
  spdlog::info("SMS not sent (no SMS provider configured): {} ({}) to {}", sms.id, sms.template_name, mask_phone(sms.to));
  return Ok{};
}

}  // namespace recur::notify
