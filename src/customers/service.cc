// Customer use cases.
#include "customers/service.h"
#include "platform/ids.h"
#include "privacy/keyring.h"

namespace recur::customers {

Result<Customer> CustomerService::create(const CustomerInput& in, const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) { return create_in(tx, in, actor); });
}

Result<Customer> CustomerService::create_in(db::Tx& tx, const CustomerInput& in, const events::Actor& actor) {
  Customer c;
  c.id = ids_.next("cus");
  c.email = in.email;
  c.name = in.name;
  c.phone = in.phone;
  c.sms_opt_in = in.sms_opt_in;
  c.time_zone = in.time_zone;
  c.shipping_address = in.shipping_address;
  c.metadata = in.metadata;
  c.created = c.updated = clock_.now();
  if (in.marketing_consent)
    c.marketing_consent = Consent{in.marketing_consent->granted, c.created, in.marketing_consent->source};
  RECUR_TRY(check_sms_contact(c));
  RECUR_TRY(insert_customer(tx, c));
  RECUR_TRY(events_.record(tx, "customer.created", c.id, actor, nullptr, to_json(c)));
  return c;
}

namespace {

Error customer_not_found(const std::string& id) {
  return Error::not_found("customer_not_found", no_object_message("customer", "cus", id));
}

Error customer_erased(const std::string& id) {
  return Error::conflict("customer_erased", "customer " + id + " was erased: nothing of them can be changed");
}

Error payment_method_not_found(const std::string& id) {
  std::string message = "the customer has " + no_object_message("payment method", "pmt", id);
  // A gateway's token (pm_card_visa) is what attaching takes, not a payment method's id.
  if (id.rfind("pmt_", 0) != 0 && id.rfind("pm_", 0) == 0)
    message += ": that looks like a gateway's token; a payment method's id starts with pmt_";
  return Error::not_found("payment_method_not_found", message);
}

// The method exists, belongs to the customer and is still attached.
Result<PaymentMethod> own_method(db::Tx& tx, const std::string& customer, const std::string& id) {
  RECUR_ASSIGN(auto pm, find_payment_method(tx, id));
  if (!pm || pm->customer != customer || pm->detached) return payment_method_not_found(id);
  return *pm;
}

}  // namespace

Result<Customer> CustomerService::update(const std::string& id, const CustomerPatch& patch,
                                         std::int64_t expected_version, const events::Actor& actor) {
  bool default_changed_now = false;
  auto updated = db::transact(db_, [&](db::Tx& tx) -> Result<Customer> {
    RECUR_ASSIGN(auto found, lock_customer(tx, id));
    if (!found) return customer_not_found(id);
    Customer c = std::move(*found);
    if (c.version != expected_version) return version_conflict("the customer", expected_version, c.version);
    if (c.erased_at) return customer_erased(id);
    Json before = to_json(c);
    if (patch.email) c.email = *patch.email;
    if (patch.name) c.name = *patch.name;
    if (patch.phone) c.phone = *patch.phone;
    if (patch.sms_opt_in) c.sms_opt_in = *patch.sms_opt_in;
    if (patch.time_zone) c.time_zone = *patch.time_zone;
    RECUR_TRY(check_sms_contact(c));  // against the customer as the patch leaves them
    if (patch.shipping_address) c.shipping_address = *patch.shipping_address;
    if (patch.metadata) c.metadata = *patch.metadata;
    if (patch.preferences) c.preferences = *patch.preferences;
    if (patch.default_payment_method && patch.default_payment_method != c.default_payment_method) {
      auto owned = own_method(tx, c.id, *patch.default_payment_method);
      // Only "not this customer's method" is the caller's mistake; a database error stays one.
      if (!owned.ok() && owned.error().kind != ErrorKind::kNotFound) return std::move(owned).error();
      if (!owned.ok())
        return Error::invalid("payment_method_not_found", owned.error().message,
                              {{"default_payment_method", "not_found", "not an attached payment method of this customer"}});
      c.default_payment_method = patch.default_payment_method;
      default_changed_now = true;
    }
    c.updated = clock_.now();
    if (patch.marketing_consent &&
        (!c.marketing_consent || c.marketing_consent->granted != patch.marketing_consent->granted ||
         c.marketing_consent->source != patch.marketing_consent->source))
      c.marketing_consent = Consent{patch.marketing_consent->granted, c.updated, patch.marketing_consent->source};
    ++c.version;
    RECUR_ASSIGN(bool stored, update_customer(tx, c, expected_version));
    if (!stored) return version_conflict("the customer", expected_version, c.version);
    RECUR_TRY(events_.record(tx, "customer.updated", c.id, actor, std::move(before), to_json(c)));
    return c;
  });
  if (updated.ok() && default_changed_now) default_changed(id);
  return updated;
}

Result<Customer> CustomerService::erase(db::Tx& tx, const std::string& id, const events::Actor& actor) {
  RECUR_ASSIGN(auto found, lock_customer(tx, id));
  if (!found) return customer_not_found(id);
  Customer c = std::move(*found);
  if (c.erased_at) return c;
  Json before = to_json(c);
  c.email.clear();
  c.name.clear();
  c.phone.reset();
  c.sms_opt_in = false;
  c.time_zone.reset();
  c.shipping_address.reset();
  c.preferences = {};
  c.marketing_consent.reset();
  c.updated = clock_.now();
  c.erased_at = c.updated;
  auto expected = c.version++;
  RECUR_ASSIGN(bool stored, update_customer(tx, c, expected));
  if (!stored) return version_conflict("the customer", expected, c.version);
  // The before copy is sealed under the key destroyed next: it goes with everything else.
  RECUR_TRY(events_.record(tx, "customer.erased", c.id, actor, std::move(before), to_json(c)));
  RECUR_TRY(privacy::keyring_of(tx).destroy(tx, c.id));
  return c;
}

Result<Customer> CustomerService::get(const std::string& id) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Customer> {
    RECUR_ASSIGN(auto found, find_customer(tx, id));
    if (!found) return customer_not_found(id);
    return *found;
  }, db::TxMode::kReadOnly);
}

Result<Page<Customer>> CustomerService::list(const ListFilter& f) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<Page<Customer>> {
    return list_customers(tx, f);
  }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ payment methods

Result<std::string> CustomerService::gateway_customer(const Customer& c, gateways::Gateway& gateway) {
  RECUR_ASSIGN(auto known, db::transact(db_, [&](db::Tx& tx) { return find_gateway_customer(tx, c.id, gateway.name()); },
                                        db::TxMode::kReadOnly));
  if (known) return *known;
  // Created outside a transaction (a network call); the idempotency key makes a racing
  // second request get the same gateway customer, and the first stored mapping wins.
  RECUR_ASSIGN(auto created, gateway.create_customer({c.id, c.email, c.name, "customer:" + c.id}));
  return db::transact(db_, [&](db::Tx& tx) {
    return remember_gateway_customer(tx, c.id, gateway.name(), created, clock_.now());
  });
}

Result<PaymentMethod> CustomerService::attach_payment_method(const std::string& customer_id, const AttachInput& in,
                                                             const events::Actor& actor) {
  std::string gateway_name = in.gateway.value_or(gateways_.default_name());
  gateways::Gateway* gateway = gateways_.find(gateway_name);
  if (!gateway)
    return Error::invalid("unknown_gateway", "this deployment has no gateway named '" + gateway_name + "'",
                          {{"gateway", "unknown_gateway", "not a configured gateway"}});
  RECUR_ASSIGN(Customer c, get(customer_id));
  if (auto earlier = attached_by_request(in.request_key); !earlier.ok() || *earlier) {
    if (!earlier.ok()) return std::move(earlier).error();
    return **earlier;
  }
  RECUR_ASSIGN(std::string gw_customer, gateway_customer(c, *gateway));
  RECUR_ASSIGN(auto card, gateway->attach_payment_method(gw_customer, in.token, "attach:" + c.id + ":" + in.token));
  bool became_default = false;
  auto attached = db::transact(db_, [&](db::Tx& tx) -> Result<PaymentMethod> {
    RECUR_ASSIGN(auto found, lock_customer(tx, c.id));
    if (!found) return customer_not_found(c.id);
    Customer locked = std::move(*found);
    PaymentMethod pm{ids_.next("pmt"), c.id, gateway->name(), gw_customer, card.token, card.brand, card.last4,
                     card.exp_month, card.exp_year, false, clock_.now(), clock_.now(), 1, in.metadata};
    pm.type = card.type;
    pm.email = card.email;
    RECUR_TRY(insert_payment_method(tx, pm, in.request_key));
    Json details = {{"payment_method", to_json(pm, false)}};
    // The customer as it is: attaching changes nothing of it (a new default is its own
    // customer.updated below).
    RECUR_TRY(events_.record(tx, "customer.payment_method_attached", c.id, actor, nullptr, to_json(locked), details));
    bool has_default = locked.default_payment_method.has_value();
    if (has_default) {
      // A database error here must not pass for "no default" (and move the default).
      RECUR_ASSIGN(auto current, find_payment_method(tx, *locked.default_payment_method));
      has_default = current && !current->detached;
    }
    if (in.make_default || !has_default) {
      Json before = to_json(locked);
      locked.default_payment_method = pm.id;
      locked.updated = clock_.now();
      ++locked.version;
      RECUR_TRY(update_customer(tx, locked, locked.version - 1));
      RECUR_TRY(events_.record(tx, "customer.updated", c.id, actor, std::move(before), to_json(locked)));
      became_default = true;
    }
    return pm;
  });
  if (!attached.ok() && attached.error().code == db::kUniqueViolation && !in.request_key.empty()) {
    // A retry that took the key over attached it at the same moment: answer with that one.
    RECUR_ASSIGN(auto earlier, attached_by_request(in.request_key));
    if (earlier) return *earlier;
  }
  if (attached.ok() && became_default) default_changed(c.id);
  return attached;
}

Result<std::optional<PaymentMethod>> CustomerService::attached_by_request(const std::string& request_key) {
  if (request_key.empty()) return std::optional<PaymentMethod>();
  return db::transact(db_, [&](db::Tx& tx) { return find_payment_method_by_request(tx, request_key, clock_.now()); },
                      db::TxMode::kReadOnly);
}

Result<PaymentMethods> CustomerService::payment_methods(const std::string& customer_id, const ListParams& page) {
  return db::transact(db_, [&](db::Tx& tx) -> Result<PaymentMethods> {
    RECUR_ASSIGN(auto c, find_customer(tx, customer_id));
    if (!c) return customer_not_found(customer_id);
    RECUR_ASSIGN(auto listed, list_payment_methods(tx, customer_id, page));
    return PaymentMethods{std::move(listed.items), listed.has_more, c->default_payment_method};
  }, db::TxMode::kReadOnly);
}

recur::Status CustomerService::detach_payment_method(const std::string& customer_id, const std::string& id,
                                                     const events::Actor& actor) {
  return db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_ASSIGN(auto found, lock_customer(tx, customer_id));
    if (!found) return customer_not_found(customer_id);
    RECUR_ASSIGN(PaymentMethod pm, own_method(tx, customer_id, id));
    Json detached_before = to_json(pm, false);
    pm.detached = true;
    pm.updated = clock_.now();
    ++pm.version;
    RECUR_TRY(mark_detached(tx, pm));
    Customer c = std::move(*found);
    if (c.default_payment_method == pm.id) {
      // Renewals now have nothing to charge until a new method is attached: say so.
      Json before = to_json(c);
      c.default_payment_method.reset();
      c.updated = clock_.now();
      ++c.version;
      RECUR_TRY(update_customer(tx, c, c.version - 1));
      RECUR_TRY(events_.record(tx, "customer.updated", c.id, actor, std::move(before), to_json(c)));
    }
    // The event is the customer's (as after the detach); the card, as it was, is in details
    // like the attached event's.
    RECUR_TRY(events_.record(tx, "customer.payment_method_detached", customer_id, actor, nullptr, to_json(c),
                             {{"payment_method", std::move(detached_before)}}));
    return Ok{};
  });
}

}  // namespace recur::customers
