"""TLS: 1.2 and 1.3 work with AEAD ciphers, 1.0 and 1.1 are refused, ALPN is http/1.1 only."""

import socket
import ssl

import pytest


def handshake(gateway, version, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(gateway.certs.cert)
    ctx.minimum_version = version
    ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    if alpn:
        ctx.set_alpn_protocols(alpn)
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    try:
        tls = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    except BaseException:
        sock.close()
        raise
    return tls


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_modern_tls_accepted(gateway, version):
    with handshake(gateway, version, ["h2", "http/1.1"]) as tls:
        assert tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]
        cipher = tls.cipher()[0]
        assert "GCM" in cipher or "CHACHA20" in cipher
        if version == ssl.TLSVersion.TLSv1_2:
            assert cipher.startswith("ECDHE-")
        assert tls.selected_alpn_protocol() == "http/1.1"  # h2 is off by default
        tls.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert tls.recv(100).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_refused(gateway, version):
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as exc:
        handshake(gateway, version).close()
    # refused by the server, not by our own client configuration
    assert "NO_PROTOCOLS_AVAILABLE" not in str(exc.value)
    assert gateway.get("/v1/health").status_code == 200


def test_weak_cipher_refused(gateway):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(gateway.certs.cert)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA")  # no AEAD
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(sock, server_hostname="127.0.0.1")


def test_plain_http_to_tls_port_gets_nothing_useful(gateway):
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
