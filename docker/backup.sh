#!/bin/sh
# backup.sh daily|now|drill: the backup service of docker/compose.yaml
# (db image, user postgres, the repository volume and the data and socket
# volumes of every node mounted at the nodes' own paths).
#
#   now    one full backup from whichever node is the primary (pgBackRest
#          finds it among pg1, pg2), creating the stanza on first use; then
#          the row count of every table of schema machi and a named restore
#          point, kept next to the backup for the drill
#   daily  `now` at start when the repository has no backup yet, then every
#          day at BACKUP_AT (UTC, default 02:30), forever
#   drill  restore the latest backup into a scratch cluster, replay WAL to
#          its restore point, compare the row counts and run
#          machi.verify_audit() when the extension has it; one PASS/FAIL line
#
# pgBackRest keeps 10 full backups (docker/pgbackrest.conf).
set -eu
REPO=/var/lib/pgbackrest
COUNTS=$REPO/counts
PRIMARY="host=${PGBACKREST_PG1_SOCKET_PATH:-/run/postgresql/db1},${PGBACKREST_PG2_SOCKET_PATH:-/run/postgresql/db2} user=postgres dbname=machi target_session_attrs=read-write"
pgbr() { pgbackrest --stanza=machi "$@"; }

count_sql="SELECT c.relname || E'\t' || (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') ORDER BY c.relname;"

now() {
	mkdir -p "$COUNTS"
	pgbr info --output=json | grep -q '"status":{"code":0' || pgbr stanza-create
	pgbr --type=full backup
	label=$(pgbr info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
	rp="machi-backup-$label"
	printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT %s FROM pg_create_restore_point(%s);\n%s\nCOMMIT;\n' \
		"'# restore_point $rp'" "'$rp'" "$count_sql" | psql -X -q -At -v ON_ERROR_STOP=1 -d "$PRIMARY" >"$COUNTS/$label.tsv.tmp"
	mv "$COUNTS/$label.tsv.tmp" "$COUNTS/$label.tsv"
	pgbr check
	labels=$(pgbr info --output=json | python3 -c 'import json,sys; print("\n".join(b["label"] for b in json.load(sys.stdin)[0]["backup"]))')
	for f in "$COUNTS"/*.tsv; do
		[ -e "$f" ] || continue
		echo "$labels" | grep -qxF "$(basename "$f" .tsv)" || rm -f "$f"
	done
	echo "backup: full backup $label done"
}

drill() {
	fail() { echo "restore drill: FAIL ($*)"; exit 1; }
	verify=$(pgbr verify --output=text --verbose 2>&1)
	echo "$verify" | grep -q '^status: ok$' || fail "pgbackrest verify does not report status: ok"
	! echo "$verify" | grep -qE 'status: (error|invalid)|(missing|checksum invalid|size invalid|other): [1-9]' ||
		fail "pgbackrest verify reports problems"
	label=$(pgbr info --output=json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["backup"][-1]["label"])')
	[ -f "$COUNTS/$label.tsv" ] || fail "no counts recorded for $label"
	rp=$(sed -n 's/^# restore_point //p' "$COUNTS/$label.tsv")
	d=/tmp/drill
	rm -rf "$d"
	mkdir -p "$d"
	chmod 0700 "$d"
	env -u PGBACKREST_PG2_PATH -u PGBACKREST_PG2_SOCKET_PATH pgbackrest --stanza=machi --set="$label" \
		--pg1-path="$d/data" --type=name --target="$rp" --target-action=promote --archive-mode=off restore ||
		fail "restore failed"
	printf "port = 5433\nlisten_addresses = ''\nunix_socket_directories = '%s'\narchive_mode = off\n" "$d" >>"$d/data/postgresql.auto.conf"
	pg_ctl -D "$d/data" -l "$d/server.log" -w -t 300 start >/dev/null || fail "restored cluster does not start"
	trap 'pg_ctl -D "$d/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$d"' EXIT
	i=0
	until [ "$(psql -X -At -h "$d" -p 5433 -d postgres -c 'SELECT pg_is_in_recovery()')" = f ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "no promotion within 5 minutes"
		sleep 1
	done
	printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\n%s\nCOMMIT;\n' "$count_sql" |
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$d" -p 5433 -d machi >"$d/counts.tsv"
	grep -v '^#' "$COUNTS/$label.tsv" | diff - "$d/counts.tsv" >/dev/null || fail "row counts differ from backup time"
	audit="verify_audit absent"
	if [ "$(psql -X -At -h "$d" -p 5433 -d machi -c "SELECT to_regprocedure('machi.verify_audit(timestamptz,timestamptz)') IS NOT NULL")" = t ]; then
		[ "$(psql -X -At -h "$d" -p 5433 -d machi -c 'SELECT ok FROM machi.verify_audit()')" = t ] || fail "machi.verify_audit() fails"
		audit="verify_audit ok"
	fi
	echo "restore drill: PASS (backup $label, $(wc -l <"$d/counts.tsv") tables match, $audit)"
}

daily() {
	at=${BACKUP_AT:-02:30}
	# a new installation gets its first backup (and the stanza that WAL
	# archiving needs) as soon as the primary answers
	i=0
	until psql -X -At -d "$PRIMARY" -c 'SELECT 1' >/dev/null 2>&1 || [ $i -ge 120 ]; do
		i=$((i + 1))
		sleep 5
	done
	if ! pgbr info --output=json 2>/dev/null | grep -q '"label"'; then
		now || echo "backup: first backup FAILED" >&2
	fi
	while :; do
		target=$(date -u -d "today $at" +%s)
		[ "$target" -gt "$(date -u +%s)" ] || target=$(date -u -d "tomorrow $at" +%s)
		sleep $((target - $(date -u +%s)))
		now || echo "backup: FAILED (will try again tomorrow)" >&2
	done
}

case "${1:-daily}" in
	now) now ;;
	drill) drill ;;
	daily) daily ;;
	*) echo "usage: backup.sh daily|now|drill" >&2; exit 2 ;;
esac
