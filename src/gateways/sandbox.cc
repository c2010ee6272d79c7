// The sandbox gateway.
#include "gateways/sandbox.h"

#include <charconv>
#include <chrono>
#include <thread>

#include "gateways/exchange.h"
#include "gateways/signature.h"
#include "gateways/stripe.h"
#include "platform/digest.h"

namespace recur::gateways {
namespace {

struct TestCard {
  std::string_view token;
  std::string_view brand;
  std::string_view last4;
  std::string_view decline;  // empty: charges succeed
  bool expiring = false;
  bool authenticate = false;  // each charge waits for the customer's 3-D Secure answer
  std::string_view type = "card";  // or a wallet: "paypal", "venmo" (no brand, last 4 or expiry)
  std::string_view email = "";     // a wallet's account e-mail
};

// Stripe's test payment methods (https://docs.stripe.com/testing).
constexpr TestCard kCards[] = {
    {"pm_card_visa", "visa", "4242", ""},
    {"pm_card_mastercard", "mastercard", "4444", ""},
    {"pm_card_amex", "amex", "8431", ""},
    {"pm_card_chargeDeclined", "visa", "0002", "card_declined"},
    {"pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", "insufficient_funds"},
    {"pm_card_chargeCustomerFail", "visa", "0341", "card_declined"},
    {"pm_card_visa_chargeDeclinedStolenCard", "visa", "9979", "stolen_card"},
    {"pm_card_visa_chargeDeclinedLostCard", "visa", "9987", "lost_card"},
    {"pm_card_chargeDeclinedFraudulent", "visa", "0019", "fraudulent"},
    {"pm_card_chargeDeclinedExpiredCard", "visa", "0069", "expired_card"},
    {"pm_card_chargeDeclinedIncorrectCvc", "visa", "0127", "incorrect_cvc"},
    {"pm_card_chargeDeclinedProcessingError", "visa", "0119", "processing_error"},
    {"pm_card_expiring", "visa", "4242", "", true},
    {"pm_card_authenticationRequired", "visa", "3184", "", false, true},
    // Wallets, charged off-session like cards (Recur's own ids: Stripe has none for them).
    {"pm_paypal", "", "", "", false, false, "paypal", "buyer@example.com"},
    {"pm_paypal_chargeDeclined", "", "", "card_declined", false, false, "paypal", "declined@example.com"},
    {"pm_venmo", "", "", "", false, false, "venmo", "venmo-buyer@example.com"},
};

constexpr std::string_view kRequiresAction = "requires_action";

const TestCard* card_for(std::string_view token) {
  for (const auto& c : kCards)
    if (c.token == token) return &c;
  return nullptr;
}

std::string_view decline_message(std::string_view code) {
  if (code == "insufficient_funds") return "Your card has insufficient funds.";
  if (code == "expired_card") return "Your card has expired.";
  if (code == "incorrect_cvc") return "Your card's security code is incorrect.";
  if (code == "processing_error") return "An error occurred while processing your card. Try again in a little bit.";
  if (code == "authentication_failed") return "The customer did not complete the card's authentication.";
  return "Your card was declined.";
}

ChargeResult unknown(std::string code, std::string message) {
  return {Outcome::kUnknown, "", std::move(code), std::move(message)};
}

ChargeResult charge_from_row(const db::Row& row) {
  ChargeResult r;
  r.charge_id = row.text(0);
  const std::string status = row.text(1);
  if (status == kRequiresAction) {
    r.outcome = Outcome::kRequiresAction;
    return r;  // the shop's page completes it with the charge id (no page of the sandbox's)
  }
  r.outcome = status == "succeeded" ? Outcome::kSucceeded : Outcome::kFailed;
  r.failure_code = row.opt_text(2).value_or("");
  if (!r.failure_code.empty()) r.failure_message = decline_message(r.failure_code);
  if (r.outcome == Outcome::kFailed) r.decline_code = stripe_decline_code(r.failure_code);
  return r;
}

}  // namespace

Result<SandboxFaults> parse_sandbox_faults(std::string_view spec) {
  SandboxFaults f;
  while (!spec.empty()) {
    auto comma = spec.find(',');
    auto part = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      return Error::invalid("invalid_faults", "expected name=value in the sandbox fault spec, got '" +
                                                  std::string(part) + "'");
    auto key = part.substr(0, eq);
    std::string value(part.substr(eq + 1));
    if (key == "latency_ms") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), f.latency_ms);
      if (ec != std::errc() || ptr != value.data() + value.size() || f.latency_ms < 0 || f.latency_ms > 60000)
        return Error::invalid("invalid_faults", "latency_ms must be 0 to 60000");
      continue;
    }
    if (key == "seed") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), f.seed);
      if (ec != std::errc() || ptr != value.data() + value.size())
        return Error::invalid("invalid_faults", "seed must be an unsigned integer");
      continue;
    }
    char* end = nullptr;
    double p = std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size() || p < 0 || p > 1)
      return Error::invalid("invalid_faults", "a fault probability must be a number in [0, 1]: " + std::string(part));
    if (key == "timeout_before_charge") f.timeout_before_charge = p;
    else if (key == "timeout_after_charge") f.timeout_after_charge = p;
    else if (key == "server_error") f.server_error = p;
    else return Error::invalid("invalid_faults", "unknown sandbox fault '" + std::string(key) + "'");
  }
  return f;
}

SandboxGateway::SandboxGateway(db::Database& db, const Clock& clock, SandboxFaults faults)
    : db_(db), clock_(clock), faults_(faults), rng_(faults.seed) {}

void SandboxGateway::set_faults(const SandboxFaults& faults) {
  std::lock_guard lock(mu_);
  faults_ = faults;
  rng_.seed(faults.seed);
}

SandboxGateway::Fault SandboxGateway::draw() {
  std::lock_guard lock(mu_);
  double x = std::uniform_real_distribution<double>(0, 1)(rng_);
  if ((x -= faults_.timeout_before_charge) < 0) return Fault::kTimeoutBefore;
  if ((x -= faults_.server_error) < 0) return Fault::kServerError;
  if ((x -= faults_.timeout_after_charge) < 0) return Fault::kTimeoutAfter;
  return Fault::kNone;
}

Result<std::string> SandboxGateway::create_customer(const GatewayCustomerInput& input) {
  // Deterministic: the same Recur customer is the same sandbox customer.
  return "cus_sandbox_" + sha256_hex(input.recur_customer).substr(0, 16);
}

Result<PaymentMethodInfo> SandboxGateway::attach_payment_method(const std::string& gateway_customer,
                                                                const std::string& token, const std::string&) {
  if (gateway_customer.empty()) return Error::invalid("payment_method_refused", "no gateway customer to attach to");
  const TestCard* card = card_for(token);
  if (!card)
    return Error::invalid("payment_method_refused",
                          "the sandbox does not know the payment method '" + token +
                              "'; use one of Stripe's test ids such as pm_card_visa",
                          {{"token", "unknown_payment_method", "not a sandbox test payment method"}});
  if (card->type != "card") {
    PaymentMethodInfo wallet;
    wallet.token = card->token;
    wallet.type = card->type;
    wallet.email = card->email;
    return wallet;
  }
  CivilDate today = to_civil(clock_.now()).date;
  PaymentMethodInfo info{std::string(card->token), card_brand(card->brand), std::string(card->last4), 12,
                         static_cast<int>(today.year) + 4};
  if (card->expiring) {
    info.exp_month = static_cast<int>(today.month);
    info.exp_year = static_cast<int>(today.year);
  }
  return info;
}

ChargeResult SandboxGateway::charge(const ChargeRequest& req) {
  if (req.idempotency_key.empty()) return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Fault fault = draw();
  if (fault == Fault::kTimeoutBefore) return unknown("timeout", "the gateway did not answer in time");
  if (fault == Fault::kServerError) return unknown("gateway_error", "the gateway answered 503");

  const TestCard* card = card_for(req.payment_method);
  std::string decline = card ? std::string(card->decline) : "card_declined";
  const bool challenge = card && card->authenticate;
  const std::string status = challenge ? std::string(kRequiresAction) : decline.empty() ? "succeeded" : "failed";
  auto stored = db::transact(db_, [&](db::Tx& tx) -> Result<ChargeResult> {
    // The charge id derives from the key, so a replay conflicts on the key: insert first
    // (one statement for a new charge), and read the first answer only when it exists.
    std::string charge_id = "pi_sandbox_" + sha256_hex(req.idempotency_key).substr(0, 24);
    RECUR_ASSIGN(auto inserted,
                 tx.exec("INSERT INTO sandbox_charges (idempotency_key, charge_id, customer, payment_method, amount,"
                         " currency, status, failure_code, refunded, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)"
                         " ON CONFLICT DO NOTHING",
                         {req.idempotency_key, charge_id, req.gateway_customer, req.payment_method, req.amount.amount,
                          req.amount.currency, status,
                          decline.empty() ? db::Value(nullptr) : db::Value(decline), clock_.now()}));
    if (inserted == 0) {
      RECUR_ASSIGN(auto rows, tx.query("SELECT charge_id, status, failure_code, amount, currency FROM sandbox_charges"
                                       " WHERE idempotency_key = $1",
                                       {req.idempotency_key}));
      if (rows.empty()) return Error::internal("the sandbox charge conflicted but is not there");
      // A replay: the first answer, as long as the request is the same one.
      if (rows[0].int64(3) != req.amount.amount || rows[0].text(4) != req.amount.currency)
        return ChargeResult{Outcome::kFailed, "", "idempotency_key_reused",
                            "this idempotency key was used with different parameters"};
      return charge_from_row(rows[0]);
    }
    if (challenge) return ChargeResult{Outcome::kRequiresAction, charge_id, "", ""};
    ChargeResult r{decline.empty() ? Outcome::kSucceeded : Outcome::kFailed, charge_id, decline, ""};
    if (!decline.empty()) r.failure_message = decline_message(decline);
    if (!decline.empty()) r.decline_code = stripe_decline_code(decline);  // the sandbox speaks Stripe
    return r;
  });
  if (!stored.ok()) return unknown("gateway_error", stored.error().message);
  // The charge is made; the answer is on its way (a crash now leaves Recur not knowing).
  if (int ms = latency(); ms > 0) {
    auto answer_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    if (req.deadline && *req.deadline < answer_at) {  // the caller stops waiting first
      std::this_thread::sleep_until(*req.deadline);
      return unknown("timeout", "the gateway did not answer in time");
    }
    std::this_thread::sleep_until(answer_at);
  }
  if (fault == Fault::kTimeoutAfter) return unknown("timeout", "the gateway did not answer in time");
  return *stored;
}

ChargeResult SandboxGateway::verify_payment_method(const std::string& gateway_customer, const std::string& token,
                                                   const std::string& idempotency_key) {
  if (idempotency_key.empty()) return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Fault fault = draw();
  if (fault != Fault::kNone) return unknown("timeout", "the gateway did not answer in time");
  const std::string setup_id = "seti_sandbox_" + sha256_hex(idempotency_key).substr(0, 24);
  const TestCard* card = card_for(token);
  if (gateway_customer.empty() || !card)
    return {Outcome::kFailed, setup_id, "card_declined", "the sandbox does not know this payment method"};
  if (card->authenticate) return {Outcome::kRequiresAction, setup_id, "authentication_required", ""};
  if (card->decline.empty()) return {Outcome::kSucceeded, setup_id, "", ""};
  ChargeResult r{Outcome::kFailed, setup_id, std::string(card->decline), std::string(decline_message(card->decline))};
  r.decline_code = stripe_decline_code(r.failure_code);
  return r;
}

RefundResult SandboxGateway::refund(const RefundRequest& req) {
  if (req.idempotency_key.empty()) return {Outcome::kFailed, "", "idempotency_key_missing", "an idempotency key is required"};
  Fault fault = draw();
  if (fault == Fault::kTimeoutBefore) return {Outcome::kUnknown, "", "timeout", "the gateway did not answer in time"};
  if (fault == Fault::kServerError) return {Outcome::kUnknown, "", "gateway_error", "the gateway answered 503"};
  auto stored = db::transact(db_, [&](db::Tx& tx) -> Result<RefundResult> {
    RECUR_ASSIGN(auto seen, tx.query("SELECT refund_id FROM sandbox_refunds WHERE idempotency_key = $1", {req.idempotency_key}));
    if (!seen.empty()) return RefundResult{Outcome::kSucceeded, seen[0].text(0), "", ""};
    RECUR_ASSIGN(auto rows, tx.query(std::string("SELECT amount, refunded, status FROM sandbox_charges WHERE charge_id = $1") +
                                         std::string(tx.for_update()),
                                     {req.charge_id}));
    if (rows.empty() || rows[0].text(2) != "succeeded")
      return RefundResult{Outcome::kFailed, "", "charge_not_refundable", "no succeeded charge with that id"};
    if (req.amount.amount <= 0 || rows[0].int64(1) + req.amount.amount > rows[0].int64(0))
      return RefundResult{Outcome::kFailed, "", "amount_too_large", "the refund exceeds what is left of the charge"};
    std::string refund_id = "re_sandbox_" + sha256_hex(req.idempotency_key).substr(0, 24);
    RECUR_TRY(tx.exec("UPDATE sandbox_charges SET refunded = refunded + $1 WHERE charge_id = $2",
                      {req.amount.amount, req.charge_id}));
    RECUR_TRY(tx.exec("INSERT INTO sandbox_refunds (idempotency_key, refund_id, charge_id, amount, created_at)"
                      " VALUES ($1, $2, $3, $4, $5)",
                      {req.idempotency_key, refund_id, req.charge_id, req.amount.amount, clock_.now()}));
    return RefundResult{Outcome::kSucceeded, refund_id, "", ""};
  });
  if (!stored.ok()) return {Outcome::kUnknown, "", "gateway_error", stored.error().message};
  if (fault == Fault::kTimeoutAfter) return {Outcome::kUnknown, "", "timeout", "the gateway did not answer in time"};
  return *stored;
}

ChargeResult SandboxGateway::fetch_charge(const std::string& charge_id) {
  auto rows = db::transact(db_, [&](db::Tx& tx) {
    return tx.query("SELECT charge_id, status, failure_code FROM sandbox_charges WHERE charge_id = $1", {charge_id});
  }, db::TxMode::kReadOnly);
  if (!rows.ok()) return unknown("gateway_error", rows.error().message);
  if (rows->empty()) return {Outcome::kFailed, "", "resource_missing", "no such charge"};
  return charge_from_row((*rows)[0]);
}

ChargeResult SandboxGateway::end_challenge(const std::string& charge_id, const char* status,
                                           const char* failure_code) {
  auto rows = db::transact(db_, [&](db::Tx& tx) -> Result<std::vector<db::Row>> {
    RECUR_TRY(tx.exec("UPDATE sandbox_charges SET status = $1, failure_code = $2 WHERE charge_id = $3 AND status = $4",
                      {std::string(status), failure_code ? db::Value(std::string(failure_code)) : db::Value(nullptr),
                       charge_id, std::string(kRequiresAction)}));
    return tx.query("SELECT charge_id, status, failure_code FROM sandbox_charges WHERE charge_id = $1", {charge_id});
  });
  if (!rows.ok()) return unknown("gateway_error", rows.error().message);
  if (rows->empty()) return {Outcome::kFailed, "", "resource_missing", "no such charge"};
  return charge_from_row((*rows)[0]);
}

ChargeResult SandboxGateway::cancel_charge(const std::string& charge_id) {
  return end_challenge(charge_id, "failed", "canceled");
}

ChargeResult SandboxGateway::authenticate(const std::string& charge_id, bool approve) {
  return approve ? end_challenge(charge_id, "succeeded", nullptr)
                 : end_challenge(charge_id, "failed", "authentication_failed");
}

Result<WebhookEvent> SandboxGateway::verify_webhook(const std::map<std::string, std::string>& headers,
                                                    const std::string& body, Timestamp now) {
  auto it = headers.find("sandbox-signature");
  if (it == headers.end()) return Error::unauthorized("invalid_signature", "the Sandbox-Signature header is missing");
  RECUR_TRY(verify_timestamped(kSandboxWebhookSecret, it->second, body, now));
  // The sandbox speaks Stripe: its events are Stripe Event objects.
  return stripe::event_from(body);
}

}  // namespace recur::gateways
