#!/usr/bin/env bash
# bench/login.sh: login throughput through api.handle compared with raw
# crypto_pwhash_str_verify at the same argon2id cost (the default: m=19 MiB,
# t=2, p=1) and the same concurrency, on a throwaway cluster.  The goal is a
# ratio of at least 0.9: everything a login does besides the hash (routing,
# blind index, account lookup, session creation) must cost little.
#
# The raw verification is measured twice: called from SQL
# (machi.password_verify, a thin C wrapper around crypto_pwhash_str_verify,
# run by pgbench like the logins, so both sides live in a backend), which is
# the ratio reported; and in a standalone C program (bench/pwhash_verify.c)
# for reference.
# The two are measured alternately in short slices, ROUNDS times, so that
# other load on the machine affects both alike; the result is the median of
# the per-round ratios (and the medians of each side).
#
# Usage: bash bench/login.sh [SECONDS [CLIENTS [ROUNDS]]]
#   defaults: 3 seconds, 4 clients per core (a busy gateway), 10 rounds
# BENCH_CONF adds one postgresql.conf line (e.g. "synchronous_commit = off").
# Writes docs/benchmarks-login.part, which bench/run.sh (make bench) puts
# into docs/benchmarks.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
SECONDS_RUN=${1:-3}
CLIENTS=${2:-$(($(nproc) * 4))}
ROUNDS=${3:-10}
TMP=$(mktemp -d /tmp/machi-bench.XXXXXX)
PORT=54331
PASSWORD='bench horse battery staple 7'

cleanup() {
	cluster_stop "$TMP/pg"
	rm -rf "$TMP"
}
trap cleanup EXIT

chmod 0755 "$TMP"
cc -O2 -o "$TMP/pwhash_verify" "$ROOT/bench/pwhash_verify.c" -lsodium -lpthread
master_key_create "$TMP/keys/master.key"
cluster_init "$TMP/pg" "$PORT" "machi.master_key_file = '$TMP/keys/master.key'" \
	"max_connections = 20" "shared_buffers = 128MB" ${BENCH_CONF:+"$BENCH_CONF"} >/dev/null
cluster_start "$TMP/pg"
export PGHOST="$TMP/pg" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE EXTENSION machi CASCADE;
SELECT machi.import_account('citizen', 'bench@example.jp', machi.password_hash('$PASSWORD'));
SQL
HASH=$(psql -X -A -t -c "SELECT password_hash FROM machi.account")
case "$HASH" in
'$argon2id$v=19$m=19456,t=2,p=1$'*) ;;
*) echo "unexpected hash parameters: $HASH" >&2; exit 1 ;;
esac

cat >"$TMP/login.sql" <<SQL
SELECT status FROM api.handle('POST', '/v1/auth/login', '', '{"content-type": "application/json"}',
	convert_to('{"email": "bench@example.jp", "password": "$PASSWORD"}', 'UTF8'), '127.0.0.1', 'bench');
SQL
cat >"$TMP/verify.sql" <<SQL
SELECT (machi.password_verify('$HASH', '$PASSWORD')).ok;
SQL
# warm up, and make sure logins succeed
STATUS=$(psql -X -A -t -f "$TMP/login.sql")
[ "$STATUS" = 200 ] || { echo "login answered $STATUS" >&2; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
apis=()
sqls=()
raws=()
raw_cpus=()
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= ROUNDS; i++)); do
	apis+=("$("$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$TMP/login.sql" 2>/dev/null |
		sed -nE 's/^tps = ([0-9.]+) .*/\1/p')")
	sqls+=("$("$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$TMP/verify.sql" 2>/dev/null |
		sed -nE 's/^tps = ([0-9.]+) .*/\1/p')")
	read -r raw_tps raw_cpu < <("$TMP/pwhash_verify" "$HASH" "$PASSWORD" "$SECONDS_RUN" "$CLIENTS")
	raws+=("$raw_tps")
	raw_cpus+=("$raw_cpu")
	echo "round $i: api.handle ${apis[-1]} logins/s, SQL verify ${sqls[-1]}/s, C verify ${raws[-1]}/s" >&2
done
API=$(printf '%s\n' "${apis[@]}" | median)
RAW=$(printf '%s\n' "${raws[@]}" | median)
SQLV=$(printf '%s\n' "${sqls[@]}" | median)
API=$(awk -v a="$API" 'BEGIN { printf "%.2f", a }')
SQLV=$(awk -v a="$SQLV" 'BEGIN { printf "%.2f", a }')
RATIO=$(for ((i = 0; i < ROUNDS; i++)); do
	awk -v a="${apis[i]}" -v r="${sqls[i]}" 'BEGIN { printf "%.4f\n", a / r }'
done | median)
CRATIO=$(for ((i = 0; i < ROUNDS; i++)); do
	awk -v a="${apis[i]}" -v r="${raws[i]}" 'BEGIN { printf "%.4f\n", a / r }'
done | median)
CRATIO=$(awk -v r="$CRATIO" 'BEGIN { printf "%.3f", r }')
RATIO=$(awk -v r="$RATIO" 'BEGIN { printf "%.3f", r }')
# CPU time per login in the backend (what other load on the machine does not
# change), against CPU time per raw verification
N=$((ROUNDS * 5))
CPU_API=$(psql -X -q -A -t <<SQL
SELECT pg_backend_pid() AS pid \\gset
\\setenv BENCH_PID :pid
SELECT 1 FROM api.handle('POST', '/v1/auth/login', '', '{"content-type": "application/json"}',
	convert_to('{"email": "bench@example.jp", "password": "$PASSWORD"}', 'UTF8'), '127.0.0.1', 'bench') \\g /dev/null
\\! awk '{ print \$14 + \$15 }' /proc/\$BENCH_PID/stat > $TMP/cpu0
SELECT count(*) FROM generate_series(1, $N) g,
	LATERAL api.handle('POST', '/v1/auth/login', '', '{"content-type": "application/json"}',
		convert_to('{"email": "bench@example.jp", "password": "$PASSWORD"}', 'UTF8'),
		('127.0.' || g / 256 || '.' || g % 256)::inet, 'bench') h
WHERE h.status = 200 \\g /dev/null
\\! awk '{ print \$14 + \$15 }' /proc/\$BENCH_PID/stat > $TMP/cpu1
SQL
awk -v n="$N" -v hz="$(getconf CLK_TCK)" -v a="$(cat "$TMP/cpu0")" -v b="$(cat "$TMP/cpu1")" \
	'BEGIN { printf "%.3f", (b - a) * 1000 / hz / n }')
CPU_RAW=$(printf '%s\n' "${raw_cpus[@]}" | median)
CPU_RATIO=$(awk -v a="$CPU_API" -v r="$CPU_RAW" 'BEGIN { printf "%.3f", r / a }')

FAILED=$(psql -X -A -t -c "SELECT count(*) FROM machi.address_throttle")

RESULT="| clients | rounds x seconds | api.handle logins/s | crypto_pwhash_str_verify/s from SQL | ratio | crypto_pwhash_str_verify/s in C | ratio to C |
|---|---|---|---|---|---|---|
| $CLIENTS | $ROUNDS x $SECONDS_RUN | $API | $SQLV | **$RATIO** | $RAW | $CRATIO |

(Throughputs are medians over the rounds; ratios are medians of the rounds' ratios.)

CPU time per login in the backend: $CPU_API ms ($N logins); per raw verification: $CPU_RAW ms; ratio $CPU_RATIO.

Rounds (api.handle / SQL / C): $(for ((i = 0; i < ROUNDS; i++)); do printf '%.1f/%.1f/%.1f ' "${apis[i]}" "${sqls[i]}" "${raws[i]}"; done)
Load average at start: $LOAD"
echo "$RESULT"
echo "failed logins during the run: $FAILED"

cat >"$ROOT/docs/benchmarks-login.part" <<PART
### Login throughput

POST /v1/auth/login through api.handle (pgbench, $CLIENTS client(s): routing,
blind index lookup, argon2id verification, session creation, JSON answer)
against raw crypto_pwhash_str_verify at the same cost (the default, m=19 MiB,
t=2, p=1) and concurrency: called from SQL by pgbench
(machi.password_verify), and in a standalone C program
(bench/pwhash_verify.c).  The three are measured alternately in $ROUNDS
rounds of $SECONDS_RUN s so that other load on the machine falls on all
alike.  Goal: ratio >= 0.9.

A login also commits a transaction (the new session row), so with fewer
clients than cores it waits for the WAL flush while a core idles; the raw
verification writes nothing.  With 4 clients per core, the regime of a
busy gateway, commits overlap other clients' hashing and the comparison is
of CPU work.  The CPU line below measures one backend's CPU time per login
against the C program's per verification.

Command: \`bash bench/login.sh $SECONDS_RUN $CLIENTS $ROUNDS\`
Machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)

$RESULT
PART
echo "wrote docs/benchmarks-login.part"
if [ "$(awk -v r="$RATIO" 'BEGIN { print (r >= 0.9) }')" = 1 ]; then
	echo "goal met: ratio $RATIO >= 0.9"
else
	echo "goal missed: ratio $RATIO < 0.9"
fi
