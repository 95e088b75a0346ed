"""Fixtures of the security suite (run by security/run.sh, make security).

The service and the attack world (security/world.py) are made by run.sh,
which exports MACHI_SEC_WORLD, MACHI_SEC_BASE, MACHI_SEC_CA, MACHI_SEC_OUT
and the libpq environment; without them every test is skipped.
"""

import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "security"))
import world as world_mod  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("MACHI_SEC_WORLD"):
        skip = pytest.mark.skip(reason="needs the service of security/run.sh (make security)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def world():
    with open(os.environ["MACHI_SEC_WORLD"]) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def db():
    conn = world_mod.connect()
    # the suite posts many reports; the per-citizen limit is tested on its own
    conn.execute("SET machi.report_rate_per_hour = 10000")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def routes(db):
    """(method, pattern, auth, max_body) of every route the service has right now."""
    return [tuple(r) for r in db.execute("SELECT method, pattern, auth, max_body FROM machi.routes")]


def find_route(routes, method, pattern_regex):
    """The first route of that method whose pattern matches the regex, or None."""
    for m, p, *_ in routes:
        if m == method and re.search(pattern_regex, p):
            return p
    return None


@pytest.fixture(scope="session")
def api(db):
    """api(account, method, path, query="", body=None, headers=None) -> (status, headers, body)."""
    def call(account, method, path, query="", body=None, headers=None, addr="127.0.0.1"):
        return world_mod.call(db, account, method, path, query, body, headers, addr)
    return call


def record(name, data):
    """Write a result summary for docs/security.md ($MACHI_SEC_OUT/<name>.json)."""
    out = os.environ.get("MACHI_SEC_OUT")
    if out:
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(data, f, indent=1, default=str)
