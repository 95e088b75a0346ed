#!/usr/bin/env bash
# test.sh: run every machi test suite against a throwaway cluster and print
# one line "N passed, N failed".  Exit status is non-zero on any failure.
#
# MACHI_TESTS=regress,isolation,e2e,ops selects suites (default: all); e2e
# includes the C unit tests of the gateway and the image module and the
# browser suite of the console (MACHI_TESTS=browser runs that one alone);
# ops is the small backup and restore drill and the crash test of
# tests/ops/ (the Patroni failover test is make test-failover).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"

SUITES=${MACHI_TESTS:-regress,isolation,e2e,ops}
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
cluster_private_tree "$TMP" "$ROOT"
# master keys outside the data directory: the one in use, and a second one
# for the rotation test
master_key_create "$TMP/keys/master.key"
master_key_create "$TMP/keys/master2.key"
# and a readable-by-all copy, which the extension must refuse
install -o postgres -g postgres -m 0644 "$TMP/keys/master2.key" "$TMP/keys/loose.key"
cluster_init "$TMP/pg" "$PORT" "fsync = off" "synchronous_commit = off" \
	"cron.database_name = 'machi_e2e'" "machi.master_key_file = '$TMP/keys/master.key'" || exit 1
cluster_start "$TMP/pg" || exit 1

# files the server reads in tests (it runs as postgres)
mkdir -p "$TMP/files"
cp -r "$ROOT/data/boundaries" "$TMP/files/"
chown -R postgres: "$TMP/files"
export MACHI_DATA="$TMP/files"
export MACHI_KEYS="$TMP/keys"
export PGHOST="$TMP/pg" PGPORT="$PORT" PGUSER=postgres

# count NAME OUTPUT_FILE: add pg_regress-style "... ok" / "... FAILED" lines.
count_regress() {
	local ok bad
	ok=$(grep -cE '\.\.\. ok|^ok ' "$1" || true)
	# every test line that is not "ok" failed (FAILED, or a test whose
	# expected file or diff was missing)
	bad=$(grep -cE '^(test +| +)[a-z_0-9]+ +\.\.\. |^not ok ' "$1" || true)
	bad=$((bad - ok))
	passed=$((passed + ok))
	failed=$((failed + bad))
	echo "$2: $ok passed, $bad failed"
}

REGRESS_LIST=$(make -s -C "$ROOT" --no-print-directory print-regress)
REGRESS_AUDIT_LIST=$(make -s -C "$ROOT" --no-print-directory print-regress-audit)
ISOLATION_LIST=$(make -s -C "$ROOT" --no-print-directory print-isolation)
PGXSDIR=$(dirname "$(pg_config --pgxs)")/..

# run_regress NAME DB TESTS...: one pg_regress group in its own database
run_regress() {
	local name=$1 db=$2
	shift 2
	mkdir -p "$TMP/$name"
	"$PGXSDIR/test/regress/pg_regress" --inputdir="$ROOT" --outputdir="$TMP/$name" \
		--bindir="$(pg_config --bindir)" --host="$PGHOST" --port="$PORT" --user=postgres \
		--dbname="$db" "$@" >"$TMP/$name.out" 2>&1
	cat "$TMP/$name.out"
	count_regress "$TMP/$name.out" "$name"
	if [ -s "$TMP/$name/regression.diffs" ]; then
		echo "==== $name regression.diffs ===="
		cat "$TMP/$name/regression.diffs"
	fi
	if ! grep -qE '\.\.\. (ok|FAILED)' "$TMP/$name.out"; then
		failed=$((failed + 1))
		echo "$name: pg_regress did not run"
	fi
}

if [[ $SUITES == *regress* ]]; then
	run_regress regress machi_regress $REGRESS_LIST
	run_regress regress-audit machi_regress_audit $REGRESS_AUDIT_LIST
fi

if [[ $SUITES == *isolation* ]] && [ -n "$ISOLATION_LIST" ]; then
	mkdir -p "$TMP/isolation"
	"$PGXSDIR/test/isolation/pg_isolation_regress" --inputdir="$ROOT" --outputdir="$TMP/isolation" \
		--bindir="$(pg_config --bindir)" --host="$PGHOST" --port="$PORT" --user=postgres \
		--dbname=machi_isolation $ISOLATION_LIST >"$TMP/isolation.out" 2>&1
	cat "$TMP/isolation.out"
	count_regress "$TMP/isolation.out" isolation
	if [ -s "$TMP/isolation/regression.diffs" ]; then
		echo "==== isolation regression.diffs ===="
		cat "$TMP/isolation/regression.diffs"
	fi
fi

if [[ $SUITES == *e2e* ]]; then
	bash "$ROOT/scripts/e2e.sh" "$TMP" >"$TMP/e2e.out" 2>&1
	cat "$TMP/e2e.out"
	while IFS= read -r line; do
		ok=$(sed -nE 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
		bad=$(sed -nE 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
		passed=$((passed + ${ok:-0}))
		failed=$((failed + ${bad:-0}))
	done < <(grep -E '^(unit [a-z]+|e2e \([^)]*\)|browser): [0-9]+ passed, [0-9]+ failed' "$TMP/e2e.out")
	if ! grep -qE '^e2e \(real extension\): ' "$TMP/e2e.out"; then
		failed=$((failed + 1))
		echo "e2e: the suites did not run"
	fi
fi

if [[ $SUITES == *browser* ]] && [[ $SUITES != *e2e* ]]; then
	bash "$ROOT/scripts/browser.sh" "$TMP" >"$TMP/browser-suite.out" 2>&1
	cat "$TMP/browser-suite.out"
	line=$(grep -E '^browser: [0-9]+ passed, [0-9]+ failed' "$TMP/browser-suite.out" | tail -1)
	ok=$(sed -nE 's/^browser: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
	bad=$(sed -nE 's/^browser: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
	passed=$((passed + ${ok:-0}))
	failed=$((failed + ${bad:-1}))
fi
# ---- ops: backup and restore drill, crash of a primary
# (own clusters and temporary directories; the failover test, run by make
# test-failover, picks free
# loopback TCP ports) ----
if [[ $SUITES == *ops* ]]; then
	# the Patroni failover test runs by itself: make test-failover
	for t in backup_drill:backup crash:crash; do
		bash "$ROOT/tests/ops/${t%%:*}.sh" "$TMP" >"$TMP/ops-${t#*:}.out" 2>&1
		grep -v '^NOTICE:' "$TMP/ops-${t#*:}.out"
		line=$(grep -E "^ops ${t#*:}: [0-9]+ passed, [0-9]+ failed" "$TMP/ops-${t#*:}.out" | tail -1)
		if [ -n "$line" ]; then
			ok=$(sed -nE 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/p' <<<"$line")
			bad=$(sed -nE 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/p' <<<"$line")
			passed=$((passed + ok))
			failed=$((failed + bad))
		else
			failed=$((failed + 1))
			echo "ops ${t#*:}: the suite did not run"
		fi
	done
fi
# ---- end ops ----

# a digest of what failed just above the last line, for logs that keep only
# their end
if [ "$failed" -ne 0 ]; then
	echo "==== failures ===="
	grep -hE '\.\.\. FAILED|^not ok|^FAILED |^ERROR |: [0-9]+ passed, [1-9][0-9]* failed|did not run' \
		"$TMP"/*.out 2>/dev/null | head -40
	for d in "$TMP"/*/regression.diffs; do
		[ -s "$d" ] || continue
		echo "---- $d (first 60 lines) ----"
		head -60 "$d"
	done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
