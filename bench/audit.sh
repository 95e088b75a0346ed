#!/usr/bin/env bash
# bench/audit.sh: cost of the C audit trigger.
#
#  1. single-row INSERT and UPDATE throughput (pgbench, prepared statements)
#     on the same table with no trigger, with machi's C audit trigger, and
#     with a classic PL/pgSQL jsonb audit trigger;
#  2. time to seal and to verify (C and pure SQL) 1,000,000 audit rows.
#
# Runs on a throwaway cluster (like scripts/test.sh) with the extension as
# built in this tree: `make && bash bench/audit.sh`.  Prints a Markdown
# section for docs/benchmarks.md.
#
# Each configuration runs BENCH_ROUNDS times (default 3), alternating, for
# BENCH_SECONDS (default 10); the median is reported, which tames the noise
# of a shared machine.  BENCH_CLIENTS (default 2), BENCH_ROWS (default
# 1000000) for sealing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"

SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-2}
ROWS=${BENCH_ROWS:-1000000}
if [ "$SECS" -lt 5 ]; then
	echo "bench/audit.sh: BENCH_SECONDS must be at least 5 (CPU time is read over all but the first and last second)" >&2
	exit 2
fi
TMP=$(mktemp -d /tmp/machi-bench.XXXXXX)
PORT=54323
cleanup() {
	cluster_stop "$TMP/pg"
	rm -rf "$TMP"
}
trap cleanup EXIT
chmod 0755 "$TMP"
# this build of the extension, whatever is installed (scripts/cluster.sh)
cluster_private_tree "$TMP" "$ROOT"
CLIBIN=$(pg_config --bindir)
cluster_init "$TMP/pg" "$PORT" "synchronous_commit = off" "shared_buffers = 256MB" \
	"max_wal_size = 4GB" "autovacuum = off" >/dev/null
cluster_start "$TMP/pg"
export PGHOST="$TMP/pg" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
PSQL="$CLIBIN/psql -X -q -v ON_ERROR_STOP=1"

$PSQL <<'SQL'
CREATE EXTENSION machi CASCADE;
-- the same table three times: a report-like row
CREATE TABLE bench_none (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	int NOT NULL,
	title		text NOT NULL,
	status		text NOT NULL,
	updated_at	timestamptz NOT NULL
);
CREATE TABLE bench_c (LIKE bench_none INCLUDING ALL);
CREATE TABLE bench_plpgsql (LIKE bench_none INCLUDING ALL);
SELECT machi.audit_attach('bench_c');

-- the classic PL/pgSQL audit trigger: whole rows as jsonb, changed keys on
-- UPDATE; it records the same who/when fields as machi's (caller context,
-- client address, request id, both clocks) into a log with the same
-- indexes, as a PL/pgSQL trigger meeting the same requirements would
CREATE TABLE bench_plpgsql_log (
	audit_id	bigint GENERATED ALWAYS AS IDENTITY,
	logged_at	timestamptz NOT NULL,
	xact_at		timestamptz NOT NULL,
	txid		bigint NOT NULL,
	table_name	text NOT NULL,
	op			text NOT NULL,
	old_row		jsonb,
	new_row		jsonb,
	changed		jsonb,
	account_id	bigint,
	role		text,
	tenant_id	int,
	db_user		text NOT NULL,
	client_addr	inet,
	request_id	text
);
CREATE INDEX ON bench_plpgsql_log (txid, audit_id);
CREATE INDEX ON bench_plpgsql_log (account_id, logged_at) WHERE account_id IS NOT NULL;
CREATE INDEX ON bench_plpgsql_log (tenant_id, audit_id) WHERE tenant_id IS NOT NULL;
CREATE FUNCTION bench_plpgsql_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	o jsonb;
	n jsonb;
	diff jsonb;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		o := to_jsonb(OLD);
		n := to_jsonb(NEW);
		SELECT jsonb_object_agg(k, jsonb_build_object('old', o->k, 'new', n->k)) INTO diff
		FROM jsonb_object_keys(n) k WHERE o->k IS DISTINCT FROM n->k;
	ELSIF TG_OP = 'INSERT' THEN
		n := to_jsonb(NEW);
	ELSE
		o := to_jsonb(OLD);
	END IF;
	INSERT INTO bench_plpgsql_log (logged_at, xact_at, txid, table_name, op, old_row, new_row, changed,
								   account_id, role, tenant_id, db_user, client_addr, request_id)
	VALUES (clock_timestamp(), now(), txid_current(), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP, o, n, diff,
			machi.current_account(), machi.current_role(), machi.current_tenant(), session_user,
			inet_client_addr(), machi.current_request_id());
	RETURN NULL;
END
$$;
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON bench_plpgsql
	FOR EACH ROW EXECUTE FUNCTION bench_plpgsql_audit();
SQL

for t in bench_none bench_c bench_plpgsql; do
	$PSQL -c "INSERT INTO $t (tenant_id, title, status, updated_at)
			  SELECT 12101, 'pothole on route ' || g, 'received', now() FROM generate_series(1, 100000) g"
done
$PSQL -c "VACUUM ANALYZE" -c "CHECKPOINT"

# CPU time (user + system, clock ticks) of the backends serving pgbench, per
# pid, and the next transaction id: read twice during a run, they give those
# backends' CPU time per write transaction.  Time other processes take from
# the machine does not count in it (it does in throughput); what it leaves
# out is pgbench itself and the other server processes (WAL writer,
# checkpointer)
TICK=$(getconf CLK_TCK)
ticks() {	# ticks PID... -> "pid ticks" lines
	local p
	for p in "$@"; do
		awk -v p="$p" '{print p, $14 + $15}' "/proc/$p/stat" 2>/dev/null || true
	done
}
next_xid() { $PSQL -Atc "SELECT pg_snapshot_xmax(pg_current_snapshot())"; }

run() {	# run NAME TABLE KIND -> prints "tps cpu" (cpu: server µs per transaction)
	local t=$2 kind=$3 f="$TMP/$1.sql" bench pm pids t0 t1 x0 x1
	if [ "$kind" = insert ]; then
		echo "INSERT INTO $t (tenant_id, title, status, updated_at) VALUES (12101, 'broken street light', 'received', now());" >"$f"
	else
		printf '%s\n' '\set id random(1, 100000)' \
			"UPDATE $t SET status = CASE status WHEN 'received' THEN 'in_progress' ELSE 'received' END, updated_at = now() WHERE id = :id;" >"$f"
	fi
	"$CLIBIN/pgbench" -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -f "$f" >"$TMP/pgbench.out" 2>/dev/null &
	bench=$!
	sleep 1
	# the pgbench connections: this cluster's backends of a local client
	pm=$(head -1 "$TMP/pg/data/postmaster.pid")
	for _ in 1 2 3 4 5; do
		pids=$(pgrep -P "$pm" -f 'postgres: postgres postgres \[local\]' | tr '\n' ' ' || true)
		[ "$(wc -w <<<"$pids")" -eq "$CLIENTS" ] && break
		sleep 0.2
	done
	if [ "$(wc -w <<<"$pids")" -ne "$CLIENTS" ]; then
		echo "bench/audit.sh: found the backends '$pids' for $CLIENTS pgbench clients" >&2
		exit 1
	fi
	t0=$(ticks $pids)
	x0=$(next_xid)
	sleep $((SECS - 2))
	t1=$(ticks $pids)
	x1=$(next_xid)
	wait "$bench"
	printf '%s %s\n' "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/pgbench.out")" \
		"$(join <(sort <<<"$t0") <(sort <<<"$t1") |
			awk -v tick="$TICK" -v n="$((x1 - x0))" '{d += $3 - $2} END {if (n > 0) printf "%.2f", d / tick * 1000000 / n}')"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }

declare -A RUNS TPS CPUS SCPU
for kind in insert update; do
	for r in $(seq "$ROUNDS"); do
		for t in bench_none bench_c bench_plpgsql; do
			read -r tps cpu < <(run "$kind-$t" "$t" "$kind")
			RUNS[$kind,$t]+="$tps "
			CPUS[$kind,$t]+="$cpu "
			$PSQL -c "CHECKPOINT"
		done
	done
	for t in bench_none bench_c bench_plpgsql; do
		TPS[$kind,$t]=$(median ${RUNS[$kind,$t]} | awk '{printf "%.0f", $1}')
		SCPU[$kind,$t]=$(median ${CPUS[$kind,$t]})
	done
done

# per-row cost in bulk: one statement writing 100,000 rows (no per-statement
# and per-transaction overhead; best of ROUNDS), as plain SQL (no caller:
# the audit rows have no account or tenant) and as a staff member of a
# municipality (machi.act_as: every audit row has both, so all three
# indexes of either log take it)
$PSQL -v b="$(cat "$ROOT/data/boundaries/12101.json")" <<'SQL' >/dev/null
SELECT machi.create_tenant(12101, '千葉市中央区', :'b'::jsonb, 'Chuo Ward, Chiba');
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12101, 'tenant_admin');
SQL
STAFF=$($PSQL -Atc "SELECT max(account_id) FROM machi.account WHERE tenant_id = 12101")
exec_ms() {	# exec_ms AS SQL -> execution time in ms (EXPLAIN ANALYZE); AS: sql or staff
	{
		echo "BEGIN;"
		[ "$1" = staff ] && echo "SELECT machi.act_as($STAFF, 'benchmark');"
		echo "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) $2;"
		echo "COMMIT;"
	} | $PSQL -At | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p'
}
declare -A BULK
for as in sql staff; do
	for kind in insert update; do
		for t in bench_none bench_c bench_plpgsql; do
			best=
			for r in $(seq "$ROUNDS"); do
				if [ "$kind" = insert ]; then
					ms=$(exec_ms "$as" "INSERT INTO $t (tenant_id, title, status, updated_at)
								  SELECT 12101, 'bulk ' || g, 'received', now() FROM generate_series(1, 100000) g")
				else
					ms=$(exec_ms "$as" "UPDATE $t SET status = 'in_progress', updated_at = now() WHERE id <= 100000")
				fi
				$PSQL -c "VACUUM $t" -c "CHECKPOINT"
				if [ -z "$best" ] || [ "$(echo "$ms < $best" | bc)" = 1 ]; then best=$ms; fi
			done
			BULK[$as,$kind,$t]=$(echo "scale=2; $best * 1000 / 100000" | bc)	# µs per row
		done
	done
done

# sealing and verifying ROWS audit rows
$PSQL -c "SELECT machi.seal_audit()" >/dev/null
$PSQL -c "INSERT INTO bench_c (tenant_id, title, status, updated_at)
		  SELECT 12101, 'graffiti at the station ' || g, 'received', now() FROM generate_series(1, $ROWS) g"
$PSQL -c "VACUUM ANALYZE machi.audit_log"
timed() {	# timed SQL -> seconds
	local s e
	s=$(date +%s.%N)
	$PSQL -c "$1" >/dev/null
	e=$(date +%s.%N)
	echo "$e - $s" | bc
}
START=$($PSQL -Atc "SELECT now()")
SEAL=$(timed "SELECT machi.seal_audit()")
SEALED=$($PSQL -Atc "SELECT row_count FROM machi.audit_seal ORDER BY seal_id DESC LIMIT 1")
VERIFY_C=$(timed "SELECT * FROM machi.verify_audit('$START')")
VERIFY_SQL=$(timed "SELECT * FROM machi.verify_audit_sql('$START')")
VERDICT=$($PSQL -Atc "SELECT (SELECT ok::text || '/' || rows_checked FROM machi.verify_audit('$START')) || ' ' ||
							 (SELECT ok::text || '/' || rows_checked FROM machi.verify_audit_sql('$START'))")

pct() { echo "scale=1; 100 * ($1 - $2) / $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
for k in insert update; do
	declare "ADD_C_$k=$(echo "${SCPU[$k,bench_c]} - ${SCPU[$k,bench_none]}" | bc)"
	declare "ADD_P_$k=$(echo "${SCPU[$k,bench_plpgsql]} - ${SCPU[$k,bench_none]}" | bc)"
	declare "COST_$k=$(echo "scale=1; 100 * (${SCPU[$k,bench_c]} - ${SCPU[$k,bench_none]}) / ${SCPU[$k,bench_none]}" | bc)"
	declare "BC_$k=$(echo "${BULK[sql,$k,bench_c]} - ${BULK[sql,$k,bench_none]}" | bc)"
	declare "BP_$k=$(echo "${BULK[sql,$k,bench_plpgsql]} - ${BULK[sql,$k,bench_none]}" | bc)"
	declare "SC_$k=$(echo "${BULK[staff,$k,bench_c]} - ${BULK[staff,$k,bench_none]}" | bc)"
	declare "SP_$k=$(echo "${BULK[staff,$k,bench_plpgsql]} - ${BULK[staff,$k,bench_none]}" | bc)"
done
# the best whole-transaction ratio any trigger could reach: no cost at all
bound() { echo "scale=2; (1000000 / ${TPS[$1,bench_plpgsql]}) / (1000000 / ${TPS[$1,bench_none]})" | bc; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
cat <<MD | tee "$(cd "$(dirname "$0")/.." && pwd)/docs/benchmarks-audit.part"
### Audit trigger, sealing and verification

\`BENCH=audit make bench\` (median of $ROUNDS alternating runs of $SECS s, $CLIENTS clients, pgbench -M prepared,
synchronous_commit = off so that the commit flush does not hide the CPU cost of the trigger;
$(nproc) cores, $CPU; PostgreSQL $($PGBIN/postgres --version | awk '{print $3}'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)).
Single-row statements on a 5-column report-like table with 100,000 rows, as plain SQL (no caller context: the audit rows have no account or tenant; see the staff table below for rows that have both).

Throughput of single-row transactions (transactions per second, median):

| statement | no trigger | C audit trigger | PL/pgSQL jsonb trigger | C cost vs none | C vs PL/pgSQL |
|---|---|---|---|---|---|
| INSERT | ${TPS[insert,bench_none]} | ${TPS[insert,bench_c]} | ${TPS[insert,bench_plpgsql]} | $(pct "${TPS[insert,bench_none]}" "${TPS[insert,bench_c]}") % | $(ratio "${TPS[insert,bench_c]}" "${TPS[insert,bench_plpgsql]}")× |
| UPDATE | ${TPS[update,bench_none]} | ${TPS[update,bench_c]} | ${TPS[update,bench_plpgsql]} | $(pct "${TPS[update,bench_none]}" "${TPS[update,bench_c]}") % | $(ratio "${TPS[update,bench_c]}" "${TPS[update,bench_plpgsql]}")× |

CPU time per transaction of the backends serving pgbench, in the same runs
(µs: user + system time from /proc over the middle $((SECS - 2)) s of each run,
divided by the transaction ids used meanwhile; steadier than throughput on a
shared machine, but it leaves out pgbench itself and the other server
processes, the WAL writer above all, so it understates most what the
trigger writing more WAL adds):

| statement | no trigger | C audit trigger | PL/pgSQL jsonb trigger | C trigger adds | PL/pgSQL trigger adds | C faster by |
|---|---|---|---|---|---|---|
| INSERT | ${SCPU[insert,bench_none]} | ${SCPU[insert,bench_c]} | ${SCPU[insert,bench_plpgsql]} | $ADD_C_insert ($COST_insert %) | $ADD_P_insert | $(ratio "$ADD_P_insert" "$ADD_C_insert")× |
| UPDATE | ${SCPU[update,bench_none]} | ${SCPU[update,bench_c]} | ${SCPU[update,bench_plpgsql]} | $ADD_C_update ($COST_update %) | $ADD_P_update | $(ratio "$ADD_P_update" "$ADD_C_update")× |

Per row inside one statement of 100,000 rows (µs per row, best of $ROUNDS;
what a trigger adds is the time minus that of the same statement without
a trigger):

| statement | no trigger | C audit trigger | PL/pgSQL jsonb trigger | C trigger adds | PL/pgSQL trigger adds | C faster by |
|---|---|---|---|---|---|---|
| INSERT | ${BULK[sql,insert,bench_none]} | ${BULK[sql,insert,bench_c]} | ${BULK[sql,insert,bench_plpgsql]} | $BC_insert | $BP_insert | $(ratio "$BP_insert" "$BC_insert")× |
| UPDATE | ${BULK[sql,update,bench_none]} | ${BULK[sql,update,bench_c]} | ${BULK[sql,update,bench_plpgsql]} | $BC_update | $BP_update | $(ratio "$BP_update" "$BC_update")× |

The same as a staff member of a municipality (machi.act_as before the
statement: every audit row has an account and a tenant, so all three
indexes of either log take it; the rows above, written by plain SQL, have
neither and go into the txid index only):

| statement | no trigger | C audit trigger | PL/pgSQL jsonb trigger | C trigger adds | PL/pgSQL trigger adds | C faster by |
|---|---|---|---|---|---|---|
| INSERT | ${BULK[staff,insert,bench_none]} | ${BULK[staff,insert,bench_c]} | ${BULK[staff,insert,bench_plpgsql]} | $SC_insert | $SP_insert | $(ratio "$SP_insert" "$SC_insert")× |
| UPDATE | ${BULK[staff,update,bench_none]} | ${BULK[staff,update,bench_c]} | ${BULK[staff,update,bench_plpgsql]} | $SC_update | $SP_update | $(ratio "$SP_update" "$SC_update")× |

Goals: single-row throughput with the C trigger at most 30 % below that
without a trigger (first table, "C cost vs none"), and the C trigger at
least 2× faster than the PL/pgSQL trigger: what each trigger adds, per
transaction in server CPU time and per row in bulk (columns "C faster
by"). Whole one-row transactions also pay the statement, the client round
trip and the commit, the same with either trigger: even a trigger that cost
nothing would make their throughput only $(bound insert)× (INSERT) and $(bound update)× (UPDATE)
that with the PL/pgSQL trigger, so the last column of the first table stays
below 2×. Both triggers record the same who and when (caller context,
client address, request id, both clocks, transaction id) into a log with
the same three indexes (txid; account and tenant, partial: only rows that
have one) and an identity sequence;
the C trigger also finds the monthly partition and which columns are
encrypted, and for an INSERT records only the primary key (the row is in
the table) where the classic PL/pgSQL trigger copies the whole row.

Sealing and verifying one seal of $SEALED audit rows (written by one INSERT of $ROWS rows):

| step | seconds |
|---|---|
| machi.seal_audit() | $SEAL |
| machi.verify_audit() (C) | $VERIFY_C |
| machi.verify_audit_sql() (PL/pgSQL + pgcrypto) | $VERIFY_SQL |

Verdicts (ok/rows checked, C then SQL): $VERDICT.

All runs (tps and server µs per transaction, in run order): $(for k in insert update; do for t in bench_none bench_c bench_plpgsql; do printf '%s %s: %s / %s; ' "$k" "$t" "${RUNS[$k,$t]% }" "${CPUS[$k,$t]% }"; done; done)
MD
