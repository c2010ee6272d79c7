#!/usr/bin/env python3
"""The permissions of the C++ and of the spec agree (issue 15, custom roles):

* every `perm::k...` constant of src/access/model.h is in all_permissions()'s list in
  src/access/model.cc (`kAllPermissions = {...}`), once;
* that list equals the set of `x-permission` values of api/openapi.yaml's operations, and
  the spec's `Permission` schema enum (what POST /v1/roles accepts);
* the built-in roles' table in model.cc (table()) equals the roles table of the spec's
  introduction (Conventions, Permissions).

`--table` prints the introduction's table from model.cc (to paste after a change).
Exit status 1 with the differences."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def read(rel):
    return (ROOT / rel).read_text()


def constants():
    """perm::kName -> "area:verb", from model.h's namespace perm."""
    text = read("src/access/model.h")
    block = text[text.index("namespace perm {"):text.index("}  // namespace perm")]
    return dict(re.findall(r'inline constexpr std::string_view (k\w+) = "([a-z_]+:[a-z_]+)";', block))


def listed(consts):
    """all_permissions()'s list, as values, in its order."""
    text = read("src/access/model.cc")
    start = text.index("kAllPermissions = {")
    names = re.findall(r'\b(k\w+)\b', text[start + len("kAllPermissions = {"):text.index("};", start)])
    return [consts.get(n, "?" + n) for n in names]


def role_table(consts):
    """table() in model.cc: role -> [permissions] in the order written."""
    text = read("src/access/model.cc")
    start = text.index("kTable = {")
    body = text[start:text.index("};", start)]
    roles = {}
    for role, perms in re.findall(r'\{"([a-z]+)",\s*\{([^}]*)\}\}', body):
        roles[role] = [consts.get(n, "?" + n) for n in re.findall(r'\b(k\w+)\b', perms)]
    return roles


def spec():
    return yaml.safe_load(read("api/openapi.yaml"))


def x_permissions(doc):
    found = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS and "x-permission" in op:
                found.setdefault(op["x-permission"], f"{method.upper()} {path}")
    return found


def spec_table(doc):
    """The introduction's `| `role` | `p`, `p` |` rows."""
    rows = {}
    for role, perms in re.findall(r'^\s*\| `([a-z]+)` \| ((?:`[a-z_]+:[a-z_]+`(?:, )?)+) \|$', doc["info"]["description"],
                                  re.M):
        rows[role] = re.findall(r'`([a-z_]+:[a-z_]+)`', perms)
    return rows


def table_text(roles):
    lines = ["| role | permissions |", "| --- | --- |"]
    for role, perms in roles.items():
        lines.append(f"| `{role}` | " + ", ".join(f"`{p}`" for p in perms) + " |")
    return "\n".join(lines)


def main():
    consts = constants()
    roles = role_table(consts)
    if "--table" in sys.argv:
        print(table_text(roles))
        return
    problems = []
    values = listed(consts)
    for name, value in consts.items():
        if value not in values:
            problems.append(f"src/access/model.h: perm::{name} ({value}) is not in model.cc's kAllPermissions")
    for value in values:
        if value.startswith("?"):
            problems.append(f"src/access/model.cc: kAllPermissions names {value[1:]}, no perm:: constant")
        elif values.count(value) > 1:
            problems.append(f"src/access/model.cc: kAllPermissions lists {value} twice")
    doc = spec()
    declared = x_permissions(doc)
    for p in sorted(set(values) - set(declared)):
        problems.append(f"{p}: in src/access/model.cc but no operation of api/openapi.yaml declares it (x-permission)")
    for p in sorted(set(declared) - set(values)):
        problems.append(f"{p}: x-permission of {declared[p]} but not a permission of src/access/model.cc")
    enum = doc["components"]["schemas"].get("Permission", {}).get("enum", [])
    if set(enum) != set(values) or len(enum) != len(set(enum)):
        problems.append(f"api/openapi.yaml: the Permission schema's enum should be {sorted(set(values))}, "
                        f"not {sorted(enum)}")
    for role, perms in roles.items():
        for p in perms:
            if p.startswith("?"):
                problems.append(f"src/access/model.cc: role {role} holds {p[1:]}, no perm:: constant")
    if spec_table(doc) != roles:
        problems.append("api/openapi.yaml: the introduction's roles table differs from src/access/model.cc's; it should"
                        " read (scripts/check_permissions.py --table):\n" + table_text(roles))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"permissions: {len(values)} in src/access/model.cc, each declared by an operation of api/openapi.yaml and"
          f" in its Permission enum; {len(roles)} built-in roles as the spec's table says")


if __name__ == "__main__":
    main()
