-- machi install script, part 91: privileges of the audit trail.  Runs after
-- 90_privileges.sql has made machi_owner the owner of everything.
--
-- The owner keeps SELECT and INSERT only: UPDATE, DELETE and TRUNCATE on
-- the audit tables are revoked from it as well (triggers refuse them to
-- superusers too).  machi_auditor reads the trail and runs the verifiers and
-- the security report, nothing else; machi_admin may do the same and run the
-- maintenance functions.

DO $revoke$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS rel
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p')
		  AND (c.relname IN ('audit_log', 'audit_seal') OR c.relname ~ '^audit_log_[0-9]{6}$')
	LOOP
		EXECUTE pg_catalog.format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM machi_owner', r.rel);
	END LOOP;
END
$revoke$;

GRANT USAGE ON SCHEMA machi TO machi_auditor;
GRANT SELECT ON machi.audit_log, machi.audit_seal TO machi_auditor, machi_admin;
GRANT EXECUTE ON FUNCTION machi.verify_audit(timestamptz, timestamptz),
	machi.verify_audit_sql(timestamptz, timestamptz),
	machi.audit_head()
	TO machi_auditor, machi_admin;
GRANT EXECUTE ON FUNCTION machi.seal_audit(bigint), machi.audit_maintain(int), machi.audit_retention()
	TO machi_admin;
GRANT SELECT ON machi.audit_row_history, machi.audit_account_activity, machi.audit_pii_disclosure
	TO machi_auditor, machi_admin;
GRANT EXECUTE ON FUNCTION machi.audit_business_hours(), machi.security_report(date, text, int, int),
	machi.security_report_text(date, text)
	TO machi_auditor, machi_admin;
