// Stripe's webhook signature scheme (`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`), used by
// the Stripe adapter and by the sandbox, which signs its own events the same way.
#pragma once

#include <string>
#include <string_view>

#include "platform/result.h"
#include "platform/time.h"

namespace recur::gateways {

inline constexpr std::int64_t kSignatureToleranceSeconds = 300;

// The header value for `body` signed at `t`.
std::string sign_timestamped(std::string_view secret, Timestamp t, std::string_view body);

// Accepts when one v1 signature matches and |now - t| <= tolerance; otherwise an
// ErrorKind::kUnauthorized error saying which check failed.
Status verify_timestamped(std::string_view secret, std::string_view header, std::string_view body, Timestamp now,
                          std::int64_t tolerance = kSignatureToleranceSeconds);

}  // namespace recur::gateways
