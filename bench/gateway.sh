#!/usr/bin/env bash
# bench/gateway.sh: throughput of the gateway (wrk, keep-alive, over TLS and
# over plain HTTP) against pgbench running the same api.health/api.handle
# call at the same concurrency with the same number of client threads, for
# GET /v1/health and an authenticated read (GET /v1/reports?mine=true with a
# bearer token).  ROUNDS rounds of SECS seconds each, pgbench and wrk
# alternating inside every round, so that load from elsewhere on the shared
# machine falls on both alike; ratios are taken per round and the median is
# reported.  Also the CPU time per request of the load generator, the
# gateway and PostgreSQL (from /proc), latency at half the peak rate (wrk
# with a pacing Lua script) and the gateway's peak RSS.  Writes
# docs/benchmarks-gateway.part.  CLIENTS (default 16), SECS (default 5),
# ROUNDS (default 5), GW_THREADS (default 2), GW_DB_CONNECTIONS (default 4);
# GW_BIN runs another build of machi-gateway (to compare two builds).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
CLIENTS=${CLIENTS:-16}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-5}
GW_THREADS=${GW_THREADS:-2}
GW_DB_CONNECTIONS=${GW_DB_CONNECTIONS:-4}
GW_BIN=${GW_BIN:-$ROOT/gateway/machi-gateway}
PORT=54340
HTTPS=18443
HTTP=18080
TMP=$(mktemp -d /tmp/machi-bench-gw.XXXXXX)
chmod 0755 "$TMP"
GW_PID=
GWP_PID=
cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
	[ -n "$GWP_PID" ] && kill "$GWP_PID" 2>/dev/null || true
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
# the same gateway twice: over TLS, and over plain HTTP (--plain-http, as
# behind a TLS-terminating proxy); only one of them is loaded at a time
GW_OPTS=(--conninfo "host=$TMP/pg port=$PORT dbname=machi user=machi_gateway" --access-log off
	--threads "$GW_THREADS" --db-connections "$GW_DB_CONNECTIONS")
"$GW_BIN" --listen "127.0.0.1:$HTTPS" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	"${GW_OPTS[@]}" >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
"$GW_BIN" --listen "127.0.0.1:$HTTP" --plain-http "${GW_OPTS[@]}" >"$TMP/gateway-plain.log" 2>&1 &
GWP_PID=$!
for i in $(seq 1 50); do
	curl -sk -o /dev/null "https://127.0.0.1:$HTTPS/v1/health" && curl -s -o /dev/null "http://127.0.0.1:$HTTP/v1/health" && break
	sleep 0.2
done

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
# CPU time in clock ticks: of one process (all threads), and of PostgreSQL
# (the postmaster, its children, and the children it has reaped: pgbench's
# backends are gone when pgbench ends, their time is in the postmaster's
# cutime/cstime)
TICK=$(getconf CLK_TCK)
PM_PID=$(head -1 "$TMP/pg/data/postmaster.pid")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
	local t p
	t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PM_PID/stat")
	for p in $(pgrep -P "$PM_PID"); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
	echo "$t"
}
# measure KIND NAME CMD...: runs CMD (pgbench or wrk), appends
# "NAME rate client_us gateway_us postgres_us" (CPU per request) to $TMP/runs
measure() {
	local kind=$1 name=$2 gw=0 g0=0 g1 p0 p1 out rate client
	shift 2
	case $name in *tls) gw=$GW_PID ;; *plain) gw=$GWP_PID ;; esac
	[ "$gw" = 0 ] || g0=$(ticks "$gw")
	p0=$(pg_ticks)
	local TIMEFORMAT='%3U %3S'
	{ time "$@" >"$TMP/out" 2>/dev/null; } 2>"$TMP/time"
	sleep 0.5 # let the postmaster reap pgbench's backends
	p1=$(pg_ticks)
	if [ "$gw" = 0 ]; then g1=0; else g1=$(ticks "$gw"); fi
	if [ "$kind" = pgbench ]; then
		rate=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$TMP/out")
	else
		rate=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$TMP/out")
	fi
	client=$(awk '{print $1 + $2}' "$TMP/time")
	awk -v n="$name" -v r="$rate" -v s="$SECS" -v c="$client" -v g=$((g1 - g0)) -v p=$((p1 - p0)) -v t="$TICK" \
		'BEGIN { q = r * s; printf "%s %.2f %.1f %.1f %.1f\n", n, r, c * 1e6 / q, g / t * 1e6 / q, p / t * 1e6 / q }' >>"$TMP/runs"
}
pgb() { measure pgbench "$1" "$(pg_config --bindir)/pgbench" -n -M prepared -c "$CLIENTS" -j 2 -T "$SECS" -U machi_gateway -f "$2" machi; }
wrkm() { measure wrk "$1" wrk -t2 -c"$CLIENTS" -d"${SECS}s" "${@:2}"; }

# every round measures all six, pgbench first in odd rounds and last in even ones
: >"$TMP/runs"
for round in $(seq 1 "$ROUNDS"); do
	[ $((round % 2)) = 1 ] && pgb health-pgbench "$TMP/health.sql"
	wrkm health-tls "https://127.0.0.1:$HTTPS/v1/health"
	wrkm health-plain "http://127.0.0.1:$HTTP/v1/health"
	[ $((round % 2)) = 0 ] && pgb health-pgbench "$TMP/health.sql"
	[ $((round % 2)) = 1 ] && pgb mine-pgbench "$TMP/mine.sql"
	wrkm mine-tls -s "$TMP/auth.lua" "https://127.0.0.1:$HTTPS/v1/reports?mine=true"
	wrkm mine-plain -s "$TMP/auth.lua" "http://127.0.0.1:$HTTP/v1/reports?mine=true"
	[ $((round % 2)) = 0 ] && pgb mine-pgbench "$TMP/mine.sql"
	echo "round $round: $(tail -6 "$TMP/runs" | awk '{printf "%s %s  ", $1, $2}')"
done
# median NAME COLUMN: median over the rounds of one column of $TMP/runs
median() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$TMP/runs" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# ratio_median REQ TRANSPORT: median of the per-round ratios gateway / pgbench
ratio_median() {
	paste <(awk -v n="$1-$2" '$1 == n {print $2}' "$TMP/runs") <(awk -v n="$1-pgbench" '$1 == n {print $2}' "$TMP/runs") |
		awk '{printf "%.3f\n", $1 / $2}' | sort -g | awk '{v[NR] = $1} END {printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratios() { paste -d/ <(awk -v n="$1-$2" '$1 == n {print $2}' "$TMP/runs") <(awk -v n="$1-pgbench" '$1 == n {print $2}' "$TMP/runs") | awk -F/ '{printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $2}'; }
# cpu_ratio REQ TRANSPORT: CPU per request of the pgbench path over that of the gateway path
cpu_ratio() {
	awk -v a="$(median "$1-pgbench" 3)" -v b="$(median "$1-pgbench" 5)" -v c="$(median "$1-$2" 3)" -v d="$(median "$1-$2" 4)" \
		-v e="$(median "$1-$2" 5)" 'BEGIN { printf "%.2f", (a + b) / (c + d + e) }'
}
# the goal is met when both the throughput ratio and the CPU ratio reach 0.8
verdict() { awk -v r="$1" -v c="$2" 'BEGIN { print (r >= 0.8 && c >= 0.8) ? "met" : "not met" }'; }
GW_MINE=$(median mine-tls 2)

# latency at half the peak rate: each connection waits between requests
half=$(echo "$GW_MINE / 2" | bc)
delay_ms=$(echo "scale=3; 1000 * $CLIENTS / $half" | bc)
cat >"$TMP/paced.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
function delay() return $delay_ms end
LUA
wrk -t2 -c"$CLIENTS" -d"$((SECS * 2))s" --latency -s "$TMP/paced.lua" "https://127.0.0.1:$HTTPS/v1/reports?mine=true" >"$TMP/paced.out" 2>&1
P50=$(awk '/Latency Distribution/{f=1} f && $1=="50%"{print $2}' "$TMP/paced.out")
P99=$(awk '/Latency Distribution/{f=1} f && $1=="99%"{print $2}' "$TMP/paced.out")
PACED=$(sed -nE 's/^Requests\/sec: *([0-9.]+).*/\1/p' "$TMP/paced.out")
RSS=$(awk '/VmHWM/{print $2 " " $3}' "/proc/$GW_PID/status")

{
	echo "### Gateway against pgbench (same api.handle call, same concurrency)"
	echo
	echo "Command: \`BENCH=gateway make bench\` (bench/gateway.sh; $(date -u +%Y-%m-%d); $ROUNDS rounds of ${SECS} s,"
	echo "$CLIENTS connections and 2 client threads on both sides: wrk -t2 -c$CLIENTS with keep-alive against the gateway"
	echo "($GW_THREADS threads × $GW_DB_CONNECTIONS database connections, access log off), pgbench -M prepared -j 2 -c$CLIENTS"
	echo "as machi_gateway over the unix socket. Every round runs all six measurements, pgbench and wrk"
	echo "alternating; the ratio is taken within each round and the median of the rounds is shown."
	echo "Requests per second (medians):"
	echo
	echo "| request | transport | gateway (wrk) | pgbench | ratio (median) | ratios of the rounds | CPU ratio | goal ≥ 0.8 |"
	echo "|---|---|---|---|---|---|---|---|"
	for req in health mine; do
		case $req in
		health) label="GET /v1/health (api.health())" ;;
		mine) label="GET /v1/reports?mine=true (bearer token)" ;;
		esac
		for tr in tls plain; do
			r=$(ratio_median $req $tr)
			c=$(cpu_ratio $req $tr)
			echo "| $label | $([ $tr = tls ] && echo "TLS 1.3" || echo "plain HTTP") | $(median $req-$tr 2) | $(median $req-pgbench 2) | **$r** | $(ratios $req $tr) | $c | $(verdict "$r" "$c") |"
		done
	done
	echo
	echo "CPU ratio: CPU time per request of the pgbench path (pgbench and PostgreSQL) over that of the"
	echo "gateway path (wrk, the gateway and PostgreSQL), from the table below. On the shared machine the"
	echo "throughput of single rounds swings either way (see the rounds); the CPU a request costs moves"
	echo "much less, so the goal counts as met only when both ratios reach 0.8."
	echo
	echo "CPU time per request in µs (medians of the rounds; from /proc: the load generator's user and"
	echo "system time, the gateway process, and PostgreSQL's backends):"
	echo
	echo "| request | path | load generator | gateway | PostgreSQL | total |"
	echo "|---|---|---|---|---|---|"
	for req in health mine; do
		for tr in pgbench tls plain; do
			case $tr in
			pgbench) path="pgbench" ;;
			tls) path="wrk → gateway (TLS)" ;;
			plain) path="wrk → gateway (plain HTTP)" ;;
			esac
			c=$(median $req-$tr 3); g=$(median $req-$tr 4); p=$(median $req-$tr 5)
			echo "| $([ $req = health ] && echo /v1/health || echo /v1/reports?mine=true) | $path | $c | $([ $tr = pgbench ] && echo – || echo "$g") | $p | $(awk -v a="$c" -v b="$g" -v d="$p" 'BEGIN {printf "%.1f", a + b + d}') |"
		done
	done
	echo
	echo "At half the gateway's peak rate on the authenticated read over TLS ($PACED req/s achieved): p50 $P50, p99 $P99."
	echo "Peak RSS of the gateway (TLS) during the run: $RSS."
	echo
	echo "Reading: the load generator, the gateway and PostgreSQL share the same 2 cores, so a ratio is"
	echo "what a request costs on one path against the other. An authenticated read costs PostgreSQL"
	echo "milliseconds and the HTTP hop is small beside it. api.health() costs PostgreSQL about"
	echo "$(median health-pgbench 5) µs a call, and the HTTP hop costs as much again: the gateway $(median health-plain 4) µs over"
	echo "plain HTTP and $(median health-tls 4) µs over TLS, wrk $(median health-plain 3) and $(median health-tls 3) µs against pgbench's $(median health-pgbench 3) µs. So"
	echo "a /v1/health request through pgbench needs $(cpu_ratio health plain) × the CPU of one through the gateway over plain"
	echo "HTTP and $(cpu_ratio health tls) × that of one over TLS; where the CPU is the limit, as here, that is the most the"
	echo "throughput ratio can reach."
	echo "Where the gateway's time goes (perf, strace): some 90 % of it is in the kernel. Per request it"
	echo "reads and writes the client's socket once each, sends once to the database (libpq 15's"
	echo "PQpipelineSync flushes every sync; each request keeps its own sync) and receives about 0.75 times"
	echo "from it (results of several requests arrive together), and h2o 2.2 makes two epoll_ctl calls"
	echo "(it stops reading a keep-alive connection while its request is in progress). Request ids come"
	echo "from a per-loop pool of random bytes and the access log is written once per loop turn, so"
	echo "neither costs a system call per request."
} | tee "$ROOT/docs/benchmarks-gateway.part"
