// Result<T>: the one error path of Recur (a small std::expected), with stable codes.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace recur {

// What kind of failure; the HTTP layer maps each kind to one status, once.
enum class ErrorKind {
  kInvalid,       // 422: input well-formed but not acceptable
  kBadRequest,    // 400: malformed request (JSON syntax, headers)
  kNotFound,      // 404
  kConflict,      // 409: state or version conflict
  kUnauthorized,  // 401
  kForbidden,     // 403
  kNotAcceptable, // 406: no representation the Accept header admits
  kPaymentRequired, // 402: the payment the request needed was refused (a declined card)
  kUnavailable,   // 503: dependency down, retry later
  kInternal,      // 500
};

struct FieldError {
  std::string field;    // JSON pointer-ish path: "shipping_address.country"
  std::string code;     // "required", "invalid_type", "out_of_range", ...
  std::string message;
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string code;     // stable machine code: "validation_failed", "subscription_not_found"
  std::string message;  // human text, safe to show to API callers
  std::vector<FieldError> fields;
  std::string extra_json;  // optional JSON object merged into the problem document

  static Error invalid(std::string code, std::string msg, std::vector<FieldError> f = {}) {
    return {ErrorKind::kInvalid, std::move(code), std::move(msg), std::move(f), {}};
  }
  static Error bad_request(std::string code, std::string msg) {
    return {ErrorKind::kBadRequest, std::move(code), std::move(msg), {}, {}};
  }
  static Error not_found(std::string code, std::string msg) {
    return {ErrorKind::kNotFound, std::move(code), std::move(msg), {}, {}};
  }
  static Error conflict(std::string code, std::string msg) {
    return {ErrorKind::kConflict, std::move(code), std::move(msg), {}, {}};
  }
  static Error unauthorized(std::string code, std::string msg) {
    return {ErrorKind::kUnauthorized, std::move(code), std::move(msg), {}, {}};
  }
  static Error forbidden(std::string code, std::string msg) {
    return {ErrorKind::kForbidden, std::move(code), std::move(msg), {}, {}};
  }
  static Error not_acceptable(std::string code, std::string msg) {
    return {ErrorKind::kNotAcceptable, std::move(code), std::move(msg), {}, {}};
  }
  static Error payment_required(std::string code, std::string msg) {
    return {ErrorKind::kPaymentRequired, std::move(code), std::move(msg), {}, {}};
  }
  static Error unavailable(std::string code, std::string msg) {
    return {ErrorKind::kUnavailable, std::move(code), std::move(msg), {}, {}};
  }
  static Error internal(std::string msg) { return internal("internal_error", std::move(msg)); }
  static Error internal(std::string code, std::string msg) {
    return {ErrorKind::kInternal, std::move(code), std::move(msg), {}, {}};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                  // NOLINT
  Result(Error error) : error_(std::move(error)) {}              // NOLINT
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace recur

// Propagates an error from an expression returning Result<...>.
// The temporary's name is unique per line, so a RECUR_TRY inside another's expression (a
// lambda) does not shadow it.
#define RECUR_TRY(expr) RECUR_TRY_NAMED(RECUR_CONCAT(recur_try_r_, __LINE__), expr)
#define RECUR_TRY_NAMED(name, expr)                       \
  do {                                                    \
    auto name = (expr);                                   \
    if (!name.ok()) return std::move(name).error();       \
  } while (0)

#define RECUR_CONCAT_INNER(a, b) a##b
#define RECUR_CONCAT(a, b) RECUR_CONCAT_INNER(a, b)
#define RECUR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).error();     \
  lhs = std::move(tmp).value()
// RECUR_ASSIGN(auto x, expr): binds the value or returns the error.
#define RECUR_ASSIGN(lhs, expr) RECUR_ASSIGN_OR_RETURN_IMPL(RECUR_CONCAT(recur_r_, __LINE__), lhs, expr)
