-- machi install script, part 50: the audit trail (audit.c, seal.c).
--
-- machi.audit_log holds one row per audited thing: a row change (event
-- 'row', written by the C trigger machi.audit_row on every table), an API
-- call (event 'api_call', written by api.handle), or a security event
-- (login_failed, account_locked, permission_denied, export, role_changed,
-- act_as, admin_call, pii_disclosure, ...).  It is partitioned by month
-- (UTC) and append-only: UPDATE, DELETE and TRUNCATE are refused to every
-- role, the owner included, by privileges and by triggers; only
-- machi.audit_retention() removes rows, a whole month at a time, after
-- machi.audit_retention_days.  machi.seal_audit() chains finished rows into
-- SHA-256 seals (machi.audit_seal); machi.verify_audit() and the pure-SQL
-- machi.verify_audit_sql() check the chain.

CREATE SEQUENCE machi.audit_id_seq CACHE 32;
COMMENT ON SEQUENCE machi.audit_id_seq IS 'Audit row ids; orders the rows of one transaction.';

CREATE TABLE machi.audit_log (
	audit_id	bigint NOT NULL,
	logged_at	timestamptz NOT NULL,		-- clock_timestamp() of the write
	xact_at		timestamptz NOT NULL,		-- start of the transaction
	txid		bigint NOT NULL,			-- top-level transaction id (xid8)
	event		text NOT NULL,				-- 'row' or an event type
	op			text CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
	table_name	text,						-- schema.table of a row change
	pk			jsonb,						-- primary key of the row changed
	detail		jsonb,						-- changed columns (UPDATE), old row (DELETE), event detail
	account_id	bigint,						-- caller context: account
	role		text,						-- role preset
	tenant_id	int,						-- tenant
	act_as		boolean NOT NULL,			-- a DBA acting as the account
	db_user		text NOT NULL,				-- session_user
	client_addr	inet,
	request_id	text
) PARTITION BY RANGE (logged_at);
CREATE INDEX audit_log_txid_idx ON machi.audit_log (txid, audit_id);
-- rows without an account (the scheduler, DBAs in psql, anonymous API
-- calls) are never looked up by account: they stay out of the index
CREATE INDEX audit_log_account_idx ON machi.audit_log (account_id, logged_at)
	WHERE account_id IS NOT NULL;
COMMENT ON TABLE machi.audit_log IS
'The audit trail, append-only, one partition per month (UTC). event = ''row'' for a row change (op, table_name, pk; detail = only the changed columns {"col": {"old": .., "new": ..}} for UPDATE, the row as it was for DELETE, nothing for INSERT (the row is in the table) unless the table has no primary key; secret and encrypted columns as "redacted"/"changed"), ''api_call'' for every api.handle request (detail: method, path, route, status, error, duration_us), or a security event type. Who: account_id, role, tenant_id, act_as, db_user (session_user), client_addr, request_id.';

CREATE TABLE machi.audit_seal (
	seal_id			bigint PRIMARY KEY CHECK (seal_id > 0),
	sealed_at		timestamptz NOT NULL DEFAULT clock_timestamp(),
	from_xid		bigint NOT NULL,
	upto_xid		bigint NOT NULL,
	row_count		bigint NOT NULL CHECK (row_count > 0),
	min_logged_at	timestamptz NOT NULL,
	prev_seal		bytea NOT NULL,
	row_hashes		bytea NOT NULL,
	seal			bytea NOT NULL,
	CHECK (from_xid < upto_xid)
);
COMMENT ON TABLE machi.audit_seal IS
'Hash chain over the audit trail. Seal n covers the audit rows with from_xid <= txid < upto_xid (transactions finished when it was made), in (txid, audit_id) order: seal = sha256(prev_seal || row_hashes), row_hashes = the sha256 of each row''s canonical text, concatenated. Append-only; machi.audit_head() exports the last seal.';

CREATE TABLE machi.audit_redacted_column (
	table_name	regclass NOT NULL,
	column_name	name NOT NULL,
	PRIMARY KEY (table_name, column_name)
);
COMMENT ON TABLE machi.audit_redacted_column IS
'Columns the audit trigger must never record by value, besides those whose name ends in _enc, _hash, _bidx, _secret or _wrapped (recorded as "redacted", or "changed" in an UPDATE). Insert rows before 89_audit_attach.sql runs, or call machi.audit_attach(table) again.';

-- ---- row-level security: nobody writes through SQL ----

ALTER TABLE machi.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select_readers ON machi.audit_log FOR SELECT
	TO machi_auditor, machi_admin USING (true);
CREATE POLICY audit_log_select_owner ON machi.audit_log FOR SELECT TO machi_owner
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('audit', 'read'))));
-- rows are written by the C trigger and event API, never by INSERT
CREATE POLICY audit_log_insert ON machi.audit_log FOR INSERT WITH CHECK (false);
CREATE POLICY audit_log_update ON machi.audit_log FOR UPDATE USING (false) WITH CHECK (false);
CREATE POLICY audit_log_delete ON machi.audit_log FOR DELETE USING (false);

ALTER TABLE machi.audit_seal ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.audit_seal FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_seal_select_readers ON machi.audit_seal FOR SELECT
	TO machi_auditor, machi_admin USING (true);
CREATE POLICY audit_seal_select_owner ON machi.audit_seal FOR SELECT TO machi_owner
	USING ((SELECT machi.is_operator()));
CREATE POLICY audit_seal_insert ON machi.audit_seal FOR INSERT TO machi_owner
	WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY audit_seal_update ON machi.audit_seal FOR UPDATE USING (false) WITH CHECK (false);
CREATE POLICY audit_seal_delete ON machi.audit_seal FOR DELETE USING (false);

ALTER TABLE machi.audit_redacted_column ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.audit_redacted_column FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_redacted_column_select ON machi.audit_redacted_column FOR SELECT USING (true);
CREATE POLICY audit_redacted_column_write ON machi.audit_redacted_column FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

-- ---- append-only ----

CREATE FUNCTION machi.audit_refuse_change() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
		MESSAGE = format('the audit trail is append-only: %s is refused', TG_OP),
		DETAIL = format('Table %I.%I.', TG_TABLE_SCHEMA, TG_TABLE_NAME),
		HINT = 'Old months are removed only by machi.audit_retention().';
END
$$;
COMMENT ON FUNCTION machi.audit_refuse_change() IS
'Trigger on the audit tables: refuses UPDATE, DELETE and TRUNCATE to everyone, the owner and superusers included.';

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON machi.audit_log
	FOR EACH ROW EXECUTE FUNCTION machi.audit_refuse_change();
CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON machi.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION machi.audit_refuse_change();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON machi.audit_seal
	FOR EACH ROW EXECUTE FUNCTION machi.audit_refuse_change();
CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON machi.audit_seal
	FOR EACH STATEMENT EXECUTE FUNCTION machi.audit_refuse_change();
-- also with session_replication_role = replica
ALTER TABLE machi.audit_log ENABLE ALWAYS TRIGGER audit_append_only;
ALTER TABLE machi.audit_log ENABLE ALWAYS TRIGGER audit_append_only_truncate;
ALTER TABLE machi.audit_seal ENABLE ALWAYS TRIGGER audit_append_only;
ALTER TABLE machi.audit_seal ENABLE ALWAYS TRIGGER audit_append_only_truncate;

-- ---- partitions and retention ----

CREATE FUNCTION machi.audit_create_partition(month date) RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lo timestamptz := date_trunc('month', month)::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (date_trunc('month', month) + interval '1 month')::timestamp AT TIME ZONE 'UTC';
	name text := 'audit_log_' || to_char(month, 'YYYYMM');
BEGIN
	IF to_regclass('machi.' || quote_ident(name)) IS NOT NULL THEN
		RETURN false;
	END IF;
	BEGIN
		EXECUTE format('CREATE TABLE machi.%I PARTITION OF machi.audit_log FOR VALUES FROM (%L) TO (%L)',
					   name, lo, hi);
	EXCEPTION WHEN duplicate_table OR unique_violation THEN
		RETURN false;			-- a concurrent writer created it (audit.c safety net)
	END;
	-- statement triggers of the parent are not inherited
	EXECUTE format('CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON machi.%I '
				   'FOR EACH STATEMENT EXECUTE FUNCTION machi.audit_refuse_change()', name);
	EXECUTE format('ALTER TABLE machi.%I ENABLE ALWAYS TRIGGER audit_append_only', name);
	EXECUTE format('ALTER TABLE machi.%I ENABLE ALWAYS TRIGGER audit_append_only_truncate', name);
	EXECUTE format('REVOKE ALL ON machi.%I FROM PUBLIC', name);
	EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON machi.%I FROM CURRENT_USER', name);
	EXECUTE format('COMMENT ON TABLE machi.%I IS %L', name,
				   format('Audit rows logged from %s to %s (UTC).', lo AT TIME ZONE 'UTC', hi AT TIME ZONE 'UTC'));
	RAISE NOTICE 'machi: created audit partition machi.%', name;
	RETURN true;
END
$$;
COMMENT ON FUNCTION machi.audit_create_partition(date) IS
'Owner only: create the audit_log partition of the month (UTC) containing the given date, append-only like its parent. Returns false when it exists.';

CREATE FUNCTION machi.audit_maintain(months_ahead int DEFAULT 3) RETURNS int
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	created int := 0;
BEGIN
	IF months_ahead NOT BETWEEN 0 AND 24 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'months_ahead must be between 0 and 24';
	END IF;
	FOR i IN 0 .. months_ahead LOOP
		IF machi.audit_create_partition(((now() AT TIME ZONE 'UTC') + make_interval(months => i))::date) THEN
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END
$$;
COMMENT ON FUNCTION machi.audit_maintain(int) IS
'Create the audit_log partitions of this month and the next months_ahead months (UTC) when missing; returns how many were created. machi.seal_audit() calls it, so a scheduled seal keeps partitions ahead.';

CREATE FUNCTION machi.audit_retention() RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	keep_days int := current_setting('machi.audit_retention_days')::int;
	horizon timestamptz := now() - make_interval(days => keep_days);
	p record;
	upper_bound timestamptz;
BEGIN
	IF keep_days < 365 THEN
		-- the GUC check hook refuses this; never trust a single guard
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'machi.audit_retention_days must be at least 365';
	END IF;
	FOR p IN
		SELECT c.relname
		FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'machi.audit_log'::regclass AND c.relname ~ '^audit_log_[0-9]{6}$'
		ORDER BY c.relname
	LOOP
		upper_bound := (to_date(substr(p.relname, 11), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC';
		CONTINUE WHEN upper_bound > horizon;
		PERFORM machi.audit_event('audit_retention',
			jsonb_build_object('partition', 'machi.' || p.relname, 'upper_bound', upper_bound,
							   'retention_days', keep_days));
		EXECUTE format('DROP TABLE machi.%I', p.relname);
		RAISE NOTICE 'machi: dropped audit partition machi.% (rows before %)', p.relname,
			to_char(upper_bound AT TIME ZONE 'UTC', 'YYYY-MM-DD');
		RETURN NEXT 'machi.' || p.relname;
	END LOOP;
END
$$;
COMMENT ON FUNCTION machi.audit_retention() IS
'Drop the audit_log partitions whose every row is older than machi.audit_retention_days (at least 365, default 400), one whole month at a time, recording an audit_retention event for each; returns the partitions dropped. The only way audit rows are ever removed. Run daily by the scheduler.';

-- ---- the C trigger, the event API, attaching ----

CREATE FUNCTION machi.audit_row() RETURNS trigger
	AS 'MODULE_PATHNAME', 'machi_audit_row'
	LANGUAGE C;
COMMENT ON FUNCTION machi.audit_row() IS
'The audit trigger (C): AFTER INSERT/UPDATE/DELETE FOR EACH ROW and AFTER TRUNCATE FOR EACH STATEMENT on every table; its arguments name columns to redact. Attach it with machi.audit_attach().';

CREATE FUNCTION machi.audit_event(type text, detail jsonb DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_audit_event'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION machi.audit_event(text, jsonb) IS
'Owner only, for route functions written in SQL: record a security event (login_failed, account_locked, account_unlocked, permission_denied, export, role_changed, pii_disclosure, ...) with the caller context. Inside api.handle it is written when the request ends, even if the route fails. Never put personal data or secrets in detail; name the fields instead.';

CREATE FUNCTION machi.audit_attach(rel regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	redact text;
BEGIN
	SELECT string_agg(quote_literal(r.column_name), ', ' ORDER BY r.column_name) INTO redact
	FROM machi.audit_redacted_column r WHERE r.table_name = rel;
	IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname = 'audit_row') THEN
		EXECUTE format('DROP TRIGGER audit_row ON %s', rel);
	END IF;
	IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname = 'audit_truncate') THEN
		EXECUTE format('DROP TRIGGER audit_truncate ON %s', rel);
	END IF;
	EXECUTE format('CREATE TRIGGER audit_row AFTER INSERT OR UPDATE OR DELETE ON %s '
				   'FOR EACH ROW EXECUTE FUNCTION machi.audit_row(%s)', rel, coalesce(redact, ''));
	EXECUTE format('CREATE TRIGGER audit_truncate AFTER TRUNCATE ON %s '
				   'FOR EACH STATEMENT EXECUTE FUNCTION machi.audit_row()', rel);
	-- fire in session_replication_role = replica too: that setting must not
	-- be a way to write without a trace
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER audit_row', rel);
	EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER audit_truncate', rel);
END
$$;
COMMENT ON FUNCTION machi.audit_attach(regclass) IS
'Owner only: (re)attach the audit triggers to a table, passing the columns listed for it in machi.audit_redacted_column. 89_audit_attach.sql calls it for every table of schema machi.';

-- ---- verification ----

CREATE FUNCTION machi.seal_audit(max_rows bigint DEFAULT 1000000) RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_seal_audit'
	LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.seal_audit(bigint) IS
'Seal the audit rows of every transaction finished since the last seal (txid below the snapshot xmin) into the hash chain, each seal ending at the first transaction boundary after max_rows rows; returns the number of rows sealed (0: no new seal). Also keeps audit partitions two months ahead. Run every minute by the scheduler; never blocks writers. Must run at READ COMMITTED.';

CREATE FUNCTION machi.verify_audit(from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL,
								   OUT ok boolean, OUT seals_checked int, OUT rows_checked bigint,
								   OUT broken_seal_id bigint, OUT broken_audit_id bigint,
								   OUT broken_position bigint, OUT problem text)
	AS 'MODULE_PATHNAME', 'machi_verify_audit'
	LANGUAGE C STABLE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.verify_audit(timestamptz, timestamptz) IS
'Recompute the audit hash chain over the seals made in [from_time, to_time) (from_time NULL: every seal whose rows are all within the retention period) and report the first problem: seal_missing, chain_broken, seal_mismatch (the seal table was edited), row_missing (the row sealed at broken_position of broken_seal_id is gone), row_extra (broken_audit_id was added there), row_mismatch (broken_audit_id is not the row sealed there: edited or reordered). ok = true when none. Same verdict as machi.verify_audit_sql.';

CREATE FUNCTION machi.verify_audit_sql(from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL,
									   OUT ok boolean, OUT seals_checked int, OUT rows_checked bigint,
									   OUT broken_seal_id bigint, OUT broken_audit_id bigint,
									   OUT broken_position bigint, OUT problem text)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s record;
	r record;
	first boolean := true;
	expect_prev bytea := decode(repeat('00', 32), 'hex');
	expect_from bigint := 0;
	expect_id bigint;
	pos bigint;
BEGIN
	ok := false;
	seals_checked := 0;
	rows_checked := 0;
	FOR s IN
		SELECT a.seal_id, a.from_xid, a.upto_xid, a.row_count, a.prev_seal, a.row_hashes, a.seal
		FROM machi.audit_seal a
		WHERE CASE WHEN from_time IS NULL
				   THEN a.min_logged_at >= now() - make_interval(days => current_setting('machi.audit_retention_days')::int)
				   ELSE a.sealed_at >= from_time END
		  AND (to_time IS NULL OR a.sealed_at < to_time)
		ORDER BY a.seal_id
	LOOP
		broken_seal_id := s.seal_id;
		IF first THEN
			first := false;
			expect_id := s.seal_id;
			IF s.seal_id > 1 THEN
				SELECT p.seal, p.upto_xid INTO expect_prev, expect_from
				FROM machi.audit_seal p WHERE p.seal_id = s.seal_id - 1;
				IF NOT FOUND THEN
					problem := 'seal_missing';
					RETURN;
				END IF;
				IF expect_prev IS NULL OR length(expect_prev) <> 32 THEN
					problem := 'chain_broken';
					RETURN;
				END IF;
			END IF;
		END IF;
		IF s.seal_id <> expect_id THEN
			problem := 'seal_missing';
			RETURN;
		END IF;
		IF s.prev_seal IS DISTINCT FROM expect_prev OR s.from_xid <> expect_from THEN
			problem := 'chain_broken';
			RETURN;
		END IF;
		IF s.row_hashes IS NULL OR s.seal IS NULL OR length(s.row_hashes) <> s.row_count * 32
		   OR public.digest(expect_prev || s.row_hashes, 'sha256') <> s.seal THEN
			problem := 'seal_mismatch';
			RETURN;
		END IF;
		pos := 0;
		FOR r IN
			SELECT a.audit_id, a.txid,
				   public.digest(jsonb_build_array('machi-audit-1', a.audit_id,
						(extract(epoch FROM a.logged_at) * 1000000)::bigint,
						(extract(epoch FROM a.xact_at) * 1000000)::bigint,
						a.txid, a.event, a.op, a.table_name, a.pk, a.detail, a.account_id, a.role,
						a.tenant_id, a.act_as, a.db_user, a.client_addr, a.request_id)::text, 'sha256') AS h
			FROM machi.audit_log a
			WHERE a.txid >= s.from_xid AND a.txid < s.upto_xid
			ORDER BY a.txid, a.audit_id
		LOOP
			IF pos >= s.row_count THEN
				problem := 'row_extra';
				broken_audit_id := r.audit_id;
				broken_position := pos;
				RETURN;
			END IF;
			IF r.h <> substring(s.row_hashes FROM (pos * 32 + 1)::int FOR 32) THEN
				-- name the damage: a sealed row removed here, a row added here,
				-- or a row that is not the one sealed
				broken_position := pos;
				IF pos + 1 < s.row_count AND r.h = substring(s.row_hashes FROM ((pos + 1) * 32 + 1)::int FOR 32) THEN
					problem := 'row_missing';
					RETURN;
				END IF;
				broken_audit_id := r.audit_id;
				IF EXISTS (SELECT 1 FROM (
						SELECT public.digest(jsonb_build_array('machi-audit-1', a.audit_id,
								(extract(epoch FROM a.logged_at) * 1000000)::bigint,
								(extract(epoch FROM a.xact_at) * 1000000)::bigint,
								a.txid, a.event, a.op, a.table_name, a.pk, a.detail, a.account_id, a.role,
								a.tenant_id, a.act_as, a.db_user, a.client_addr, a.request_id)::text, 'sha256') AS h
						FROM machi.audit_log a
						WHERE a.txid < s.upto_xid AND (a.txid, a.audit_id) > (r.txid, r.audit_id)
						ORDER BY a.txid, a.audit_id LIMIT 1) n
					WHERE n.h = substring(s.row_hashes FROM (pos * 32 + 1)::int FOR 32)) THEN
					problem := 'row_extra';
				ELSE
					problem := 'row_mismatch';
				END IF;
				RETURN;
			END IF;
			pos := pos + 1;
			rows_checked := rows_checked + 1;
		END LOOP;
		IF pos < s.row_count THEN
			problem := 'row_missing';
			broken_position := pos;
			RETURN;
		END IF;
		seals_checked := seals_checked + 1;
		expect_prev := s.seal;
		expect_from := s.upto_xid;
		expect_id := s.seal_id + 1;
	END LOOP;
	broken_seal_id := NULL;
	ok := true;
	problem := 'ok';
END
$$;
COMMENT ON FUNCTION machi.verify_audit_sql(timestamptz, timestamptz) IS
'Independent verifier of the audit hash chain in plain PL/pgSQL with pgcrypto''s digest() only (no machi C code); must give the same verdict as machi.verify_audit. The row hash is sha256 of jsonb_build_array(''machi-audit-1'', audit_id, logged_at and xact_at as Unix microseconds, txid, event, op, table_name, pk, detail, account_id, role, tenant_id, act_as, db_user, client_addr, request_id)::text.';

CREATE FUNCTION machi.audit_head(OUT seal_id bigint, OUT sealed_at timestamptz, OUT upto_xid bigint,
								 OUT rows_sealed bigint, OUT seal text)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.seal_id, s.sealed_at, s.upto_xid,
		   (SELECT sum(x.row_count)::bigint FROM machi.audit_seal x),
		   encode(s.seal, 'hex')
	FROM machi.audit_seal s ORDER BY s.seal_id DESC LIMIT 1;
END;
COMMENT ON FUNCTION machi.audit_head() IS
'The last seal of the audit chain, to keep outside the database (print it, mail it, store it elsewhere): later, SELECT encode(seal, ''hex'') FROM machi.audit_seal WHERE seal_id = <id> must still give the same value, and machi.verify_audit() must pass.';

-- partitions for this month and the next three; quietly, so that CREATE
-- EXTENSION prints the same whatever the date
DO $maintain$
DECLARE
	level text := current_setting('client_min_messages');
BEGIN
	PERFORM set_config('client_min_messages', 'warning', true);
	PERFORM machi.audit_maintain(3);
	PERFORM set_config('client_min_messages', level, true);
END
$maintain$;
