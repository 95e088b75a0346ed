#!/usr/bin/env bash
# ops/lib.sh: shared shell functions of the backup and restore-drill scripts.
# Sourced by ops/backup.sh and ops/restore-drill.sh (and their tests).
#
# Which cluster and repository, from the environment (defaults are those of
# `make run`, see scripts/service.sh):
#   MACHI_VAR       state directory (default ./var); the cluster is in
#                   $MACHI_VAR/pg, the pgBackRest repository and its
#                   configuration in $MACHI_VAR/backup
#   MACHI_PG_PORT   port of the cluster (default 5499; unix socket only)
#   MACHI_STANZA    pgBackRest stanza (default machi)

OPS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$OPS_ROOT/scripts/cluster.sh"

VAR=${MACHI_VAR:-$OPS_ROOT/var}
PGDIR="$VAR/pg"
PORT=${MACHI_PG_PORT:-5499}
STANZA=${MACHI_STANZA:-machi}
BACKUP="$VAR/backup"
PGBR_CONF="$BACKUP/pgbackrest.conf"
COUNTS="$BACKUP/counts"

# pgbr ARGS...: pgBackRest as the postgres user with this repository's
# configuration (never the system-wide /etc/pgbackrest.conf, so a test
# repository and the `make run` repository never share a lock or a log).
pgbr() {
	as_pg pgbackrest --config="$PGBR_CONF" --stanza="$STANZA" "$@"
}

# psql_at DIR PORT DB ARGS...: psql as postgres on the unix socket in DIR,
# unaligned tuples only, stopping on the first error.
psql_at() {
	local dir=$1 port=$2 db=$3
	shift 3
	as_pg "$(pg_config --bindir)/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d "$db" "$@"
}

# pgbr_configure: write the repository configuration (once) and create the
# repository directory owned by postgres.  Full backups are kept 10 deep
# (repo1-retention-full); the WAL they need is kept with them.
pgbr_configure() {
	mkdir -p "$BACKUP"
	chown postgres: "$BACKUP"
	chmod 0750 "$BACKUP"
	as_pg mkdir -p "$BACKUP/repo" "$BACKUP/log" "$BACKUP/lock" "$COUNTS"
	if [ ! -f "$PGBR_CONF" ]; then
		as_pg tee "$PGBR_CONF" >/dev/null <<EOF
# pgBackRest configuration of this machi cluster (written by ops/backup.sh).
[global]
repo1-path=$BACKUP/repo
repo1-retention-full=10
log-path=$BACKUP/log
lock-path=$BACKUP/lock
log-level-console=warn
log-level-file=detail
compress-type=lz4
start-fast=y
archive-timeout=60

[$STANZA]
pg1-path=$PGDIR/data
pg1-socket-path=$PGDIR
pg1-port=$PORT
pg1-user=postgres
EOF
	fi
}

# archive_command_for CONF: the archive_command that pushes WAL to the
# repository of CONF.
archive_command_for() {
	echo "pgbackrest --config=$1 --stanza=$STANZA archive-push %p"
}

# count_rows_sql: a query giving "table<TAB>rows" for every table of schema machi,
# sorted by name.  Run as postgres (a superuser: row-level security does not
# hide rows from it).  The caller runs it in a REPEATABLE READ transaction
# so that all counts see one snapshot.
count_rows_sql() {
	cat <<'SQL'
SELECT c.relname || E'\t' ||
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                           false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p')
ORDER BY c.relname;
SQL
}

# verify_audit DIR PORT DB: run the extension's audit chain verifier when
# the database has one.  Prints "ok (...)", "FAILED: problem", "absent" (no
# function named verify_audit: the extension predates it) or "unknown
# signature: ..." (a verify_audit this script does not know how to call).
# Returns 1 only on FAILED.
verify_audit() {
	local sigs v
	sigs=$(psql_at "$1" "$2" "$3" -c "SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1) FROM pg_proc p WHERE p.proname = 'verify_audit'")
	if [ -z "$sigs" ]; then
		echo "absent"
		return 0
	fi
	if [ "$(psql_at "$1" "$2" "$3" -c "SELECT to_regprocedure('machi.verify_audit(timestamptz,timestamptz)') IS NOT NULL")" != t ]; then
		echo "unknown signature: $sigs"
		return 0
	fi
	v=$(psql_at "$1" "$2" "$3" -F ' ' -c "SELECT ok, seals_checked, rows_checked, coalesce(problem, '-') FROM machi.verify_audit()") || {
		echo "FAILED: verify_audit raised an error"
		return 1
	}
	set -- $v
	if [ "$1" = t ]; then
		echo "ok ($2 seals, $3 rows)"
	else
		echo "FAILED: ${*:4}"
		return 1
	fi
}
