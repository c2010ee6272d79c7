// Prefixed, time-sortable ids ("sub_01jd3k..."): 48 bits of milliseconds then 80 random
// bits in lower-case Crockford base32 (ULID layout), monotonic within a millisecond.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "platform/clock.h"

namespace recur {

class IdGenerator {
 public:
  using RandomSource = std::function<void(void* buffer, std::size_t size)>;

  // Defaults to libsodium's CSPRNG; tests may pass a deterministic source.
  explicit IdGenerator(const Clock& clock, RandomSource random = {});

  // Requires: prefix is a short lower-case word such as "sub".
  std::string next(std::string_view prefix);

 private:
  const Clock& clock_;
  RandomSource random_;
  std::mutex mu_;
  std::uint64_t last_ms_ = 0;
  std::array<std::uint8_t, 10> last_random_{};
};

// The message of a lookup that found nothing: "no customer with id 'cus_1'". When the id is
// another kind's (its prefix says which), it says so and what was wanted, so a caller who
// sent a plan's id as the customer sees the mistake: "no customer with id 'plan_1': that
// is a plan's id; a customer's id starts with cus_".
std::string no_object_message(std::string_view noun, std::string_view prefix, std::string_view id);

// Random bytes as lower-case hex / URL-safe text, for secrets such as API keys.
std::string random_token(std::size_t bytes);

}  // namespace recur
