#!/usr/bin/env python3
"""The shape of a transaction's SQL: one "VERB table" per statement, for comparing what the
server sends (from PostgreSQL's log with log_statement=all) with a pgbench script.

  sql_shape.py pgbench FILE          statements of a pgbench script
  sql_shape.py log FILE START END    statements logged between two marker queries
                                     (SELECT 'START' ... SELECT 'END'), connection set-up
                                     and API-key lookups left out
"""
import re
import sys


def shape(sql):
    words = re.findall(r"[A-Za-z_]+", sql)
    if not words:
        return None
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    for keyword in ("FROM", "INTO", "UPDATE"):
        if keyword in upper[:-1]:
            return f"{verb} {words[upper.index(keyword) + 1]}"
    return verb


def from_pgbench(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("--") and not line.startswith("\\"):
            out.append(shape(line))
    return out


def from_log(path, start, end):
    out, inside = [], False
    for line in open(path, errors="replace"):
        m = re.search(r"LOG:  (?:statement|execute [^:]+): (.*)", line)
        if not m:
            continue
        sql = m.group(1)
        if f"'{start}'" in sql:
            inside = True
            continue
        if f"'{end}'" in sql:
            break
        if inside and not sql.startswith("SET ") and "api_keys" not in sql:
            out.append(shape(sql))
    return out


if __name__ == "__main__":
    if sys.argv[1] == "pgbench":
        print("; ".join(from_pgbench(sys.argv[2])))
    else:
        print("; ".join(from_log(sys.argv[2], sys.argv[3], sys.argv[4])))
