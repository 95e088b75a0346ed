#!/usr/bin/env bash
# run.sh: the security verification suite (make security).  Starts a fresh
# cluster with demo data and a gateway on loopback, then runs each check with
# its own time limit, each writing a summary to $OUT/<check>.json, and
# regenerates docs/security.md from those summaries.  Exit status is non-zero
# when a check failed or found something.
#
# MACHI_SEC_CHECKS=fuzz,pytest,sqlmap,wapiti,ffuf,tls,slow,h2 selects checks
# (default all); FUZZ_SECONDS (default 60) per fuzz target; MACHI_KEEP_TMP=1
# keeps the cluster, logs and tool output.  Every target is 127.0.0.1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
PY=/usr/bin/python3
CHECKS=${MACHI_SEC_CHECKS:-fuzz,pytest,sqlmap,wapiti,ffuf,tls,slow,h2}
export FUZZ_SECONDS=${FUZZ_SECONDS:-60}

TMP=$(mktemp -d /tmp/machi-security.XXXXXX)
OUT="$TMP/results"
PGPORT=54341
mkdir -p "$OUT"
export MACHI_SEC_OUT="$OUT" MACHI_SEC_TMP="$TMP"
chmod 0755 "$TMP"
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	cluster_stop "$TMP/pg"
	if [ "${MACHI_KEEP_TMP:-}" = "" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the service: cluster, demo data, attack world, gateway ----
cluster_private_tree "$TMP" "$ROOT"
master_key_create "$TMP/keys/master.key"
cluster_init "$TMP/pg" "$PGPORT" "fsync = off" "synchronous_commit = off" "max_connections = 100" \
	"cron.database_name = 'postgres'" "machi.master_key_file = '$TMP/keys/master.key'" || exit 1
cluster_start "$TMP/pg" || exit 1
export PGHOST="$TMP/pg" PGPORT PGUSER=postgres MACHI_PG_DB=machi_security
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE machi_security" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d machi_security -c "CREATE EXTENSION machi CASCADE" >/dev/null 2>&1 || exit 1
bash "$ROOT/scripts/demo.sh" >"$TMP/demo.out" 2>&1 || { cat "$TMP/demo.out"; exit 1; }
$PY "$ROOT/security/world.py" create >"$TMP/world.json" || exit 1
export MACHI_SEC_WORLD="$TMP/world.json"

mkdir -p "$TMP/tls" "$TMP/www/static/assets"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$TMP/tls/key.pem" -out "$TMP/tls/cert.pem" \
	>/dev/null 2>&1 || exit 1
# the static tree (what is meant to be served) and files next to it that must not be
cp "$ROOT/security/static/index.html" "$TMP/www/static/index.html"
cp "$ROOT/security/static/app.js" "$TMP/www/static/assets/app.js"
echo "SECRET-OUTSIDE-STATIC" >"$TMP/www/secret.txt"
echo "SECRET-DOTFILE" >"$TMP/www/static/.env"
chmod -R a+rX "$TMP/www"
export MACHI_SEC_STATIC="$TMP/www/static"

HTTPS_PORT=$(free_port)
"$ROOT/gateway/machi-gateway" --listen "127.0.0.1:$HTTPS_PORT" --tls-cert "$TMP/tls/cert.pem" \
	--tls-key "$TMP/tls/key.pem" --conninfo "host=$PGHOST port=$PGPORT dbname=machi_security user=machi_gateway" \
	--threads 2 --idle-timeout 10 --static-dir "$TMP/www/static" --access-log "$TMP/access.log" \
	>"$TMP/gateway.log" 2>&1 &
pids+=($!)
export MACHI_SEC_BASE="https://127.0.0.1:$HTTPS_PORT" MACHI_SEC_CA="$TMP/tls/cert.pem"
for _ in $(seq 1 50); do
	curl -s -o /dev/null --cacert "$TMP/tls/cert.pem" "$MACHI_SEC_BASE/v1/health" && break
	sleep 0.2
done
curl -sf -o /dev/null --cacert "$TMP/tls/cert.pem" "$MACHI_SEC_BASE/v1/health" || {
	cat "$TMP/gateway.log"
	exit 1
}

# Authenticated scans need bearer tokens: with the login route they come
# from it; until then a loopback shim maps per-run bearer tokens to
# machi.act_as() in front of api.handle (the same function the gateway
# calls), so citizen and staff routes are scanned as well.
SHIM_PORT=$(free_port)
$PY "$ROOT/security/actas_shim.py" "$SHIM_PORT" >"$TMP/shim.log" 2>&1 &
pids+=($!)
export MACHI_SEC_SHIM="http://127.0.0.1:$SHIM_PORT"
for _ in $(seq 1 50); do
	curl -s -o /dev/null "$MACHI_SEC_SHIM/v1/health" && break
	sleep 0.2
done

if [ -n "${MACHI_SEC_HOLD:-}" ]; then
	# development: keep the service up (bounded) to run single checks by hand
	env | grep -E '^(MACHI_SEC_|PGHOST|PGPORT|PGUSER|MACHI_PG_DB)' | sed 's/^/export /' >"$TMP/env.sh"
	echo "service up; . $TMP/env.sh"
	sleep "${MACHI_SEC_HOLD}"
	exit 0
fi
failed=0
# step NAME SECONDS CMD...: run one check with a hard time limit.
step() {
	local name=$1 secs=$2 t0 rc
	shift 2
	[[ ",$CHECKS," == *",$name,"* ]] || return 0
	echo "== $name (at most ${secs}s)"
	t0=$(date +%s)
	timeout --kill-after=10 "$secs" "$@" >"$TMP/$name.log" 2>&1
	rc=$?
	tail -15 "$TMP/$name.log"
	echo "$name: exit $rc after $(($(date +%s) - t0))s"
	echo "{\"check\": \"$name\", \"exit\": $rc, \"seconds\": $(($(date +%s) - t0))}" >"$OUT/$name.exit.json"
	[ "$rc" -eq 0 ] || failed=$((failed + 1))
}

step fuzz $((FUZZ_SECONDS * 3 + 300)) $PY "$ROOT/security/fuzz.py"
step pytest 600 $PY -m pytest -q -p no:cacheprovider -rs --junitxml="$OUT/pytest.xml" "$ROOT/tests/security"
step sqlmap 3600 $PY "$ROOT/security/sqlmap.py"
step wapiti 420 $PY "$ROOT/security/wapiti.py"
step ffuf 300 $PY "$ROOT/security/ffuf.py"
step tls 120 $PY "$ROOT/security/tls.py"
step slow 200 $PY "$ROOT/security/slow.py"
step h2 90 $PY "$ROOT/security/h2flood.py"

if ! kill -0 "${pids[0]}" 2>/dev/null; then
	echo "the gateway died during the checks"
	failed=$((failed + 1))
fi
grep -E "AddressSanitizer|runtime error" "$TMP/gateway.log" && failed=$((failed + 1))

$PY "$ROOT/security/report.py" "$OUT" "$CHECKS" >"$ROOT/docs/security.md" || failed=$((failed + 1))
echo "docs/security.md regenerated"
echo "security: $failed failed checks"
[ "$failed" -eq 0 ]
