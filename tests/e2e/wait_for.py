"""Bounded waits for the e2e harness, polling the condition (never a fixed sleep).

  wait_for.py http URL PID TIMEOUT   until URL answers HTTP (any status) while PID lives
  wait_for.py tcp HOST:PORT PID TIMEOUT  until HOST:PORT accepts a connection while PID lives
  wait_for.py exit PID TIMEOUT       until PID has exited (a zombie counts as exited)

Exit status 0 when the condition holds, 1 when the time ran out (or PID died first)."""
import socket
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


def accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def poll(condition, timeout: float, give_up=lambda: False) -> bool:
    deadline = time.monotonic() + timeout
    pause = 0.01
    while time.monotonic() < deadline:
        if condition():
            return True
        if give_up():
            return False
        time.sleep(pause)  # back-off between polls, bounded by the deadline
        pause = min(pause * 2, 0.2)
    return condition()


def main(argv) -> int:
    if len(argv) == 5 and argv[1] in ("http", "tcp"):
        url, pid, timeout = argv[2], int(argv[3]), float(argv[4])
        up = answers if argv[1] == "http" else accepts
        if poll(lambda: up(url), timeout, give_up=lambda: not alive(pid)):
            return 0
        why = f"process {pid} exited" if not alive(pid) else f"no answer within {timeout:g}s"
        print(f"wait_for: {url}: {why}", file=sys.stderr)
        return 1
    if len(argv) == 4 and argv[1] == "exit":
        pid, timeout = int(argv[2]), float(argv[3])
        return 0 if poll(lambda: not alive(pid), timeout) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
