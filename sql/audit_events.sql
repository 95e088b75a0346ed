-- audit_events: the API call log, security events (kept when the route
-- fails), the DBA views, and the daily security report.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SELECT machi.create_tenant(12102, '千葉市花見川区', pg_read_file(:'datadir' || '/boundaries/12102.json')::jsonb);
-- staff of 12102 work 00:00-00:00: everything they do is outside business hours
UPDATE machi.tenant SET settings = '{"business_hours": {"start": "00:00", "end": "00:00", "timezone": "Asia/Tokyo"}}'
WHERE tenant_id = 12102;
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12102, 'staff') RETURNING account_id AS staff \gset
INSERT INTO machi.account (kind, role_name) VALUES ('citizen', 'citizen') RETURNING account_id AS citizen \gset
SELECT (now() AT TIME ZONE 'Asia/Tokyo')::date AS today \gset
-- test routes: one that records a failed login, one a permission denial, then fail
CREATE FUNCTION machi.rt_audit_login_probe(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.audit_event('login_failed', jsonb_build_object('account_id', (r.params->>'id')::bigint));
	PERFORM machi.fail(401, 'invalid login id or password');
END $$;
CREATE FUNCTION machi.rt_audit_deny_probe(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.audit_event('permission_denied', jsonb_build_object('resource', 'report', 'action', 'update'));
	PERFORM machi.fail(403, 'not permitted');
END $$;
INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('POST', '/v1/audit-probe/login/{id}', 'machi.rt_audit_login_probe(machi.request)', 'public', 0, 'test'),
	('POST', '/v1/audit-probe/deny/{id}', 'machi.rt_audit_deny_probe(machi.request)', 'public', 0, 'test');
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset

-- every API call is logged: route, status, error, caller, address, request id
SELECT status FROM api.handle('GET', '/v1/tenants', '', '{}', NULL, '203.0.113.5', 'ev-ok-1');
SELECT status FROM api.handle('GET', '/v1/nowhere', '', '{}', NULL, '203.0.113.5', 'ev-404-1');
SELECT event, detail->>'method' AS method, detail->>'path' AS path, detail->>'route' AS route,
	   detail->>'status' AS status, detail->>'error' AS error, (detail->>'duration_us')::int >= 0 AS timed,
	   account_id, role, client_addr, request_id
FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;

-- events raised by a route are kept although the route fails (its own work
-- is rolled back), and come before the call record
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
SELECT h.status FROM generate_series(1, 5) g,
	api.handle('POST', '/v1/audit-probe/login/' || :citizen, '', '{}', NULL, '198.51.100.7', 'ev-login-' || g) h;
SELECT status FROM api.handle('POST', '/v1/audit-probe/deny/1', '', '{}', NULL, '192.0.2.10', 'ev-deny-1');
SELECT event, detail - 'duration_us' - 'path' AS detail, client_addr, request_id
FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;

-- a staff member (here: a DBA acting as one) probing ids of another tenant
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
BEGIN;
SELECT machi.act_as(:staff, 'ticket 815: staff cannot see categories');
SELECT h.status FROM (VALUES (99991), (99992), (99993)) v(id),
	api.handle('GET', '/v1/tenants/' || id || '/categories', '', '{}', NULL, '192.0.2.20', 'ev-probe-' || id) h;
UPDATE machi.account SET must_change_password = true WHERE account_id = :staff;
COMMIT;
SELECT event, op, account_id = :staff AS by_staff, role, tenant_id, act_as, detail->>'status' AS status, request_id
FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;

-- events from SQL: a lockout, an export with personal data, DBA reveals
SELECT machi.audit_event('account_locked', jsonb_build_object('account_id', :citizen, 'reason', 'failed logins'));
SELECT machi.audit_event('export', jsonb_build_object('what', 'accounts', 'rows', 120, 'pii', true, 'tenant_id', 12102));
SELECT machi.audit_event('pii_disclosure', jsonb_build_object('subject_account_id', :citizen,
		'fields', jsonb_build_array('email', 'phone'), 'reason', 'ticket 816: citizen asked for a copy'));
-- event types are checked
SELECT machi.audit_event('Login Failed', '{}');
SELECT machi.audit_event('row', '{}');
SELECT machi.audit_event('login_failed', '[1]');

-- admin calls: arguments that may hold secrets or personal data are not recorded
CREATE FUNCTION machi.audit_probe__impl(login text, password text, email text, note text) RETURNS int
	LANGUAGE sql RETURN length(note);
CREATE FUNCTION machi.audit_probe(login text, password text, email text, note text) RETURNS int
	AS '$libdir/machi', 'machi_admin_dispatch' LANGUAGE C SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
SELECT machi.audit_probe('sato', 'Tr0ub4dor&3-secret', 'sato@example.jp', repeat('長い説明', 40));
SELECT detail->>'function' AS function, detail->'args'->>'login' AS login,
	   detail->'args'->>'password' AS password, detail->'args'->>'email' AS email,
	   octet_length(detail->'args'->>'note') < 130 AS note_clipped, role, request_id,
	   detail::text ~ '(Tr0ub4dor|sato@example)' AS leaks
FROM machi.audit_log WHERE audit_id > :mark AND event = 'admin_call';
DROP FUNCTION machi.audit_probe(text, text, text, text);
DROP FUNCTION machi.audit_probe__impl(text, text, text, text);

-- the DBA views
-- who touched this account row
SELECT op, changes, account_id = :staff AS by_staff, act_as, request_id
FROM machi.audit_row_history
WHERE table_name = 'machi.account' AND pk @> jsonb_build_object('account_id', :staff) ORDER BY audit_id;
-- what did the staff account do today
SELECT event, op, table_name, detail->>'route' AS route, detail->>'status' AS status
FROM machi.audit_account_activity
WHERE account_id = :staff AND logged_at >= :'today'::timestamp AT TIME ZONE 'Asia/Tokyo'
  AND logged_at < (:'today'::date + 1)::timestamp AT TIME ZONE 'Asia/Tokyo'
ORDER BY audit_id;
-- who saw the citizen's personal data
SELECT fields, reason, by_account_id, by_role, db_user = session_user AS by_session_user
FROM machi.audit_pii_disclosure WHERE subject_account_id = :citizen ORDER BY audit_id;

-- the daily report (findings of this test's accounts and addresses)
SELECT severity, finding,
	   CASE subject WHEN 'account ' || :citizen THEN 'account CITIZEN' WHEN 'account ' || :staff THEN 'account STAFF'
			ELSE subject END AS subject,
	   tenant_id, events,
	   CASE WHEN finding IN ('cross_tenant_probe', 'permission_denied', 'failed_login_burst_address', 'off_hours_staff')
			THEN detail END AS detail
FROM machi.security_report(:'today')
WHERE subject IN ('account ' || :citizen, 'account ' || :staff, 'address 198.51.100.7', 'address 192.0.2.10')
ORDER BY 1, 2, 3;
SELECT position('[high] cross_tenant_probe: account ' || :staff IN machi.security_report_text(:'today')) > 0 AS text_has_probe;
SELECT machi.security_report_text('2001-01-01');
-- the auditor may run it
SET ROLE machi_auditor;
SELECT count(*) > 0 AS auditor_sees_findings FROM machi.security_report(:'today');
RESET ROLE;
-- queue it for the operators: to the addresses of machi.operator_email,
-- sealed in the outbox like all mail
SELECT machi.queue_security_report('2001-01-01');
SET machi.operator_email = 'ops1@example.invalid, ops2@example.invalid';
SELECT machi.queue_security_report('2001-01-01');
RESET machi.operator_email;
SELECT kind, state, account_id, position(convert_to('security report', 'UTF8') IN subject) = 0 AS subject_sealed,
	   position(convert_to('ops1', 'UTF8') IN recipient) = 0 AS recipient_sealed
FROM machi.outbox WHERE kind = 'operators' ORDER BY outbox_id;
DELETE FROM machi.route WHERE pattern LIKE '/v1/audit-probe/%';
DROP FUNCTION machi.rt_audit_login_probe(machi.request);
DROP FUNCTION machi.rt_audit_deny_probe(machi.request);
