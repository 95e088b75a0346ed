-- admin: operators create tenants (boundary from GeoJSON), departments and
-- categories from psql; nobody else can.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
CREATE ROLE machi_test_dba LOGIN IN ROLE machi_admin;
CREATE ROLE machi_test_nobody LOGIN;
-- pg_read_file needs a superuser: read the files first, then call as the DBA
SELECT pg_read_file(:'datadir' || '/boundaries/12101.json') AS chuo \gset
SELECT pg_read_file(:'datadir' || '/boundaries/12103.json') AS inage \gset
SELECT pg_read_file(:'datadir' || '/boundaries/12106.json') AS mihama \gset
SELECT pg_read_file(:'datadir' || '/boundaries/12105.json') AS midori \gset
SET ROLE machi_test_dba;
SELECT machi.create_tenant(12101, '千葉市中央区', :'chuo'::jsonb, 'Chuo Ward');
SELECT machi.create_tenant(12103, '千葉市稲毛区', :'inage'::jsonb, 'Inage Ward');
SELECT machi.create_tenant(12106, '千葉市美浜区', :'mihama'::jsonb, 'Mihama Ward', '15 minutes');
-- 12105 has a ring outside its shell: repaired, not refused
SELECT machi.create_tenant(12105, '千葉市緑区', :'midori'::jsonb, 'Midori Ward');
SELECT machi.create_tenant(12199, 'no area', NULL);
-- DBAs read the tables; areas agree with the official figures (km²)
SELECT tenant_id, round((public.st_area(boundary::public.geography) / 1e6)::numeric) AS km2,
	   public.geometrytype(boundary), public.st_srid(boundary), staff_idle_timeout
FROM machi.tenant ORDER BY 1;
SET ROLE machi_test_dba;
-- bad input: clear errors, nothing created
SELECT machi.create_tenant(1, 'x', '{"type": "Point", "coordinates": [140, 35]}');
SELECT machi.create_tenant(1, 'x', '{"type": "Polygon", "coordinates": "nope"}');
SELECT machi.create_tenant(1, 'x', '[1, 2]');
SELECT machi.create_tenant(1, 'x', '{"type": "Polygon", "coordinates": [[[1000, 0], [1001, 0], [1001, 1], [1000, 0]]]}');
SELECT machi.create_tenant(12101, 'again', '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}');
SELECT machi.create_tenant(-5, 'x', '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}');
SELECT count(*) AS tenants FROM machi.tenant;
-- departments and categories
SELECT machi.create_department(12101, '土木事務所', 'Civil Engineering Office') AS chuo_roads \gset
SELECT machi.create_department(12101, '公園管理課', 'Parks Division') AS chuo_parks \gset
SELECT machi.create_department(12103, '土木事務所', 'Civil Engineering Office') AS inage_roads \gset
SELECT machi.create_department(12106, '土木事務所', 'Civil Engineering Office') AS mihama_roads \gset
SELECT machi.create_department(12101, '土木事務所');
SELECT machi.create_category(12101, 'road', '道路の損傷', :chuo_roads, 'Road damage') IS NOT NULL AS created;
SELECT machi.create_category(12101, 'light', '街灯の故障', :chuo_roads, 'Broken street light', 'Street lights that are off or flickering', 2) IS NOT NULL AS created;
SELECT machi.create_category(12101, 'park', '公園の遊具', :chuo_parks, 'Park equipment', NULL, 3) IS NOT NULL AS created;
SELECT machi.create_category(12103, 'road', '道路の損傷', :inage_roads, 'Road damage') IS NOT NULL AS created;
SELECT machi.create_category(12106, 'road', '道路の損傷', :mihama_roads, 'Road damage') IS NOT NULL AS created;
-- a category cannot be routed to another tenant's department
SELECT machi.create_category(12101, 'x', 'x', :inage_roads);
SELECT machi.create_category(12101, 'bad code!', 'x', :chuo_roads);
SELECT machi.create_category(12101, 'road', 'duplicate', :chuo_roads);
-- updates
SELECT machi.update_tenant(12101, staff_idle_timeout => '20 minutes', settings => '{"business_hours": "08:30-17:15"}');
SELECT machi.update_tenant(99999, name => 'nobody');
SELECT machi.update_tenant(12101, staff_idle_timeout => '2 days');
SELECT machi.update_department(12101, :chuo_parks, name_en => 'Parks and Green Spaces');
SELECT category_id AS chuo_park FROM machi.category WHERE tenant_id = 12101 AND code = 'park' \gset
SELECT machi.update_category(12101, :chuo_park, department_id => :chuo_roads);
SELECT machi.update_category(12103, :chuo_park, name => 'wrong tenant');
-- DBAs read but do not write the tables directly
UPDATE machi.tenant SET name = 'direct' WHERE tenant_id = 12101;
RESET ROLE;
SELECT t.tenant_id, t.staff_idle_timeout, t.settings FROM machi.tenant t WHERE tenant_id = 12101;
SELECT c.tenant_id, c.code, c.name, c.name_en, d.name_en AS department
FROM machi.category c JOIN machi.department d USING (tenant_id, department_id)
ORDER BY c.tenant_id, c.code;
-- the admin context lasts only for the call
SELECT machi.current_role() AS role_after_admin_call;
-- others cannot call admin functions
SET ROLE machi_test_nobody;
SELECT machi.create_department(12101, 'sneaky');
SET ROLE machi_gateway;
SELECT machi.create_department(12101, 'sneaky');
SET ROLE machi_owner;
-- even the owner: the __impl functions see nothing without the admin context
SELECT machi.create_department__impl(12101, 'sneaky', NULL);
RESET ROLE;
SELECT count(*) AS sneaky_departments FROM machi.department WHERE name = 'sneaky';
