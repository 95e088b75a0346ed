#!/bin/sh
# db-entrypoint.sh: start one PostgreSQL node of machi under Patroni.
#
# Environment: NODE_NAME (db1, db2, ...; also the host name the others
# reach it by), ETCD_HOSTS (host:port,...), PATRONI_SCOPE (default machi),
# PATRONI_TTL / PATRONI_LOOP_WAIT / PATRONI_RETRY_TIMEOUT (default 6/1/2,
# see docs/deploying.md).  Secrets, files under /run/secrets (never in the
# image or the environment): pg_superuser_password, pg_replication_password,
# machi_master_key (read by the extension itself).  The Patroni
# configuration with the passwords goes to a private file under /tmp
# (a tmpfs in docker/compose.yaml).
#
# For docker/lint.sh: SECRETS_DIR replaces /run/secrets, PATRONI_CONF the
# configuration path, and DRY_RUN=1 writes the configuration and stops.
set -eu

: "${NODE_NAME:?NODE_NAME is required}"
: "${ETCD_HOSTS:?ETCD_HOSTS is required}"
SCOPE=${PATRONI_SCOPE:-machi}
DATA=/var/lib/postgresql/$NODE_NAME
SOCK=/run/postgresql/$NODE_NAME
CONF=${PATRONI_CONF:-/tmp/patroni/patroni.yml}
CONFDIR=$(dirname "$CONF")
SECRETS=${SECRETS_DIR:-/run/secrets}

secret() {
	if [ ! -s "$SECRETS/$1" ]; then
		echo "db-entrypoint: secret $1 is missing ($SECRETS/$1)" >&2
		exit 1
	fi
	head -n 1 "$SECRETS/$1"
}

SU_PW=$(secret pg_superuser_password)
REPL_PW=$(secret pg_replication_password)
secret machi_master_key >/dev/null

umask 077
mkdir -p "$CONFDIR"
[ "${DRY_RUN:-}" = 1 ] || mkdir -p "$SOCK"
cat >"$CONF" <<YAML
scope: $SCOPE
namespace: /service/
name: $NODE_NAME
restapi:
  listen: 0.0.0.0:8008
  connect_address: $NODE_NAME:8008
etcd3:
  hosts: $ETCD_HOSTS
bootstrap:
  dcs:
    ttl: ${PATRONI_TTL:-6}
    loop_wait: ${PATRONI_LOOP_WAIT:-1}
    retry_timeout: ${PATRONI_RETRY_TIMEOUT:-2}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 1GB
        shared_preload_libraries: machi,pg_cron
        cron.database_name: machi
        machi.master_key_file: /run/secrets/machi_master_key
        archive_mode: "on"
        archive_command: pgbackrest --stanza=machi archive-push %p
        archive_timeout: 300
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
  post_bootstrap: /usr/local/bin/db-post-bootstrap.sh
  pg_hba:
    - local all postgres peer
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host replication replicator ::/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256
    - host all all ::/0 scram-sha-256
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $NODE_NAME:5432
  data_dir: $DATA
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: $CONFDIR/pgpass
  authentication:
    superuser:
      username: postgres
      password: "$SU_PW"
    replication:
      username: replicator
      password: "$REPL_PW"
    rewind:
      username: postgres
      password: "$SU_PW"
  parameters:
    unix_socket_directories: $SOCK
  basebackup:
    - checkpoint: fast
  pg_hba:
    - local all postgres peer
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host replication replicator ::/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256
    - host all all ::/0 scram-sha-256
watchdog:
  mode: "off"
YAML

[ "${DRY_RUN:-}" != 1 ] || exit 0

# pgBackRest in this container: this node's data and socket
export PGBACKREST_PG1_PATH="$DATA" PGBACKREST_PG1_SOCKET_PATH="$SOCK"
exec patroni "$CONF"
