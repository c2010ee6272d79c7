// Billing's pure rules: invoice totals, the dunning schedule, the failure-rate alert.
#include "billing/model.h"

#include <gtest/gtest.h>

#include "subscriptions/subscription.h"

namespace recur::billing {
namespace {

InvoiceLine line(std::int64_t amount, bool proration = false) { return {"x", amount, 1, {0, 1}, proration}; }

TEST(ComputeTotals, WorkedExamplesToTheMinorUnit) {
  struct Case {
    std::vector<std::int64_t> lines;
    std::int64_t discount, tax_bp;
    std::int64_t subtotal, applied_discount, tax, total, carried;
  };
  const Case cases[] = {
      {{2999}, 0, 0, 2999, 0, 0, 2999, 0},
      {{2000}, 500, 0, 2000, 500, 0, 1500, 0},
      {{2000}, 2500, 0, 2000, 2000, 0, 0, 0},            // a discount stops at zero
      {{2400, -500}, 0, 0, 1900, 0, 0, 1900, 0},          // a proration credit
      {{700, -2400}, 0, 0, -1700, 0, 0, 0, -1700},        // a credit larger than the charge is carried
      {{1000}, 0, 825, 1000, 0, 83, 1083, 0},             // 8.25 % of 10.00 = 0.825 -> 0.83 (half up)
      {{999}, 0, 2000, 999, 0, 200, 1199, 0},             // 20 % of 9.99 = 1.998 -> 2.00
      {{1001}, 1, 1000, 1001, 1, 100, 1100, 0},           // tax on the discounted amount
      {{-300}, 100, 0, -300, 0, 0, 0, -300},              // no discount on credits
      // A 20 % discount (440 of 2200) comes off the charge before the credit is weighed:
      // 2200 - 440 - 3868 leaves 2108 to carry, not 1668.
      {{2200, -3868}, 440, 0, -1668, 440, 0, 0, -2108},
      {{2200, -360}, 440, 1000, 1840, 440, 140, 1540, 0},  // tax on what is left after both
  };
  for (const auto& c : cases) {
    std::vector<InvoiceLine> lines;
    for (auto a : c.lines) lines.push_back(line(a));
    Totals t = compute_totals(lines, c.discount, c.tax_bp);
    EXPECT_EQ(t.subtotal, c.subtotal);
    EXPECT_EQ(t.discount, c.applied_discount);
    EXPECT_EQ(t.tax, c.tax);
    EXPECT_EQ(t.total, c.total);
    EXPECT_EQ(t.carried_credit, c.carried);
  }
}

TEST(ComputeTotals, TotalIsNeverNegativeAndLinesBalanceAfterCarrying) {
  for (std::int64_t charge = 0; charge <= 3000; charge += 137)
    for (std::int64_t credit = 0; credit <= 3000; credit += 211)
      for (std::int64_t discount = 0; discount <= 1000; discount += 333) {
        Totals t = compute_totals({line(charge), line(-credit, true)}, discount, 0);
        EXPECT_GE(t.total, 0);
        EXPECT_LE(t.carried_credit, 0);
        // What the invoice charges plus what it carries equals what it was asked to settle.
        EXPECT_EQ(t.total + t.carried_credit, charge - credit - t.discount);
      }
}

// A plan change to a new cadence: the unused share of what was paid for the current
// period is credited (`subscriptions::prorate`), the new period starts at the change
// (`restart_period`, which prices it with the subscription's discount and uses up one of
// its cycles), and its invoice is `invoice_period`. The discount must come off the new
// period before the credit is weighed, whatever kind of discount it is.
TEST(PeriodInvoice, ACadenceChangeKeepsTheDiscountOfTheNewPeriodAndCarriesTheRestOfTheCredit) {
  using subscriptions::Discount;
  using subscriptions::kForever;
  const Cadence monthly{Interval::kMonth, 1};
  const Cadence weekly{Interval::kWeek, 1};
  const Timestamp april = parse_rfc3339("2026-04-01T00:00:00Z").value();
  const Timestamp may = parse_rfc3339("2026-05-01T00:00:00Z").value();  // April: 30 days
  const Timestamp early = parse_rfc3339("2026-04-04T00:00:00Z").value();  // 27 days unused: 0.9
  const Timestamp late = parse_rfc3339("2026-04-28T00:00:00Z").value();   // 3 days unused: 0.1
  auto percent = [](std::int64_t pct, std::int64_t cycles) { return Discount{pct, cycles, "coupon:c"}; };
  auto amount = [](std::int64_t off, std::int64_t cycles) {
    Discount d{0, cycles, "coupon:c"};
    d.amount_off = off;
    d.currency = "usd";
    return d;
  };
  struct Case {
    const char* name;
    std::optional<Discount> discount;  // as it stands at the change
    std::int64_t april_paid;           // what April cost (its own discount, if it had one)
    Timestamp change_at;
    std::int64_t tax_bp;
    std::int64_t credit, period_amount, discount_applied, tax, total, carried;
    std::optional<std::int64_t> cycles_after;  // none: the discount is used up
  };
  // Monthly 4500 -> weekly 2200.
  const Case cases[] = {
      {"20 % forever", percent(20, kForever), 3600, early, 0, -3240, 1760, 440, 0, 0, -1480, kForever},
      {"20 % repeating, 2 cycles left", percent(20, 2), 3600, early, 0, -3240, 1760, 440, 0, 0, -1480, 1},
      {"20 % once, redeemed mid-April", percent(20, 1), 4500, early, 0, -4050, 1760, 440, 0, 0, -2290, std::nullopt},
      {"20 % once, used up by April", std::nullopt, 3600, early, 0, -3240, 2200, 0, 0, 0, -1040, std::nullopt},
      {"500 off forever", amount(500, kForever), 4000, early, 0, -3600, 1700, 500, 0, 0, -1900, kForever},
      {"500 off repeating, 1 cycle left", amount(500, 1), 4000, early, 0, -3600, 1700, 500, 0, 0, -1900, std::nullopt},
      {"3000 off once, more than the week", amount(3000, 1), 4500, early, 0, -4050, 0, 2200, 0, 0, -4050,
       std::nullopt},
      {"20 % forever, late change, 10 % tax", percent(20, kForever), 3600, late, 1000, -360, 1760, 440, 140, 1540, 0,
       kForever},
  };
  catalog::Plan week_plan;
  week_plan.id = "plan_week";
  week_plan.name = "Weekly";
  week_plan.amount = 2200;
  week_plan.currency = "usd";
  week_plan.cadence = weekly;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    subscriptions::Subscription sub;
    sub.plan = "plan_month";
    sub.billing_cycle_anchor = april;
    sub.current = {april, may};
    sub.current_amount = c.april_paid;
    sub.discount = c.discount;
    auto proration = subscriptions::prorate({4500, 1, monthly, "Monthly", c.april_paid}, {2200, 1, weekly, "Weekly"},
                                            sub.current, c.change_at);
    ASSERT_TRUE(proration.resets_anchor);
    ASSERT_EQ(proration.lines.size(), 2u);
    EXPECT_EQ(proration.lines[0].amount, c.credit);
    auto period = subscriptions::restart_period(sub, week_plan, c.change_at);
    EXPECT_EQ(period.amount, c.period_amount);
    std::vector<InvoiceLine> lines = {{"Weekly", period.unit_amount * period.quantity, 1, period.period, false},
                                      {"Unused time on Monthly", c.credit, 1, period.period, true}};
    auto inv = invoice_period(lines, period.unit_amount * period.quantity - period.amount, c.tax_bp, period.period);
    EXPECT_EQ(inv.totals.discount, c.discount_applied);
    EXPECT_EQ(inv.totals.tax, c.tax);
    EXPECT_EQ(inv.totals.total, c.total);
    EXPECT_EQ(inv.carried, c.carried);
    // Charge - discount + tax - credit = what is charged now + what the next invoice takes off.
    EXPECT_EQ(inv.totals.total + inv.carried, 2200 - c.discount_applied + c.tax + c.credit);
    ASSERT_EQ(inv.lines.size(), c.carried < 0 ? 3u : 2u);
    if (c.carried < 0) {
      EXPECT_EQ(inv.lines[2].description, kCarriedCreditLine);
      EXPECT_EQ(inv.lines[2].amount, -c.carried);
    }
    ASSERT_EQ(sub.discount.has_value(), c.cycles_after.has_value());
    if (c.cycles_after) {
      EXPECT_EQ(sub.discount->cycles_remaining, *c.cycles_after);
    }
  }
}

TEST(NextRetryAt, FollowsTheScheduleFromTheFirstFailureThenStops) {
  DunningSettings s;  // 1, 3, 5, 7 days
  Timestamp first = 1'000'000;
  EXPECT_EQ(*next_retry_at(s, first, 1), first + 1 * kSecondsPerDay);
  EXPECT_EQ(*next_retry_at(s, first, 2), first + 3 * kSecondsPerDay);
  EXPECT_EQ(*next_retry_at(s, first, 4), first + 7 * kSecondsPerDay);
  EXPECT_FALSE(next_retry_at(s, first, 5).has_value());
  EXPECT_FALSE(next_retry_at(s, first, 0).has_value());
}

TEST(DunningStep, RetriesOnTheScheduleFromTheFirstFailureThenTakesTheFinalAction) {
  const Timestamp first = parse_rfc3339("2026-03-01T10:00:00Z").value();
  auto at = [](const char* text) { return DunningStep(parse_rfc3339(text).value()); };
  struct Case {
    std::vector<std::int64_t> retry_days;
    FinalAction final_action;
    std::int64_t attempt;
    DunningStep expected;
  };
  const Case cases[] = {
      {{1, 3, 5, 7}, FinalAction::kCancel, 1, at("2026-03-02T10:00:00Z")},  // the original charge failed
      {{1, 3, 5, 7}, FinalAction::kCancel, 2, at("2026-03-04T10:00:00Z")},
      {{1, 3, 5, 7}, FinalAction::kCancel, 4, at("2026-03-08T10:00:00Z")},  // the last retry
      {{1, 3, 5, 7}, FinalAction::kCancel, 5, FinalAction::kCancel},        // the last retry failed
      {{1, 3, 5, 7}, FinalAction::kUnpaid, 5, FinalAction::kUnpaid},
      {{2}, FinalAction::kPause, 1, at("2026-03-03T10:00:00Z")},
      {{2}, FinalAction::kPause, 2, FinalAction::kPause},
      {{2}, FinalAction::kPause, 9, FinalAction::kPause},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "attempt " << c.attempt << " of " << c.retry_days.size() + 1);
    DunningSettings s;
    s.retry_days = c.retry_days;
    s.final_action = c.final_action;
    EXPECT_EQ(dunning_step(s, first, c.attempt), c.expected);
  }
}

// The invoice of a billable period: the plan line at gross, the pending items after it, the
// period's discount off the charge, tax on what is left, and the status it starts in.
TEST(BuildInvoice, WorkedExamples) {
  const Period april{parse_rfc3339("2026-04-01T00:00:00Z").value(), parse_rfc3339("2026-05-01T00:00:00Z").value()};
  struct Case {
    const char* name;
    std::string type;
    std::int64_t quantity, unit_amount, period_amount;  // period_amount: after the discount
    std::vector<std::int64_t> pending;
    std::int64_t tax_bp;
    subscriptions::Status status;
    std::string first_line, reason;
    std::size_t lines;
    std::int64_t subtotal, discount, tax, total, carried;
    InvoiceStatus invoice_status;
    bool due_now;
  };
  using subscriptions::Status;
  const Case cases[] = {
      {"a first period", "subscription.started", 1, 2999, 2999, {}, 0, Status::kActive, "Box", "subscription_create", 1,
       2999, 0, 0, 2999, 0, InvoiceStatus::kOpen, true},
      {"a renewal of three, 20 % off, 19 % tax", "subscription.renewed", 3, 1000, 2400, {}, 1900, Status::kActive,
       "Box × 3", "subscription_cycle", 1, 3000, 600, 456, 2856, 0, InvoiceStatus::kOpen, true},
      {"a trial's end with a proration charge", "subscription.trial_ended", 1, 2000, 2000, {500}, 0, Status::kActive,
       "Box", "subscription_cycle", 2, 2500, 0, 0, 2500, 0, InvoiceStatus::kOpen, true},
      {"a restart whose credit covers it", "subscription.period_restarted", 1, 2000, 1500, {-2300}, 0,
       Status::kActive, "Box", "subscription_update", 3, 500, 500, 0, 0, -800, InvoiceStatus::kPaid, false},  // 2000 - 2300 + 800 carried
      {"a credit that exactly covers it", "subscription.renewed", 1, 2000, 2000, {-2000}, 0, Status::kActive, "Box",
       "subscription_cycle", 2, 0, 0, 0, 0, 0, InvoiceStatus::kPaid, false},
      {"an unpaid subscription's renewal", "subscription.renewed", 1, 2000, 2000, {}, 0, Status::kUnpaid, "Box",
       "subscription_cycle", 1, 2000, 0, 0, 2000, 0, InvoiceStatus::kOpen, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    subscriptions::Subscription sub;
    sub.id = "sub_1";
    sub.customer = "cus_1";
    sub.status = c.status;
    subscriptions::LifecycleEvent e;
    e.type = c.type;
    e.at = april.start;
    e.period = april;
    e.billable = true;
    e.amount = c.period_amount;
    e.currency = "eur";
    e.quantity = c.quantity;
    e.unit_amount = c.unit_amount;
    if (c.period_amount < c.unit_amount * c.quantity) e.discount_source = subscriptions::DiscountSource{"coupon", "c"};
    std::vector<InvoiceLine> pending;
    for (auto a : c.pending) pending.push_back(line(a, true));
    BuiltInvoice built = build_invoice(sub, e, "Box", pending, c.tax_bp);
    const Invoice& inv = built.invoice;
    EXPECT_EQ(inv.subscription, "sub_1");
    EXPECT_EQ(inv.customer, "cus_1");
    EXPECT_EQ(inv.currency, "eur");
    EXPECT_EQ(inv.period.start, april.start);
    EXPECT_EQ(inv.billing_reason, c.reason);
    EXPECT_EQ(inv.discount_source, e.discount_source);
    ASSERT_EQ(inv.lines.size(), c.lines);
    EXPECT_EQ(inv.lines[0].description, c.first_line);
    EXPECT_EQ(inv.lines[0].amount, c.unit_amount * c.quantity);
    EXPECT_EQ(inv.lines[0].quantity, c.quantity);
    for (std::size_t i = 0; i < c.pending.size(); ++i) EXPECT_EQ(inv.lines[1 + i].amount, c.pending[i]);
    if (c.carried < 0) {
      EXPECT_EQ(inv.lines.back().description, kCarriedCreditLine);
    }
    EXPECT_EQ(inv.subtotal, c.subtotal);
    EXPECT_EQ(inv.discount, c.discount);
    EXPECT_EQ(inv.tax, c.tax);
    EXPECT_EQ(inv.total, c.total);
    EXPECT_EQ(built.carried, c.carried);
    EXPECT_EQ(inv.status, c.invoice_status);
    EXPECT_EQ(inv.paid_at.has_value(), c.invoice_status == InvoiceStatus::kPaid);
    EXPECT_EQ(inv.next_attempt_at, c.due_now ? std::optional<Timestamp>(april.start) : std::nullopt);
    EXPECT_EQ(inv.created, april.start);
    EXPECT_TRUE(inv.id.empty());      // the invoicer gives the id
    EXPECT_TRUE(inv.number.empty());  // and the gapless number, in its transaction
  }
}

// An invoice of pending items issued between periods (proration "always_invoice"): the
// items as its lines, no discount, tax on the net, its period spanning the lines'.
TEST(BuildItemsInvoice, WorkedExamples) {
  const Timestamp at = parse_rfc3339("2026-04-14T00:00:00Z").value();
  const Timestamp end = parse_rfc3339("2026-05-01T00:00:00Z").value();
  const Timestamp earlier = parse_rfc3339("2026-04-03T00:00:00Z").value();
  struct Case {
    const char* name;
    std::vector<std::pair<std::int64_t, Timestamp>> items;  // amount, period start (all end at `end`)
    std::int64_t tax_bp;
    subscriptions::Status status;
    Timestamp period_start;
    std::int64_t subtotal, tax, total;
    InvoiceStatus invoice_status;
    bool due_now;
  };
  using subscriptions::Status;
  const Case cases[] = {
      {"an upgrade: credit and charge", {{-1500, at}, {3000, at}}, 0, Status::kActive, at, 1500, 0, 1500,
       InvoiceStatus::kOpen, true},
      {"with tax, and an earlier change's item", {{400, earlier}, {-1500, at}, {3000, at}}, 1900, Status::kActive,
       earlier, 1900, 361, 2261, InvoiceStatus::kOpen, true},
      {"an unpaid subscription: open, not charged", {{1000, at}}, 0, Status::kUnpaid, at, 1000, 0, 1000,
       InvoiceStatus::kOpen, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    subscriptions::Subscription sub;
    sub.id = "sub_1";
    sub.customer = "cus_1";
    sub.currency = "eur";
    sub.status = c.status;
    std::vector<InvoiceLine> items;
    for (auto [amount, start] : c.items) items.push_back({"item", amount, 1, {start, end}, true});
    BuiltInvoice built = build_items_invoice(sub, items, c.tax_bp, at);
    const Invoice& inv = built.invoice;
    EXPECT_EQ(inv.currency, "eur");
    EXPECT_EQ(inv.billing_reason, "subscription_update");
    EXPECT_EQ(inv.period.start, c.period_start);
    EXPECT_EQ(inv.period.end, end);
    EXPECT_EQ(inv.lines.size(), c.items.size());
    EXPECT_EQ(inv.discount, 0);
    EXPECT_FALSE(inv.discount_source.has_value());
    EXPECT_EQ(inv.subtotal, c.subtotal);
    EXPECT_EQ(inv.tax, c.tax);
    EXPECT_EQ(inv.total, c.total);
    EXPECT_EQ(built.carried, 0);
    EXPECT_EQ(inv.status, c.invoice_status);
    EXPECT_EQ(inv.next_attempt_at, c.due_now ? std::optional<Timestamp>(at) : std::nullopt);
    EXPECT_EQ(inv.created, at);
  }
}

// docs/api-conventions.md: periods are {start, end}, a discount source is {type, id} or
// null, the next try is next_attempt_at, and the stored form reads back to the same JSON.
TEST(InvoiceJson, ServesPeriodsAsObjectsAndTheDiscountSourceAsTypeAndId) {
  const Period april{parse_rfc3339("2026-04-01T00:00:00Z").value(), parse_rfc3339("2026-05-01T00:00:00Z").value()};
  Invoice inv;
  inv.id = "in_1";
  inv.subscription = "sub_1";
  inv.customer = "cus_1";
  inv.status = InvoiceStatus::kOpen;
  inv.billing_reason = "subscription_cycle";
  inv.period = april;
  inv.currency = "usd";
  inv.lines = {{"Box", 2000, 1, april, false}};
  inv.discount_source = subscriptions::DiscountSource{"promotion_code", "promo_1"};
  inv.next_attempt_at = april.start;
  Json j = to_json(inv);
  const Json period = {{"start", "2026-04-01T00:00:00Z"}, {"end", "2026-05-01T00:00:00Z"}};
  EXPECT_EQ(j.at("period"), period);
  EXPECT_EQ(j.at("lines")[0].at("period"), period);
  EXPECT_EQ(j.at("discount_source"), (Json{{"type", "promotion_code"}, {"id", "promo_1"}}));
  EXPECT_EQ(j.at("next_attempt_at"), "2026-04-01T00:00:00Z");
  for (const char* gone : {"period_start", "period_end", "next_payment_attempt"}) EXPECT_FALSE(j.contains(gone)) << gone;
  EXPECT_FALSE(j.at("lines")[0].contains("period_start"));
  EXPECT_EQ(to_json(invoice_from_doc(j)), j);
  inv.discount_source.reset();
  EXPECT_TRUE(to_json(inv).at("discount_source").is_null());
  EXPECT_EQ(to_json(invoice_from_doc(to_json(inv))), to_json(inv));
}

TEST(PaymentJson, PaymentsRefundsAndCreditNotesCarryTheEnvelopeAndAGatewayReference) {
  const Timestamp t0 = parse_rfc3339("2026-04-01T00:00:00Z").value();
  Invoice inv;
  inv.id = "in_1";
  inv.customer = "cus_1";
  inv.currency = "usd";
  Payment pay;
  pay.id = "pay_1";
  pay.invoice = inv.id;
  pay.customer = inv.customer;
  pay.amount = 2000;
  pay.currency = "usd";
  pay.gateway = "stripe";
  pay.gateway_reference = "pi_1";
  pay.created = pay.updated = t0;
  Json p = to_json(pay);
  EXPECT_EQ(p.at("gateway_reference"), "pi_1");
  EXPECT_EQ(p.at("version"), 1);
  EXPECT_EQ(p.at("metadata"), Json::object());
  EXPECT_FALSE(p.contains("charge_id"));
  EXPECT_EQ(to_json(payment_from_doc(p)), p);

  Refund r = pending_refund("re_1", inv, pay, 500, "duplicate", t0);
  EXPECT_EQ(r.gateway, "stripe");  // the charge's gateway gives the money back
  r.gateway_reference = "re_gw_1";
  r.metadata = {{"ticket", "T-9"}};
  Json rj = to_json(r);
  EXPECT_EQ(rj.at("gateway"), "stripe");
  EXPECT_EQ(rj.at("gateway_reference"), "re_gw_1");
  EXPECT_EQ(rj.at("metadata"), (Json{{"ticket", "T-9"}}));
  EXPECT_EQ(rj.at("version"), 1);
  EXPECT_FALSE(rj.contains("gateway_refund_id"));
  EXPECT_EQ(to_json(refund_from_doc(rj)), rj);

  CreditNote n{"cn_1", "CN-000001", inv.id, inv.customer, "sub_1", 500, "usd", "other", "credit", "", "", t0, t0};
  Json nj = to_json(n);
  for (const char* key : {"metadata", "created", "updated", "version"}) EXPECT_TRUE(nj.contains(key)) << key;
  EXPECT_EQ(nj.at("updated"), nj.at("created"));
  EXPECT_EQ(to_json(credit_note_from_doc(nj)), nj);
}

TEST(DunningSettings, RefusesUnsortedDuplicateOrOutOfRangeSchedules) {
  EXPECT_TRUE(validate(DunningSettings{{1, 3, 5, 7}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{3, 1}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{2, 2}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{0}}).ok());
  EXPECT_FALSE(validate(DunningSettings{{61}}).ok());
}

TEST(FailureRateAlert, FiresOnAJumpNotOnAConstantlyHighRate) {
  EXPECT_TRUE(failure_rate_is_alarming(0.5, 0.05));
  EXPECT_FALSE(failure_rate_is_alarming(0.15, 0.02));  // under 20 %
  EXPECT_FALSE(failure_rate_is_alarming(0.3, 0.25));   // usual for this merchant
  EXPECT_TRUE(failure_rate_is_alarming(0.3, 0.0));
}

TEST(OneOffInvoice, BuildsWhatTheLinesOweOrRefusesEverythingWrongAtOnce) {
  const Timestamp at = 1'800'000'000;
  auto spec = [](CollectionMethod method, std::vector<std::int64_t> amounts, std::optional<Timestamp> due) {
    OneOffSpec s{"cus_1", "usd", {}, method, due, Json::object()};
    for (auto a : amounts) s.lines.push_back({"line", a, 1, {}, false});
    return s;
  };
  using CM = CollectionMethod;
  struct Case {
    const char* name;
    OneOffSpec spec;
    std::int64_t tax_bp;
    std::int64_t total;               // -1: refused
    std::vector<std::string> fields;  // the fields a refusal names
  };
  const Case cases[] = {
      {"charged", spec(CM::kChargeAutomatically, {1000, 500}, std::nullopt), 0, 1500, {}},
      {"a discount line", spec(CM::kChargeAutomatically, {1000, -300}, std::nullopt), 0, 700, {}},
      {"taxed", spec(CM::kChargeAutomatically, {1000}, std::nullopt), 2000, 1200, {}},
      {"sent with a date", spec(CM::kSendInvoice, {1000}, at + 86400), 0, 1000, {}},
      {"sent without one", spec(CM::kSendInvoice, {1000}, std::nullopt), 0, 1000, {}},
      {"no lines", spec(CM::kChargeAutomatically, {}, std::nullopt), 0, -1, {"lines"}},
      {"owes nothing", spec(CM::kChargeAutomatically, {1000, -1000}, std::nullopt), 0, -1, {"lines"}},
      {"a zero line", spec(CM::kChargeAutomatically, {1000, 0}, std::nullopt), 0, -1, {"lines[1]"}},
      {"a line too large", spec(CM::kChargeAutomatically, {kMaxOneOffLineAmount + 1}, std::nullopt), 0, -1,
       {"lines[0]"}},
      {"a due date to charge", spec(CM::kChargeAutomatically, {1000}, at + 86400), 0, -1, {"due_date"}},
      {"due already", spec(CM::kSendInvoice, {1000}, at), 0, -1, {"due_date"}},
  };
  for (const auto& c : cases) {
    auto built = build_one_off_invoice(c.spec, c.tax_bp, at);
    if (c.total < 0) {
      ASSERT_FALSE(built.ok()) << c.name;
      std::vector<std::string> named;
      for (const auto& e : built.error().fields) named.push_back(e.field);
      EXPECT_EQ(named, c.fields) << c.name;
      continue;
    }
    ASSERT_TRUE(built.ok()) << c.name << ": " << built.error().message;
    EXPECT_EQ(built->total, c.total) << c.name;
    EXPECT_EQ(built->status, InvoiceStatus::kOpen) << c.name;
    EXPECT_EQ(built->billing_reason, "manual") << c.name;
    EXPECT_TRUE(built->subscription.empty()) << c.name;
    EXPECT_EQ(built->period.start, at) << c.name;
    EXPECT_EQ(built->period.end, at) << c.name;
    if (c.spec.collection_method == CM::kSendInvoice) {
      EXPECT_FALSE(built->next_attempt_at) << c.name;
      EXPECT_EQ(built->due_date, c.spec.due_date.value_or(at + 30 * 86400)) << c.name;
    } else {
      EXPECT_EQ(built->next_attempt_at, at) << c.name;
      EXPECT_FALSE(built->due_date) << c.name;
    }
    // The stored document reads back the same.
    EXPECT_EQ(to_json(invoice_from_doc(to_json(*built))), to_json(*built)) << c.name;
  }
}

TEST(AttemptKey, IsStablePerInvoiceAndAttempt) {
  EXPECT_EQ(attempt_key("in_1", 2), "in_1:attempt:2");
  EXPECT_NE(attempt_key("in_1", 1), attempt_key("in_1", 2));
}

}  // namespace
}  // namespace recur::billing
