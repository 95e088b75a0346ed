"""Transport limits and request validation: body size, header floods, NUL/CR/LF, UTF-8, slow clients."""

import socket
import ssl
import threading
import time

import pytest
import requests


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else None


def test_413_on_big_body(gateway):
    size = 13 * 1024 * 1024  # default limit is 12 MiB
    resp = gateway.raw_request(b"POST /v1/echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % size + b"x" * 1000)
    assert status_of(resp) == 413
    head = resp.split(b"\r\n\r\n")[0].lower()
    assert b"x-content-type-options: nosniff" in head
    assert b"x-request-id: " in head


def test_413_chunked_over_limit(make_gateway):
    g = make_gateway("--body-limit", "64K")
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"
    resp = g.raw_request(b"POST /v1/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert status_of(resp) == 413


def test_body_below_limit_forwarded(gateway, mock_only):
    r = gateway.post("/v1/missing", data=b"y" * (1024 * 1024))
    assert r.status_code == 404


def test_too_many_headers(gateway):
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(80))  # default --max-headers 64
    resp = gateway.raw_request(b"GET /v1/echo HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n")
    assert status_of(resp) == 431
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(150))  # beyond h2o's parser limit
    resp = gateway.raw_request(b"GET /v1/echo HTTP/1.1\r\nHost: a\r\n" + extra + b"\r\n")
    assert status_of(resp) in (400, 431, None)
    assert gateway.get("/v1/health").status_code == 200


def test_too_large_headers(gateway):
    resp = gateway.raw_request(b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert status_of(resp) == 431
    # far beyond any limit: refused or cut off, never forwarded
    resp = gateway.raw_request(b"GET /v1/echo HTTP/1.1\r\nHost: a\r\n" +
                               b"".join(b"X-B%d: %s\r\n" % (i, b"b" * 8000) for i in range(60)) + b"\r\n")
    assert status_of(resp) in (400, 431, None)
    assert gateway.get("/v1/health").status_code == 200


@pytest.mark.parametrize("request_bytes", [
    b"GET /v1/echo%00x HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/echo?a=%00 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/ech\x00o HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/echo?a=\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
    b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n",
    b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-A: b\nX-B c\r\n\r\n",
    b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/%FF%FE HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/echo?q=\xc0\xaf HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /v1/echo HTTP/1.1\r\nHost: a\r\nX-A: \xff\r\n\r\n",
], ids=["pct-nul-path", "pct-nul-query", "nul-path", "nul-query", "nul-header", "cr-header", "lf-header",
        "non-utf8-path", "pct-non-utf8-path", "overlong-query", "non-utf8-header"])
def test_invalid_requests_rejected(gateway, request_bytes):
    resp = gateway.raw_request(request_bytes)
    assert status_of(resp) == 400, resp[:200]


def test_valid_utf8_path_accepted(gateway, mock_only):
    r = gateway.get("/v1/echo/%E6%97%A5%E6%9C%AC")
    assert r.status_code == 200
    assert r.json()["path"] == "/v1/echo/%E6%97%A5%E6%9C%AC"


def test_slow_client_closed_and_does_not_block_others(gateway):
    """Slowloris: one header byte per second; the gateway (--idle-timeout 3) closes it; others are served."""
    ctx = ssl.create_default_context(cafile=gateway.certs.cert)
    closed_after = []

    def slow():
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=15) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /v1/echo HTTP/1.1\r\n")
                start = time.monotonic()
                payload = b"X-Slow: " + b"a" * 30
                for b in payload:
                    try:
                        s.sendall(bytes([b]))
                        s.settimeout(1.0)
                        data = s.recv(1)
                        if data == b"":
                            break
                    except socket.timeout:
                        continue
                    except (OSError, ssl.SSLError):
                        break
                    if time.monotonic() - start > 12:
                        break
                closed_after.append(time.monotonic() - start)

    t = threading.Thread(target=slow)
    t.start()
    served = 0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert gateway.get("/v1/health", timeout=2).status_code == 200
        served += 1
        time.sleep(0.1)
    t.join(20)
    assert not t.is_alive()
    assert served >= 10
    assert closed_after and closed_after[0] < 8, closed_after


def test_chunked_body_forwarded(gateway, mock_only):
    body = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    resp = gateway.raw_request(b"POST /v1/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n" + body)
    assert status_of(resp) == 200
    assert b'"body_hex" : "6162636465"' in resp


def test_head_health(gateway):
    r = requests.head(gateway.base + "/v1/health", verify=gateway.certs.cert, timeout=5)
    assert r.status_code == 200 and r.content == b""
