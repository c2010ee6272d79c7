#!/usr/bin/env python3
"""Responses are open, requests closed (docs/api-conventions.md, The spec): no schema that a
response reaches, and no request reaches, says `additionalProperties: false`, so a field
added to a response never breaks a strict generated client; request bodies keep it, so an
unknown field is refused. Exit status 1 naming each schema that breaks the rule."""
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.add(value)
            else:
                refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def resolve(ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def closure(start):
    seen, todo = set(), list(start)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        more = set()
        refs(resolve(ref), more)
        todo.extend(more)
    return seen


def closed(node):
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            return True
        return any(closed(v) for k, v in node.items() if k != "$ref")
    if isinstance(node, list):
        return any(closed(v) for v in node)
    return False


requests, responses, inline = set(), set(), []
for path, item in spec["paths"].items():
    for method, op in item.items():
        if not isinstance(op, dict):
            continue
        refs(op.get("requestBody", {}), requests)
        refs(op.get("responses", {}), responses)
        if closed(op.get("responses", {})):
            inline.append(f"{method.upper()} {path}")
request_schemas = {r for r in closure(requests) if r.startswith("#/components/schemas/")}
bad = sorted(r.rsplit("/", 1)[1] for r in closure(responses)
             if r.startswith("#/components/schemas/") and r not in request_schemas and closed(resolve(r)))
for name in bad:
    print(f"schema {name}: a response reaches it and it says additionalProperties: false")
for where in inline:
    print(f"{where}: an inline response schema says additionalProperties: false")
if bad or inline:
    sys.exit(1)
print(f"open responses: {len(closure(responses))} response components checked, none closed")
