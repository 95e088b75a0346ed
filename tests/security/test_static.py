"""The gateway's static tree (/console/): only the files in it are served,
under their own names and media types.  Regression tests for what the
disclosure scan found.
"""

import http.client
import os
import ssl

import pytest

BASE = os.environ.get("MACHI_SEC_BASE", "https://127.0.0.1:1")
CA = os.environ.get("MACHI_SEC_CA")


def get(path):
    host, port = BASE.split("//", 1)[1].split(":")
    ctx = ssl.create_default_context(cafile=CA)
    c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    try:
        c.request("GET", path)  # sent as is: no normalisation by the client
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def test_static_tree_is_served():
    st, h, body = get("/console/assets/app.js")
    assert st == 200 and "javascript" in h["content-type"]


@pytest.mark.parametrize("path", ["/console/.env", "/console/%2eenv", "/console/assets/../.env",
                                  "/console/%2e%2e/secret.txt", "/console/..%2fsecret.txt", "/console/../secret.txt",
                                  "/console/assets/", "/console/assets%2f..%2f..%2fsecret.txt"])
def test_nothing_outside_or_hidden(path):
    st, h, body = get(path)
    assert b"SECRET-" not in body and b"Index of" not in body, (path, st)
    assert st in (301, 302, 400, 403, 404), (path, st)


@pytest.mark.parametrize("path", ["/console/assets/app.js%00.html", "/console/index.html%00.js",
                                  "/console/assets/app.js%00"])
def test_nul_byte_does_not_truncate_the_file_name(path):
    """A %00 in the path must be refused (the API already answers 400):
    served, it truncates the file name when the file is opened while the
    media type comes from the whole name, so app.js is served as text/html."""
    st, h, body = get(path)
    assert st in (400, 404), f"{path}: {st} {h.get('content-type')} ({len(body)} bytes)"
