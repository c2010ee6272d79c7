"""The billing suites' own server: `recur serve --test-mode` on a simulated clock, with its
own database and its own Prism proxy in front, shared by test_billing.py and test_refunds.py.

The suite's server (started by run.sh) runs on the real clock and is not in test mode, so
the time-driven flows run against a second server that a test module starts in
setUpModule and stops in tearDownModule (import both from here). Each module gets a fresh
server and database, so one module's clock moves never reach another's. The binary is the
one run.sh started (found from the suite's server process); the database is a fresh SQLite
file, or a fresh database on the same PostgreSQL server when the suite runs against
PostgreSQL.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from urllib.parse import parse_qs, urlparse, urlunparse

from recur_api import DIRECT, Api, ApiTestCase, Fixtures, format_time, parse_time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import card_scan  # noqa: E402  (tests/e2e/card_scan.py)
import wait_for  # noqa: E402  (tests/e2e/wait_for.py: bounded polling, never a blind sleep)

CLOCK_START = "2026-01-31T10:00:00Z"
# Stripe is configured on the test-mode server only so that its webhooks can be signed
# (test_gateway_webhooks.py); the API base goes nowhere, and nothing charges through it.
STRIPE_WEBHOOK_SECRET = "whsec_e2e_" + uuid.uuid4().hex
# The SMS provider's credentials and sending number on a server started with sms=True.
SMS_TOKEN = "sms_e2e_" + uuid.uuid4().hex
SMS_FROM = "+15005550006"


# ------------------------------------------------------------------ the test-mode server

class _TestModeServer:
    """A `recur serve --test-mode` and a Prism proxy in front of it, each in its own
    process group so that stopping them stops their children too."""

    def __init__(self, mail: bool = False, sms: bool = False):
        self.mail = mail  # e-mails go to a real SMTP server (aiosmtpd) whose maildir tests read
        self.sms = sms  # texts go to the local SMS sink (tests/notify/sms_sink.py), which records each
        self.tmp = tempfile.mkdtemp(prefix="recur-e2e-billing.")
        self.procs: list[subprocess.Popen] = []
        self.logs: dict[str, str] = {}
        self.pg_admin_url: str | None = None
        self.pg_database: str | None = None
        self.keys: dict[str, str] = {}
        self.direct = self.proxy = ""

    # -- setup

    def start(self):
        recur = find_recur_binary()
        db = self._database()
        self._run([recur, "migrate", "--db", db], "migrate")
        for role in ("admin", "support", "analyst"):
            out = self._run([recur, "keys", "create", "--role", role, "--db", db], f"keys-{role}")
            self.keys[role] = out.strip().splitlines()[-1].strip()
        app_port, prism_port = free_port(), free_port()
        mail_args = self._start_smtp() if self.mail else []
        mail_args += self._start_sms_sink() if self.sms else []
        # A day-long tick: only the test clock moves billing here, so every run is the test's.
        server = self._spawn("server", [recur, "serve", "--test-mode", "--clock-start", CLOCK_START,
                                        "--listen", f"127.0.0.1:{app_port}", "--db", db, "--no-access-log",
                                        "--tick", "86400", "--spec", "api/openapi.yaml", *mail_args],
                             env=dict(os.environ, RECUR_STRIPE_SECRET_KEY="sk_test_e2e",
                                      RECUR_STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
                                      RECUR_STRIPE_API_BASE="http://127.0.0.1:9"))
        self._wait_http(f"http://127.0.0.1:{app_port}/healthz", server, 30, "server")
        prism = self._spawn("prism", [os.path.join(REPO, "node_modules/.bin/prism"), "proxy", "api/openapi.yaml",
                                      f"http://127.0.0.1:{app_port}", "-h", "127.0.0.1", "-p", str(prism_port),
                                      "--errors"])
        self._wait_http(f"http://127.0.0.1:{prism_port}/healthz", prism, 60, "prism")
        self.direct = f"http://127.0.0.1:{app_port}"
        self.proxy = f"http://127.0.0.1:{prism_port}"

    def _start_smtp(self) -> list[str]:
        port = free_port()
        smtp = self._spawn("smtp", [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                                    "-c", "aiosmtpd.handlers.Mailbox", os.path.join(self.tmp, "maildir")])

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        if not wait_for.poll(listening, 30, give_up=lambda: smtp.poll() is not None):
            raise RuntimeError(f"the SMTP server did not start\n{self.log_tail('smtp')}")
        return ["--smtp-url", f"smtp://127.0.0.1:{port}"]

    def _start_sms_sink(self) -> list[str]:
        port = free_port()
        sink = self._spawn("sms", [sys.executable, os.path.join(REPO, "tests/notify/sms_sink.py"), str(port),
                                   os.path.join(self.tmp, "sms.jsonl")])

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        if not wait_for.poll(listening, 30, give_up=lambda: sink.poll() is not None):
            raise RuntimeError(f"the SMS sink did not start\n{self.log_tail('sms')}")
        return ["--sms-url", f"http://127.0.0.1:{port}/2010-04-01/Accounts/AC_e2e/Messages.json",
                "--sms-account", "AC_e2e", "--sms-token", SMS_TOKEN, "--sms-from", SMS_FROM]

    def texts(self) -> list[dict[str, str]]:
        """Every SMS the sink received, as {To, From, Body} (it records each before answering)."""
        try:
            with open(os.path.join(self.tmp, "sms.jsonl"), encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [{k: v[0] for k, v in parse_qs(r["body"], keep_blank_values=True).items()} for r in records]

    def messages(self) -> list[email.message.EmailMessage]:
        """Every e-mail the SMTP server accepted (it writes the file before answering 250)."""
        fresh = os.path.join(self.tmp, "maildir", "new")
        out = []
        for name in sorted(os.listdir(fresh)) if os.path.isdir(fresh) else []:
            with open(os.path.join(fresh, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    def _database(self) -> str:
        suite_db = os.environ.get("RECUR_E2E_DB", "")
        if not suite_db.startswith(("postgresql:", "postgres:")):
            return f"sqlite:{self.tmp}/e2e.db"
        # A database of our own on the suite's PostgreSQL server: the test clock moves
        # every subscription of its database, which must not be the suite's.
        psql = shutil.which("psql")
        if psql is None:
            raise RuntimeError("RECUR_E2E_DB is PostgreSQL but psql is not installed to create a second database")
        self.pg_admin_url = suite_db
        name = f"recur_billing_{uuid.uuid4().hex[:12]}"
        self._run([psql, suite_db, "-v", "ON_ERROR_STOP=1", "-q", "-c", f'CREATE DATABASE "{name}"'], "createdb")
        self.pg_database = name
        return urlunparse(urlparse(suite_db)._replace(path="/" + name))

    def _run(self, argv: list[str], name: str) -> str:
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{name}: {' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = os.path.join(self.tmp, f"{name}.log")
        self.logs[name] = log
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env)
        self.procs.append(proc)
        return proc

    def _wait_http(self, url: str, proc: subprocess.Popen, timeout: float, name: str):
        if not wait_for.poll(lambda: wait_for.answers(url), timeout, give_up=lambda: proc.poll() is not None):
            why = f"exited with {proc.returncode}" if proc.poll() is not None else f"no answer within {timeout:g}s"
            raise RuntimeError(f"test-mode {name} at {url}: {why}\n{self.log_tail(name)}")

    # -- teardown

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            with open(self.logs[name], encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (KeyError, OSError):
            return ""

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"billing_server: process {proc.pid} ignored SIGTERM; killing it", file=sys.stderr)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=15)
        self.procs = []
        leaks = self._card_scan()
        if self.pg_database:
            subprocess.run([shutil.which("psql") or "psql", self.pg_admin_url, "-q", "-c",
                            f'DROP DATABASE IF EXISTS "{self.pg_database}"'],
                           capture_output=True, timeout=60, check=False)
            self.pg_database = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        if leaks:
            raise AssertionError("card numbers in the test-mode server's logs or database:\n" + "\n".join(leaks))

    def _card_scan(self) -> list[str]:
        """What card_scan.py finds in this server's logs and its database, once stopped
        (docs/SECURITY.md, "Card data"); run.sh scans the suite's own server the same way."""
        leaks = []
        for name, path in self.logs.items():
            if name != "prism" and os.path.exists(path):  # Prism sees what tests send on purpose
                with open(path, "rb") as f:
                    leaks += card_scan.report(f"{name}.log", f.read())
        if self.pg_database:
            url = urlunparse(urlparse(self.pg_admin_url)._replace(path="/" + self.pg_database))
            leaks += card_scan.report("pg_dump of the test-mode database", card_scan.dump_postgres(url))
        elif os.path.exists(os.path.join(self.tmp, "e2e.db")):
            leaks += card_scan.report("sqlite3 .dump of the test-mode database",
                                      card_scan.dump_sqlite(os.path.join(self.tmp, "e2e.db")))
        return leaks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_recur_binary() -> str:
    """The binary run.sh was given: the one serving the suite (RECUR_E2E_DIRECT), found by
    its command line; RECUR_E2E_RECUR overrides, build/recur is the last resort."""
    if os.environ.get("RECUR_E2E_RECUR"):
        return os.path.realpath(os.environ["RECUR_E2E_RECUR"])
    listen = f"127.0.0.1:{urlparse(DIRECT).port}"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if "serve" in argv and listen in argv and os.path.basename(argv[0]).startswith("recur"):
            return argv[0] if os.path.isabs(argv[0]) else os.path.realpath(argv[0])
    return os.path.join(REPO, "build", "recur")


SERVER: _TestModeServer | None = None


def setUpModule(mail: bool = False, sms: bool = False, server_class: type | None = None):
    """Starts the module's server: a test-mode one, or `server_class` (a _TestModeServer
    whose start() runs something else)."""
    global SERVER
    SERVER = (server_class or _TestModeServer)(mail, sms)
    try:
        SERVER.start()
    except BaseException:
        SERVER.stop()
        SERVER = None
        raise


def tearDownModule():
    global SERVER
    if SERVER is not None:
        SERVER.stop()
        SERVER = None


class TestModeApi(Api):
    """A caller of the test-mode server (through its Prism proxy unless direct)."""

    def __init__(self, role: str = "admin", direct: bool = False):
        super().__init__(role, direct)
        self.base = SERVER.direct if direct else SERVER.proxy
        self.token = SERVER.keys[role]

    def request(self, method, path, **kw):
        if kw.get("key") is None:
            kw["key"] = self.token
        return super().request(method, path, **kw)


class TestModeCase(ApiTestCase):
    """Base of the suites on the test-mode server: `self.api` (admin, through its Prism),
    `self.raw` (admin, direct), and the clock."""

    @classmethod
    def setUpClass(cls):
        cls.api = TestModeApi("admin")
        cls.raw = TestModeApi("admin", direct=True)
        cls.make = Fixtures(cls.api)

    def now(self):
        r = self.api.get("/v1/test-clock")
        self.assertStatus(r, 200)
        self.assertEqual(r.json()["object"], "test_clock")
        return parse_time(r.json()["now"])

    def advance(self, to):
        r = self.api.post("/v1/test-clock/advance", {"to": format_time(to)})
        self.assertStatus(r, 200)
        self.assertEqual(parse_time(r.json()["now"]), to)
        return r.json()

    def attach(self, customer, token, **fields):
        r = self.api.post(f"/v1/customers/{customer['id']}/payment-methods", dict(token=token, **fields))
        self.assertStatus(r, 201)
        return r.json()

    def customer_with(self, token):
        customer = self.make.customer(card=None)
        pm = self.attach(customer, token)
        self.assertTrue(pm["default"])
        return customer, pm

    def renewing_with(self, token, plan, **customer_fields):
        """A subscription paid at signup with a good card, then `token` attached as the
        customer's default, so that its first renewal is charged to it (dunning acts on
        renewals: a refused first payment leaves the subscription incomplete instead,
        docs/billing-rules.md, "Checkout"): (customer, that card, subscription, renewal time)."""
        customer = self.make.customer(**customer_fields)
        sub = self.make.subscription(plan=plan, customer=customer)
        self.assertEqual(sub["status"], "active")
        pm = self.attach(customer, token, default=True)
        return customer, pm, sub, parse_time(sub["current_period"]["end"])

    def invoices(self, sub):
        return self.list_all("/v1/invoices", {"subscription": sub["id"]})

    def invoice(self, inv):
        r = self.api.get(f"/v1/invoices/{inv['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def payments(self, inv):
        return self.list_all("/v1/payments", {"invoice": inv["id"]})

    def subscription(self, sub):
        r = self.api.get(f"/v1/subscriptions/{sub['id']}")
        self.assertStatus(r, 200)
        return r.json()

    def set_dunning(self, **fields):
        # The suites' schedules are exact days: `fixed` unless a test asks for `smart`
        # (decline-aware timing, test_billing.py's DeclineAwareDunningTest).
        fields.setdefault("mode", "fixed")
        current = self.api.get("/v1/settings/dunning")
        self.assertStatus(current, 200)
        r = self.api.patch("/v1/settings/dunning", fields, headers={"If-Match": current.headers["ETag"]})
        self.assertStatus(r, 200)
        return r.json()
