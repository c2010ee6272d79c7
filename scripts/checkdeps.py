#!/usr/bin/python3
"""Checks the module layering of docs/ARCHITECTURE.md, in the spirit of Chromium's checkdeps:
each module lists the modules its files may include; an #include "x/..." of any other module
fails. Tests (*_test.cc) may also include the test support (testing/) and the wiring (app/),
which builds a whole App for them. Exit status 1 lists every violation.

Usage: scripts/checkdeps.py [SOURCE_ROOT]   (default: the repository's src/)
"""
import os
import re
import sys

# Lower layers first. A module may include itself and what it lists here, nothing else.
ALLOWED = {
    "platform": [],
    "privacy": ["platform"],
    "audit": ["platform"],
    "events": ["platform", "privacy", "audit"],
    "access": ["platform", "privacy", "events"],
    "gateways": ["platform"],
    "catalog": ["platform", "privacy", "events", "access"],
    "customers": ["platform", "privacy", "events", "access", "gateways"],
    "subscriptions": ["platform", "privacy", "events", "access", "catalog", "customers"],
    "notify": ["platform", "privacy", "access"],
    "billing": ["platform", "privacy", "events", "access", "catalog", "customers", "subscriptions", "gateways", "notify"],
    "inventory": ["platform", "privacy", "events", "access", "catalog", "customers", "subscriptions", "notify"],
    "webhooks": ["platform", "privacy", "events", "access", "notify"],
    "analytics": ["platform", "privacy", "events", "access", "catalog", "customers", "subscriptions"],
    "gifts": ["platform", "privacy", "events", "access", "catalog", "customers", "subscriptions", "notify", "billing"],
    "portal": ["platform", "privacy", "events", "access", "customers", "notify", "billing"],
    "app": ["platform", "privacy", "audit", "events", "access", "gateways", "catalog", "customers", "subscriptions", "notify", "billing",
            "inventory", "webhooks", "analytics", "gifts", "portal"],
    "testing": ["platform", "privacy", "audit", "events", "access", "gateways", "catalog", "customers", "subscriptions", "notify",
                "billing", "inventory", "webhooks", "analytics", "gifts", "portal", "app"],
}
TEST_EXTRA = ["testing", "app"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    root = os.path.abspath(root)
    problems = []
    for module in sorted(os.listdir(root)):
        path = os.path.join(root, module)
        if not os.path.isdir(path):
            continue
        if module not in ALLOWED:
            problems.append(f"{module}/: a module that scripts/checkdeps.py does not know; add it to ALLOWED")
            continue
        for folder, _, files in os.walk(path):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                allowed = set(ALLOWED[module]) | {module}
                if name.endswith("_test.cc"):
                    allowed |= set(TEST_EXTRA)
                file = os.path.join(folder, name)
                with open(file, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) in ALLOWED and m.group(1) not in allowed:
                            problems.append(f"{os.path.relpath(file, root)}:{number}: {module} may not include "
                                            f"{m.group(1)}/ (allowed: {', '.join(sorted(allowed))})")
    if problems:
        print("checkdeps: includes that break the layering of docs/ARCHITECTURE.md:")
        print("\n".join(problems))
        return 1
    print(f"checkdeps: every include of {root} follows the layering")
    return 0


if __name__ == "__main__":
    sys.exit(main())
