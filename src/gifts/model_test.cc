// The gift's rules: claim codes, the checks of a new gift, the scheduler's step, claiming.
#include "gifts/model.h"

#include <gtest/gtest.h>

namespace recur::gifts {
namespace {

Timestamp at(const char* text) { return parse_rfc3339(text).value(); }

Gift gift(GiftStatus status, const char* send_at) {
  Gift g;
  g.id = "gift_1";
  g.status = status;
  g.send_at = at(send_at);
  g.expires_at = g.send_at + kClaimWindow;
  return g;
}

TEST(ClaimCode, SixteenCharactersInFourGroupsWithoutLookAlikes) {
  std::string random(16, '\0');
  for (int i = 0; i < 16; ++i) random[i] = static_cast<char>(i * 17);
  const std::string code = claim_code_from(random);
  ASSERT_EQ(code.size(), 19u);
  EXPECT_EQ(code[4], '-');
  EXPECT_EQ(code[9], '-');
  EXPECT_EQ(code[14], '-');
  for (char c : code) EXPECT_EQ(std::string("0O1IL").find(c), std::string::npos) << code;
  EXPECT_EQ(claim_code_from(std::string(16, '\0')), "AAAA-AAAA-AAAA-AAAA");
  EXPECT_NE(claim_code_from(random), claim_code_from(std::string(16, '\x01')));
}

TEST(ClaimCode, IsFoundWhateverItsCaseDashesAndSpaces) {
  struct Case {
    const char* typed;
    const char* normalized;
  };
  const Case cases[] = {
      {"ABCD-EFGH-JKMN-PQRS", "ABCDEFGHJKMNPQRS"},
      {"abcd-efgh-jkmn-pqrs", "ABCDEFGHJKMNPQRS"},
      {"ABCD EFGH JKMN PQRS", "ABCDEFGHJKMNPQRS"},
      {"ABCDEFGHJKMNPQRS", "ABCDEFGHJKMNPQRS"},
      {"ABCD-EFGH-JKMN-PQR", ""},    // too short
      {"ABCD-EFGH-JKMN-PQRST", ""},  // too long
      {"ABCD-EFGH-JKMN-PQR0", ""},   // not of the alphabet
      {"ABCD-EFGH-JKMN-PQR%", ""},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(normalize_claim_code(c.typed), c.normalized) << c.typed;
}

TEST(GiftRules, ANewGiftsDeliveriesQuantityMessageAndSendAt) {
  const Timestamp now = at("2027-01-10T12:00:00Z");
  struct Case {
    std::int64_t deliveries;
    std::int64_t quantity;
    std::size_t message;
    Timestamp send_at;
    const char* field;  // "" for accepted
  };
  const Case cases[] = {
      {1, 1, 0, now, ""},
      {24, 100, 1000, now + 86400, ""},
      {0, 1, 0, now, "deliveries"},
      {25, 1, 0, now, "deliveries"},
      {3, 0, 0, now, "quantity"},
      {3, 101, 0, now, "quantity"},
      {3, 1, 1001, now, "message"},
      {3, 1, 0, now - 300, ""},  // a clock a little behind is no mistake
      {3, 1, 0, now - 301, "send_at"},
  };
  for (const auto& c : cases) {
    Gift g;
    g.deliveries = c.deliveries;
    g.quantity = c.quantity;
    if (c.message) g.message = std::string(c.message, 'x');
    g.send_at = c.send_at;
    auto checked = check_gift(g, now);
    SCOPED_TRACE(c.field);
    if (std::string(c.field).empty()) {
      EXPECT_TRUE(checked.ok());
    } else {
      ASSERT_FALSE(checked.ok());
      EXPECT_EQ(checked.error().code, "validation_failed");
      ASSERT_EQ(checked.error().fields.size(), 1u);
      EXPECT_EQ(checked.error().fields[0].field, c.field);
    }
  }
}

TEST(GiftRules, TheSchedulerSendsAPaidGiftWhenDueAndExpiresWhatCannotBeClaimed) {
  const char* send = "2027-01-10T12:00:00Z";
  const Timestamp due = at(send), before = due - 1, late = due + kClaimWindow;
  struct Case {
    GiftStatus status;
    const char* invoice;
    Timestamp now;
    GiftStep step;
    const char* why;
  };
  const Case cases[] = {
      {GiftStatus::kPending, "paid", due, GiftStep::kSend, "paid and due"},
      {GiftStatus::kPending, "paid", before, GiftStep::kNone, "paid, not due yet"},
      {GiftStatus::kPending, "open", due, GiftStep::kNone, "due, its charge still retried"},
      {GiftStatus::kPending, "void", before, GiftStep::kExpire, "its invoice was voided"},
      {GiftStatus::kPending, "uncollectible", due, GiftStep::kExpire, "its invoice was written off"},
      {GiftStatus::kPending, "open", late, GiftStep::kExpire, "never paid in a year"},
      {GiftStatus::kSent, "paid", late - 1, GiftStep::kNone, "sent, still claimable"},
      {GiftStatus::kSent, "paid", late, GiftStep::kExpire, "sent, unclaimed for a year"},
      {GiftStatus::kSent, "void", due, GiftStep::kNone, "sent: a paid invoice voided later stays sent"},
      {GiftStatus::kClaimed, "paid", late, GiftStep::kNone, "claimed"},
      {GiftStatus::kExpired, "paid", due, GiftStep::kNone, "expired"},
  };
  for (const auto& c : cases) EXPECT_EQ(due_step(gift(c.status, send), c.invoice, c.now), c.step) << c.why;
}

TEST(GiftRules, AGiftIsClaimedOncePaidOnceAndWithinItsWindow) {
  const char* send = "2027-01-10T12:00:00Z";
  const Timestamp due = at(send);
  struct Case {
    GiftStatus status;
    const char* invoice;
    Timestamp now;
    const char* code;  // "" for claimable
  };
  const Case cases[] = {
      {GiftStatus::kSent, "paid", due, ""},
      {GiftStatus::kPending, "paid", due - 86400, ""},  // the code handed over before send_at
      {GiftStatus::kPending, "open", due, "gift_unpaid"},
      {GiftStatus::kClaimed, "paid", due, "gift_claimed"},
      {GiftStatus::kExpired, "paid", due, "gift_expired"},
      {GiftStatus::kSent, "paid", due + kClaimWindow, "gift_expired"},  // before the scheduler marks it
  };
  for (const auto& c : cases) {
    auto checked = check_claimable(gift(c.status, send), c.invoice, c.now);
    SCOPED_TRACE(c.code);
    if (std::string(c.code).empty())
      EXPECT_TRUE(checked.ok());
    else
      EXPECT_EQ(checked.error().code, c.code);
  }
}

TEST(GiftRules, ItsJsonReadsBackAsItWas) {
  Gift g = gift(GiftStatus::kClaimed, "2027-01-10T12:00:00Z");
  g.purchaser = "cus_1";
  g.plan = "plan_1";
  g.deliveries = 3;
  g.quantity = 2;
  g.recipient = {"Ada", "ada@example.com",
                 customers::Address{"1 Main St", std::nullopt, "Springfield", "12345", std::nullopt, "US"}};
  g.message = "Happy birthday";
  g.claim_code = "ABCD-EFGH-JKMN-PQRS";
  g.invoice = "in_1";
  g.amount = 6000;
  g.currency = "usd";
  g.claimed_at = at("2027-01-11T00:00:00Z");
  g.subscription = "sub_1";
  g.recipient_customer = "cus_2";
  g.ending_reminded = true;
  g.created = g.updated = at("2027-01-09T00:00:00Z");
  const Json json = to_json(g, true);
  EXPECT_EQ(json["object"], "gift");
  EXPECT_EQ(json["status"], "claimed");
  EXPECT_EQ(to_json(gift_from_doc(json), true), json);
  EXPECT_TRUE(to_json(g)["claim_code"].is_null());  // reads and events never show it
  // An erased purchaser's sealed recipient reads as null: the gift still reads.
  Json erased = json;
  erased["recipient"] = nullptr;
  erased["message"] = nullptr;
  erased["claim_code"] = nullptr;
  EXPECT_EQ(gift_from_doc(erased).recipient.email, "");
  EXPECT_TRUE(to_json(gift_from_doc(erased), true)["recipient"].is_null());  // null, as the spec says
  EXPECT_TRUE(to_json(gift_from_doc(erased), true)["claim_code"].is_null());
}

}  // namespace
}  // namespace recur::gifts
