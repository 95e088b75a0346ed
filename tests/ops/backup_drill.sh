#!/usr/bin/env bash
# tests/ops/backup_drill.sh [WORKDIR]: a small backup and restore drill on a
# throwaway cluster: ops/backup.sh turns on archiving and takes full backups,
# ops/restore-drill.sh restores them (latest and an older one) and compares
# row counts; a tampered count and a corrupted backup file must make the
# drill fail.  Prints "ops backup: N passed, N failed"; run as root, after
# `make all`.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${1:-}
own=
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /tmp/machi-ops.XXXXXX)
	own=1
fi
V="$WORK/ops-backup"
export MACHI_VAR="$V" MACHI_PG_PORT=${MACHI_OPS_PORT:-54331} MACHI_DRILL_PORT=${MACHI_OPS_DRILL_PORT:-54332}
. "$ROOT/ops/lib.sh"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
bad() { failed=$((failed + 1)); echo "not ok - $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }

cleanup() {
	cluster_stop "$V/drill/pg"
	cluster_stop "$PGDIR"
	[ -z "$own" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

mkdir -p "$V"
chmod 0755 "$WORK" "$V"
cluster_private_tree "$V" "$ROOT"
export MACHI_PGBIN="$PGBIN" # the drill runs this build too
cluster_init "$PGDIR" "$PORT" || exit 1
cluster_start "$PGDIR" || exit 1
psql_at "$PGDIR" "$PORT" postgres -c "CREATE DATABASE machi" &&
	psql_at "$PGDIR" "$PORT" machi -c "CREATE EXTENSION machi CASCADE" || exit 1

# two municipalities of the demo data
load() {
	local code=$1 name=$2
	psql_at "$PGDIR" "$PORT" machi -v code="$code" -v name="$name" \
		-v b="$(cat "$ROOT/data/boundaries/$code.json")" >/dev/null <<'SQL'
SELECT machi.create_tenant(:code, :'name', :'b'::jsonb, :'name');
SELECT machi.create_department(:code, 'roads', 'Roads') AS d \gset
SELECT machi.create_category(:code, 'road', 'road', :d, 'Road damage', NULL, 1);
SQL
}
load 12101 Chuo

out=$(bash "$ROOT/ops/backup.sh" 2>&1)
if [ $? -eq 0 ] && [ "$(psql_at "$PGDIR" "$PORT" postgres -c 'SHOW archive_mode')" = on ]; then
	ok "first backup turns on archiving and creates the stanza"
else
	bad "first backup" "$out"
fi
first=$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')

out=$(bash "$ROOT/ops/restore-drill.sh" 2>&1)
if [ $? -eq 0 ] && grep -q '^restore drill: PASS' <<<"$out"; then ok "drill passes: $(tail -1 <<<"$out")"; else bad "drill of the first backup" "$out"; fi

# more data, a second backup; both backups restorable to their own state
load 12204 Funabashi
out=$(bash "$ROOT/ops/backup.sh" 2>&1)
if [ $? -eq 0 ] && [ "$(ls "$COUNTS" | wc -l)" = 2 ]; then ok "second backup, two sets of counts kept"; else bad "second backup" "$out"; fi
tenants_now=$(grep -P '^tenant\t' "$COUNTS"/*.tsv | awk -F '\t' '{print $2}' | sort | tr '\n' ' ')
if [ "$tenants_now" = "1 2 " ]; then ok "counts recorded per backup (tenant: 1 then 2)"; else bad "recorded tenant counts: $tenants_now"; fi

out=$(bash "$ROOT/ops/restore-drill.sh" 2>&1)
if [ $? -eq 0 ] && grep -q '^restore drill: PASS' <<<"$out"; then ok "drill of the latest backup passes"; else bad "drill of the latest backup" "$out"; fi
out=$(bash "$ROOT/ops/restore-drill.sh" "$first" 2>&1)
if [ $? -eq 0 ] && grep -q "^restore drill: PASS (backup $first" <<<"$out"; then ok "drill of the older backup restores its own state"; else bad "drill of the older backup" "$out"; fi

# a count that does not match must fail the drill
latest=$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
cp "$COUNTS/$latest.tsv" "$WORK/counts.save"
sed -i -E 's/^(tenant\t)[0-9]+$/\199/' "$COUNTS/$latest.tsv"
out=$(bash "$ROOT/ops/restore-drill.sh" 2>&1)
if [ $? -ne 0 ] && grep -q '^restore drill: FAIL (row counts differ' <<<"$out"; then ok "drill fails on a row count mismatch"; else bad "drill with a wrong count" "$out"; fi
cp "$WORK/counts.save" "$COUNTS/$latest.tsv"
chown postgres: "$COUNTS/$latest.tsv"

# a corrupted file in the repository must fail the drill (verify exits 0)
victim=$(find "$BACKUP/repo/backup/$STANZA/$latest/pg_data/base" -type f -size +2k | sort | head -1)
if [ -n "$victim" ]; then
	printf 'garbage' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
	out=$(bash "$ROOT/ops/restore-drill.sh" 2>&1)
	if [ $? -ne 0 ] && grep -q '^restore drill: FAIL (pgbackrest verify' <<<"$out"; then ok "drill fails on a corrupted backup file"; else bad "drill with a corrupted file" "$out"; fi
else
	bad "no backup file to corrupt"
fi

# retention: pgBackRest expires the oldest full backups and the drill's
# counts go with them (10 kept normally; 2 here, by the environment)
out=$(PGBACKREST_REPO1_RETENTION_FULL=2 bash "$ROOT/ops/backup.sh" 2>&1)
n=$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["backup"]))')
if [ "$n" = 2 ] && [ ! -e "$COUNTS/$first.tsv" ] && [ "$(ls "$COUNTS" | wc -l)" = 2 ]; then
	ok "retention expires the oldest backup and its counts"
else
	bad "retention: $n backups, counts $(ls "$COUNTS" | tr '\n' ' ')" "$out"
fi
if grep -q '^repo1-retention-full=10$' "$PGBR_CONF"; then ok "10 full backups kept by configuration"; else bad "retention setting"; fi

echo "ops backup: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
