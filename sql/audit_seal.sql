-- audit_seal: the hash chain over the audit trail.  The C verifier and the
-- pure-SQL verifier agree on an intact chain and find each kind of tampering
-- (done here as superuser with the append-only triggers disabled).  The
-- triggers are ENABLE ALWAYS: session_replication_role does not switch them
-- off, only ALTER TABLE does.
\set VERBOSITY terse
INSERT INTO machi.role VALUES ('seal_probe_1', 'tenant', false, 1, 'one'),
	('seal_probe_2', 'tenant', false, 1, 'two'), ('seal_probe_3', 'tenant', false, 1, 'three');
UPDATE machi.role SET description = 'three, changed' WHERE role_name = 'seal_probe_3';
SELECT machi.seal_audit() > 0 AS sealed;
SELECT machi.seal_audit() AS nothing_new_to_seal;
-- the rows under test: one INSERT statement (one transaction), then an UPDATE
SELECT audit_id AS r1, txid AS tx1 FROM machi.audit_log WHERE table_name = 'machi.role' AND pk->>'role_name' = 'seal_probe_1' \gset
SELECT audit_id AS r2 FROM machi.audit_log WHERE table_name = 'machi.role' AND pk->>'role_name' = 'seal_probe_2' \gset
SELECT audit_id AS r3 FROM machi.audit_log WHERE table_name = 'machi.role' AND pk->>'role_name' = 'seal_probe_3' AND op = 'INSERT' \gset
SELECT seal_id AS sid FROM machi.audit_seal WHERE :tx1 >= from_xid AND :tx1 < upto_xid \gset
SELECT :r2 = :r1 + 1 AND :r3 = :r2 + 1 AS consecutive;
-- a verdict of each verifier, and whether they are the same
CREATE TEMP VIEW verdict AS
SELECT c.ok, c.problem, c.broken_seal_id AS seal, c.broken_audit_id AS audit_id, c.broken_position AS pos,
	   (c.ok, c.seals_checked, c.rows_checked, c.broken_seal_id, c.broken_audit_id, c.broken_position, c.problem)
	   IS NOT DISTINCT FROM
	   (s.ok, s.seals_checked, s.rows_checked, s.broken_seal_id, s.broken_audit_id, s.broken_position, s.problem)
	   AS same_verdict
FROM machi.verify_audit() c, machi.verify_audit_sql() s;
-- intact
SELECT ok, problem, seal, audit_id, same_verdict FROM verdict;
SELECT seals_checked > 0 AND rows_checked > 0 AS checked_something FROM machi.verify_audit();
SELECT * FROM machi.verify_audit(now() + interval '1 day');
CREATE TEMP TABLE saved AS SELECT * FROM machi.audit_log WHERE audit_id IN (:r1, :r2);
SELECT tableoid::regclass AS part FROM machi.audit_log WHERE audit_id = :r1 \gset
SET session_replication_role = replica;
UPDATE machi.audit_log SET detail = '{}' WHERE audit_id = :r1;
RESET session_replication_role;
ALTER TABLE :part DISABLE TRIGGER audit_append_only;
ALTER TABLE machi.audit_seal DISABLE TRIGGER audit_append_only;

-- 1. a row edited
UPDATE machi.audit_log SET db_user = 'mallory' WHERE audit_id = :r2;
SELECT ok, problem, seal = :sid AS right_seal, audit_id = :r2 AS right_row, same_verdict FROM verdict;
CREATE TEMP TABLE verdict_edit AS SELECT * FROM verdict;
UPDATE machi.audit_log l SET db_user = s.db_user FROM saved s WHERE l.audit_id = s.audit_id AND s.audit_id = :r2;
SELECT ok, same_verdict FROM verdict;

-- 2. a row deleted
DELETE FROM machi.audit_log WHERE audit_id = :r2;
SELECT ok, problem, seal = :sid AS right_seal, audit_id, pos = (SELECT pos FROM verdict_edit) AS right_position,
	   same_verdict FROM verdict;
INSERT INTO machi.audit_log SELECT * FROM saved WHERE audit_id = :r2;
SELECT ok, same_verdict FROM verdict;

-- 3. a row inserted in the middle (inside a sealed transaction range, after r3)
INSERT INTO machi.audit_log (audit_id, logged_at, xact_at, txid, event, act_as, db_user)
SELECT 999999999999, logged_at, xact_at, txid, 'login_failed', false, db_user FROM saved WHERE audit_id = :r2;
SELECT ok, problem, seal = :sid AS right_seal, audit_id = 999999999999 AS right_row, same_verdict FROM verdict;
DELETE FROM machi.audit_log WHERE audit_id = 999999999999;
SELECT ok, same_verdict FROM verdict;

-- 4. two rows reordered
UPDATE machi.audit_log SET audit_id = CASE audit_id WHEN :r1 THEN :r2 ELSE :r1 END WHERE audit_id IN (:r1, :r2);
SELECT ok, problem, seal = :sid AS right_seal, audit_id = :r1 AS right_row, same_verdict FROM verdict;
UPDATE machi.audit_log SET audit_id = CASE audit_id WHEN :r1 THEN :r2 ELSE :r1 END WHERE audit_id IN (:r1, :r2);
SELECT ok, same_verdict FROM verdict;

-- 5. a seal edited, a row hash edited, a seal removed
INSERT INTO machi.role VALUES ('seal_probe_4', 'tenant', false, 1, 'four');
SELECT machi.seal_audit() AS sealed_rows;
CREATE TEMP TABLE saved_seal AS SELECT * FROM machi.audit_seal WHERE seal_id = :sid;
UPDATE machi.audit_seal SET seal = public.digest('forged', 'sha256') WHERE seal_id = :sid;
SELECT ok, problem, seal = :sid AS right_seal, audit_id, same_verdict FROM verdict;
UPDATE machi.audit_seal a SET seal = s.seal FROM saved_seal s WHERE a.seal_id = s.seal_id;
UPDATE machi.audit_seal SET row_hashes = overlay(row_hashes PLACING public.digest('x', 'sha256') FROM 1 FOR 32)
WHERE seal_id = :sid;
SELECT ok, problem, seal = :sid AS right_seal, audit_id, same_verdict FROM verdict;
UPDATE machi.audit_seal a SET row_hashes = s.row_hashes FROM saved_seal s WHERE a.seal_id = s.seal_id;
DELETE FROM machi.audit_seal WHERE seal_id = :sid;
SELECT ok, problem, seal = :sid + 1 AS right_seal, audit_id, same_verdict FROM verdict;
INSERT INTO machi.audit_seal SELECT * FROM saved_seal;
SELECT ok, same_verdict FROM verdict;
-- a row edited and its seal recomputed to match: the next seal no longer
-- follows on
UPDATE machi.audit_log SET db_user = 'mallory' WHERE audit_id = :r2;
UPDATE machi.audit_seal a SET row_hashes = h.hashes, seal = public.digest(a.prev_seal || h.hashes, 'sha256')
FROM (SELECT string_agg(public.digest(jsonb_build_array('machi-audit-1', l.audit_id,
			(extract(epoch FROM l.logged_at) * 1000000)::bigint, (extract(epoch FROM l.xact_at) * 1000000)::bigint,
			l.txid, l.event, l.op, l.table_name, l.pk, l.detail, l.account_id, l.role, l.tenant_id, l.act_as,
			l.db_user, l.client_addr, l.request_id)::text, 'sha256'), ''::bytea ORDER BY l.txid, l.audit_id) AS hashes
	  FROM machi.audit_log l, saved_seal s WHERE l.txid >= s.from_xid AND l.txid < s.upto_xid) h
WHERE a.seal_id = :sid;
SELECT ok, problem, seal = :sid + 1 AS right_seal, audit_id, same_verdict FROM verdict;
UPDATE machi.audit_log l SET db_user = s.db_user FROM saved s WHERE l.audit_id = s.audit_id AND s.audit_id = :r2;
UPDATE machi.audit_seal a SET row_hashes = s.row_hashes, seal = s.seal FROM saved_seal s WHERE a.seal_id = s.seal_id;
SELECT ok, same_verdict FROM verdict;

-- a seal ends at the first transaction boundary once it holds max_rows
-- rows: transactions of one, two and one rows with max_rows 2 make a seal
-- of three rows and one of one
SELECT max(seal_id) AS before FROM machi.audit_seal \gset
INSERT INTO machi.role VALUES ('seal_probe_5', 'tenant', false, 1, 'five');
INSERT INTO machi.role VALUES ('seal_probe_6', 'tenant', false, 1, 'six'), ('seal_probe_7', 'tenant', false, 1, 'seven');
INSERT INTO machi.role VALUES ('seal_probe_8', 'tenant', false, 1, 'eight');
SELECT machi.seal_audit(max_rows => 2) AS sealed_rows;
SELECT seal_id - :before AS seal, row_count FROM machi.audit_seal WHERE seal_id > :before ORDER BY seal_id;
SELECT machi.seal_audit(max_rows => 0);
SELECT ok, same_verdict FROM verdict;

-- 6. the newest seal removed: the chain still holds, but no longer reaches
-- the head an operator exported; that is what exported heads are for
SELECT seal_id AS head_id, seal AS head FROM machi.audit_head() \gset
SELECT encode(seal, 'hex') = :'head' AS head_is_last_seal FROM machi.audit_seal WHERE seal_id = :head_id;
CREATE TEMP TABLE saved_head AS SELECT * FROM machi.audit_seal WHERE seal_id = :head_id;
DELETE FROM machi.audit_seal WHERE seal_id = :head_id;
SELECT ok, same_verdict FROM verdict;
SELECT count(*) AS exported_head_found FROM machi.audit_seal WHERE seal_id = :head_id AND encode(seal, 'hex') = :'head';
INSERT INTO machi.audit_seal SELECT * FROM saved_head;
SELECT count(*) AS exported_head_found FROM machi.audit_seal WHERE seal_id = :head_id AND encode(seal, 'hex') = :'head';
ALTER TABLE :part ENABLE ALWAYS TRIGGER audit_append_only;
ALTER TABLE machi.audit_seal ENABLE ALWAYS TRIGGER audit_append_only;
SELECT ok, problem, same_verdict FROM verdict;
DELETE FROM machi.role WHERE role_name LIKE 'seal\_probe\__';
