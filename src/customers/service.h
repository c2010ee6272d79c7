// Customer use cases, one transaction each; their SQL is in store.cc.
#pragma once

#include <functional>
#include <vector>

#include "gateways/registry.h"
#include "customers/model.h"
#include "customers/store.h"
#include "events/store.h"
#include "platform/db/database.h"

namespace recur::customers {

// A consent as asked: granted or not, and where ("checkout", "portal", ...); the time is the
// server's.
struct ConsentInput {
  bool granted = false;
  std::string source;
};

struct CustomerInput {
  std::string email;
  std::string name;
  std::optional<std::string> phone;
  std::optional<Address> shipping_address;
  Json metadata = Json::object();
  bool sms_opt_in = false;  // needs a phone (check_sms_contact)
  std::optional<ConsentInput> marketing_consent;
  std::optional<std::string> time_zone;  // a known IANA zone (checked by the route)
};

struct CustomerPatch {
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> phone;
  std::optional<std::optional<std::string>> time_zone;  // null: none (UTC)
  std::optional<std::optional<Address>> shipping_address;
  std::optional<Json> metadata;
  std::optional<std::string> default_payment_method;  // "pmt_..." of this customer
  std::optional<bool> sms_opt_in;  // the customer as patched needs a phone (check_sms_contact)
  std::optional<ConsentInput> marketing_consent;  // recorded with the server's time when it changes
  std::optional<Preferences> preferences;
};

struct AttachInput {
  std::optional<std::string> gateway;  // default: the deployment's default gateway
  std::string token;                   // made by the gateway's own client-side SDK
  bool make_default = false;           // the first method always becomes the default
  // The request's Idempotency-Key: a retry of a request that attached the method (and then
  // died before answering) gets that method instead of a second one (decision 0009).
  std::string request_key;
  Json metadata = Json::object();
};

// A page of a customer's attached payment methods, newest first, and which one is the default.
struct PaymentMethods {
  std::vector<PaymentMethod> items;
  bool has_more = false;
  std::optional<std::string> default_id;
};

class CustomerService {
 public:
  CustomerService(db::Database& db, const Clock& clock, IdGenerator& ids, gateways::Gateways& gateways)
      : db_(db), clock_(clock), ids_(ids), gateways_(gateways), events_(ids, clock) {}

  // Called after a commit that gave a customer a new default payment method (billing
  // retries what is overdue at once).
  using PaymentMethodListener = std::function<void(const std::string& customer)>;
  void on_default_payment_method_changed(PaymentMethodListener listener) { listener_ = std::move(listener); }

  Result<Customer> create(const CustomerInput& input, const events::Actor& actor);
  // create() in the caller's transaction (a gift's recipient becomes a customer at its claim).
  Result<Customer> create_in(db::Tx& tx, const CustomerInput& input, const events::Actor& actor);
  Result<Customer> update(const std::string& id, const CustomerPatch& patch, std::int64_t expected_version,
                          const events::Actor& actor);
  Result<Customer> get(const std::string& id);
  // Erasure's part here, inside the caller's transaction (app/data_subject.h): clears the
  // personal fields, records customer.erased, destroys the data key. An erased customer is
  // returned as it is (idempotent).
  Result<Customer> erase(db::Tx& tx, const std::string& id, const events::Actor& actor);
  Result<Page<Customer>> list(const ListFilter& filter);

  // Payment methods: the gateway holds the card, Recur keeps its token.
  Result<PaymentMethod> attach_payment_method(const std::string& customer, const AttachInput& input,
                                              const events::Actor& actor);
  Result<PaymentMethods> payment_methods(const std::string& customer, const ListParams& page = {});
  recur::Status detach_payment_method(const std::string& customer, const std::string& id, const events::Actor& actor);

 private:
  Result<std::string> gateway_customer(const Customer& customer, gateways::Gateway& gateway);
  Result<std::optional<PaymentMethod>> attached_by_request(const std::string& request_key);
  void default_changed(const std::string& customer) const {
    if (listener_) listener_(customer);
  }

  db::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  gateways::Gateways& gateways_;
  events::Recorder events_;
  PaymentMethodListener listener_;
};

}  // namespace recur::customers
