// The pure rules of customer sessions: when one is live, and its portal forms' CSRF token.
#include "customers/sessions.h"

#include <gtest/gtest.h>

namespace recur::customers {
namespace {

TEST(SessionState, EndedWinsOverExpiredAndASessionExpiresAtItsEnd) {
  struct Case {
    Timestamp expires_at;
    std::optional<Timestamp> ended_at;
    Timestamp now;
    SessionState want;
  } cases[] = {
      {100, std::nullopt, 99, SessionState::kActive},
      {100, std::nullopt, 100, SessionState::kExpired},
      {100, std::nullopt, 500, SessionState::kExpired},
      {100, 50, 60, SessionState::kEnded},
      {100, 50, 200, SessionState::kEnded},
      {100, 80, 70, SessionState::kActive},  // an end recorded for later (a clock behind) is not yet one
  };
  for (const auto& c : cases)
    EXPECT_EQ(session_state(c.expires_at, c.ended_at, c.now), c.want) << c.expires_at << " " << c.now;
}

TEST(CsrfToken, IsFixedPerSessionAndDiffersBetweenSessions) {
  EXPECT_EQ(csrf_token("cs_a"), csrf_token("cs_a"));
  EXPECT_NE(csrf_token("cs_a"), csrf_token("cs_b"));
  EXPECT_EQ(csrf_token("cs_a").size(), 64u);
  EXPECT_EQ(csrf_token("cs_a").find("cs_a"), std::string::npos);  // it does not carry the cookie's secret
}

}  // namespace
}  // namespace recur::customers
