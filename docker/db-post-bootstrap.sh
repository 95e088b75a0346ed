#!/bin/sh
# db-post-bootstrap.sh CONNSTRING: run once by Patroni after it has created
# a new cluster: the machi database with its extension, and the passwords
# of the login roles of the gateway and the mailer (from /run/secrets).
set -eu
psql -X -q -v ON_ERROR_STOP=1 -d "$1" \
	-v gw="$(head -n 1 /run/secrets/machi_gateway_password)" \
	-v ml="$(head -n 1 /run/secrets/machi_mailer_password)" <<'SQL'
CREATE DATABASE machi;
\connect machi
CREATE EXTENSION machi CASCADE;
ALTER ROLE machi_gateway PASSWORD :'gw';
ALTER ROLE machi_mailer PASSWORD :'ml';
SQL
