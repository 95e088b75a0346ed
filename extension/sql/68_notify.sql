-- machi install script, part 68: e-mail to reporters when their report's
-- status changes or staff answer it publicly.

CREATE FUNCTION machi.notify_reporter__impl(tenant_id int, report_id bigint, kind text, detail text)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	r machi.report;
	a machi.account;
	email text;
	label text;
	link text;
BEGIN
	SELECT * INTO r FROM machi.report x WHERE x.tenant_id = tenant_id AND x.report_id = report_id;
	IF NOT FOUND OR r.author_id IS NULL THEN
		RETURN NULL;	-- posted through Open311, or the author deleted the account
	END IF;
	SELECT * INTO a FROM machi.account x WHERE x.account_id = r.author_id AND x.state = 'active';
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email)
	INTO email FROM machi.account_pii p WHERE p.account_id = a.account_id;
	IF email IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT s.label INTO label FROM machi.report_status s WHERE s.status = r.status;
	link := rtrim(current_setting('machi.public_base_url'), '/') || '/v1/reports/' || r.report_id;
	RETURN machi.outbox_put(a.account_id, machi.pii_scope(a.tenant_id), 'report_' || kind, email,
		CASE kind WHEN 'status' THEN format('【machi】ご報告の状況が「%s」になりました', label)
				  ELSE '【machi】ご報告に回答がありました' END,
		format(E'ご報告「%s」について%s\n\n%s\n\n状況: %s\n%s\n\n(このメールは送信専用です)',
			   coalesce(r.public_title, r.title),
			   CASE kind WHEN 'status' THEN '状況が変わりました。' ELSE '市の担当者から回答がありました。' END,
			   coalesce(detail, ''), label, link));
END
$$;
CREATE FUNCTION machi.notify_reporter(tenant_id int, report_id bigint, kind text, detail text)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.notify_reporter__impl(int, bigint, text, text) IS 'Implementation of machi.notify_reporter (owner only).';
COMMENT ON FUNCTION machi.notify_reporter(int, bigint, text, text) IS
'Queue an e-mail to the author of a report (kind status or response, detail the public text): decrypts the author''s address in the system context, so only route code (the owner) may call it. Returns the outbox id, or NULL when the report has no reachable author.';

CREATE FUNCTION machi.outbox_enqueue(recipient text, subject text, body text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	addr text;
	last_id bigint;
BEGIN
	-- 'operators' stands for the addresses of machi.operator_email
	FOR addr IN SELECT trim(a) FROM regexp_split_to_table(
			CASE WHEN recipient = 'operators' THEN current_setting('machi.operator_email') ELSE recipient END, ',') a
		WHERE trim(a) <> ''
	LOOP
		last_id := machi.outbox_put(NULL, 0, 'operators', addr, subject, body);
	END LOOP;
	IF last_id IS NULL THEN
		RAISE NOTICE 'machi: no recipient for "%" (set machi.operator_email)', subject;
	END IF;
	RETURN last_id;
END
$$;
COMMENT ON FUNCTION machi.outbox_enqueue(text, text, text) IS
'Queue an e-mail to fixed addresses (recipient ''operators'': those of machi.operator_email), sealed with the citizen-pool key like all mail. Owner only: the daily security report uses it.';

CREATE FUNCTION machi.cleanup_sessions__impl(keep interval) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s bigint;
	t bigint;
	a bigint;
BEGIN
	DELETE FROM machi.session x WHERE coalesce(x.revoked_at, x.expires_at) < machi.now() - keep;
	GET DIAGNOSTICS s = ROW_COUNT;
	DELETE FROM machi.one_time_token x WHERE coalesce(x.used_at, x.expires_at) < machi.now() - keep;
	GET DIAGNOSTICS t = ROW_COUNT;
	DELETE FROM machi.address_throttle x
	WHERE x.last_failure_at < machi.now() - current_setting('machi.lockout_minutes')::interval;
	GET DIAGNOSTICS a = ROW_COUNT;
	RETURN jsonb_build_object('sessions', s, 'tokens', t, 'address_throttles', a);
END
$$;
CREATE FUNCTION machi.cleanup_sessions(keep interval DEFAULT '30 days') RETURNS jsonb
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.cleanup_sessions__impl(interval) IS 'Implementation of machi.cleanup_sessions (owner only).';
COMMENT ON FUNCTION machi.cleanup_sessions(interval) IS
'machi_admin: delete sessions and single-use tokens that ended more than keep ago, and expired per-address login throttles. Scheduled daily (machi.job).';
