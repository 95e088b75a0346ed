-- machi install script, part 84: the audit trail for tenant admins
-- (GET /v1/admin/audit).  The DBA views of 55_audit_report.sql answer "who
-- touched report X" and "what did account Y do" for the whole installation;
-- this route answers the same questions for one municipality, over HTTP,
-- for its administrators.
--
-- Tenant isolation holds twice: the audit_log_select_owner policy
-- (50_audit.sql) shows the route only the rows whose tenant_id is the
-- caller's, and only to a role with the audit read permission; the query
-- names the caller's tenant as well.  A row's tenant_id is that of the
-- caller who caused it, so a tenant admin sees what the municipality's own
-- staff (and DBAs acting as them) did, never what citizens, Open311 clients,
-- operators or other municipalities did.  Personal data never reaches the
-- audit trail in clear (the trigger records encrypted and listed columns as
-- "redacted"/"changed"; events name fields, not values), and the database
-- user of a DBA acting as an account is left out.

-- the route's keyset order, per tenant: every partition gets it (a column
-- index: audit.c writes rows without the executor and refuses expression
-- indexes); rows of no tenant are never looked up by tenant
CREATE INDEX audit_log_tenant_idx ON machi.audit_log (tenant_id, audit_id)
	WHERE tenant_id IS NOT NULL;
COMMENT ON INDEX machi.audit_log_tenant_idx IS
'A tenant''s audit rows newest first, for GET /v1/admin/audit (keyset by audit id).';

CREATE FUNCTION machi.audit_entry_json(a machi.audit_log) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	RETURN jsonb_build_object('id', a.audit_id, 'at', a.logged_at, 'event', a.event, 'op', a.op,
							  'table', a.table_name, 'key', a.pk, 'detail', a.detail,
							  'account_id', a.account_id, 'role', a.role, 'act_as', a.act_as,
							  'client_addr', host(a.client_addr), 'request_id', a.request_id);
COMMENT ON FUNCTION machi.audit_entry_json(machi.audit_log) IS
'An audit row as GET /v1/admin/audit shows it to a tenant admin: id, time, event, op, table, key, detail (as recorded: personal fields only as "redacted"/"changed"), account, role, act_as, client address, request id; not the database user of a DBA acting as the account.';

CREATE FUNCTION machi.audit_filter(q jsonb) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f jsonb := '{}';
	hi timestamptz := coalesce(machi.date_arg(q, 'to'), now());
	lo timestamptz := coalesce(machi.date_arg(q, 'from'), hi - interval '30 days');
BEGIN
	IF q->>'account' IS NOT NULL THEN
		f := f || jsonb_build_object('account', machi.arg_id(q, 'account', 'an account id'));
	END IF;
	IF q->>'report' IS NOT NULL THEN
		f := f || jsonb_build_object('report', machi.arg_id(q, 'report', 'a report id'));
	END IF;
	IF q->>'type' IS NOT NULL THEN
		IF q->>'type' !~ '^[a-z][a-z0-9_]{0,39}$' THEN
			PERFORM machi.fail(400, 'type must be an event type such as row, api_call or export', 'type', 'invalid');
		END IF;
		f := f || jsonb_build_object('type', q->>'type');
	END IF;
	IF q->>'after' IS NOT NULL THEN
		f := f || jsonb_build_object('after', machi.arg_id(q, 'after', 'an audit entry id'));
	END IF;
	IF lo >= hi THEN
		PERFORM machi.fail(400, 'from must be before to', 'from', 'invalid');
	END IF;
	RETURN f || jsonb_build_object('from', lo, 'to', hi);
END
$$;
COMMENT ON FUNCTION machi.audit_filter(jsonb) IS
'Validate the filters of GET /v1/admin/audit (account, report, type, from, to, after) and return them typed: {"account", "report", "type", "after", "from", "to"}; from/to default to the 30 days before now; 400 naming the bad one.';

CREATE FUNCTION machi.tenant_audit(f jsonb, lim int)
	RETURNS SETOF machi.audit_log
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT a.* FROM machi.audit_log a
	WHERE a.tenant_id = machi.current_tenant()
	  AND a.logged_at >= (f->>'from')::timestamptz AND a.logged_at < (f->>'to')::timestamptz
	  AND (f->'after' IS NULL OR a.audit_id < (f->>'after')::bigint)
	  AND (f->'account' IS NULL OR a.account_id = (f->>'account')::bigint)
	  AND (f->'type' IS NULL OR a.event = f->>'type')
	  -- a report: the API calls on its paths (who opened or changed it) with
	  -- everything their transactions wrote (a new response's key names the
	  -- update, not the report), and changes of rows keyed by it (report,
	  -- photos, thanks) made outside the API
	  AND (f->'report' IS NULL
		   OR (a.event = 'row' AND a.table_name LIKE 'machi.report%'
			   AND a.pk @> jsonb_build_object('report_id', (f->>'report')::bigint))
		   OR a.txid IN (SELECT c.txid FROM machi.audit_log c
						 WHERE c.tenant_id = machi.current_tenant() AND c.event = 'api_call'
						   AND c.logged_at >= (f->>'from')::timestamptz AND c.logged_at < (f->>'to')::timestamptz
						   AND c.detail->>'path' ~ ('^/v1/(staff/)?reports/' || (f->>'report')::bigint || '(/|$)')))
	ORDER BY a.audit_id DESC
	LIMIT lim;
END;
COMMENT ON FUNCTION machi.tenant_audit(jsonb, int) IS
'The audit rows of the caller''s tenant matching the validated filters of machi.audit_filter, newest first (by audit id), at most lim. Runs under row-level security: without the audit read permission it returns nothing.';

CREATE FUNCTION machi.rt_admin_audit(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	q jsonb := r.query;
	lim int := machi.page_arg(q);
	f jsonb;
	rows jsonb;
	last_id bigint;
	n int;
BEGIN
	PERFORM machi.admin_require('audit', 'read');
	f := machi.audit_filter(q);
	SELECT coalesce(jsonb_agg(machi.audit_entry_json(a) ORDER BY a.audit_id DESC), '[]'), min(a.audit_id), count(*)
	INTO rows, last_id, n FROM machi.tenant_audit(f, lim) a;
	RETURN machi.ok(jsonb_build_object('entries', rows, 'from', f->'from', 'to', f->'to',
		-- the next page keeps the time window of this one
		'next', CASE WHEN n = lim THEN '/v1/admin/audit?' || machi.query_with(
			q || jsonb_build_object('from', f->>'from', 'to', f->>'to'), 'after', last_id::text) END));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_audit(machi.request) IS
'GET /v1/admin/audit?account=&report=&type=&from=&to=&after=&limit=: the audit trail of the caller''s municipality (tenant admins): what its staff did, newest first, keyset-paginated by audit id (next holds the URL of the following page); from/to are ISO 8601 (no zone: JST) and default to the last 30 days; report selects the API calls on a report''s paths with the row changes of their transactions, and changes of rows keyed by the report; type is an event type (row, api_call, export, pii_disclosure, ...).';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/admin/audit', 'machi.rt_admin_audit(machi.request)', 'staff', 0,
	 'The audit trail of the municipality (tenant admins): account, report, type, from, to, after, limit.');
