-- bench/reports.sql: 1,000,000 reports across 50 tenants; p50/p95 of the
-- map (bbox) query and of the staff queue under RLS, versus the same SQL as
-- a superuser (RLS bypassed), measured side by side in one session.
\set ON_ERROR_STOP 1
\timing off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS machi CASCADE;
SET synchronous_commit = off;

-- 50 tenants: 0.1° squares in a 10 × 5 grid, 2 departments, 3 categories each
INSERT INTO machi.tenant (tenant_id, name, boundary)
SELECT 1000 + i, 'bench ' || i,
	   public.st_multi(public.st_makeenvelope(130 + (i % 10) * 0.1, 40 + (i / 10) * 0.1,
											  130.1 + (i % 10) * 0.1, 40.1 + (i / 10) * 0.1, 4326))
FROM generate_series(0, 49) i;
INSERT INTO machi.department (tenant_id, name) SELECT tenant_id, d FROM machi.tenant, unnest(ARRAY['roads', 'parks']) d;
INSERT INTO machi.category (tenant_id, code, name, department_id)
SELECT t.tenant_id, c.code, c.code, d.department_id
FROM machi.tenant t, (VALUES ('road', 'roads'), ('light', 'roads'), ('park', 'parks')) c(code, dept)
JOIN LATERAL (SELECT department_id FROM machi.department d WHERE d.tenant_id = t.tenant_id AND d.name = c.dept) d ON true;
INSERT INTO machi.account (kind, role_name, email_verified_at) SELECT 'citizen', 'citizen', now() FROM generate_series(1, 20000);
INSERT INTO machi.account (kind, tenant_id, role_name) SELECT 'staff', tenant_id, 'tenant_admin' FROM machi.tenant;

ALTER TABLE machi.report DISABLE TRIGGER USER;
INSERT INTO machi.report (tenant_id, category_id, department_id, author_id, title, description, location,
						  status, visibility, created_at)
SELECT t, c.category_id, c.department_id, 1 + (g::bigint * 7919) % 20000,
	   (ARRAY['道路に穴', '街灯が消えている', '公園の遊具が壊れている', 'ゴミの不法投棄', '歩道の段差'])[1 + (g / 50) % 5],
	   (ARRAY['駅前の交差点付近です', '夜になると暗くて危ない', '子供が怪我をしそうです', '先週から放置されています'])[1 + (g / 250) % 4],
	   public.st_setsrid(public.st_makepoint(130 + ((t - 1000) % 10) * 0.1 + random() * 0.1,
											 40 + ((t - 1000) / 10) * 0.1 + random() * 0.1), 4326),
	   (ARRAY['received', 'in_progress', 'resolved', 'closed'])[1 + (g / 50) % 4],
	   CASE WHEN (g / 50) % 10 < 3 THEN 'public' ELSE 'private' END,
	   now() - (g % 365) * interval '1 day'
FROM generate_series(1, 1000000) g,
	 LATERAL (SELECT 1000 + g % 50 AS t) tt,
	 LATERAL (SELECT category_id, department_id FROM machi.category c WHERE c.tenant_id = tt.t ORDER BY c.code LIMIT 1 OFFSET g % 3) c;
ALTER TABLE machi.report ENABLE TRIGGER USER;
VACUUM ANALYZE machi.report;
