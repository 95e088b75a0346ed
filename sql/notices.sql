-- notices and incidents: maintenance notices per audience and tenant;
-- incident reports visible only to the tenants they affected.
\set VERBOSITY terse
SELECT account_id AS chuo_admin FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS inage_admin FROM machi.account WHERE tenant_id = 12103 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS chuo_viewer FROM machi.account WHERE tenant_id = 12101 AND role_name = 'viewer' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS citizen FROM machi.account WHERE kind = 'citizen' ORDER BY account_id LIMIT 1 \gset
CREATE FUNCTION pg_temp.api(who bigint, p text) RETURNS TABLE (status int, body jsonb) LANGUAGE plpgsql AS $$
BEGIN
	IF who IS NOT NULL THEN
		PERFORM machi.act_as(who, 'regression test of notices');
	END IF;
	RETURN QUERY SELECT h.status, convert_from(h.body, 'UTF8')::jsonb FROM api.handle('GET', p, '', '{}', NULL, NULL, 'n') h;
END $$;
SET ROLE machi_test_dba;
SELECT machi.create_notice('全体メンテナンス', '全員向け', now() - interval '1 hour', now() + interval '1 hour') IS NOT NULL AS global_both;
SELECT machi.create_notice('職員向け', '職員のみ', now() - interval '1 hour', now() + interval '1 hour', 'staff') IS NOT NULL AS global_staff;
SELECT machi.create_notice('市民向け', '市民のみ', now() - interval '1 hour', now() + interval '1 hour', 'citizens') IS NOT NULL AS global_citizens;
SELECT machi.create_notice('中央区職員向け', '中央区のみ', now() - interval '1 hour', now() + interval '1 hour', 'staff', 12101) IS NOT NULL AS chuo_staff;
SELECT machi.create_notice('終了済み', '過去', now() - interval '2 days', now() - interval '1 day') IS NOT NULL AS past;
SELECT machi.create_notice('予定', '未来', now() + interval '1 day', now() + interval '2 days') IS NOT NULL AS future;
SELECT machi.create_notice('bad', 'window', now(), now() - interval '1 hour');
SELECT machi.create_notice('bad', 'audience', now(), now() + interval '1 hour', 'everyone');
RESET ROLE;
-- who sees what
SELECT 'anonymous' AS who, jsonb_path_query_array(body, '$.notices[*].title') AS titles FROM pg_temp.api(NULL, '/v1/notices')
UNION ALL SELECT 'citizen', jsonb_path_query_array(body, '$.notices[*].title') FROM pg_temp.api(:citizen, '/v1/notices')
UNION ALL SELECT 'Chuo staff', jsonb_path_query_array(body, '$.notices[*].title') FROM pg_temp.api(:chuo_admin, '/v1/notices')
UNION ALL SELECT 'Inage staff', jsonb_path_query_array(body, '$.notices[*].title') FROM pg_temp.api(:inage_admin, '/v1/notices');
-- withdrawing a notice
SET ROLE machi_test_dba;
SELECT machi.end_notice((SELECT notice_id FROM machi.notice WHERE title = '全体メンテナンス'));
SELECT machi.end_notice(987654);
RESET ROLE;
SELECT jsonb_path_query_array(body, '$.notices[*].title') AS after_withdrawal FROM pg_temp.api(NULL, '/v1/notices');
-- incidents: only the affected tenants see them, with their updates
SET ROLE machi_test_dba;
SELECT machi.create_incident('写真が表示されない', now() - interval '30 minutes', ARRAY[12101], NULL, '調査中です') AS inc \gset
SELECT machi.create_incident('全区で応答遅延', now() - interval '10 minutes', ARRAY[12101, 12103]) AS inc2 \gset
SELECT machi.create_incident('nobody', now(), ARRAY[]::int[]);
SELECT machi.update_incident(:inc, 'identified', 'ストレージの障害を特定しました', cause => 'ストレージ装置の故障');
SELECT machi.update_incident(:inc, 'resolved', '復旧しました', actions => '装置を交換しました');
SELECT machi.update_incident(987654, 'resolved');
RESET ROLE;
SELECT 'Chuo admin' AS who, status, jsonb_path_query_array(body, '$.incidents[*].title') AS incidents FROM pg_temp.api(:chuo_admin, '/v1/admin/incidents')
UNION ALL SELECT 'Chuo viewer', status, jsonb_path_query_array(body, '$.incidents[*].title') FROM pg_temp.api(:chuo_viewer, '/v1/admin/incidents')
UNION ALL SELECT 'Inage admin', status, jsonb_path_query_array(body, '$.incidents[*].title') FROM pg_temp.api(:inage_admin, '/v1/admin/incidents')
UNION ALL SELECT 'citizen', status, body->'error'->'code' FROM pg_temp.api(:citizen, '/v1/admin/incidents');
SELECT 'anonymous' AS who, status, body->'error'->'code' AS code FROM pg_temp.api(NULL, '/v1/admin/incidents');
SELECT i->>'status' AS status, i->>'cause' AS cause, i->>'actions' AS actions, (i->>'ended_at') IS NOT NULL AS ended,
	   jsonb_path_query_array(i, '$.updates[*].status') AS updates
FROM pg_temp.api(:chuo_admin, '/v1/admin/incidents') a, jsonb_array_elements(a.body->'incidents') i
WHERE i->>'title' = '写真が表示されない';
-- tenants cannot write notices or incidents, even with their admin role
BEGIN;
SELECT machi.act_as(:chuo_admin, 'regression test of notices');
SET LOCAL ROLE machi_owner;
INSERT INTO machi.notice (title, body, starts_at, ends_at, audience, tenant_id) VALUES ('x', 'y', now(), now() + interval '1 hour', 'both', 12101);
ROLLBACK;
BEGIN;
SELECT machi.act_as(:chuo_admin, 'regression test of notices');
SET LOCAL ROLE machi_owner;
WITH u AS (UPDATE machi.incident SET status = 'resolved' RETURNING 1) SELECT count(*) AS incidents_changed FROM u;
ROLLBACK;
-- withdraw the remaining notices so later tests see none
SET ROLE machi_test_dba;
SELECT count(machi.end_notice(notice_id)) AS withdrawn FROM machi.notice WHERE ends_at > now() ORDER BY 1;
RESET ROLE;
