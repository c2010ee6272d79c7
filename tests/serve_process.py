"""A `recur serve` that a crash test starts, SIGKILLs and restarts (tests/access/kill9_idempotency.py,
tests/webhooks/stream_kill9.py): a free loopback port kept across restarts, a log file per
start, started once the port accepts connections."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, recur: str, db_url: str, workdir: str, extra: list[str], name: str = "serve"):
        self.recur, self.db_url, self.workdir, self.extra, self.name = recur, db_url, workdir, extra, name
        self.port, self.proc, self.starts = free_port(), None, 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.workdir, f"{self.name}-{self.starts}.log"), "w")
        self.proc = subprocess.Popen([self.recur, "serve", "--db", self.db_url, "--listen", f"127.0.0.1:{self.port}",
                                      "--no-access-log", "--docs-dir", "", "--spec", "", *self.extra],
                                     stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"recur serve exited with {self.proc.returncode}; see {log.name}")
                time.sleep(0.02)
        raise SystemExit("recur serve did not start")

    def up(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.up():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
