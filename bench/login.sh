#!/usr/bin/env bash
# bench/login.sh: login throughput through api.handle compared with raw
# crypto_pwhash_str_verify at the same argon2id cost (the default: m=19 MiB,
# t=2, p=1) and the same concurrency, on a throwaway cluster.  The goal is a
# ratio of at least 0.9: everything a login does besides the hash (routing,
# blind index, account lookup, session creation) must cost little.
#
# The two are measured alternately, ROUNDS times, and the medians compared,
# so that other load on the machine affects both alike.
#
# Usage: bash bench/login.sh [SECONDS [CLIENTS [ROUNDS]]]   (defaults: 10, 1, 3)
# With BENCH_RECORD=1 the result replaces the "Login throughput" section of
# docs/benchmarks.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
SECONDS_RUN=${1:-10}
CLIENTS=${2:-1}
ROUNDS=${3:-3}
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
	"max_connections = 20" "shared_buffers = 128MB" >/dev/null
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
# warm up, and make sure logins succeed
STATUS=$(psql -X -A -t -f "$TMP/login.sql")
[ "$STATUS" = 200 ] || { echo "login answered $STATUS" >&2; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
apis=()
raws=()
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for ((i = 1; i <= ROUNDS; i++)); do
	apis+=("$("$PGBIN/pgbench" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$TMP/login.sql" 2>/dev/null |
		sed -nE 's/^tps = ([0-9.]+) .*/\1/p')")
	raws+=("$("$TMP/pwhash_verify" "$HASH" "$PASSWORD" "$SECONDS_RUN" "$CLIENTS")")
	echo "round $i: api.handle ${apis[-1]} logins/s, raw ${raws[-1]} verifications/s" >&2
done
API=$(printf '%s\n' "${apis[@]}" | median)
RAW=$(printf '%s\n' "${raws[@]}" | median)
API=$(awk -v a="$API" 'BEGIN { printf "%.2f", a }')
RATIO=$(awk -v a="$API" -v r="$RAW" 'BEGIN { printf "%.3f", a / r }')
FAILED=$(psql -X -A -t -c "SELECT count(*) FROM machi.address_throttle")

RESULT="| clients | rounds x seconds | api.handle logins/s (median) | raw crypto_pwhash_str_verify/s (median) | ratio |
|---|---|---|---|---|
| $CLIENTS | $ROUNDS x $SECONDS_RUN | $API | $RAW | $RATIO |

Rounds (api.handle / raw): $(for ((i = 0; i < ROUNDS; i++)); do printf '%.1f/%.1f ' "${apis[i]}" "${raws[i]}"; done)
Load average at start: $LOAD"
echo "$RESULT"
echo "failed logins during the run: $FAILED"

if [ "${BENCH_RECORD:-}" = 1 ]; then
	DOC="$ROOT/docs/benchmarks.md"
	[ -f "$DOC" ] || printf '# Benchmarks\n' >"$DOC"
	SECTION="## Login throughput

POST /v1/auth/login through api.handle (pgbench, $CLIENTS client(s): routing,
blind index lookup, argon2id verification, session creation, JSON answer)
against raw crypto_pwhash_str_verify in $CLIENTS thread(s) of a C program
(bench/pwhash_verify.c), both at the default cost m=19 MiB, t=2, p=1,
measured alternately $ROUNDS times; medians compared.  Goal: ratio >= 0.9.

Command: \`BENCH_RECORD=1 bash bench/login.sh $SECONDS_RUN $CLIENTS $ROUNDS\`
Machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%d)

$RESULT
"
	/usr/bin/python3 - "$DOC" "$SECTION" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
doc = open(path).read()
pattern = re.compile(r"## Login throughput\n.*?(?=\n## |\Z)", re.S)
if pattern.search(doc):
    doc = pattern.sub(lambda m: section.rstrip("\n"), doc)
else:
    doc = doc.rstrip("\n") + "\n\n" + section
open(path, "w").write(doc.rstrip("\n") + "\n")
PY
	echo "recorded in docs/benchmarks.md"
fi
[ "$(awk -v r="$RATIO" 'BEGIN { print (r >= 0.9) }')" = 1 ]
