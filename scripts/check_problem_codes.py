#!/usr/bin/env python3
"""Every problem `code` the server can send is in api/openapi.yaml's Problem.code enum and
in the introduction's table of codes by status, and the enum names nothing the server
never sends (docs/api-conventions.md, Errors).

The codes are found in the source: literal first arguments of Error's factories
(Error::invalid("coupon_expired", ...)), both arms of a ternary there, named constants
(Error::conflict(std::string(kAlreadyOnOrder), ...)), and literal codes handed to the
few helpers that pass a code on to a factory (found here too: a function whose body
calls a factory with its own `code` parameter). Exit status 1 with the differences."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CODE = r'"([a-z][a-z0-9_]*)"'

# Codes of errors that never reach an HTTP client, each with why.
NOT_SENT = {
    # `recur` at the command line: refused arguments and start-up failures exit the process.
    "invalid_alert_webhook", "invalid_sentry_dsn", "invalid_modules", "invalid_db_replica",
    # A billing run that threw: counted on /metrics as an error run, logged, never answered.
    "billing_run_aborted",
    "invalid_listen", "listen_failed", "invalid_clock_start", "invalid_until", "invalid_at", "invalid_granularity",
    "invalid_horizon", "invalid_database_url", "invalid_redis_url", "invalid_rate_limit", "schema_too_new", "invalid_faults", "invalid_role",
    "master_key_unreadable", "master_key_invalid", "master_key_unwritable",
    # Delivery of a notification: recorded as the notification's last_error, never answered.
    "smtp_error", "email_rejected", "sms_provider_error", "sms_rejected", "template_data_missing",
    "update_payment_url_unset", "notification_claim_conflict", "attachment_unavailable",
    # Delivery of a webhook: a lost claim is skipped, never answered.
    "webhook_delivery_claim_conflict",
    # Publishing the event stream to NATS: logged, retried next tick, never answered (a bad
    # --nats-url stops `recur` at start).
    "invalid_nats_url", "jetstream_error", "nats_protocol_error", "nats_timeout", "nats_unavailable",
    # Transport failures of an outgoing call: each caller turns them into gateway_error.
    "timeout", "transport_error",
    # The database port's own codes, which the modules map (unique_violation to e.g. sku_taken,
    # serialization_failure to a retry and then database_busy).
    "unique_violation", "serialization_failure",
    # The read replica's lag probe: a failed probe makes the replica unusable, never answered.
    "replica_behind", "replica_not_in_recovery",
}


def sources():
    for path in sorted((ROOT / "src").rglob("*")):
        if path.suffix in (".cc", ".h") and not path.name.endswith("_test.cc") and "testing" not in path.parts:
            yield path, path.read_text()


def emitted_codes():
    codes, constants, helpers = {}, {}, set()
    texts = list(sources())
    for path, text in texts:
        for m in re.finditer(r'constexpr std::string_view (k\w+)\s*=\s*' + CODE, text):
            constants[m.group(1)] = m.group(2)
        # A helper that forwards its `code` parameter to a factory: `Error unavailable(std::string code, ...)`.
        for m in re.finditer(r'Error (\w+)\(([^)]*\bcode\b[^)]*)\)\s*\{', text):
            body = text[m.end():text.find("\n}", m.end())]
            if re.search(r'Error::\w+\((std::move\()?code\b', body):
                helpers.add(m.group(1))
    factory = r'Error::(?:invalid|bad_request|not_found|conflict|unauthorized|forbidden|not_acceptable|payment_required|unavailable|internal)\(\s*'
    call = r'\b(?:' + "|".join(sorted(helpers)) + r')\(\s*(?:[\w.]+,\s*)?' if helpers else None
    for path, text in texts:
        rel = str(path.relative_to(ROOT))
        for head in filter(None, (factory, call)):
            for m in re.finditer(head + CODE, text):
                codes.setdefault(m.group(1), rel)
            for m in re.finditer(head + r'[^;,{]*?\?\s*' + CODE + r'\s*:\s*' + CODE, text):
                codes.setdefault(m.group(1), rel)
                codes.setdefault(m.group(2), rel)
            for m in re.finditer(head + r'std::string\((k\w+)\)', text):
                if m.group(1) in constants:
                    codes.setdefault(constants[m.group(1)], rel)
    # Functions that choose a code: `std::string_view illegal_move_code(...) { ... return "x"; }`.
    for path, text in texts:
        for m in re.finditer(r'std::string_view (\w+_code)\([^)]*\)\s*\{', text):
            body = text[m.end():text.find("\n}", m.end())]
            for r in re.finditer(r'return ' + CODE, body):
                codes.setdefault(r.group(1), str(path.relative_to(ROOT)))
    for code in NOT_SENT:
        codes.pop(code, None)
    # Error::internal(msg) with one argument says internal_error.
    codes.setdefault("internal_error", "src/platform/result.h")
    return codes


def spec_codes():
    text = (ROOT / "api" / "openapi.yaml").read_text()
    block = text[text.index("\n    Problem:\n"):]
    block = block[block.index("\n        code:\n"):]
    block = block[:block.index("\n        request_id:")]
    m = re.search(r"enum:\s*\n((?:\s+- [a-z0-9_]+\n)+)", block + "\n")
    if not m:
        sys.exit("api/openapi.yaml: Problem.code has no enum")
    return set(re.findall(r"- ([a-z0-9_]+)", m.group(1)))


def main():
    emitted = emitted_codes()
    listed = spec_codes()
    missing = sorted(set(emitted) - listed)
    stale = sorted(listed - set(emitted))
    for code in missing:
        print(f"{code}: sent by {emitted[code]} but not in Problem.code's enum")
    for code in stale:
        print(f"{code}: in Problem.code's enum but no source sends it")
    text = (ROOT / "api" / "openapi.yaml").read_text()
    table = text[:text.index("Field error codes")]
    untabled = sorted(code for code in listed if f"`{code}`" not in table)
    for code in untabled:
        print(f"{code}: not in the introduction's table of codes by status")
    if missing or stale or untabled:
        sys.exit(1)
    print(f"problem codes: {len(listed)} listed, all sent, none missing")


if __name__ == "__main__":
    main()
