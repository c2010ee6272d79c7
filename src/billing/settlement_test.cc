// The rules that decide whether a gateway's webhook settles a pending payment or refund.
#include "billing/settlement.h"

#include <gtest/gtest.h>

namespace recur::billing {
namespace {

Payment pending_payment() {
  Payment p;
  p.id = "pay_1";
  p.invoice = "in_1";
  p.status = PaymentStatus::kPending;
  p.amount = 2999;
  p.currency = "usd";
  p.gateway = "stripe";
  p.created = 1'700'000'000;
  return p;
}

ChargeNotice notice(Outcome outcome, std::string charge_id = "pi_1") {
  ChargeNotice n;
  n.result = {outcome, std::move(charge_id), outcome == Outcome::kFailed ? "card_declined" : "", ""};
  n.amount = Money{2999, "usd"};
  n.created = 1'700'000'002;
  return n;
}

TEST(JudgeCharge, APendingPaymentIsSettledByAFinalAnswerOfItsOwnGateway) {
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", notice(Outcome::kSucceeded)), Verdict::kSettle);
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", notice(Outcome::kFailed)), Verdict::kSettle);
}

TEST(JudgeCharge, AChargeWaitingForAuthenticationIsSettledByAWebhookOnlyWhenItSucceeded) {
  Payment waiting = pending_payment();
  waiting.status = PaymentStatus::kRequiresAction;
  waiting.gateway_reference = "pi_1";
  EXPECT_EQ(judge_charge(waiting, "stripe", notice(Outcome::kSucceeded)), Verdict::kSettle);
  // A failed challenge may be tried again on the shop's page: Recur records the failure
  // itself, after canceling the charge; so does an answer that it still waits.
  EXPECT_EQ(judge_charge(waiting, "stripe", notice(Outcome::kFailed)), Verdict::kNotFinal);
  EXPECT_EQ(judge_charge(waiting, "stripe", notice(Outcome::kRequiresAction)), Verdict::kNotFinal);
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", notice(Outcome::kRequiresAction)), Verdict::kNotFinal);
}

TEST(JudgeCharge, SettledPaymentsAreNeverChangedAgain) {
  Payment paid = pending_payment();
  paid.status = PaymentStatus::kSucceeded;
  paid.gateway_reference = "pi_1";
  EXPECT_EQ(judge_charge(paid, "stripe", notice(Outcome::kFailed)), Verdict::kAlreadySettled);
  Payment failed = pending_payment();
  failed.status = PaymentStatus::kFailed;
  EXPECT_EQ(judge_charge(failed, "stripe", notice(Outcome::kSucceeded)), Verdict::kAlreadySettled);
}

TEST(JudgeCharge, ProcessingOtherGatewayOtherAmountOrOtherChargeSettleNothing) {
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", notice(Outcome::kUnknown)), Verdict::kNotFinal);
  EXPECT_EQ(judge_charge(pending_payment(), "square", notice(Outcome::kSucceeded)), Verdict::kWrongGateway);
  ChargeNotice more = notice(Outcome::kSucceeded);
  more.amount = Money{3000, "usd"};
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", more), Verdict::kMismatch);
  ChargeNotice euros = notice(Outcome::kSucceeded);
  euros.amount = Money{2999, "eur"};
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", euros), Verdict::kMismatch);
  Payment known = pending_payment();
  known.gateway_reference = "pi_other";
  EXPECT_EQ(judge_charge(known, "stripe", notice(Outcome::kSucceeded)), Verdict::kMismatch);
  // Upper-case currencies (Square's) are the same currency.
  ChargeNotice upper = notice(Outcome::kSucceeded);
  upper.amount = Money{2999, "USD"};
  EXPECT_EQ(judge_charge(pending_payment(), "stripe", upper), Verdict::kSettle);
}

TEST(MayBeAttempt, OnlyAChargeMadeNoEarlierThanTheAttemptMatchesByInvoiceAlone) {
  Payment p = pending_payment();
  EXPECT_TRUE(may_be_attempt(p, notice(Outcome::kSucceeded)));
  ChargeNotice earlier = notice(Outcome::kFailed);
  earlier.created = p.created - kSecondsPerDay;  // yesterday's attempt of the same invoice
  EXPECT_FALSE(may_be_attempt(p, earlier));
  ChargeNotice skewed = notice(Outcome::kSucceeded);
  skewed.created = p.created - kGatewayClockSkewSeconds;
  EXPECT_TRUE(may_be_attempt(p, skewed));
  ChargeNotice undated = notice(Outcome::kSucceeded);
  undated.created.reset();
  EXPECT_FALSE(may_be_attempt(p, undated));
}

TEST(JudgeRefund, APendingRefundSettlesOnceForItsAmount) {
  Refund r;
  r.id = "re_1";
  r.status = PaymentStatus::kPending;
  r.amount = 500;
  r.currency = "usd";
  RefundNotice n{{Outcome::kSucceeded, "re_gw", "", ""}, "pi_1", "refund:re_1", Money{500, "usd"}};
  EXPECT_EQ(judge_refund(r, n), Verdict::kSettle);
  n.amount = Money{400, "usd"};
  EXPECT_EQ(judge_refund(r, n), Verdict::kMismatch);
  n.amount.reset();
  n.result.outcome = Outcome::kUnknown;
  EXPECT_EQ(judge_refund(r, n), Verdict::kNotFinal);
  r.status = PaymentStatus::kSucceeded;
  n.result.outcome = Outcome::kFailed;
  EXPECT_EQ(judge_refund(r, n), Verdict::kAlreadySettled);
}

}  // namespace
}  // namespace recur::billing
