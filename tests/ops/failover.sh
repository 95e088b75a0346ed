#!/usr/bin/env bash
# tests/ops/failover.sh: automatic failover with Patroni and etcd, on
# loopback only.
#
# Starts a one-member etcd, two Patroni nodes (synchronous_mode, pg_rewind)
# with the machi extension, and the real gateway with a multi-host conninfo
# of both nodes.  A writer inserts through a multi-host conninfo with
# target_session_attrs=read-write, a prober asks the gateway for
# /v1/health and /v1/tenants.  Then the leader's Patroni and its postmaster
# with every backend are killed with SIGKILL, and the test checks:
#   - the other node is promoted and writes succeed again within
#     MACHI_FAILOVER_MAX_GAP seconds (default 10) of the last write before
#     the kill;
#   - the gateway answers /v1/health (from a primary) and /v1/tenants with
#     200 again, within the same limit;
#   - every write acknowledged before the kill is on the new leader;
#   - the old leader, restarted, rejoins as a streaming standby (pg_rewind
#     where its timeline diverged) and receives new writes.
# Prints measured times and "ops failover: N passed, N failed".  Run as root
# after `make all`; under a minute.  Timings (Patroni ttl, loop_wait,
# retry_timeout) from MACHI_TTL, MACHI_LOOP_WAIT, MACHI_RETRY_TIMEOUT.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/ops/lib.sh"

TTL=${MACHI_TTL:-6}
LOOP_WAIT=${MACHI_LOOP_WAIT:-1}
RETRY_TIMEOUT=${MACHI_RETRY_TIMEOUT:-2}
MAX_GAP=${MACHI_FAILOVER_MAX_GAP:-10}
# TCP ports on loopback: BASE+1, +2 (etcd), +11, +12 (PostgreSQL), +21, +22
# (Patroni REST), +30 (gateway); the first base among a few whose ports are
# all free, unless MACHI_FAILOVER_PORT_BASE says.
ports_free() {
	local b=$1 p
	for p in 1 2 11 12 21 22 30; do
		ss -Htln "sport = :$((b + p))" | grep -q . && return 1
	done
	return 0
}
BASE=${MACHI_FAILOVER_PORT_BASE:-}
if [ -z "$BASE" ]; then
	for b in 55430 55530 55630 55730 55830 55930 56030 56130; do
		if ports_free "$b"; then
			BASE=$b
			break
		fi
	done
	[ -n "$BASE" ] || { echo "ops failover: 0 passed, 1 failed (no free loopback ports)"; exit 1; }
fi
ETCD_CLIENT=$((BASE + 1)) ETCD_PEER=$((BASE + 2))
PG1=$((BASE + 11)) PG2=$((BASE + 12))
REST1=$((BASE + 21)) REST2=$((BASE + 22))
HTTP=$((BASE + 30))

WORK=$(mktemp -d /tmp/machi-failover.XXXXXX)
chmod 0755 "$WORK"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
bad() { failed=$((failed + 1)); echo "not ok - $1"; [ -z "${2:-}" ] || sed 's/^/    /' <<<"$2"; }
declare -A PID

# stop NAME [SIG]: signal a process this script started and wait (bounded).
stop() {
	local p=${PID[$1]:-}
	[ -n "$p" ] || return 0
	kill "-${2:-TERM}" "$p" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	unset "PID[$1]"
}

cleanup() {
	touch "$WORK/stop"
	stop writer
	stop probe
	stop gateway
	stop n1
	stop n2
	for n in n1 n2; do cluster_stop "$WORK/$n"; done
	stop etcd
	if [ -n "${MACHI_KEEP_TMP:-}" ] || [ "$failed" -ne 0 ]; then
		echo "logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

finish() {
	echo "ops failover: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
	local limit=$1
	shift
	for _ in $(seq 1 $((limit * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# run_pg CMD... &: CMD as postgres in the background with no process in
# between (the subshell execs it), so that $! is CMD itself and SIGKILL
# reaches it.  Only for background use.
run_pg() { cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME="$WORK" "$@"; }

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
http_ok() { [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1")" = 200 ]; }

# a private PostgreSQL tree with this build of machi and every tool Patroni uses
cluster_private_tree "$WORK" "$ROOT"
# what runs as postgres must be readable by it wherever the checkout is
# (a clone under /root is not): copies in the work directory
mkdir -p "$WORK/bin"
cp "$ROOT/tests/ops/writer.py" "$ROOT/gateway/machi-gateway" "$WORK/bin/"
chmod -R a+rX "$WORK/bin"
for f in "$(pg_config --bindir)"/*; do
	[ -e "$PGBIN/$(basename "$f")" ] || cp "$f" "$PGBIN/"
done
chown postgres: "$WORK"

# passwords made for this run only
SU_PW=$(openssl rand -hex 16)
REPL_PW=$(openssl rand -hex 16)
GW_PW=$(openssl rand -hex 16)
as_pg tee "$WORK/pgpass" >/dev/null <<EOF
127.0.0.1:*:*:postgres:$SU_PW
127.0.0.1:*:*:machi_gateway:$GW_PW
EOF
chmod 0600 "$WORK/pgpass"
export PGPASSFILE="$WORK/pgpass"

# etcd: one member, loopback
run_pg etcd --name e1 --data-dir "$WORK/etcd" \
	--listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
	--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
	--initial-cluster "e1=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
	--heartbeat-interval 100 --election-timeout 1000 >"$WORK/etcd.log" 2>&1 &
PID[etcd]=$!
if wait_for 30 env ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_CLIENT" endpoint health; then
	ok "etcd is up"
else
	bad "etcd does not start" "$(tail -5 "$WORK/etcd.log")"
	finish
fi

# patroni_conf NAME PGPORT RESTPORT
patroni_conf() {
	local n=$1 pgport=$2 rest=$3
	mkdir -p "$WORK/$n"
	chown postgres: "$WORK/$n"
	chmod 0700 "$WORK/$n"
	as_pg tee "$WORK/$n/patroni.yml" >/dev/null <<EOF
scope: machi
namespace: /machi-test/
name: $n
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        wal_keep_size: 128MB
        shared_preload_libraries: machi
        max_connections: 50
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$pgport
  connect_address: 127.0.0.1:$pgport
  data_dir: $WORK/$n/data
  bin_dir: $PGBIN
  pgpass: $WORK/$n/pgpass.patroni
  authentication:
    superuser:
      username: postgres
      password: $SU_PW
    replication:
      username: replicator
      password: $REPL_PW
  parameters:
    unix_socket_directories: $WORK/$n
  basebackup:
    - checkpoint: fast
  pg_hba:
    - local all postgres trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
watchdog:
  mode: "off"
EOF
	chmod 0600 "$WORK/$n/patroni.yml"
}

start_patroni() {
	run_pg patroni "$WORK/$1/patroni.yml" >>"$WORK/$1/patroni.log" 2>&1 &
	PID[$1]=$!
}

# role NAME: "primary", "replica" or nothing, from Patroni's REST API
rest_of() { case $1 in n1) echo "$REST1" ;; n2) echo "$REST2" ;; esac; }
pg_of() { case $1 in n1) echo "$PG1" ;; n2) echo "$PG2" ;; esac; }
is_primary() { http_ok "http://127.0.0.1:$(rest_of "$1")/primary"; }
is_replica() { http_ok "http://127.0.0.1:$(rest_of "$1")/replica"; }
sql() { local n=$1; shift; psql_at "$WORK/$n" "$(pg_of "$n")" "$@"; }

patroni_conf n1 "$PG1" "$REST1"
patroni_conf n2 "$PG2" "$REST2"
start_patroni n1
if wait_for 120 is_primary n1; then
	ok "n1 bootstraps as the leader"
else
	bad "n1 does not become the leader" "$(tail -20 "$WORK/n1/patroni.log")"
	finish
fi

# the machi database, a demo municipality, the gateway's password, a test table
sql n1 postgres -c "CREATE DATABASE machi" -c "CREATE DATABASE failover_test" &&
	sql n1 machi -c "CREATE EXTENSION machi CASCADE" >/dev/null 2>&1 &&
	sql n1 machi -v b="$(cat "$ROOT/data/boundaries/12101.json")" -v pw="$GW_PW" >/dev/null <<'SQL' &&
SELECT machi.create_tenant(12101, '千葉市中央区', :'b'::jsonb, 'Chuo Ward, Chiba');
ALTER ROLE machi_gateway PASSWORD :'pw';
SQL
	sql n1 failover_test -c "CREATE TABLE ack (n bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())" ||
	{ bad "cannot prepare the databases"; finish; }

start_patroni n2
sync_ok() { [ "$(sql n1 postgres -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'n2'")" = sync ]; }
if wait_for 120 is_replica n2 && wait_for 60 sync_ok; then
	ok "n2 streams as the synchronous standby"
else
	bad "n2 does not become a synchronous standby" "$(tail -20 "$WORK/n2/patroni.log")"
	finish
fi

# the gateway, following the primary by itself
run_pg PGPASSFILE="$WORK/pgpass" "$WORK/bin/machi-gateway" --plain-http --listen "127.0.0.1:$HTTP" \
	--conninfo "host=127.0.0.1,127.0.0.1 port=$PG1,$PG2 dbname=machi user=machi_gateway connect_timeout=2" \
	--threads 1 --db-connections 2 --access-log off >"$WORK/gateway.log" 2>&1 &
PID[gateway]=$!
if wait_for 30 http_ok "http://127.0.0.1:$HTTP/v1/health"; then
	ok "gateway is up"
else
	bad "gateway does not answer" "$(tail -5 "$WORK/gateway.log")"
	finish
fi

# load: writes through a multi-host conninfo, probes through the gateway
run_pg PGPASSFILE="$WORK/pgpass" /usr/bin/python3 "$WORK/bin/writer.py" write \
	"host=127.0.0.1,127.0.0.1 port=$PG1,$PG2 dbname=failover_test user=postgres target_session_attrs=read-write connect_timeout=2" \
	"INSERT INTO ack (n) VALUES (%s)" "$WORK/writes.log" "$WORK/stop" 150 &
PID[writer]=$!
run_pg /usr/bin/python3 "$WORK/bin/writer.py" probe \
	"http://127.0.0.1:$HTTP/v1/health,http://127.0.0.1:$HTTP/v1/tenants" "$WORK/probe.log" "$WORK/stop" 150 &
PID[probe]=$!
sleep 4

# the failure: the leader's Patroni, postmaster and backends, all SIGKILL
leader=n1
is_primary n1 || leader=n2
other=n2
[ "$leader" = n1 ] || other=n1
pm=$(head -1 "$WORK/$leader/data/postmaster.pid")
kill -KILL "${PID[$leader]}" "$pm" $(pgrep -P "$pm")
kill_at=$(now)
unset "PID[$leader]"
echo "# killed $leader (Patroni and postmaster $pm) at $kill_at"

if wait_for 60 is_primary "$other"; then
	promoted=$(since "$kill_at")
	ok "$other is promoted ($promoted s after the kill)"
else
	bad "$other is not promoted within 60 s" "$(tail -20 "$WORK/$other/patroni.log")"
	finish
fi
writes_back() { [ -n "$(awk -v k="$kill_at" '$1 == "ack" && $3 > k' "$WORK/writes.log" | head -1)" ]; }
gw_back() { awk -v k="$kill_at" '$1 == "probe" && $2 > k && $3 == 200 && $4 == 200' "$WORK/probe.log" | grep -q .; }
wait_for 30 writes_back
wait_for 30 gw_back
sleep 2
touch "$WORK/stop"
stop writer
stop probe

eval "$(/usr/bin/python3 "$ROOT/tests/ops/writer.py" gap "$WORK/writes.log" "$kill_at")"
if [ -n "${gap:-}" ] && awk -v g="$gap" -v m="$MAX_GAP" 'BEGIN {exit !(g <= m)}'; then
	ok "writes resume on the new leader: write-unavailability gap $gap s (${since_kill:-?} s after the kill; limit $MAX_GAP s)"
else
	bad "writes do not resume within $MAX_GAP s (gap ${gap:-none})" "$(grep '^err' "$WORK/writes.log" | tail -3)"
fi
gw_first=$(awk -v k="$kill_at" '$1 == "probe" && $2 > k && $3 == 200 && $4 == 200 {print $2; exit}' "$WORK/probe.log")
gw_gap=$(awk -v k="$kill_at" -v f="${gw_first:-0}" 'BEGIN {printf "%.2f", f - k}')
if [ -n "$gw_first" ] && awk -v g="$gw_gap" -v m="$MAX_GAP" 'BEGIN {exit !(g <= m)}'; then
	ok "gateway serves /v1/health (primary) and /v1/tenants again $gw_gap s after the kill"
else
	bad "gateway does not recover within $MAX_GAP s" "$(tail -3 "$WORK/probe.log"; tail -3 "$WORK/gateway.log")"
fi

awk '$1 == "ack" {print $2}' "$WORK/writes.log" | sort -n >"$WORK/acked"
sql "$other" failover_test -c "SELECT n FROM ack ORDER BY 1" | sort -n >"$WORK/present"
before=$(awk -v k="$kill_at" '$1 == "ack" && $3 <= k' "$WORK/writes.log" | wc -l)
lost=$(comm -23 "$WORK/acked" "$WORK/present" | wc -l)
if [ "$before" -gt 10 ] && [ "$lost" -eq 0 ]; then
	ok "every acknowledged write is on the new leader ($before before the kill, ${acks:-0} in all)"
else
	bad "$lost of ${acks:-0} acknowledged writes missing on the new leader ($before before the kill)"
fi

# the old leader comes back and must follow
rejoin_at=$(now)
start_patroni "$leader"
streaming() { [ "$(sql "$other" postgres -c "SELECT state FROM pg_stat_replication WHERE application_name = '$leader'")" = streaming ]; }
if wait_for 120 is_replica "$leader" && wait_for 60 streaming; then
	how="without rewind"
	grep -q 'pg_rewind exit code=0' "$WORK/$leader/patroni.log" && how="after pg_rewind"
	ok "old leader $leader rejoins as a streaming standby $how ($(since "$rejoin_at") s)"
else
	bad "old leader $leader does not rejoin" "$(tail -20 "$WORK/$leader/patroni.log")"
	finish
fi
sql "$other" failover_test -c "INSERT INTO ack (n) VALUES (-1)"
replicated() { [ "$(sql "$leader" failover_test -c "SELECT count(*) FROM ack WHERE n = -1")" = 1 ]; }
if wait_for 20 replicated; then
	ok "a write on the new leader reaches the old one"
else
	bad "the rejoined node does not receive new writes"
fi

echo "# measured: ttl=$TTL loop_wait=$LOOP_WAIT retry_timeout=$RETRY_TIMEOUT promoted=${promoted:-?}s write_gap=${gap:-?}s gateway=${gw_gap:-?}s"
finish
