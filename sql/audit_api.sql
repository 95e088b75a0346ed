-- audit_api: GET /v1/admin/audit, the audit trail of one municipality for
-- its tenant admins: what was just done shows up, filters and keyset paging
-- work, other tenants' rows never show, other roles get 403, personal data
-- and DBA logins are not in the answer.
\set VERBOSITY terse
SELECT account_id AS chuo_admin FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' AND state = 'active' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS chuo_viewer FROM machi.account WHERE tenant_id = 12101 AND role_name = 'viewer' ORDER BY account_id LIMIT 1 \gset
SELECT account_id AS inage_admin FROM machi.account WHERE tenant_id = 12103 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
UPDATE machi.account SET must_change_password = false WHERE account_id IN (:chuo_admin, :chuo_viewer, :inage_admin);
CREATE FUNCTION pg_temp.api(who bigint, m text, p text, b jsonb DEFAULT NULL, q text DEFAULT '')
	RETURNS TABLE (status int, body jsonb) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of the audit api');
	RETURN QUERY SELECT h.status, nullif(convert_from(h.body, 'UTF8'), '')::jsonb
		FROM api.handle(m, p, q, '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'),
						'198.51.100.84', 'audit-api') h;
END $$;
-- status(who, method, path, query): the status only (CSV and other bodies)
CREATE FUNCTION pg_temp.status(who bigint, m text, p text, q text DEFAULT '') RETURNS int
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of the audit api');
	RETURN (SELECT h.status FROM api.handle(m, p, q, '{}', NULL, '198.51.100.84', 'audit-api') h);
END $$;
-- audit(who, query): the entries an account gets
CREATE FUNCTION pg_temp.audit(who bigint, q text DEFAULT '') RETURNS SETOF jsonb
	LANGUAGE sql AS $$
	SELECT e FROM pg_temp.api(who, 'GET', '/v1/admin/audit', NULL, q) a, jsonb_array_elements(a.body->'entries') e $$;

-- an action of the Chuo admin is in Chuo's audit trail at once
SELECT status, body->>'name' AS name
FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/departments', '{"name": "監査テスト課"}');
SELECT department_id AS dept FROM machi.department WHERE tenant_id = 12101 AND name = '監査テスト課' \gset
SELECT e->>'event' AS event, e->>'op' AS op, e->>'table' AS tbl, e->'key' = jsonb_build_object('tenant_id', 12101, 'department_id', :dept) AS key_ok,
	   (e->>'account_id')::bigint = :chuo_admin AS by_admin, e->>'role' AS role, e->>'act_as' AS act_as,
	   e->>'client_addr' AS client_addr, e->>'request_id' AS request_id, e ? 'db_user' AS shows_db_user
FROM pg_temp.audit(:chuo_admin, 'type=row') e
WHERE e->>'table' = 'machi.department' AND e->'key'->>'department_id' = :'dept';
-- the API call that did it, too
SELECT e->'detail'->>'method' AS method, e->'detail'->>'route' AS route, e->'detail'->>'status' AS status
FROM pg_temp.audit(:chuo_admin, 'type=api_call') e
WHERE e->'detail'->>'path' = '/v1/admin/departments' AND e->'detail'->>'method' = 'POST'
ORDER BY (e->>'id')::bigint DESC LIMIT 1;
SELECT status, jsonb_typeof(body->'entries') AS entries, body ? 'from' AND body ? 'to' AS window
FROM pg_temp.api(:chuo_admin, 'GET', '/v1/admin/audit');

-- tenant isolation: Inage's admin sees none of it, with or without filters
SELECT count(*) FILTER (WHERE e->'key'->>'department_id' = :'dept') AS chuo_department_rows,
	   count(*) FILTER (WHERE (e->>'account_id')::bigint = :chuo_admin) AS chuo_admin_rows,
	   count(*) FILTER (WHERE (e->>'account_id')::bigint NOT IN (SELECT account_id FROM machi.account WHERE tenant_id = 12103)) AS other_accounts
FROM pg_temp.audit(:inage_admin, 'limit=100') e;
SELECT count(*) AS rows_of_chuo_admin FROM pg_temp.audit(:inage_admin, 'account=' || :chuo_admin);
SELECT count(*) > 0 AS inage_sees_own FROM pg_temp.audit(:inage_admin, 'account=' || :inage_admin);
-- the DBA view (whole trail) has the rows; the route keeps them to the caller's tenant
SELECT count(*) > 0 AS dba_sees_chuo_rows FROM machi.audit_account_activity WHERE account_id = :chuo_admin AND tenant_id = 12101;

-- roles without the audit read permission
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api(:chuo_viewer, 'GET', '/v1/admin/audit');

-- filters are checked
SELECT status, body->'error'->>'field' AS field, body->'error'->>'code' AS code
FROM (VALUES ('account=abc'), ('report=1;2'), ('type=Bad!'), ('after=-1'), ('from=yesterday'),
			 ('from=2026-05-02&to=2026-05-01'), ('limit=1000')) AS v(q),
	 LATERAL pg_temp.api(:chuo_admin, 'GET', '/v1/admin/audit', NULL, v.q);

-- a report: the calls on its paths and what their transactions wrote
SELECT report_id AS rep FROM machi.report WHERE tenant_id = 12101 ORDER BY report_id LIMIT 1 \gset
SELECT status FROM pg_temp.api(:chuo_admin, 'POST', '/v1/staff/reports/' || :rep || '/responses',
	'{"body": "監査テストの内部メモ", "visibility": "internal"}');
SELECT update_id AS upd FROM machi.report_update WHERE tenant_id = 12101 AND report_id = :rep ORDER BY update_id DESC LIMIT 1 \gset
-- the call, and the response row its transaction wrote (keyed by the update)
SELECT e->>'event' AS event, coalesce(e->>'table', e->'detail'->>'method' || ' ' || (e->'detail'->>'route')) AS what,
	   e->>'op' AS op, (e->'key'->>'update_id')::bigint = :upd AS this_update
FROM pg_temp.audit(:chuo_admin, 'report=' || :rep || '&limit=100') e
WHERE e->>'event' = 'api_call' AND e->'detail'->>'method' = 'POST'
   OR e->>'table' = 'machi.report_update'
ORDER BY (e->>'id')::bigint DESC LIMIT 2;
-- nothing about other reports
SELECT count(*) FILTER (WHERE e->>'event' = 'api_call' AND e->'detail'->>'path' !~ ('^/v1/(staff/)?reports/' || :rep || '(/|$)')) AS other_calls,
	   count(*) FILTER (WHERE e->>'table' = 'machi.report' AND e->'key'->>'report_id' <> :'rep') AS other_report_rows,
	   count(*) FILTER (WHERE e->>'table' = 'machi.report_update'
						  AND (e->'key'->>'update_id')::bigint NOT IN (SELECT update_id FROM machi.report_update WHERE report_id = :rep)) AS other_update_rows
FROM pg_temp.audit(:chuo_admin, 'report=' || :rep || '&limit=100') e;
SELECT count(*) AS inage_sees_chuo_report FROM pg_temp.audit(:inage_admin, 'report=' || :rep);

-- keyset paging: next keeps the window and continues below the last id
SELECT body->'entries'->-1->>'id' AS last_id, body->>'next' AS next,
	   jsonb_array_length(body->'entries') AS n
FROM pg_temp.api(:chuo_admin, 'GET', '/v1/admin/audit', NULL, 'type=row&limit=2') \gset
SELECT :'next' ~ ('^/v1/admin/audit\?after=' || :last_id || '&from=[^&]+&limit=2&to=[^&]+&type=row$') AS next_ok, :n AS n;
SELECT count(*) AS page2, bool_and((e->>'id')::bigint < :last_id) AS below_last
FROM pg_temp.audit(:chuo_admin, substring(:'next' FROM '\?(.*)$')) e;
-- a window in the past is empty
SELECT count(*) AS old_window FROM pg_temp.audit(:chuo_admin, 'from=2020-01-01&to=2020-02-01');

-- exports are recorded, and personal data never appears in the answer
SELECT status, (body->'staff'->>'id')::bigint AS person FROM pg_temp.api(:chuo_admin, 'POST', '/v1/admin/staff',
	'{"email": "audit-api-person@city.example", "name": "監査 花子", "role": "viewer"}') \gset
SELECT status, body->'staff'->>'name' AS name FROM pg_temp.api(:chuo_admin, 'PATCH', '/v1/admin/staff/' || :person,
	'{"name": "監査 春子", "contact": "内線 4321"}');
SELECT pg_temp.status(:chuo_admin, 'GET', '/v1/admin/export/users.csv') AS export_status;
SELECT e->'detail'->>'what' AS what, e->'detail'->>'pii' AS pii, e->'detail'->>'via' AS via
FROM pg_temp.audit(:chuo_admin, 'type=export&limit=1') e;
-- the name change is there, as "changed"; no name, address or contact in clear
SELECT e->>'op' AS op, e->'detail'->>'name' AS name, e->'detail'->>'contact' AS contact
FROM pg_temp.audit(:chuo_admin, 'type=row&limit=100') e
WHERE e->>'table' = 'machi.account_pii' AND (e->'key'->>'account_id')::bigint = :person AND e->'detail' ? 'contact';
SELECT a.body::text LIKE '%audit-api-person%' AS shows_email, a.body::text LIKE '%監査%子%' AS shows_name,
	   a.body::text LIKE '%内線 4321%' AS shows_contact, jsonb_array_length(a.body->'entries') AS entries
FROM pg_temp.api(:chuo_admin, 'GET', '/v1/admin/audit', NULL, 'limit=100') a;

-- the route is documented
SELECT method, pattern, auth FROM machi.routes WHERE pattern = '/v1/admin/audit';
