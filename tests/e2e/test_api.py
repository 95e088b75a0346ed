"""The real HTTP API through the real gateway (runs against the extension).

Runs only when the suite points at a database with the machi extension and
demo data (MACHI_E2E_PGHOST..., as scripts/test.sh does); the mock schema
has none of these routes.
"""

import pytest

pytestmark = pytest.mark.usefixtures("real_api")


@pytest.fixture(scope="module")
def real_api(cluster):
    if not cluster.external:
        pytest.skip("needs the machi extension (MACHI_E2E_PGHOST)")
    with cluster.connect() as conn:
        n = conn.execute("SELECT count(*) FROM machi.tenant").fetchone()[0]
    if n == 0:
        pytest.skip("the database has no tenants")


def test_health(gateway):
    r = gateway.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_tenants_and_categories(gateway):
    r = gateway.get("/v1/tenants")
    assert r.status_code == 200
    tenants = {t["id"]: t for t in r.json()["tenants"]}
    assert 12101 in tenants and tenants[12101]["name"] == "千葉市中央区"
    r = gateway.get("/v1/tenants/12101/categories")
    assert r.status_code == 200
    codes = [c["code"] for c in r.json()["categories"]]
    assert "road" in codes
    assert gateway.get("/v1/tenants/424242/categories").status_code == 404


def test_locate_inside_and_outside(gateway):
    r = gateway.get("/v1/locate", params={"lat": "35.6073", "lon": "140.1063"})
    assert r.status_code == 200 and r.json()["tenant"]["id"] == 12101
    r = gateway.get("/v1/locate", params={"lat": "35.55", "lon": "139.95"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "outside_service_area"
    r = gateway.post("/v1/locate", json={"lat": 35.6376, "lon": 140.0924})
    assert r.status_code == 200 and r.json()["tenant"]["id"] == 12103


def test_errors_are_json_with_status(gateway):
    r = gateway.get("/v1/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = requests_delete(gateway, "/v1/tenants")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    r = gateway.post("/v1/locate", data=b'{"lat": 35.6', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"] == "request body is not valid JSON"
    r = gateway.post("/v1/locate", data=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = gateway.get("/v1/reports/1")
    assert r.status_code == 404


def test_security_headers_and_request_id(gateway):
    r = gateway.get("/v1/tenants")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in r.headers["strict-transport-security"]
    assert r.headers["cache-control"] == "no-store"
    assert len(r.headers["x-request-id"]) >= 16


def test_reports_need_a_citizen(gateway):
    r = gateway.post("/v1/reports", json={"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "x"})
    assert r.status_code == 401
    r = gateway.get("/v1/reports")
    assert r.status_code == 200 and isinstance(r.json()["reports"], list)
    assert gateway.get("/v1/staff/reports").status_code == 401


def test_open311(gateway):
    r = gateway.get("/open311/v2/discovery.json")
    assert r.status_code == 200
    assert r.json()["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    r = gateway.get("/open311/v2/services.xml", params={"jurisdiction_id": "12101"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert "<service_code>road</service_code>" in r.text
    r = gateway.get("/open311/v2/requests.json")
    assert r.status_code == 200 and isinstance(r.json(), list)


def requests_delete(gateway, path):
    import requests
    return requests.delete(gateway.base + path, timeout=10, verify=gateway.certs.cert)


def test_jobs_scheduled_in_pg_cron(cluster):
    """machi.schedule_jobs() installed every job of machi.job in pg_cron."""
    with cluster.connect() as conn:
        jobs = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT jobname, schedule, command FROM cron.job")}
        wanted = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT job_name, schedule, command FROM machi.job")}
    assert wanted, "machi.job is empty"
    for name, spec in wanted.items():
        assert jobs.get(name) == spec, name


def test_request_id_reaches_the_audit_trail(gateway, cluster):
    """The gateway's X-Request-Id is the request id of the API call in machi.audit_log."""
    r = gateway.get("/v1/tenants/12101/categories")
    rid = r.headers["x-request-id"]
    with cluster.connect() as conn:
        row = conn.execute("SELECT event, detail->>'path', (detail->>'status')::int FROM machi.audit_log "
                           "WHERE request_id = %s AND event = 'api_call'", (rid,)).fetchone()
    assert row == ("api_call", "/v1/tenants/12101/categories", 200)


def test_console_cookie_session_survives_a_reload(gateway, cluster):
    """A console (cookie) session gets its CSRF token back from GET /v1/auth/session, as a
    reloaded page does, and writes with it through the gateway; without it, or with another
    session's token, the write is refused."""
    import re
    import secrets

    email = f"e2e-reload-{secrets.token_hex(4)}@example.jp"
    with cluster.connect() as conn:
        initial = conn.execute("SELECT initial_password FROM machi.create_staff(12101, %s, 'E2E 再読込', 'staff')",
                               (email,)).fetchone()[0]

    def login():
        r = gateway.post("/v1/auth/login", json={"email": email, "password": initial, "cookie": True})
        assert r.status_code == 200, r.text
        m = re.match(r"__Host-machi_session=([A-Za-z0-9_-]{43});", r.headers["set-cookie"])
        assert m, r.headers["set-cookie"]
        return {"Cookie": f"__Host-machi_session={m.group(1)}"}, r.json()["csrf_token"]

    cookie, csrf = login()
    other_cookie, other_csrf = login()
    # "the reload": only the cookie is left
    r = gateway.get("/v1/auth/session", headers=cookie)
    assert r.status_code == 200
    body = r.json()
    assert body["csrf_token"] == csrf and body["token_type"] == "cookie"
    assert body["account"]["must_change_password"] is True
    assert "no-store" in r.headers["cache-control"]
    assert other_csrf != csrf
    assert gateway.get("/v1/auth/session", headers=other_cookie).json()["csrf_token"] == other_csrf
    new_password = f"reloaded console {secrets.token_hex(6)} 港"
    change = {"current_password": initial, "new_password": new_password}
    assert gateway.post("/v1/auth/password/change", json=change, headers=cookie).status_code == 403
    r = gateway.post("/v1/auth/password/change", json=change, headers={**cookie, "X-CSRF-Token": other_csrf})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed")
    r = gateway.post("/v1/auth/password/change", json=change, headers={**cookie, "X-CSRF-Token": body["csrf_token"]})
    assert r.status_code == 200, r.text
    assert gateway.get("/v1/me", headers=cookie).status_code == 200
    # the token is nowhere in the database, only its hash
    with cluster.connect() as conn:
        n = conn.execute("SELECT count(*) FROM machi.session WHERE csrf_hash = sha256(convert_to(%s, 'UTF8'))",
                         (csrf,)).fetchone()[0]
    assert n == 1
    # anonymous: nothing to give
    assert gateway.get("/v1/auth/session").status_code == 401
