#!/usr/bin/python3
"""Finds card numbers (PANs) in text: the e2e suite's proof that no card data ever comes back
from Recur, in an API response, a server log or the database (docs/SECURITY.md, "Card data").

A PAN candidate is a run of 13 to 19 digits that
  - stands alone: no letter or digit touches it on either side (so digits inside hex strings,
    base32 ids and hex-encoded BLOBs of a database dump are not candidates), and
  - is written either without separators ("4242424242424242", also as one of several numbers
    in a run: "4242424242424242 12") or in groups of 3 to 6 digits
    joined by one kind of separator, a single space or a single dash ("4242 4242 4242 4242",
    "3782-822463-10005"); in a longer grouped run every stretch of whole groups counts
    ("4242 4242 4242 4242 12" holds one), and
  - passes the Luhn check, and
  - starts with a card network's prefix (IIN): 4 (Visa), 51-55 and 2221-2720 (Mastercard),
    34 and 37 (American Express), 6011, 644-649 and 65 (Discover), 35 (JCB), 30, 36 and 38
    (Diners Club).
Unix times (seconds, milliseconds, microseconds and nanoseconds of this century all start
with 1), amounts, invoice numbers, dates, UUIDs and Recur's ids are therefore never taken
for card numbers; a random digit run that happens to fit is (one in ten of those with a
card prefix pass Luhn), which is why the rule wants a standalone run.

Usage: card_scan.py [--sqlite DB_FILE] [--postgres URL] [FILE ...]
  scans the files, a `sqlite3 .dump` of DB_FILE and a `pg_dump -n public` of URL; prints each
  finding (masked: first six and last four digits) and exits 1 when there is one.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

# A maximal run of digit groups joined by single spaces or dashes, touching no letter or digit.
_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9]+(?:[ -][0-9]+)*(?![0-9A-Za-z])")
_SHORTEST, _LONGEST = 13, 19


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def has_card_prefix(digits: str) -> bool:
    two, four = int(digits[:2]), int(digits[:4])
    return (digits[0] == "4" or 51 <= two <= 55 or 2221 <= four <= 2720 or two in (34, 37, 35, 30, 36, 38, 65)
            or digits.startswith("6011") or 644 <= int(digits[:3]) <= 649)


def is_pan(digits: str) -> bool:
    return _SHORTEST <= len(digits) <= _LONGEST and has_card_prefix(digits) and luhn(digits)


@dataclass(frozen=True)
class Finding:
    start: int  # offset in the text scanned
    end: int
    digits: str

    def masked(self) -> str:
        return self.digits[:6] + "*" * (len(self.digits) - 10) + self.digits[-4:]


def _grouped_candidates(run: str, offset: int):
    """Every stretch of whole groups of 3-6 digits joined by one kind of separator."""
    parts = re.split(r"([ -])", run)
    groups = parts[0::2]
    seps = parts[1::2]
    positions, at = [], offset
    for i, g in enumerate(groups):
        positions.append(at)
        at += len(g) + (1 if i < len(seps) else 0)
    for i in range(len(groups)):
        if is_pan(groups[i]):  # a whole number beside others: "4242424242424242 12/30"
            yield Finding(positions[i], positions[i] + len(groups[i]), groups[i])
        if not 3 <= len(groups[i]) <= 6:
            continue
        digits = groups[i]
        for j in range(i + 1, len(groups)):
            if not 3 <= len(groups[j]) <= 6 or seps[j - 1] != seps[i]:
                break
            digits += groups[j]
            if len(digits) > _LONGEST:
                break
            if is_pan(digits):
                yield Finding(positions[i], positions[j] + len(groups[j]), digits)


def find_pans(text: str) -> list[Finding]:
    found: list[Finding] = []
    for m in _RUN.finditer(text):
        run = m.group(0)
        if run.isdigit():
            if is_pan(run):
                found.append(Finding(m.start(), m.end(), run))
        else:
            found.extend(_grouped_candidates(run, m.start()))
    return found


def scan_bytes(data: bytes) -> list[Finding]:
    return find_pans(data.decode("latin-1"))


def dump_sqlite(path: str) -> bytes:
    sqlite3 = shutil.which("sqlite3")
    if sqlite3 is None:
        raise RuntimeError("card_scan: sqlite3 is not installed (scripts/install-deps.sh installs it)")
    return subprocess.run([sqlite3, path, ".dump"], capture_output=True, check=True, timeout=300).stdout


def dump_postgres(url: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise RuntimeError("card_scan: pg_dump is not installed")
    return subprocess.run([pg_dump, "--no-owner", "-n", "public", url], capture_output=True, check=True,
                          timeout=300).stdout


def report(where: str, data: bytes) -> list[str]:
    lines = []
    for f in scan_bytes(data):
        lines.append(f"{where}: offset {f.start}: a card number ({f.masked()}, Luhn-valid with a card prefix)")
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="append", default=[], help="an SQLite database file to dump and scan")
    parser.add_argument("--postgres", action="append", default=[], help="a PostgreSQL URL to pg_dump and scan")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args(argv)
    problems, scanned = [], 0
    for path in args.files:
        with open(path, "rb") as f:
            problems += report(path, f.read())
        scanned += 1
    for path in args.sqlite:
        problems += report(f"sqlite3 .dump of {path}", dump_sqlite(path))
        scanned += 1
    for url in args.postgres:
        problems += report("pg_dump of the e2e database", dump_postgres(url))
        scanned += 1
    for line in problems:
        print(line, file=sys.stderr)
    print(f"card scan: {scanned} sources, {len(problems)} card numbers found")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
