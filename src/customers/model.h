// Customers: who subscribes, and where their boxes go.
#pragma once

#include <optional>
#include <string>

#include "platform/json.h"
#include "platform/result.h"
#include "platform/time.h"

namespace recur::customers {

struct Address {
  std::string line1;
  std::optional<std::string> line2;
  std::string city;
  std::string postal_code;
  std::optional<std::string> state;
  std::string country;  // ISO 3166-1 alpha-2, upper-case
};

// The customer's answer to marketing e-mail: what, when (the server's clock) and where it
// was given ("checkout", "portal", "api", ...: the caller's word).
struct Consent {
  bool granted = false;
  Timestamp at = 0;
  std::string source;
};

// What the customer wants in boxes they do not choose themselves (product tags): Recur
// picks liked ones first and never an excluded one (docs/subscription-boxes.md). Sealed
// with their other personal data: a diet can say much about a person.
struct Preferences {
  std::vector<std::string> likes;
  std::vector<std::string> excludes;
  bool operator==(const Preferences&) const = default;
};

struct Customer {
  std::string id;  // "cus_..."
  std::string email;  // empty once erased
  std::string name;
  std::optional<std::string> phone;  // E.164 (platform/phone.h)
  // Payment-failed, backorder-delay and shipment-shipped messages go by SMS to `phone` as
  // well as by e-mail (sms_number). Requires a phone (check_sms_contact).
  bool sms_opt_in = false;
  // IANA time zone ("Europe/Berlin"): when retries of an insufficient-funds decline land
  // (billing/retry_timing.h). None: UTC.
  std::optional<std::string> time_zone;
  std::optional<Address> shipping_address;
  std::optional<std::string> default_payment_method;  // "pmt_...": what renewals charge
  std::optional<Consent> marketing_consent;  // none until asked
  // Erased (GDPR art. 17): the personal fields are gone (their data key destroyed) and show
  // as null; the customer object stays for the financial records that name it.
  std::optional<Timestamp> erased_at;
  Json metadata = Json::object();
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;
  Preferences preferences;
};

// The number to text the customer at: their phone when they opted in to SMS, else none.
std::optional<std::string> sms_number(const Customer& customer);
// A customer who opted in to SMS must have a phone: refused otherwise (422
// validation_failed naming `phone`, code `required`), whichever change left them without
// one (opting in, or clearing the phone while opted in).
recur::Status check_sms_contact(const Customer& customer);

// A card (or other instrument) held by a gateway; Recur keeps its token and display data
// only (brand, last 4 digits, expiry), never a card number: PCI-DSS SAQ-A scope.
struct PaymentMethod {
  std::string id;  // "pmt_..."
  std::string customer;
  std::string gateway;           // "sandbox", "stripe", ...
  std::string gateway_customer;  // the gateway's customer id
  std::string token;             // the gateway's payment method id
  std::string brand;             // a card's (empty for a wallet)
  std::string last4;
  int exp_month = 0;
  int exp_year = 0;
  bool detached = false;
  Timestamp created = 0;
  Timestamp updated = 0;
  std::int64_t version = 1;  // grows by one with each change (detaching it)
  Json metadata = Json::object();
  std::string type = "card";  // "card", or a wallet: "paypal", "venmo" (gateways::kPaymentMethodTypes)
  // A wallet's account e-mail ("" when the gateway named none, or its customer was erased):
  // personal data, stored sealed (privacy/model.h).
  std::string email;
};

// A payment method's details as the API and the data export show them: a card's brand, last
// 4 and expiry, null for a wallet; a wallet's {email}, null unless it is of that type.
Json card_json(const PaymentMethod& pm);
Json wallet_json(const PaymentMethod& pm, std::string_view type);
// {type, card: {...} | null, paypal: {email} | null, venmo: {email} | null, ...}: the
// details of its own type only.
Json to_json(const PaymentMethod& pm, bool is_default);
// What a customer's own link (the hosted page) may see of a payment method: its id, type and
// display details, whether it is the default, when it was attached; not the gateway, its
// token, the merchant's metadata or the bookkeeping.
Json to_public_json(const PaymentMethod& pm, bool is_default);

Json to_json(const Address& address);
Json to_json(const Consent& consent);
Json to_json(const Customer& customer);
Customer customer_from_doc(const Json& doc);
Address address_from_json(const Json& json);

// Reads an address object under `name` (e.g. "shipping_address"), reporting field errors.
std::optional<Address> read_address(FieldReader& fields, std::string_view name);

}  // namespace recur::customers
