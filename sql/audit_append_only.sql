-- audit_append_only: UPDATE, DELETE and TRUNCATE of the audit trail are
-- refused to everyone; retention drops whole old months only, and never
-- keeps less than 365 days.
\set VERBOSITY terse
INSERT INTO machi.role VALUES ('append_only_probe', 'tenant', false, 1, 'a row to have something audited');
SELECT max(audit_id) AS last FROM machi.audit_log \gset
SELECT machi.seal_audit() > 0 AS sealed;
-- superuser: the triggers refuse
UPDATE machi.audit_log SET detail = '{}' WHERE audit_id = :last;
DELETE FROM machi.audit_log WHERE audit_id = :last;
TRUNCATE machi.audit_log;
UPDATE machi.audit_seal SET seal = '\x00';
DELETE FROM machi.audit_seal;
TRUNCATE machi.audit_seal;
-- on the partitions too (named by month: only the SQLSTATE is shown)
SELECT tableoid::regclass AS part FROM machi.audit_log WHERE audit_id = :last \gset
\set VERBOSITY sqlstate
UPDATE :part SET detail = '{}' WHERE audit_id = :last;
DELETE FROM :part WHERE audit_id = :last;
TRUNCATE :part;
\set VERBOSITY terse
-- the owner: no privilege (and the triggers behind it)
SET ROLE machi_owner;
UPDATE machi.audit_log SET detail = '{}' WHERE audit_id = :last;
DELETE FROM machi.audit_log WHERE audit_id = :last;
TRUNCATE machi.audit_log;
\set VERBOSITY sqlstate
DELETE FROM :part;
TRUNCATE :part;
\set VERBOSITY terse
DELETE FROM machi.audit_seal;
INSERT INTO machi.audit_log (audit_id, logged_at, xact_at, txid, event, act_as, db_user)
VALUES (1, now(), now(), 1, 'forged', false, 'x');
RESET ROLE;
-- the other roles
SET ROLE machi_admin;
DELETE FROM machi.audit_log WHERE audit_id = :last;
TRUNCATE machi.audit_log;
RESET ROLE;
SET ROLE machi_auditor;
UPDATE machi.audit_log SET detail = '{}' WHERE audit_id = :last;
DELETE FROM machi.audit_seal;
RESET ROLE;
SET ROLE machi_gateway;
DELETE FROM machi.audit_log WHERE audit_id = :last;
RESET ROLE;
-- the row is still there, unchanged
SELECT event, op, table_name, pk FROM machi.audit_log WHERE audit_id = :last;

-- retention: a month older than the retention period is dropped whole, with
-- an audit event; this month and the future are kept
SELECT machi.audit_create_partition('2020-01-15');
SET client_min_messages = warning;
SELECT machi.audit_create_partition(((now() AT TIME ZONE 'UTC') - interval '300 days')::date) AS recent_created;
RESET client_min_messages;
SELECT count(*) AS before FROM pg_inherits WHERE inhparent = 'machi.audit_log'::regclass \gset
SELECT * FROM machi.audit_retention();
SELECT :before - count(*) AS dropped FROM pg_inherits WHERE inhparent = 'machi.audit_log'::regclass;
SELECT event, detail->>'partition' AS partition, detail->>'retention_days' AS days
FROM machi.audit_log WHERE event = 'audit_retention' ORDER BY audit_id;
-- nothing else to drop
SELECT * FROM machi.audit_retention();
-- a period below one year is refused (server-wide setting, check hook)
ALTER SYSTEM SET machi.audit_retention_days = 30;
SELECT set_config('machi.audit_retention_days', '30', false);
SHOW machi.audit_retention_days;
DELETE FROM machi.role WHERE role_name = 'append_only_probe';
