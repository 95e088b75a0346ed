#!/usr/bin/env bash
# ops/restore-drill.sh [LABEL]: prove that the latest backup (or LABEL) of
# ops/backup.sh can be restored.
#
#  1. `pgbackrest verify` must report "status: ok" (its exit status is 0
#     even when a backup file is corrupt, so it is not trusted);
#  2. the backup is restored into a scratch cluster on another port
#     (MACHI_DRILL_PORT, default 5498) up to the restore point made when
#     the backup was taken, replaying archived WAL, and promoted;
#  3. the row count of every table of schema machi must equal the count
#     recorded at backup time;
#  4. machi.verify_audit() must pass, when the extension has it.
#
# Prints one line "restore drill: PASS ..." or "restore drill: FAIL ...";
# exit status 0 only on PASS.  The scratch cluster is removed afterwards
# (kept with MACHI_KEEP_DRILL=1).  The scratch cluster runs the PostgreSQL
# binaries the source cluster runs: the installed ones, as scripts/service.sh
# does, or those of MACHI_PGBIN (a private tree, see cluster_private_tree).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DB=${MACHI_PG_DB:-machi}
DPORT=${MACHI_DRILL_PORT:-5498}
SCRATCH="$VAR/drill"
WANT=${1:-}
notes=()

fail() {
	echo "restore drill: FAIL ($*)"
	exit 1
}

cleanup() {
	cluster_stop "$SCRATCH/pg"
	if [ "${MACHI_KEEP_DRILL:-}" = "" ]; then
		rm -rf "$SCRATCH"
	fi
}

[ -f "$PGBR_CONF" ] || fail "no backup repository in $BACKUP: run make backup first"

# 1. the repository as a whole
verify=$(pgbr verify --output=text --verbose 2>&1)
echo "$verify" >"$BACKUP/log/verify-last.txt" 2>/dev/null || true
grep -q '^status: ok$' <<<"$verify" || fail "pgbackrest verify does not report status: ok; see $BACKUP/log/verify-last.txt"
if grep -qE 'status: (error|invalid)|(missing|checksum invalid|size invalid|other): [1-9]' <<<"$verify"; then
	fail "pgbackrest verify reports problems; see $BACKUP/log/verify-last.txt"
fi

label=${WANT:-$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; b=json.load(sys.stdin)[0]["backup"]; print(b[-1]["label"] if b else "")')}
[ -n "$label" ] || fail "the repository holds no backup"
[ -f "$COUNTS/$label.tsv" ] || fail "no row counts recorded for backup $label"
rp=$(sed -n 's/^# restore_point //p' "$COUNTS/$label.tsv")
[ -n "$rp" ] || fail "no restore point recorded for backup $label"

# 2. restore into a scratch cluster and promote it
cleanup
trap cleanup EXIT
mkdir -p "$SCRATCH"
chmod 0755 "$SCRATCH"
PGBIN=${MACHI_PGBIN:-$PGBIN}
mkdir -p "$SCRATCH/pg"
chown postgres: "$SCRATCH/pg"
chmod 0750 "$SCRATCH/pg"
started=$(date +%s.%N)
pgbr --set="$label" --pg1-path="$SCRATCH/pg/data" --type=name --target="$rp" \
	--target-action=promote --archive-mode=off restore >"$SCRATCH/restore.log" 2>&1 ||
	fail "pgbackrest restore failed: $(tail -3 "$SCRATCH/restore.log" | tr '\n' ' ')"
as_pg tee -a "$SCRATCH/pg/data/postgresql.auto.conf" >/dev/null <<EOF
# restore drill: a scratch copy, private socket, no archiving
port = $DPORT
listen_addresses = ''
unix_socket_directories = '$SCRATCH/pg'
archive_mode = off
EOF
cluster_start "$SCRATCH/pg" 2>"$SCRATCH/start.err" || fail "restored cluster does not start: $(tail -3 "$SCRATCH/pg/server.log" | tr '\n' ' ')"
promoted=
for _ in $(seq 1 120); do
	if [ "$(psql_at "$SCRATCH/pg" "$DPORT" postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; then
		promoted=1
		break
	fi
	sleep 0.5
done
[ -n "$promoted" ] || fail "restored cluster did not reach the restore point $rp within 60 s"
secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')

# 3. row counts
{
	echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"
	count_rows_sql
	echo "COMMIT;"
} | psql_at "$SCRATCH/pg" "$DPORT" "$DB" >"$SCRATCH/counts.tsv" 2>"$SCRATCH/counts.err" ||
	fail "cannot count rows in the restored database $DB: $(head -1 "$SCRATCH/counts.err")"
grep -v '^#' "$COUNTS/$label.tsv" >"$SCRATCH/expected.tsv"
if ! diff "$SCRATCH/expected.tsv" "$SCRATCH/counts.tsv" >"$SCRATCH/counts.diff"; then
	fail "row counts differ from backup time: $(grep '^[<>]' "$SCRATCH/counts.diff" | head -6 | tr '\n' ' ')"
fi
tables=$(grep -c . "$SCRATCH/counts.tsv" || true)
rows=$(awk -F '\t' '{s += $2} END {print s + 0}' "$SCRATCH/counts.tsv")
[ "$tables" -gt 0 ] || fail "schema machi has no tables in the restored database"

# 4. audit chain
audit=$(verify_audit "$SCRATCH/pg" "$DPORT" "$DB") || fail "machi.verify_audit: $audit"
case "$audit" in
	absent) notes+=("verify_audit not run: the extension has no machi.verify_audit") ;;
	unknown*) notes+=("verify_audit not run: $audit") ;;
	*) notes+=("verify_audit $audit") ;;
esac

printf 'restore drill: PASS (backup %s, restored to %s in %.1f s, %s tables / %s rows match, %s)\n' \
	"$label" "$rp" "$secs" "$tables" "$rows" "$(IFS=';'; echo "${notes[*]}")"
