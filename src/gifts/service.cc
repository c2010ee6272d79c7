// Gift subscriptions' use cases.
#include "gifts/service.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include "billing/store.h"
#include "catalog/service.h"
#include "catalog/store.h"
#include "customers/store.h"
#include "platform/money.h"

namespace recur::gifts {
namespace {

constexpr int kBatch = 100;

std::string new_claim_code() {
  unsigned char random[16];
  randombytes_buf(random, sizeof random);
  return claim_code_from(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
}

Error gift_not_found(const std::string& id) {
  return Error::not_found("gift_not_found", no_object_message("gift", "gift", id));
}

std::string day_of(Timestamp t) { return format_rfc3339(t).substr(0, 10); }

// The gift's money went back: refunds and lost disputes cover what its invoice charged.
bool refunded(const billing::Invoice& invoice) {
  return invoice.total > 0 && invoice.amount_refunded + invoice.amount_disputed_lost >= invoice.total;
}

// The gift's line on the purchaser's invoice: the plan's price for every box.
Result<billing::InvoiceLine> gift_line(const catalog::Plan& plan, const Gift& g) {
  const std::int64_t boxes = g.quantity * g.deliveries;
  if (plan.amount > billing::kMaxOneOffLineAmount / boxes)
    return Error::invalid("validation_failed", "the gift's price is too large to charge",
                          {{"deliveries", "out_of_range", "the plan's price times the boxes is too large"}});
  billing::InvoiceLine line;
  line.description = "Gift: " + plan.name + " × " + std::to_string(g.quantity) + ", " + std::to_string(g.deliveries) +
                     (g.deliveries == 1 ? " delivery" : " deliveries");
  line.amount = plan.amount * boxes;
  line.quantity = boxes;
  return line;
}

}  // namespace

std::string claim_link(std::string_view base, std::string_view code) {
  std::string link(base);
  link += base.find('?') == std::string_view::npos ? "?code=" : "&code=";
  link += code;  // the code's alphabet needs no escaping
  return link;
}

Result<Gift> GiftService::create(const GiftInput& in, const events::Actor& actor) {
  const Timestamp now = clock_.now();
  Gift g;
  g.id = ids_.next("gift");
  g.purchaser = in.purchaser;
  g.plan = in.plan;
  g.quantity = in.quantity;
  g.deliveries = in.deliveries;
  g.recipient = in.recipient;
  g.message = in.message;
  g.send_at = in.send_at.value_or(now);
  g.claim_code = new_claim_code();
  g.metadata = in.metadata;
  g.created = g.updated = now;
  RECUR_TRY(check_gift(g, now));
  g.send_at = std::max(g.send_at, now);  // a clock a little behind: now
  g.expires_at = g.send_at + kClaimWindow;

  billing::OneOffInput one;
  one.request_key = in.request_key;
  one.spec.customer = in.purchaser;
  one.spec.billing_reason = "gift";
  one.spec.metadata = {{"gift", g.id}};
  // In the invoice's transaction: the plan's price, the coupon redeemed (a rollback takes it
  // back), then the gift stored beside its invoice.
  one.prepare = [&](db::Tx& tx, billing::OneOffSpec& spec) -> recur::Status {
    RECUR_ASSIGN(auto plan, subscriptions::plan_for_subscribing(tx, g.plan, "plan"));
    RECUR_ASSIGN(auto line, gift_line(plan, g));
    spec.currency = plan.currency;
    spec.lines = {line};
    if (in.coupon || in.promotion_code) {
      // A gift is nobody's first subscription: first-subscription coupons do not apply.
      catalog::RedemptionRequest request{in.coupon, in.promotion_code, g.purchaser, g.id,
                                         [](db::Tx&) -> Result<bool> { return false; }};
      RECUR_ASSIGN(auto redeemed, catalog::redeem(tx, ids_, request, plan, now));
      auto discount =
          subscriptions::discount_from(redeemed.coupon, redeemed.promotion_code ? &*redeemed.promotion_code : nullptr);
      spec.discount = subscriptions::discount_off(line.amount, plan.currency, discount);
      spec.discount_source = discount.source;
    }
    return Ok{};
  };
  one.with_issued = [&](db::Tx& tx, const billing::Invoice& inv) -> recur::Status {
    g.invoice = inv.id;
    g.amount = inv.total;
    g.currency = inv.currency;
    RECUR_TRY(insert_gift(tx, g));
    return events_.record(tx, "gift.created", g.id, actor, nullptr, to_json(g));
  };
  // Charged in the request; a retry under the same key finds the first try's invoice (and
  // its gift), and asks again only about a charge still in flight.
  RECUR_ASSIGN(auto invoice, invoices_.create(one, actor));
  RECUR_ASSIGN(auto stored,
               db::transact(
                   db_, [&](db::Tx& tx) { return find_gift_by_invoice(tx, invoice.id); }, db::TxMode::kReadOnly));
  if (!stored) return Error::internal("invoice " + invoice.id + " has no gift");
  if (invoice.status == billing::InvoiceStatus::kPaid && stored->status == GiftStatus::kPending &&
      stored->send_at <= clock_.now()) {
    GiftRunReport report;
    RECUR_TRY(step(stored->id, clock_.now(), report));
    return get(stored->id);
  }
  return *stored;
}

Result<Gift> GiftService::get(const std::string& id) {
  return db::transact(
      db_,
      [&](db::Tx& tx) -> Result<Gift> {
        RECUR_ASSIGN(auto g, find_gift(tx, id));
        if (!g) return gift_not_found(id);
        return *g;
      },
      db::TxMode::kReadOnly);
}

Result<Page<Gift>> GiftService::list(const GiftFilter& filter) {
  return db::transact(
      db_, [&](db::Tx& tx) { return list_gifts(tx, filter); }, db::TxMode::kReadOnly);
}

Result<Gift> GiftService::claim(const ClaimInput& in, const events::Actor& actor) {
  const std::string code = normalize_claim_code(in.claim_code);
  const Timestamp now = clock_.now();
  return db::transact(db_, [&](db::Tx& tx) -> Result<Gift> {
    RECUR_ASSIGN(auto found, find_gift_by_code(tx, code, true));
    if (!found) return Error::not_found("gift_not_found", "no gift has this claim code");
    Gift g = std::move(*found);
    // Its purchaser was erased: the code went with them.
    if (g.claim_code.empty()) return Error::not_found("gift_not_found", "no gift has this claim code");
    RECUR_ASSIGN(auto invoice, billing::find_invoice(tx, g.invoice, false));
    if (!invoice) return Error::internal("gift " + g.id + " has no invoice");
    RECUR_TRY(check_claimable(g, billing::to_string(invoice->status), now, refunded(*invoice)));

    // The recipient: the customer named, else the customer with the recipient's e-mail,
    // else a new one.
    std::string recipient;
    if (in.customer) {
      RECUR_ASSIGN(auto c, customers::find_customer(tx, *in.customer));
      if (!c)
        return Error::invalid("customer_not_found", no_object_message("customer", "cus", *in.customer),
                              {{"customer", "not_found", "no such customer"}});
      recipient = c->id;
    } else {
      customers::ListFilter by_email;
      by_email.email = g.recipient.email;
      by_email.page.limit = 1;
      RECUR_ASSIGN(auto known, customers::list_customers(tx, by_email));
      if (!known.items.empty()) {
        recipient = known.items.front().id;
      } else {
        customers::CustomerInput c;
        c.email = g.recipient.email;
        c.name = g.recipient.name;
        c.shipping_address = g.recipient.shipping_address;
        c.metadata = {{"gift", g.id}};
        RECUR_ASSIGN(auto made, customers_.create_in(tx, c, actor));
        recipient = made.id;
      }
    }
    subscriptions::CreateInput s;
    s.customer = recipient;
    s.plan = g.plan;
    s.quantity = g.quantity;
    s.start_date = in.start_date;
    s.shipping_address = g.recipient.shipping_address;
    s.trial_end = subscriptions::kTrialEndNow;
    s.metadata = {{"gift", g.id}};
    s.gift = subscriptions::CreateInput::Gift{g.id, g.invoice, g.deliveries};
    RECUR_ASSIGN(auto sub, subscriptions_.create_in(tx, s, actor));

    // Read again: the last box's reminder may have gone out in this transaction already.
    RECUR_ASSIGN(auto again, find_gift(tx, g.id, true));
    if (!again) return Error::internal("gift " + g.id + " is gone");
    g = std::move(*again);
    Json before = to_json(g);
    const std::int64_t version = g.version;
    g.status = GiftStatus::kClaimed;
    g.claimed_at = now;
    g.subscription = sub.id;
    g.recipient_customer = recipient;
    // The recipient is a customer now, their details theirs (erased with them): the gift
    // keeps only who they are, not a copy under the purchaser's key.
    g.recipient = Recipient{};
    g.updated = now;
    ++g.version;
    RECUR_ASSIGN(bool stored, update_gift(tx, g, version));
    if (!stored) return version_conflict("the gift", version, g.version);
    RECUR_TRY(events_.record(tx, "gift.claimed", g.id, actor, std::move(before), to_json(g),
                             {{"subscription", sub.id}, {"recipient_customer", recipient}}));
    return g;
  });
}

Result<std::string> GiftService::queue_claim_email(db::Tx& tx, const Gift& g) {
  RECUR_ASSIGN(auto purchaser, customers::find_customer(tx, g.purchaser));
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, g.plan));
  notify::Message m;
  m.template_name = "gift_received";
  m.to = g.recipient.email;
  m.customer = g.purchaser;  // sealed under the purchaser's key, as the gift is
  m.resource = g.id;
  m.data = {{"recipient_name", g.recipient.name},
            {"purchaser_name", purchaser ? purchaser->name : std::string()},
            {"plan_name", plan ? plan->name : g.plan},
            {"deliveries", g.deliveries},
            {"message", g.message.value_or("")},
            {"claim_code", g.claim_code},
            {"claim_url", claim_link(claim_url_, g.claim_code)},
            {"claim_by", day_of(g.expires_at)}};
  return outbox_.enqueue(tx, m);
}

recur::Status GiftService::step(const std::string& id, Timestamp now, GiftRunReport& report) {
  return db::transact(db_, [&](db::Tx& tx) -> recur::Status {
    RECUR_ASSIGN(auto found, find_gift(tx, id, true));
    if (!found) return Ok{};
    Gift g = std::move(*found);
    RECUR_ASSIGN(auto invoice, billing::find_invoice(tx, g.invoice, false));
    const std::string status = invoice ? std::string(billing::to_string(invoice->status)) : "void";
    const GiftStep what = due_step(g, status, now, invoice && refunded(*invoice));
    if (what == GiftStep::kNone) return Ok{};
    Json before = to_json(g);
    const std::int64_t version = g.version;
    const bool send = what == GiftStep::kSend;
    if (send) {
      RECUR_ASSIGN(auto notification, queue_claim_email(tx, g));
      g.status = GiftStatus::kSent;
      g.sent_at = now;
      if (!notification.empty()) g.notification = notification;
    } else {
      g.status = GiftStatus::kExpired;
    }
    g.updated = now;
    ++g.version;
    RECUR_ASSIGN(bool stored, update_gift(tx, g, version));
    if (!stored) return version_conflict("the gift", version, g.version);
    ++(send ? report.sent : report.expired);
    return send ? events_.record(tx, "gift.sent", g.id, events::Actor::system(), std::move(before), to_json(g))
                : events_.record(tx, "gift.expired", g.id, events::Actor::system(), std::move(before), to_json(g));
  });
}

Result<GiftRunReport> GiftService::run_due() {
  const Timestamp now = clock_.now();
  GiftRunReport report;
  std::string after;
  for (;;) {
    RECUR_ASSIGN(auto ids,
                 db::transact(
                     db_, [&](db::Tx& tx) { return due_gifts(tx, now, kBatch, after); }, db::TxMode::kReadOnly));
    for (const auto& id : ids) {
      auto done = step(id, now, report);
      if (!done.ok()) {
        ++report.failures;
        spdlog::error("gift {}: {}", id, done.error().message);
      }
    }
    if (static_cast<int>(ids.size()) < kBatch) break;
    after = ids.back();
  }
  return report;
}

Result<std::optional<Timestamp>> GiftService::next_due_at() {
  const Timestamp now = clock_.now();
  return db::transact(
      db_, [&](db::Tx& tx) { return next_send_at(tx, now); }, db::TxMode::kReadOnly);
}

// ------------------------------------------------------------------ the last box's reminder

Status GiftReminders::appended(db::Tx& tx, const events::Event& event) {
  if (event.resource_type != "subscription" || !event.after.is_object()) return Ok{};
  const Json& link = event.after.value("gift", Json());
  const Json& prepaid = event.after.value("prepaid", Json());
  if (!link.is_object() || link.value("converted", false) || !prepaid.is_object()) return Ok{};
  const std::int64_t remaining = prepaid.value("remaining", std::int64_t{0});
  const std::string status = event.after.value("status", "");
  // The box before the last has begun (or a one-box gift's only box).
  if (remaining > 1 || status == "scheduled" || status == "canceled" || status == "incomplete_expired") return Ok{};
  RECUR_ASSIGN(auto found, find_gift(tx, link.at("id").get<std::string>(), true));
  if (!found || found->ending_reminded) return Ok{};
  Gift g = std::move(*found);
  const Json& period = event.after.at("current_period");
  const std::string last_box =
      (remaining == 0 ? period.at("start") : period.at("end")).get<std::string>().substr(0, 10);
  RECUR_ASSIGN(auto plan, catalog::find_plan(tx, g.plan));
  const std::string plan_name = plan ? plan->name : g.plan;
  RECUR_ASSIGN(auto purchaser, customers::find_customer(tx, g.purchaser));
  const std::string recipient_id = event.after.value("customer", "");
  RECUR_ASSIGN(auto recipient, customers::find_customer(tx, recipient_id));
  auto name_of = [](const std::optional<customers::Customer>& c) {
    return c && !c->erased_at ? c->name : std::string();
  };
  // Each is told once, by name, while they can still be reached (not erased).
  auto tell = [&](const std::optional<customers::Customer>& to, const char* template_name, const std::string& resource,
                  const char* other_key, const std::string& other) -> recur::Status {
    if (!to || to->erased_at) return Ok{};
    notify::Message m;
    m.template_name = template_name;
    m.to = to->email;
    m.customer = to->id;
    m.resource = resource;
    m.data = {{"customer_name", to->name}, {other_key, other}, {"plan_name", plan_name}, {"last_box_date", last_box}};
    RECUR_TRY(outbox_.enqueue(tx, m));
    return Ok{};
  };
  RECUR_TRY(tell(recipient, "gift_ending", event.resource_id, "purchaser_name", name_of(purchaser)));
  RECUR_TRY(tell(purchaser, "gift_ending_purchaser", g.id, "recipient_name", name_of(recipient)));
  const std::int64_t version = g.version;
  g.ending_reminded = true;
  g.updated = clock_.now();
  ++g.version;
  RECUR_ASSIGN(bool stored, update_gift(tx, g, version));
  if (!stored) return version_conflict("the gift", version, g.version);
  return Ok{};
}

}  // namespace recur::gifts
