-- machi install script, part 82: a tenant's exit: end of contract
-- (read-only, closed for new reports), hand-over as CSV, and erasure 30 days
-- after the contract end by crypto-shredding and deletion, with a
-- certificate that survives.

CREATE TABLE machi.erasure_certificate (
	tenant_id		int PRIMARY KEY REFERENCES machi.tenant,
	tenant_name		text NOT NULL,
	contract_end	date NOT NULL,
	erased_at		timestamptz NOT NULL DEFAULT now(),
	erased_by		text NOT NULL,
	data_key_destroyed boolean NOT NULL,
	counts			jsonb NOT NULL
);
COMMENT ON TABLE machi.erasure_certificate IS
'Proof of a tenant''s erasure: when, by whom, whether its data key was destroyed (crypto-shredding: its personal data, also in older backups, can no longer be decrypted), and how many rows of each table were deleted. No personal data.';
ALTER TABLE machi.erasure_certificate ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.erasure_certificate FORCE ROW LEVEL SECURITY;
CREATE POLICY erasure_certificate_select ON machi.erasure_certificate FOR SELECT
	USING ((SELECT machi.is_operator()) OR tenant_id = (SELECT machi.current_tenant()));
CREATE POLICY erasure_certificate_insert ON machi.erasure_certificate FOR INSERT
	WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY erasure_certificate_update ON machi.erasure_certificate FOR UPDATE USING (false);
CREATE POLICY erasure_certificate_delete ON machi.erasure_certificate FOR DELETE USING (false);

-- ---- end of contract ----

CREATE FUNCTION machi.terminate_tenant__impl(tenant_id int, contract_end date) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	UPDATE machi.tenant t SET contract_state = 'terminated', contract_end = contract_end, updated_at = now()
	WHERE t.tenant_id = tenant_id AND t.contract_state = 'active';
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('no active tenant %s', tenant_id);
	END IF;
	PERFORM machi.audit_event('tenant_terminated', jsonb_build_object('tenant_id', tenant_id, 'contract_end', contract_end));
END
$$;
CREATE FUNCTION machi.terminate_tenant(tenant_id int, contract_end date DEFAULT current_date) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.terminate_tenant__impl(int, date) IS 'Implementation of machi.terminate_tenant (owner only).';
COMMENT ON FUNCTION machi.terminate_tenant(int, date) IS
'machi_admin: end a tenant''s contract. From then its area takes no new reports, its staff can read and export but change nothing, and machi.erase_due_tenants() erases it 30 days after contract_end. Example: SELECT machi.terminate_tenant(12217, ''2027-03-31'');';

CREATE FUNCTION machi.tenant_read_only(tid int) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
	RETURN coalesce((SELECT t.contract_state <> 'active' FROM machi.tenant t WHERE t.tenant_id = tid), false);
COMMENT ON FUNCTION machi.tenant_read_only(int) IS 'Whether a tenant''s contract has ended (its staff may only read and export).';

-- ---- export (CSV, RFC 4180) ----

-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.csv_line(cells text[]) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (SELECT string_agg(machi.csv_cell(c), ',' ORDER BY n) FROM unnest(cells) WITH ORDINALITY AS u(c, n));
COMMENT ON FUNCTION machi.csv_line(text[]) IS 'One CSV line of cells (machi.csv_cell: quoting and formula-injection escaping), without the line break.';

CREATE FUNCTION machi.export_lines(tid int, what text, after bigint DEFAULT 0, max_rows int DEFAULT NULL)
	RETURNS TABLE (id bigint, line text)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF what = 'users' THEN
		IF after = 0 THEN
			RETURN QUERY SELECT 0::bigint, 'account_id,role,state,email,name,contact,created_at';
		END IF;
		RETURN QUERY
		SELECT a.account_id, machi.csv_line(ARRAY[a.account_id::text, a.role_name, a.state,
			machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email),
			machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'name', p.name),
			machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'contact', p.contact),
			to_char(a.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"')])
		FROM machi.account a LEFT JOIN machi.account_pii p ON p.account_id = a.account_id
		WHERE a.tenant_id = tid AND a.account_id > after
		ORDER BY a.account_id LIMIT max_rows;
	ELSIF what = 'reports' THEN
		IF after = 0 THEN
			RETURN QUERY SELECT 0::bigint, 'report_id,created_at,updated_at,status,visibility,category,department,title,description,public_title,public_description,address,lat,lon,reporter,photo_urls,thanks';
		END IF;
		RETURN QUERY
		SELECT r.report_id, machi.csv_line(ARRAY[r.report_id::text,
			to_char(r.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
			to_char(r.updated_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
			r.status, r.visibility, c.code, d.name, r.title, r.description, r.public_title, r.public_description,
			r.address, round(public.st_y(r.location)::numeric, 7)::text, round(public.st_x(r.location)::numeric, 7)::text,
			-- citizens are users of the shared service, not of the tenant: a pseudonym only
			CASE WHEN r.author_id IS NOT NULL THEN 'citizen-' || left(encode(public.digest(tid || ':' || r.author_id, 'sha256'), 'hex'), 12)
				 WHEN r.api_key_id IS NOT NULL THEN 'open311' END,
			-- photos: their addresses (GET with a tenant admin's session), space-separated
			(SELECT string_agg('/v1/reports/' || r.report_id || '/photos/' || ph.photo_no, ' ' ORDER BY ph.photo_no)
			 FROM machi.report_photo ph WHERE ph.tenant_id = r.tenant_id AND ph.report_id = r.report_id),
			(SELECT count(*) FROM machi.report_thanks th WHERE th.tenant_id = r.tenant_id AND th.report_id = r.report_id)::text])
		FROM machi.report r
		JOIN machi.category c ON c.tenant_id = r.tenant_id AND c.category_id = r.category_id
		JOIN machi.department d ON d.tenant_id = r.tenant_id AND d.department_id = r.department_id
		WHERE r.tenant_id = tid AND r.report_id > after
		ORDER BY r.report_id LIMIT max_rows;
	ELSIF what = 'updates' THEN
		IF after = 0 THEN
			RETURN QUERY SELECT 0::bigint, 'update_id,report_id,created_at,kind,visibility,old_status,new_status,body,by_staff';
		END IF;
		RETURN QUERY
		SELECT u.update_id, machi.csv_line(ARRAY[u.update_id::text, u.report_id::text,
			to_char(u.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
			u.kind, u.visibility, u.old_status, u.new_status, u.body,
			(SELECT a.account_id::text FROM machi.account a WHERE a.account_id = u.author_id AND a.tenant_id = tid)])
		FROM machi.report_update u
		WHERE u.tenant_id = tid AND u.update_id > after
		ORDER BY u.update_id LIMIT max_rows;
	ELSE
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('no export "%s" (users, reports, updates)', what);
	END IF;
END
$$;
COMMENT ON FUNCTION machi.export_lines(int, text, bigint, int) IS
'The CSV lines of a tenant''s export (users: its staff with their decrypted personal data; reports; updates), a header line first, ordered by id after after (keyset), at most max_rows. Runs under the caller''s permissions.';

CREATE FUNCTION machi.export_tenant__impl(tenant_id int, what text) RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n bigint;
BEGIN
	RETURN QUERY SELECT l.line FROM machi.export_lines(tenant_id, what) l;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM machi.audit_event('export', jsonb_build_object('what', what, 'tenant_id', tenant_id,
		'rows', greatest(n - 1, 0), 'pii', what = 'users', 'via', 'psql'));
END
$$;
CREATE FUNCTION machi.export_tenant(tenant_id int, what text) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1000
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.export_tenant__impl(int, text) IS 'Implementation of machi.export_tenant (owner only).';
COMMENT ON FUNCTION machi.export_tenant(int, text) IS
'machi_admin: a tenant''s export as CSV lines (what: users, reports or updates), audited. To a file from psql: \copy (SELECT * FROM machi.export_tenant(12101, ''reports'')) TO ''reports.csv'' (a text copy: one line per row).';

CREATE FUNCTION machi.rt_admin_export(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	what text := regexp_replace(r.params->>'file', '\.csv$', '');
	after bigint := coalesce(machi.arg_number(r.query, 'after', 0, 9e15, false), 0)::bigint;
	max_rows int := coalesce(machi.arg_number(r.query, 'limit', 1, 50000, false), 10000)::int;
	tid int := machi.current_tenant();
	out text;
	last_id bigint;
	n bigint;
	hdrs jsonb;
BEGIN
	IF r.params->>'file' NOT IN ('users.csv', 'reports.csv', 'updates.csv') THEN
		PERFORM machi.fail(404, 'no such export (users.csv, reports.csv, updates.csv)');
	END IF;
	IF tid IS NULL OR NOT machi.has_permission('export', 'read') THEN
		PERFORM machi.fail(403, 'your role cannot export data', NULL, 'forbidden');
	END IF;
	SELECT string_agg(l.line, E'\r\n' ORDER BY l.id) || E'\r\n', max(l.id), count(*) FILTER (WHERE l.id > 0)
	INTO out, last_id, n FROM machi.export_lines(tid, what, after, max_rows) l;
	PERFORM machi.audit_event('export', jsonb_build_object('what', what, 'tenant_id', tid, 'rows', n,
		'pii', what = 'users', 'after', after, 'via', 'api'));
	hdrs := jsonb_build_object('content-type', 'text/csv; charset=utf-8',
		'content-disposition', format('attachment; filename="%s-%s.csv"', tid, what));
	IF n = max_rows THEN
		-- more rows: the next part, like a keyset page
		hdrs := hdrs || jsonb_build_object('link', format('</v1/admin/export/%s.csv?after=%s&limit=%s>; rel="next"',
														   what, last_id, max_rows));
	END IF;
	RETURN ROW(200, hdrs, NULL,
		CASE WHEN r.query->>'bom' IN ('1', 'true') AND after = 0 THEN '\xefbbbf'::bytea ELSE ''::bytea END
		|| convert_to(coalesce(out, ''), 'UTF8'))::machi.response;
END
$$;
COMMENT ON FUNCTION machi.rt_admin_export(machi.request) IS
'GET /v1/admin/export/{users,reports,updates}.csv?bom=1&limit=&after=: the municipality''s data as CSV (UTF-8, CRLF, formula-injection safe; bom=1 for Excel), in parts of limit rows (default 10000) linked by a Link: rel="next" header; every part is an audit event. Tenant admins.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/admin/export/{file}', 'machi.rt_admin_export(machi.request)', 'staff', 0,
	 'CSV export of the municipality''s users, reports or updates (tenant admins).');

-- ---- erasure ----

CREATE FUNCTION machi.erase_tenant__impl(tenant_id int, dry_run boolean, force boolean) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t machi.tenant;
	counts jsonb;
	n bigint;
	tab text;
	keys bigint;
BEGIN
	SELECT * INTO t FROM machi.tenant x WHERE x.tenant_id = tenant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('tenant %s does not exist', tenant_id);
	END IF;
	IF t.contract_state = 'erased' THEN
		RAISE EXCEPTION USING ERRCODE = 'MC409', MESSAGE = format('tenant %s was erased already', tenant_id);
	END IF;
	IF t.contract_state <> 'terminated' OR t.contract_end IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'MC409', MESSAGE = format('tenant %s has no ended contract', tenant_id),
			HINT = 'Run machi.terminate_tenant() first.';
	END IF;
	IF NOT force AND NOT dry_run AND t.contract_end + 30 > current_date THEN
		RAISE EXCEPTION USING ERRCODE = 'MC409',
			MESSAGE = format('tenant %s may be erased only 30 days after its contract end', tenant_id),
			DETAIL = format('From %s; force => true erases earlier.', to_char(t.contract_end + 30, 'YYYY-MM-DD'));
	END IF;
	counts := jsonb_build_object(
		'reports', (SELECT count(*) FROM machi.report x WHERE x.tenant_id = tenant_id),
		'report_updates', (SELECT count(*) FROM machi.report_update x WHERE x.tenant_id = tenant_id),
		'report_photos', (SELECT count(*) FROM machi.report_photo x WHERE x.tenant_id = tenant_id),
		'report_thanks', (SELECT count(*) FROM machi.report_thanks x WHERE x.tenant_id = tenant_id),
		'staff_accounts', (SELECT count(*) FROM machi.account x WHERE x.tenant_id = tenant_id),
		'categories', (SELECT count(*) FROM machi.category x WHERE x.tenant_id = tenant_id),
		'departments', (SELECT count(*) FROM machi.department x WHERE x.tenant_id = tenant_id),
		'api_keys', (SELECT count(*) FROM machi.api_key x WHERE x.tenant_id = tenant_id),
		'notices', (SELECT count(*) FROM machi.notice x WHERE x.tenant_id = tenant_id),
		'data_keys', (SELECT count(*) FROM machi.data_key x WHERE x.tenant_id = tenant_id));
	IF dry_run THEN
		RETURN jsonb_build_object('tenant_id', tenant_id, 'dry_run', true, 'would_delete', counts,
								  'eligible_from', t.contract_end + 30);
	END IF;
	-- crypto-shredding first: without the key, copies of the ciphertext
	-- (dead tuples, WAL, older backups) are unreadable
	DELETE FROM machi.data_key x WHERE x.tenant_id = tenant_id;
	GET DIAGNOSTICS keys = ROW_COUNT;
	DELETE FROM machi.report x WHERE x.tenant_id = tenant_id;	-- updates, photos, thanks cascade
	DELETE FROM machi.session s USING machi.account a WHERE s.account_id = a.account_id AND a.tenant_id = tenant_id;
	DELETE FROM machi.one_time_token o USING machi.account a WHERE o.account_id = a.account_id AND a.tenant_id = tenant_id;
	UPDATE machi.outbox o SET account_id = NULL FROM machi.account a WHERE o.account_id = a.account_id AND a.tenant_id = tenant_id;
	DELETE FROM machi.outbox o WHERE o.scope = tenant_id;
	DELETE FROM machi.account x WHERE x.tenant_id = tenant_id;	-- personal data and departments scope cascade
	DELETE FROM machi.api_key x WHERE x.tenant_id = tenant_id;
	DELETE FROM machi.category x WHERE x.tenant_id = tenant_id;
	DELETE FROM machi.department x WHERE x.tenant_id = tenant_id;
	DELETE FROM machi.notice x WHERE x.tenant_id = tenant_id;
	UPDATE machi.account_pii p SET home_tenant_id = NULL WHERE p.home_tenant_id = tenant_id;
	UPDATE machi.tenant x SET contract_state = 'erased', settings = '{}', updated_at = now()
	WHERE x.tenant_id = tenant_id;
	INSERT INTO machi.erasure_certificate (tenant_id, tenant_name, contract_end, erased_by, data_key_destroyed, counts)
	VALUES (tenant_id, t.name, t.contract_end, session_user, keys > 0 OR (counts->>'data_keys')::int = 0, counts);
	PERFORM machi.audit_event('tenant_erased', jsonb_build_object('tenant_id', tenant_id, 'counts', counts));
	RETURN jsonb_build_object('tenant_id', tenant_id, 'dry_run', false, 'deleted', counts,
							  'data_key_destroyed', keys > 0);
END
$$;
CREATE FUNCTION machi.erase_tenant(tenant_id int, dry_run boolean DEFAULT true, force boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.erase_tenant__impl(int, boolean, boolean) IS 'Implementation of machi.erase_tenant (owner only).';
COMMENT ON FUNCTION machi.erase_tenant(int, boolean, boolean) IS
'machi_admin: erase a terminated tenant 30 days after its contract end (force: earlier). Destroys its data key (crypto-shredding), deletes its reports, staff, categories, departments, keys and notices, keeps the tenant row as erased and writes machi.erasure_certificate. dry_run (the default) only counts. Citizens keep their accounts; their reports to this tenant go. Run VACUUM on the machi tables afterwards (the scheduled job does). Example: SELECT machi.erase_tenant(12217);  SELECT machi.erase_tenant(12217, dry_run => false);';

CREATE FUNCTION machi.erase_due_tenants__impl() RETURNS SETOF jsonb
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT machi.erase_tenant__impl(t.tenant_id, false, false) FROM machi.tenant t
	WHERE t.contract_state = 'terminated' AND t.contract_end + 30 <= current_date
	ORDER BY t.tenant_id;
END;
CREATE FUNCTION machi.erase_due_tenants() RETURNS SETOF jsonb
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.erase_due_tenants__impl() IS 'Implementation of machi.erase_due_tenants (owner only).';
COMMENT ON FUNCTION machi.erase_due_tenants() IS
'machi_admin: erase every tenant whose contract ended 30 days ago or more (machi.erase_tenant). Scheduled daily.';

-- ---- retention of citizens' accounts ----

CREATE FUNCTION machi.delete_inactive_citizens__impl(inactive_for interval, dry_run boolean) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ids bigint[];
BEGIN
	IF inactive_for IS NULL THEN
		RETURN jsonb_build_object('policy', 'off');
	END IF;
	IF inactive_for < interval '90 days' THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', MESSAGE = 'an inactivity period shorter than 90 days is refused';
	END IF;
	-- inactive: no session seen, no report posted since the cut-off
	SELECT coalesce(array_agg(a.account_id ORDER BY a.account_id), '{}') INTO ids
	FROM machi.account a
	WHERE a.kind = 'citizen' AND a.state = 'active' AND a.created_at < now() - inactive_for
	  AND NOT EXISTS (SELECT 1 FROM machi.session s WHERE s.account_id = a.account_id
					  AND s.last_seen_at >= now() - inactive_for)
	  AND NOT EXISTS (SELECT 1 FROM machi.report r WHERE r.author_id = a.account_id
					  AND r.created_at >= now() - inactive_for);
	IF NOT dry_run THEN
		-- as DELETE /v1/me does: personal data erased, the row kept so that
		-- the reports stay, anonymised
		DELETE FROM machi.account_pii p WHERE p.account_id = ANY (ids);
		UPDATE machi.account a SET state = 'deleted', password_hash = NULL, updated_at = now()
		WHERE a.account_id = ANY (ids);
		DELETE FROM machi.session s WHERE s.account_id = ANY (ids);
	END IF;
	RETURN jsonb_build_object('inactive_for', inactive_for, 'dry_run', dry_run, 'accounts', cardinality(ids));
END
$$;
CREATE FUNCTION machi.delete_inactive_citizens(
	inactive_for interval DEFAULT nullif(current_setting('machi.citizen_inactive_days'), '0')::int * interval '1 day',
	dry_run boolean DEFAULT false)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.delete_inactive_citizens__impl(interval, boolean) IS 'Implementation of machi.delete_inactive_citizens (owner only).';
COMMENT ON FUNCTION machi.delete_inactive_citizens(interval, boolean) IS
'machi_admin: delete (as DELETE /v1/me does: personal data erased, reports kept anonymised) citizens'' accounts with no session and no report for inactive_for (default machi.citizen_inactive_days; 0 = policy off; at least 90 days). Scheduled daily; dry_run only counts.';
