"""The attack world of the security suite: two tenants, a citizen and staff
in each, reports private and public with canary strings, photos, internal
notes, a deleted report, Open311 API keys; and two ways to call the API as
one of those identities.

Everything is created through the same paths a client or an operator uses
(api.handle, machi.create_api_key), except the accounts of the attack
itself: they are rows inserted by the superuser (no password), and API
calls are made as them with machi.act_as() in the same transaction.  The
accounts the scanners sign in with or change (``scan_*``: a password, a
profile) are registered through POST /v1/auth/register; their e-mail is then
marked verified by the superuser (the verification link is tested in the
regression suite, not here).

Used by security/run.sh (``python3 security/world.py create``) and by the
pytest suite in tests/security.
"""

import json
import os
import secrets
import struct
import sys
import zlib

import psycopg

TENANT_A = 12101  # Chuo Ward, Chiba
TENANT_B = 12103  # Inage Ward, Chiba
POS = {TENANT_A: (35.6073, 140.1063), TENANT_B: (35.6376, 140.0924)}


def connect(dsn=None):
    """A superuser connection from the libpq environment (PGHOST, PGPORT...)."""
    return psycopg.connect(dsn or "", dbname=os.environ.get("MACHI_PG_DB", "machi"), user="postgres",
                           autocommit=True, connect_timeout=10)


def tiny_png():
    """A valid 1x1 RGB PNG."""
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b""))


def call(conn, account, method, path, query="", body=None, headers=None, addr="127.0.0.1"):
    """One api.handle call as account (None: anonymous) in its own transaction.

    body: dict/list (sent as JSON), bytes (sent raw) or None.  Returns
    (status, headers dict, body bytes).
    """
    hdrs = {"content-type": "application/json"}
    if isinstance(body, (bytes, bytearray)):
        raw = bytes(body)
        hdrs["content-type"] = "application/octet-stream"
    elif body is None:
        raw = None
    else:
        raw = json.dumps(body).encode()
    hdrs.update(headers or {})
    with conn.transaction():
        if account is not None:
            conn.execute("SELECT machi.act_as(%s, 'security suite')", (account,))
        row = conn.execute("SELECT status, headers, body FROM api.handle(%s, %s, %s, %s::jsonb, %s, %s::inet, %s)",
                           (method, path, query, json.dumps(hdrs), raw, addr,
                            "sec-" + secrets.token_hex(8))).fetchone()
    return row[0], row[1] or {}, bytes(row[2] or b"")


def _json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


# citizens registered for the scanners: scan_login signs in (login, the
# credential itself), scan_pw changes its password, scan_reset resets it,
# scan_me changes its profile -- each its own, so that no scan changes what
# another one reads
SCAN_ACCOUNTS = ("scan_login", "scan_pw", "scan_reset", "scan_me")


def register(conn, name):
    """Register a verified citizen through the API; (account id, password, e-mail)."""
    email = f"{name.replace('_', '-')}-{secrets.token_hex(4)}@example.invalid"
    password = secrets.token_urlsafe(18)
    st, _, body = call(conn, None, "POST", "/v1/auth/register", body={
        "email": email, "password": password, "nickname": name, "name": "Scan " + name, "phone": "090-0000-0000"})
    assert st == 202, (st, body)
    aid = conn.execute("SELECT account_id FROM machi.account_pii WHERE email_bidx = machi.blind_index('email', %s)",
                       (email,)).fetchone()[0]
    conn.execute("UPDATE machi.account SET email_verified_at = now() WHERE account_id = %s", (aid,))
    return aid, password, email


def create(conn):
    """Create the world; return a JSON-able description of it."""
    w = {"tenants": [TENANT_A, TENANT_B], "accounts": {}, "reports": {}, "canaries": {}, "api_keys": {}}
    acc = w["accounts"]
    # creator: a citizen whose only job is posting reports in scans, so
    # that no other identity's lists change while a scanner compares them
    for name in ("cit_a", "cit_b", "creator"):
        acc[name] = conn.execute("INSERT INTO machi.account (kind, role_name, email_verified_at) "
                                 "VALUES ('citizen', 'citizen', now()) RETURNING account_id").fetchone()[0]
    for name, tenant in (("admin_a", TENANT_A), ("admin_b", TENANT_B)):
        acc[name] = conn.execute("INSERT INTO machi.account (kind, tenant_id, role_name) "
                                 "VALUES ('staff', %s, 'tenant_admin') RETURNING account_id",
                                 (tenant,)).fetchone()[0]
    tag = secrets.token_hex(4)
    reports = w["reports"]
    for who, tenant, admin in (("cit_a", TENANT_A, "admin_a"), ("cit_b", TENANT_B, "admin_b")):
        side = who[-1]
        lat, lon = POS[tenant]
        for kind in ("private", "public", "deleted"):
            canary = f"CANARY{side.upper()}{kind.upper()}{tag}"
            st, _, body = call(conn, acc[who], "POST", "/v1/reports", body={
                "category": "road", "lat": lat + 0.0003 * len(reports), "lon": lon, "title": canary + " title",
                "description": canary + " description", "address": canary + " address"})
            assert st == 201, (st, body)
            rid = _json(body)["report"]["id"]
            reports[f"{kind}_{side}"] = rid
            w["canaries"][f"{kind}_{side}"] = canary
            if kind == "public":
                st, _, body = call(conn, acc[admin], "PATCH", f"/v1/staff/reports/{rid}",
                                   body={"visibility": "public"})
                assert st == 200, (st, body)
        # an internal note and a photo on the private report
        note = f"CANARY{side.upper()}NOTE{tag}"
        w["canaries"][f"note_{side}"] = note
        st, _, body = call(conn, acc[admin], "POST", f"/v1/staff/reports/{reports['private_' + side]}/responses",
                           body={"body": note, "visibility": "internal"})
        assert st in (200, 201), (st, body)
        st, _, body = call(conn, acc[who], "POST", f"/v1/reports/{reports['private_' + side]}/photos",
                           body=tiny_png(), headers={"content-type": "image/png"})
        w.setdefault("photo_status", []).append(st)
        conn.execute("DELETE FROM machi.report WHERE report_id = %s", (reports[f"deleted_{side}"],))
        w["api_keys"][side] = conn.execute("SELECT machi.create_api_key(%s, 'security suite')",
                                           (tenant,)).fetchone()[0]
    for name in SCAN_ACCOUNTS:
        acc[name], w.setdefault("passwords", {})[name], w.setdefault("emails", {})[name] = register(conn, name)
    w["max_report_id"] = conn.execute("SELECT max(report_id) FROM machi.report").fetchone()[0]
    return w


if __name__ == "__main__":
    if sys.argv[1:] == ["create"]:
        with connect() as c:
            print(json.dumps(create(c), indent=1))
    else:
        sys.exit("usage: world.py create")
