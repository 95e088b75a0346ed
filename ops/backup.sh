#!/usr/bin/env bash
# ops/backup.sh: full backup of the machi cluster (by default the one of
# `make run` in ./var) into a pgBackRest repository under $MACHI_VAR/backup.
#
# The first run writes the pgBackRest configuration, turns on WAL archiving
# in the cluster (ALTER SYSTEM; a restart only when archive_mode was off) and
# creates the stanza.  Every run then takes a full backup (pgBackRest expires
# all but the 10 newest), records the row count of every table of schema
# machi together with a named restore point, and makes sure the WAL up to
# that point is archived, so that `make restore-drill` can restore exactly
# that state and compare.  See ops/lib.sh for the environment variables.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DB=${MACHI_PG_DB:-machi}

if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
	echo "backup: the cluster in $PGDIR is not running (make run)" >&2
	exit 1
fi

pgbr_configure

# WAL archiving into this repository
want=$(archive_command_for "$PGBR_CONF")
mode=$(psql_at "$PGDIR" "$PORT" postgres -c "SHOW archive_mode")
cmd=$(psql_at "$PGDIR" "$PORT" postgres -c "SHOW archive_command")
if [ "$cmd" != "$want" ]; then
	psql_at "$PGDIR" "$PORT" postgres -c "ALTER SYSTEM SET archive_command = '$want'" -c "SELECT pg_reload_conf()" >/dev/null
fi
if [ "$mode" = off ]; then
	echo "backup: turning on WAL archiving (restarts the cluster once)"
	psql_at "$PGDIR" "$PORT" postgres -c "ALTER SYSTEM SET archive_mode = on" >/dev/null
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -m fast -w -t 60 restart >/dev/null
fi

if ! pgbr info --output=json | grep -q '"status":{"code":0'; then
	pgbr stanza-create
fi
pgbr check

pgbr --type=full backup
label=$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')

# Row counts and a restore point in one snapshot; then `check` switches WAL
# and waits until the segment holding the restore point is in the archive.
rp="machi-backup-$label"
as_pg tee "$COUNTS/$label.tsv.tmp" >/dev/null < <(
	{
		echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"
		echo "SELECT '# restore_point $rp' FROM pg_create_restore_point('$rp');"
		count_rows_sql
		echo "COMMIT;"
	} | psql_at "$PGDIR" "$PORT" "$DB"
)
as_pg mv "$COUNTS/$label.tsv.tmp" "$COUNTS/$label.tsv"
pgbr check

# counts of backups pgBackRest has expired go too
labels=$(pgbr info --output=json | /usr/bin/python3 -c 'import json,sys; print("\n".join(b["label"] for b in json.load(sys.stdin)[0]["backup"]))')
for f in "$COUNTS"/*.tsv; do
	[ -e "$f" ] || continue
	grep -qxF "$(basename "$f" .tsv)" <<<"$labels" || as_pg rm -f "$f"
done

tables=$(grep -vc '^#' "$COUNTS/$label.tsv" || true)
kept=$(grep -c . <<<"$labels")
echo "backup: full backup $label of $PGDIR ($tables tables counted, $kept full backups kept, repository $BACKUP/repo)"
