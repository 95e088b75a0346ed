-- audit_coverage: every table of the extension carries the C audit trigger,
-- the audit tables are append-only instead, and only the right roles reach
-- the audit trail.
\set VERBOSITY terse
-- every table in schema machi: AFTER INSERT/UPDATE/DELETE FOR EACH ROW and
-- AFTER TRUNCATE FOR EACH STATEMENT, both machi.audit_row, enabled ALWAYS
-- (session_replication_role = replica does not silence them); lists offenders
SELECT c.oid::regclass AS table_without_audit_trigger
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname NOT IN ('audit_log', 'audit_seal')
  AND (NOT EXISTS (SELECT 1 FROM pg_trigger t
				   WHERE t.tgrelid = c.oid AND t.tgfoid = 'machi.audit_row()'::regprocedure
					 AND t.tgenabled = 'A' AND t.tgtype = (1 | 4 | 8 | 16))	-- row, insert, delete, update; after
	   OR NOT EXISTS (SELECT 1 FROM pg_trigger t
					  WHERE t.tgrelid = c.oid AND t.tgfoid = 'machi.audit_row()'::regprocedure
						AND t.tgenabled = 'A' AND t.tgtype = 32))			-- statement, truncate; after
ORDER BY 1;
-- and the test above really looks at tables: it sees the current ones
SELECT count(*) > 5 AS audited_tables
FROM pg_trigger t WHERE t.tgfoid = 'machi.audit_row()'::regprocedure AND t.tgtype = 29;
-- a table created without machi.audit_attach is caught by the same query
CREATE TABLE machi.unaudited_probe (id int PRIMARY KEY);
SELECT c.oid::regclass AS table_without_audit_trigger
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname NOT IN ('audit_log', 'audit_seal')
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t
				  WHERE t.tgrelid = c.oid AND t.tgfoid = 'machi.audit_row()'::regprocedure);
DROP TABLE machi.unaudited_probe;
-- the audit tables and every audit partition refuse UPDATE, DELETE, TRUNCATE
SELECT c.oid::regclass AS audit_table_without_append_only_trigger
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'machi' AND (c.relname IN ('audit_log', 'audit_seal') OR c.relname ~ '^audit_log_[0-9]{6}$')
  AND c.relkind IN ('r', 'p')
  AND (NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled = 'A'
				   AND t.tgfoid = 'machi.audit_refuse_change()'::regprocedure AND t.tgtype = (1 | 2 | 8 | 16))
	   OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled = 'A'
					  AND t.tgfoid = 'machi.audit_refuse_change()'::regprocedure AND t.tgtype = (2 | 32)))
ORDER BY 1;
-- partitions exist for this month and ahead
SELECT count(*) >= 3 AS partitions_ahead
FROM pg_inherits WHERE inhparent = 'machi.audit_log'::regclass;
-- nobody, the owner included, holds UPDATE, DELETE or TRUNCATE on them
SELECT c.oid::regclass, r.rolname, p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
	(VALUES ('machi_owner'), ('machi_admin'), ('machi_auditor'), ('machi_gateway'), ('machi_mailer')) AS r(rolname),
	unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) AS p(priv)
WHERE n.nspname = 'machi' AND (c.relname IN ('audit_log', 'audit_seal') OR c.relname ~ '^audit_log_[0-9]{6}$')
  AND has_table_privilege(r.rolname, c.oid, p.priv)
ORDER BY 1, 2, 3;
-- machi_auditor: reads the audit trail and its views, runs the verifiers
-- and the report; nothing else of machi
SELECT c.oid::regclass AS auditor_may_select
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'p', 'v', 'm')
  AND has_table_privilege('machi_auditor', c.oid, 'SELECT')
ORDER BY 1;
SELECT c.oid::regclass, p.priv AS auditor_may
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
	unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'p', 'v', 'm')
  AND has_table_privilege('machi_auditor', c.oid, p.priv);
SELECT p.oid::regprocedure AS auditor_may_execute
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND has_function_privilege('machi_auditor', p.oid, 'EXECUTE')
ORDER BY 1;
-- the event API and the trigger helpers are the owner's only
SELECT p.oid::regprocedure AS internal_function, r.rolname
FROM pg_proc p, (VALUES ('machi_admin'), ('machi_auditor'), ('machi_gateway'), ('machi_mailer')) AS r(rolname)
WHERE p.oid IN ('machi.audit_event(text,jsonb)'::regprocedure, 'machi.audit_attach(regclass)'::regprocedure,
				'machi.audit_create_partition(date)'::regprocedure)
  AND has_function_privilege(r.rolname, p.oid, 'EXECUTE');
-- as the auditor: reading works, writing and internal functions do not
SET ROLE machi_auditor;
SELECT count(*) >= 0 AS auditor_reads FROM machi.audit_log;
SELECT ok FROM machi.verify_audit();
INSERT INTO machi.audit_log (audit_id, logged_at, xact_at, txid, event, act_as, db_user)
VALUES (1, now(), now(), 1, 'forged', false, 'x');
SELECT machi.audit_event('login_failed', '{}');
SELECT machi.seal_audit();
SELECT * FROM machi.tenant;
RESET ROLE;
-- retention: at least 365 days, refused below by the check hook
SHOW machi.audit_retention_days;
ALTER SYSTEM SET machi.audit_retention_days = 100;
ALTER SYSTEM SET machi.audit_retention_days = 364;
SET machi.audit_retention_days = 500;
