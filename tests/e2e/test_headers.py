"""Forwarding to api.handle(): parameters, security headers, request ids, access log."""

import re
import time

import requests

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_echo_forwards_request(gateway, mock_only):
    r = gateway.post("/v1/echo/x?a=1&b=%E6%97%A5", data=b"\x00\x01body",
                     headers={"X-Test": "hello", "X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 200
    j = r.json()
    assert j["method"] == "POST"
    assert j["path"] == "/v1/echo/x"
    assert j["query"] == "a=1&b=%E6%97%A5"
    assert j["body_hex"] == "0001626f6479"
    assert j["headers"]["x-test"] == "hello"
    assert j["headers"]["host"] == f"127.0.0.1:{gateway.port}"
    assert j["client_addr"] == "127.0.0.1"  # X-Forwarded-For is not trusted by default
    assert r.headers["x-mock"] == "echo"


def test_repeated_headers_joined_and_lower_cased(gateway, mock_only):
    raw = (b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nX-DUP: two\r\nConnection: close\r\n\r\n")
    resp = gateway.raw_request(raw)
    assert resp.startswith(b"HTTP/1.1 200")
    assert b'"x-dup": "one, two"' in resp


def test_security_headers_on_api(gateway, mock_only):
    r = gateway.get("/v1/echo")
    h = r.headers
    assert h["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-store"
    assert "content-security-policy" not in h  # JSON, not HTML
    assert HEX32.match(h["x-request-id"])
    assert h["server"] == "machi"


def test_security_headers_on_errors(gateway, mock_only):
    for path, status in (("/v1/missing", 404), ("/v1/too-large", 413), ("/v1/fail", 500)):
        r = gateway.get(path)
        assert r.status_code == status
        assert r.headers["x-content-type-options"] == "nosniff"
        assert HEX32.match(r.headers["x-request-id"])


def test_several_set_cookie_headers(gateway, mock_only):
    raw = gateway.raw_request(b"GET /v1/cookies HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head = raw.split(b"\r\n\r\n")[0].lower()
    assert head.count(b"set-cookie: ") == 2
    assert b"set-cookie: a=1; secure; httponly" in head and b"set-cookie: b=2; secure; httponly" in head


def test_csp_on_html_and_db_cache_control_kept(gateway, mock_only):
    r = gateway.get("/v1/page")
    assert r.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; img-src 'self' data: https://cyberjapandata.gsi.go.jp; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'")
    r = gateway.get("/v1/cached")
    assert r.headers["cache-control"] == "public, max-age=60"


def test_request_id_forwarded_and_unique(gateway, mock_only):
    ids = set()
    for _ in range(5):
        r = gateway.get("/v1/echo")
        assert r.json()["request_id"] == r.headers["x-request-id"]
        ids.add(r.headers["x-request-id"])
    assert len(ids) == 5


def test_client_request_id_not_trusted(gateway, mock_only):
    r = gateway.get("/v1/echo", headers={"X-Request-Id": "spoofed"})
    assert r.headers["x-request-id"] != "spoofed"
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_db_headers_validated(gateway, mock_only):
    r = gateway.get("/v1/evil-headers")
    assert r.status_code == 200
    assert "x-evil" not in r.headers
    assert "set-cookie" not in r.headers
    assert r.headers["x-good"] == "fine"
    assert r.headers["x-list"] == "one, four"  # two headers; the element with a newline was dropped
    assert r.content == b"evil"


def test_db_error_hidden(gateway, mock_only):
    r = gateway.get("/v1/fail?token=QUERYSECRET")
    assert r.status_code == 500
    assert b"mock failure" not in r.content
    rid = r.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while rid not in gateway.errors() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = [ln for ln in gateway.errors().splitlines() if rid in ln][0]
    assert "mock failure" in line and "P0001" in line
    assert "QUERYSECRET" not in gateway.errors()


def test_health(gateway):
    r = gateway.get("/v1/health")
    assert r.status_code == 200
    j = r.json()
    assert j["status"] == "ok"
    assert j["database"]["status"] == "ok"
    assert j["pool"]["ready"] >= 1


def test_access_log_redacts_query(gateway, mock_only):
    r = gateway.get("/v1/echo?token=SECRET123&user=alice", headers={"Authorization": "Bearer TOPSECRET",
                                                                     "Cookie": "sid=COOKIEVAL"})
    rid = r.headers["x-request-id"]

    def logged():
        return rid in gateway.access()

    deadline = time.monotonic() + 5
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = gateway.access()
    line = [ln for ln in log.splitlines() if rid in ln][0]
    assert "/v1/echo?token=\u2026&user=\u2026" in line
    assert " GET " in line and " 200 " in line and "127.0.0.1" in line
    for secret in ("SECRET123", "alice", "TOPSECRET", "COOKIEVAL"):
        assert secret not in log


def test_plain_http_mode_has_no_hsts(make_gateway, mock_only):
    g = make_gateway(plain=True)
    r = requests.get(g.base + "/v1/echo", timeout=10)
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"


def test_trust_proxy_option(make_gateway, mock_only):
    g = make_gateway("--trust-proxy")
    r = g.get("/v1/echo", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert r.json()["client_addr"] == "203.0.113.9"
    r = g.get("/v1/echo", headers={"X-Forwarded-For": "not-an-ip"})
    assert r.json()["client_addr"] == "127.0.0.1"


def test_db_notices_not_logged(gateway, mock_only):
    r = gateway.get("/v1/notice?secret=NOTICESECRET")
    assert r.status_code == 200 and r.content == b"noticed"
    time.sleep(0.2)
    assert "NOTICESECRET" not in gateway.errors()
