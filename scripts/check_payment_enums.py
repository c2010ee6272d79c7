#!/usr/bin/env python3
"""The spec's payment enums hold exactly what the server can send (docs/api-conventions.md,
The spec):

- `Gateway`: the names the gateway adapters give themselves (`name()` in src/gateways/*.h);
  the gateway-webhooks path takes some of them.
- `CardDetails.brand`: Recur's card brands (kCardBrands in src/gateways/exchange.cc), which
  gateways::card_brand maps every brand to; each adapter's brand must go through it.
- `PaymentFailureCode` and `RefundFailureCode`: the names billing/failure_codes.cc gives
  gateways' codes (its tables and its two fallbacks), and the codes billing sets itself
  (`pay.failure_code = "no_payment_method"`); every failure_code billing sets must be one of
  those, never a gateway's code passed through.

Exit status 1 with the differences."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]
problems = []


def read(rel):
    return (ROOT / rel).read_text()


def sources(under="src"):
    for path in sorted((ROOT / under).rglob("*")):
        if path.suffix in (".cc", ".h") and not path.name.endswith("_test.cc") and "testing" not in path.parts:
            yield str(path.relative_to(ROOT)), path.read_text()


def compare(what, emitted, listed):
    for value in sorted(set(emitted) - set(listed)):
        problems.append(f"{what}: the server can send '{value}' but the spec's enum does not list it")
    for value in sorted(set(listed) - set(emitted)):
        problems.append(f"{what}: the spec's enum lists '{value}' but the server never sends it")


def array_of(text, name, rel):
    """The string literals of `constexpr ... name[] = {...};`."""
    m = re.search(r'\b' + name + r'\[\]\s*=\s*\{(.*?)\};', text, re.S)
    if not m:
        sys.exit(f"{rel}: no {name}[] to read")
    return m.group(1)


# ------------------------------------------------------------------ gateways

def gateways():
    names = set()
    for rel, text in sources("src/gateways"):
        names |= set(re.findall(r'std::string name\(\) const override \{ return "([a-z]+)"; \}', text))
    compare("Gateway", names, SCHEMAS["Gateway"]["enum"])
    webhook = SPEC["paths"]["/v1/gateway-webhooks/{gateway}"]["parameters"]
    path_enum = next(p["schema"]["enum"] for p in webhook if p.get("name") == "gateway")
    for name in sorted(set(path_enum) - names):
        problems.append(f"/v1/gateway-webhooks/{{gateway}}: '{name}' is no gateway's name")


# ------------------------------------------------------------------ card brands

def card_brands():
    rel = "src/gateways/exchange.cc"
    text = read(rel)
    brands = re.findall(r'"([a-z_]+)"', array_of(text, "kCardBrands", rel))
    for alias, name in re.findall(r'\{"([a-z_]+)",\s*"([a-z_]+)"\}', array_of(text, "kBrandAliases", rel)):
        if name not in brands:
            problems.append(f"{rel}: the alias '{alias}' names '{name}', which kCardBrands does not list")
    compare("CardDetails.brand", brands, SCHEMAS["CardDetails"]["properties"]["brand"]["enum"])
    # Every brand an adapter reports goes through card_brand(): the second member of each
    # PaymentMethodInfo it builds, and each `info.brand = ...`.
    for rel, text in sources("src/gateways"):
        for m in re.finditer(r'PaymentMethodInfo(?:\s+\w+)?\{', text):
            body = text[m.end():text.index(";", m.end())]
            args = [a.strip() for a in re.split(r',(?![^()]*\))', body)]
            if len(args) > 1 and not args[1].startswith("card_brand("):
                problems.append(f"{rel}: a PaymentMethodInfo's brand `{args[1]}` does not go through card_brand()")
        for m in re.finditer(r'\.brand = ([^;]*);', text):
            if not m.group(1).startswith("card_brand("):
                problems.append(f"{rel}: `.brand = {m.group(1)}` does not go through card_brand()")
    sandbox = read("src/gateways/sandbox.cc")
    for token, brand in re.findall(r'\{"(pm_\w+)",\s*"(\w+)"', sandbox):
        if brand not in brands:
            problems.append(f"src/gateways/sandbox.cc: {token} has brand '{brand}', which kCardBrands does not list")


# ------------------------------------------------------------------ failure codes

def failure_codes():
    rel = "src/billing/failure_codes.cc"
    text = read(rel)

    def named(table):
        return {recur for _, recur in re.findall(r'\{"([a-z_0-9]+)",\s*"([a-z_]+)"\}', array_of(text, table, rel))}

    fallbacks = set()
    for constant in ("kOtherRefusal", "kOtherUnsettled"):
        m = re.search(r'\b' + constant + r'\s*=\s*"([a-z_]+)"', text)
        if not m:
            sys.exit(f"{rel}: no {constant} to read")
        fallbacks.add(m.group(1))
    emitted = {"Payment": named("kChargeRefusals") | named("kUnsettled") | fallbacks,
               "Refund": named("kRefundRefusals") | named("kUnsettled") | fallbacks}
    # Every failure_code set outside the gateways (whose results carry the gateway's own code):
    # Recur's name for a gateway's code, or billing's own literal; or what a stored document
    # holds, read back (migration 20 named the codes stored before).
    owners = {"pay": "Payment", "r": "Refund"}
    for src, code in sources():
        if src.startswith("src/gateways/"):
            continue
        for m in re.finditer(r'(\w+)\.failure_code = ([^;]*);', code):
            var, value = m.groups()
            literal = re.fullmatch(r'"([a-z_]+)"', value)
            if value == 'doc_text(d, "failure_code").value_or("")':
                continue
            if literal and var in owners:
                emitted[owners[var]].add(literal.group(1))
            elif not literal and re.match(r'(charge|refund)_failure_code\(', value):
                if (var in owners) and value.startswith("charge") != (owners[var] == "Payment"):
                    problems.append(f"{src}: {var}.failure_code is named by the other kind's function: {value}")
            else:
                problems.append(f"{src}: `{var}.failure_code = {value}` is neither a code of Recur's nor "
                                "charge_failure_code()/refund_failure_code() of the gateway's")
    compare("PaymentFailureCode", emitted["Payment"], SCHEMAS["PaymentFailureCode"]["enum"])
    compare("RefundFailureCode", emitted["Refund"], SCHEMAS["RefundFailureCode"]["enum"])
    return emitted


# ------------------------------------------------------------------ decline classes

def decline_types():
    """Payment.decline_type: the names billing/failure_codes.cc gives DeclineType; each adapter's
    decline-code table maps to codes the classification table knows (no silent 'unknown')."""
    rel = "src/billing/failure_codes.cc"
    text = read(rel)
    m = re.search(r'to_string\(DeclineType type\) \{ return type == DeclineType::kHard \? "(\w+)" : "(\w+)"; \}', text)
    if not m:
        sys.exit(f"{rel}: no to_string(DeclineType) to read")
    listed = [v for v in SCHEMAS["Payment"]["properties"]["decline_type"]["oneOf"][0]["enum"]]
    compare("Payment.decline_type", {m.group(1), m.group(2)}, listed)
    known = set(re.findall(r'\{"([a-z_]+)",\s*Kind::', array_of(text, "kDeclineCodes", rel)))
    for adapter, table in (("stripe", "kStripeDeclineCodes"), ("square", "kSquareDeclines"),
                           ("paypal", "kProcessorResponses"), ("paypal", "kIssues")):
        arel = f"src/gateways/{adapter}.cc"
        body = array_of(read(arel), table, arel)
        pairs = re.findall(r'\{"([a-z_0-9]+)",\s*"([a-z_]+)"\}', body)
        targets = {t for _, t in pairs} if pairs else set(re.findall(r'"([a-z_]+)"', body))
        for t in sorted(targets - known):
            problems.append(f"{arel}: {table} maps to '{t}', which {rel}'s kDeclineCodes does not classify")


def main():
    gateways()
    card_brands()
    codes = failure_codes()
    decline_types()
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"payment enums: Gateway, CardDetails.brand, PaymentFailureCode ({len(codes['Payment'])}) and "
          f"RefundFailureCode ({len(codes['Refund'])}) hold what the server sends")


if __name__ == "__main__":
    main()
