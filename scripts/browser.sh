#!/usr/bin/env bash
# browser.sh TMP: the console's browser suite (tests/browser/, Debian's
# chromium driven by playwright-core) against a real gateway and the
# database MACHI_BROWSER_DB (default machi_e2e) of the cluster in
# PGHOST/PGPORT; the database is created with the demo tenants when missing.
# Prints one line "browser: N passed, N failed".
# MACHI_SCREENSHOTS=DIR also saves screenshots of the main screens there.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$1
DB=${MACHI_BROWSER_DB:-machi_e2e}
export MACHI_BROWSER_DB=$DB PGUSER=${PGUSER:-postgres}

# the console as it is in this tree (make deps builds it too; this is cheap)
if [ -d "$ROOT/console/node_modules" ] && command -v node >/dev/null 2>&1; then
	node "$ROOT/console/build.mjs" >/dev/null
fi
if [ ! -x /usr/bin/chromium ] || [ ! -d "$ROOT/console/node_modules/playwright-core" ] || [ ! -f "$ROOT/console/dist/index.html" ]; then
	echo "browser: chromium, console/node_modules or console/dist missing (run make deps)"
	echo "browser: 0 passed, 1 failed"
	exit 0
fi
if ! psql -X -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION machi CASCADE" >/dev/null
	MACHI_PG_DB=$DB bash "$ROOT/scripts/demo.sh" >"$TMP/browser-demo.out" 2>&1 || cat "$TMP/browser-demo.out"
fi

cd "$ROOT"
timeout 300 node --test --test-reporter=tap --test-concurrency=2 \
	tests/browser/console.test.mjs tests/browser/admin.test.mjs tests/browser/idle.test.mjs >"$TMP/browser.out" 2>&1
rc=$?
ok=$(grep -E '^# pass [0-9]+' "$TMP/browser.out" | tail -1 | grep -oE '[0-9]+')
bad=$(grep -E '^# fail [0-9]+' "$TMP/browser.out" | tail -1 | grep -oE '[0-9]+')
cancelled=$(grep -E '^# cancelled [0-9]+' "$TMP/browser.out" | tail -1 | grep -oE '[0-9]+')
bad=$(( ${bad:-0} + ${cancelled:-0} ))
if [ "${bad}" -gt 0 ] || [ "$rc" -ne 0 ] || [ -z "$ok" ]; then
	# the failed tests themselves (anywhere in the output), then the end
	grep -vE '^\s+at ' "$TMP/browser.out" | grep -E -A25 '^not ok ' | head -120
	grep -vE '^\s+at ' "$TMP/browser.out" | tail -20
fi
if [ -z "$ok" ] && [ "$bad" -eq 0 ]; then bad=1; fi
echo "browser: ${ok:-0} passed, $bad failed"
