#!/usr/bin/env python3
"""`recur serve` out of file descriptors: started with RLIMIT_NOFILE 256 (soft and hard, so
it cannot raise it), it gets 400 idle keep-alive connections. Over the next 5 s it must stay
cheap (CPU of the server < 0.5 s), quiet (< 100 log lines in all) and answer /healthz on a
new connection within 2 s each time. Twice: with the default connection cap (below the
limit: idle connections are closed to make room), and with a cap above the limit, so accept
itself fails with EMFILE (backoff, rate-limited warnings, an idle connection closed).

Usage: fd_exhaustion.py PATH/TO/recur [--report]   (--report: print the figures, assert nothing)
"""
import http.client
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

LIMIT = 256
IDLE = 400
WINDOW = 5.0
PROBE_TIMEOUT = 2.0
MAX_CPU = 0.5
MAX_LOG_LINES = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def healthz(port):
    """Seconds /healthz took on a new connection, or None if it did not answer 200 in time."""
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        return None
    return time.monotonic() - started if ok else None


def lines(path):
    with open(path, "rb") as f:
        return f.read().count(b"\n")


def scenario(recur, label, extra_flags, report_only):
    tmp = tempfile.mkdtemp(prefix="recur-fd-")
    port = free_port()
    log_path = os.path.join(tmp, "server.log")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [recur, "serve", "--db", f"sqlite:{tmp}/recur.db", "--listen", f"127.0.0.1:{port}", "--no-access-log",
             "--tick", "3600", "--io-threads", "2", "--workers", "8", *extra_flags],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT)))
    idle = []
    try:
        deadline = time.monotonic() + 30
        while healthz(port) is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"recur serve did not start; log:\n{open(log_path).read()[-2000:]}")
        for _ in range(IDLE):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))

        cpu_before = cpu_seconds(server.pid)
        probes = []
        started = time.monotonic()
        while time.monotonic() - started < WINDOW:
            probes.append(healthz(port))
            try:  # paces the probes; returns at once if the server dies
                server.wait(timeout=0.5)
                raise SystemExit("recur serve exited during the test")
            except subprocess.TimeoutExpired:
                pass
        cpu = cpu_seconds(server.pid) - cpu_before
        log_lines = lines(log_path)
        answered = [p for p in probes if p is not None]
        print(f"fd_exhaustion ({label}): {IDLE} idle connections at RLIMIT_NOFILE {LIMIT}: server CPU {cpu:.2f} s "
              f"over {WINDOW:.0f} s, {log_lines} log lines ({os.path.getsize(log_path)} bytes), /healthz answered "
              f"{len(answered)}/{len(probes)}, slowest {max(answered, default=float('nan')):.3f} s")
        if report_only:
            return 0
        failures = []
        if cpu >= MAX_CPU:
            failures.append(f"server CPU {cpu:.2f} s >= {MAX_CPU} s")
        if log_lines >= MAX_LOG_LINES:
            failures.append(f"{log_lines} log lines >= {MAX_LOG_LINES}")
        if len(answered) != len(probes) or not probes:
            failures.append(f"/healthz answered {len(answered)} of {len(probes)} probes within {PROBE_TIMEOUT} s")
        if failures:
            print(f"FAILED ({label}): " + "; ".join(failures) + "\nlast log lines:\n" + open(log_path).read()[-2000:])
            return 1
        return 0
    finally:
        for s in idle:
            s.close()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    recur = os.path.realpath(sys.argv[1])
    report_only = "--report" in sys.argv[2:]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client holds > 400 sockets
    failed = scenario(recur, "default cap", [], report_only)
    failed |= scenario(recur, "cap above the limit: EMFILE", ["--max-connections", "100000"], report_only)
    return failed


if __name__ == "__main__":
    sys.exit(main())
