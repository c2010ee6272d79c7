// Id generation; see ids.h for the layout.
#include "platform/ids.h"

#include <sodium.h>

#include "platform/base64.h"

#include <cstring>
#include <stdexcept>

namespace recur {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";  // Crockford, lower-case

void sodium_random(void* buffer, std::size_t size) { randombytes_buf(buffer, size); }

// Adds one to a big-endian byte string; false on overflow.
bool increment(std::array<std::uint8_t, 10>& bytes) {
  for (int i = 9; i >= 0; --i)
    if (++bytes[i] != 0) return true;
  return false;
}

}  // namespace

IdGenerator::IdGenerator(const Clock& clock, RandomSource random)
    : clock_(clock), random_(random ? std::move(random) : RandomSource(sodium_random)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string no_object_message(std::string_view noun, std::string_view prefix, std::string_view id) {
  // Every prefix the API's ids carry, and what each names.
  static constexpr std::pair<std::string_view, std::string_view> kKinds[] = {
      {"cus", "customer"},     {"plan", "plan"},           {"prod", "product"},          {"sub", "subscription"},
      {"in", "invoice"},       {"pay", "payment"},         {"re", "refund"},             {"cn", "credit note"},
      {"pmt", "payment method"}, {"coupon", "coupon"},         {"promo", "promotion code"},
      {"shp", "shipment"},     {"po", "purchase order"},   {"sup", "supplier"},          {"evt", "event"},
      {"rof", "retention offer"}, {"ntf", "notification"}, {"brun", "billing run"},      {"key", "API key"},
      {"mv", "stock movement"}, {"we", "webhook endpoint"}, {"tier", "tier"}};
  std::string message = "no " + std::string(noun) + " with id '" + std::string(id) + "'";
  auto underscore = id.find('_');
  if (underscore == std::string_view::npos) return message;
  std::string_view given = id.substr(0, underscore);
  if (given == prefix) return message;
  for (const auto& [kind_prefix, kind] : kKinds) {
    if (kind_prefix != given) continue;
    if (kind == noun) return message;  // another prefix of the same kind
    auto article = [](std::string_view word) { return std::string_view("aeiouAEIOU").find(word[0]) != std::string_view::npos ? "an " : "a "; };
    return message + ": that is " + article(kind) + std::string(kind) + "'s id; " + article(noun) + std::string(noun) +
           "'s id starts with " + std::string(prefix) + "_";
  }
  return message;
}

std::string IdGenerator::next(std::string_view prefix) {
  std::uint64_t ms = static_cast<std::uint64_t>(clock_.now()) * 1000;
  std::array<std::uint8_t, 10> rnd{};
  {
    std::lock_guard lock(mu_);
    // The clock has whole seconds; within one second ids stay ordered by counting up.
    if (ms <= last_ms_) {
      ms = last_ms_;
      rnd = last_random_;
      if (!increment(rnd)) ++ms, random_(rnd.data(), rnd.size());
    } else {
      random_(rnd.data(), rnd.size());
      rnd[0] &= 0x7f;  // leave head-room so increments rarely overflow
    }
    last_ms_ = ms;
    last_random_ = rnd;
  }
  std::string out(prefix);
  out.push_back('_');
  for (int shift = 45; shift >= 0; shift -= 5) out.push_back(kAlphabet[(ms >> shift) & 31]);
  // 80 random bits -> 16 characters.
  std::uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 5; ++i) hi = (hi << 8) | rnd[i];
  for (int i = 5; i < 10; ++i) lo = (lo << 8) | rnd[i];
  for (int shift = 35; shift >= 0; shift -= 5) out.push_back(kAlphabet[(hi >> shift) & 31]);
  for (int shift = 35; shift >= 0; shift -= 5) out.push_back(kAlphabet[(lo >> shift) & 31]);
  return out;
}

std::string random_token(std::size_t bytes) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return base64url(raw);
}

}  // namespace recur
