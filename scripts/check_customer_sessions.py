#!/usr/bin/env python3
"""Keeps api/openapi.yaml's `x-customer-session: true` marks equal to the routes that
src/app/customer_scopes.cc opens to customer sessions (docs/portal.md): a route opened in
code and not documented, or documented and not opened, fails. `--mark` writes the marks."""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPEC = os.path.join(ROOT, "api", "openapi.yaml")
SCOPES = os.path.join(ROOT, "src", "app", "customer_scopes.cc")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def opened():
    """(method, path) pairs: a path literal takes the method literal before it on its line,
    else GET (the catalogue's reads are one loop over paths)."""
    out = set()
    with open(SCOPES, encoding="utf-8") as f:
        for line in f:
            method = None
            for m in re.finditer(r'"([A-Z]+|/v1/[^"]*)"', line):
                word = m.group(1)
                if word in METHODS:
                    method = word
                elif word.startswith("/v1/"):
                    out.add((method or "GET", word))
                    method = None
    return out


def operations(lines):
    """(method, path) -> index of the operation's `x-permission:` line, and the marked ones."""
    ops, marked = {}, set()
    path = method = None
    for i, line in enumerate(lines):
        m = re.match(r"^  (/[^:]*):\s*$", line)
        if m:
            path, method = m.group(1), None
            continue
        m = re.match(r"^    (get|post|put|patch|delete):\s*$", line)
        if m and path:
            method = m.group(1).upper()
            continue
        if path and method and re.match(r"^      x-permission:", line):
            ops[(method, path)] = i
        if path and method and re.match(r"^      x-customer-session: true", line):
            marked.add((method, path))
    return ops, marked


def main():
    with open(SPEC, encoding="utf-8") as f:
        lines = f.read().split("\n")
    want = opened()
    ops, marked = operations(lines)
    if "--mark" in sys.argv:
        for key in sorted(want - marked, key=lambda k: -ops.get(k, -1)):
            if key in ops:
                lines.insert(ops[key] + 1, "      x-customer-session: true")
        with open(SPEC, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        ops, marked = operations(lines)
    problems = [f"{m} {p}: opened to customer sessions in customer_scopes.cc but not in the spec"
                + ("" if (m, p) in ops else " (no such operation with an x-permission)")
                for m, p in sorted(want - marked)]
    problems += [f"{m} {p}: marked x-customer-session in the spec but not opened in customer_scopes.cc"
                 for m, p in sorted(marked - want)]
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"customer sessions: {len(want)} operations, spec and code agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
