#!/usr/bin/env bash
# bench/reports.sh: build 1,000,000 reports across 50 tenants on a throwaway
# cluster and measure map, staff-queue and search latency with RLS against
# the same SQL without RLS.  Writes docs/benchmarks-reports.part for
# bench/run.sh to assemble.  ROUNDS=n sets the number of measured rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"
ROUNDS=${ROUNDS:-300}
# KEEP=dir reuses (or keeps) a loaded cluster between runs
TMP=${KEEP:-$(mktemp -d /tmp/machi-bench.XXXXXX)}
mkdir -p "$TMP"
chmod 0755 "$TMP"
if [ -z "${KEEP:-}" ]; then
	trap 'cluster_stop "$TMP/pg"; rm -rf "$TMP"' EXIT
else
	trap 'cluster_stop "$TMP/pg"' EXIT
fi
[ -d "$TMP/pgroot" ] || cluster_private_tree "$TMP" "$ROOT"
PGBIN="$TMP/pgroot$(pg_config --bindir)"
P="$(pg_config --bindir)/psql -X -q -h $TMP/pg -p 54330 -U postgres"
load=0
if [ ! -d "$TMP/pg/data" ]; then
	cluster_init "$TMP/pg" 54330 "shared_buffers = 512MB" "work_mem = 16MB" "max_parallel_workers_per_gather = 0" "fsync = off"
	cluster_start "$TMP/pg"
	$P -d postgres -c "CREATE DATABASE bench"
	start=$(date +%s)
	$P -d bench -f "$ROOT/bench/reports.sql"
	load=$(( $(date +%s) - start ))
else
	cluster_start "$TMP/pg"
fi
touch "$TMP/out"; chmod 0666 "$TMP/out"
$P -d bench -v rounds="$ROUNDS" -v outfile="$TMP/out" -f "$ROOT/bench/reports_measure.sql"
{
	echo "### Reports: map and staff queue with RLS (1,000,000 reports, 50 tenants)"
	echo
	echo "Command: \`ROUNDS=$ROUNDS bash bench/reports.sh\` ($(date -u +%Y-%m-%d), loading took ${load}s)."
	echo "Each round runs every query once as the superuser (RLS bypassed) and once"
	echo "as machi_owner under the caller's context (citizen for the map, tenant admin"
	echo "for the queue and search), interleaved, in one session. Times in ms."
	echo
	echo "| query | p50 no RLS | p95 no RLS | p50 RLS | p95 RLS | p95 ratio RLS/no RLS |"
	echo "|---|---|---|---|---|---|"
	cat "$TMP/out"
	echo
	echo "map: newest 50 public-or-own reports in a 0.02° box; queue: newest 50 of one"
	echo "status of a tenant and the counts per status from machi.report_tally (what the"
	echo "staff queue shows); map route and queue route: the whole GET /v1/reports?bbox="
	echo "call as the citizen and GET /v1/staff/reports?status= call as the tenant admin"
	echo "through api.handle (up to 50 reports as JSON, counts, API log row), which"
	echo "have no superuser twin; search: newest 50 of a tenant matching a"
	echo "1–4 character Japanese term through the n-gram index. Goal (map and queue):"
	echo "ratio ≤ 1.2 and p95 ≤ 20 ms."
} > "$ROOT/docs/benchmarks-reports.part"
cat "$ROOT/docs/benchmarks-reports.part"
