// The customer portal (docs/portal.md): server-rendered pages under /portal where a
// subscriber signs in by a one-time e-mailed link and manages their subscriptions. Every
// page reads and every action writes through the API itself, as the customer's session
// (customer sessions: customers/sessions.h), so the portal can do exactly what a customer
// session may do on the API, with the same rules, events and refusals.
#pragma once

#include <optional>
#include <string>

#include "customers/sessions.h"
#include "notify/outbox.h"
#include "platform/clock.h"
#include "platform/db/database.h"
#include "platform/http/pipeline.h"
#include "platform/http/router.h"

namespace recur::portal {

struct PortalOptions {
  // The portal's public address, ending in /portal ("https://shop.example/portal"): the
  // sign-in links point into it; an https one makes the cookie Secure.
  std::string url;
  // The card update (the existing flow): the hosted page's base (notify::update_payment_link)
  // and how long its one-time link works.
  std::string payment_update_url;
  Timestamp payment_update_seconds = 24 * 3600;
};

class Portal {
 public:
  Portal(http::Pipeline& api, customers::CustomerSessions& sessions, db::Database& db, notify::Outbox& outbox,
         const Clock& clock, PortalOptions options)
      : api_(api), sessions_(sessions), db_(db), outbox_(outbox), clock_(clock), options_(std::move(options)) {}

  // The sign-in link for a token (the answer of POST /v1/customer-sessions carries one).
  std::string sign_in_link(const std::string& token) const;

  void add_routes(http::Router& router);

 private:
  struct Visit;
  struct Call;
  http::Response sign_in(http::Request& req);
  http::Response confirm(http::Request& req);
  http::Response sign_out(http::Request& req);
  http::Response home(http::Request& req);
  http::Response subscription(http::Request& req);
  http::Response act(http::Request& req, const std::string& action);
  http::Response selection(http::Request& req);
  http::Response cancel(http::Request& req, const std::string& step);
  http::Response account(http::Request& req, const std::string& step);
  http::Response claim(http::Request& req);
  http::Response pdf(http::Request& req);

  Call api(const Visit& v, std::string method, std::string target, const Json& body = nullptr) const;
  std::optional<Visit> visit(const http::Request& req) const;
  http::Response show_subscription(const Visit& v, const std::string& id, std::optional<std::string> notice,
                                   std::optional<std::string> error, int status) const;
  http::Response show_account(const Visit& v, std::optional<std::string> notice, std::optional<std::string> error,
                              int status) const;
  std::string cookie(const std::string& value, bool clear) const;

  http::Pipeline& api_;
  customers::CustomerSessions& sessions_;
  db::Database& db_;
  notify::Outbox& outbox_;
  const Clock& clock_;
  PortalOptions options_;
};

}  // namespace recur::portal
