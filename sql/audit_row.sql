-- audit_row: what the C audit trigger records for INSERT, UPDATE, DELETE
-- and TRUNCATE, who it says did it, and what it never copies.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
SELECT machi.create_tenant(12101, '千葉市中央区', pg_read_file(:'datadir' || '/boundaries/12101.json')::jsonb,
						   'Chuo Ward, Chiba');
SELECT machi.create_department(12101, '土木事務所', 'Civil Engineering Office') AS dept \gset
-- each admin call, then the rows it wrote, in the system context, by session_user
SELECT event, op, table_name, pk ? 'tenant_id' AS pk_has_tenant, account_id, role, tenant_id, act_as,
	   db_user = session_user AS by_session_user, request_id
FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;
-- the admin call names the function and its arguments; a large argument is clipped
SELECT detail->>'function' AS function, detail->'args'->>'tenant_id' AS tenant_arg,
	   detail->'args'->>'name_en' AS name_en_arg, length(detail->'args'->>'boundary') < 200 AS boundary_clipped
FROM machi.audit_log WHERE audit_id > :mark AND event = 'admin_call' ORDER BY audit_id;
-- INSERT records the key (the row itself is in the table)
SELECT pk, detail FROM machi.audit_log WHERE audit_id > :mark AND table_name = 'machi.tenant' AND op = 'INSERT';
-- the time of the write and of its transaction, the transaction id
SELECT bool_and(logged_at >= xact_at AND logged_at <= clock_timestamp()) AS times_ok,
	   bool_and(txid > 0) AS txid_ok
FROM machi.audit_log WHERE audit_id > :mark;

-- UPDATE records only the columns that changed, with old and new values
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
SELECT machi.update_department(12101, :dept, name_en => 'Road Office');
UPDATE machi.department SET active = active WHERE tenant_id = 12101;
UPDATE machi.department SET active = false, name = '土木事務所 (旧)' WHERE tenant_id = 12101;
SELECT op, (pk->>'department_id')::bigint = :dept AS pk_ok, pk->>'tenant_id' AS tenant, detail AS changes
FROM machi.audit_log WHERE audit_id > :mark AND event = 'row' ORDER BY audit_id;
-- a large value (a boundary) is recorded by its size only
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
SELECT machi.update_tenant(12101, boundary => pg_read_file(:'datadir' || '/boundaries/12102.json')::jsonb);
SELECT jsonb_object_keys(detail) AS changed,
	   detail->'boundary'->'old' ? 'bytes' AND detail->'boundary'->'new' ? 'bytes' AS boundary_by_size
FROM machi.audit_log WHERE audit_id > :mark AND table_name = 'machi.tenant' ORDER BY 1;
-- times in ISO 8601 UTC, whatever the writer's DateStyle and TimeZone
SELECT detail->'updated_at'->>'new' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$' AS iso_utc
FROM machi.audit_log WHERE audit_id > :mark AND table_name = 'machi.tenant';

-- a DBA acting as a staff member: the rows carry the account, its role and
-- tenant, the act_as flag and the reason; act_as itself is an event
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12101, 'tenant_admin')
RETURNING account_id AS staff \gset
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
BEGIN;
SELECT machi.act_as(:staff, 'ticket 4711: wrong department name');
UPDATE machi.department SET name_en = 'Roads' WHERE tenant_id = 12101;
COMMIT;
SELECT event, op, table_name, account_id = :staff AS as_staff, role, tenant_id, act_as, request_id,
	   detail->>'reason' AS reason, (detail->>'account_id')::bigint = :staff AS target_ok
FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;

-- personal and secret columns: recorded as "redacted" / "changed", never by
-- value (the names *_enc, *_hash, ... and machi.audit_redacted_column); a
-- table without primary key has its INSERTed rows recorded whole
CREATE TABLE public.person_log (nickname text, email_enc bytea, note text);
INSERT INTO machi.audit_redacted_column VALUES ('public.person_log', 'nickname');
SELECT machi.audit_attach('public.person_log');
CREATE TABLE public.person (
	person_id		int PRIMARY KEY,
	nickname		text,
	email_enc		bytea,
	password_hash	text,
	note			text
);
INSERT INTO machi.audit_redacted_column VALUES ('public.person', 'nickname');
SELECT machi.audit_attach('public.person');
SELECT tgname, tgnargs, encode(tgargs, 'escape') AS args FROM pg_trigger WHERE tgrelid = 'public.person'::regclass ORDER BY 1;
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
INSERT INTO public.person VALUES (1, 'たろう', convert_to('taro@example.jp', 'UTF8'), '$argon2id$v=19$hash-one', 'first');
UPDATE public.person SET nickname = 'じろう', email_enc = convert_to('jiro@example.jp', 'UTF8'),
	password_hash = '$argon2id$v=19$hash-two', note = 'second';
UPDATE public.person SET note = 'third';
DELETE FROM public.person;
INSERT INTO public.person VALUES (2, NULL, NULL, NULL, 'no secrets');
TRUNCATE public.person;
INSERT INTO public.person_log VALUES ('たろう', convert_to('taro@example.jp', 'UTF8'), 'keyless');
SELECT op, table_name, pk, detail FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;
-- scan every audit row written for the plaintexts, the ciphertexts (hex) and the hashes
SELECT count(*) AS rows_scanned,
	   count(*) FILTER (WHERE l::text ~ '(たろう|じろう|taro@|jiro@|argon2id|hash-one|hash-two)'
						   OR l::text LIKE '%' || encode(convert_to('taro@example.jp', 'UTF8'), 'hex') || '%'
						   OR l::text LIKE '%' || encode(convert_to('jiro@example.jp', 'UTF8'), 'hex') || '%') AS leaking_rows
FROM machi.audit_log l WHERE audit_id > :mark;
DELETE FROM machi.audit_redacted_column WHERE table_name IN ('public.person'::regclass, 'public.person_log'::regclass);
DROP TABLE public.person;
DROP TABLE public.person_log;

-- what the trigger keeps per session (qualified table names, the month's
-- partition and its indexes) follows renames and index changes at once
CREATE SCHEMA cache_a;
CREATE TABLE cache_a.thing (id int PRIMARY KEY, note text);
SELECT machi.audit_attach('cache_a.thing');
SELECT coalesce(max(audit_id), 0) AS mark FROM machi.audit_log \gset
INSERT INTO cache_a.thing VALUES (1, 'one');
ALTER TABLE cache_a.thing RENAME TO renamed;
INSERT INTO cache_a.renamed VALUES (2, 'two');
ALTER SCHEMA cache_a RENAME TO cache_b;
INSERT INTO cache_b.renamed VALUES (3, 'three');
SELECT op, table_name, pk FROM machi.audit_log WHERE audit_id > :mark ORDER BY audit_id;
-- an index added to the trail gets the rows this session writes next;
-- amcheck finds every row of every partition in every index
CREATE EXTENSION amcheck;
-- every index of every partition holds every row it should
-- (heapallindexed; a partial index's predicate is evaluated too)
CREATE FUNCTION pg_temp.check_audit_indexes() RETURNS boolean LANGUAGE sql AS $$
	SELECT count(*) > 0
	FROM (SELECT bt_index_check(i.indexrelid, true)
		  FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid
		  WHERE h.inhparent = 'machi.audit_log'::regclass) c
$$;
CREATE INDEX audit_log_note_idx ON machi.audit_log (request_id, db_user);
-- (and many of them: no fixed number of indexes)
DO $$
BEGIN
	FOR i IN 1..10 LOOP
		EXECUTE format('CREATE INDEX audit_log_extra%s_idx ON machi.audit_log (db_user, audit_id)', i);
	END LOOP;
END
$$;
INSERT INTO cache_b.renamed VALUES (4, 'four');
UPDATE cache_b.renamed SET note = 'FOUR' WHERE id = 4;
SELECT pg_temp.check_audit_indexes() AS indexes_checked;
DROP INDEX machi.audit_log_note_idx;
DO $$
BEGIN
	FOR i IN 1..10 LOOP
		EXECUTE format('DROP INDEX machi.audit_log_extra%s_idx', i);
	END LOOP;
END
$$;
-- a partial index gets exactly the rows its predicate accepts (amcheck's
-- heapallindexed check evaluates the predicate too); the trail's own
-- account and tenant indexes are partial
CREATE INDEX audit_log_partial_idx ON machi.audit_log (db_user, audit_id) WHERE op = 'UPDATE';
INSERT INTO cache_b.renamed VALUES (6, 'six');
UPDATE cache_b.renamed SET note = 'SIX' WHERE id = 6;
SELECT pg_temp.check_audit_indexes() AS indexes_checked;
SELECT c.relname AS partial_index, pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'machi.audit_log'::regclass AND i.indpred IS NOT NULL ORDER BY 1;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS updates_in_partial_index FROM machi.audit_log
WHERE op = 'UPDATE' AND db_user = session_user AND audit_id > :mark;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP INDEX machi.audit_log_partial_idx;
-- an index the trigger cannot maintain refuses the write (nothing is
-- changed unaudited); once it is gone, writing works again
CREATE INDEX audit_log_partial_idx ON machi.audit_log (lower(request_id));
DO $$
BEGIN
	INSERT INTO cache_b.renamed VALUES (5, 'five');
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'audit_log_\d{6}_\w+', 'audit_log_YYYYMM_...');
END
$$;
SELECT count(*) AS five_written FROM cache_b.renamed WHERE id = 5;
DROP INDEX machi.audit_log_partial_idx;
INSERT INTO cache_b.renamed VALUES (5, 'five');
SELECT pg_temp.check_audit_indexes() AS indexes_checked;
SELECT op, table_name, pk FROM machi.audit_log WHERE audit_id > :mark AND pk->>'id' = '5';
DROP EXTENSION amcheck;
DROP TABLE cache_b.renamed;
DROP SCHEMA cache_b;
