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

# demo accounts and reports (make run): staff with generated initial
# passwords (changed at first login), two citizens, a few reports.  The
# passwords are printed here, once; they are stored nowhere in clear.
if [ "${MACHI_DEMO_ACCOUNTS:-}" = 1 ]; then
	cit1=$(openssl rand -base64 12 | tr -d '/+=')
	cit2=$(openssl rand -base64 12 | tr -d '/+=')
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -At -v cit1="$cit1" -v cit2="$cit2" <<'SQL'
\pset format unaligned
\pset fieldsep ' '
SELECT 'staff   ' || rpad(e, 28) || ' ' || (machi.create_staff(t, e, n, r)).initial_password || '   (' || r || ', ' || t || ')'
FROM (VALUES (12101, 'admin@chuo.example.jp', '中央 花子', 'tenant_admin'),
			 (12101, 'road@chuo.example.jp', '道路 太郎', 'staff'),
			 (12103, 'admin@inage.example.jp', '稲毛 一郎', 'tenant_admin')) AS s(t, e, n, r);
SELECT machi.import_account('citizen', 'citizen1@example.jp', public.crypt(:'cit1', public.gen_salt('bf', 10)),
							profile => '{"nickname": "ちばっこ", "name": "千葉 一子"}') AS c1 \gset
SELECT machi.import_account('citizen', 'citizen2@example.jp', public.crypt(:'cit2', public.gen_salt('bf', 10)),
							profile => '{"nickname": "いなげ", "name": "稲毛 二郎"}') AS c2 \gset
SELECT 'citizen ' || rpad('citizen1@example.jp', 28) || ' ' || :'cit1';
SELECT 'citizen ' || rpad('citizen2@example.jp', 28) || ' ' || :'cit2';
-- reports posted through the API as the citizens
CREATE TEMP TABLE demo_report (who bigint, body text);
INSERT INTO demo_report VALUES
	(:c1, '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "市役所前の歩道に穴", "description": "直径30cmほどの穴があり、自転車が危ないです。", "address": "千葉市中央区千葉港1-1"}'),
	(:c1, '{"category": "light", "lat": 35.6130, "lon": 140.1135, "title": "街灯が消えています", "description": "夜になると真っ暗です。"}'),
	(:c2, '{"category": "park", "lat": 35.6376, "lon": 140.0924, "title": "公園のブランコの鎖が切れている", "description": "子供が怪我をしそうです。"}'),
	(:c2, '{"category": "dumping", "lat": 35.6420, "lon": 140.0990, "title": "粗大ごみの不法投棄", "description": "冷蔵庫が置かれています。"}');
DO $$
DECLARE
	d record;
	st int;
BEGIN
	FOR d IN SELECT * FROM demo_report LOOP
		PERFORM machi.act_as(d.who, 'demo data: report posted by a demo citizen');
		SELECT h.status INTO st FROM api.handle('POST', '/v1/reports', '', '{"content-type": "application/json"}',
												convert_to(d.body, 'UTF8'), '127.0.0.1', 'demo') h;
		IF st <> 201 THEN
			RAISE EXCEPTION 'demo report not posted: %', st;
		END IF;
	END LOOP;
END $$;
SELECT 'reports ' || count(*) || ' demo reports posted' FROM machi.report;
SQL
	echo "(staff passwords are initial passwords: the first login asks for a new one)"
fi
