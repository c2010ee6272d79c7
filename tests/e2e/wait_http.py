"""Waits until URL answers HTTP (any status) while process PID is alive, for at most
TIMEOUT seconds. Usage: wait_http.py URL PID TIMEOUT. Exit 0 when ready, 1 otherwise."""
import sys
import time
import urllib.error
import urllib.request


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the listener is up
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def main() -> int:
    url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    deadline = time.monotonic() + timeout
    pause = 0.02
    while time.monotonic() < deadline:
        if not alive(pid):
            print(f"wait_http: process {pid} exited before {url} answered", file=sys.stderr)
            return 1
        if answers(url):
            return 0
        time.sleep(pause)  # back off between polls of the condition, bounded by the deadline
        pause = min(pause * 2, 0.25)
    print(f"wait_http: {url} did not answer within {timeout:g}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
