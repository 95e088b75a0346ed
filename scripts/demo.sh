#!/usr/bin/env bash
# demo.sh: load the demo data into a database with the machi extension: the
# eight municipalities of data/boundaries (official MLIT boundaries), each
# with three departments and five categories.  Connection from the libpq
# environment (PGHOST, PGPORT, PGUSER); database MACHI_PG_DB (default machi).
# psql reads the GeoJSON files, so the server needs no access to them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB=${MACHI_PG_DB:-machi}

while IFS='|' read -r code name en; do
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v code="$code" -v name="$name" -v en="$en" \
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
echo "demo: 8 municipalities loaded into $DB"
