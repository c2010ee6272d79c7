"""Runs every tests/e2e/test_*.py against the server run.sh started; ends with
`N passed, M failed` and exits non-zero on any failure or error."""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    sys.path.insert(0, HERE)
    pattern = os.environ.get("RECUR_E2E_PATTERN", "test_*.py")
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    started = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    tally = f"{passed} passed, {failed} failed" + (f", {len(result.skipped)} skipped" if result.skipped else "")
    print(f"e2e: {result.testsRun} tests in {time.monotonic() - started:.1f}s")
    print(tally)
    if os.environ.get("RECUR_E2E_SUMMARY"):  # run.sh repeats it after any logs it prints
        with open(os.environ["RECUR_E2E_SUMMARY"], "w", encoding="utf-8") as f:
            f.write(f"e2e: {tally}\n")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
