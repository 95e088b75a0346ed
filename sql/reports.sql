-- reports: posting (routing by position and category, validation, rate
-- limit, nearby duplicates), visibility for every kind of caller, comments,
-- thanks, the staff queue, the workflow, redaction, CSV, keyset paging and
-- Japanese search.
\set VERBOSITY terse
-- people: citizens A (verified), B (verified), C (not verified); staff of
-- Chuo (12101): a tenant admin, a staff member scoped to the parks office,
-- a viewer; staff of Inage (12103)
INSERT INTO machi.account (kind, tenant_id, role_name, email_verified_at) VALUES
	('citizen', NULL, 'citizen', now()), ('citizen', NULL, 'citizen', now()), ('citizen', NULL, 'citizen', NULL);
SELECT max(account_id) - 2 AS cit_a, max(account_id) - 1 AS cit_b, max(account_id) AS cit_c FROM machi.account \gset
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES
	('staff', 12101, 'tenant_admin'), ('staff', 12101, 'staff'), ('staff', 12101, 'viewer'), ('staff', 12103, 'tenant_admin');
SELECT max(account_id) - 3 AS chuo_admin, max(account_id) - 2 AS chuo_parks, max(account_id) - 1 AS chuo_viewer,
	   max(account_id) AS inage_admin FROM machi.account \gset
UPDATE machi.category SET department_id = (SELECT department_id FROM machi.department WHERE tenant_id = 12101 AND name = '公園管理課')
WHERE tenant_id = 12101 AND code = 'park';
INSERT INTO machi.account_department (tenant_id, account_id, department_id)
SELECT 12101, :chuo_parks, department_id FROM machi.department WHERE tenant_id = 12101 AND name = '公園管理課';
-- api(who, method, path, query, body): one API call as an account (NULL: anonymous)
CREATE FUNCTION pg_temp.api(who bigint, m text, p text, q text DEFAULT '', b jsonb DEFAULT NULL)
	RETURNS TABLE (status int, body jsonb)
	LANGUAGE plpgsql AS $$
BEGIN
	IF who IS NOT NULL THEN
		PERFORM machi.act_as(who, 'regression test of reports');
	END IF;
	RETURN QUERY SELECT h.status, CASE WHEN h.headers->>'content-type' LIKE 'application/json%'
										THEN convert_from(h.body, 'UTF8')::jsonb END
		FROM api.handle(m, p, q, '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'),
						'127.0.0.1', 'reports-test') h;
END $$;
-- posting: the position picks the tenant, the category the department
SELECT status, body->'report'->'tenant'->>'id' AS tenant, body->'report'->'department'->>'name' AS department,
	   body->'report'->>'status' AS status, body->'report'->>'visibility' AS visibility, body->'possible_duplicates' AS dups
FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "道路に穴", "description": "市役所前の道路に大きな穴があります", "address": "千葉市中央区千葉港1-1"}');
SELECT (body->'report'->>'id')::bigint AS r1 FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "park", "lat": 35.6080, "lon": 140.1070, "title": "公園の遊具が壊れている", "description": "ブランコの鎖が切れています"}') \gset
SELECT (body->'report'->>'id')::bigint AS r2 FROM pg_temp.api(:cit_b, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6376, "lon": 140.0924, "title": "Pothole", "description": "Near the station, call me at 090-1234-5678"}') \gset
SELECT report_id AS r0 FROM machi.report WHERE title = '道路に穴' \gset
-- the category must belong to the tenant of the position: 422 listing the valid ones
SELECT * FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "park", "lat": 35.6376, "lon": 140.0924, "title": "x"}');
SELECT * FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.55, "lon": 139.95, "title": "in the bay"}');
SELECT * FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063}');
SELECT * FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', jsonb_build_object('category', 'road', 'lat', 35.6073, 'lon', 140.1063, 'title', 'long', 'description', repeat('あ', 4001)));
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "x", "kind": "rant"}');
SELECT status, body->'report'->>'kind' AS kind FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "直しました", "kind": "fixed"}');
-- only verified citizens post; staff and anonymous callers cannot
SELECT * FROM pg_temp.api(:cit_c, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "x"}');
SELECT * FROM pg_temp.api(:chuo_admin, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "x"}');
SELECT * FROM pg_temp.api(NULL, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "x"}');
-- visibility: a private report is seen by its author and its tenant's staff only;
-- everybody else gets the same 404 as for an id that does not exist
SELECT 'author' AS who, status FROM pg_temp.api(:cit_b, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'other citizen', status FROM pg_temp.api(:cit_a, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'anonymous', status FROM pg_temp.api(NULL, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'staff of the tenant', status FROM pg_temp.api(:inage_admin, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'staff of another tenant', status FROM pg_temp.api(:chuo_admin, 'GET', '/v1/reports/' || :r2);
SELECT * FROM pg_temp.api(:cit_a, 'GET', '/v1/reports/' || :r2);
SELECT * FROM pg_temp.api(:cit_a, 'GET', '/v1/reports/987654321');
SELECT * FROM pg_temp.api(:cit_a, 'GET', '/v1/reports/x1');
-- department scope: the parks-only staff member sees the park report, not the road one
SELECT status FROM pg_temp.api(:chuo_parks, 'GET', '/v1/reports/' || :r1);
SELECT status FROM pg_temp.api(:chuo_parks, 'GET', '/v1/reports/' || :r0);
SELECT jsonb_array_length(body->'reports') AS visible, body->'counts' AS counts
FROM pg_temp.api(:chuo_parks, 'GET', '/v1/staff/reports');
SELECT jsonb_array_length(body->'reports') AS visible, body->'counts' AS counts
FROM pg_temp.api(:chuo_admin, 'GET', '/v1/staff/reports');
-- citizens cannot use the staff queue
SELECT status FROM pg_temp.api(:cit_a, 'GET', '/v1/staff/reports');
-- the workflow: allowed transitions only
SELECT status, body->'report'->>'status' AS new_status FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"status": "in_progress", "note": "現地確認します"}');
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"status": "bogus"}');
SELECT status, body->'report'->>'status' AS new_status FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"status": "resolved"}');
SELECT status, body->'report'->>'status' AS new_status FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"status": "closed"}');
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"status": "received"}');
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r0, '', '{"tenant_id": 12103}');
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', '{"status": "duplicate"}');
SELECT status, body->'report'->>'duplicate_of' = :'r0' AS dup FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', jsonb_build_object('status', 'duplicate', 'duplicate_of', :r0));
SELECT status, body->'report'->>'status' AS new_status FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', '{"status": "received"}');
-- a viewer may read but not change; staff of another tenant get 404
SELECT * FROM pg_temp.api(:chuo_viewer, 'PATCH', '/v1/staff/reports/' || :r1, '', '{"status": "in_progress"}');
SELECT * FROM pg_temp.api(:inage_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', '{"status": "in_progress"}');
SELECT * FROM pg_temp.api(:inage_admin, 'POST', '/v1/staff/reports/' || :r1 || '/responses', '', '{"body": "hello"}');
-- assignment and re-routing stay inside the tenant
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', jsonb_build_object('assignee', :inage_admin));
SELECT status, (body->'report'->>'assignee_id')::bigint = :chuo_parks AS assigned FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', jsonb_build_object('assignee', :chuo_parks));
SELECT * FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/staff/reports/' || :r1, '', jsonb_build_object('department', (SELECT department_id FROM machi.department WHERE tenant_id = 12103 LIMIT 1)));
-- publishing with redaction: the public sees the redacted text, the original is kept
SELECT status, body->'report'->>'visibility' AS visibility, body->'report'->>'title' AS staff_sees, body->'report'->>'public_title' AS public_title
FROM pg_temp.api(:inage_admin, 'PATCH', '/v1/staff/reports/' || :r2, '', '{"visibility": "public", "public_description": "Near the station, call me at (redacted)"}');
SELECT 'anonymous' AS who, body->'report'->>'description' AS description FROM pg_temp.api(NULL, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'other citizen', body->'report'->>'description' FROM pg_temp.api(:cit_a, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'author', body->'report'->>'description' FROM pg_temp.api(:cit_b, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'staff', body->'report'->>'description' FROM pg_temp.api(:inage_admin, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'staff of another tenant', body->'report'->>'description' FROM pg_temp.api(:chuo_admin, 'GET', '/v1/reports/' || :r2);
SELECT description LIKE '%090-1234-5678%' AS original_kept, public_description FROM machi.report WHERE report_id = :r2;
SELECT kind, visibility, detail FROM machi.report_update WHERE report_id = :r2 ORDER BY update_id;
-- the redacted words cannot be found by the public search
SELECT jsonb_array_length(body->'reports') AS hits FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'q=090-1234');
SELECT jsonb_array_length(body->'reports') AS hits FROM pg_temp.api(:cit_b, 'GET', '/v1/reports', 'q=090-1234');
SELECT jsonb_array_length(body->'reports') AS hits FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'q=station');
-- responses and comments; the history each caller sees
SELECT status, body->>'kind' AS kind FROM pg_temp.api(:inage_admin, 'POST', '/v1/staff/reports/' || :r2 || '/responses', '', '{"body": "ご報告ありがとうございます。来週補修します。"}');
SELECT status, body->>'kind' AS kind FROM pg_temp.api(:inage_admin, 'POST', '/v1/staff/reports/' || :r2 || '/responses', '', '{"body": "業者手配済み", "visibility": "internal"}');
SELECT status, body->>'kind' AS kind FROM pg_temp.api(:cit_b, 'POST', '/v1/reports/' || :r2 || '/comments', '', '{"body": "よろしくお願いします"}');
SELECT status FROM pg_temp.api(:cit_a, 'POST', '/v1/reports/' || :r2 || '/comments', '', '{"body": "me too"}');
SELECT status FROM pg_temp.api(:cit_a, 'POST', '/v1/reports/' || :r2 || '/comments', '', '{}');
SELECT 'public' AS who, jsonb_path_query_array(body, '$.updates[*].kind') AS kinds FROM pg_temp.api(NULL, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'author', jsonb_path_query_array(body, '$.updates[*].kind') FROM pg_temp.api(:cit_b, 'GET', '/v1/reports/' || :r2)
UNION ALL SELECT 'staff', jsonb_path_query_array(body, '$.updates[*].kind') FROM pg_temp.api(:inage_admin, 'GET', '/v1/reports/' || :r2);
-- thanks: on public reports, one per account
SELECT status, body FROM pg_temp.api(:cit_a, 'POST', '/v1/reports/' || :r2 || '/thanks');
SELECT status, body FROM pg_temp.api(:cit_a, 'POST', '/v1/reports/' || :r2 || '/thanks');
SELECT status, body FROM pg_temp.api(:cit_c, 'POST', '/v1/reports/' || :r2 || '/thanks');
SELECT status, body FROM pg_temp.api(:cit_a, 'DELETE', '/v1/reports/' || :r2 || '/thanks');
SELECT status FROM pg_temp.api(:cit_a, 'POST', '/v1/reports/' || :r1 || '/thanks');
SELECT status FROM pg_temp.api(NULL, 'POST', '/v1/reports/' || :r2 || '/thanks');
SELECT count(*) AS thanks_rows FROM machi.report_thanks WHERE report_id = :r2;
-- nearby duplicates: an open public report of the same category within 50 m
SELECT status, jsonb_path_query_array(body, '$.possible_duplicates[*].id') = jsonb_build_array(:r2) AS found_r2,
	   (body->'possible_duplicates'->0->>'distance_m')::numeric < 50 AS near
FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.63762, "lon": 140.09242, "title": "駅前の穴"}');
SELECT status, body->'possible_duplicates' AS none_far
FROM pg_temp.api(:cit_a, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6390, "lon": 140.0924, "title": "200m north"}');
-- listing: public reports and my own, newest first
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS titles FROM pg_temp.api(NULL, 'GET', '/v1/reports');
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS titles FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true');
SELECT status FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'mine=true');
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS in_bbox FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'bbox=140.09,35.60,140.11,35.61');
SELECT * FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'bbox=140.11,35.60,140.09');
SELECT * FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'status=open');
SELECT * FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'since=yesterday');
-- Japanese search: one- and two-character queries, full-width forms
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS hits FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&q=' || machi.urlencode('穴'));
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS hits FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&q=' || machi.urlencode('公園'));
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS hits FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&q=' || machi.urlencode('ブランコ 鎖'));
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS hits FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&q=' || machi.urlencode('ＮＯＲＴＨ'));
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS no_hits FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&q=' || machi.urlencode('穴公'));
SELECT machi.query_ngrams(machi.search_norm('道路 穴')) AS query_ngrams, machi.text_ngrams('公園の遊具') AS doc_ngrams;
-- keyset paging: following next links walks every report once, newest first
SELECT body->>'next' AS next, jsonb_path_query_array(body, '$.reports[*].id') AS ids
FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', 'mine=true&limit=2') \gset p1_
SELECT body->>'next' AS next, jsonb_path_query_array(body, '$.reports[*].id') AS ids
FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', substr(:'p1_next', strpos(:'p1_next', '?') + 1)) \gset p2_
SELECT body->>'next' AS next, jsonb_path_query_array(body, '$.reports[*].id') AS ids
FROM pg_temp.api(:cit_a, 'GET', '/v1/reports', substr(:'p2_next', strpos(:'p2_next', '?') + 1)) \gset p3_
SELECT jsonb_array_length(:'p1_ids') AS page1, jsonb_array_length(:'p2_ids') AS page2, jsonb_array_length(:'p3_ids') AS page3,
	   :'p1_ids'::jsonb || :'p2_ids'::jsonb || :'p3_ids'::jsonb
	   = (SELECT jsonb_agg(report_id ORDER BY report_id DESC) FROM machi.report WHERE author_id = :cit_a) AS pages_cover_all;
SELECT * FROM pg_temp.api(NULL, 'GET', '/v1/reports', 'limit=1000');
-- staff queue filters
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS received FROM pg_temp.api(:chuo_admin, 'GET', '/v1/staff/reports', 'status=received');
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS mine FROM pg_temp.api(:chuo_parks, 'GET', '/v1/staff/reports', 'assignee=me');
SELECT jsonb_path_query_array(body, '$.reports[*].title') AS found FROM pg_temp.api(:chuo_admin, 'GET', '/v1/staff/reports', 'q=' || machi.urlencode('市役所'));
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api(:chuo_admin, 'GET', '/v1/staff/reports', 'department=roads');
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api(:chuo_admin, 'GET', '/v1/staff/reports', 'from=2026-13-45');
-- CSV: UTF-8, optional BOM, formula injection neutralised
INSERT INTO machi.report (tenant_id, category_id, department_id, author_id, title, description, location)
SELECT 12101, category_id, department_id, :cit_a, '=HYPERLINK("http://evil.example","click")', E'line1\nline2, "quoted"',
	   public.st_setsrid(public.st_makepoint(140.1063, 35.6073), 4326)
FROM machi.category WHERE tenant_id = 12101 AND code = 'road';
SELECT h.status, h.headers->>'content-type' AS ctype, substr(h.body, 1, 3) = '\xefbbbf'::bytea AS bom
FROM (SELECT machi.act_as(:chuo_admin, 'regression test of reports')) x,
	 api.handle('GET', '/v1/staff/reports.csv', 'bom=1', '{}', NULL, NULL, 'csv') h;
SELECT regexp_replace(line, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00', '<created_at JST>') AS line
FROM (SELECT machi.act_as(:chuo_admin, 'regression test of reports')) x,
	 api.handle('GET', '/v1/staff/reports.csv', 'q=HYPERLINK', '{}', NULL, NULL, 'csv') h,
	 regexp_split_to_table(convert_from(h.body, 'UTF8'), E'\r\n') WITH ORDINALITY AS l(line, n)
WHERE line <> '' ORDER BY n;
-- a match larger than one file may hold is refused, saying what to do
SET machi.csv_max_rows = 1;
SELECT h.status, convert_from(h.body, 'UTF8')::jsonb->'error'->>'code' AS code,
	   convert_from(h.body, 'UTF8')::jsonb->'error'->>'message' AS message
FROM (SELECT machi.act_as(:chuo_admin, 'regression test of reports')) x,
	 api.handle('GET', '/v1/staff/reports.csv', '', '{}', NULL, NULL, 'csv') h;
SELECT convert_from(h.body, 'UTF8')::jsonb->'error' ? 'detail' AS says_what_to_do
FROM (SELECT machi.act_as(:chuo_admin, 'regression test of reports')) x,
	 api.handle('GET', '/v1/staff/reports.csv', '', '{}', NULL, NULL, 'csv') h;
-- exactly as many as allowed is a file
SELECT h.status, h.headers->>'content-type' AS ctype
FROM (SELECT machi.act_as(:chuo_admin, 'regression test of reports')) x,
	 api.handle('GET', '/v1/staff/reports.csv', 'q=HYPERLINK', '{}', NULL, NULL, 'csv') h;
RESET machi.csv_max_rows;
SELECT machi.csv_cell('=1+1') AS f1, machi.csv_cell('+SUM(A1)') AS f2, machi.csv_cell('-2') AS f3,
	   machi.csv_cell('@cmd') AS f4, machi.csv_cell('a,b') AS f5, machi.csv_cell('plain') AS f6;
-- rate limit: 429 with Retry-After
SET machi.report_rate_per_hour = 3;
SELECT h.status, h.headers->>'retry-after' ~ '^[0-9]+$' AS retry_after, convert_from(h.body, 'UTF8')::jsonb->'error'->>'code' AS code
FROM (SELECT machi.act_as(:cit_a, 'regression test of reports')) x,
	 api.handle('POST', '/v1/reports', '', '{"content-type": "application/json"}',
				convert_to('{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "one too many"}', 'UTF8'), NULL, 'rl') h;
RESET machi.report_rate_per_hour;
-- counts per status come from machi.report_tally when the filters are ones
-- it keeps apart (department, category); they equal counting the reports
-- (a from= filter makes the route count the reports themselves)
SELECT who, f AS filter,
	   (SELECT body->'counts' FROM pg_temp.api(a, 'GET', '/v1/staff/reports', f))
	 = (SELECT body->'counts' FROM pg_temp.api(a, 'GET', '/v1/staff/reports', f || '&from=2000-01-01')) AS same,
	   (SELECT sum(v::int) FROM pg_temp.api(a, 'GET', '/v1/staff/reports', f) x, jsonb_each_text(x.body->'counts') c(k, v)) AS total
FROM (VALUES ('admin', :chuo_admin, 'limit=1'), ('parks', :chuo_parks, 'limit=1'), ('inage', :inage_admin, 'limit=1'),
			 ('admin', :chuo_admin, 'category=road'),
			 ('admin', :chuo_admin, 'department=' || (SELECT department_id FROM machi.department WHERE tenant_id = 12101 AND name = '公園管理課'))) v(who, a, f)
ORDER BY 1, 2;
SELECT * FROM machi.report_tally_check();
-- a statement that changes many reports at once, a delete, and an insert
-- of several rows keep it exact (rolled back: the tests after this one
-- expect the reports as they were)
BEGIN;
UPDATE machi.report SET status = 'closed', updated_at = now() WHERE tenant_id = 12101 AND status = 'received';
DELETE FROM machi.report WHERE report_id = (SELECT max(report_id) FROM machi.report WHERE tenant_id = 12101 AND title LIKE '=HYPERLINK%');
INSERT INTO machi.report (tenant_id, report_id, category_id, department_id, author_id, title, location)
OVERRIDING SYSTEM VALUE
SELECT 12103, 900000 + g, category_id, department_id, :cit_b, 'bulk ' || g, public.st_setsrid(public.st_makepoint(140.0924, 35.6376), 4326)
FROM machi.category, generate_series(1, 3) g WHERE tenant_id = 12103 AND code = 'road';
SELECT * FROM machi.report_tally_check();
SELECT tenant_id, status, sum(n) AS n FROM machi.report_tally WHERE n <> 0 GROUP BY 1, 2 ORDER BY 1, 2;
-- counts down to nothing leave no row
SELECT count(*) AS zero_rows FROM machi.report_tally WHERE n = 0;
-- a tenant's staff read their own tenant's tally only; citizens none
SELECT machi.act_as(:inage_admin, 'regression test of reports');
SET LOCAL ROLE machi_owner;
SELECT tenant_id, status, sum(n) AS n FROM machi.report_tally WHERE n <> 0 GROUP BY 1, 2 ORDER BY 1, 2;
RESET ROLE;
SELECT machi.act_as(:cit_a, 'regression test of reports');
SET LOCAL ROLE machi_owner;
SELECT count(*) AS citizen_sees FROM machi.report_tally;
-- and nobody writes it but the triggers
UPDATE machi.report_tally SET n = n + 1;
SAVEPOINT s;
INSERT INTO machi.report_tally VALUES (12101, 1, 1, 'received', 5);
ROLLBACK TO SAVEPOINT s;
RESET ROLE;
-- a broken tally is found and rebuilt
UPDATE machi.report_tally SET n = n + 2 WHERE tenant_id = 12103 AND status = 'received';
SELECT tenant_id, status, tallied - counted AS off FROM machi.report_tally_check();
SELECT machi.report_tally_rebuild() > 0 AS rebuilt;
SELECT * FROM machi.report_tally_check();
ROLLBACK;
