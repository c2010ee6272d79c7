// Notification types, the retry rule, the template renderer and the built-in templates.
#include "notify/model.h"

#include <algorithm>
#include <array>

#include "platform/url.h"

namespace recur::notify {
namespace {

constexpr std::array<std::string_view, 2> kChannels = {"email", "sms"};
constexpr std::array<std::string_view, 5> kStatuses = {"queued", "sending", "sent", "failed", "dead"};

// Seconds to wait after the 1st, 2nd, ... failed attempt.
constexpr std::array<std::int64_t, 5> kBackoff = {60, 5 * 60, 30 * 60, 2 * 3600, 12 * 3600};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
}

// A placeholder found in a template: where it starts and ends, and its name.
struct Placeholder {
  std::size_t begin = 0;
  std::size_t end = 0;  // one past "}}"
  std::string name;
};

// The next placeholder at or after `from`; nullopt when there is none; an error for "{{"
// without "}}" or a name that is not [A-Za-z0-9_]+.
Result<std::optional<Placeholder>> next_placeholder(std::string_view tmpl, std::size_t from) {
  auto open = tmpl.find("{{", from);
  if (open == std::string_view::npos) return std::optional<Placeholder>();
  auto close = tmpl.find("}}", open + 2);
  if (close == std::string_view::npos)
    return Error::internal("template has '{{' without '}}' at offset " + std::to_string(open));
  auto name = trim(tmpl.substr(open + 2, close - open - 2));
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char))
    return Error::internal("template has an invalid variable name '" + std::string(name) + "'");
  return std::optional<Placeholder>(Placeholder{open, close + 2, std::string(name)});
}

// A data value as text: strings as they are, integers and decimals as JSON writes them.
std::optional<std::string> value_text(const Json& data, const std::string& name) {
  auto it = data.find(name);
  if (it == data.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return std::nullopt;  // null, booleans, objects: not a printable value
}

Error missing_data(const std::vector<std::string>& names) {
  std::vector<FieldError> fields;
  std::string list;
  for (const auto& n : names) {
    fields.push_back({"data." + n, "required", "the template needs '" + n + "' (a string or a number)"});
    list += (list.empty() ? "" : ", ") + n;
  }
  return Error::invalid("template_data_missing", "template data is missing: " + list, std::move(fields));
}

std::string without_control_characters(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

std::string redacted(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
      text.replace(pos, secret.size(), "[redacted]");
  }
  return text;
}

// ------------------------------------------------------------------ built-in templates

#define RECUR_HTML(body) "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n" body "</body></html>\n"

constexpr Template kTemplates[] = {
    {"receipt", "Your receipt: {{amount}} for {{description}}",
     "Hi {{customer_name}},\n\n"
     "Thank you for your payment of {{amount}} for {{description}} on {{date}}.\n\n"
     "Invoice: {{invoice_id}}\n\n"
     "Keep this e-mail as your receipt.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Thank you for your payment of <strong>{{amount}}</strong> for {{description}} on {{date}}.</p>\n"
                "<p>Invoice: {{invoice_id}}</p>\n"
                "<p>Keep this e-mail as your receipt.</p>\n"),
     "Payment received: {{amount}} for {{description}} (invoice {{invoice_id}}). Thank you!"},
    {"payment_failed", "Your payment of {{amount}} failed",
     "Hi {{customer_name}},\n\n"
     "We could not charge {{amount}} for {{description}} (invoice {{invoice_id}}).\n\n"
     "Please update your payment method:\n{{update_payment_url}}\n\n"
     "{{retry_note}}\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>We could not charge <strong>{{amount}}</strong> for {{description}} (invoice {{invoice_id}}).</p>\n"
                "<p><a href=\"{{update_payment_url}}\">Update your payment method</a></p>\n"
                "<p>{{retry_note}}</p>\n"),
     // No link: customers who opted in get this text beside the e-mail (also_by_sms), and an
     // update-payment token is a secret a text message does not keep (lock screens, shared phones).
     "Your payment of {{amount}} for {{description}} failed. {{retry_note_short}} the e-mail we sent has a link to "
     "update your payment method."},
    {"payment_action_required", "Confirm your payment of {{amount}}",
     "Hi {{customer_name}},\n\n"
     "Your bank asks you to confirm the payment of {{amount}} for {{description}} (invoice {{invoice_id}}).\n\n"
     "Confirm it here:\n{{update_payment_url}}\n\n"
     "Until you do, nothing is charged and we will not try the card again.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Your bank asks you to confirm the payment of <strong>{{amount}}</strong> for {{description}} "
                "(invoice {{invoice_id}}).</p>\n"
                "<p><a href=\"{{update_payment_url}}\">Confirm the payment</a></p>\n"
                "<p>Until you do, nothing is charged and we will not try the card again.</p>\n"),
     "Your bank asks you to confirm your payment of {{amount}} for {{description}}: the e-mail we sent has the link."},
    // A one-off invoice sent to the customer (collection_method send_invoice), its PDF attached.
    {"invoice_issued", "Your invoice of {{amount}}, due {{due_date}}",
     "Hi {{customer_name}},\n\n"
     "Here is {{description}} (invoice {{invoice_id}}) of {{amount}}, due on {{due_date}}. The invoice is attached.\n\n"
     "Pay it here:\n{{update_payment_url}}\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Here is {{description}} (invoice {{invoice_id}}) of <strong>{{amount}}</strong>, due on "
                "<strong>{{due_date}}</strong>. The invoice is attached.</p>\n"
                "<p><a href=\"{{update_payment_url}}\">Pay the invoice</a></p>\n"),
     "You have an invoice of {{amount}} due {{due_date}}: the e-mail we sent has the link to pay it."},
    {"renewal_reminder", "Your {{plan_name}} renews on {{renewal_date}}",
     "Hi {{customer_name}},\n\n"
     "Your {{plan_name}} subscription renews on {{renewal_date}} and you will be charged {{amount}}.\n\n"
     "Nothing to do if you want to keep it.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Your {{plan_name}} subscription renews on <strong>{{renewal_date}}</strong> and you will be "
                "charged <strong>{{amount}}</strong>.</p>\n"
                "<p>Nothing to do if you want to keep it.</p>\n"),
     "Reminder: your {{plan_name}} renews on {{renewal_date}} for {{amount}}."},
    // The customer portal's one-time sign-in link (portal module); the link is a secret.
    {"portal_sign_in", "Your sign-in link",
     "Hi {{customer_name}},\n\n"
     "Sign in to manage your subscriptions with this link (it works once, for 15 minutes):\n"
     "{{sign_in_url}}\n\n"
     "If you did not ask for it, ignore this e-mail: nobody can sign in without it.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p><a href=\"{{sign_in_url}}\">Sign in to manage your subscriptions</a> (the link works once, "
                "for 15 minutes).</p>\n"
                "<p>If you did not ask for it, ignore this e-mail: nobody can sign in without it.</p>\n"),
     "Your sign-in link is in the e-mail we just sent."},
    // A gift's claim link (gifts module), at the gift's send_at; the code is a secret.
    {"gift_received", "{{purchaser_name}} sent you a gift: {{plan_name}}",
     "Hi {{recipient_name}},\n\n"
     "{{purchaser_name}} gave you {{deliveries}} deliveries of {{plan_name}}.\n\n"
     "{{message}}\n\n"
     "Claim your gift and choose when the first box comes:\n{{claim_url}}\n\n"
     "Or enter the code {{claim_code}} at the shop. Claim it by {{claim_by}}.\n",
     RECUR_HTML("<p>Hi {{recipient_name}},</p>\n"
                "<p>{{purchaser_name}} gave you <strong>{{deliveries}}</strong> deliveries of "
                "<strong>{{plan_name}}</strong>.</p>\n"
                "<blockquote>{{message}}</blockquote>\n"
                "<p><a href=\"{{claim_url}}\">Claim your gift</a> and choose when the first box comes, or enter "
                "the code <strong>{{claim_code}}</strong> at the shop. Claim it by {{claim_by}}.</p>\n"),
     "{{purchaser_name}} sent you a gift of {{plan_name}}: the e-mail we sent has the link to claim it."},
    // Before a gift's last box (gifts::GiftReminders): to its recipient, then its purchaser.
    {"gift_ending", "Your gift of {{plan_name}} ends after the box of {{last_box_date}}",
     "Hi {{customer_name}},\n\n"
     "The {{plan_name}} boxes {{purchaser_name}} gave you end with the box of {{last_box_date}}.\n\n"
     "To keep them coming on the same schedule, continue as a subscriber at the shop before then.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>The {{plan_name}} boxes {{purchaser_name}} gave you end with the box of "
                "<strong>{{last_box_date}}</strong>.</p>\n"
                "<p>To keep them coming on the same schedule, continue as a subscriber at the shop before "
                "then.</p>\n"),
     "Your gift of {{plan_name}} ends with the box of {{last_box_date}}."},
    {"gift_ending_purchaser", "Your gift to {{recipient_name}} ends after the box of {{last_box_date}}",
     "Hi {{customer_name}},\n\n"
     "The {{plan_name}} gift you gave {{recipient_name}} ends with the box of {{last_box_date}}. We have let "
     "them know.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>The {{plan_name}} gift you gave {{recipient_name}} ends with the box of "
                "<strong>{{last_box_date}}</strong>. We have let them know.</p>\n"),
     "Your gift of {{plan_name}} to {{recipient_name}} ends with the box of {{last_box_date}}."},
    {"card_expiring", "Your {{card_brand}} card ending in {{card_last4}} expires soon",
     "Hi {{customer_name}},\n\n"
     "The {{card_brand}} card ending in {{card_last4}} that pays for your subscription expires at the end of "
     "{{expiry}}.\n\n"
     "Please update your payment method:\n{{update_payment_url}}\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>The {{card_brand}} card ending in {{card_last4}} that pays for your subscription expires at the "
                "end of <strong>{{expiry}}</strong>.</p>\n"
                "<p><a href=\"{{update_payment_url}}\">Update your payment method</a></p>\n"),
     "Your {{card_brand}} card ending in {{card_last4}} expires {{expiry}}. Update it: {{update_payment_url}}"},
    {"backorder_delay", "{{product_name}} is delayed",
     "Hi {{customer_name}},\n\n"
     "{{product_name}} is on backorder, so your box {{shipment_id}} waits for it. We expect to ship it "
     "{{expected_date}}.\n\n"
     "You can wait, swap the item for an alternative, skip this box (the box is credited to your next "
     "invoice) or remove the item (its share is credited).\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>{{product_name}} is on backorder, so your box {{shipment_id}} waits for it. We expect to ship "
                "it <strong>{{expected_date}}</strong>.</p>\n"
                "<p>You can wait, swap the item for an alternative, skip this box (the box is credited to your "
                "next invoice) or remove the item (its share is credited).</p>\n"),
     "{{product_name}} is on backorder; we expect to ship your box {{expected_date}}."},
    {"backorder_filled", "Your box is on its way",
     "Hi {{customer_name}},\n\n"
     "Good news: {{product_name}} is back in stock and your box {{shipment_id}} is being packed.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Good news: {{product_name}} is back in stock and your box {{shipment_id}} is being "
                "packed.</p>\n"),
     "Back in stock: your box {{shipment_id}} is on its way."},
    {"shipment_shipped", "Your box has shipped",
     "Hi {{customer_name}},\n\n"
     "Your box {{shipment_id}} ({{product_name}}) has shipped. Tracking number: {{tracking_number}}.\n",
     RECUR_HTML("<p>Hi {{customer_name}},</p>\n"
                "<p>Your box {{shipment_id}} ({{product_name}}) has shipped. Tracking number: "
                "<strong>{{tracking_number}}</strong>.</p>\n"),
     "Your box {{shipment_id}} has shipped. Tracking: {{tracking_number}}"},
    {"billing_failure_rate", "Billing alert: {{rate}} of charges failed in run {{run_id}}",
     "Billing run {{run_id}} ({{trigger}}, as of {{as_of}}) attempted {{attempted}} charges: {{failed}} were declined "
     "and {{unknown}} got no answer from the gateway. That is {{rate}} failed, against {{usual_rate}} in recent "
     "runs.\n\n"
     "Check the gateway's status and credentials, and look for card testing, before the next run.\n",
     RECUR_HTML("<p>Billing run <strong>{{run_id}}</strong> ({{trigger}}, as of {{as_of}}) attempted {{attempted}} "
                "charges: {{failed}} were declined and {{unknown}} got no answer from the gateway. That is "
                "<strong>{{rate}}</strong> failed, against {{usual_rate}} in recent runs.</p>\n"
                "<p>Check the gateway's status and credentials, and look for card testing, before the next "
                "run.</p>\n"),
     "Billing alert: {{rate}} of {{attempted}} charges failed in run {{run_id}} (usual {{usual_rate}})."},
    {"dispute_opened", "Dispute: {{amount}} of invoice {{invoice_number}} ({{gateway}})",
     "The customer's bank disputes {{amount}} of invoice {{invoice_number}} ({{invoice_id}}, payment {{payment_id}}, "
     "customer {{customer_id}}). Reason: {{reason}}.\n\n"
     "Dispute {{dispute_id}} ({{gateway}}: {{gateway_reference}}). The subscription was: {{subscription_action}}.\n\n"
     "Answer it with evidence in the gateway's dashboard before its deadline; Recur settles it when the gateway "
     "reports the outcome.\n",
     RECUR_HTML("<p>The customer's bank disputes <strong>{{amount}}</strong> of invoice {{invoice_number}} "
                "({{invoice_id}}, payment {{payment_id}}, customer {{customer_id}}). Reason: {{reason}}.</p>\n"
                "<p>Dispute {{dispute_id}} ({{gateway}}: {{gateway_reference}}). The subscription was: "
                "{{subscription_action}}.</p>\n"
                "<p>Answer it with evidence in the gateway's dashboard before its deadline; Recur settles it when "
                "the gateway reports the outcome.</p>\n"),
     "Dispute {{dispute_id}}: {{amount}} of invoice {{invoice_number}}."},
    {"inventory_low", "Low stock: {{product_name}} ({{sku}})",
     "{{product_name}} (SKU {{sku}}) is down to {{available}} available ({{on_hand}} on hand), at or below "
     "the threshold of {{low_stock_threshold}}.\n\n"
     "Reorder soon to keep renewals from going on backorder.\n",
     RECUR_HTML("<p>{{product_name}} (SKU {{sku}}) is down to <strong>{{available}}</strong> available "
                "({{on_hand}} on hand), at or below the threshold of {{low_stock_threshold}}.</p>\n"
                "<p>Reorder soon to keep renewals from going on backorder.</p>\n"),
     "Low stock: {{product_name}} ({{sku}}) is down to {{available}} available."},
    {"purchase_order", "Purchase order {{number}} from {{buyer}}",
     "Hello {{supplier_name}},\n\n"
     "Please supply the following under purchase order {{number}}:\n\n"
     "{{lines}}\n"
     "Total: {{total}}\n"
     "Expected by: {{expected_date}}\n\n"
     "Please quote {{number}} on the delivery note and the invoice.\n",
     RECUR_HTML("<p>Hello {{supplier_name}},</p>\n"
                "<p>Please supply the following under purchase order <strong>{{number}}</strong>:</p>\n"
                "<pre>{{lines}}</pre>\n"
                "<p>Total: <strong>{{total}}</strong><br>Expected by: <strong>{{expected_date}}</strong></p>\n"
                "<p>Please quote {{number}} on the delivery note and the invoice.</p>\n"),
     "Purchase order {{number}} from {{buyer}}: total {{total}}, expected by {{expected_date}}."},
    {"replenishment_needed", "Replenish {{product_name}} ({{sku}}): demand exceeds stock",
     "Forecast demand for {{product_name}} (SKU {{sku}}) over the supplier's lead time of {{lead_time_days}} days "
     "is {{demand}} units, more than the {{available}} available and {{incoming}} on order.\n\n"
     "{{action}}\n",
     RECUR_HTML("<p>Forecast demand for {{product_name}} (SKU {{sku}}) over the supplier's lead time of "
                "{{lead_time_days}} days is <strong>{{demand}}</strong> units, more than the {{available}} available "
                "and {{incoming}} on order.</p>\n"
                "<p>{{action}}</p>\n"),
     "Replenish {{product_name}} ({{sku}}): {{demand}} forecast vs {{available}} available + {{incoming}} on order."},
    {"webhook_endpoint_disabled", "Webhook endpoint {{endpoint_id}} disabled: every delivery failed for 5 days",
     "Every delivery to webhook endpoint {{endpoint_id}} ({{url}}) has failed since {{failing_since}}, so Recur "
     "disabled it at {{disabled_at}}. Its deliveries wait; nothing is lost.\n\n"
     "Fix the receiver, then enable the endpoint again (PATCH /v1/webhook-endpoints/{{endpoint_id}} with status "
     "enabled) and replay the window it missed (POST /v1/webhook-endpoints/{{endpoint_id}}/replay).\n",
     RECUR_HTML("<p>Every delivery to webhook endpoint <strong>{{endpoint_id}}</strong> ({{url}}) has failed since "
                "{{failing_since}}, so Recur disabled it at {{disabled_at}}. Its deliveries wait; nothing is "
                "lost.</p>\n"
                "<p>Fix the receiver, then enable the endpoint again (PATCH /v1/webhook-endpoints/{{endpoint_id}} "
                "with status enabled) and replay the window it missed (POST "
                "/v1/webhook-endpoints/{{endpoint_id}}/replay).</p>\n"),
     "Webhook endpoint {{endpoint_id}} disabled: every delivery has failed since {{failing_since}}."},
};
#undef RECUR_HTML

}  // namespace

std::string_view to_string(Channel c) { return kChannels[static_cast<std::size_t>(c)]; }
std::string_view to_string(DeliveryStatus s) { return kStatuses[static_cast<std::size_t>(s)]; }

std::optional<Channel> parse_channel(std::string_view text) {
  for (std::size_t i = 0; i < kChannels.size(); ++i)
    if (kChannels[i] == text) return static_cast<Channel>(i);
  return std::nullopt;
}

std::optional<DeliveryStatus> parse_status(std::string_view text) {
  for (std::size_t i = 0; i < kStatuses.size(); ++i)
    if (kStatuses[i] == text) return static_cast<DeliveryStatus>(i);
  return std::nullopt;
}

Json to_json(const Notification& n) {
  auto body = Json{{"id", n.id},
                   {"object", "notification"},
                   {"channel", to_string(n.channel)},
                   {"template", n.template_name},
                   {"to", n.to},
                   {"customer", to_json_text(n.customer)},
                   {"resource", to_json_text(n.resource)},
                   {"subject", to_json_text(n.subject)},
                   {"text", redacted(n.text, n.secrets)},
                   {"html", n.html ? Json(redacted(*n.html, n.secrets)) : Json(nullptr)},
                   {"status", to_string(n.status)},
                   {"attempts", n.attempts},
                   {"next_attempt_at", to_json_time(n.next_attempt_at)},
                   {"last_error", to_json_text(n.last_error)},
                   {"sent_at", to_json_time(n.sent_at)}};
  Json files = Json::array();
  for (const auto& a : n.attachments) files.push_back({{"kind", a.kind}, {"id", a.id}});
  body["attachments"] = std::move(files);
  return with_envelope(std::move(body), n);
}

Json to_doc(const Notification& n) {
  Json doc = to_json(n);
  doc["text"] = n.text;
  doc["html"] = to_json_text(n.html);
  doc["secrets"] = n.secrets;
  return doc;
}

Notification notification_from_doc(const Json& doc) {
  Notification n;
  n.id = doc.at("id");
  n.channel = parse_channel(doc.at("channel").get<std::string>()).value();
  n.template_name = doc.at("template");
  // Recipient and body are null once the customer is erased (their data key destroyed).
  n.to = doc_text(doc, "to").value_or("");
  n.customer = doc_text(doc, "customer");
  n.resource = doc_text(doc, "resource");
  n.subject = doc_text(doc, "subject");
  n.text = doc_text(doc, "text").value_or("");
  n.html = doc_text(doc, "html");
  n.status = parse_status(doc.at("status").get<std::string>()).value();
  n.attempts = doc.at("attempts");
  n.next_attempt_at = doc_time(doc, "next_attempt_at");
  n.last_error = doc_text(doc, "last_error");
  n.sent_at = doc_time(doc, "sent_at");
  if (auto it = doc.find("secrets"); it != doc.end() && it->is_array()) n.secrets = it->get<std::vector<std::string>>();
  if (auto it = doc.find("attachments"); it != doc.end() && it->is_array())
    for (const auto& a : *it) n.attachments.push_back({a.at("kind").get<std::string>(), a.at("id").get<std::string>()});
  read_envelope(doc, n);
  return n;
}

void scrub_secrets(Notification& n) {
  n.text = redacted(std::move(n.text), n.secrets);
  if (n.html) n.html = redacted(std::move(*n.html), n.secrets);
  n.secrets.clear();
}

std::string mask_email(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= address.size()) return "***";
  std::string_view domain = address.substr(at + 1);
  auto dot = domain.rfind('.');
  std::string tld = dot == std::string_view::npos || dot == 0 ? "" : std::string(domain.substr(dot));
  // The first byte of a multi-byte character would be half a character: keep ASCII only.
  auto first = [](std::string_view part) {
    unsigned char c = static_cast<unsigned char>(part.front());
    return c < 0x80 ? std::string(1, part.front()) : std::string();
  };
  return first(address) + "***@" + first(domain) + "***" + tld;
}

std::string mask_phone(std::string_view number) {
  std::string digits;
  for (char c : number)
    if (c >= '0' && c <= '9') digits += c;
  return "***" + (digits.size() > 4 ? digits.substr(digits.size() - 2) : std::string());
}

std::optional<std::int64_t> retry_delay(std::int64_t attempts) {
  if (attempts < 1 || attempts > static_cast<std::int64_t>(kBackoff.size())) return std::nullopt;
  return kBackoff[static_cast<std::size_t>(attempts - 1)];
}

Result<std::string> render(std::string_view tmpl, const Json& data, bool html) {
  std::string out;
  std::vector<std::string> missing;
  std::size_t pos = 0;
  for (;;) {
    RECUR_ASSIGN(auto ph, next_placeholder(tmpl, pos));
    if (!ph) break;
    out.append(tmpl.substr(pos, ph->begin - pos));
    pos = ph->end;
    auto value = value_text(data, ph->name);
    if (!value) {
      if (std::find(missing.begin(), missing.end(), ph->name) == missing.end()) missing.push_back(ph->name);
      continue;
    }
    if (html) append_escaped(out, *value);
    else out += *value;
  }
  if (!missing.empty()) return missing_data(missing);
  out.append(tmpl.substr(pos));
  return out;
}

std::vector<std::string> variables(std::string_view tmpl) {
  std::vector<std::string> names;
  std::size_t pos = 0;
  for (;;) {
    auto ph = next_placeholder(tmpl, pos);
    if (!ph.ok() || !*ph) break;
    pos = (*ph)->end;
    if (std::find(names.begin(), names.end(), (*ph)->name) == names.end()) names.push_back((*ph)->name);
  }
  return names;
}

bool also_by_sms(std::string_view template_name) {
  return template_name == "payment_failed" || template_name == "payment_action_required" ||
         template_name == "backorder_delay" || template_name == "shipment_shipped";
}

std::span<const Template> templates() { return kTemplates; }

const Template* find_template(std::string_view name) {
  for (const auto& t : kTemplates)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> required_keys(const Template& t, Channel channel) {
  std::vector<std::string> keys;
  auto add = [&](std::string_view part) {
    for (auto& name : variables(part)) {
      if (name == "update_payment_url") name = "update_payment_token";
      if (std::find(keys.begin(), keys.end(), name) == keys.end()) keys.push_back(name);
    }
  };
  if (channel == Channel::kSms) {
    add(t.sms);
  } else {
    add(t.subject);
    add(t.text);
    add(t.html);
  }
  return keys;
}

Result<Rendered> render_template(const Template& t, Channel channel, Json data, std::string_view payment_base) {
  std::vector<std::string> missing;
  bool payment_link = false;
  for (const auto& key : required_keys(t, channel)) {
    if (!value_text(data, key)) missing.push_back(key);
    payment_link = payment_link || key == "update_payment_token";
  }
  if (!missing.empty()) return missing_data(missing);
  Rendered r;
  if (payment_link) {
    if (payment_base.empty())
      return Error::invalid("update_payment_url_unset",
                            "the '" + std::string(t.name) + "' template needs an update-payment base URL (--update-payment-url)");
    auto token = *value_text(data, "update_payment_token");
    data["update_payment_url"] = update_payment_link(payment_base, token);
    r.secrets = {url_encode(token)};
    if (r.secrets.front() != token) r.secrets.push_back(token);
  }
  // A gift's claim code takes the gift: kept out of the stored bodies once sent.
  if (auto code = value_text(data, "claim_code"); code && !code->empty()) r.secrets.push_back(*code);
  // A portal sign-in link opens the customer's account: the same.
  if (auto link = value_text(data, "sign_in_url"); link && !link->empty()) r.secrets.push_back(*link);
  if (channel == Channel::kSms) {
    RECUR_ASSIGN(r.text, render(t.sms, data, false));
    return r;
  }
  RECUR_ASSIGN(auto subject, render(t.subject, data, false));
  r.subject = without_control_characters(std::move(subject));  // no header injection
  RECUR_ASSIGN(r.text, render(t.text, data, false));
  RECUR_ASSIGN(r.html, render(t.html, data, true));
  return r;
}

std::string update_payment_link(std::string_view base_url, std::string_view token) {
  std::string link(base_url);
  if (!base_url.empty() && base_url.back() == '#') return link + url_encode(token);
  link += base_url.find('?') == std::string_view::npos ? "?token=" : "&token=";
  link += url_encode(token);
  return link;
}

bool is_email_address(std::string_view to) {
  if (to.empty() || to.size() > 254) return false;
  auto at = to.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 == to.size() || to.find('@', at + 1) != std::string_view::npos)
    return false;
  return std::none_of(to.begin(), to.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' ||
           c == '"';
  });
}

}  // namespace recur::notify
