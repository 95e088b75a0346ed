"""Database-facing behaviour: client disconnects mid-query, timeouts, outages, restarts, multi-host."""

import socket
import ssl
import threading
import time

import requests

from conftest import wait_until


def test_disconnect_mid_query(gateway, mock_only):
    """Clients that go away while their query runs must not disturb the gateway."""
    ctx = ssl.create_default_context(cafile=gateway.certs.cert)
    for _ in range(8):
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET /v1/sleep?s=1 HTTP/1.1\r\nHost: a\r\n\r\n")
                time.sleep(0.05)
    # served while the abandoned queries are still running
    assert gateway.get("/v1/echo").status_code == 200
    time.sleep(1.5)  # let the abandoned results arrive and be dropped
    for _ in range(20):
        assert gateway.get("/v1/echo").status_code == 200
    assert gateway.alive()


def test_request_timeout_504(make_gateway, mock_only):
    g = make_gateway("--request-timeout", "1")
    t0 = time.monotonic()
    r = g.get("/v1/sleep?s=3")
    assert r.status_code == 504
    assert time.monotonic() - t0 < 2.5
    assert g.get("/v1/echo").status_code == 200


def test_queue_full_503(make_gateway, mock_only):
    g = make_gateway("--threads", "1", "--pipeline-depth", "1", "--max-queued", "1", "--retry-after", "7")
    results = []

    def call():
        try:
            results.append(g.get("/v1/sleep?s=1", timeout=10))
        except requests.RequestException as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    codes = sorted(r.status_code for r in results)
    assert 200 in codes and 503 in codes, codes
    r503 = [r for r in results if r.status_code == 503][0]
    assert r503.headers["retry-after"] == "7"


def test_503_when_database_down(gateway, restartable):
    cluster = restartable
    cluster.stop()
    try:
        t0 = time.monotonic()
        r = gateway.get("/v1/echo")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "2"
        assert time.monotonic() - t0 < 1.0
        r = gateway.get("/v1/health")
        assert r.status_code == 503
    finally:
        cluster.start()
    wait_until(lambda: gateway.get("/v1/health").status_code == 200, 15, 0.1, what="recovery")
    assert "database connection" in gateway.errors()


def test_restart_during_load(gateway, restartable, mock_only):
    cluster = restartable
    stop = threading.Event()
    codes = []
    errors = []

    def load():
        s = requests.Session()
        while not stop.is_set():
            try:
                codes.append(s.get(gateway.base + "/v1/echo", verify=gateway.certs.cert, timeout=5).status_code)
            except requests.RequestException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        cluster.stop()
        time.sleep(1.0)
        cluster.start()
        wait_until(lambda: gateway.get("/v1/echo").status_code == 200, 15, 0.1, what="recovery")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert gateway.alive()
    assert not errors, errors[:3]
    assert set(codes) <= {200, 503}, set(codes)
    assert 503 in codes and codes[-1] == 200
    assert codes.count(200) > 50


def test_multi_host_conninfo_skips_dead_host(cluster, certs, make_gateway, mock_only):
    """The first host is not there; libpq moves on to the next one."""
    if cluster.external:
        return
    import conftest

    dead = f"/tmp/machi-e2e-nohost-{conftest.free_port()}"
    conninfo = (f"host={dead},{cluster.host} port={cluster.port},{cluster.port} dbname={cluster.dbname} "
                f"user=machi_gateway")
    g = make_gateway("--conninfo", conninfo)
    assert g.get("/v1/echo").status_code == 200


def test_http2_stream_abandoned_mid_query(make_gateway, mock_only):
    """With --http2, closing the connection disposes the request while its query runs (abandon path)."""
    import subprocess

    g = make_gateway("--http2")
    assert "rapid-reset" in g.errors()
    url = g.base + "/v1/sleep?s=1"
    procs = [subprocess.Popen(["curl", "-s", "--http2", "--cacert", g.certs.cert, "-m", "0.3", "-o", "/dev/null",
                               url, url, url]) for _ in range(4)]
    for p in procs:
        p.wait(10)
    out = subprocess.run(["curl", "-s", "--http2", "--cacert", g.certs.cert, "-o", "/dev/null", "-w",
                          "%{http_version} %{http_code}", g.base + "/v1/echo"], capture_output=True, text=True,
                         timeout=10).stdout
    assert out == "2 200"
    time.sleep(1.3)  # the abandoned results arrive now and must be dropped safely
    assert g.get("/v1/echo").status_code == 200
    assert g.alive()


def test_follows_promoted_standby(certs, make_gateway, mock_only):
    """Multi-host conninfo + target_session_attrs=read-write: after failover the gateway finds the new primary."""
    from conftest import Cluster

    primary = Cluster(external=False)
    standby = None
    try:
        standby = Cluster(external=False, standby_of=primary)
        conninfo = (f"host={primary.host},{standby.host} port={primary.port},{standby.port} dbname=machi "
                    f"user=machi_gateway connect_timeout=2")
        g = make_gateway("--conninfo", conninfo)
        # every event loop has its own pool: wait until the one answering is connected
        wait_until(lambda: g.get("/v1/echo").status_code == 200, 10, 0.1, what="pools connected")
        primary.stop("immediate")
        time.sleep(0.3)
        # the standby alone is read-only: the gateway must not use it
        assert g.get("/v1/echo").status_code == 503
        standby.promote()
        wait_until(lambda: g.get("/v1/echo").status_code == 200, 15, 0.1, what="failover to the promoted standby")
    finally:
        if standby is not None:
            standby.destroy()
        primary.destroy()


def test_unresponsive_first_host_is_skipped(cluster, make_gateway, mock_only):
    """A first host that accepts TCP but never answers is given up after connect_timeout; the next one is used."""
    if cluster.external:
        return
    import socket as socketmod

    with socketmod.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)  # never accepted: the startup packet is never answered
        port = blackhole.getsockname()[1]
        conninfo = (f"host=127.0.0.1,{cluster.host} port={port},{cluster.port} dbname={cluster.dbname} "
                    f"user=machi_gateway connect_timeout=2")
        t0 = time.monotonic()
        g = make_gateway("--conninfo", conninfo, "--threads", "1", wait_ready=False)
        wait_until(lambda: g.get("/v1/echo").status_code == 200, 15, 0.1, what="second host used")
        assert time.monotonic() - t0 < 10
