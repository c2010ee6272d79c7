// Customer JSON mapping and address validation.
#include "customers/model.h"

#include <cctype>

namespace recur::customers {

Json to_json(const Address& a) {
  return Json{{"line1", a.line1},
              {"line2", to_json_text(a.line2)},
              {"city", a.city},
              {"postal_code", a.postal_code},
              {"state", to_json_text(a.state)},
              {"country", a.country}};
}

Json to_json(const Consent& consent) {
  return Json{{"granted", consent.granted}, {"at", to_json_time(consent.at)}, {"source", consent.source}};
}

Json to_json(const Customer& c) {
  bool erased = c.erased_at.has_value();
  return with_envelope(Json{{"id", c.id},
              {"object", "customer"},
              {"email", erased ? Json(nullptr) : Json(c.email)},
              {"name", erased ? Json(nullptr) : Json(c.name)},
              {"phone", erased ? Json(nullptr) : to_json_text(c.phone)},
              {"sms_opt_in", c.sms_opt_in},
              {"time_zone", erased ? Json(nullptr) : to_json_text(c.time_zone)},
              {"shipping_address", c.shipping_address && !erased ? to_json(*c.shipping_address) : Json(nullptr)},
              {"default_payment_method", to_json_text(c.default_payment_method)},
              {"marketing_consent", c.marketing_consent ? to_json(*c.marketing_consent) : Json(nullptr)},
              {"preferences", erased ? Json(nullptr)
                                     : Json{{"likes", c.preferences.likes}, {"excludes", c.preferences.excludes}}},
              {"erased", erased},
              {"erased_at", to_json_time(c.erased_at)}}, c);
}

Json card_json(const PaymentMethod& pm) {
  if (pm.type != "card") return nullptr;
  return {{"brand", pm.brand}, {"last4", pm.last4}, {"exp_month", pm.exp_month}, {"exp_year", pm.exp_year}};
}

Json wallet_json(const PaymentMethod& pm, std::string_view type) {
  if (pm.type != type) return nullptr;
  return {{"email", text_or_null(pm.email)}};
}

Json to_json(const PaymentMethod& pm, bool is_default) {
  return with_envelope(
      Json{{"id", pm.id},
           {"object", "payment_method"},
           {"customer", pm.customer},
           {"gateway", pm.gateway},
           {"token", pm.token},
           {"type", pm.type},
           {"card", card_json(pm)},
           {"paypal", wallet_json(pm, "paypal")},
           {"venmo", wallet_json(pm, "venmo")},
           {"default", is_default}},
      pm);
}


Json to_public_json(const PaymentMethod& pm, bool is_default) {
  return Json{{"id", pm.id},
              {"object", "payment_method"},
              {"type", pm.type},
              {"card", card_json(pm)},
              {"paypal", wallet_json(pm, "paypal")},
              {"venmo", wallet_json(pm, "venmo")},
              {"default", is_default},
              {"created", format_rfc3339(pm.created)}};
}

Address address_from_json(const Json& j) {
  return Address{j.at("line1"), doc_text(j, "line2"), j.at("city"), j.at("postal_code"), doc_text(j, "state"),
                 j.at("country")};
}

Customer customer_from_doc(const Json& doc) {
  Customer c;
  c.id = doc.at("id");
  // Null once erased (its data key destroyed).
  c.email = doc_text(doc, "email").value_or("");
  c.name = doc_text(doc, "name").value_or("");
  c.phone = doc_text(doc, "phone");
  // Stored before customers could opt in (issue 14): not opted in.
  c.sms_opt_in = doc.value("sms_opt_in", false);
  c.time_zone = doc_text(doc, "time_zone");  // none before time zones (issue 17): UTC
  if (const auto& a = doc.at("shipping_address"); a.is_object()) c.shipping_address = address_from_json(a);
  c.default_payment_method = doc_text(doc, "default_payment_method");
  if (auto it = doc.find("marketing_consent"); it != doc.end() && it->is_object())
    c.marketing_consent = Consent{it->at("granted"), doc_time(*it, "at").value_or(0), it->at("source")};
  c.erased_at = doc_time(doc, "erased_at");
  if (auto it = doc.find("preferences"); it != doc.end() && it->is_object()) {
    c.preferences.likes = it->value("likes", std::vector<std::string>{});
    c.preferences.excludes = it->value("excludes", std::vector<std::string>{});
  }
  read_envelope(doc, c);
  return c;
}

std::optional<std::string> sms_number(const Customer& c) {
  if (!c.sms_opt_in) return std::nullopt;
  return c.phone;
}

recur::Status check_sms_contact(const Customer& c) {
  if (!c.sms_opt_in || c.phone) return Ok{};
  std::string message = "phone is required while sms_opt_in is true (send both, or set sms_opt_in to false)";
  return Error::invalid("validation_failed", message, {{"phone", "required", message}});
}

std::optional<Address> read_address(FieldReader& fields, std::string_view name) {
  const Json* obj = fields.object(name, false);
  if (!obj) return std::nullopt;
  FieldReader f(*obj, std::string(name));
  auto line1 = f.text("line1", true, 200);
  // Optional parts of an address may be sent as null (= none).
  auto optional_text = [&f](const char* field) -> std::optional<std::string> {
    if (f.is_null(field)) {
      f.accept(field);
      return std::nullopt;
    }
    return f.text(field, false, field == std::string("line2") ? 200 : 100, 0);
  };
  auto line2 = optional_text("line2");
  auto city = f.text("city", true, 100);
  auto postal = f.text("postal_code", true, 20);
  auto state = optional_text("state");
  auto country = f.text("country", true, 2, 2);
  if (country) {
    bool letters = std::isalpha(static_cast<unsigned char>((*country)[0])) &&
                   std::isalpha(static_cast<unsigned char>((*country)[1]));
    if (!letters) {
      f.fail("country", "invalid_country", "country must be an ISO 3166-1 alpha-2 code such as US");
      country.reset();
    } else {
      for (auto& ch : *country) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
  }
  fields.absorb(f);
  if (!line1 || !city || !postal || !country) return std::nullopt;
  return Address{*line1, line2, *city, *postal, state, *country};
}

}  // namespace recur::customers
