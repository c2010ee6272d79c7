#!/usr/bin/python3
"""Unit test of the e2e card-number scanner (tests/e2e/card_scan.py), on fixtures:
card_scan_fixtures/pans.txt holds card numbers (test cards of every network the rule
knows, bare, grouped, inside JSON, SQL and log lines) that must each be found;
card_scan_fixtures/clean.txt holds what must not be taken for one (Unix times, ids,
hex, UUIDs, dates, phone numbers, amounts, Luhn failures, numbers without a card prefix).
Also the command line on SQLite databases with and without a card number."""
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import card_scan  # noqa: E402

FIXTURES = os.path.join(HERE, "card_scan_fixtures")


def fixture_lines(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]


class CardScanTest(unittest.TestCase):
    def test_finds_every_card_number_of_the_fixtures(self):
        lines = fixture_lines("pans.txt")
        self.assertGreater(len(lines), 10)
        for line in lines:
            expected, text = line.split("\t", 1)
            with self.subTest(text=text):
                found = card_scan.find_pans(text)
                self.assertEqual([f.digits for f in found], [expected])
                f = found[0]
                self.assertEqual("".join(c for c in text[f.start:f.end] if c.isdigit()), expected)

    def test_finds_nothing_in_the_near_misses(self):
        lines = fixture_lines("clean.txt")
        self.assertGreater(len(lines), 10)
        for text in lines:
            with self.subTest(text=text):
                self.assertEqual(card_scan.find_pans(text), [])

    def test_luhn_and_prefixes(self):
        self.assertTrue(card_scan.luhn("4242424242424242"))
        self.assertFalse(card_scan.luhn("4242424242424241"))
        for digits in ("4", "51", "55", "2221", "2720", "34", "37", "6011", "644", "649", "65", "35", "30", "36", "38"):
            self.assertTrue(card_scan.has_card_prefix(digits.ljust(16, "0")), digits)
        for digits in ("1", "50", "56", "2220", "2721", "33", "6010", "643", "9", "7", "8", "31", "39"):
            self.assertFalse(card_scan.has_card_prefix(digits.ljust(16, "0")), digits)

    def test_a_finding_is_shown_masked(self):
        (f,) = card_scan.find_pans("x 4242424242424242 y")
        self.assertEqual(f.masked(), "424242******4242")

    def run_cli(self, *args):
        return subprocess.run([sys.executable, os.path.join(HERE, "card_scan.py"), *args], capture_output=True,
                              text=True, timeout=60)

    def test_the_command_line_dumps_an_sqlite_database_and_scans_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            clean, dirty, log = (os.path.join(tmp, n) for n in ("clean.db", "dirty.db", "server.log"))
            for path, value in ((clean, "pm_01jh2k 4242"), (dirty, "4242 4242 4242 4242")):
                with sqlite3.connect(path) as db:
                    db.execute("CREATE TABLE t (id INTEGER, at INTEGER, doc TEXT, blob BLOB)")
                    db.execute("INSERT INTO t VALUES (?, ?, ?, ?)",
                               (1, 1767225600123, value, bytes.fromhex("0a4242424242424242b1")))
            with open(log, "w", encoding="utf-8") as f:
                f.write('{"type":"access","path":"/v1/customers","status":201,"duration_ms":1.5}\n')
            done = self.run_cli("--sqlite", clean, log)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("2 sources, 0 card numbers found", done.stdout)
            done = self.run_cli("--sqlite", dirty, log)
            self.assertEqual(done.returncode, 1)
            self.assertIn("424242******4242", done.stderr)
            self.assertNotIn("4242424242424242", done.stderr + done.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
