// Symmetric encryption for data at rest (libsodium): XChaCha20-Poly1305 AEAD, key wrapping,
// and a keyed BLAKE2b hash for blind indexes. Keys are 32 random bytes.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace recur::crypto {

inline constexpr std::size_t kKeyBytes = 32;

// A secret key, wiped from memory when it goes.
class Key {
 public:
  Key();  // all zero: not a usable key (is_set() false)
  ~Key();
  Key(const Key& other);
  Key& operator=(const Key& other);
  static Key random();
  // Requires: bytes.size() == kKeyBytes.
  static std::optional<Key> from_bytes(std::string_view bytes);
  std::string_view bytes() const;
  bool is_set() const { return set_; }
  // A short public name for the key (hex of a hash of it, 16 characters): which master key
  // wrapped a data key, without revealing anything about the key.
  std::string fingerprint() const;

 private:
  std::array<unsigned char, kKeyBytes> bytes_{};
  bool set_ = false;
};

// nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes). `associated` is authenticated, not stored:
// opening with other associated data fails.
std::string seal(const Key& key, std::string_view plaintext, std::string_view associated);
// nullopt when the key, the associated data or any byte is wrong.
std::optional<std::string> open(const Key& key, std::string_view sealed, std::string_view associated);

// A data key sealed under a key-encryption key; the associated data names what it is for.
std::string wrap(const Key& kek, const Key& key, std::string_view purpose);
std::optional<Key> unwrap(const Key& kek, std::string_view wrapped, std::string_view purpose);

// Keyed BLAKE2b-256 as lower-case hex: equal inputs give equal outputs under one key, and
// nothing about the input can be learned without the key (a blind index).
std::string keyed_hash_hex(const Key& key, std::string_view data);

}  // namespace recur::crypto
