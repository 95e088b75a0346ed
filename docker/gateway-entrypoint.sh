#!/bin/sh
# gateway-entrypoint.sh gateway|mailer [options...]: start machi-gateway or
# machi-mailer with the database password from /run/secrets in a private
# pgpass file (never on the command line or in the environment).
#
# Environment: DB_HOSTS (host,host: every Patroni node; the programs follow
# the primary with target_session_attrs=read-write), DB_PORTS (default 5432
# for each), DB_NAME (default machi).  Gateway: TLS certificate and key in
# the secrets tls_cert and tls_key.  Mailer: SMTP_URL, MAIL_FROM, SMTP_USER,
# SMTP password in the secret smtp_password.
set -eu
what=${1:-gateway}
[ $# -gt 0 ] && shift

: "${DB_HOSTS:?DB_HOSTS is required}"
ports=${DB_PORTS:-}
if [ -z "$ports" ]; then
	ports=$(echo "$DB_HOSTS" | sed 's/[^,][^,]*/5432/g')
fi
db=${DB_NAME:-machi}

case $what in
	gateway) role=machi_gateway ;;
	mailer) role=machi_mailer ;;
	*) echo "usage: gateway-entrypoint.sh gateway|mailer [options...]" >&2; exit 2 ;;
esac

umask 077
mkdir -p /tmp/machi
printf '*:*:%s:%s:%s\n' "$db" "$role" "$(head -n 1 "/run/secrets/${role}_password")" >/tmp/machi/pgpass
export PGPASSFILE=/tmp/machi/pgpass
conninfo="host=$DB_HOSTS port=$ports dbname=$db user=$role target_session_attrs=read-write connect_timeout=2"

if [ "$what" = gateway ]; then
	exec machi-gateway --listen 0.0.0.0:8443 --listen "[::]:8443" \
		--tls-cert /run/secrets/tls_cert --tls-key /run/secrets/tls_key \
		--conninfo "$conninfo" "$@"
fi
set -- --conninfo "$conninfo" --smtp-url "${SMTP_URL:?SMTP_URL is required}" \
	--from "${MAIL_FROM:?MAIL_FROM is required}" "$@"
if [ -n "${SMTP_USER:-}" ]; then
	set -- "$@" --smtp-user "$SMTP_USER" --smtp-password-file /run/secrets/smtp_password
fi
exec machi-mailer "$@"
