#!/bin/sh
# make-secrets.sh [DIR]: generate the secret files docker/compose.yaml
# mounts (default DIR: docker/secrets next to this script).  Existing files
# are kept.  Passwords are 32 random hex characters; the master key is 32
# random bytes, readable only by postgres (uid 999 in the images); every
# other file is readable by the group machi-secrets (gid 990), of which the
# images' postgres and machi users are members.  The TLS pair is a
# self-signed placeholder: replace tls_cert and tls_key with real ones.
# The SMTP password is asked for (or taken from MACHI_SMTP_PASSWORD).
# Run as root so that the ownership can be set.
set -eu
dir=${1:-$(dirname "$0")/secrets}
umask 077
mkdir -p "$dir"

for s in pg_superuser_password pg_replication_password machi_gateway_password machi_mailer_password; do
	[ -s "$dir/$s" ] || openssl rand -hex 16 >"$dir/$s"
done
[ -s "$dir/machi_master_key" ] || head -c 32 /dev/urandom >"$dir/machi_master_key"
if [ ! -s "$dir/tls_key" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
		-subj /CN=localhost -keyout "$dir/tls_key" -out "$dir/tls_cert" 2>/dev/null
fi
if [ ! -s "$dir/smtp_password" ]; then
	if [ -n "${MACHI_SMTP_PASSWORD:-}" ]; then
		printf '%s\n' "$MACHI_SMTP_PASSWORD" >"$dir/smtp_password"
	else
		printf 'SMTP password: ' >&2
		stty -echo 2>/dev/null || true
		read -r pw
		stty echo 2>/dev/null || true
		echo >&2
		printf '%s\n' "$pw" >"$dir/smtp_password"
	fi
fi

if [ "$(id -u)" -eq 0 ]; then
	chown 0:990 "$dir"/*
	chmod 0640 "$dir"/*
	chown 999:999 "$dir/machi_master_key"
	chmod 0600 "$dir/machi_master_key"
	chmod 0750 "$dir"
	chgrp 990 "$dir"
else
	echo "make-secrets: not root; set the ownership yourself (see the comment at the top)" >&2
fi
echo "secrets in $dir"
