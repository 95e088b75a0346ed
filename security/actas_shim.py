"""A loopback-only HTTP front for authenticated scans: ``Authorization: Bearer <token>`` with one of the per-run tokens in
$MACHI_SEC_TMP/tokens.json becomes ``machi.act_as(account)`` followed by
``api.handle(...)`` in the same transaction, exactly the call the gateway
makes.  Without a token the request is anonymous.  The accounts of the
attack world have no password (they are rows made by the superuser), so
this is how scanners act as them; the credential itself (bearer token,
session cookie, CSRF token) is scanned over the gateway with sessions from
POST /v1/auth/login (security/sqlmap.py).  Transport concerns (TLS,
limits) are the gateway's and are scanned there; this only widens the
injection scans to citizen and staff routes.

usage: actas_shim.py PORT   (libpq environment names the database)
"""

import http.server
import json
import os
import secrets
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402

LOCAL = threading.local()


def conn():
    c = getattr(LOCAL, "conn", None)
    if c is None or c.closed:
        c = LOCAL.conn = world.connect()
        c.execute("SET statement_timeout = '20s'")
        # injection payloads must reach the SQL, not the per-citizen posting
        # limit (20 an hour) nor the per-address login throttle (every
        # request here comes from 127.0.0.1); the answers of registration
        # and password reset need not wait for the enumeration floor (300 ms)
        # either: that is timed over the gateway by tests/security; nor need
        # the new password hashes of registration and password changes cost
        # 19 MiB of argon2id each (what is hashed never reaches a statement).
        # Only the shim's sessions are relaxed.
        c.execute("SET machi.report_rate_per_hour = 10000")
        c.execute("SET machi.address_failure_limit = 0")
        c.execute("SET machi.enumeration_floor_ms = 0")
        c.execute("SET machi.password_memory_kib = 1024")
        c.execute("SET machi.password_time_cost = 1")
    return c


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tokens = {}

    def log_message(self, fmt, *args):  # quiet; the tools keep their own logs
        pass

    def handle_any(self):
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else None
        auth = self.headers.get("authorization", "")
        account = None
        if auth.lower().startswith("bearer "):
            account = self.tokens.get(auth[7:].strip())
            if account is None:
                self.reply(401, {"content-type": "application/json"}, b'{"error":{"code":"unauthorized"}}')
                return
        hdrs = {k.lower(): v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")}
        c = conn()
        try:
            with c.transaction():
                if account is not None:
                    c.execute("SELECT machi.act_as(%s, 'security scan')", (account,))
                st, h, b = c.execute(
                    "SELECT status, headers, body FROM api.handle(%s, %s, %s, %s::jsonb, %s, '127.0.0.1', %s)",
                    (self.command, path, query, json.dumps(hdrs), body, "scan-" + secrets.token_hex(6))).fetchone()
        except Exception as exc:  # noqa: BLE001 - reported as a 599 so scanners notice
            LOCAL.conn = None
            self.reply(599, {"content-type": "text/plain"}, repr(exc).encode())
            return
        self.reply(st, h or {}, bytes(b or b""))

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection"):
                self.send_header(k, str(v))
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, name):
        # every method, known or not, goes to api.handle (it answers 405 itself)
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    port = int(sys.argv[1])
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        w = json.load(f)
    tokens = {name: secrets.token_urlsafe(32) for name in w["accounts"]}
    Handler.tokens = {tok: w["accounts"][name] for name, tok in tokens.items()}
    path = os.path.join(os.environ["MACHI_SEC_TMP"], "tokens.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(tokens, f)
    Server(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
