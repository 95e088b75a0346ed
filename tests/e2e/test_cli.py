"""Command line and config file of machi-gateway."""

import os
import subprocess
import tempfile

import requests

from conftest import CHILD_ENV, GATEWAY_BIN, free_port, wait_until

OPTIONS = ["--config", "--listen", "--tls-cert", "--tls-key", "--plain-http", "--conninfo", "--threads",
           "--db-connections", "--pipeline-depth", "--body-limit", "--max-headers", "--max-header-bytes",
           "--request-timeout", "--idle-timeout", "--max-queued", "--retry-after", "--drain-timeout", "--static-dir",
           "--access-log", "--user", "--trust-proxy", "--http2", "--help"]


def run(*args):
    return subprocess.run([GATEWAY_BIN, *args], capture_output=True, text=True, timeout=10, env=CHILD_ENV)


def test_help_documents_every_option():
    r = run("--help")
    assert r.returncode == 0
    for opt in OPTIONS:
        assert opt in r.stdout, opt
    assert "rapid-reset" in r.stdout


def test_usage_errors():
    assert run("--bogus").returncode == 2
    assert run("--threads", "0").returncode == 2
    assert run("--listen", "nowhere").returncode == 2
    r = run("--listen", "127.0.0.1:1")  # no TLS files and no --plain-http
    assert r.returncode == 2 and "--tls-cert" in r.stderr
    r = run("--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key", "--listen", f"127.0.0.1:{free_port()}")
    assert r.returncode == 1 and "certificate" in r.stderr


def test_config_file(cluster, mock_only):
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", dir="/tmp", delete=False) as f:
        f.write(f"# test configuration\nlisten = 127.0.0.1:{port}\nplain-http = true\n"
                f"conninfo = {cluster.conninfo('machi_gateway')}\nthreads = 1\naccess-log = off\n")
    proc = subprocess.Popen([GATEWAY_BIN, "--config", f.name], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=CHILD_ENV)
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200, 10,
                   0.1, what="gateway from config file")
        assert requests.get(f"http://127.0.0.1:{port}/v1/echo", timeout=5).json()["path"] == "/v1/echo"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        os.unlink(f.name)


def test_ipv4_and_ipv6_listeners(cluster, certs, mock_only):
    """Two --listen addresses, one of them IPv6 loopback, both served."""
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port6 = s.getsockname()[1]
    except OSError:
        import pytest

        pytest.skip("no IPv6 loopback")
    port4 = free_port()
    proc = subprocess.Popen([GATEWAY_BIN, "--listen", f"127.0.0.1:{port4}", "--listen", f"[::1]:{port6}",
                             "--tls-cert", certs.cert, "--tls-key", certs.key, "--conninfo",
                             cluster.conninfo("machi_gateway"), "--threads", "2", "--access-log", "off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
    try:
        for url in (f"https://127.0.0.1:{port4}/v1/echo", f"https://[::1]:{port6}/v1/echo"):
            wait_until(lambda: requests.get(url, verify=certs.cert, timeout=2).status_code == 200, 10, 0.1,
                       what=f"gateway on {url}")
        r = requests.get(f"https://[::1]:{port6}/v1/echo", verify=certs.cert, timeout=5)
        assert r.json()["client_addr"] == "::1"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_drops_privileges_with_user(make_gateway, mock_only):
    import pwd

    g = make_gateway("--user", "nobody")
    assert g.get("/v1/echo").status_code == 200
    with open(f"/proc/{g.proc.pid}/status") as f:
        uids = [ln.split()[1:] for ln in f if ln.startswith("Uid:")][0]
    assert set(uids) == {str(pwd.getpwnam("nobody").pw_uid)}
    assert "running as root" not in g.errors()


def test_sighup_reopens_access_log(make_gateway):
    import signal

    g = make_gateway()
    assert g.get("/v1/health").status_code == 200
    wait_until(lambda: "/v1/health" in g.access(), 5, what="first log line")
    os.rename(g.access_log, g.access_log + ".1")
    g.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: os.path.exists(g.access_log), 5, what="log reopened")
    r = g.get("/v1/health")
    wait_until(lambda: r.headers["x-request-id"] in g.access(), 5, what="line in the new log")
    with open(g.access_log + ".1") as f:
        assert r.headers["x-request-id"] not in f.read()
    assert g.alive()
