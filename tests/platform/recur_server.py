"""`recur serve` on a fresh SQLite database in its own directory, for the platform suites
(transport.py, observability.py): started, waited for, given a key, stopped."""
import os
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recur:
    """`recur serve` on sqlite:WORKDIR/recur.db with `flags`; waits for its port unless told
    not to (a test that starts several at once waits for each later: wait_listening)."""

    def __init__(self, recur, workdir, flags, wait=True):
        self.recur, self.workdir, self.port = recur, workdir, free_port()
        self.db_file = os.path.join(workdir, "recur.db")
        self.db = f"sqlite:{self.db_file}"
        self.log_path = os.path.join(workdir, f"serve-{self.port}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [recur, "serve", "--db", self.db, "--listen", f"127.0.0.1:{self.port}", "--no-access-log",
             "--io-threads", "2", "--docs-dir", os.path.join(ROOT, "node_modules/swagger-ui-dist"),
             "--spec", os.path.join(ROOT, "api/openapi.yaml"), *flags],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        if wait:
            self.wait_listening()

    def wait_listening(self, port=None):
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port or self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"recur serve did not start; log:\n{self.tail()}")
                time.sleep(0.05)

    def key(self):
        out = subprocess.run([self.recur, "keys", "create", "--role", "admin", "--db", self.db], cwd=self.workdir,
                             capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip().splitlines()[-1].strip()

    def tail(self):
        self.log.flush()
        return open(self.log_path, errors="replace").read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
