#!/usr/bin/env bash
# tests/ops/crash.sh: SIGKILL a single primary (postmaster and every backend,
# as a power cut would) while two writers run, one into a plain table and
# one through machi.create_department (audited); restart it; every write
# acknowledged before the kill must be there, and machi.verify_audit() must
# pass when the extension has it.  fsync stays on.  Prints
# "ops crash: N passed, N failed"; run as root after `make all`.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/cluster.sh"
. "$ROOT/ops/lib.sh"

WORK=$(mktemp -d /tmp/machi-crash.XXXXXX)
P=${MACHI_CRASH_PORT:-54341}
D="$WORK/pg"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
bad() { failed=$((failed + 1)); echo "not ok - $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
pids=()

cleanup() {
	touch "$WORK/stop"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	cluster_stop "$D"
	[ -n "${MACHI_KEEP_TMP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

chmod 0755 "$WORK"
cluster_private_tree "$WORK" "$ROOT"
# the writer runs as postgres: a copy it can read wherever the checkout is
cp "$ROOT/tests/ops/writer.py" "$WORK/writer.py"
chmod a+r "$WORK/writer.py"
cluster_init "$D" "$P" || exit 1
cluster_start "$D" || exit 1
q() { psql_at "$D" "$P" "$@"; }
q postgres -c "CREATE DATABASE machi" && q machi -c "CREATE EXTENSION machi CASCADE" >/dev/null 2>&1 &&
	q machi -c "CREATE TABLE public.crash_ack (n bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())" &&
	q machi -v b="$(cat "$ROOT/data/boundaries/12101.json")" >/dev/null <<<"SELECT machi.create_tenant(12101, 'Chuo', :'b'::jsonb, 'Chuo');" || exit 1

conn="host=$D port=$P dbname=machi user=postgres"
for w in table dept; do
	case $w in
		table) sql="INSERT INTO public.crash_ack (n) VALUES (%s)" ;;
		dept) sql="SELECT machi.create_department(12101, 'crash-' || %s::text, 'x')" ;;
	esac
	as_pg /usr/bin/python3 "$WORK/writer.py" write "$conn" "$sql" "$WORK/$w.log" "$WORK/stop" 60 &
	pids+=($!)
done
chown postgres: "$WORK"

# seal_audit: seal the audit rows so far, when the extension can
seal_audit() {
	if [ "$(q machi -c "SELECT to_regprocedure('machi.seal_audit(bigint)') IS NOT NULL")" = t ]; then
		q machi -c "SELECT machi.seal_audit()" >/dev/null
	fi
}
sleep 1.5
seal_audit
sleep 1.5

# the crash: postmaster and all its children at once
pm=$(head -1 "$D/data/postmaster.pid")
kill -KILL "$pm" $(pgrep -P "$pm") 2>/dev/null
# until init has reaped it: a zombie still holds its pid, and PostgreSQL
# refuses to start while the pid in postmaster.pid exists
for _ in $(seq 1 150); do
	kill -0 "$pm" 2>/dev/null || break
	sleep 0.2
done
sleep 1
touch "$WORK/stop"
wait "${pids[@]}" 2>/dev/null
pids=()

if cluster_start "$D" 2>"$WORK/start.err"; then
	ok "primary restarts after SIGKILL (crash recovery)"
else
	bad "restart after SIGKILL" "$(tail -5 "$D/server.log")"
	echo "ops crash: $passed passed, $failed failed"
	exit 1
fi

for w in table dept; do
	awk '$1 == "ack" {print $2}' "$WORK/$w.log" | sort -n >"$WORK/$w.acked"
	case $w in
		table) q machi -c "SELECT n FROM public.crash_ack ORDER BY 1" ;;
		dept) q machi -c "SELECT substr(name, 7) FROM machi.department WHERE name LIKE 'crash-%' ORDER BY 1" ;;
	esac | sort -n >"$WORK/$w.present"
	n=$(wc -l <"$WORK/$w.acked")
	lost=$(comm -23 "$WORK/$w.acked" "$WORK/$w.present" | wc -l)
	if [ "$n" -gt 10 ] && [ "$lost" -eq 0 ]; then
		ok "$w writer: all $n acknowledged writes present after the crash"
	else
		bad "$w writer: $n acknowledged, $lost missing after the crash"
	fi
done

seal_audit
audit=$(verify_audit "$D" "$P" machi)
rc=$?
if [ "$audit" = absent ]; then
	ok "audit chain not checked: the extension has no machi.verify_audit"
elif [ $rc -eq 0 ]; then
	ok "audit chain after the crash: $audit"
else
	bad "audit chain after the crash: $audit"
fi

echo "ops crash: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
