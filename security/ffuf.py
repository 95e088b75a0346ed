"""ffuf: source, backup and directory disclosure under the gateway's static
tree, and payload sweeps into query parameters, path segments, JSON and form
bodies (what wapiti does not attack).

The static tree holds index.html, assets/app.js and the scan map; a dotfile
inside it and a secret next to it must never be served.  Keywords are
distinctive (USERFUZZ, PAYLOADFUZZ): ffuf 1.1.0 replaces its keyword
anywhere in the request.

Payload sweep verdicts, per response: no 5xx (an unexpected error is a
500), no transport error, no evaluation marker in the body (7*6 computed by
a shell, SQL, a template or an SSI directive), no raw <script> reflected in
a response that is not JSON/XML/CSV with nosniff.

Writes $MACHI_SEC_OUT/ffuf.json; exit status 1 on any finding.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
BASE = os.environ["MACHI_SEC_BASE"]
SHIM = os.environ["MACHI_SEC_SHIM"]
MAXTIME = int(os.environ.get("MACHI_FFUF_SECONDS", "60"))

# (category of the promise, payload); markers are what must never come back
PAYLOADS = [
    ("format string", "%s%s%s%s%s%s%s%s%s%s%n%n%n%n"),
    ("format string", "%x.%x.%x.%x.%p.%p"),
    ("format string", "%99999999999s"),
    ("OS command injection", ";echo MACHICMD$((6*7))"),
    ("OS command injection", "|echo MACHICMD$((6*7))"),
    ("OS command injection", "`echo MACHICMD$((6*7))`"),
    ("OS command injection", "$(echo MACHICMD$((6*7)))"),
    ("OS command injection", "\nid\n"),
    ("server-side include", '<!--#exec cmd="echo MACHISSI$((6*7))"-->'),
    ("server-side include", '<!--#echo var="DATE_LOCAL"-->'),
    ("server-side code injection", "${{7*6}}MACHITPL"),
    ("server-side code injection", "{{7*6}}MACHITPL"),
    ("server-side code injection", "<%= 7*6 %>MACHITPL"),
    ("server-side code injection", "';select pg_sleep(0)||'MACHISQL'||(6*7)||'"),
    ("SQL injection", "' OR '1'='1"),
    ("SQL injection", "1; SELECT 'MACHISQL'||(6*7)"),
    ("SQL injection", "\\'; --"),
    ("CRLF injection", "x\r\nSet-Cookie: machicrlf=1"),
    ("CRLF injection", "%0d%0aSet-Cookie:%20machicrlf=1"),
    ("path traversal", "../../../../etc/passwd"),
    ("path traversal", "..%2f..%2f..%2fetc%2fpasswd"),
    ("path traversal", "/etc/passwd\x00"),
    ("remote file inclusion", "http://127.0.0.1:9/machi-rfi.txt"),
    ("remote file inclusion", "file:///etc/passwd"),
    ("reflected XSS", "<script>MACHIXSS</script>"),
    ("reflected XSS", "\"><img src=x onerror=MACHIXSS>"),
    ("buffer overflow", "A" * 5000),
    ("buffer overflow", "%41" * 3000),
    ("buffer overflow", "\U0001F600" * 2000),
    ("buffer overflow", "9" * 400),
    ("unicode", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")),
    ("unicode", "\x00\x01\x1f\x7f"),
    ("numbers", "-1"), ("numbers", "1e309"), ("numbers", "NaN"), ("numbers", "0x10"),
    ("numbers", "9223372036854775808"),
]
MARKERS = ["MACHICMD42", "MACHISSI42", "42MACHITPL", "MACHISQL42", "machicrlf=1\r\n", "root:x:0:0"]
ALLOWED_STATIC = {"index.html", "assets/app.js", "scan.html", "./index.html", "//index.html", "assets", "assets/"}


def ffuf(name, url, wordlist, keyword, method="GET", data=None, headers=(), extra=()):
    out = os.path.join(TMP, f"ffuf-{name}.json")
    od = os.path.join(TMP, f"ffuf-{name}.d")
    cmd = ["ffuf", "-u", url, "-w", f"{wordlist}:{keyword}", "-X", method, "-mc", "all", "-o", out, "-of", "json",
           "-od", od, "-s", "-t", "8", "-timeout", "15", "-maxtime", str(MAXTIME), *extra]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["-d", data]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=MAXTIME + 60)
    try:
        with open(out) as f:
            results = json.load(f)["results"]
    except (OSError, ValueError, KeyError):
        results = []
    for r in results:
        r["raw"] = b""
        if r.get("resultfile"):
            try:
                with open(os.path.join(od, r["resultfile"]), "rb") as f:
                    r["raw"] = f.read()
            except OSError:
                pass
    with open(wordlist, "rb") as f:
        sent = sum(1 for _ in f)
    return results, sent, p.returncode


def response_part(raw):
    """Headers and body of the response in an ffuf -od file (request first)."""
    i = raw.find(b"\n---- \xe2\x86\x91 Request ---- Response \xe2\x86\x93 ----")
    return raw[i:] if i >= 0 else raw


def disclosure():
    findings, counts = [], {}
    words = os.path.join(HERE, "wordlists", "disclosure.txt")
    for root in ("/console/", "/", "/v1/", "/open311/v2/"):
        name = "disclosure" + root.replace("/", "-").rstrip("-")
        results, sent, _ = ffuf(name, BASE + root + "USERFUZZ", words, "USERFUZZ")
        counts[root] = {"sent": sent, "answered": len(results),
                        "served": sorted(r["input"]["USERFUZZ"] for r in results if r["status"] < 400)}
        if sent - len(results) > max(2, sent // 10):
            findings.append({"where": root, "what": f"{sent - len(results)} requests got no answer"})
        for r in results:
            word, resp = r["input"]["USERFUZZ"], response_part(r["raw"])
            if b"SECRET-" in resp:
                findings.append({"where": r["url"], "what": "a file outside the served set was served"})
            elif b"Index of" in resp or b"<title>Directory" in resp:
                findings.append({"where": r["url"], "what": "directory listing"})
            elif r["status"] >= 500:
                findings.append({"where": r["url"], "what": f"status {r['status']}"})
            elif r["status"] == 200 and not (root == "/console/" and word in ALLOWED_STATIC):
                ctype = next((ln.split(b":", 1)[1].strip().decode() for ln in resp.split(b"\r\n")
                              if ln.lower().startswith(b"content-type:")), "")
                findings.append({"where": r["url"], "what": f"served with status 200 as {ctype!r}; only "
                                 "index.html, assets/app.js and scan.html are meant to be"})
    return findings, counts


def sweep(w, tokens):
    findings, counts = [], {}
    raw_list = os.path.join(TMP, "payloads-raw.txt")
    json_list = os.path.join(TMP, "payloads-json.txt")
    url_list = os.path.join(TMP, "payloads-url.txt")
    # one line each; newlines inside payloads travel escaped in the JSON and URL variants
    with open(json_list, "w") as fj, open(url_list, "w") as fu, open(raw_list, "w") as fr:
        for _, p in PAYLOADS:
            fj.write(json.dumps(p)[1:-1] + "\n")
            fu.write(urllib.parse.quote(p, safe="") + "\n")
            fr.write(p.replace("\r", "").replace("\n", " ") + "\n")
    rp, cit, adm = w["reports"]["private_a"], tokens["cit_a"], tokens["admin_a"]
    jh = "Content-Type: application/json"
    targets = [
        ("q-reports", BASE + "/v1/reports?q=PAYLOADFUZZ", url_list, "GET", None, []),
        ("q-locate", BASE + "/v1/locate?lat=PAYLOADFUZZ&lon=140.1", url_list, "GET", None, []),
        ("path-tenant", BASE + "/v1/tenants/PAYLOADFUZZ/categories", url_list, "GET", None, []),
        ("path-report", BASE + "/v1/reports/PAYLOADFUZZ", url_list, "GET", None, []),
        ("q-open311", BASE + "/open311/v2/requests.xml?jurisdiction_id=12101&status=PAYLOADFUZZ", url_list, "GET",
         None, []),
        ("json-locate", BASE + "/v1/locate", json_list, "POST", '{"lat": "PAYLOADFUZZ", "lon": 140.1}', [jh]),
        ("form-open311", BASE + "/open311/v2/requests.xml", url_list, "POST",
         f"api_key={w['api_keys']['a']}&jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063"
         "&description=PAYLOADFUZZ", ["Content-Type: application/x-www-form-urlencoded"]),
        ("json-report", SHIM + "/v1/reports", json_list, "POST",
         '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "PAYLOADFUZZ", "description": "PAYLOADFUZZ"}',
         [jh, f"Authorization: Bearer {cit}"]),
        ("json-comment", SHIM + f"/v1/reports/{rp}/comments", json_list, "POST", '{"body": "PAYLOADFUZZ"}',
         [jh, f"Authorization: Bearer {cit}"]),
        ("json-patch", SHIM + f"/v1/staff/reports/{rp}", json_list, "PATCH",
         '{"note": "PAYLOADFUZZ", "public_title": "PAYLOADFUZZ"}', [jh, f"Authorization: Bearer {adm}"]),
        ("json-respond", SHIM + f"/v1/staff/reports/{rp}/responses", json_list, "POST",
         '{"body": "PAYLOADFUZZ", "visibility": "internal"}', [jh, f"Authorization: Bearer {adm}"]),
        ("q-staff", SHIM + "/v1/staff/reports?q=PAYLOADFUZZ", url_list, "GET", None,
         [f"Authorization: Bearer {adm}"]),
        ("q-staff-csv", SHIM + "/v1/staff/reports.csv?status=PAYLOADFUZZ", url_list, "GET", None,
         [f"Authorization: Bearer {adm}"]),
    ]
    for name, url, wl, method, data, headers in targets:
        results, sent, _ = ffuf(name, url, wl, "PAYLOADFUZZ", method, data, headers)
        statuses = {}
        for r in results:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
            resp = response_part(r["raw"])
            head, _, body = resp.partition(b"\r\n\r\n")
            ctype = next((ln.split(b":", 1)[1].strip().lower() for ln in head.split(b"\r\n")
                          if ln.lower().startswith(b"content-type:")), b"")
            if r["status"] >= 500:
                findings.append({"where": f"{method} {url}", "payload": r["input"]["PAYLOADFUZZ"][:80],
                                 "what": f"status {r['status']}"})
            for m in MARKERS:
                if m.encode() in resp:
                    findings.append({"where": f"{method} {url}", "payload": r["input"]["PAYLOADFUZZ"][:80],
                                     "what": f"evaluation marker {m!r} in the response"})
            if b"<script>MACHIXSS" in body and not any(t in ctype for t in (b"json", b"xml", b"csv")):
                findings.append({"where": f"{method} {url}", "payload": "<script>", "what":
                                 f"raw script reflected as {ctype.decode()!r}"})
        counts[name] = {"sent": sent, "answered": len(results), "statuses": statuses}
        # ffuf 1.1.0 now and then leaves an answered request out of its JSON
        # output; a handful is noise, more means the service stopped answering
        if sent - len(results) > max(2, sent // 10):
            findings.append({"where": f"{method} {url}", "what": f"{sent - len(results)} requests got no answer"})
    return findings, counts


def main():
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        w = json.load(f)
    with open(os.path.join(TMP, "tokens.json")) as f:
        tokens = json.load(f)
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ffuf"], capture_output=True, text=True).stdout
    t0 = time.monotonic()
    dfind, dcounts = disclosure()
    sfind, scounts = sweep(w, tokens)
    summary = {"tool": "ffuf", "version": version, "disclosure": {"findings": dfind, "roots": dcounts},
               "sweep": {"findings": sfind, "targets": scounts,
                         "categories": sorted({c for c, _ in PAYLOADS}), "payloads": len(PAYLOADS)},
               "seconds": round(time.monotonic() - t0)}
    with open(os.path.join(OUT, "ffuf.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for root, c in dcounts.items():
        print(f"disclosure {root}: {c['answered']}/{c['sent']} answered, served: {c['served']}")
    for name, c in scounts.items():
        print(f"sweep {name}: {c['answered']}/{c['sent']} answered, statuses {c['statuses']}")
    for fd in dfind + sfind:
        print("FINDING", fd)
    return 1 if dfind or sfind else 0


if __name__ == "__main__":
    sys.exit(main())
