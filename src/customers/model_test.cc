// Customers' pure rules: the JSON of customers, addresses and payment methods, the address
// validation the routes apply, and who is texted (sms_opt_in needs a phone).
#include "customers/model.h"

#include <gtest/gtest.h>

#include <set>

namespace recur::customers {
namespace {

Timestamp at(const char* s) { return parse_rfc3339(s).value(); }

Address full_address() {
  return Address{"1 Market St", std::string("Suite 200"), "San Francisco", "94105", std::string("CA"), "US"};
}

Customer full_customer() {
  Customer c;
  c.id = "cus_1";
  c.email = "ada@example.com";
  c.name = "Ada Lovelace";
  c.phone = "+14155550123";
  c.sms_opt_in = true;
  c.shipping_address = full_address();
  c.default_payment_method = "pmt_1";
  c.metadata = Json{{"crm", "42"}};
  c.created = at("2026-01-31T10:00:00Z");
  c.updated = at("2026-02-01T08:30:00Z");
  c.version = 7;
  return c;
}

void expect_same(const Customer& a, const Customer& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.email, b.email);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.phone, b.phone);
  EXPECT_EQ(a.sms_opt_in, b.sms_opt_in);
  ASSERT_EQ(a.shipping_address.has_value(), b.shipping_address.has_value());
  if (a.shipping_address) {
    EXPECT_EQ(a.shipping_address->line1, b.shipping_address->line1);
    EXPECT_EQ(a.shipping_address->line2, b.shipping_address->line2);
    EXPECT_EQ(a.shipping_address->city, b.shipping_address->city);
    EXPECT_EQ(a.shipping_address->postal_code, b.shipping_address->postal_code);
    EXPECT_EQ(a.shipping_address->state, b.shipping_address->state);
    EXPECT_EQ(a.shipping_address->country, b.shipping_address->country);
  }
  EXPECT_EQ(a.default_payment_method, b.default_payment_method);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.updated, b.updated);
  EXPECT_EQ(a.version, b.version);
}

std::set<std::string> keys(const Json& j) {
  std::set<std::string> out;
  for (const auto& [k, _] : j.items()) out.insert(k);
  return out;
}

// ------------------------------------------------------------------ documents

TEST(CustomerJson, ACustomerWithEveryFieldRoundTripsThroughItsDocument) {
  auto c = full_customer();
  expect_same(customer_from_doc(to_json(c)), c);
  // Stored as text, as store.cc does.
  expect_same(customer_from_doc(Json::parse(to_json(c).dump())), c);
}

TEST(CustomerJson, ACustomerWithoutOptionalFieldsRoundTripsWithNullsNotMissingKeys) {
  Customer c = full_customer();
  c.phone.reset();
  c.sms_opt_in = false;
  c.shipping_address.reset();
  c.default_payment_method.reset();
  c.metadata = Json::object();
  Json j = to_json(c);
  for (const char* key : {"phone", "shipping_address", "default_payment_method"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j.at(key).is_null()) << key;
  }
  expect_same(customer_from_doc(j), c);
}

TEST(CustomerJson, HasExactlyTheMembersOfTheApisCustomerSchema) {
  // api/openapi.yaml: Customer is additionalProperties: false with these required members.
  EXPECT_EQ(keys(to_json(full_customer())),
            (std::set<std::string>{"id", "object", "email", "name", "phone", "sms_opt_in", "time_zone", "shipping_address",
                                   "default_payment_method", "marketing_consent", "preferences", "erased", "erased_at", "metadata",
                                   "created", "updated", "version"}));
  Json j = to_json(full_customer());
  EXPECT_EQ(j.at("sms_opt_in"), true);
  EXPECT_EQ(j.at("object"), "customer");
  EXPECT_EQ(j.at("created"), "2026-01-31T10:00:00Z");
  EXPECT_EQ(j.at("updated"), "2026-02-01T08:30:00Z");
  EXPECT_EQ(j.at("version"), 7);
}

TEST(CustomerJson, ADocumentStoredBeforeSmsOptInReadsAsNotOptedIn) {
  Json doc = to_json(full_customer());
  doc.erase("sms_opt_in");  // as customers were stored before issue 14
  Customer c = customer_from_doc(doc);
  EXPECT_FALSE(c.sms_opt_in);
  EXPECT_EQ(c.phone, "+14155550123");
  EXPECT_EQ(sms_number(c), std::nullopt);
  EXPECT_EQ(to_json(c).at("sms_opt_in"), false);  // and is written back with the member
}

// ------------------------------------------------------------------ SMS

TEST(Sms, OnlyACustomerWhoOptedInAndHasAPhoneIsTexted) {
  Customer c = full_customer();
  EXPECT_EQ(sms_number(c), "+14155550123");
  c.sms_opt_in = false;
  EXPECT_EQ(sms_number(c), std::nullopt);  // a phone alone is not consent
  c.sms_opt_in = true;
  c.phone.reset();
  EXPECT_EQ(sms_number(c), std::nullopt);
}

TEST(Sms, OptingInWithoutAPhoneIsRefusedNamingThePhone) {
  struct Case {
    bool opt_in;
    std::optional<std::string> phone;
    bool ok;
  } cases[] = {
      {true, "+14155550123", true},
      {false, "+14155550123", true},
      {false, std::nullopt, true},
      {true, std::nullopt, false},
  };
  for (const auto& k : cases) {
    Customer c = full_customer();
    c.sms_opt_in = k.opt_in;
    c.phone = k.phone;
    auto st = check_sms_contact(c);
    EXPECT_EQ(st.ok(), k.ok) << k.opt_in << " " << k.phone.value_or("(none)");
    if (st.ok()) continue;
    EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(st.error().code, "validation_failed");
    ASSERT_EQ(st.error().fields.size(), 1u);
    EXPECT_EQ(st.error().fields[0].field, "phone");
    EXPECT_EQ(st.error().fields[0].code, "required");
    EXPECT_NE(st.error().fields[0].message.find("sms_opt_in"), std::string::npos);
  }
}

TEST(AddressJson, AnAddressWithoutLine2OrStateRoundTripsWithNulls) {
  Address a{"1 Market St", std::nullopt, "London", "EC1A 1BB", std::nullopt, "GB"};
  Json j = to_json(a);
  EXPECT_EQ(keys(j), (std::set<std::string>{"line1", "line2", "city", "postal_code", "state", "country"}));
  EXPECT_TRUE(j.at("line2").is_null());
  EXPECT_TRUE(j.at("state").is_null());
  Address back = address_from_json(j);
  EXPECT_EQ(back.line1, a.line1);
  EXPECT_FALSE(back.line2.has_value());
  EXPECT_EQ(back.city, a.city);
  EXPECT_EQ(back.postal_code, a.postal_code);
  EXPECT_FALSE(back.state.has_value());
  EXPECT_EQ(back.country, "GB");
}

TEST(PaymentMethodJson, ShowsTheTokenAndCardDisplayDataOnlyWithTheDefaultFlag) {
  PaymentMethod pm{"pmt_1", "cus_1", "sandbox", "cus_sandbox_abc", "pm_card_visa", "visa", "4242", 12, 2030,
                   false, at("2026-01-31T10:00:00Z"), at("2026-02-01T10:00:00Z"), 2, Json{{"source", "checkout"}}};
  Json j = to_json(pm, true);
  // api/openapi.yaml: PaymentMethod is additionalProperties: false; the gateway's customer
  // id and the detached flag are Recur's own bookkeeping.
  EXPECT_EQ(keys(j), (std::set<std::string>{"id", "object", "customer", "gateway", "token", "type", "card", "paypal",
                                            "venmo", "default", "created", "updated", "version", "metadata"}));
  EXPECT_EQ(j.at("type"), "card");
  EXPECT_TRUE(j.at("paypal").is_null());
  EXPECT_TRUE(j.at("venmo").is_null());
  EXPECT_EQ(j.at("object"), "payment_method");
  EXPECT_EQ(j.at("customer"), "cus_1");
  EXPECT_EQ(j.at("gateway"), "sandbox");
  EXPECT_EQ(j.at("token"), "pm_card_visa");
  EXPECT_EQ(j.at("card"), (Json{{"brand", "visa"}, {"last4", "4242"}, {"exp_month", 12}, {"exp_year", 2030}}));
  EXPECT_EQ(j.at("default"), true);
  EXPECT_EQ(j.at("created"), "2026-01-31T10:00:00Z");
  EXPECT_EQ(j.at("updated"), "2026-02-01T10:00:00Z");
  EXPECT_EQ(j.at("version"), 2);
  EXPECT_EQ(j.at("metadata"), (Json{{"source", "checkout"}}));
  EXPECT_EQ(to_json(pm, false).at("default"), false);
}

TEST(PaymentMethodJson, AWalletShowsItsEmailUnderItsOwnTypeAndNoCard) {
  for (const char* type : {"paypal", "venmo"}) {
    PaymentMethod pm{"pmt_1", "cus_1", "paypal", "c0ffee", "9ww8451w", "", "", 0, 0, false, at("2026-01-31T10:00:00Z"),
                     at("2026-01-31T10:00:00Z"), 1, Json::object()};
    pm.type = type;
    pm.email = "ann@example.com";
    Json j = to_json(pm, false);
    EXPECT_EQ(j.at("type"), type);
    EXPECT_TRUE(j.at("card").is_null()) << type;
    EXPECT_EQ(j.at(type), (Json{{"email", "ann@example.com"}})) << type;
    EXPECT_TRUE(j.at(std::string(type) == "paypal" ? "venmo" : "paypal").is_null()) << type;
    pm.email.clear();  // none named, or erased
    EXPECT_TRUE(to_json(pm, false).at(type).at("email").is_null()) << type;
  }
}

// ------------------------------------------------------------------ address validation

struct AddressRead {
  std::optional<Address> address;
  std::vector<FieldError> errors;
};

AddressRead read(const Json& body) {
  FieldReader fields(body);
  AddressRead out;
  out.address = read_address(fields, "shipping_address");
  out.errors = fields.take_errors();
  return out;
}

Json valid_address() {
  return Json{{"line1", "1 Market St"}, {"line2", "Suite 200"}, {"city", "San Francisco"},
              {"postal_code", "94105"}, {"state", "CA"}, {"country", "US"}};
}

Json with(Json address, const std::string& key, Json value) {
  address[key] = std::move(value);
  return Json{{"shipping_address", std::move(address)}};
}

std::set<std::pair<std::string, std::string>> field_codes(const std::vector<FieldError>& errors) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& e : errors) out.insert({e.field, e.code});
  return out;
}

TEST(ReadAddress, AValidAddressIsReadWithoutErrors) {
  auto r = read(Json{{"shipping_address", valid_address()}});
  EXPECT_TRUE(r.errors.empty());
  ASSERT_TRUE(r.address);
  EXPECT_EQ(r.address->line1, "1 Market St");
  EXPECT_EQ(r.address->line2, "Suite 200");
  EXPECT_EQ(r.address->city, "San Francisco");
  EXPECT_EQ(r.address->postal_code, "94105");
  EXPECT_EQ(r.address->state, "CA");
  EXPECT_EQ(r.address->country, "US");
}

TEST(ReadAddress, AnAbsentAddressIsNoneAndNoError) {
  auto r = read(Json::object());
  EXPECT_FALSE(r.address);
  EXPECT_TRUE(r.errors.empty());
}

TEST(ReadAddress, TheCountryIsUpperCased) {
  auto r = read(with(valid_address(), "country", "gb"));
  EXPECT_TRUE(r.errors.empty());
  ASSERT_TRUE(r.address);
  EXPECT_EQ(r.address->country, "GB");
}

TEST(ReadAddress, Line2AndStateMayBeNullOrLeftOut) {
  Json body = valid_address();
  body["line2"] = nullptr;
  body.erase("state");
  auto r = read(Json{{"shipping_address", body}});
  EXPECT_TRUE(r.errors.empty());
  ASSERT_TRUE(r.address);
  EXPECT_FALSE(r.address->line2.has_value());
  EXPECT_FALSE(r.address->state.has_value());
}

TEST(ReadAddress, EveryMissingRequiredFieldIsNamedWithItsPath) {
  auto r = read(Json{{"shipping_address", Json::object()}});
  EXPECT_FALSE(r.address);
  EXPECT_EQ(field_codes(r.errors), (std::set<std::pair<std::string, std::string>>{
                                       {"shipping_address.line1", "required"},
                                       {"shipping_address.city", "required"},
                                       {"shipping_address.postal_code", "required"},
                                       {"shipping_address.country", "required"}}));
}

TEST(ReadAddress, FieldRulesTable) {
  struct Case {
    const char* field;
    Json value;
    const char* code;  // nullptr: accepted
  };
  const Case cases[] = {
      {"line1", std::string(200, 'a'), nullptr},
      {"line1", std::string(201, 'a'), "invalid_length"},
      {"line1", "", "invalid_length"},
      {"line1", 5, "invalid_type"},
      {"line2", std::string(200, 'a'), nullptr},
      {"line2", std::string(201, 'a'), "invalid_length"},
      {"line2", "", nullptr},  // optional parts may be empty
      {"city", std::string(100, 'a'), nullptr},
      {"city", std::string(101, 'a'), "invalid_length"},
      {"city", nullptr, "required"},
      {"postal_code", std::string(20, '1'), nullptr},
      {"postal_code", std::string(21, '1'), "invalid_length"},
      {"state", std::string(100, 'a'), nullptr},
      {"state", std::string(101, 'a'), "invalid_length"},
      {"country", "USA", "invalid_length"},
      {"country", "U", "invalid_length"},
      {"country", "1A", "invalid_country"},
      {"country", "U1", "invalid_country"},
      {"country", "u-", "invalid_country"},
      {"country", "De", nullptr},
      {"zip", "94105", "unknown_field"},
  };
  for (const auto& c : cases) {
    auto r = read(with(valid_address(), c.field, c.value));
    std::string path = std::string("shipping_address.") + c.field;
    if (!c.code) {
      EXPECT_TRUE(r.errors.empty()) << path << " = " << c.value.dump();
      EXPECT_TRUE(r.address) << path << " = " << c.value.dump();
      continue;
    }
    EXPECT_EQ(field_codes(r.errors), (std::set<std::pair<std::string, std::string>>{{path, c.code}}))
        << path << " = " << c.value.dump();
  }
}

TEST(ReadAddress, AnAddressThatIsNotAnObjectOrIsNullIsRefused) {
  EXPECT_EQ(field_codes(read(Json{{"shipping_address", "1 Market St"}}).errors),
            (std::set<std::pair<std::string, std::string>>{{"shipping_address", "invalid_type"}}));
  // Clearing an address is the caller's choice (the PATCH route checks for null first).
  EXPECT_EQ(field_codes(read(Json{{"shipping_address", nullptr}}).errors),
            (std::set<std::pair<std::string, std::string>>{{"shipping_address", "null_not_allowed"}}));
}

}  // namespace
}  // namespace recur::customers

namespace recur::customers {
namespace {

TEST(CustomerJson, AnErasedCustomerShowsNoPersonalFieldAndConsentRoundTrips) {
  Customer c;
  c.id = "cus_1";
  c.email = "ada@example.com";
  c.name = "Ada";
  c.phone = "+14155550100";
  c.shipping_address = Address{"1 Main", std::nullopt, "Springfield", "12345", std::nullopt, "US"};
  c.marketing_consent = Consent{true, 1767225600, "checkout"};
  Json shown = to_json(c);
  EXPECT_EQ(shown.at("erased"), false);
  EXPECT_EQ(shown.at("marketing_consent"), (Json{{"granted", true}, {"at", "2026-01-01T00:00:00Z"}, {"source", "checkout"}}));
  auto back = customer_from_doc(shown);
  ASSERT_TRUE(back.marketing_consent.has_value());
  EXPECT_EQ(back.marketing_consent->at, 1767225600);
  EXPECT_EQ(back.marketing_consent->source, "checkout");

  c.erased_at = 1767312000;
  Json erased = to_json(c);
  EXPECT_EQ(erased.at("erased"), true);
  EXPECT_EQ(erased.at("erased_at"), "2026-01-02T00:00:00Z");
  for (const char* field : {"email", "name", "phone", "shipping_address"}) EXPECT_TRUE(erased.at(field).is_null()) << field;
  // Read back from a document whose sealed fields opened as null (the key destroyed).
  auto stored = customer_from_doc(erased);
  EXPECT_EQ(stored.email, "");
  EXPECT_EQ(stored.erased_at, std::optional<Timestamp>(1767312000));
}

}  // namespace
}  // namespace recur::customers
