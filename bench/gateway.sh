#!/usr/bin/env bash
# bench/gateway.sh: throughput of the gateway (wrk over HTTPS, keep-alive)
# against pgbench running the same api.handle call at the same concurrency,
# for GET /v1/health and an authenticated read (GET /v1/reports?mine=true
# with a bearer token); latency at half the peak rate (wrk with a
# rate-limiting Lua script); the gateway's peak RSS.  Writes
# docs/benchmarks-gateway.part.  CLIENTS (default 16), SECS (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
CLIENTS=${CLIENTS:-16}
SECS=${SECS:-10}
PORT=54340
HTTPS=18443
TMP=$(mktemp -d /tmp/machi-bench-gw.XXXXXX)
chmod 0755 "$TMP"
GW_PID=
cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
	cluster_stop "$TMP/pg"
	rm -rf "$TMP"
}
trap cleanup EXIT
cluster_private_tree "$TMP" "$ROOT"
master_key_create "$TMP/keys/master.key"
cluster_init "$TMP/pg" "$PORT" "max_connections = 100" "machi.master_key_file = '$TMP/keys/master.key'" \
	"cron.database_name = 'postgres'"
cluster_start "$TMP/pg"
export PGHOST="$TMP/pg" PGPORT="$PORT" PGUSER=postgres
PSQL="$(pg_config --bindir)/psql -X -q -v ON_ERROR_STOP=1"
$PSQL -d postgres -c "CREATE DATABASE machi"
$PSQL -d machi -c "CREATE EXTENSION machi CASCADE" >/dev/null 2>&1
MACHI_PG_DB=machi bash "$ROOT/scripts/demo.sh" >/dev/null
# a citizen with ten reports, and a bearer token for them
TOKEN=$($PSQL -d machi -At <<'SQL'
SELECT machi.import_account('citizen', 'bench@example.jp', public.crypt('bench password 2026', public.gen_salt('bf', 4))) AS c \gset
DO $$
BEGIN
	FOR i IN 1..10 LOOP
		PERFORM machi.act_as((SELECT account_id FROM machi.account WHERE kind = 'citizen' ORDER BY account_id DESC LIMIT 1), 'benchmark data');
		PERFORM api.handle('POST', '/v1/reports', '', '{"content-type": "application/json"}',
						   convert_to('{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "bench ' || i || '"}', 'UTF8'), NULL, NULL);
	END LOOP;
END $$;
SELECT convert_from(body, 'UTF8')::jsonb->>'token'
FROM api.handle('POST', '/v1/auth/login', '', '{"content-type": "application/json"}',
				convert_to('{"email": "bench@example.jp", "password": "bench password 2026"}', 'UTF8'), '127.0.0.1', NULL);
SQL
)
[ ${#TOKEN} -ge 40 ] || { echo "no token"; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
"$ROOT/gateway/machi-gateway" --listen "127.0.0.1:$HTTPS" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--conninfo "host=$TMP/pg port=$PORT dbname=machi user=machi_gateway" --access-log off \
	--threads 2 --db-connections 4 >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
for i in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$HTTPS/v1/health" && break; sleep 0.2; done

# the same call through pgbench, as the gateway's role
# the gateway answers /v1/health with one api.health() call per request
cat >"$TMP/health.sql" <<'SQL'
SELECT api.health();
SQL
cat >"$TMP/mine.sql" <<SQL
SELECT status FROM api.handle('GET', '/v1/reports', 'mine=true', '{"authorization": "Bearer $TOKEN"}', NULL, '127.0.0.1', NULL);
SQL
cat >"$TMP/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
pgb() { "$(pg_config --bindir)/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$SECS" -U machi_gateway -f "$1" machi 2>/dev/null | sed -nE 's/^tps = ([0-9.]+).*/\1/p'; }
wrk_rps() { wrk -t2 -c"$CLIENTS" -d"${SECS}s" "$@" 2>/dev/null | sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p'; }

GW_HEALTH=$(wrk_rps "https://127.0.0.1:$HTTPS/v1/health")
PG_HEALTH=$(pgb "$TMP/health.sql")
GW_MINE=$(wrk_rps -s "$TMP/auth.lua" "https://127.0.0.1:$HTTPS/v1/reports?mine=true")
PG_MINE=$(pgb "$TMP/mine.sql")

# latency at half the peak rate: each connection waits between requests
half=$(echo "$GW_MINE / 2" | bc)
delay_ms=$(echo "scale=3; 1000 * $CLIENTS / $half" | bc)
cat >"$TMP/paced.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
function delay() return $delay_ms end
LUA
wrk -t2 -c"$CLIENTS" -d"${SECS}s" --latency -s "$TMP/paced.lua" "https://127.0.0.1:$HTTPS/v1/reports?mine=true" >"$TMP/paced.out" 2>&1
P50=$(awk '/Latency Distribution/{f=1} f && $1=="50%"{print $2}' "$TMP/paced.out")
P99=$(awk '/Latency Distribution/{f=1} f && $1=="99%"{print $2}' "$TMP/paced.out")
PACED=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$TMP/paced.out")
RSS=$(awk '/VmHWM/{print $2 " " $3}' "/proc/$GW_PID/status")

{
	echo "### Gateway against pgbench (same api.handle call, same concurrency)"
	echo
	echo "Command: \`BENCH=gateway make bench\` (bench/gateway.sh; $(date -u +%Y-%m-%d), $CLIENTS connections,"
	echo "${SECS} s each, gateway with 2 threads × 4 database connections, TLS 1.3 keep-alive; pgbench -M prepared,"
	echo "2 threads, as machi_gateway over the unix socket). Requests per second:"
	echo
	echo "| request | gateway (wrk) | pgbench | ratio |"
	echo "|---|---|---|---|"
	echo "| GET /v1/health (api.health()) | $GW_HEALTH | $PG_HEALTH | $(echo "scale=2; $GW_HEALTH / $PG_HEALTH" | bc) |"
	echo "| GET /v1/reports?mine=true (bearer token) | $GW_MINE | $PG_MINE | $(echo "scale=2; $GW_MINE / $PG_MINE" | bc) |"
	echo
	echo "At half the gateway's peak rate on the authenticated read ($PACED req/s achieved): p50 $P50, p99 $P99."
	echo "Peak RSS of the gateway during the run: $RSS. Goal: ratio ≥ 0.8."
	echo
	echo "wrk and the server share the 2 cores: the gateway's numbers include the"
	echo "load generator's CPU, pgbench's include its own."
} | tee "$ROOT/docs/benchmarks-gateway.part"
