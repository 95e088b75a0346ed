-- admin_api: tenant admins manage their departments, categories (routing)
-- and Open311 keys over the API; other tenants' ids are not found; other
-- roles may read (or not) per their permissions.
\set VERBOSITY terse
SELECT account_id AS chuo_admin FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' AND state = 'active' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS chuo_viewer FROM machi.account WHERE tenant_id = 12101 AND role_name = 'viewer' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS inage_admin FROM machi.account WHERE tenant_id = 12103 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
UPDATE machi.account SET must_change_password = false WHERE account_id IN (:chuo_admin, :chuo_viewer, :inage_admin);
CREATE FUNCTION pg_temp.api(who bigint, m text, p text, b jsonb DEFAULT NULL)
	RETURNS TABLE (status int, body jsonb) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of the admin api');
	RETURN QUERY SELECT h.status, convert_from(h.body, 'UTF8')::jsonb
		FROM api.handle(m, p, '', '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'), NULL, 'adm') h;
END $$;
-- departments
SELECT status, body->>'name' AS name, body->>'active' AS active FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/departments', '{"name": "下水道課", "name_en": "Sewerage"}');
SELECT (e->>'id')::bigint AS sewer FROM pg_temp.api(:chuo_admin, 'GET', '/v1/admin/departments') a,
	jsonb_array_elements(a.body->'departments') e WHERE e->>'name' = '下水道課' \gset
SELECT status, body->>'active' AS active FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/admin/departments/' || :sewer, '{"active": false}');
SELECT status, body FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/admin/departments/' || :sewer, '{"active": "no"}');
SELECT status, body FROM pg_temp.api(:inage_admin, 'PATCH', '/v1/admin/departments/' || :sewer, '{"name": "pwned"}');
SELECT status, body FROM pg_temp.api(:chuo_viewer, 'POST', '/v1/admin/departments', '{"name": "viewer dept"}');
SELECT status, jsonb_array_length(body->'departments') > 0 AS sees FROM pg_temp.api(:chuo_viewer, 'GET', '/v1/admin/departments');
SELECT status, body FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/departments', '{"name": "下水道課"}');
-- categories: routing to an own department only
SELECT status, body->>'code' AS code, (body->>'department_id')::bigint = :sewer AS routed
FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/categories', jsonb_build_object('code', 'sewer', 'name', '下水の詰まり', 'department_id', :sewer));
SELECT (SELECT department_id FROM machi.department WHERE tenant_id = 12103 ORDER BY department_id LIMIT 1) AS inage_dept \gset
SELECT status, body FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/categories', jsonb_build_object('code', 'x', 'name', 'x', 'department_id', :inage_dept));
SELECT status, body FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/categories', '{"code": "bad code", "name": "x", "department_id": 1}');
SELECT status, body FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/categories', '{"code": "nodept", "name": "x"}');
SELECT category_id AS cat FROM machi.category WHERE tenant_id = 12101 AND code = 'sewer' \gset
SELECT status, body->>'sort_order' AS sort_order, body->>'name_en' AS name_en FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/admin/categories/' || :cat, '{"sort_order": 5, "name_en": "Blocked sewer"}');
SELECT status, body FROM pg_temp.api(:inage_admin, 'PATCH', '/v1/admin/categories/' || :cat, '{"name": "pwned"}');
SELECT status, body FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/admin/categories/99999999', '{"name": "x"}');
-- Open311 keys: shown once, stored as a hash, revoked at once
SELECT status, body->>'key' ~ '^mk_' AS key_shown FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/api-keys', '{"label": "dashboard"}');
SELECT status, jsonb_path_query_array(body, '$.api_keys[*].label') AS labels, body::text LIKE '%mk_%' AS leaks_key
FROM pg_temp.api(:chuo_admin, 'GET', '/v1/admin/api-keys');
SELECT key_id AS kid FROM machi.api_key WHERE tenant_id = 12101 AND label = 'dashboard' \gset
SELECT status, body FROM pg_temp.api(:inage_admin, 'DELETE', '/v1/admin/api-keys/' || :kid);
SELECT status, body FROM pg_temp.api(:chuo_admin, 'DELETE', '/v1/admin/api-keys/' || :kid);
SELECT status, body FROM pg_temp.api(:chuo_admin, 'DELETE', '/v1/admin/api-keys/' || :kid);
SELECT status, body FROM pg_temp.api(:chuo_viewer, 'GET', '/v1/admin/api-keys');
