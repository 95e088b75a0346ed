"""wapiti against the gateway (anonymous and Open311) and against the act-as
shim as a citizen and as staff.

wapiti crawls HTML: a generated page in the static tree (/console/scan.html)
links every GET route with its query parameters and holds HTML forms for the
form-encoded POST routes, so the crawler finds the API.  Modules are an
explicit list without ssrf, xxe, nikto and wapp (they reach outside hosts
or need the network); --no-bugreport always.  JSON bodies are not attacked
by wapiti: sqlmap and the ffuf payload sweep cover them.

Writes $MACHI_SEC_OUT/wapiti.json; exit status 1 on a finding of medium or
high severity or a low one not explained in EXPLAINED.
"""

import html
import json
import os
import subprocess
import sys
import time

OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
BASE = os.environ["MACHI_SEC_BASE"]
SHIM = os.environ["MACHI_SEC_SHIM"]
STATIC = os.environ["MACHI_SEC_STATIC"]
SCAN_SECONDS = int(os.environ.get("MACHI_WAPITI_SECONDS", "100"))

MODULES = "sql,blindsql,exec,file,xss,permanentxss,crlf,redirect,backup,htaccess,methods,shellshock,http_headers"
# What each module stands for in the promised list
PROMISE = {
    "sql": "SQL injection", "blindsql": "SQL injection (blind, time-based)",
    "exec": "OS command injection, server-side code injection", "file": "path traversal, remote file inclusion",
    "xss": "reflected XSS", "permanentxss": "persistent XSS", "crlf": "CRLF injection",
    "redirect": "open redirect", "backup": "source code disclosure (backup files)",
    "htaccess": "parameter tampering (access control by method)", "methods": "HTTP methods",
    "shellshock": "OS command injection (CGI)", "http_headers": "security headers",
}
# Low-severity findings that are expected, with the reason; keyed by wapiti's category name
EXPLAINED = {
    "Content Security Policy Configuration":
        "the API answers JSON, CSV, XML and images, never HTML; CSP belongs to the console's pages",
    "HTTP Secure Headers/X-XSS-Protection is not set":
        "deliberately absent: the header is deprecated, modern browsers ignore it and OWASP advises against"
        " enabling it; the API serves no HTML and sets X-Content-Type-Options: nosniff",
    "Clickjacking Protection":
        "no HTML is served by the API; the console's pages set their own frame policy",
}


def scan_page(w):
    """The crawl map: links for GET routes, forms for form-encoded POST routes."""
    r_pub = w["reports"]["public_a"]
    links = [
        "/v1/tenants", "/v1/tenants/12101/categories", "/v1/locate?lat=35.6073&lon=140.1063",
        "/v1/reports?bbox=140.0,35.5,140.2,35.7&status=received&category=road&q=x&limit=10",
        "/v1/reports?after=3&from=2020-01-01&to=2099-01-01&mine=1",
        f"/v1/reports/{r_pub}", f"/v1/reports/{w['reports']['private_a']}/photos/1",
        "/v1/staff/reports?status=received&category=road&department=1&assignee=1&q=x&from=2020-01-01&to=2099-01-01",
        "/v1/staff/reports.csv?bom=1&status=received",
        "/open311/v2/discovery.json", "/open311/v2/services.json?jurisdiction_id=12101",
        "/open311/v2/services.xml?jurisdiction_id=12101", "/open311/v2/services/road.json?jurisdiction_id=12101",
        "/open311/v2/requests.json?jurisdiction_id=12101&status=open&service_code=road",
        "/open311/v2/requests.xml?jurisdiction_id=12101&status=open",
        f"/open311/v2/requests/{r_pub}.json?jurisdiction_id=12101", "/open311/v2/tokens/abc.json",
    ]
    body = ["<!doctype html><html><head><meta charset='utf-8'><title>scan map</title></head><body>"]
    for ln in links:
        body.append(f"<a href='{html.escape(ln)}'>{html.escape(ln)}</a><br>")
    for fmt in ("json", "xml"):
        body.append(f"<form method='post' action='/open311/v2/requests.{fmt}'>"
                    f"<input type='hidden' name='api_key' value='{html.escape(w['api_keys']['a'])}'>"
                    "<input name='jurisdiction_id' value='12101'><input name='service_code' value='road'>"
                    "<input name='lat' value='35.6073'><input name='long' value='140.1063'>"
                    "<input name='description' value='hole'><input name='address_string' value='here'>"
                    "<input type='submit'></form>")
    body.append("</body></html>")
    return "\n".join(body)


def run(name, base, headers):
    report = os.path.join(TMP, f"wapiti-{name}.json")
    cmd = ["wapiti", "-u", base + "/", "--scope", "domain", "--no-bugreport", "-m", MODULES, "-f", "json",
           "-o", report, "--flush-session", "--store-session", os.path.join(TMP, "wapiti-session-" + name),
           "--max-scan-time", str(SCAN_SECONDS), "--max-attack-time", str(max(10, SCAN_SECONDS // 8)),
           "--verify-ssl", "0", "-d", "3", "--max-links-per-page", "60",
           ]
    # (no -x: wapiti 3.0.4's exclusion patterns fail to compile on Python 3.11)
    if base == SHIM:
        # headers are the gateway's, not the shim's: no http_headers module here
        cmd[cmd.index("-m") + 1] = MODULES.replace(",http_headers", "")
        # the shim has no static tree: start from the map's links directly
        for ln in extract_links():
            cmd += ["-s", base + ln]
    else:
        cmd += ["-s", base + "/console/scan.html"]
    for h in headers:
        cmd += ["-H", h]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=SCAN_SECONDS * 3 + 60, cwd=TMP)
    with open(os.path.join(TMP, f"wapiti-{name}.out"), "w") as f:
        f.write(p.stdout)
    findings = []
    try:
        with open(report) as f:
            rep = json.load(f)
    except (OSError, ValueError):
        return {"name": name, "error": f"no report (exit {p.returncode})", "findings": [],
                "seconds": round(time.monotonic() - t0)}
    for section in ("vulnerabilities", "anomalies"):
        for cat, items in (rep.get(section) or {}).items():
            for it in items:
                findings.append({"section": section, "category": cat, "level": it.get("level"),
                                 "method": it.get("method"), "path": it.get("path"),
                                 "parameter": it.get("parameter"), "info": it.get("info")})
    return {"name": name, "findings": findings, "seconds": round(time.monotonic() - t0), "exit": p.returncode}


def extract_links():
    import re
    with open(os.path.join(STATIC, "scan.html")) as f:
        return [html.unescape(m) for m in re.findall(r"<a href='([^']+)'", f.read())]


def main():
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        w = json.load(f)
    with open(os.path.join(TMP, "tokens.json")) as f:
        tokens = json.load(f)
    with open(os.path.join(STATIC, "scan.html"), "w") as f:
        f.write(scan_page(w))
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wapiti"], capture_output=True, text=True).stdout
    runs = [run("gateway", BASE, []),
            run("citizen", SHIM, [f"Authorization: Bearer {tokens['cit_a']}"]),
            run("staff", SHIM, [f"Authorization: Bearer {tokens['admin_a']}"])]
    bad = []
    for r in runs:
        for fd in r["findings"]:
            # wapiti levels: 1 = low ... 3+ = high; anomalies (500s, timeouts) always count
            why = EXPLAINED.get(f"{fd['category']}/{fd['info']}") or EXPLAINED.get(fd["category"])
            if fd["section"] == "anomalies" or (fd["level"] or 0) >= 2 or why is None:
                fd["explained"] = None
                bad.append((r["name"], fd))
            else:
                fd["explained"] = why
        if r.get("error"):
            bad.append((r["name"], {"category": "run", "info": r["error"]}))
    summary = {"tool": "wapiti", "version": version, "modules": MODULES.split(","), "promise": PROMISE,
               "runs": runs, "unexplained": len(bad)}
    with open(os.path.join(OUT, "wapiti.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for r in runs:
        print(f"wapiti {r['name']}: {len(r['findings'])} findings, {r['seconds']}s")
    for name, fd in bad:
        print(f"  UNEXPLAINED [{name}] {fd}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
