#!/usr/bin/env bash
# service.sh start|stop|status: the whole machi service on a persistent local
# cluster under ./var (created on first start, kept between runs), with demo
# data.  Safe to run repeatedly.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"

VAR="$ROOT/var"
PGDIR="$VAR/pg"
PORT=${MACHI_PG_PORT:-5499}
HTTPS_PORT=${MACHI_HTTPS_PORT:-8443}
SMTP_PORT=${MACHI_SMTP_PORT:-8025}
DB=machi
RUN="$VAR/run"
LOG="$VAR/log"

# daemon NAME CMD...: start CMD in the background unless NAME runs already;
# its pid goes to var/run/NAME.pid, its output to var/log/NAME.log.
daemon() {
	local name=$1
	shift
	if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
		return 0
	fi
	nohup "$@" >>"$LOG/$name.log" 2>&1 &
	echo $! >"$RUN/$name.pid"
}

# undaemon NAME: SIGTERM and wait (bounded) for it to exit.
undaemon() {
	local name=$1 pid i
	[ -f "$RUN/$name.pid" ] || return 0
	pid=$(cat "$RUN/$name.pid")
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name.pid"
}

# tls: a self-signed certificate for the local demo, made once
tls() {
	mkdir -p "$VAR/tls"
	chmod 0700 "$VAR/tls"
	if [ ! -f "$VAR/tls/cert.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
			-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
			-keyout "$VAR/tls/key.pem" -out "$VAR/tls/cert.pem" >/dev/null 2>&1
		chmod 0600 "$VAR/tls/key.pem"
	fi
}

psql_pg() {
	as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PORT" -U postgres "$@"
}

start() {
	mkdir -p "$VAR"
	chmod 0755 "$VAR"
	master_key_create "$VAR/keys/master.key"
	if [ ! -d "$PGDIR/data" ]; then
		echo "machi: creating the local cluster in $PGDIR"
		# WAL archiving for `make backup` (ops/backup.sh): archive_mode needs a
		# restart, so it is on from the start; the first backup points
		# archive_command at pgBackRest (ALTER SYSTEM).  Until then no WAL is
		# kept: there is no backup it could complete.
		cluster_init "$PGDIR" "$PORT" "cron.database_name = '$DB'" \
			"machi.master_key_file = '$VAR/keys/master.key'" \
			"machi.public_base_url = 'https://127.0.0.1:$HTTPS_PORT'" \
			"machi.operator_email = 'operators@localhost'" \
			"archive_mode = on" "archive_command = '/bin/true'"
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
		cluster_start "$PGDIR"
	fi
	if ! psql_pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
		psql_pg -d postgres -c "CREATE DATABASE $DB"
	fi
	psql_pg -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS machi CASCADE"
	mkdir -p "$RUN" "$LOG"
	psql_pg -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" -c "SELECT count(*) AS jobs FROM machi.schedule_jobs()" >/dev/null
	if [ "$(psql_pg -d "$DB" -Atc 'SELECT count(*) FROM machi.tenant')" = "0" ]; then
		load_demo
	fi
	# a local SMTP sink that keeps every message in var/mail (Maildir), and
	# the mailer that drains the outbox into it
	daemon smtp-sink /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$VAR/mail"
	daemon mailer "$ROOT/gateway/machi-mailer" --conninfo "host=$PGDIR port=$PORT dbname=$DB user=machi_mailer" \
		--smtp-url "smtp://127.0.0.1:$SMTP_PORT" --starttls none --from noreply@localhost --poll-interval 5
	tls
	local static=()
	[ -d "$ROOT/console/dist" ] && static=(--static-dir "$ROOT/console/dist")
	daemon gateway "$ROOT/gateway/machi-gateway" --listen "127.0.0.1:$HTTPS_PORT" --listen "[::1]:$HTTPS_PORT" \
		--tls-cert "$VAR/tls/cert.pem" --tls-key "$VAR/tls/key.pem" \
		--conninfo "host=$PGDIR port=$PORT dbname=$DB user=machi_gateway" \
		--access-log "$LOG/access.log" "${static[@]}"
	for i in $(seq 1 50); do
		curl -s -o /dev/null --cacert "$VAR/tls/cert.pem" "https://127.0.0.1:$HTTPS_PORT/v1/health" && break
		sleep 0.2
	done
	echo
	echo "machi is running."
	echo "  HTTPS: https://127.0.0.1:$HTTPS_PORT/  (self-signed: curl --cacert var/tls/cert.pem)"
	echo "         curl --cacert var/tls/cert.pem https://127.0.0.1:$HTTPS_PORT/v1/tenants"
	echo "  psql:  psql -h $PGDIR -p $PORT -U postgres $DB"
	echo "  mail:  every message the service sends lands in var/mail/new/ (local SMTP sink)"
	echo "  logs:  var/log/ (gateway.log, access.log, mailer.log), PostgreSQL: var/pg/server.log"
	echo "  stop:  make stop"
}

# load_demo: the demo municipalities, accounts and reports (scripts/demo.sh)
load_demo() {
	echo "machi: loading demo data"
	PGHOST="$PGDIR" PGPORT="$PORT" PGUSER=postgres MACHI_PG_DB="$DB" MACHI_DEMO_ACCOUNTS=1 bash "$ROOT/scripts/demo.sh"
}

stop() {
	undaemon gateway
	undaemon mailer
	undaemon smtp-sink
	cluster_stop "$PGDIR"
	echo "machi: stopped"
}

case "${1:-start}" in
	start) start ;;
	stop) stop ;;
	status) as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status ;;
	*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
