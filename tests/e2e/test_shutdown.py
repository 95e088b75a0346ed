"""Graceful shutdown: SIGTERM stops accepting, finishes in-flight requests, exits 0."""

import signal
import socket
import threading
import time

import pytest
import requests


def test_sigterm_drains_in_flight(make_gateway, mock_only):
    g = make_gateway()
    result = {}

    def slow():
        try:
            result["r"] = g.get("/v1/sleep?s=1.5", timeout=10)
        except requests.RequestException as exc:
            result["exc"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    g.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # no longer accepting
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", g.port), timeout=2).close()
    t.join(10)
    assert "r" in result, result
    assert result["r"].status_code == 200
    assert g.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5
    assert "draining" in g.errors()


def test_sigterm_bounded_by_drain_timeout(make_gateway, mock_only):
    g = make_gateway("--drain-timeout", "1")

    def slow():
        try:
            requests.get(g.base + "/v1/sleep?s=5", verify=g.certs.cert, timeout=10)
        except requests.RequestException:
            pass  # cut off by the drain timeout, as intended

    t = threading.Thread(target=slow, daemon=True)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(10) == 0
    assert time.monotonic() - t0 < 4


def test_sigterm_idle_exits_quickly(make_gateway):
    g = make_gateway()
    # an idle keep-alive connection must not hold the shutdown
    s = requests.Session()
    assert s.get(g.base + "/v1/health", verify=g.certs.cert, timeout=5).status_code == 200
    t0 = time.monotonic()
    g.proc.send_signal(signal.SIGTERM)
    assert g.proc.wait(10) == 0
    assert time.monotonic() - t0 < 2
