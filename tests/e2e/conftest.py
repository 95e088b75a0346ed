"""End-to-end test fixtures for machi-gateway and machi-mailer.

By default a throwaway PostgreSQL cluster is created under /tmp (run as the
``postgres`` user, unix socket only) and the mock schema in
``fixture_mock_api.sql`` is loaded.  To test against an existing database
with the real extension instead, set:

    MACHI_E2E_PGHOST   socket directory or host of the cluster
    MACHI_E2E_PGPORT   its port (default 5432)
    MACHI_E2E_DB       database name (default machi)
    MACHI_E2E_PGUSER   superuser for fixtures (default postgres)

Tests that need the mock's routes or must stop the cluster are skipped then.
MACHI_GATEWAY_BIN / MACHI_MAILER_BIN select the binaries (e.g. the -asan ones).
"""

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import psycopg
import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GATEWAY_BIN = os.environ.get("MACHI_GATEWAY_BIN", os.path.join(ROOT, "gateway", "machi-gateway"))
MAILER_BIN = os.environ.get("MACHI_MAILER_BIN", os.path.join(ROOT, "gateway", "machi-mailer"))
PGBIN = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
EXTERNAL = bool(os.environ.get("MACHI_E2E_PGHOST"))

# Leak reports at exit would turn a clean shutdown into a failure; memory
# errors still abort the process.
CHILD_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
                 UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def free_port():
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it is true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


def as_postgres(*args, **kw):
    """Run a PostgreSQL binary as the postgres user (it refuses root)."""
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60, **kw)


class Cluster:
    """A PostgreSQL cluster: throwaway (under /tmp) or external (env)."""

    def __init__(self, external=EXTERNAL, standby_of=None):
        self.external = external
        if self.external:
            self.host = os.environ["MACHI_E2E_PGHOST"]
            self.port = int(os.environ.get("MACHI_E2E_PGPORT", "5432"))
            self.dbname = os.environ.get("MACHI_E2E_DB", "machi")
            self.superuser = os.environ.get("MACHI_E2E_PGUSER", "postgres")
            self.dir = None
            return
        self.dir = tempfile.mkdtemp(prefix="machi-e2e-pg-", dir="/tmp")
        shutil.chown(self.dir, "postgres")
        os.chmod(self.dir, 0o711)  # the socket must be reachable for gateways started with --user
        self.host = self.dir
        self.port = free_port()
        self.dbname = "machi"
        self.superuser = "postgres"
        self.data = os.path.join(self.dir, "data")
        try:
            if standby_of is not None:
                # a streaming standby of another throwaway cluster (for failover tests)
                as_postgres(os.path.join(PGBIN, "pg_basebackup"), "-D", self.data, "-h", standby_of.host, "-p",
                            str(standby_of.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync")
                self.start()
                return
            as_postgres(os.path.join(PGBIN, "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--locale=C", "--no-sync")
            self.start()
            with psycopg.connect(host=self.host, port=self.port, user="postgres", dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute("CREATE DATABASE machi")
            with self.connect() as conn:
                with open(os.path.join(HERE, "fixture_mock_api.sql"), encoding="utf-8") as f:
                    conn.execute(f.read())
        except BaseException:
            self.destroy()
            raise

    def start(self):
        """Start the throwaway cluster (unix socket only)."""
        as_postgres(os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "postgres.log"),
                    "-o", f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                          f"-c max_connections=100", "-w", "-t", "30", "start")

    def stop(self, mode="fast"):
        """Stop the throwaway cluster, waiting at most 30 s."""
        as_postgres(os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def promote(self):
        """Promote a standby to primary and wait for it."""
        as_postgres(os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-w", "-t", "30", "promote")

    def is_running(self):
        r = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_ctl"), "-D", self.data,
                            "status"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return r.returncode == 0

    def conninfo(self, user):
        return f"host={self.host} port={self.port} dbname={self.dbname} user={user} connect_timeout=5"

    def connect(self):
        """A superuser connection in autocommit mode."""
        return psycopg.connect(host=self.host, port=self.port, user=self.superuser, dbname=self.dbname,
                               autocommit=True, connect_timeout=5)

    def destroy(self):
        if self.external:
            return
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Certs:
    """A self-signed P-256 certificate for 127.0.0.1 made with the openssl CLI."""

    def __init__(self, directory):
        self.cert = os.path.join(directory, "cert.pem")
        self.key = os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
                        "-keyout", self.key, "-out", self.cert], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)


class Gateway:
    """A running machi-gateway on 127.0.0.1 with its logs in a temp dir."""

    def __init__(self, cluster, certs, *extra, plain=False, threads=2, wait_ready=True):
        self.dir = tempfile.mkdtemp(prefix="machi-e2e-gw-", dir="/tmp")
        self.port = free_port()
        self.plain = plain
        self.certs = certs
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        args = [GATEWAY_BIN, "--listen", f"127.0.0.1:{self.port}", "--conninfo", cluster.conninfo("machi_gateway"),
                "--threads", str(threads), "--db-connections", "2", "--access-log", self.access_log]
        if plain:
            args.append("--plain-http")
        else:
            args += ["--tls-cert", certs.cert, "--tls-key", certs.key]
        args += list(extra)
        self.errf = open(self.error_log, "wb")
        self.proc = subprocess.Popen(args, stdout=self.errf, stderr=self.errf, env=CHILD_ENV)
        wait_until(self._accepts, 10, what="gateway to listen")
        if wait_ready:
            wait_until(lambda: self.get("/v1/health").status_code == 200, 15, 0.1, what="gateway ready")

    @property
    def base(self):
        return f"{'http' if self.plain else 'https'}://127.0.0.1:{self.port}"

    def _accepts(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}: {self.errors()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        kw.setdefault("verify", self.certs.cert)
        return requests.get(self.base + path, **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", 10)
        kw.setdefault("verify", self.certs.cert)
        return requests.post(self.base + path, **kw)

    def raw(self, timeout=10):
        """A raw (TLS unless plain) socket to the gateway, for malformed requests."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        if self.plain:
            return sock
        ctx = ssl.create_default_context(cafile=self.certs.cert)
        return ctx.wrap_socket(sock, server_hostname="127.0.0.1")

    def raw_request(self, data, timeout=10):
        """Send raw bytes, return the raw response (until close or timeout).

        The server may answer and close before it has read everything (a
        request far over a limit): a send that fails then still reads what
        the server said.
        """
        with self.raw(timeout) as s:
            try:
                s.sendall(data)
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                pass
            chunks = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    b = s.recv(65536)
                except (ConnectionResetError, ssl.SSLError, socket.timeout):
                    break
                if not b:
                    break
                chunks.append(b)
                if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in b"".join(chunks):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:") and len(body) >= int(line.split(b":")[1]):
                            return b"".join(chunks)
            return b"".join(chunks)

    def alive(self):
        return self.proc.poll() is None

    def errors(self):
        with open(self.error_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def access(self):
        with open(self.access_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the gateway and return its exit status (kills it after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("gateway did not stop in time")
        self.errf.close()
        return self.proc.returncode

    def sanitizer_reports(self):
        """Lines of the error log written by ASan/UBSan (empty for a clean run)."""
        return [ln for ln in self.errors().splitlines()
                if "AddressSanitizer" in ln or "runtime error:" in ln or "LeakSanitizer" in ln]

    def destroy(self):
        with contextlib.suppress(Exception):
            self.stop(signal.SIGKILL, 5)
        shutil.rmtree(self.dir, ignore_errors=True)


class SmtpSink:
    """An aiosmtpd server on loopback recording every message.

    mode: "plain", "starttls" (STARTTLS required) or "implicit" (SMTPS); certs
    is needed for the TLS modes; auth=(user, password) requires AUTH; delay
    slows every DATA down (to catch a mailer mid-batch).
    """

    def __init__(self, delay=0.0, mode="plain", certs=None, auth=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages = []
        self.logins = []
        self.lock = threading.Lock()
        self.delay = delay
        sink = self
        kwargs = {}
        if mode != "plain":
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(certs.cert, certs.key)
            if mode == "starttls":
                kwargs.update(tls_context=tls, require_starttls=True)
            else:
                kwargs.update(ssl_context=tls)
        if auth is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                login = (auth_data.login.decode(), auth_data.password.decode())
                with sink.lock:
                    sink.logins.append(login)
                return AuthResult(success=login == auth)

            # aiosmtpd does not see implicit TLS as TLS, so only STARTTLS mode insists on it itself
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=mode == "starttls")

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
                import asyncio

                if sink.delay:
                    await asyncio.sleep(sink.delay)
                with sink.lock:
                    sink.messages.append(envelope.content)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def message_ids(self):
        import email

        with self.lock:
            return [email.message_from_bytes(m)["Message-ID"] for m in self.messages]

    def stop(self):
        self.controller.stop()


@pytest.fixture(scope="session")
def cluster():
    c = Cluster()
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def certs():
    d = tempfile.mkdtemp(prefix="machi-e2e-tls-", dir="/tmp")
    yield Certs(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def gateway(cluster, certs):
    """The shared gateway with default limits (idle timeout shortened for the slow-client test)."""
    g = Gateway(cluster, certs, "--idle-timeout", "3")
    yield g
    assert g.alive(), "the shared gateway died: " + g.errors()
    assert not g.sanitizer_reports(), g.errors()
    g.destroy()


@pytest.fixture
def make_gateway(cluster, certs):
    """Factory for gateways with their own options; all are cleaned up."""
    made = []

    def make(*extra, **kw):
        g = Gateway(cluster, certs, *extra, **kw)
        made.append(g)
        return g

    yield make
    problems = [g.errors() for g in made if g.sanitizer_reports() or (g.proc.returncode is None and not g.alive())]
    for g in made:
        g.destroy()
    assert not problems, problems


@pytest.fixture
def smtp_sink():
    s = SmtpSink()
    yield s
    s.stop()


@pytest.fixture
def mock_only(cluster):
    """Skip tests that rely on the mock's special routes."""
    if cluster.external:
        pytest.skip("needs the mock api fixture")


@pytest.fixture
def restartable(cluster):
    """Skip tests that stop the cluster when it is not ours; always leave it running."""
    if cluster.external:
        pytest.skip("needs a throwaway cluster")
    yield cluster
    if not cluster.is_running():
        cluster.start()
