#!/usr/bin/env bash
# service.sh start|stop|status: the whole machi service on a persistent local
# cluster under ./var (created on first start, kept between runs), with demo
# data.  Safe to run repeatedly.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/cluster.sh"

VAR="$ROOT/var"
PGDIR="$VAR/pg"
PORT=${MACHI_PG_PORT:-5499}
DB=machi

psql_pg() {
	as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDIR" -p "$PORT" -U postgres "$@"
}

start() {
	mkdir -p "$VAR"
	chmod 0755 "$VAR"
	if [ ! -d "$PGDIR/data" ]; then
		echo "machi: creating the local cluster in $PGDIR"
		cluster_init "$PGDIR" "$PORT"
	fi
	if ! as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
		cluster_start "$PGDIR"
	fi
	if ! psql_pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
		psql_pg -d postgres -c "CREATE DATABASE $DB"
	fi
	psql_pg -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS machi CASCADE"
	if [ "$(psql_pg -d "$DB" -Atc 'SELECT count(*) FROM machi.tenant')" = "0" ]; then
		load_demo
	fi
	echo
	echo "machi is running."
	echo "  psql:  psql -h $PGDIR -p $PORT -U postgres $DB"
	echo "  try:   SELECT status, convert_from(body, 'UTF8') FROM api.handle('GET', '/v1/tenants', '', '{}', NULL, NULL, NULL);"
	echo "  stop:  make stop"
}

# load_demo: the eight municipalities of data/boundaries with departments
# and categories.  psql reads the GeoJSON files (the server need not).
load_demo() {
	echo "machi: loading demo data"
	local code name en
	while IFS='|' read -r code name en; do
		psql_pg -d "$DB" -v code="$code" -v name="$name" -v en="$en" \
			-v boundary="$(cat "$ROOT/data/boundaries/$code.json")" >/dev/null <<'SQL'
SELECT machi.create_tenant(:code, :'name', :'boundary'::jsonb, :'en');
SELECT machi.create_department(:code, '土木事務所', 'Civil Engineering Office') AS roads \gset
SELECT machi.create_department(:code, '公園緑地事務所', 'Parks Office') AS parks \gset
SELECT machi.create_department(:code, '環境事業所', 'Environment Office') AS env \gset
SELECT machi.create_category(:code, 'road', '道路・歩道の損傷', :roads, 'Road or pavement damage', '穴、段差、ひび割れなど', 1);
SELECT machi.create_category(:code, 'light', '街灯・道路照明の故障', :roads, 'Broken street light', NULL, 2);
SELECT machi.create_category(:code, 'park', '公園の遊具・施設', :parks, 'Park equipment or facilities', NULL, 3);
SELECT machi.create_category(:code, 'dumping', '不法投棄', :env, 'Illegal dumping', NULL, 4);
SELECT machi.create_category(:code, 'other', 'その他', :roads, 'Other', NULL, 9);
SQL
	done <<'LIST'
12101|千葉市中央区|Chuo Ward, Chiba
12102|千葉市花見川区|Hanamigawa Ward, Chiba
12103|千葉市稲毛区|Inage Ward, Chiba
12104|千葉市若葉区|Wakaba Ward, Chiba
12105|千葉市緑区|Midori Ward, Chiba
12106|千葉市美浜区|Mihama Ward, Chiba
12204|船橋市|Funabashi
12217|柏市|Kashiwa
LIST
}

stop() {
	cluster_stop "$PGDIR"
	echo "machi: stopped"
}

case "${1:-start}" in
	start) start ;;
	stop) stop ;;
	status) as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" status ;;
	*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
