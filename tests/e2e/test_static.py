"""The console under /console/: content types, caching validators, no listing, no traversal, no dotfiles."""

import os
import tempfile

import pytest


@pytest.fixture
def console(make_gateway):
    d = tempfile.mkdtemp(prefix="machi-e2e-console-", dir="/tmp")
    files = {
        "index.html": "<!doctype html><title>console</title>",
        "app.js": "console.log('x');",
        "style.css": "body{}",
        "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "data.json": "{}",
        ".env": "SECRET=1",
        ".git/config": "[core]",
        "sub/page.html": "<p>sub</p>",
        "emptydir/.keep": "",
    }
    for name, text in files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(os.path.dirname(d), os.path.basename(d) + "-outside.txt"), "w") as f:
        f.write("OUTSIDE")
    g = make_gateway("--static-dir", d)
    yield g
    os.unlink(os.path.join(os.path.dirname(d), os.path.basename(d) + "-outside.txt"))
    import shutil

    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("path,ctype", [
    ("/console/", "text/html"),
    ("/console/index.html", "text/html"),
    ("/console/app.js", "application/javascript"),
    ("/console/style.css", "text/css"),
    ("/console/logo.svg", "image/svg+xml"),
    ("/console/data.json", "application/json"),
])
def test_content_types(console, path, ctype):
    r = console.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(ctype)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["strict-transport-security"].startswith("max-age=63072000")
    assert len(r.headers["x-request-id"]) == 32
    if ctype == "text/html":
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_validators_and_304(console):
    r = console.get("/console/app.js")
    etag = r.headers["etag"]
    assert r.headers["last-modified"]
    r2 = console.get("/console/app.js", headers={"If-None-Match": etag})
    assert r2.status_code == 304


def test_no_directory_listing(console):
    r = console.get("/console/emptydir/")
    assert r.status_code in (403, 404)
    assert b".keep" not in r.content


@pytest.mark.parametrize("path", ["/console/.env", "/console/.git/config", "/console/%2eenv", "/console/sub/../.env"])
def test_dotfiles_refused(console, path):
    raw = console.raw_request(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 404"), raw[:100]
    assert b"SECRET" not in raw and b"[core]" not in raw


@pytest.mark.parametrize("path", [
    "/console/../etc/passwd",
    "/console/%2e%2e/%2e%2e/etc/passwd",
    "/console/..%2f..%2fetc/passwd",
    "/console/....//etc/passwd",
])
def test_traversal_refused(console, path):
    raw = console.raw_request(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert b"root:" not in raw
    assert b"OUTSIDE" not in raw


def test_outside_file_not_reachable(console):
    d = [a for a in console.proc.args if a.startswith("/tmp/machi-e2e-console-")][0]
    name = os.path.basename(d) + "-outside.txt"
    raw = console.raw_request(b"GET /console/../" + name.encode() + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert b"OUTSIDE" not in raw


def test_post_refused(console):
    r = console.post("/console/index.html", data=b"x")
    assert r.status_code == 405


def test_api_still_served(console, mock_only):
    r = console.get("/v1/echo")
    assert r.status_code == 200
    assert r.json()["path"] == "/v1/echo"


def test_console_redirect_without_slash(console):
    r = console.get("/console", allow_redirects=False)
    assert r.status_code in (301, 308)
    assert r.headers["location"].endswith("/console/")


@pytest.mark.parametrize("path", ["/console/app.js%00.html", "/console/index.html%00.js", "/console/app.js\x00.html"])
def test_nul_refused(console, path):
    """A NUL must not serve app.js as HTML (the type would come from the whole name)."""
    r = console.get(path)
    assert r.status_code == 400
    assert "content-type" not in r.headers or not r.headers["content-type"].startswith(("text/html", "application/javascript"))
