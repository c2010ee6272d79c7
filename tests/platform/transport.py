#!/usr/bin/env python3
"""`recur serve`'s transport protections (docs/SECURITY.md, Transport), against the real binary
on 127.0.0.1:

1. TLS (a self-signed certificate made here with the openssl CLI): TLS 1.2 and 1.3 clients
   are served; TLS 1.0/1.1 clients, a TLS 1.2 client offering only CBC suites, and a plain
   HTTP client are refused; answers carry HSTS and the security headers; /docs has a
   Content-Security-Policy without inline scripts, and no inline script.
2. Rate limits: per source IP on public routes (and for a missing or invalid key), per API
   key elsewhere; 429 application/problem+json `rate_limited` with Retry-After.
3. Slow clients: 20 connections from 127.0.0.1 trickling a request a byte at a time hold
   the per-address cap (--max-connections-per-ip 20); more from that address are closed at
   once, while a client from another loopback address (127.0.0.2) is answered promptly.

Usage: transport.py PATH/TO/recur
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from recur_server import Recur  # beside this file

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)



def get(conn, path, headers=None):
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def tls_context(cafile, minimum, maximum, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    if ciphers:
        ctx.set_ciphers(ciphers)
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    return ctx


def tls_handshake_refused(port, ctx):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                return False
    except (ssl.SSLError, ConnectionResetError):
        return True


def test_tls(recur, tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    server = Recur(recur, tmp, ["--tick", "3600", "--workers", "4", "--tls-cert", cert, "--tls-key", key])
    try:
        for label, version in (("TLS 1.2", ssl.TLSVersion.TLSv1_2), ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
            conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=5,
                                               context=tls_context(cert, version, version))
            status, headers, _ = get(conn, "/healthz")
            check(status == 200 and conn.sock.version() == label.replace(" ", "v"), f"a {label} client is served")
            check(headers.get("strict-transport-security") == "max-age=63072000", f"{label}: HSTS is sent")
            check(headers.get("x-content-type-options") == "nosniff" and headers.get("x-frame-options") == "DENY"
                  and headers.get("referrer-policy") == "no-referrer" and headers.get("cache-control") == "no-store",
                  f"{label}: nosniff, X-Frame-Options, Referrer-Policy and Cache-Control: no-store")
            conn.close()
        # The client is made willing (SECLEVEL=0 lets OpenSSL 3 speak TLS 1.0/1.1): the refusal is the server's.
        old = tls_context(cert, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
        check(tls_handshake_refused(server.port, old), "a TLS 1.0/1.1 client is refused")
        cbc = tls_context(cert, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                          "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256")
        check(tls_handshake_refused(server.port, cbc), "a TLS 1.2 client offering only CBC suites is refused")
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            status, _, _ = get(plain, "/healthz")
            check(False, f"a plain-HTTP client is refused (it got {status})")
        except (http.client.HTTPException, OSError):
            check(True, "a plain-HTTP client is refused")
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=5,
                                           context=tls_context(cert, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3))
        status, headers, body = get(conn, "/docs")
        csp = headers.get("content-security-policy", "")
        script_src = next((d.strip() for d in csp.split(";") if d.strip().startswith("script-src")), "")
        check(status == 200 and headers.get("content-type") == "text/html; charset=utf-8",
              "/docs is text/html; charset=utf-8")
        check(script_src == "script-src 'self'" and "frame-ancestors 'none'" in csp,
              f"/docs has a CSP with scripts from this origin only ({csp})")
        page = body.decode()
        check(page.count("<script") == page.count("<script src="), "/docs has no inline script")
        status, headers, body = get(conn, "/docs/swagger-init.js")
        check(status == 200 and b"SwaggerUIBundle" in body, "/docs/swagger-init.js is served")
        status, headers, _ = get(conn, "/v1/products")
        check(status == 401 and headers.get("cache-control") == "no-store" and
              headers.get("content-security-policy") == "default-src 'none'; frame-ancestors 'none'",
              "an API answer has Cache-Control: no-store and a CSP that loads nothing")
        conn.close()
    finally:
        server.stop()


def problem(status, headers, body):
    doc = json.loads(body) if headers.get("content-type") == "application/problem+json" else {}
    return status, doc.get("code"), headers.get("retry-after")


def test_rate_limits(recur, tmp):
    server = Recur(recur, tmp, ["--tick", "3600", "--workers", "4", "--rate-limit-ip", "5/min",
                                "--rate-limit-key", "8/min"])
    try:
        admin, other = server.key(), server.key()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        answers = [get(conn, "/healthz")[0] for _ in range(5)]
        check(answers == [200] * 5, f"5 public requests within 5/min are answered ({answers})")
        status, code, retry = problem(*get(conn, "/healthz"))
        check(status == 429 and code == "rate_limited" and retry is not None and 1 <= int(retry) <= 12,
              f"the 6th gets 429 rate_limited with Retry-After ({status} {code} {retry})")
        status, code, _ = problem(*get(conn, "/v1/products", {"Authorization": "Bearer sk_not_a_key"}))
        check(status == 429 and code == "rate_limited", f"an invalid key counts against the address ({status})")
        bearer = {"Authorization": f"Bearer {admin}"}
        answers = [get(conn, "/v1/products", bearer)[0] for _ in range(8)]
        check(answers == [200] * 8, f"8 requests with a key within 8/min are answered ({answers})")
        status, code, retry = problem(*get(conn, "/v1/products", bearer))
        check(status == 429 and code == "rate_limited" and retry is not None and 1 <= int(retry) <= 8,
              f"the key's 9th gets 429 rate_limited with Retry-After ({status} {code} {retry})")
        status, _, _ = get(conn, "/v1/products", {"Authorization": f"Bearer {other}"})
        check(status == 200, f"another key has its own bucket ({status})")
        conn.close()
    finally:
        server.stop()


def trickle_open(port, source):
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_at_once(s):
    """True if the server closes the connection without answering within 2 s."""
    s.settimeout(2)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def healthz_from(port, source):
    """Seconds /healthz took on a new connection from `source`, or None."""
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2, source_address=(source, 0))
        status = get(conn, "/healthz")[0]
        conn.close()
    except OSError:
        return None
    return time.monotonic() - started if status == 200 else None


def test_slow_clients(recur, tmp):
    cap = 20
    server = Recur(recur, tmp, ["--tick", "3600", "--workers", "4", "--max-connections-per-ip", str(cap)])
    slow = []
    try:
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
        for _ in range(cap):
            slow.append(trickle_open(server.port, "127.0.0.1"))
        sent = 0
        excess_closed, probes = [], []
        started = time.monotonic()
        while time.monotonic() - started < 4:
            for s in slow:  # a byte each, every 100 ms: far from finishing a request
                s.sendall(request[sent:sent + 1])
            sent += 1
            if sent % 5 == 0:
                excess = trickle_open(server.port, "127.0.0.1")
                excess_closed.append(closed_at_once(excess))
                excess.close()
                probes.append(healthz_from(server.port, "127.0.0.2"))
            time.sleep(0.1)
        check(all(excess_closed) and excess_closed,
              f"while {cap} slow connections are open, more from that address are closed at once "
              f"({sum(excess_closed)}/{len(excess_closed)})")
        answered = [p for p in probes if p is not None]
        check(len(answered) == len(probes) and probes and max(answered) < 0.5,
              f"another address is answered promptly meanwhile ({len(answered)}/{len(probes)}, slowest "
              f"{max(answered, default=float('nan')):.3f} s)")
        for s in slow:
            s.close()
        slow = []
        deadline, back = time.monotonic() + 5, None
        while back is None and time.monotonic() < deadline:
            back = healthz_from(server.port, "127.0.0.1")
        check(back is not None, "once they close, that address is served again")
        log = server.tail()
        check("connection refused" in log and "127.0.0.1" not in log.split("connection refused")[1][:200],
              "the refusal is logged without the address")
    finally:
        for s in slow:
            s.close()
        server.stop()


def main():
    recur = os.path.realpath(sys.argv[1])
    for name, test in (("tls", test_tls), ("rate-limits", test_rate_limits), ("slow-clients", test_slow_clients)):
        tmp = tempfile.mkdtemp(prefix=f"recur-transport-{name}-")
        try:
            test(recur, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
