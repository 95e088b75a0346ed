#!/usr/bin/env bash
# e2e.sh TMP: the gateway and image unit tests, the end-to-end suite against
# the mock API (the gateway's own behaviour: TLS, limits, failover, mailer),
# and the same suite against the real extension in the cluster that
# scripts/test.sh started (PGHOST/PGPORT), then the console's browser suite
# (scripts/browser.sh) on that database.  Prints one "suite: N passed, N
# failed" line per suite.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$1
PY=/usr/bin/python3

# unit: each C unit-test program counts as one test
unit() {
	local name=$1
	shift
	if "$@" >"$TMP/unit-$name.out" 2>&1; then
		echo "unit $name: 1 passed, 0 failed ($(tail -1 "$TMP/unit-$name.out"))"
	else
		cat "$TMP/unit-$name.out"
		echo "unit $name: 0 passed, 1 failed"
	fi
}
unit gateway make -s -C "$ROOT/gateway" test
unit image make -s -C "$ROOT/tests/image" test

pytest_counts() {
	local name=$1 out=$2 ok bad err
	ok=$(grep -oE '[0-9]+ passed' "$out" | tail -1 | grep -oE '[0-9]+')
	bad=$(grep -oE '[0-9]+ failed' "$out" | tail -1 | grep -oE '[0-9]+')
	err=$(grep -oE '[0-9]+ errors?' "$out" | tail -1 | grep -oE '[0-9]+')
	bad=$(( ${bad:-0} + ${err:-0} ))
	if [ -z "$ok" ] && [ "$bad" -eq 0 ]; then bad=1; fi
	echo "$name: ${ok:-0} passed, $bad failed"
}

cd "$ROOT"
timeout 900 $PY -m pytest -q -p no:cacheprovider tests/e2e >"$TMP/e2e-mock.out" 2>&1
cat "$TMP/e2e-mock.out" | tail -30
pytest_counts "e2e (gateway, mock api)" "$TMP/e2e-mock.out"

# the real extension: a database with the demo tenants
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE machi_e2e" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d machi_e2e -c "CREATE EXTENSION machi CASCADE" -c "CREATE EXTENSION pg_cron" \
	-c "SELECT count(*) FROM machi.schedule_jobs()" >/dev/null 2>&1
MACHI_PG_DB=machi_e2e bash "$ROOT/scripts/demo.sh" >"$TMP/demo.out" 2>&1 || cat "$TMP/demo.out"
MACHI_E2E_PGHOST=$PGHOST MACHI_E2E_PGPORT=$PGPORT MACHI_E2E_DB=machi_e2e MACHI_E2E_PGUSER=postgres \
	timeout 900 $PY -m pytest -q -p no:cacheprovider tests/e2e >"$TMP/e2e-real.out" 2>&1
cat "$TMP/e2e-real.out" | tail -30
pytest_counts "e2e (real extension)" "$TMP/e2e-real.out"

# the staff console in a real browser, on the same database
bash "$ROOT/scripts/browser.sh" "$TMP"
