// Notification routes: the list with its filters, and one notification.
#include "notify/routes.h"

#include "access/model.h"
#include "platform/http/rest.h"

namespace recur::notify {
namespace {

using http::Request;
using http::Response;

Result<ListFilter> list_filter(const Request& req) {
  RECUR_ASSIGN(auto page, http::page_request(req, {"customer", "status", "channel", "template", "resource", "created",
                                                   "metadata"}));
  RECUR_ASSIGN(auto statuses, http::enum_list(req, "status", {"queued", "sending", "sent", "failed", "dead"}));
  RECUR_ASSIGN(auto channels, http::enum_list(req, "channel", {"email", "sms"}));
  ListFilter f{.customer = req.query_param("customer"),
               .statuses = std::move(statuses),
               .channels = std::move(channels),
               .template_name = req.query_param("template"),
               .resource = req.query_param("resource"),
               .page = page};
  std::vector<FieldError> errors;
  if (f.template_name && !find_template(*f.template_name))
    errors.push_back({"template", "invalid_value", "unknown template '" + *f.template_name + "'"});
  if (!errors.empty()) {
    std::string detail = errors.front().message;
    return Error::invalid("validation_failed", detail, std::move(errors));
  }
  return f;
}

}  // namespace

void add_routes(http::Router& router, Notifier& notifier) {
  std::string read(access::perm::kNotificationsRead);
  router.add("GET", "/v1/notifications", read, [&notifier](Request& req) {
    auto filter = list_filter(req);
    if (!filter.ok()) return http::error_response(req, filter.error());
    return http::list_response(req, notifier.list(*filter), "/v1/notifications");
  });
  router.add("GET", "/v1/notifications/{id}", read, [&notifier](Request& req) {
    return http::respond(req, notifier.get(req.path_params["id"]), 200,
                         [](const Notification& n) { return to_json(n); });
  });
  router.reads_query("GET", "/v1/notifications");
}

}  // namespace recur::notify
