#include "platform/crypto.h"

#include <sodium.h>

#include <stdexcept>

namespace recur::crypto {
namespace {

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
    return true;
  }();
  (void)ready;
}

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

Key::Key() = default;
Key::~Key() { sodium_memzero(bytes_.data(), bytes_.size()); }
Key::Key(const Key& other) = default;
Key& Key::operator=(const Key& other) = default;

Key Key::random() {
  ensure_sodium();
  Key k;
  randombytes_buf(k.bytes_.data(), k.bytes_.size());
  k.set_ = true;
  return k;
}

std::optional<Key> Key::from_bytes(std::string_view bytes) {
  if (bytes.size() != kKeyBytes) return std::nullopt;
  Key k;
  std::copy(bytes.begin(), bytes.end(), k.bytes_.begin());
  k.set_ = true;
  return k;
}

std::string_view Key::bytes() const { return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()}; }

std::string Key::fingerprint() const {
  ensure_sodium();
  unsigned char out[8];
  static constexpr std::string_view kLabel = "recur key fingerprint";
  crypto_generichash(out, sizeof out, bytes_of(kLabel), kLabel.size(), bytes_.data(), bytes_.size());
  return hex(out, sizeof out);
}

std::string seal(const Key& key, std::string_view plaintext, std::string_view associated) {
  ensure_sodium();
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &written,
                                             bytes_of(plaintext), plaintext.size(), bytes_of(associated),
                                             associated.size(), nullptr, nonce, bytes_of(key.bytes()));
  out.resize(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + written);
  return out;
}

std::optional<std::string> open(const Key& key, std::string_view sealed, std::string_view associated) {
  ensure_sodium();
  constexpr auto kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr auto kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (!key.is_set() || sealed.size() < kNonce + kTag) return std::nullopt;
  std::string out(sealed.size() - kNonce - kTag, '\0');
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
                                                 bytes_of(sealed) + kNonce, sealed.size() - kNonce,
                                                 bytes_of(associated), associated.size(), bytes_of(sealed),
                                                 bytes_of(key.bytes())) != 0)
    return std::nullopt;
  out.resize(written);
  return out;
}

std::string wrap(const Key& kek, const Key& key, std::string_view purpose) { return seal(kek, key.bytes(), purpose); }

std::optional<Key> unwrap(const Key& kek, std::string_view wrapped, std::string_view purpose) {
  auto bytes = open(kek, wrapped, purpose);
  if (!bytes) return std::nullopt;
  auto key = Key::from_bytes(*bytes);
  sodium_memzero(bytes->data(), bytes->size());
  return key;
}

std::string keyed_hash_hex(const Key& key, std::string_view data) {
  ensure_sodium();
  unsigned char out[32];
  crypto_generichash(out, sizeof out, bytes_of(data), data.size(), bytes_of(key.bytes()), key.bytes().size());
  return hex(out, sizeof out);
}

}  // namespace recur::crypto
