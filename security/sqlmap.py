"""sqlmap against every route of machi.routes that takes input.

Each target marks its injection points with ``*`` (path segments, query
values, JSON and form values) and runs in its own output directory with a
time limit.  sqlmap exits 0 whether or not it found anything: a finding is
a non-empty ``<output-dir>/<host>/log``, and that is what is read here.

Anonymous and Open311 targets go through the gateway (HTTPS); identity,
citizen and staff targets go through the act-as shim with a bearer token
(see actas_shim.py), and the credential itself (bearer token, session
cookie, CSRF token) is attacked over the gateway with sessions made by
POST /v1/auth/login.

Every route of machi.routes that takes input must have a target (see
takes_input for the rule); the routes without one are listed as uncovered,
so new routes show up in docs/security.md and fail the check.

Writes $MACHI_SEC_OUT/sqlmap.json; exit status 1 on a finding or an
uncovered route.
"""

import concurrent.futures
import json
import os
import re
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import TENANT_A  # noqa: E402

OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
BASE = os.environ["MACHI_SEC_BASE"]
SHIM = os.environ["MACHI_SEC_SHIM"]
PER_TARGET = int(os.environ.get("MACHI_SQLMAP_SECONDS", "300"))
PARALLEL = int(os.environ.get("MACHI_SQLMAP_PARALLEL", "4"))


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


def psql_eval(sql, into=None):
    """sqlmap --eval code that runs one statement as the superuser before
    each request (into: the JSON field that gets its result)."""
    cmd = f"['psql', '-XAtq', '-d', {os.environ.get('MACHI_PG_DB', 'machi')!r}, '-c', {sql!r}]"
    run = f"subprocess.run({cmd}, check=True, capture_output=True, text=True).stdout.strip()"
    return f"import subprocess; {into} = {run}" if into else f"import subprocess; {run}"


def scan_fixtures(w):
    """What the identity and admin targets act on, made through the API:

    - sessions of scan_login from POST /v1/auth/login: a bearer token, a
      cookie with its CSRF token, and one more session whose id another
      citizen tries to revoke;
    - a live password-reset token of scan_login and a used verification
      token;
    - in tenant B (tenant A is what the readers read): two staff members,
      a department, a category, a revoked API key and a live one for the
      Open311 posts."""
    acc = w["accounts"]
    fx = {}
    login = {"email": w["emails"]["scan_login"], "password": w["passwords"]["scan_login"]}

    with world.connect() as c:
        # from an address of their own: the enumeration tests have just
        # made 127.0.0.1 wait (machi.address_failure_limit)
        def signin(cookie):
            st, hdrs, body = world.call(c, None, "POST", "/v1/auth/login", body=dict(login, cookie=cookie),
                                        addr="127.0.0.3")
            assert st == 200, body
            return json.loads(body), hdrs.get("set-cookie", "")

        fx["bearer"] = signin(False)[0]["token"]
        data, set_cookie = signin(True)
        fx["cookie"] = re.match(r"__Host-machi_session=([^;]+)", set_cookie).group(1)
        fx["csrf"] = data["csrf_token"]
        signin(False)
        fx["other_session"] = c.execute(
            "SELECT max(session_id) FROM machi.session WHERE account_id = %s AND revoked_at IS NULL",
            (acc["scan_login"],)).fetchone()[0]
        fx["reset_token"] = c.execute("SELECT machi.one_time_token_new(%s, 'reset_password', interval '2 hours')",
                                      (acc["scan_login"],)).fetchone()[0]
        fx["pw_hash"] = c.execute("SELECT password_hash FROM machi.account WHERE account_id = %s",
                                  (acc["scan_pw"],)).fetchone()[0]
        fx["used_token"] = c.execute("SELECT machi.one_time_token_new(%s, 'verify_email', interval '2 hours')",
                                     (acc["scan_login"],)).fetchone()[0]
        st, _, body = world.call(c, None, "POST", "/v1/auth/verify-email", body={"token": fx["used_token"]})
        assert st == 200, body
        admin_b = acc["admin_b"]
        tag = secrets.token_hex(3)  # unique names, should the fixtures be made twice in one world
        fx["dept_name"], fx["category_code"] = f"sqlmap department {tag}", f"sqlmap-{tag}"

        def made(method, path, body, key=("id",)):
            st, _, resp = world.call(c, admin_b, method, path, body=body)
            assert st in (200, 201), (path, st, resp)
            v = json.loads(resp)
            for k in key:
                v = v[k]
            return v

        fx["dept"] = made("POST", "/v1/admin/departments", {"name": fx["dept_name"], "name_en": "Scan"})
        fx["category"] = made("POST", "/v1/admin/categories", {"code": fx["category_code"], "name": "sqlmap category",
                                                                "department_id": fx["dept"]})
        for name in ("staff_patch", "staff_delete"):
            fx[name + "_email"] = f"sqlmap-{name.replace('_', '-')}-{tag}@example.invalid"
            fx[name] = made("POST", "/v1/admin/staff", {"email": fx[name + "_email"], "name": "sqlmap " + name,
                                                        "role": "staff", "department_ids": [fx["dept"]]},
                            ("staff", "id"))
        fx["api_key"] = made("POST", "/v1/admin/api-keys", {"label": "sqlmap revoked"})
        made("DELETE", f"/v1/admin/api-keys/{fx['api_key']}", None)
        # the Open311 posts get a key of their own: no other check revokes it
        fx["o311_key"] = made("POST", "/v1/admin/api-keys", {"label": "sqlmap Open311"}, ("key",))
    return fx


def targets(w, tokens, own, fx):
    """(name, route "METHOD pattern", who, url, data, content-type) for every input-taking route.

    Targets that write use reports of their own (own_reports) and create
    reports in tenant B only; every reader looks at tenant A.  The admin
    targets that write act in tenant B on rows made for them (scan_fixtures).

    A target whose first answer would change the next one (a create that
    then conflicts, a revocation that then finds nothing) starts from the
    state it would reach anyway, so that sqlmap compares stable answers:
    creates name an existing unique key (409, with every field still bound
    in the INSERT), revocations name a row that is already revoked or not
    the caller's (404), the password change repeats the current password
    (422 after the verification), the reset sets a password containing the
    login id (refused after the token is found; the refusal rolls the token
    back).  An injection that changed the statement would change the answer."""
    acc = w["accounts"]
    email, pw = w["emails"]["scan_login"], w["passwords"]["scan_login"]
    pw_pw = w["passwords"]["scan_pw"]
    home = TENANT_A
    # registration of new addresses: each request gets a fresh address (the
    # profile fields are stored only for a new account)
    fresh_email = "import secrets; email = 'sqlmap-%s@example.invalid' % secrets.token_hex(6)"
    kb = fx["o311_key"]
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
        ("export", "GET /v1/admin/export/{file}", "admin_a",
         f"{SHIM}/v1/admin/export/users.csv*?after=0*&limit=1000*&bom=1*", None, None),
        ("admin-audit", "GET /v1/admin/audit", "admin_a",
         f"{SHIM}/v1/admin/audit?account={acc['admin_a']}*&report={r_priv}*&type=row*&from=2020-01-01*"
         f"&to=2099-01-01*&after=999999999999*&limit=50*", None, None),
        # identity, anonymous (through the shim: no per-address login throttle)
        ("login", "POST /v1/auth/login", None, f"{SHIM}/v1/auth/login",
         f'{{"email": "{email}*", "password": "wrong-{pw}*", "cookie": "false*"}}', "application/json",
         ["--ignore-code", "401,404"]),
        ("register-known", "POST /v1/auth/register", None, f"{SHIM}/v1/auth/register",
         f'{{"email": "{email}*", "password": "Kq7-sqlmap-Vt4-register*", "nickname": "scan*", "name": "Scan Taro*", '
         '"phone": "090-1234-5678*"}', "application/json"),
        ("register-new", "POST /v1/auth/register", None, f"{SHIM}/v1/auth/register",
         '{"email": "sqlmap-new@example.invalid", "password": "Kq7-sqlmap-Vt4-register", "nickname": "scan*", '
         '"name": "Scan Taro*", "phone": "090-1234-5678*", "postal_code": "260-0013*", "address": "Chuo 1-1*", '
         f'"birthday": "1990-04-01*", "gender": "unspecified*", "occupation": "office worker*", "home_tenant_id": {home}*}}',
         "application/json", ["--eval", fresh_email]),
        ("verify-email", "POST /v1/auth/verify-email", None, f"{SHIM}/v1/auth/verify-email",
         f'{{"token": "{fx["used_token"]}*"}}', "application/json"),
        ("password-forgot", "POST /v1/auth/password/forgot", None, f"{SHIM}/v1/auth/password/forgot",
         f'{{"email": "{email}*"}}', "application/json"),
        ("password-reset", "POST /v1/auth/password/reset", None, f"{SHIM}/v1/auth/password/reset",
         f'{{"token": "{fx["reset_token"]}*", "password": "{email}-Zq8"}}', "application/json"),
        # a payload in the new password may make a valid one: a fresh token
        # of scan_reset before each request
        ("password-reset-new", "POST /v1/auth/password/reset", None, f"{SHIM}/v1/auth/password/reset",
         '{"token": "minted per request", "password": "Kq7-sqlmap-Vt4-reset*"}', "application/json",
         ["--eval", psql_eval(
             f"SELECT machi.one_time_token_new({acc['scan_reset']}, 'reset_password', interval '1 hour')", "token")]),
        # the credential itself, over the gateway with real sessions (a
        # wrong one is a 401; sqlmap skips parameters named like tokens
        # unless told with -p)
        ("credential-bearer", "GET /v1/me", None, f"{BASE}/v1/me", None, None,
         ["--headers", f"Authorization: Bearer {fx['bearer']}*", "--ignore-code", "401,404"]),
        ("credential-cookie", "GET /v1/me", None, f"{BASE}/v1/me", None, None,
         ["--cookie", f"__Host-machi_session={fx['cookie']}*", "--ignore-code", "401,404"]),
        ("credential-csrf", "PATCH /v1/me", None, f"{BASE}/v1/me", '{"occupation": "office worker"}',
         "application/json",
         ["--cookie", f"__Host-machi_session={fx['cookie']}", "--headers", f"X-CSRF-Token: {fx['csrf']}*",
          "-p", "X-CSRF-Token #1*", "--ignore-code", "401,403,404"]),
        # signed-in citizens
        # a payload in the new password may be a valid one: the password is
        # set back before each request
        ("password-change", "POST /v1/auth/password/change", "scan_pw", f"{SHIM}/v1/auth/password/change",
         f'{{"current_password": "{pw_pw}*", "new_password": "{pw_pw}*"}}', "application/json",
         ["--eval", psql_eval(
             f"UPDATE machi.account SET password_hash = '{fx['pw_hash']}' WHERE account_id = {acc['scan_pw']}")]),
        ("me-patch", "PATCH /v1/me", "scan_me", f"{SHIM}/v1/me",
         '{"name": "Scan Hanako*", "nickname": "hanako*", "phone": "090-8765-4321*", "postal_code": "260-0013*", '
         '"address": "Chuo 2-2*", "birthday": "1985-10-10*", "gender": "female*", "occupation": "teacher*", '
         f'"home_tenant_id": {home}*, "contact": "evenings*"}}', "application/json"),
        ("session-revoke", "DELETE /v1/me/sessions/{id}", "cit_a", f"{SHIM}/v1/me/sessions/{fx['other_session']}*",
         None, None),
        # tenant admin of B: staff, settings, departments, categories, API keys
        ("staff-create", "POST /v1/admin/staff", "admin_b", f"{SHIM}/v1/admin/staff",
         f'{{"email": "{fx["staff_patch_email"]}*", "name": "Scan Staff*", "role": "staff*", '
         f'"department_ids": [{fx["dept"]}], "contact": "ext. 1234*"}}', "application/json"),
        ("staff-update", "PATCH /v1/admin/staff/{id}", "admin_b", f"{SHIM}/v1/admin/staff/{fx['staff_patch']}*",
         '{"name": "Scan Staff*", "contact": "ext. 1234*", "role": "staff*", "state": "active*"}', "application/json"),
        ("staff-disable", "DELETE /v1/admin/staff/{id}", "admin_b", f"{SHIM}/v1/admin/staff/{fx['staff_delete']}*",
         None, None),
        ("tenant-settings", "PATCH /v1/admin/tenant", "admin_b", f"{SHIM}/v1/admin/tenant",
         '{"staff_idle_timeout_minutes": 30*}', "application/json"),
        ("department-create", "POST /v1/admin/departments", "admin_b", f"{SHIM}/v1/admin/departments",
         f'{{"name": "{fx["dept_name"]}*", "name_en": "Scan*"}}', "application/json"),
        ("department-update", "PATCH /v1/admin/departments/{id}", "admin_b",
         f"{SHIM}/v1/admin/departments/{fx['dept']}*", f'{{"name": "{fx["dept_name"]}*", "name_en": "Scan*", "active": true}}',
         "application/json"),
        ("category-create", "POST /v1/admin/categories", "admin_b", f"{SHIM}/v1/admin/categories",
         f'{{"code": "{fx["category_code"]}*", "name": "sqlmap category*", "name_en": "Scan*", "description": "scan*", '
         f'"department_id": {fx["dept"]}*, "sort_order": 5*}}', "application/json"),
        ("category-update", "PATCH /v1/admin/categories/{id}", "admin_b",
         f"{SHIM}/v1/admin/categories/{fx['category']}*",
         f'{{"name": "sqlmap category*", "name_en": "Scan*", "description": "scan*", "department_id": {fx["dept"]}*, '
         '"sort_order": 5*, "active": true}', "application/json"),
        ("api-key-create", "POST /v1/admin/api-keys", "admin_b", f"{SHIM}/v1/admin/api-keys",
         '{"label": "sqlmap*"}', "application/json"),
        ("api-key-revoke", "DELETE /v1/admin/api-keys/{id}", "admin_b", f"{SHIM}/v1/admin/api-keys/{fx['api_key']}*",
         None, None),
    ]
    return t


# A handler reads the request through r.params, r.query, r.data or r.body,
# or hands the whole request on to a helper that may.
READS = {"params": r"\br\.params\b", "query": r"\br\.query\b", "body": r"\br\.(data|body)\b",
         "passed on": r"[(,]\s*r\s*[),]"}


def takes_input(method, pattern, max_body, src):
    """Which inputs a route takes (empty: none).

    Input is what a client chooses and the route's handler reads: path
    parameters, the query string, the body.  A GET without a placeholder
    whose handler never reads r.query (nor passes r on) takes nothing but
    the credential; a route whose handler never reads r.data or r.body takes
    no body even if it accepts one (max_body > 0 lets clients send {} to
    logout and account deletion).  The credential of every signed-in route
    is read by api.handle itself, the same code for every route, and is
    attacked by the credential targets.  The handler's source is read from
    pg_proc (plpgsql and SQL; for the trusted C entry points, their __impl)."""
    found = [k for k, rx in READS.items() if re.search(rx, src)]
    inputs = []
    if "{" in pattern:
        inputs.append("path")
    if "query" in found or "passed on" in found:
        inputs.append("query")
    if max_body > 0 and ("body" in found or "passed on" in found):
        inputs.append("body")
    return inputs


def route_inputs(c):
    """{"METHOD pattern": [inputs]} for every route of machi.routes."""
    rows = c.execute("""
        SELECT r.method, r.pattern, r.max_body,
               coalesce((SELECT i.prosrc FROM pg_proc i WHERE i.pronamespace = p.pronamespace
                         AND i.proname = p.proname || '__impl'), p.prosrc)
        FROM machi.routes r JOIN pg_proc p ON p.oid = r.handler::regprocedure""").fetchall()
    return {f"{m} {p}": takes_input(m, p, mb, src or "") for m, p, mb, src in rows}


# The answer sqlmap's unmodified request gets where it is not a 2xx (sqlmap
# warns "the web server responded with an HTTP error code"): each by design,
# see targets().  Any other refusal of the unmodified request means the
# payloads never got past it (a revoked key, a lost session): a failure.
# (Codes given to --ignore-code draw no warning: the 401 of the login target's
# wrong password, the 401 of a tampered credential.)
EXPECTED_REFUSAL = {
    "verify-email": 400,       # a used link
    "password-reset": 422,     # a password containing the login id
    "password-change": 422,    # the new password equals the current one
    "staff-create": 409,       # an existing e-mail address
    "department-create": 409,  # an existing name
    "category-create": 409,    # an existing code
    "photo-add": 400,          # no image: the path id is what is attacked
}


def run_one(t, tokens):
    name, route, who, url, data, ctype = t[:6]
    extra = list(t[6]) if len(t) > 6 else []
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
    if "--headers" in extra:
        i = extra.index("--headers")
        headers.append(extra[i + 1])
        del extra[i:i + 2]
    if headers:
        cmd += ["--headers", "\n".join(headers)]
    if "--ignore-code" in extra:  # the target's own list replaces the default
        i = cmd.index("--ignore-code")
        del cmd[i:i + 2]
    cmd += extra
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
    refused = re.search(r"responded with an HTTP error code \((\d{3})\)", out)
    refused = int(refused.group(1)) if refused else None
    return {"name": name, "route": route, "as": who or "anonymous", "findings": findings, "timed_out": timed_out,
            "seconds": round(time.monotonic() - t0, 1), "points": tested, "statuses": statuses,
            "original_refused": refused, "unexpected_refusal": refused != EXPECTED_REFUSAL.get(name)}


def main():
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        w = json.load(f)
    with open(os.path.join(TMP, "tokens.json")) as f:
        tokens = json.load(f)
    with world.connect() as c:
        inputs = route_inputs(c)
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "sqlmap"], capture_output=True,
                             text=True).stdout
    own = own_reports(w)
    fx = scan_fixtures(w)
    ts = targets(w, tokens, own, fx)
    only = os.environ.get("MACHI_SQLMAP_ONLY")
    if only:  # development: a few targets by name (the coverage check then fails)
        ts = [t for t in ts if t[0] in only.split(",")]
    os.makedirs(os.path.join(TMP, "sqlmap"), exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as ex:
        results = list(ex.map(lambda t: run_one(t, tokens), ts))
    covered = {t[1] for t in ts}
    uncovered = sorted(r for r, i in inputs.items() if i and r not in covered)
    no_input = sorted(r for r, i in inputs.items() if not i)
    n_find = sum(len(r["findings"]) for r in results)
    untested = [r["name"] for r in results if not r["points"]]
    untested += [f"{r['name']} (its unmodified request got {r['original_refused']})" for r in results
                 if r["unexpected_refusal"]]
    summary = {"tool": "sqlmap", "version": version, "targets": results, "uncovered_routes": uncovered,
               "no_input_routes": no_input, "input_routes": sum(1 for i in inputs.values() if i),
               "findings": n_find, "untested": untested, "options": "--level 3 --risk 2 --technique BEUST --dbms PostgreSQL"}
    with open(os.path.join(OUT, "sqlmap.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for r in results:
        print(f"{r['name']:22} {r['as']:9} {len(r['findings'])} findings, {r['seconds']}s"
              f"{' (time limit)' if r['timed_out'] else ''} points={','.join(r['points'])}")
    print(f"sqlmap: {len(results)} targets, {n_find} injectable, uncovered routes: {uncovered or 'none'}")
    print(f"sqlmap: routes without input (credential only): {', '.join(no_input)}")
    if untested:
        print(f"sqlmap: targets where nothing was tested: {untested}")
    return 1 if n_find or uncovered or untested else 0


if __name__ == "__main__":
    sys.exit(main())
