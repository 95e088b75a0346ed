-- machi install script, part 55: reading the audit trail: the DBA views
-- and the daily security report (docs/audit.md has psql examples).
--
-- The views and the report run with the reader's rights (security_invoker):
-- machi_auditor and machi_admin read the whole trail, nobody else reads it.

CREATE VIEW machi.audit_row_history WITH (security_invoker = true) AS
	SELECT a.table_name, a.pk, a.logged_at, a.op, a.detail AS changes,
		   a.account_id, a.role, a.tenant_id, a.act_as, a.db_user, a.client_addr,
		   a.request_id, a.txid, a.audit_id
	FROM machi.audit_log a
	WHERE a.event = 'row';
COMMENT ON VIEW machi.audit_row_history IS
'Who touched a row: every change of every table with who, when and from where. Example: SELECT * FROM machi.audit_row_history WHERE table_name = ''machi.report'' AND pk @> ''{"report_id": 42}'' ORDER BY logged_at;';

CREATE VIEW machi.audit_account_activity WITH (security_invoker = true) AS
	SELECT a.account_id, a.logged_at, a.event, a.op, a.table_name, a.pk, a.detail,
		   a.role, a.tenant_id, a.act_as, a.db_user, a.client_addr, a.request_id, a.audit_id
	FROM machi.audit_log a
	WHERE a.account_id IS NOT NULL;
COMMENT ON VIEW machi.audit_account_activity IS
'What an account did (API calls, row changes, events; act_as marks a DBA acting as it). Example: SELECT logged_at, event, op, table_name, pk, detail->>''route'' FROM machi.audit_account_activity WHERE account_id = 7 AND logged_at >= ''2026-04-01'' AND logged_at < ''2026-04-02'' ORDER BY logged_at;';

CREATE VIEW machi.audit_pii_disclosure WITH (security_invoker = true) AS
	SELECT a.logged_at,
		   CASE WHEN a.detail->>'subject_account_id' ~ '^[0-9]{1,18}$'
				THEN (a.detail->>'subject_account_id')::bigint END AS subject_account_id,
		   a.detail->'fields' AS fields, a.detail->>'reason' AS reason,
		   a.account_id AS by_account_id, a.role AS by_role, a.tenant_id, a.act_as,
		   a.db_user, a.client_addr, a.request_id, a.detail, a.audit_id
	FROM machi.audit_log a
	WHERE a.event = 'pii_disclosure';
COMMENT ON VIEW machi.audit_pii_disclosure IS
'Who saw whose personal data, which fields, and why (DBA reveals carry a reason). Example: SELECT logged_at, by_account_id, db_user, fields, reason FROM machi.audit_pii_disclosure WHERE subject_account_id = 1234 ORDER BY logged_at;';

CREATE FUNCTION machi.audit_business_hours()
	RETURNS TABLE (tenant_id int, opens time, closes time, timezone text)
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT t.tenant_id,
		   CASE WHEN t.settings->'business_hours'->>'start' ~ '^[0-2][0-9]:[0-5][0-9]$'
				THEN (t.settings->'business_hours'->>'start')::time ELSE '08:00'::time END,
		   CASE WHEN t.settings->'business_hours'->>'end' ~ '^[0-2][0-9]:[0-5][0-9]$'
				THEN (t.settings->'business_hours'->>'end')::time ELSE '20:00'::time END,
		   coalesce((SELECT z.name FROM pg_catalog.pg_timezone_names z
					 WHERE z.name = t.settings->'business_hours'->>'timezone'), 'Asia/Tokyo')
	FROM machi.tenant t;
END;
COMMENT ON FUNCTION machi.audit_business_hours() IS
'Business hours of each tenant for the security report, from tenant.settings {"business_hours": {"start": "08:00", "end": "20:00", "timezone": "Asia/Tokyo"}} (these are the defaults; "24:00" allowed as end; start after end means overnight hours).';

CREATE FUNCTION machi.security_report(day date, tz text DEFAULT 'Asia/Tokyo',
									  burst int DEFAULT 5, bulk int DEFAULT 50)
	RETURNS TABLE (severity text, finding text, subject text, tenant_id int, events bigint,
				   first_at timestamptz, last_at timestamptz, detail jsonb)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
	WITH w AS (
		SELECT (day::timestamp AT TIME ZONE tz) AS lo, ((day + 1)::timestamp AT TIME ZONE tz) AS hi
	),
	a AS (
		SELECT l.* FROM machi.audit_log l, w WHERE l.logged_at >= w.lo AND l.logged_at < w.hi
	),
	findings AS (
		-- failed logins: bursts per account
		SELECT 'high' AS severity, 'failed_login_burst_account' AS finding,
			   'account ' || (a.detail->>'account_id') AS subject, NULL::int AS tenant_id,
			   count(*) AS events, min(a.logged_at) AS first_at, max(a.logged_at) AS last_at,
			   jsonb_build_object('addresses', jsonb_agg(DISTINCT host(a.client_addr))) AS detail
		FROM a WHERE a.event = 'login_failed' AND a.detail->>'account_id' IS NOT NULL
		GROUP BY a.detail->>'account_id' HAVING count(*) >= burst
		UNION ALL
		-- failed logins: bursts per client address
		SELECT 'high', 'failed_login_burst_address', 'address ' || coalesce(host(a.client_addr), 'local'),
			   NULL, count(*), min(a.logged_at), max(a.logged_at),
			   jsonb_build_object('accounts', count(DISTINCT a.detail->>'account_id'))
		FROM a WHERE a.event = 'login_failed'
		GROUP BY a.client_addr HAVING count(*) >= burst
		UNION ALL
		-- lockouts
		SELECT 'medium', 'lockout', 'account ' || coalesce(a.detail->>'account_id', '?'),
			   a.tenant_id, 1, a.logged_at, a.logged_at, a.detail
		FROM a WHERE a.event = 'account_locked'
		UNION ALL
		-- permission denials (events, and 403 answers of the API)
		SELECT 'medium', 'permission_denied', d.subject, max(d.tenant_id), count(*), min(d.logged_at),
			   max(d.logged_at),
			   jsonb_build_object('routes', coalesce(jsonb_agg(DISTINCT d.what) FILTER (WHERE d.what IS NOT NULL), '[]'))
		FROM (SELECT a.*, coalesce(a.detail->>'route', a.detail->>'resource') AS what,
					 CASE WHEN a.account_id IS NOT NULL THEN 'account ' || a.account_id
						  ELSE 'address ' || coalesce(host(a.client_addr), 'local') END AS subject
			  FROM a WHERE a.event = 'permission_denied'
				 OR (a.event = 'api_call' AND a.detail->>'status' = '403')) d
		GROUP BY d.subject
		UNION ALL
		-- cross-tenant probes: an authenticated caller asking for ids that do not exist for it
		SELECT 'high', 'cross_tenant_probe', 'account ' || a.account_id, max(a.tenant_id),
			   count(*), min(a.logged_at), max(a.logged_at),
			   jsonb_build_object('paths', (array_agg(a.detail->>'path' ORDER BY a.logged_at))[1:20])
		FROM a WHERE a.event = 'api_call' AND a.detail->>'status' = '404'
			AND a.detail->>'route' LIKE '%{%}%' AND a.account_id IS NOT NULL
		GROUP BY a.account_id
		UNION ALL
		-- bulk reads of personal data
		SELECT 'high', 'pii_bulk_read', d.subject, max(d.tenant_id), count(*), min(d.logged_at), max(d.logged_at),
			   jsonb_build_object('subjects', count(DISTINCT d.detail->>'subject_account_id'))
		FROM (SELECT a.*, CASE WHEN a.account_id IS NOT NULL THEN 'account ' || a.account_id
							   ELSE 'db user ' || a.db_user END AS subject
			  FROM a WHERE a.event = 'pii_disclosure') d
		GROUP BY d.subject
		HAVING count(*) >= bulk
		UNION ALL
		-- exports
		SELECT CASE WHEN a.detail->>'pii' = 'true' THEN 'high' ELSE 'medium' END, 'export',
			   CASE WHEN a.account_id IS NOT NULL THEN 'account ' || a.account_id ELSE 'db user ' || a.db_user END,
			   a.tenant_id, 1, a.logged_at, a.logged_at, a.detail
		FROM a WHERE a.event = 'export'
		UNION ALL
		-- staff at work outside their tenant's business hours
		SELECT 'low', 'off_hours_staff', 'account ' || a.account_id, a.tenant_id,
			   count(*), min(a.logged_at), max(a.logged_at),
			   jsonb_build_object('business_hours', min(bh.opens::text) || '-' || min(bh.closes::text),
								  'timezone', min(bh.timezone))
		FROM a JOIN machi.audit_business_hours() bh ON bh.tenant_id = a.tenant_id
		WHERE a.account_id IS NOT NULL AND a.role NOT IN ('citizen', 'anonymous')
		  AND a.event IN ('row', 'api_call')
		  AND NOT CASE WHEN bh.opens <= bh.closes	-- day hours, or overnight (22:00-06:00)
					   THEN (a.logged_at AT TIME ZONE bh.timezone)::time >= bh.opens
							AND (a.logged_at AT TIME ZONE bh.timezone)::time < bh.closes
					   ELSE (a.logged_at AT TIME ZONE bh.timezone)::time >= bh.opens
							OR (a.logged_at AT TIME ZONE bh.timezone)::time < bh.closes END
		GROUP BY a.account_id, a.tenant_id
		UNION ALL
		-- DBA reveals of personal data
		SELECT 'medium', 'dba_reveal',
			   'account ' || coalesce(a.detail->>'subject_account_id', '?'), a.tenant_id, 1,
			   a.logged_at, a.logged_at,
			   jsonb_build_object('db_user', a.db_user, 'fields', a.detail->'fields', 'reason', a.detail->>'reason')
		FROM a WHERE a.event = 'pii_disclosure'
			AND (a.account_id IS NULL OR a.act_as OR a.request_id LIKE 'admin:%')
		UNION ALL
		-- DBAs acting as an account
		SELECT 'medium', 'act_as', 'account ' || coalesce(a.detail->>'account_id', '?'), a.tenant_id, 1,
			   a.logged_at, a.logged_at,
			   jsonb_build_object('db_user', a.db_user, 'reason', a.detail->>'reason')
		FROM a WHERE a.event = 'act_as'
	)
	SELECT f.* FROM findings f
	ORDER BY CASE f.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
			 f.finding, f.subject, f.first_at
$$;
COMMENT ON FUNCTION machi.security_report(date, text, int, int) IS
'What operators review each morning, for one day in time zone tz: failed-login bursts per account and per client address (at least burst failures), lockouts, permission denials, cross-tenant probes (404 on a route with an id, by a signed-in caller), bulk personal-data reads (at least bulk disclosures), exports, staff activity outside the tenant''s business hours (tenant settings, default 08:00-20:00 Asia/Tokyo), DBA reveals and act_as. Example: SELECT * FROM machi.security_report(current_date - 1);';

CREATE FUNCTION machi.security_report_text(day date, tz text DEFAULT 'Asia/Tokyo') RETURNS text
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format(E'machi security report for %s (%s)\n\n', to_char(day, 'YYYY-MM-DD'), tz)
		|| coalesce(string_agg(format('[%s] %s: %s%s, %s event(s), %s - %s %s',
									  r.severity, r.finding, r.subject,
									  CASE WHEN r.tenant_id IS NOT NULL THEN ' (tenant ' || r.tenant_id || ')' ELSE '' END,
									  r.events,
									  to_char(r.first_at AT TIME ZONE tz, 'HH24:MI:SS'),
									  to_char(r.last_at AT TIME ZONE tz, 'HH24:MI:SS'),
									  coalesce(r.detail::text, '')), E'\n'),
					'no findings')
		|| E'\n'
	FROM machi.security_report(day, tz) r
$$;
COMMENT ON FUNCTION machi.security_report_text(date, text) IS
'machi.security_report as plain text, one finding per line, for mail. Example: SELECT machi.security_report_text(current_date - 1);';

CREATE FUNCTION machi.queue_security_report__impl(day date) RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	body text := machi.security_report_text(day);
BEGIN
	IF to_regprocedure('machi.outbox_enqueue(text, text, text)') IS NULL THEN
		RAISE NOTICE 'machi: no outbox (machi.outbox_enqueue(text, text, text)); security report for % not queued',
			to_char(day, 'YYYY-MM-DD');
		RETURN false;
	END IF;
	EXECUTE 'SELECT machi.outbox_enqueue($1, $2, $3)'
		USING 'operators', format('machi security report %s', to_char(day, 'YYYY-MM-DD')), body;
	RETURN true;
END
$$;
CREATE FUNCTION machi.queue_security_report(day date DEFAULT (now() AT TIME ZONE 'Asia/Tokyo')::date - 1)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.queue_security_report__impl(date) IS 'Implementation of machi.queue_security_report (owner only).';
COMMENT ON FUNCTION machi.queue_security_report(date) IS
'machi_admin (the scheduler, daily): mail the security report of a day (default yesterday, Asia/Tokyo) to the operators through machi.outbox_enqueue(recipient, subject, body) when the outbox exists; returns whether it was queued.';
