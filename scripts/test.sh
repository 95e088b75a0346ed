#!/usr/bin/env bash
# test.sh: run every machi test suite against a throwaway cluster and print
# one line "N passed, N failed".  Exit status is non-zero on any failure.
#
# MACHI_TESTS=regress,isolation,e2e selects suites (default: all).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"

SUITES=${MACHI_TESTS:-regress,isolation,e2e}
TMP=$(mktemp -d /tmp/machi-test.XXXXXX)
PORT=54321
passed=0
failed=0

cleanup() {
	cluster_stop "$TMP/pg"
	if [ "${MACHI_KEEP_TMP:-}" = "" ]; then
		rm -rf "$TMP"
	else
		echo "kept $TMP"
	fi
}
trap cleanup EXIT

chmod 0755 "$TMP"
cluster_init "$TMP/pg" "$PORT" "fsync = off" "synchronous_commit = off" || exit 1
cluster_start "$TMP/pg" || exit 1

# files the server reads in tests (it runs as postgres)
mkdir -p "$TMP/files"
cp -r "$ROOT/data/boundaries" "$TMP/files/"
chown -R postgres: "$TMP/files"
export MACHI_DATA="$TMP/files"
export PGHOST="$TMP/pg" PGPORT="$PORT" PGUSER=postgres

# count NAME OUTPUT_FILE: add pg_regress-style "... ok" / "... FAILED" lines.
count_regress() {
	local ok bad
	ok=$(grep -cE '\.\.\. ok|^ok ' "$1" || true)
	bad=$(grep -cE '\.\.\. FAILED|^not ok ' "$1" || true)
	passed=$((passed + ok))
	failed=$((failed + bad))
	echo "$2: $ok passed, $bad failed"
}

REGRESS_LIST=$(make -s -C "$ROOT" --no-print-directory print-regress)
ISOLATION_LIST=$(make -s -C "$ROOT" --no-print-directory print-isolation)
PGXSDIR=$(dirname "$(pg_config --pgxs)")/..

if [[ $SUITES == *regress* ]]; then
	mkdir -p "$TMP/regress"
	"$PGXSDIR/test/regress/pg_regress" --inputdir="$ROOT" --outputdir="$TMP/regress" \
		--bindir="$PGBIN" --host="$PGHOST" --port="$PORT" --user=postgres \
		--dbname=machi_regress $REGRESS_LIST >"$TMP/regress.out" 2>&1
	cat "$TMP/regress.out"
	count_regress "$TMP/regress.out" regress
	if [ -s "$TMP/regress/regression.diffs" ]; then
		echo "==== regression.diffs ===="
		cat "$TMP/regress/regression.diffs"
	fi
	if ! grep -qE '\.\.\. (ok|FAILED)' "$TMP/regress.out"; then
		failed=$((failed + 1))
		echo "regress: pg_regress did not run"
	fi
fi

if [[ $SUITES == *isolation* ]] && [ -n "$ISOLATION_LIST" ]; then
	mkdir -p "$TMP/isolation"
	"$PGXSDIR/test/isolation/pg_isolation_regress" --inputdir="$ROOT" --outputdir="$TMP/isolation" \
		--bindir="$PGBIN" --host="$PGHOST" --port="$PORT" --user=postgres \
		--dbname=machi_isolation $ISOLATION_LIST >"$TMP/isolation.out" 2>&1
	cat "$TMP/isolation.out"
	count_regress "$TMP/isolation.out" isolation
	if [ -s "$TMP/isolation/regression.diffs" ]; then
		echo "==== isolation regression.diffs ===="
		cat "$TMP/isolation/regression.diffs"
	fi
fi

if [[ $SUITES == *e2e* ]] && [ -d "$ROOT/tests/e2e" ]; then
	E2E_ENV="$TMP" bash "$ROOT/scripts/e2e.sh" "$TMP" >"$TMP/e2e.out" 2>&1
	cat "$TMP/e2e.out"
	ok=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' "$TMP/e2e.out" | tail -1)
	bad=$(sed -nE 's/.* ([0-9]+) (failed|error).*/\1/p' "$TMP/e2e.out" | tail -1)
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${bad:-0}))
	if [ -z "$ok" ] && [ -z "$bad" ]; then
		failed=$((failed + 1))
		echo "e2e: the suite did not run"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
