// Disputes' pure rules: settle once, out of order, the invoice's amounts.
#include "billing/disputes.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

Dispute with_status(DisputeStatus s) {
  Dispute d;
  d.status = s;
  return d;
}

TEST(DisputeChange, EachNoticeActsOnceWhateverTheOrder) {
  using C = DisputeChange;
  using S = DisputeStatus;
  struct Case {
    const char* name;
    std::optional<Dispute> existing;
    std::optional<S> outcome;
    C expected;
  };
  const Case cases[] = {
      {"opened, new", std::nullopt, std::nullopt, C::kOpen},
      {"opened again (replay or an update still open)", with_status(S::kOpen), std::nullopt, C::kNothing},
      {"won while open", with_status(S::kOpen), S::kWon, C::kClose},
      {"lost while open", with_status(S::kOpen), S::kLost, C::kClose},
      {"closed before it was opened: created closed", std::nullopt, S::kLost, C::kOpenClosed},
      {"won before it was opened", std::nullopt, S::kWon, C::kOpenClosed},
      {"late opening of a closed dispute", with_status(S::kLost), std::nullopt, C::kNothing},
      {"closing replayed", with_status(S::kWon), S::kWon, C::kNothing},
      {"won after lost (decided once)", with_status(S::kLost), S::kWon, C::kNothing},
      {"lost after won (decided once)", with_status(S::kWon), S::kLost, C::kNothing},
  };
  for (const auto& c : cases) EXPECT_EQ(dispute_change(c.existing, c.outcome), c.expected) << c.name;
}

TEST(DisputedAmount, TheGatewaysAmountInTheInvoicesCurrencyAtMostThePayment) {
  Payment p;
  p.amount = 2999;
  p.currency = "usd";
  EXPECT_EQ(disputed_amount(p, std::nullopt), 2999);
  EXPECT_EQ(disputed_amount(p, Money{1000, "usd"}), 1000);
  EXPECT_EQ(disputed_amount(p, Money{5000, "usd"}), 2999);
  EXPECT_EQ(disputed_amount(p, Money{1000, "eur"}), 2999);  // another currency: the payment's
  EXPECT_EQ(disputed_amount(p, Money{0, "usd"}), 2999);
}

TEST(DisputeOnInvoice, HeldWhileOpenGoneWhenLostBackWhenWon) {
  Invoice inv;
  inv.amount_paid = 2999;
  Dispute d;
  d.amount = 2999;
  open_on_invoice(inv, d);
  EXPECT_EQ(inv.amount_disputed, 2999);
  EXPECT_EQ(creditable(inv), 0);  // nothing to refund while the gateway holds it
  Invoice won = inv;
  close_on_invoice(won, d, DisputeStatus::kWon, true);
  EXPECT_EQ(won.amount_disputed, 0);
  EXPECT_EQ(won.amount_disputed_lost, 0);
  EXPECT_EQ(creditable(won), 2999);
  Invoice lost = inv;
  close_on_invoice(lost, d, DisputeStatus::kLost, true);
  EXPECT_EQ(lost.amount_disputed, 0);
  EXPECT_EQ(lost.amount_disputed_lost, 2999);
  EXPECT_EQ(lost.amount_paid, 2999);  // it was paid; the chargeback is a record of its own
  EXPECT_EQ(creditable(lost), 0);
  // Created closed (the closing notice came first): never counted as under dispute.
  Invoice first = Invoice{};
  first.amount_paid = 2999;
  close_on_invoice(first, d, DisputeStatus::kLost, false);
  EXPECT_EQ(first.amount_disputed, 0);
  EXPECT_EQ(first.amount_disputed_lost, 2999);
}

TEST(DisputeSettingsJson, RoundTripsAndDefaultsToPause) {
  DisputeSettings s;
  EXPECT_EQ(s.on_open, DisputeOnOpen::kPause);
  s.on_open = DisputeOnOpen::kCancel;
  s.version = 3;
  s.updated = 1700000000;
  DisputeSettings back = dispute_settings_from_doc(to_json(s));
  EXPECT_EQ(back.on_open, DisputeOnOpen::kCancel);
  EXPECT_EQ(back.version, 3);
  for (auto a : {DisputeOnOpen::kNone, DisputeOnOpen::kPause, DisputeOnOpen::kCancel})
    EXPECT_EQ(dispute_on_open_from(to_string(a)), a);
  EXPECT_FALSE(dispute_on_open_from("refund"));
}

TEST(DisputeJson, RoundTrips) {
  Dispute d;
  d.id = "dp_1";
  d.gateway = "stripe";
  d.gateway_reference = "du_1";
  d.charge = "pi_1";
  d.payment = "pay_1";
  d.invoice = "in_1";
  d.customer = "cus_1";
  d.amount = 2999;
  d.currency = "usd";
  d.status = DisputeStatus::kLost;
  d.subscription_action = "paused";
  d.paused_at = 1700000000;
  d.closed_at = 1700000500;
  d.created = d.updated = 1700000000;
  Json j = to_json(d);
  EXPECT_EQ(j.at("subscription"), nullptr);
  EXPECT_EQ(j.at("status"), "lost");
  Dispute back = dispute_from_doc(j);
  EXPECT_EQ(to_json(back), j);
}

}  // namespace
}  // namespace recur::billing
