#!/usr/bin/env python3
"""Every event type the server records is in api/openapi.yaml's Event.type enum and in the
catalogue table of docs/events.md, and neither names a type the server never records
(docs/api-conventions.md, The spec).

The types are found in the source, at every call of the event recorder
(`events_.record(tx, TYPE, ...)`): a literal type is taken as it is; the few types built at
run time are followed to the literals they come from (DYNAMIC below, one rule each). A
call whose type is neither is an error here, so a new way of building a type cannot slip
past this check. Exit status 1 with the differences."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TYPE = r'"([a-z][a-z_]*\.[a-z][a-z_]*)"'


def read(rel):
    return (ROOT / rel).read_text()


def literals(pattern, *files):
    found = set()
    for rel in files:
        found |= set(re.findall(pattern, read(rel)))
    return found


def lifecycle_types():
    """A subscription's time-driven events (LifecycleEvent::type): the literal types
    subscription.cc gives them (plain(), billable_period(), period_began(), `.type = `) and
    the retyping service.cc does (`happened[0].type = ...`)."""
    made = literals(r'\b(?:plain|billable_period|period_began)\([^;]*?' + TYPE, "src/subscriptions/subscription.cc")
    retyped = literals(r'\.type = ' + TYPE, "src/subscriptions/subscription.cc", "src/subscriptions/service.cc")
    return made | retyped


def mutation_types():
    """SubscriptionService::mutate/mutate_in's `event_type`: the literal each call passes,
    and the `type` apply_payment_step chooses (`type = "..."`)."""
    passed = literals(r'\bmutate(?:_in)?\([^;]*?' + TYPE, "src/subscriptions/service.cc")
    chosen = literals(r'(?<![.\w])type = ' + TYPE, "src/subscriptions/service.cc")
    return passed | chosen


def shipment_move_types():
    """Shipments::move_shipment records "shipment.<status moved to>"; its one caller, PATCH
    /v1/shipments/{id}, takes the statuses its `status` field's one_of lists."""
    m = re.search(r'one_of\("status",\s*true,\s*\{([^}]*)\}', read("src/inventory/routes.cc"))
    if not m:
        sys.exit("src/inventory/routes.cc: PATCH /v1/shipments/{id} no longer lists its statuses with one_of")
    return {"shipment." + s for s in re.findall(r'"([a-z_]+)"', m.group(1))}


# (file, the type argument as written) -> where its values come from.
DYNAMIC = {
    ("src/subscriptions/service.cc", "e.type"): lifecycle_types,
    ("src/subscriptions/service.cc", "event_type"): mutation_types,
    ("src/inventory/shipments.cc", '"shipment." + std::string(to_string(to))'): shipment_move_types,
}


def sources():
    for path in sorted((ROOT / "src").rglob("*")):
        if path.suffix in (".cc", ".h") and not path.name.endswith("_test.cc") and "testing" not in path.parts:
            yield str(path.relative_to(ROOT)), path.read_text()


def first_argument(text, start):
    """The argument starting at `start`, up to the comma that ends it (outside brackets)."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            break
        elif c == '"':
            i = text.index('"', i + 1)
        i += 1
    return " ".join(text[start:i].split())


def recorded_types():
    types, unknown = {}, []
    for rel, text in sources():
        if rel.startswith("src/events/"):
            continue  # the recorder itself
        # Events are appended through Recorder::record only; a direct append would hide its type.
        if re.search(r'\bevents::append\(', text):
            unknown.append(f"{rel}: appends an event without the recorder")
        for m in re.finditer(r'(?:\.|->)record\(\s*\*?tx\s*,\s*', text):
            arg = first_argument(text, m.end())
            literal = re.fullmatch(TYPE, arg)
            if literal:
                types.setdefault(literal.group(1), rel)
            elif (rel, arg) in DYNAMIC:
                for t in DYNAMIC[(rel, arg)]():
                    types.setdefault(t, rel)
            else:
                line = text.count("\n", 0, m.start()) + 1
                unknown.append(f"{rel}:{line}: records a type built as `{arg}`; teach scripts/check_event_types.py"
                               " where its values come from (DYNAMIC)")
    return types, unknown


def spec_enums():
    """Event.type's enum, and Event.resource.type's (each type's first word)."""
    event = yaml.safe_load(read("api/openapi.yaml"))["components"]["schemas"]["Event"]["properties"]
    types = event["type"].get("enum")
    resources = event["resource"]["properties"]["type"].get("enum")
    if not types or not resources:
        sys.exit("api/openapi.yaml: Event.type or Event.resource.type has no enum")
    return set(types), set(resources)


def docs_types():
    """The first column of the catalogue table in docs/events.md: | `type` | ... |"""
    text = read("docs/events.md")
    start = text.index("<!-- catalogue -->")
    end = text.index("<!-- /catalogue -->")
    return set(re.findall(r'^\| `([a-z_]+\.[a-z_]+)` \|', text[start:end], re.M))


def catalogue_types():
    """The list the server filters and subscribes with (src/webhooks/events_api.cc)."""
    text = read("src/webhooks/events_api.cc")
    start = text.index("kTypes = {")
    return set(re.findall(r'"([a-z_]+\.[a-z_]+)"', text[start:text.index("};", start)]))


def main():
    recorded, unknown = recorded_types()
    for message in unknown:
        print(message)
    problems = bool(unknown)
    spec_types, spec_resources = spec_enums()
    resources = {t.split(".")[0] for t in recorded}
    if spec_resources != resources:
        print(f"Event.resource.type's enum should be {sorted(resources)} (each type's first word), "
              f"not {sorted(spec_resources)}")
        problems = True
    for where, listed in (("api/openapi.yaml's Event.type enum", spec_types),
                          ("docs/events.md's catalogue", docs_types()),
                          ("src/webhooks/events_api.cc's event_types()", catalogue_types())):
        for t in sorted(set(recorded) - listed):
            print(f"{t}: recorded by {recorded[t]} but not in {where}")
            problems = True
        for t in sorted(listed - set(recorded)):
            print(f"{t}: in {where} but the server never records it")
            problems = True
    if problems:
        sys.exit(1)
    print(f"event types: {len(recorded)} recorded, all in Event.type, docs/events.md and the server's catalogue, "
          "none stale")


if __name__ == "__main__":
    main()
