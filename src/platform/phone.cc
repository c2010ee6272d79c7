// The E.164 rule.
#include "platform/phone.h"

#include <algorithm>

namespace recur {

bool is_e164(std::string_view phone) {
  if (phone.size() < 9 || phone.size() > 16 || phone[0] != '+' || phone[1] == '0') return false;
  return std::all_of(phone.begin() + 1, phone.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace recur
