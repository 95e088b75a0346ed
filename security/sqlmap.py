"""sqlmap against every route of machi.routes that takes input.

Each target marks its injection points with ``*`` (path segments, query
values, JSON and form values) and runs in its own output directory with a
time limit.  sqlmap exits 0 whether or not it found anything: a finding is
a non-empty ``<output-dir>/<host>/log``, and that is what is read here.

Anonymous and Open311 targets go through the gateway (HTTPS); citizen and
staff targets go through the act-as shim with a bearer token (see
actas_shim.py).  Routes of machi.routes with input that no target covers are
listed as uncovered, so new routes show up in docs/security.md.

Writes $MACHI_SEC_OUT/sqlmap.json; exit status 1 on a finding or an
uncovered route.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402

OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
BASE = os.environ["MACHI_SEC_BASE"]
SHIM = os.environ["MACHI_SEC_SHIM"]
PER_TARGET = int(os.environ.get("MACHI_SQLMAP_SECONDS", "150"))
PARALLEL = int(os.environ.get("MACHI_SQLMAP_PARALLEL", "3"))


def own_reports(w):
    """A report of its own for every target that writes, so that no target's
    writes change what another target reads: boolean-blind detection
    compares responses, and a list that grows meanwhile looks injectable."""
    acc = w["accounts"]
    own = {}
    with world.connect() as c:
        c.execute("SET machi.report_rate_per_hour = 10000")
        for name in ("comment", "photo-add", "staff-patch", "staff-respond", "thanks", "thanks-delete", "photo-get"):
            st, _, body = world.call(c, acc["cit_a"], "POST", "/v1/reports", body={
                "category": "road", "lat": 35.6073, "lon": 140.1063, "title": f"sqlmap {name}"})
            assert st == 201, body
            own[name] = json.loads(body)["report"]["id"]
        for name in ("thanks", "thanks-delete"):
            st, _, body = world.call(c, acc["admin_a"], "PATCH", f"/v1/staff/reports/{own[name]}",
                                     body={"visibility": "public"})
            assert st == 200, body
        st, _, body = world.call(c, acc["cit_a"], "POST", f"/v1/reports/{own['photo-get']}/photos",
                                 body=world.tiny_png(), headers={"content-type": "image/png"})
        assert st == 201, body
    return own


def targets(w, tokens, own):
    """(name, route "METHOD pattern", who, url, data, content-type) for every input-taking route.

    Targets that write use reports of their own (own_reports) and create
    reports in tenant B only; every reader looks at tenant A."""
    kb = w["api_keys"]["b"]
    r_priv, r_pub = w["reports"]["private_a"], w["reports"]["public_a"]
    bbox = "140.0,35.5,140.2,35.7"
    t = [
        ("tenant-categories", "GET /v1/tenants/{id}/categories", None, f"{BASE}/v1/tenants/12101*/categories", None, None),
        ("locate-get", "GET /v1/locate", None, f"{BASE}/v1/locate?lat=35.6073*&lon=140.1063*", None, None),
        ("locate-post", "POST /v1/locate", None, f"{BASE}/v1/locate", '{"lat": 35.6073*, "lon": 140.1063*}', "application/json"),
        ("reports-list", "GET /v1/reports", None,
         f"{BASE}/v1/reports?bbox={bbox}*&status=received*&category=road*&q=CANARY*&limit=10*", None, None),
        ("reports-list-page", "GET /v1/reports", None, f"{BASE}/v1/reports?after=3*&from=2020-01-01*&to=2099-01-01*", None, None),
        ("report-get", "GET /v1/reports/{id}", None, f"{BASE}/v1/reports/{r_pub}*", None, None),
        ("photo-get", "GET /v1/reports/{id}/photos/{n}", "cit_a", f"{SHIM}/v1/reports/{own['photo-get']}*/photos/1*", None, None),
        ("o311-services", "GET /open311/v2/services.json", None, f"{BASE}/open311/v2/services.json?jurisdiction_id=12101*", None, None),
        ("o311-services-xml", "GET /open311/v2/services.xml", None, f"{BASE}/open311/v2/services.xml?jurisdiction_id=12101*", None, None),
        ("o311-service", "GET /open311/v2/services/{code}", None, f"{BASE}/open311/v2/services/road*.json?jurisdiction_id=12101", None, None),
        ("o311-requests", "GET /open311/v2/requests.json", None,
         f"{BASE}/open311/v2/requests.json?jurisdiction_id=12101*&status=open*&service_code=road*&service_request_id={r_pub}*",
         None, None),
        ("o311-requests-xml", "GET /open311/v2/requests.xml", None,
         f"{BASE}/open311/v2/requests.xml?jurisdiction_id=12101*&status=open*", None, None),
        ("o311-request", "GET /open311/v2/requests/{id}", None, f"{BASE}/open311/v2/requests/{r_pub}*.json?jurisdiction_id=12101*", None, None),
        ("o311-token", "GET /open311/v2/tokens/{token}", None, f"{BASE}/open311/v2/tokens/abc*.json", None, None),
        ("o311-post", "POST /open311/v2/requests.json", None, f"{BASE}/open311/v2/requests.json",
         f"api_key={kb}&jurisdiction_id=12103*&service_code=road*&lat=35.6376*&long=140.0924*&description=hole*"
         "&address_string=here*", "application/x-www-form-urlencoded"),
        ("o311-post-xml", "POST /open311/v2/requests.xml", None, f"{BASE}/open311/v2/requests.xml",
         f"api_key={kb}*&jurisdiction_id=12103&service_code=road&lat=35.6376&long=140.0924&description=x",
         "application/x-www-form-urlencoded"),
        ("discovery", "GET /open311/v2/discovery.json", None, f"{BASE}/open311/v2/discovery.json?format=json*", None, None),
        ("discovery-xml", "GET /open311/v2/discovery.xml", None, f"{BASE}/open311/v2/discovery.xml?x=1*", None, None),
        # citizen (bearer through the shim)
        ("report-create", "POST /v1/reports", "creator", f"{SHIM}/v1/reports",
         '{"category": "road*", "lat": 35.6376*, "lon": 140.0924*, "title": "hole*", "description": "deep*", '
         '"address": "here*", "kind": "problem*"}', "application/json"),
        ("reports-mine", "GET /v1/reports", "cit_a", f"{SHIM}/v1/reports?mine=1*&status=received*", None, None),
        ("report-get-own", "GET /v1/reports/{id}", "cit_a", f"{SHIM}/v1/reports/{r_priv}*", None, None),
        ("comment", "POST /v1/reports/{id}/comments", "cit_a", f"{SHIM}/v1/reports/{own['comment']}*/comments",
         '{"body": "more detail*"}', "application/json"),
        ("thanks", "POST /v1/reports/{id}/thanks", "cit_b", f"{SHIM}/v1/reports/{own['thanks']}*/thanks", None, None),
        ("thanks-delete", "DELETE /v1/reports/{id}/thanks", "cit_b", f"{SHIM}/v1/reports/{own['thanks-delete']}*/thanks", None, None),
        ("photo-add", "POST /v1/reports/{id}/photos", "cit_a", f"{SHIM}/v1/reports/{own['photo-add']}*/photos", None, None),
        # staff
        ("staff-queue", "GET /v1/staff/reports", "admin_a",
         f"{SHIM}/v1/staff/reports?status=received*&category=road*&department=1*&assignee=1*&q=x*&from=2020-01-01*"
         f"&to=2099-01-01*&bbox={bbox}*&after=1*", None, None),
        ("staff-csv", "GET /v1/staff/reports.csv", "admin_a", f"{SHIM}/v1/staff/reports.csv?bom=1*&status=received*",
         None, None),
        ("staff-patch", "PATCH /v1/staff/reports/{id}", "admin_a", f"{SHIM}/v1/staff/reports/{own['staff-patch']}*",
         '{"status": "in_progress*", "note": "checking*", "public_title": "t*", "public_description": "d*", '
         '"visibility": "private*"}', "application/json"),
        ("staff-respond", "POST /v1/staff/reports/{id}/responses", "admin_a",
         f"{SHIM}/v1/staff/reports/{own['staff-respond']}*/responses", '{"body": "we are on it*", "visibility": "internal*"}',
         "application/json"),
    ]
    return t


def run_one(t, tokens):
    name, route, who, url, data, ctype = t
    outdir = os.path.join(TMP, "sqlmap", name)
    method = route.split()[0]
    cmd = ["sqlmap", "-u", url, "--method", method, "--batch", "--level", "3", "--risk", "2",
           "--dbms", "PostgreSQL", "--technique", "BEUST", "--time-sec", "2", "--skip-waf", "--flush-session",
           "--disable-coloring", "--ignore-code", "404", "--output-dir", outdir, "--timeout", "15", "--retries", "1"]
    headers = []
    if who:
        headers.append(f"Authorization: Bearer {tokens[who]}")
    if ctype:
        headers.append(f"Content-Type: {ctype}")
    if headers:
        cmd += ["--headers", "\n".join(headers)]
    if data is not None:
        cmd += ["--data", data]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=PER_TARGET,
                           cwd=TMP)
        out, timed_out = p.stdout, False
    except subprocess.TimeoutExpired as e:
        out, timed_out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), True
    with open(os.path.join(TMP, "sqlmap", name + ".out"), "w") as f:
        f.write(out)
    findings = []
    for host in os.listdir(outdir) if os.path.isdir(outdir) else []:
        log = os.path.join(outdir, host, "log")
        if os.path.isfile(log) and os.path.getsize(log) > 0:
            with open(log, errors="replace") as f:
                findings.append(f.read()[:2000])
    tested = sorted(set(re.findall(r"testing (?:URI|GET|POST|\(custom\) POST|JSON|custom) parameter '([^']+)'", out)
                        + re.findall(r"parameter '([^']+)' does not seem to be injectable", out)))
    statuses = re.findall(r"(\d{3}) \([^)]*\) - (\d+) times", out)
    return {"name": name, "route": route, "as": who or "anonymous", "findings": findings, "timed_out": timed_out,
            "seconds": round(time.monotonic() - t0, 1), "points": tested, "statuses": statuses}


def main():
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        w = json.load(f)
    with open(os.path.join(TMP, "tokens.json")) as f:
        tokens = json.load(f)
    with world.connect() as c:
        routes = [f"{m} {p}" for m, p, mb in c.execute("SELECT method, pattern, max_body FROM machi.routes")
                  if "{" in p or mb > 0 or m == "GET"]
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "sqlmap"], capture_output=True,
                                 text=True).stdout
    own = own_reports(w)
    ts = targets(w, tokens, own)
    os.makedirs(os.path.join(TMP, "sqlmap"), exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as ex:
        results = list(ex.map(lambda t: run_one(t, tokens), ts))
    covered = {t[1] for t in ts}
    no_input = {"GET /v1/health", "GET /v1/tenants"}
    uncovered = sorted(r for r in routes if r not in covered and r not in no_input)
    n_find = sum(len(r["findings"]) for r in results)
    untested = [r["name"] for r in results if not r["points"]]
    summary = {"tool": "sqlmap", "version": version, "targets": results, "uncovered_routes": uncovered,
               "findings": n_find, "untested": untested, "options": "--level 3 --risk 2 --technique BEUST --dbms PostgreSQL"}
    with open(os.path.join(OUT, "sqlmap.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for r in results:
        print(f"{r['name']:22} {r['as']:9} {len(r['findings'])} findings, {r['seconds']}s"
              f"{' (time limit)' if r['timed_out'] else ''} points={','.join(r['points'])}")
    print(f"sqlmap: {len(results)} targets, {n_find} injectable, uncovered routes: {uncovered or 'none'}")
    if untested:
        print(f"sqlmap: targets where nothing was tested: {untested}")
    return 1 if n_find or uncovered or untested else 0


if __name__ == "__main__":
    sys.exit(main())
